"""PCA followed by iterative quantization (ITQ)."""

import numbers

import numpy as np

from hashzoo.baselines.base import Baseline, register_baseline

#: Up to this input dimension `fit` uses the exact covariance PCA, above it the
#: randomized solver (see `PCAITQ`). A D x D float64 covariance is 128 MiB here
#: and its eigendecomposition takes seconds; the bound covers digits (64),
#: 16x16 mosaics (256) and 32x32x3 CIFAR-10 pixels (3,072), whose published
#: PCA-ITQ numbers come from the exact solver.
EXACT_PCA_MAX_DIM = 4096
# Randomized solver: extra directions carried along (`bits` of them, at least
# 10) and rounds of subspace iteration (each one pass of X and one of X^T over
# the data). On 32x32x3 CIFAR-10 pixels at 64 bits, 2 * bits columns and 4
# rounds matched the exact subspace to a smallest principal cosine of 0.9995,
# where bits + 10 columns and 7 rounds, at about the same cost, reached 0.90.
_MIN_OVERSAMPLES = 10
_POWER_ITERATIONS = 4


@register_baseline
class PCAITQ(Baseline):
    """PCA to `bits` dimensions, then a rotation that minimises quantization loss.

    Gong & Lazebnik, "Iterative Quantization: A Procrustean Approach to
    Learning Binary Codes", CVPR 2011. Inputs are centred and projected onto
    their top `bits` principal directions, giving `V`. Starting from a random
    orthogonal `R`, ITQ alternates `B = sign(V R)` and the orthogonal
    Procrustes solution `R = W U^T` from the SVD `B^T V = U S W^T`, which
    lowers `||B - V R||^2` at every step.

    The PCA solver depends on the input dimension D. Up to
    `EXACT_PCA_MAX_DIM` = 4,096 it eigendecomposes the D x D covariance:
    exact, but O(D^2) memory and O(N D^2 + D^3) time, which for 64x64x3
    pixels (D = 12,288) is a 1.2 GB matrix and many minutes of `eigh`. Above
    it, `fit` finds the top `bits` directions by randomized subspace iteration
    (Halko, Martinsson & Tropp, SIAM Review 2011): a seeded Gaussian start of
    `2 * bits` columns (at least `bits + 10`), four rounds of multiplying by
    C^T C for the centred data C (never formed: centring is applied on the
    fly) with re-orthonormalisation, then an exact PCA of the data projected
    onto the directions found. That needs O((N + D) bits) memory besides the
    input and O(N D bits) time, and comes close to the exact subspace when the
    spectrum decays, as it does for images; its components are signed so that
    each one's largest entry is positive. Inputs of up to 4,096 dimensions
    (digits, 32x32x3 CIFAR-10) get exactly the codes of the covariance solver.

    Args:
        bits: int >= 1, the code length; at most the input dimension.
        iterations: int >= 0, ITQ alternations (0 keeps the random rotation).
        seed: None or int >= 0, seeds the initial rotation (and the start of
            the randomized PCA solver).

    Attributes (after `fit`):
        components_: float64 `[D, bits]`, the principal directions.
        explained_variance_: float64 `[bits]`, their variances (estimated within
            the subspace found, for the randomized solver).
        rotation_: float64 `[bits, bits]`, the learned orthogonal rotation.
        quantization_loss_: float64 `[iterations + 1]`, `||B - V R||^2 / N`
            before each rotation update and after the last one.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 20))
    >>> model = PCAITQ(bits=8, iterations=10).fit(x)
    >>> model.encode(x[:2]).shape
    (2, 8)
    >>> bool(model.quantization_loss_[-1] <= model.quantization_loss_[0])
    True
    """

    _extra_state = ("components", "explained_variance", "rotation", "quantization_loss")

    def __init__(self, bits, iterations=50, seed=0):
        super().__init__(bits=bits, seed=seed)
        if (
            isinstance(iterations, bool)
            or not isinstance(iterations, numbers.Integral)
            or iterations < 0
        ):
            raise ValueError(f"`iterations` must be an integer >= 0, got {iterations!r}.")
        self.iterations = int(iterations)
        self.components_ = None
        self.explained_variance_ = None
        self.rotation_ = None
        self.quantization_loss_ = None

    def get_config(self):
        config = super().get_config()
        config["iterations"] = self.iterations
        return config

    def _fit(self, matrix):
        num_items, dim = matrix.shape
        if self.bits > dim:
            raise ValueError(
                f"PCAITQ(bits={self.bits}) needs inputs with at least {self.bits} dimensions, "
                f"got feature dimension {dim}; PCA cannot give more bits than dimensions."
            )
        mean = matrix.mean(axis=0)
        if dim <= EXACT_PCA_MAX_DIM:
            centred = matrix - mean
            covariance = centred.T @ centred / max(num_items - 1, 1)
            values, vectors = np.linalg.eigh(covariance)
            order = np.argsort(values, kind="stable")[::-1][: self.bits]
            components = vectors[:, order]
            variances = values[order]
            reduced = centred @ components
        else:
            start = np.random.default_rng(None if self.seed is None else [self.seed, 1])
            components, variances, reduced = _randomized_pca(matrix, mean, self.bits, start)

        rng = np.random.default_rng(self.seed)
        rotation, _ = np.linalg.qr(rng.standard_normal((self.bits, self.bits)))
        losses = []
        for _ in range(self.iterations + 1):
            rotated = reduced @ rotation
            binary = np.where(rotated >= 0, 1.0, -1.0)
            losses.append(float(np.sum((binary - rotated) ** 2) / num_items))
            if len(losses) > self.iterations:
                break
            left, _, right = np.linalg.svd(binary.T @ reduced)
            rotation = right.T @ left.T

        self.mean_ = mean
        self.components_ = components
        self.explained_variance_ = np.maximum(variances, 0.0)
        self.rotation_ = rotation
        self.quantization_loss_ = np.asarray(losses)
        self.projection_ = components @ rotation


