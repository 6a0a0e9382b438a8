"""Classifier + one-hot code baseline (Sablayrolles et al., ICASSP 2017) on digits.

Same trunk, data, protocol, bits, epochs and batch size as coophash_digits.py,
so the two rows compare one method against the floor it must beat.
"""

from hashzoo.training.config import TrainConfig
from hashzoo.training.variants import select_variant

OPTIMIZERS = dict(optimizer={"class_name": "Adam", "config": {"learning_rate": 1e-3}})


def get_config(variant="default"):
    default = TrainConfig(
        method="onehot", data="digits", protocol="digits", bits=32, epochs=20, batch_size=64,
        model=dict(width=1.0), optimizers=OPTIMIZERS, seed=0,
        description="Softmax classifier on the shared conv trunk (CoopHash's); code = one-hot of the predicted class.",
    )
    smoke = default.replace(epochs=1, batch_size=16, bits=16, model=dict(width=0.25), description="one-hot smoke run")
    return select_variant({"default": default, "smoke": smoke}, variant)
