"""SADH on the single-label CIFAR-10 developer subset (32x32 RGB), from scratch.

With one label per image the dictionaries have 10 rows (one per class) and
every similar pair has the same label set, so mu is 1 for it: SADH reduces to
a margin hinge against class prototypes plus the symmetric pairs. The
network, loss weights, optimizers and budget are those of
sadh_cifar10_mosaic.py, read from that file so they are stated once; only the
protocol and the code length (64 bits like the other CIFAR-10 presets,
`--bits 32` for the other length) differ.
"""

import pathlib

from hashzoo.training.config import load_config
from hashzoo.training.variants import select_variant

MOSAIC_CONFIG = pathlib.Path(__file__).with_name("sadh_cifar10_mosaic.py")


def get_config(variant="default"):
    default = load_config(f"{MOSAIC_CONFIG}:default").replace(
        protocol="cifar10-subset", bits=64,
        description="SADH, from scratch on the 6,102-image CIFAR-10 subset (cifar10-subset protocol).",
    )
    smoke = load_config(f"{MOSAIC_CONFIG}:smoke").replace(
        protocol="cifar10-subset", description="SADH smoke run on the CIFAR-10 subset (tests).",
    )
    return select_variant({"default": default, "smoke": smoke}, variant)
