"""SADH on 2x2 mosaics of the 8x8 digits (16x16, 1 to 3 labels each), from scratch.

The `digits-mosaic` protocol needs no download. ImgNet's backbone is two
stages (32, 64) of the from-scratch conv backbone; LabNet and the features
are narrower than the ResNet-50 setting (d_f 256, hidden 512) because 170
label sets need no more. The loss weights are the authors' (lambda 1, alpha 1,
beta 0.01, eta 0.1); docs/sadh.md has the stage-1 schedule and the measured
runs.
"""

from hashzoo.training.config import TrainConfig
from hashzoo.training.variants import select_variant

MODEL = dict(widths=[32, 64], feature_dim=256, hidden_dim=512, label_epochs=15)

OPTIMIZERS = dict(
    optimizer={"class_name": "RMSprop", "config": {"learning_rate": 1e-3, "rho": 0.99, "epsilon": 1e-8}},
    label_optimizer={"class_name": "Adam", "config": {"learning_rate": 5e-3, "epsilon": 1e-8}},
)


def get_config(variant="default"):
    default = TrainConfig(
        method="sadh", data="digits", protocol="digits-mosaic", bits=32, epochs=30, batch_size=64,
        model=MODEL, optimizers=OPTIMIZERS, seed=0,
        description="SADH, from scratch on 2x2 digit mosaics (digits-mosaic protocol, 1 to 3 labels each).",
    )
    smoke = default.replace(
        epochs=1, batch_size=32, bits=16,
        model=dict(MODEL, widths=[8, 16], feature_dim=32, hidden_dim=64, label_epochs=2, label_decay_epochs=[]),
        description="SADH smoke run on digit mosaics (tests).",
    )
    return select_variant({"default": default, "smoke": smoke}, variant)
