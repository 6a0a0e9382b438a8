"""BGAN on scikit-learn's digits (8x8 grey, 10 classes), `digits` protocol, unsupervised.

Networks: hashzoo's 8x8 layout (encoder blocks (32, 64) and 256 units, G from
2x2x128, D with 3x3 convs). The neighbourhood structure is the released code's
K1 = 20, K2 = 30 rule on `pixels` features (docs/bgan.md, "The neighbourhood
structure"). hashzoo's choices for this small input
(docs/bgan.md gives the measurements): no dropout on the encoder features
(dropout 0.5 kept the neighbourhood loss from fitting: 0.52 against 0.74
mAP@all in a 20-epoch sweep) and Adam at lr 3e-3 with the code's epsilon of
1.0 (1e-3 reached 0.71 in 20 epochs, still rising). 20 epochs give the staged
slope schedule stages of 3 epochs (k = 10 from epoch 13).
"""

from hashzoo.training.config import TrainConfig
from hashzoo.training.variants import select_variant

MODEL = dict(
    architecture="standard",
    dropout=0.0,
    k1=20,
    k2=30,
    feature_extractor="pixels",
)

ADAM = {"class_name": "Adam", "config": {"learning_rate": 3e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1.0}}
OPTIMIZERS = dict(encoder_optimizer=ADAM, generator_optimizer=ADAM, discriminator_optimizer=ADAM)


def get_config(variant="default"):
    default = TrainConfig(
        method="bgan", data="digits", protocol="digits", bits=32, epochs=20, batch_size=40,
        model=MODEL, optimizers=OPTIMIZERS, seed=0,
        description="BGAN, from scratch on 8x8 digits, pixel K-NN neighbourhoods (digits protocol).",
    )
    smoke = default.replace(
        epochs=2, batch_size=16, bits=8,
        model=dict(MODEL, architecture="smoke", k1=3, k2=4),
        description="BGAN smoke run on digits (tests).",
    )
    return select_variant({"default": default, "smoke": smoke}, variant)