def _randomized_pca(matrix, mean, bits, rng):
    """Top `bits` principal directions of `matrix - mean` by randomized subspace iteration.

    The centred matrix C = matrix - mean is never built: C P = matrix P -
    mean P and C^T Y = matrix^T Y - mean (1^T Y). Once the orthonormal basis
    P `[D, l]` is close to C's top right singular subspace, the eigenvectors W
    of the small `[l, l]` matrix (C P)^T (C P) give the directions P W, their
    variances (eigenvalues / (N - 1)) and the projected data (C P) W. The data
    is read 2 * rounds + 1 times in all. Fewer items than l still give `bits`
    orthonormal directions, as the covariance solver does.

    Args:
        matrix: float64 `[N, D]` inputs.
        mean: float64 `[D]`, their column means.
        bits: number of directions, <= D.
        rng: numpy Generator for the Gaussian start.

    Returns:
        `(components [D, bits], variances [bits], reduced [N, bits])`.
    """
    num_items, dim = matrix.shape
    width = min(dim, bits + max(bits, _MIN_OVERSAMPLES))

    def times(basis):
        return matrix @ basis - mean @ basis

    def transpose_times(block):
        return matrix.T @ block - np.outer(mean, block.sum(axis=0))

    basis, _ = np.linalg.qr(rng.standard_normal((dim, width)))
    for _ in range(_POWER_ITERATIONS):
        # Orthonormalising both half-steps keeps the smaller directions from
        # drowning in rounding as they shrink by S^2 per round. (With N < l
        # a QR of the [N, l] product would drop columns; the D side still
        # re-orthonormalises then.)
        middle = times(basis)
        if num_items >= width:
            middle, _ = np.linalg.qr(middle)
        basis, _ = np.linalg.qr(transpose_times(middle))
    projected = times(basis)
    values, vectors = np.linalg.eigh(projected.T @ projected)
    order = np.argsort(values, kind="stable")[::-1][:bits]
    rotation = vectors[:, order]
    components = basis @ rotation
    # Sign convention: the largest-magnitude entry of each direction is positive.
    peaks = components[np.argmax(np.abs(components), axis=0), np.arange(bits)]
    signs = np.where(peaks < 0, -1.0, 1.0)
    components *= signs
    reduced = projected @ (rotation * signs)
    variances = values[order] / max(num_items - 1, 1)
    return components, variances, reduced
