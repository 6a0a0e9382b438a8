"""Layer sizes of the CoopHash networks as a function of the input size.

See docs/coophash.md, "Sizes": inputs are square with side 4 * 2**n. n = 1 (8x8 digits)
uses the small trunk and generator; n >= 2 uses the standard lists, which
for n = 3 (32x32) are the CoopVAEBM "cifar" networks. `width` scales every
filter count.
"""

import dataclasses

from hashzoo.layers.conv_trunk import conv_trunk_layout, num_doublings, scaled


@dataclasses.dataclass(frozen=True)
class CoopHashArchitecture:
    """Filter counts for one input size. `trunk_convs` are `(filters, kernel, stride)`."""

    trunk_convs: tuple
    feature_dim: int
    generator_start: int
    generator_doublings: tuple
    generator_last: int


def coophash_architecture(image_size, width=1.0):
    """The `CoopHashArchitecture` for square `image_size` (side 4 * 2**n)."""
    n = num_doublings(image_size)
    trunk = conv_trunk_layout(image_size, width)
    if n == 1:
        return CoopHashArchitecture(
            trunk_convs=trunk.convs,
            feature_dim=trunk.feature_dim,
            generator_start=scaled(64, width),
            generator_doublings=(),
            generator_last=scaled(32, width),
        )
    return CoopHashArchitecture(
        trunk_convs=trunk.convs,
        feature_dim=trunk.feature_dim,
        generator_start=scaled(256, width),
        generator_doublings=tuple(scaled(max(256 // 2**i, 64), width) for i in range(1, n)),
        generator_last=scaled(64, width),
    )
