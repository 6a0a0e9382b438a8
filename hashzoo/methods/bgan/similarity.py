"""BGAN's neighbourhood structure: the ±1 K1/K2 shared-neighbour similarity of its training images.

BGAN builds S once, before training, from frozen features of the training
images (`extract_features`, chosen by `BGAN(feature_extractor=...)`): cosine
K1-nearest neighbours, then the K1/K2 shared-neighbour rule. Every pair
the rule does not mark +1 is -1 (the matrix has no unknown pairs). The
generic pieces live in `hashzoo.similarity`; this module fixes BGAN's use of
them. See docs/bgan.md.

Example:

>>> import numpy as np
>>> f = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], "float32")
>>> s = bgan_similarity(f, k1=1, k2=2)
>>> s.dense().astype(int).tolist()
[[1, 1, -1, -1], [1, 1, -1, -1], [-1, -1, 1, 1], [-1, -1, 1, 1]]
>>> s.absent
-1.0
"""

# The shared feature extractors are re-exported so BGAN's model reads everything about its S here.
from hashzoo.similarity import check_extractor, cosine_knn, extract_features, shared_neighbour_similarity

# BGAN reads every pair outside the shared-neighbour pattern as dissimilar.
ABSENT = -1.0


def bgan_similarity(features, k1=20, k2=30, block_size=1024):
    """BGAN's S from features: `cosine_knn(features, k1)`, then the K1/K2 rule, absent pairs -1.

    Args:
        features: float `[N, D]` (need not be normalised).
        k1: neighbours of each item besides itself (K1).
        k2: items in each shared-neighbour set (K2).
        block_size: rows of the cosine block held at once.

    Returns:
        A `hashzoo.similarity.SparseSimilarity` storing the +1 pairs (diagonal
        included) that reads every other pair as -1.
    """
    return shared_neighbour_similarity(cosine_knn(features, k1, block_size=block_size), k2, absent=ABSENT)


__all__ = ["ABSENT", "bgan_similarity", "check_extractor", "extract_features"]
