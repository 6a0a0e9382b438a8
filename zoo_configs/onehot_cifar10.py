"""Classifier + one-hot code baseline (Sablayrolles et al., ICASSP 2017) on cifar10.

Same trunk, data, protocol, bits, epochs and batch size as coophash_cifar10.py,
so the two rows compare one method against the floor it must beat.
"""

from hashzoo.training.config import TrainConfig
from hashzoo.training.variants import select_variant

OPTIMIZERS = dict(optimizer={"class_name": "Adam", "config": {"learning_rate": 1e-3}})


def get_config(variant="default"):
    default = TrainConfig(
        method="onehot", data="cifar10-subset", protocol="cifar10-subset", bits=64, epochs=30, batch_size=64,
        model=dict(width=0.5), optimizers=OPTIMIZERS, seed=0,
        description="Softmax classifier on the shared conv trunk (CoopHash's); code = one-hot of the predicted class.",
    )
    # The floor CoopHash's `augmented` variant must beat: the same flips and shifts (docs/onehot.md, "Augmentation").
    augmented = default.replace(
        model=dict(default.model, augment="flip_crop"),
        description="One-hot classifier floor with flipped and shifted training images (CIFAR-10 subset).",
    )
    smoke = default.replace(epochs=1, batch_size=16, bits=16, model=dict(width=0.25), description="one-hot smoke run")
    return select_variant({"default": default, "augmented": augmented, "smoke": smoke}, variant)
