"""BGAN's discriminator D: image in [0, 1] to a realism logit and a feature phi.

Layer sizes and their sources: docs/bgan.md, "What follows the paper, the
code, and hashzoo's choices".
"""

import keras

from hashzoo.methods.bgan.encoder import ARCHITECTURES
from hashzoo.methods.bgan.generator import GAN_SIZES
from hashzoo.utils.validation import check_choice


def discriminator_size(gan_size, architecture="standard", width=1.0):
    """`(convs as (filters, kernel, stride), phi units)` of D at input side `gan_size`.

    [code] at 64 (and hashzoo's 32 and 16): 5x5 convs (32 s1, 128 s2, 256 s2,
    256 s2), phi = 1,024 units. 8 [choice]: 3x3 convs (32 s1, 64 s2, 128 s2),
    phi = 256. Smoke: the 8x8 layout with widths (8, 16, 16), phi = 32.
    """
    check_choice(gan_size, "gan_size", GAN_SIZES)
    check_choice(architecture, "architecture", ARCHITECTURES)
    if architecture == "smoke":
        convs, units = ((8, 3, 1), (16, 3, 2), (16, 3, 2)), 32
    elif gan_size == 8:
        convs, units = ((32, 3, 1), (64, 3, 2), (128, 3, 2)), 256
    else:
        convs, units = ((32, 5, 1), (128, 5, 2), (256, 5, 2), (256, 5, 2)), 1024
    scale = lambda n: max(1, int(round(n * width)))  # noqa: E731
    return tuple((scale(f), k, s) for f, k, s in convs), scale(units)


def image_trunk(gan_size, channels, convs, units, seed, name):
    """D's image branch, BGAN's and SPAH's alike: convs with synchronized BN and ELU, flatten, phi = Dense(ELU).

    Args:
        gan_size, channels: the input images' side and channel count.
        convs: `(filters, kernel, stride)` per conv (`discriminator_size`).
        units: phi's width.
        seed: initializer seed; conv i uses seed + i, phi seed + 20.
        name: the Sequential's name (its weight paths in saved presets).

    Returns:
        A `keras.Sequential` from `[B, gan_size, gan_size, channels]` to phi `[B, units]`.
    """
    init = lambda i: keras.initializers.GlorotUniform(seed=seed + i)  # noqa: E731
    layers = [keras.Input((gan_size, gan_size, channels))]
    for i, (filters, kernel, stride) in enumerate(convs):
        layers += [
            keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                                kernel_initializer=init(i), name=f"conv{i}"),
            keras.layers.BatchNormalization(synchronized=True, name=f"bn{i}"),
            keras.layers.ELU(),
        ]
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="elu", kernel_initializer=init(20), name="phi"),
    ]
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="hashzoo")
class Discriminator(keras.Model):
    """Convs with BN + ELU, flatten, phi = Dense(ELU), then a one-unit logit.

    `call` returns `(logit [B], phi [B, units])`: the logit for the
    adversarial loss, phi for BGAN's content loss. Batch norm is
    synchronized across replicas; D is called once per image set (real,
    reconstructed), so each set is normalised with its own statistics [code].

    Args:
        gan_size: int, input side (8, 16, 32 or 64).
        channels: int C of the input images.
        architecture: `"standard"` or `"smoke"` widths.
        width: float, multiplies every filter and unit count.
        seed: int, initializer seed.

    Example:

    >>> import numpy as np
    >>> d = Discriminator(gan_size=8, channels=1, architecture="smoke")
    >>> logit, phi = d(np.zeros((2, 8, 8, 1), "float32"))
    >>> logit.shape, phi.shape
    (TensorShape([2]), TensorShape([2, 32]))
    """

    def __init__(self, gan_size, channels, architecture="standard", width=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.gan_size = int(gan_size)
        self.channels = int(channels)
        self.architecture = architecture
        self.width = float(width)
        self.seed = int(seed)
        convs, units = discriminator_size(self.gan_size, architecture, self.width)
        self.features = image_trunk(self.gan_size, self.channels, convs, units, self.seed, name="features")
        self.logit = keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=self.seed + 21),
                                        name="logit")
        self.logit.build((None, units))
        self.built = True

    def call(self, images, training=False):
        phi = self.features(images, training=training)
        return self.logit(phi)[:, 0], phi

    def get_config(self):
        config = super().get_config()
        config.update(
            gan_size=self.gan_size,
            channels=self.channels,
            architecture=self.architecture,
            width=self.width,
            seed=self.seed,
        )
        return config
