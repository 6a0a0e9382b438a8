"""SPAH on scikit-learn's digits (8x8 grey, 10 classes), `digits` protocol, unsupervised.

Networks: BGAN's 8x8 encoder (blocks (32, 64), 256 units) and generator
(2x2x128 start), SPAH's joint discriminator at 8x8 (docs/spah.md,
"Networks"). S comes from `pixels` features (flatten, standardise,
L2; 64 values, below the size where a PCA is fitted): the feature rule united with BGAN's K1 = 20, K2 = 30 neighbour rule,
whose other pairs read -1 (hashzoo's choice: with them unknown, as in the
`three_valued` variant, mAP@all fell from 0.756 to 0.616; docs/spah.md,
"Configs"). No encoder dropout, batch 40 and 20 epochs as `bgan_digits`,
so the two compare on the same pixels and budget. lambda_A = 0.1 and
lambda_R = lambda_Rc = 0.3 (the model's defaults are 1). E uses BGAN's Adam
(lr 3e-3, epsilon 1.0), G and D the GAN Adam (2e-4, beta_1 0.5).
"""

from hashzoo.training.config import TrainConfig
from hashzoo.training.variants import select_variant

MODEL = dict(
    architecture="standard",
    dropout=0.0,
    feature_extractor="pixels",
    k=20,
    k2=30,
    neighbour_rule="shared",
    neighbour_absent="dissimilar",
    combine="union",
    # A light adversary: at lambda_A = 1 the joint discriminator's pull cost 0.015 mAP@all on digits
    # (3 seeds, each chosen on validation; docs/spah.md, "Configs").
    adversarial_weight=0.1,
    # Light cycle terms: validation mAP@all 0.8273 at lambda_R = lambda_Rc = 0.3 against 0.8225 at 0.1,
    # 0.8217 at 0 and 0.8078 at 1 (3 seeds each; docs/spah.md, "Configs").
    reconstruction_weight=0.3,
    code_reconstruction_weight=0.3,
)
# The reconstruction's own S (docs/spah.md, "The semantic similarity matrix"): the overlap neighbour
# rule, whose other pairs are unknown, so only the feature rule's far tail is -1.
THREE_VALUED = dict(MODEL, neighbour_rule="overlap", neighbour_absent="unknown", tau=0.5)

ADAM = {"class_name": "Adam", "config": {"learning_rate": 3e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1.0}}
GAN_ADAM = {"class_name": "Adam", "config": {"learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999}}
OPTIMIZERS = dict(encoder_optimizer=ADAM, generator_optimizer=GAN_ADAM, discriminator_optimizer=GAN_ADAM)


def get_config(variant="default"):
    default = TrainConfig(
        method="spah", data="digits", protocol="digits", bits=32, epochs=20, batch_size=40,
        model=MODEL, optimizers=OPTIMIZERS, seed=0,
        description="SPAH (hashzoo reconstruction), from scratch on 8x8 digits, pixel-feature semantic "
                    "similarity (digits protocol).",
    )
    three_valued = default.replace(
        model=THREE_VALUED,
        description="SPAH on 8x8 digits with the three-valued S (overlap neighbour rule, unknown pairs).",
    )
    smoke = default.replace(
        epochs=2, batch_size=16, bits=8,
        model=dict(MODEL, architecture="smoke", k=5, k2=8),
        description="SPAH smoke run on digits (tests).",
    )
    return select_variant({"default": default, "three_valued": three_valued, "smoke": smoke}, variant)
