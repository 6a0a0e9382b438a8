"""Unsupervised single-layer k-means features (Coates, Ng & Lee, AISTATS 2011).

The recipe of "An Analysis of Single-Layer Networks in Unsupervised Feature
Learning", as `extract_features(images, "kmeans")` runs it:

1. draw `num_patches` random `p x p` patches from the images (the same
   images the features are computed for; labels are never read);
2. normalise each patch's brightness and contrast (subtract its mean,
   divide by `sqrt(variance + 10)`, pixels in [0, 255]);
3. ZCA-whiten them (eigenvectors of the patch covariance, eigenvalues
   regularised by `0.1`);
4. run k-means with `num_centroids` centroids, seeded initialisation from
   the patches themselves, a fixed number of Lloyd iterations;
5. encode every patch of every image (stride `stride`) with the
   "triangle" activation `f_k(x) = max(0, mean_j(z_j) - z_k)`, where
   `z_k = ||x - c_k||` is the patch's distance to centroid k, so a patch
   switches on the centroids closer than its average distance;
6. sum the activations over the four quadrants of the activation map,
   giving `4 * num_centroids` dimensions per image.

The encoding (step 5) runs over image batches, so at most
`batch_size * positions * num_centroids` floats are held at once, never the
patches of all images.

Patch size rule: `p = min(6, max(2, min(H, W) // 2))` unless given: 6x6 for
32x32 CIFAR images, 4x4 for 8x8 digits, 2x2 for anything smaller than 6
pixels a side. Everything is numpy and seeded, so the same images and seed
give identical features.
"""

import numpy as np

DEFAULT_CENTROIDS = 400
DEFAULT_PATCHES = 100_000
# Regularisers of the recipe: patch variance (pixels in [0, 255]) and ZCA eigenvalues.
_CONTRAST_EPS = 10.0
_ZCA_EPS = 0.1


