"""Locality-sensitive hashing with random Gaussian projections."""

import numpy as np

from hashzoo.baselines.base import Baseline, register_baseline


@register_baseline
class LSH(Baseline):
    """Sign of random Gaussian projections of centred inputs.

    Each bit is `+1` where `(x - mean) . w >= 0`, with `w` drawn from a
    standard normal and `mean` the training mean (Charikar, "Similarity
    estimation techniques from rounding algorithms", STOC 2002). It is the
    data-independent floor of every hashing table.

    Args:
        bits: int >= 1, the code length.
        seed: None or int >= 0, seeds the projection matrix.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 20))
    >>> LSH(bits=12, seed=0).fit(x).encode_packed(x[:3]).shape
    (3, 2)
    """

    def _fit(self, matrix):
        rng = np.random.default_rng(self.seed)
        self.mean_ = matrix.mean(axis=0)
        self.projection_ = rng.standard_normal((matrix.shape[1], self.bits))
