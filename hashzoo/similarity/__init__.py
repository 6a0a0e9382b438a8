"""Offline similarity structure for methods that learn from pairs of training images.

Frozen features (`extract_features`), cosine K-nearest neighbours in row
blocks (`cosine_knn`, `knn_indicator`), the K1/K2 shared-neighbour rule
(`shared_neighbour_sets`, `shared_neighbour_similarity`) and a sparse
matrix of signed pairs (+1 and -1 stored, absent pairs read as a known
value or as unknown) whose batch blocks and known-masks are looked up in
numpy or inside `tf.data` (`SparseSimilarity`).
`hashzoo.data.make_similarity_dataset` turns one into a training pipeline
of `(images, S_B)` batches. Each method's own rule lives in its folder.

>>> import numpy as np
>>> from hashzoo import similarity
>>> features = np.random.default_rng(0).normal(size=(40, 8))
>>> knn = similarity.cosine_knn(features, 3)
>>> s = similarity.shared_neighbour_similarity(knn, k2=4, absent="unknown")
>>> values, known = s.dense(with_mask=True)
>>> s.is_symmetric(), int(s.positives_per_row().min()) >= 4, bool((values[~known] == 0).all())
(True, True, True)
"""

from hashzoo.similarity.features import (
    check_extractor,
    extract_features,
    keras_app_features,
    pixel_features,
    random_conv_features,
)
from hashzoo.similarity.neighbours import (
    cosine_knn,
    knn_indicator,
    shared_neighbour_sets,
    shared_neighbour_similarity,
)
from hashzoo.similarity.sparse import UNKNOWN, SparseSimilarity

__all__ = [
    "SparseSimilarity",
    "UNKNOWN",
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
