"""Multi-label classifier floor on digit mosaics (the `digits-mosaic` protocol).

A sigmoid classifier on the from-scratch stage backbone; its code is its
predicted label set (docs/multihot.md). Same backbone widths, data, protocol
and bits as the multi-label hashers' digits-mosaic configs, so their rows
compare against the floor they must beat.
"""

from hashzoo.training.config import TrainConfig
from hashzoo.training.variants import select_variant

OPTIMIZERS = dict(optimizer={"class_name": "Adam", "config": {"learning_rate": 1e-3}})


def get_config(variant="default"):
    default = TrainConfig(
        method="multihot", data="digits", protocol="digits-mosaic", bits=32, epochs=30, batch_size=64,
        model=dict(backbone="stages", widths=[32, 64]), optimizers=OPTIMIZERS, seed=0,
        description="Sigmoid multi-label classifier on the stage backbone; code = its predicted label set.",
    )
    smoke = default.replace(epochs=1, batch_size=16, model=dict(backbone="stages", widths=[8, 16]),
                            description="multi-hot floor smoke run")
    return select_variant({"default": default, "smoke": smoke}, variant)
