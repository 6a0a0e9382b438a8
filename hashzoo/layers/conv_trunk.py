"""A plain convolutional trunk shared by the methods that classify or score images.

Inputs are square with side `4 * 2**n`, n >= 1. n = 1 (8x8 digits) uses two
3x3 convs and a 128-unit dense layer; n >= 2 uses a 3x3 conv with 64 filters,
then n 4x4 stride-2 convs with 128, 256, 256, ... filters and a 512-unit
dense layer (for 32x32 inputs: the CoopVAEBM "cifar" trunk). Every layer is
followed by LeakyReLU(0.2); there is no batch norm and no dropout, so the
features of one image never depend on the rest of the batch or on a random
draw. `width` scales every filter and unit count.

Methods that share it compare on equal networks (a supervised method and
the one-hot classifier floor, for example). Layer names and order fix the
weight paths of saved presets: change them and shipped weights no longer load.

Example:

>>> from hashzoo.layers.conv_trunk import build_conv_trunk, conv_trunk_layout
>>> conv_trunk_layout((32, 32), width=0.5)
ConvTrunkLayout(convs=((32, 3, 1), (64, 4, 2), (128, 4, 2), (128, 4, 2)), feature_dim=256)
>>> build_conv_trunk((8, 8, 1), width=0.25).output_shape
(None, 32)
"""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class ConvTrunkLayout:
    """Layer sizes of the trunk for one input size.

    Attributes:
        convs: `(filters, kernel, stride)` of each conv, input side first.
        feature_dim: units of the dense layer after the convs (the feature size).
    """

    convs: tuple
    feature_dim: int


def num_doublings(image_size):
    """n such that `image_size` is square with side `4 * 2**n`, n >= 1.

    Raises:
        ValueError: naming the size given and the valid sides.
    """
    side = image_size[0]
    n = 0
    while 4 * 2 ** (n + 1) <= side:
        n += 1
    if image_size[0] != image_size[1] or side != 4 * 2**n or n < 1:
        valid = [4 * 2**k for k in range(1, 7)]
        raise ValueError(
            f"the conv trunk needs square images whose side is 4 * 2**n with n >= 1 (one of {valid}, ...), "
            f"got image_size={tuple(image_size)}; set `preprocessing.image_size` to a valid size "
            "and the model resizes inputs to it."
        )
    return n


def nearest_trunk_size(image_size):
    """The square input size `(side, side)` the trunk takes that is nearest to `image_size`.

    The side is `4 * 2**n` with n >= 1, nearest to the mean of height and
    width on a log scale (ties go to the larger side), so 28x28 maps to
    32x32 and 8x8 stays 8x8. Methods built on the trunk use it to train on
    images of any size: the preprocessing contract resizes to it.

    >>> nearest_trunk_size((28, 28)), nearest_trunk_size((8, 8)), nearest_trunk_size((100, 60))
    ((32, 32), (8, 8), (64, 64))
    """
    import math

    height, width = (int(side) for side in image_size)
    if height < 1 or width < 1:
        raise ValueError(f"image_size must be two positive integers, got {tuple(image_size)}.")
    mean = math.log2(math.sqrt(height * width))
    candidates = [4 * 2**n for n in range(1, 12)]
    side = min(candidates, key=lambda s: (abs(math.log2(s) - mean), -s))
    return (side, side)


def scaled(filters, width):
    """`filters * width` rounded, at least 1."""
    return max(1, int(round(filters * width)))


def conv_trunk_layout(image_size, width=1.0):
    """The `ConvTrunkLayout` for square `image_size` (side `4 * 2**n`)."""
    n = num_doublings(image_size)
    if n == 1:
        return ConvTrunkLayout(convs=((scaled(32, width), 3, 1), (scaled(64, width), 3, 2)), feature_dim=scaled(128, width))
    convs = [(scaled(64, width), 3, 1)]
    convs += [(scaled(min(64 * 2**i, 256), width), 4, 2) for i in range(1, n + 1)]
    return ConvTrunkLayout(convs=tuple(convs), feature_dim=scaled(512, width))


def build_conv_trunk(input_shape, width=1.0, init_std=0.005, seed=0, name="trunk"):
    """The trunk phi(x): the layout's convs with LeakyReLU(0.2), then a dense layer.

    Args:
        input_shape: `(H, W, C)` of preprocessed images, H = W = 4 * 2**n.
        width: float, filter multiplier.
        init_std: std of the conv kernels' normal initializer.
        seed: int; conv i draws with `seed + i`, the dense layer with `seed + 50`.
        name: the Sequential model's name.

    Returns:
        A built `keras.Sequential` mapping `[B, H, W, C]` to `[B, feature_dim]`.
    """
    layout = conv_trunk_layout(input_shape[:2], width)
    layers = [keras.Input(tuple(input_shape))]
    for i, (filters, kernel, stride) in enumerate(layout.convs):
        layers += [
            keras.layers.Conv2D(
                filters, kernel, strides=stride, padding="same",
                kernel_initializer=keras.initializers.RandomNormal(stddev=init_std, seed=seed + i),
                name=f"conv{i}",
            ),
            keras.layers.LeakyReLU(0.2),
        ]
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(layout.feature_dim, kernel_initializer=keras.initializers.GlorotUniform(seed + 50), name="features"),
        keras.layers.LeakyReLU(0.2),
    ]
    return keras.Sequential(layers, name=name)
