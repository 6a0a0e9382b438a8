"""SADH on 2x2 mosaics of the CIFAR-10 developer subset (64x64 RGB, 1 to 3 labels each), from scratch.

Three backbone stages (32, 64, 128), d_f 256, LabNet hidden 512, RMSprop
1e-3, batch 64, the authors' loss weights. The stages are half the width of
the (64, 128, 256) the from-scratch setting of docs/sadh.md names, so that a
64x64 run fits in about half an hour on 2 CPU cores; `--model_override
widths=[64,128,256]` restores it. With the full CIFAR-10 download use `--data <cifar-10-batches-py>`
and keep the protocol.
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
        method="sadh", data="cifar10-subset", protocol="cifar10-mosaic", bits=32, epochs=30, batch_size=64,
        model=MODEL, optimizers=OPTIMIZERS, seed=0,
        description="SADH, from scratch on 2x2 mosaics of the CIFAR-10 subset (cifar10-mosaic protocol).",
    )
    smoke = default.replace(
        epochs=1, batch_size=16, bits=16,
        model=dict(MODEL, widths=[8, 16], feature_dim=32, hidden_dim=64, label_epochs=1, label_decay_epochs=[]),
        description="SADH smoke run on CIFAR-10 mosaics (tests).",
    )
    return select_variant({"default": default, "smoke": smoke}, variant)
