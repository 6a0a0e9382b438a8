"""SPAH's joint discriminator D(x, c): an (image, code) pair to a realism logit and the image feature phi.

Layer sizes and their sources: docs/spah.md, "Networks".
"""

import keras

from hashzoo.methods.bgan.discriminator import discriminator_size, image_trunk
from hashzoo.methods.bgan.encoder import ARCHITECTURES
from hashzoo.methods.bgan.generator import GAN_SIZES
from hashzoo.utils.validation import check_bits, check_choice


def joint_discriminator_size(gan_size, architecture="standard", width=1.0):
    """`(image convs, (phi units, code units, joint units))` of D at input side `gan_size`.

    The convs are BGAN's discriminator trunk (`discriminator_size`). The
    dense widths [choice]: (512, 512, 1024) for sides >= 16, (128, 128, 256)
    at 8, smoke (16, 16, 32); `width` scales every count.
    """
    check_choice(gan_size, "gan_size", GAN_SIZES)
    check_choice(architecture, "architecture", ARCHITECTURES)
    convs, _ = discriminator_size(gan_size, architecture, width)
    if architecture == "smoke":
        units = (16, 16, 32)
    elif gan_size == 8:
        units = (128, 128, 256)
    else:
        units = (512, 512, 1024)
    return convs, tuple(max(1, int(round(n * width))) for n in units)


@keras.saving.register_keras_serializable(package="hashzoo")
class JointDiscriminator(keras.Model):
    """BiGAN-style discriminator over (image, code) pairs.

    Image branch: BGAN's conv trunk (convs with synchronized batch norm and
    ELU), flatten, phi = Dense(ELU). Code branch: Dense(ELU) on the code.
    The two are concatenated, then Dense(ELU) and a one-unit logit. `call`
    takes `(images, codes)` and returns `(logit [B], phi [B, phi units])`;
    `image_features(images)` returns phi alone (the reconstruction loss's
    feature space). Call it once per pair set (real, fake), so batch norm
    normalises each set with its own statistics.

    Args:
        gan_size: int, image side (8, 16, 32 or 64).
        channels: int C of the images (in [0, 1]).
        code_bits: int L of the codes.
        architecture: `"standard"` or `"smoke"` widths.
        width: float, multiplies every filter and unit count.
        seed: int, initializer seed.

    Example:

    >>> import numpy as np
    >>> d = JointDiscriminator(gan_size=8, channels=1, code_bits=4, architecture="smoke")
    >>> logit, phi = d((np.zeros((2, 8, 8, 1), "float32"), np.ones((2, 4), "float32")))
    >>> logit.shape, phi.shape
    (TensorShape([2]), TensorShape([2, 16]))
    """

    def __init__(self, gan_size, channels, code_bits, architecture="standard", width=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.gan_size = int(gan_size)
        self.channels = int(channels)
        self.code_bits = check_bits(code_bits)
        self.architecture = architecture
        self.width = float(width)
        self.seed = int(seed)
        convs, (phi_units, code_units, joint_units) = joint_discriminator_size(self.gan_size, architecture,
                                                                              self.width)
        init = lambda i: keras.initializers.GlorotUniform(seed=self.seed + i)  # noqa: E731

        # === Image branch: BGAN's trunk, then phi ===
        self.image_branch = image_trunk(self.gan_size, self.channels, convs, phi_units, self.seed,
                                        name="image_branch")

        # === Code branch and joint head ===
        self.code_branch = keras.Sequential([
            keras.Input((self.code_bits,)),
            keras.layers.Dense(code_units, activation="elu", kernel_initializer=init(21), name="code"),
        ], name="code_branch")
        self.joint = keras.Sequential([
            keras.Input((phi_units + code_units,)),
            keras.layers.Dense(joint_units, activation="elu", kernel_initializer=init(22), name="joint"),
            keras.layers.Dense(1, kernel_initializer=init(23), name="logit"),
        ], name="joint")
        self.built = True

    def image_features(self, images, training=False):
        """phi(x), `[B, phi units]`."""
        return self.image_branch(images, training=training)

    def call(self, inputs, training=False):
        images, codes = inputs
        phi = self.image_branch(images, training=training)
        joint = keras.ops.concatenate([phi, self.code_branch(codes, training=training)], axis=-1)
        return self.joint(joint, training=training)[:, 0], phi

    def get_config(self):
        config = super().get_config()
        config.update(
            gan_size=self.gan_size,
            channels=self.channels,
            code_bits=self.code_bits,
            architecture=self.architecture,
            width=self.width,
            seed=self.seed,
        )
        return config
