"""Multi-label data made from real single-label images.

A mosaic is a `grid × grid` tiling of real images. Each sample first draws how
many distinct classes it holds (uniform in `classes_per_sample`), then which
classes, then a real image of a drawn class for every tile, with every drawn
class on at least one tile. Its label set is the union of the tile classes.

Uniformly random tiles would make about 80 % of pairs share a label and
ranking trivial; 1 to 3 classes out of 10 give about a third, so retrieval
with the "share at least one label" rule stays informative (docs/evaluation.md,
"How a split is drawn").
"""

import numpy as np

from hashzoo.data import dataset as dataset_lib
from hashzoo.utils import validation


def _check_classes_per_sample(classes_per_sample, num_tiles, num_available):
    try:
        low, high = (int(v) for v in classes_per_sample)
    except (TypeError, ValueError):
        raise ValueError(
            f"`classes_per_sample` must be a pair (low, high), got {classes_per_sample!r}."
        ) from None
    if not 1 <= low <= high:
        raise ValueError(f"`classes_per_sample` needs 1 <= low <= high, got {(low, high)}.")
    if high > num_tiles:
        raise ValueError(
            f"`classes_per_sample` high={high} exceeds the {num_tiles} tiles of a "
            "mosaic; every drawn class needs a tile."
        )
    if high > num_available:
        raise ValueError(
            f"`classes_per_sample` high={high} exceeds the {num_available} classes "
            "that have images to draw from."
        )
    return low, high


def draw_tiles(labels, num_samples, grid=2, classes_per_sample=(1, 3), rng=None, pool=None):
    """Draws the source image of every tile of `num_samples` mosaics.

    Args:
        labels: int64 class ids `[N]` of the source images.
        num_samples: number of mosaics.
        grid: tiles per side.
        classes_per_sample: `(low, high)`, inclusive range of distinct classes.
        rng: a `numpy.random.Generator`; draws happen in sample order: the
            class count, the classes, the shuffled tile classes, the images.
        pool: indices into `labels` that tiles may use (default: all).

    Returns:
        int64 `[num_samples, grid * grid]` indices into `labels`, tiles in
        row-major order.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"mosaics are built from single-label images (class ids `[N]`), got "
            f"labels of shape {labels.shape}."
        )
    num_samples = validation.check_positive_int(num_samples, "num_samples")
    grid = validation.check_positive_int(grid, "grid")
    rng = np.random.default_rng(0) if rng is None else rng
    if pool is None:
        pool = np.arange(labels.shape[0], dtype=np.int64)
    else:
        pool = dataset_lib.check_indices(pool, labels.shape[0], "pool")
    by_class = {int(c): pool[labels[pool] == c] for c in np.unique(labels[pool])}
    available = np.array(sorted(by_class), dtype=np.int64)
    num_tiles = grid * grid
    low, high = _check_classes_per_sample(classes_per_sample, num_tiles, len(available))

    tiles = np.empty((num_samples, num_tiles), dtype=np.int64)
    for sample in range(num_samples):
        count = int(rng.integers(low, high + 1))
        classes = rng.choice(available, size=count, replace=False)
        extra = rng.choice(classes, size=num_tiles - count, replace=True)
        tile_classes = rng.permutation(np.concatenate([classes, extra]))
        for tile, class_id in enumerate(tile_classes):
            members = by_class[int(class_id)]
            tiles[sample, tile] = members[rng.integers(len(members))]
    return tiles


def tile_images(dataset, tiles, name=None, source=None):
    """Builds mosaic images and multi-hot labels from drawn tiles.

    Args:
        dataset: single-label `ImageDataset` the tiles index into.
        tiles: int `[M, grid * grid]` source indices, row-major.
        name, source: for the result; default `<name>-mosaic` and a description.

    Returns:
        An `ImageDataset` with images `[M, grid * H, grid * W, C]` and bool
        labels `[M, num_classes]`, the union of the tile classes.
    """
    if dataset.is_multi_label:
        raise ValueError(
            f"mosaics need single-label source images; {dataset.name!r} is multi-label."
        )
    tiles = np.asarray(tiles, dtype=np.int64)
    grid = int(round(np.sqrt(tiles.shape[1]))) if tiles.ndim == 2 else 0
    if tiles.ndim != 2 or grid * grid != tiles.shape[1]:
        raise ValueError(f"`tiles` must be [M, grid * grid], got shape {tiles.shape}.")
    dataset_lib.check_indices(tiles.reshape(-1), len(dataset), "tiles")
    count, (height, width, channels) = tiles.shape[0], dataset.images.shape[1:]
    images = dataset.images[tiles].reshape(count, grid, grid, height, width, channels)
    images = images.transpose(0, 1, 3, 2, 4, 5).reshape(
        count, grid * height, grid * width, channels
    )
    labels = np.zeros((count, dataset.num_classes), dtype=bool)
    labels[np.arange(count)[:, np.newaxis], dataset.labels[tiles]] = True
    return dataset_lib.ImageDataset(
        images=images,
        labels=labels,
        class_names=dataset.class_names,
        name=name or f"{dataset.name}-mosaic",
        source=source or f"{grid}x{grid} mosaics of {dataset.source}",
    )


def make_mosaics(dataset, num_samples, grid=2, classes_per_sample=(1, 3), seed=0,
                 return_tiles=False):
    """Makes `num_samples` multi-label mosaics from a single-label dataset.

    Args:
        dataset: single-label `ImageDataset` (e.g. `load_digits()`).
        num_samples: number of mosaics.
        grid: tiles per side (2 gives 2×2 mosaics of twice the source size).
        classes_per_sample: `(low, high)`: each mosaic holds a number of
            distinct classes drawn uniformly from this inclusive range.
        seed: seed of `numpy.random.default_rng`; same seed, same mosaics.
        return_tiles: also return the int64 `[num_samples, grid * grid]`
            source index of every tile.

    Returns:
        An `ImageDataset` with images `[num_samples, grid*H, grid*W, C]` and
        bool multi-hot labels; with `return_tiles`, `(dataset, tiles)`.

    Example:

    >>> from hashzoo.data import load_digits
    >>> mosaics = make_mosaics(load_digits(), 4, seed=1)
    >>> mosaics.images.shape, mosaics.labels.dtype
    ((4, 16, 16, 1), dtype('bool'))
    """
    tiles = draw_tiles(dataset.labels, num_samples, grid, classes_per_sample,
                       rng=np.random.default_rng(seed))
    mosaics = tile_images(
        dataset, tiles,
        source=(f"make_mosaics({dataset.name}, num_samples={num_samples}, grid={grid}, "
                f"classes_per_sample={tuple(classes_per_sample)}, seed={seed}) "
                f"of {dataset.source}"),
    )
    return (mosaics, tiles) if return_tiles else mosaics
