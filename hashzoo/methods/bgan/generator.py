"""BGAN's generator G: binary (or relaxed) code to image in [0, 1].

Layer sizes and their sources: docs/bgan.md, "What follows the paper, the
code, and hashzoo's choices".
"""

import keras

from hashzoo.methods.bgan.encoder import ARCHITECTURES
from hashzoo.utils.validation import check_choice

GAN_SIZES = (8, 16, 32, 64)


def generator_size(gan_size, architecture="standard", width=1.0):
    """`(start side, start channels, deconv filters)` of G at output side `gan_size`.

    [code] at 64: 8x8x256 then deconvs (256, 128, 32). hashzoo [choice]:
    32 (and 16) start at 4x4x256 (2x2x256) with the same deconvs; 8 starts at
    2x2x128 with deconvs (64, 32); smoke starts at 2x2x16 with (16, 8) (and
    a third 8 for sides >= 16). `width` scales every count.
    """
    check_choice(gan_size, "gan_size", GAN_SIZES)
    check_choice(architecture, "architecture", ARCHITECTURES)
    doublings = 2 if gan_size == 8 else 3
    if architecture == "smoke":
        channels, deconvs = 16, (16, 8, 8)[:doublings]
    elif gan_size == 8:
        channels, deconvs = 128, (64, 32)
    else:
        channels, deconvs = 256, (256, 128, 32)
    scale = lambda n: max(1, int(round(n * width)))  # noqa: E731
    return gan_size // 2**doublings, scale(channels), tuple(scale(f) for f in deconvs)


@keras.saving.register_keras_serializable(package="hashzoo")
class Generator(keras.Model):
    """Dense to a small feature map, 5x5 stride-2 deconvs, then a 1x1 deconv and a sigmoid.

    Batch norm (synchronized across replicas, Keras defaults) and ELU follow
    the dense layer and each stride-2 deconv; the 1x1 output layer has none
    [choice].

    Args:
        code_bits: int L, the input size.
        gan_size: int, output side (8, 16, 32 or 64).
        channels: int C of the output images.
        architecture: `"standard"` or `"smoke"` widths.
        width: float, multiplies every filter count.
        seed: int, initializer seed.

    Example:

    >>> import numpy as np
    >>> g = Generator(code_bits=8, gan_size=8, channels=1, architecture="smoke")
    >>> g(np.zeros((2, 8), "float32")).shape
    TensorShape([2, 8, 8, 1])
    """

    def __init__(self, code_bits, gan_size, channels, architecture="standard", width=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.code_bits = int(code_bits)
        self.gan_size = int(gan_size)
        self.channels = int(channels)
        self.architecture = architecture
        self.width = float(width)
        self.seed = int(seed)
        start, start_channels, deconvs = generator_size(self.gan_size, architecture, self.width)
        init = lambda i: keras.initializers.GlorotUniform(seed=self.seed + i)  # noqa: E731

        layers = [
            keras.Input((self.code_bits,)),
            keras.layers.Dense(start * start * start_channels, use_bias=False, kernel_initializer=init(0),
                               name="dense"),
            keras.layers.BatchNormalization(synchronized=True, name="bn_dense"),
            keras.layers.ELU(),
            keras.layers.Reshape((start, start, start_channels)),
        ]
        for i, filters in enumerate(deconvs):
            layers += [
                keras.layers.Conv2DTranspose(filters, 5, strides=2, padding="same", use_bias=False,
                                             kernel_initializer=init(i + 1), name=f"deconv{i}"),
                keras.layers.BatchNormalization(synchronized=True, name=f"bn{i}"),
                keras.layers.ELU(),
            ]
        layers += [
            keras.layers.Conv2DTranspose(self.channels, 1, kernel_initializer=init(20), name="to_image"),
            keras.layers.Activation("sigmoid"),
        ]
        self.network = keras.Sequential(layers, name="network")
        self.built = True

    def call(self, codes, training=False):
        return self.network(codes, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            code_bits=self.code_bits,
            gan_size=self.gan_size,
            channels=self.channels,
            architecture=self.architecture,
            width=self.width,
            seed=self.seed,
        )
        return config
