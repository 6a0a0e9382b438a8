"""Layer sizes of the CoopHash networks as a function of the input size.

CoopHash spec §4: inputs are square with side 4 * 2**n. n = 1 (8x8 digits)
uses the small trunk and generator; n >= 2 uses the standard lists, which
for n = 3 (32x32) are the CoopVAEBM "cifar" networks. `width` scales every
filter count.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class CoopHashArchitecture:
    """Filter counts for one input size. `trunk_convs` are `(filters, kernel, stride)`."""

    trunk_convs: tuple
    feature_dim: int
    generator_start: int
    generator_doublings: tuple
    generator_last: int


def num_doublings(image_size):
    """n such that image_size == 4 * 2**n, or a ValueError listing valid sizes."""
    side = image_size[0]
    n = 0
    while 4 * 2 ** (n + 1) <= side:
        n += 1
    if image_size[0] != image_size[1] or side != 4 * 2**n or n < 1:
        valid = [4 * 2**k for k in range(1, 7)]
        raise ValueError(
            f"CoopHash needs square images whose side is 4 * 2**n with n >= 1 (one of {valid}, ...), "
            f"got image_size={tuple(image_size)}; set `preprocessing.image_size` to a valid size "
            "and the model resizes inputs to it."
        )
    return n


def scaled(filters, width):
    return max(1, int(round(filters * width)))


def coophash_architecture(image_size, width=1.0):
    """The `CoopHashArchitecture` for square `image_size` (side 4 * 2**n)."""
    n = num_doublings(image_size)
    if n == 1:
        return CoopHashArchitecture(
            trunk_convs=((scaled(32, width), 3, 1), (scaled(64, width), 3, 2)),
            feature_dim=scaled(128, width),
            generator_start=scaled(64, width),
            generator_doublings=(),
            generator_last=scaled(32, width),
        )
    trunk = [(scaled(64, width), 3, 1)]
    trunk += [(scaled(min(64 * 2**i, 256), width), 4, 2) for i in range(1, n + 1)]
    return CoopHashArchitecture(
        trunk_convs=tuple(trunk),
        feature_dim=scaled(512, width),
        generator_start=scaled(256, width),
        generator_doublings=tuple(scaled(max(256 // 2**i, 64), width) for i in range(1, n)),
        generator_last=scaled(64, width),
    )
