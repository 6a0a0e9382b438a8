"""SPAH on CIFAR-10 (32x32 RGB), from scratch, unsupervised.

`data` defaults to the real 6,102-image subset shipped to developers with the
`cifar10-subset` protocol (4,050 training images); with the full download use
`--data <cifar-10-batches-py> --protocol cifar10-2` (the protocol closest to
the one SSDH's code uses).

The CPU settings copy `bgan_cifar10` (docs/bgan.md gives their measurements)
so that SPAH and BGAN compare on equal networks and budget: width 0.5, G and
D at 16x16, no encoder dropout, batch 40, 12 epochs, and S built from the
frozen random-conv features (`random_conv`). S and the optimizers are those
of `spah_digits` (docs/spah.md, "Configs"), not tuned on CIFAR. `pixels`
builds S from pixel features; `three_valued` uses the overlap neighbour rule
with unknown other pairs.
"""

from hashzoo.training.config import TrainConfig
from hashzoo.training.variants import select_variant

MODEL = dict(
    architecture="standard",
    width=0.5,
    gan_size=16,
    dropout=0.0,
    feature_extractor="random_conv",
    k=20,
    k2=30,
    neighbour_rule="shared",
    neighbour_absent="dissimilar",
    combine="union",
)
# The reconstruction's own S (docs/spah.md, "The semantic similarity matrix"): the overlap neighbour
# rule, whose other pairs are unknown, so only the feature rule's far tail is -1.
THREE_VALUED = dict(MODEL, neighbour_rule="overlap", neighbour_absent="unknown", tau=0.5)

ADAM = {"class_name": "Adam", "config": {"learning_rate": 3e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1.0}}
GAN_ADAM = {"class_name": "Adam", "config": {"learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999}}
OPTIMIZERS = dict(encoder_optimizer=ADAM, generator_optimizer=GAN_ADAM, discriminator_optimizer=GAN_ADAM)


def get_config(variant="default"):
    default = TrainConfig(
        method="spah", data="cifar10-subset", protocol="cifar10-subset", bits=32, epochs=12, batch_size=40,
        model=MODEL, optimizers=OPTIMIZERS, seed=0,
        description="SPAH (hashzoo reconstruction), from scratch on the 6,102-image CIFAR-10 subset "
                    "(cifar10-subset protocol).",
    )
    pixels = default.replace(
        model=dict(MODEL, feature_extractor="pixels"),
        description="SPAH on the CIFAR-10 subset with S from pixel features.",
    )
    three_valued = default.replace(
        model=THREE_VALUED,
        description="SPAH on the CIFAR-10 subset with the three-valued S (overlap neighbour rule, unknown pairs).",
    )
    smoke = default.replace(
        epochs=1, batch_size=16, bits=16,
        model=dict(MODEL, architecture="smoke", gan_size=8, k=5, k2=8, feature_extractor="pixels"),
        description="SPAH smoke run on CIFAR-10 (tests).",
    )
    return select_variant({"default": default, "pixels": pixels, "three_valued": three_valued, "smoke": smoke},
                          variant)
