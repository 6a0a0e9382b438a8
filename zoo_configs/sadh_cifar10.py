"""SADH on the single-label CIFAR-10 developer subset (32x32 RGB), from scratch.

With one label per image the dictionaries have 10 rows (one per class) and
every similar pair has the same label set, so mu is 1 for it: SADH reduces to
a margin hinge against class prototypes plus the symmetric pairs. Same
network and loss weights as sadh_cifar10_mosaic.py; 64 bits like the other
CIFAR-10 presets (`--bits 32` for the other length).
"""

from hashzoo.training.config import TrainConfig
from hashzoo.training.variants import select_variant

MODEL = dict(widths=[32, 64, 128], feature_dim=256, hidden_dim=512, label_epochs=15)

OPTIMIZERS = dict(
    optimizer={"class_name": "RMSprop", "config": {"learning_rate": 1e-3, "rho": 0.99, "epsilon": 1e-8}},
    label_optimizer={"class_name": "Adam", "config": {"learning_rate": 5e-3, "epsilon": 1e-8}},
)


def get_config(variant="default"):
    default = TrainConfig(
        method="sadh", data="cifar10-subset", protocol="cifar10-subset", bits=64, epochs=30, batch_size=64,
        model=MODEL, optimizers=OPTIMIZERS, seed=0,
        description="SADH, from scratch on the 6,102-image CIFAR-10 subset (cifar10-subset protocol).",
    )
    smoke = default.replace(
        epochs=1, batch_size=16, bits=16,
        model=dict(MODEL, widths=[8, 16], feature_dim=32, hidden_dim=64, label_epochs=1, label_decay_epochs=[]),
        description="SADH smoke run on the CIFAR-10 subset (tests).",
    )
    return select_variant({"default": default, "smoke": smoke}, variant)