def patch_size_for(shape):
    """The default patch side for images of `shape` `(H, W, ...)`: `min(6, max(2, min(H, W) // 2))`."""
    return int(min(6, max(2, min(int(shape[0]), int(shape[1])) // 2)))


def _as_float_images(images):
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}.")
    return images.astype(np.float32)


def _normalise_patches(patches):
    """Per-patch brightness and contrast normalisation, rows of `patches` `[M, D]` (float32)."""
    patches = patches - patches.mean(axis=1, keepdims=True)
    patches /= np.sqrt(patches.var(axis=1, keepdims=True) + _CONTRAST_EPS)
    return patches


def _dense_patches(images, size, stride):
    """All `size x size` patches of `images` `[B, H, W, C]` at `stride`: `[B, rows, cols, size*size*C]`."""
    windows = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(1, 2))
    windows = windows[:, ::stride, ::stride]  # [B, rows, cols, C, size, size]
    batch, rows, cols = windows.shape[:3]
    return np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(batch, rows, cols, -1)


def _sample_patches(images, size, count, rng):
    """`count` random patches `[count, size*size*C]`, same layout as `_dense_patches`."""
    num, height, width, channels = images.shape
    which = rng.integers(0, num, count)
    top = rng.integers(0, height - size + 1, count)
    left = rng.integers(0, width - size + 1, count)
    offsets = np.arange(size)
    rows = (top[:, None] + offsets)[:, :, None]
    cols = (left[:, None] + offsets)[:, None, :]
    patches = images[which[:, None, None], rows, cols]  # [count, size, size, C]
    return patches.reshape(count, size * size * channels)


def _zca(patches):
    """The mean `[D]` and ZCA whitening matrix `[D, D]` of `patches` `[M, D]`."""
    mean = patches.mean(axis=0, dtype=np.float64)
    centred = patches.astype(np.float64) - mean
    covariance = centred.T @ centred / max(len(patches) - 1, 1)
    values, vectors = np.linalg.eigh(covariance)
    whiten = vectors @ np.diag(1.0 / np.sqrt(np.maximum(values, 0.0) + _ZCA_EPS)) @ vectors.T
    return mean.astype(np.float32), whiten.astype(np.float32)


def _squared_distances(x, centroids, centroid_norms):
    """`||x_i - c_k||^2` `[M, K]`, clipped at 0."""
    distances = x @ (-2.0 * centroids.T)
    distances += centroid_norms
    distances += np.einsum("ij,ij->i", x, x)[:, None]
    return np.maximum(distances, 0.0, out=distances)


def kmeans(points, num_centroids, iterations=10, seed=0, block=16384):
    """Plain Lloyd k-means in numpy, deterministic given `seed`.

    Centroids start at `num_centroids` distinct random points; a centroid
    that loses all its points is moved to a random point. Assignment runs in
    row blocks of `block`.

    Returns:
        float32 `[num_centroids, D]`.
    """
    points = np.asarray(points, np.float32)
    rng = np.random.default_rng(seed)
    count = len(points)
    if count < num_centroids:
        raise ValueError(f"k-means with {num_centroids} centroids needs at least as many points, got {count}.")
    centroids = points[rng.choice(count, num_centroids, replace=False)].copy()
    for _ in range(iterations):
        norms = np.einsum("ij,ij->i", centroids, centroids)
        sums = np.zeros_like(centroids, dtype=np.float64)
        counts = np.zeros(num_centroids, np.int64)
        for start in range(0, count, block):
            chunk = points[start : start + block]
            nearest = np.argmin(chunk @ (-2.0 * centroids.T) + norms, axis=1)
            order = np.argsort(nearest, kind="stable")
            present, starts = np.unique(nearest[order], return_index=True)
            sums[present] += np.add.reduceat(chunk[order], starts, axis=0, dtype=np.float64)
            counts += np.bincount(nearest, minlength=num_centroids)
        empty = counts == 0
        centroids = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
        if empty.any():
            centroids[empty] = points[rng.choice(count, int(empty.sum()), replace=False)]
    return centroids


class KMeansFeatures:
    """Coates-Ng single-layer k-means network (see the module docstring).

    Args:
        num_centroids: dictionary size K; features have `4 * K` dimensions.
        patch_size: patch side, or None for `patch_size_for(image shape)`.
        stride: step between encoded patches (1 = every position).
        num_patches: random patches (positions drawn with replacement) that
            learn the whitening and the centroids; at most the number of
            patch positions the images hold.
        iterations: k-means iterations.
        seed: seeds the patch draw and the k-means initialisation.
        batch_size: images encoded at once.

    Example:

    >>> import numpy as np
    >>> images = np.random.default_rng(0).integers(0, 256, (30, 8, 8, 1), dtype=np.uint8)
    >>> model = KMeansFeatures(num_centroids=8, num_patches=500).fit(images)
    >>> model.patch_size_, model.transform(images).shape
    (4, (30, 32))
    """

    def __init__(self, num_centroids=DEFAULT_CENTROIDS, patch_size=None, stride=1,
                 num_patches=DEFAULT_PATCHES, iterations=10, seed=0, batch_size=64):
        self.num_centroids = int(num_centroids)
        self.patch_size = patch_size
        self.stride = int(stride)
        self.num_patches = int(num_patches)
        self.iterations = int(iterations)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        if self.num_centroids < 1 or self.stride < 1 or self.num_patches < 1 or self.batch_size < 1:
            raise ValueError("num_centroids, stride, num_patches and batch_size must be >= 1.")

    def fit(self, images):
        """Learns the whitening and the centroids from random patches of `images` `[N, H, W, C]`."""
        images = np.asarray(images)
        size = patch_size_for(images.shape[1:]) if self.patch_size is None else int(self.patch_size)
        if not 1 <= size <= min(images.shape[1:3]):
            raise ValueError(f"patch size {size} does not fit images of shape {images.shape[1:]}.")
        rng = np.random.default_rng(self.seed)
        positions = len(images) * (images.shape[1] - size + 1) * (images.shape[2] - size + 1)
        count = min(self.num_patches, positions)
        patches = _normalise_patches(_sample_patches(images, size, count, rng).astype(np.float32))
        self.patch_size_ = size
        self.mean_, self.whiten_ = _zca(patches)
        whitened = (patches - self.mean_) @ self.whiten_
        centroids = min(self.num_centroids, len(whitened))
        self.centroids_ = kmeans(whitened, centroids, self.iterations, seed=self.seed + 1)
        return self

    def transform(self, images):
        """Quadrant-pooled triangle activations, float32 `[N, 4 * K]` (not normalised)."""
        images = np.asarray(images)
        size = self.patch_size_
        centroids = self.centroids_
        norms = np.einsum("ij,ij->i", centroids, centroids)
        outputs = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size].astype(np.float32)
            patches = _dense_patches(batch, size, self.stride)
            count, rows, cols, dim = patches.shape
            flat = _normalise_patches(patches.reshape(-1, dim))
            flat -= self.mean_
            flat = flat @ self.whiten_
            distances = np.sqrt(_squared_distances(flat, centroids, norms), dtype=np.float32)
            activation = distances.mean(axis=1, keepdims=True) - distances
            np.maximum(activation, 0.0, out=activation)
            activation = activation.reshape(count, rows, cols, -1)
            half_r, half_c = max(1, rows // 2), max(1, cols // 2)
            quadrants = [
                activation[:, :half_r, :half_c], activation[:, :half_r, half_c:],
                activation[:, half_r:, :half_c], activation[:, half_r:, half_c:],
            ]
            outputs.append(np.concatenate([q.sum(axis=(1, 2)) for q in quadrants], axis=1))
        return np.concatenate(outputs).astype(np.float32)


def kmeans_raw_features(images, seed=0, **options):
    """`KMeansFeatures(seed=seed, **options)` fitted on `images` and applied to them: `[N, 4K]`."""
    return KMeansFeatures(seed=seed, **options).fit(images).transform(images)
