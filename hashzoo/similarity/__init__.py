"""Offline similarity structure for unsupervised methods (BGAN; SPAH's neighbour similarity).

Frozen features (`extract_features`), cosine K-nearest neighbours in row
blocks (`cosine_knn`), BGAN's K1/K2 shared-neighbour rule
(`shared_neighbour_similarity`, `bgan_similarity`) and a sparse two-valued
matrix whose batch blocks are looked up in numpy or inside `tf.data`
(`SparseSimilarity`). `hashzoo.data.make_similarity_dataset` turns one into a
training pipeline of `(images, S_B)` batches.

>>> import numpy as np
>>> from hashzoo import similarity
>>> features = np.random.default_rng(0).normal(size=(40, 8))
>>> s = similarity.bgan_similarity(features, k1=3, k2=4)
>>> bool((s.dense() == s.dense().T).all()), int(s.positives_per_row().min()) >= 4
(True, True)
"""

from hashzoo.similarity.features import (
    check_extractor,
    extract_features,
    keras_app_features,
    pixel_features,
    random_conv_features,
)
from hashzoo.similarity.neighbours import (
    bgan_similarity,
    cosine_knn,
    knn_indicator,
    shared_neighbour_sets,
    shared_neighbour_similarity,
)
from hashzoo.similarity.sparse import SparseSimilarity

__all__ = [
    "SparseSimilarity",
    "bgan_similarity",
    "check_extractor",
    "cosine_knn",
    "extract_features",
    "keras_app_features",
    "knn_indicator",
    "pixel_features",
    "random_conv_features",
    "shared_neighbour_sets",
    "shared_neighbour_similarity",
]
