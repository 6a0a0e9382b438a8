"""Hand-crafted image descriptors: HOG and per-channel colour histograms (numpy only).

`hog` follows the scheme of Dalal & Triggs ("Histograms of Oriented Gradients
for Human Detection", CVPR 2005): centred `[-1, 0, 1]` gradients (for colour
images, at each pixel the channel with the largest gradient), unsigned
orientations in `bins` bins over [0, 180) degrees with each pixel's magnitude
split linearly between its two nearest bins, histograms summed over
`cell x cell` pixel cells, and every `2 x 2` block of cells normalised with
L2-Hys (L2, clip at 0.2, L2 again). Pixels are not spatially interpolated
between cells, a simplification of the paper's trilinear voting.

`colour_histograms` counts each channel's values in `bins` equal bins over
[0, 256), as fractions of the pixels.

Both are deterministic and work for grey and RGB images of any size of at
least two cells a side (the default cell is `max(2, min(H, W) // 8)`).
"""

import numpy as np

HOG_BINS = 9
COLOUR_BINS = 16
_BLOCK_EPS = 1e-3
_HYS_CLIP = 0.2


def cell_size_for(shape):
    """The default HOG cell side for images of `shape` `(H, W, ...)`: `max(2, min(H, W) // 8)`."""
    return int(max(2, min(int(shape[0]), int(shape[1])) // 8))


def _gradients(images):
    """Centred differences `[B, H, W]` (zero on the border) of the strongest channel."""
    gx = np.zeros_like(images)
    gy = np.zeros_like(images)
    gx[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
    gy[:, 1:-1, :] = images[:, 2:, :] - images[:, :-2, :]
    magnitude = np.hypot(gx, gy)
    if images.shape[-1] > 1:
        strongest = np.argmax(magnitude, axis=-1)[..., None]
        gx = np.take_along_axis(gx, strongest, axis=-1)
        gy = np.take_along_axis(gy, strongest, axis=-1)
        magnitude = np.take_along_axis(magnitude, strongest, axis=-1)
    return gx[..., 0], gy[..., 0], magnitude[..., 0]


def _l2_hys(blocks):
    blocks = blocks / np.sqrt(np.sum(blocks**2, axis=-1, keepdims=True) + _BLOCK_EPS**2)
    np.minimum(blocks, _HYS_CLIP, out=blocks)
    return blocks / np.sqrt(np.sum(blocks**2, axis=-1, keepdims=True) + _BLOCK_EPS**2)


def hog(images, cell=None, bins=HOG_BINS, batch_size=512):
    """HOG descriptors of `images` `[N, H, W, C]` (pixels in [0, 255]), float32 `[N, D]`.

    Args:
        cell: cell side in pixels, or None for `cell_size_for(image shape)`.
            Rows and columns past the last whole cell are ignored.
        bins: unsigned orientation bins over [0, 180) degrees.
        batch_size: images processed at once.

    Returns:
        `D = (cells_y - 1) * (cells_x - 1) * 4 * bins`. A constant image gives
        all zeros.

    Example:

    >>> import numpy as np
    >>> hog(np.full((2, 8, 8, 1), 7, np.uint8)).shape, float(abs(hog(np.zeros((1, 8, 8, 3)))).max())
    ((2, 324), 0.0)
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}.")
    cell = cell_size_for(images.shape[1:]) if cell is None else int(cell)
    cells_y, cells_x = images.shape[1] // cell, images.shape[2] // cell
    if cells_y < 2 or cells_x < 2:
        raise ValueError(f"HOG needs at least 2 x 2 cells of {cell} pixels, images are {images.shape[1:3]}.")
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size, : cells_y * cell, : cells_x * cell].astype(np.float32)
        gx, gy, magnitude = _gradients(batch)
        angle = np.mod(np.degrees(np.arctan2(gy, gx)), 180.0) * (bins / 180.0) - 0.5
        lower = np.floor(angle)
        upper_share = angle - lower
        lower = lower.astype(np.int64) % bins
        upper = (lower + 1) % bins
        count = len(batch)
        # Flat index of each pixel's (item, cell row, cell column), then one bincount per neighbouring bin.
        cell_rows = (np.arange(cells_y * cell) // cell)[None, :, None]
        cell_cols = (np.arange(cells_x * cell) // cell)[None, None, :]
        items = np.arange(count)[:, None, None]
        base = ((items * cells_y + cell_rows) * cells_x + cell_cols) * bins
        size = count * cells_y * cells_x * bins
        histogram = np.bincount((base + lower).ravel(), (magnitude * (1.0 - upper_share)).ravel(), size)
        histogram += np.bincount((base + upper).ravel(), (magnitude * upper_share).ravel(), size)
        histogram = histogram.reshape(count, cells_y, cells_x, bins)
        blocks = np.concatenate([
            histogram[:, :-1, :-1], histogram[:, :-1, 1:], histogram[:, 1:, :-1], histogram[:, 1:, 1:],
        ], axis=-1)  # [B, cells_y - 1, cells_x - 1, 4 * bins]
        outputs.append(_l2_hys(blocks).reshape(count, -1))
    return np.concatenate(outputs).astype(np.float32)


def colour_histograms(images, bins=COLOUR_BINS):
    """Per-channel histograms of `images` `[N, H, W, C]` over [0, 256), fractions of pixels: `[N, C * bins]`.

    >>> import numpy as np
    >>> colour_histograms(np.zeros((1, 4, 4, 3), np.uint8), bins=4).tolist()
    [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]]
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}.")
    count, height, width, channels = images.shape
    which = np.clip((images.astype(np.float32) * (bins / 256.0)).astype(np.int64), 0, bins - 1)
    which += (np.arange(channels) * bins)[None, None, None, :]
    which += (np.arange(count) * channels * bins)[:, None, None, None]
    counts = np.bincount(which.ravel(), minlength=count * channels * bins)
    return (counts.reshape(count, channels * bins) / float(height * width)).astype(np.float32)
