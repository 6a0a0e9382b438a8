"""PCA followed by iterative quantization (ITQ)."""

import numbers

import numpy as np

from hashzoo.baselines.base import Baseline, register_baseline


@register_baseline
class PCAITQ(Baseline):
    """PCA to `bits` dimensions, then a rotation that minimises quantization loss.

    Gong & Lazebnik, "Iterative Quantization: A Procrustean Approach to
    Learning Binary Codes", CVPR 2011. Inputs are centred and projected onto
    their top `bits` principal directions, giving `V`. Starting from a random
    orthogonal `R`, ITQ alternates `B = sign(V R)` and the orthogonal
    Procrustes solution `R = W U^T` from the SVD `B^T V = U S W^T`, which
    lowers `||B - V R||^2` at every step.

    Args:
        bits: int >= 1, the code length; at most the input dimension.
        iterations: int >= 0, ITQ alternations (0 keeps the random rotation).
        seed: None or int >= 0, seeds the initial rotation.

    Attributes (after `fit`):
        components_: float64 `[D, bits]`, the principal directions.
        explained_variance_: float64 `[bits]`, their variances.
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
        centred = matrix - mean
        covariance = centred.T @ centred / max(num_items - 1, 1)
        values, vectors = np.linalg.eigh(covariance)
        order = np.argsort(values, kind="stable")[::-1][: self.bits]
        components = vectors[:, order]
        reduced = centred @ components

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
        self.explained_variance_ = np.maximum(values[order], 0.0)
        self.rotation_ = rotation
        self.quantization_loss_ = np.asarray(losses)
        self.projection_ = components @ rotation
