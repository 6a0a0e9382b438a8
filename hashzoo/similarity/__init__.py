"""Offline similarity structure for methods that learn from pairs of training images.

Frozen features (`extract_features`: pixels, a random conv layer, Coates-Ng
k-means features, k-means + HOG + colour histograms, a keras application or
a given array; see docs/similarity.md), cosine K-nearest neighbours in row
blocks (`cosine_knn`, `knn_indicator`), the K1/K2 shared-neighbour rule
(`shared_neighbour_sets`, `shared_neighbour_similarity`) and a sparse
matrix of signed pairs (+1 and -1 stored, absent pairs read as a known
value or as unknown) whose batch blocks and known-masks are looked up in
numpy or inside `tf.data` (`SparseSimilarity`), and a three-valued
S in {-1, 0, +1} from a feature-distance rule and a neighbour rule, served
in batch blocks without a stored N x N matrix (`semantic_similarity`,
`SemanticSimilarity`).
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
    FITTED_ON_IMAGE_SET,
    GRAPH_FEATURES_SEED,
    PLAIN_EXTRACTORS,
    check_extractor,
    extract_features,
    fitted_on_image_set,
    keras_app_features,
    kmeans_features,
    kmeans_hog_features,
    pixel_features,
    random_conv_features,
)
from hashzoo.similarity.handcrafted import colour_histograms, hog
from hashzoo.similarity.kmeans_network import KMeansFeatures
from hashzoo.similarity.neighbours import (
    cosine_knn,
    knn_indicator,
    shared_neighbour_sets,
    shared_neighbour_similarity,
    unit_rows,
)
from hashzoo.similarity.semantic import (
    DistanceThresholds,
    SemanticSimilarity,
    combine_signs,
    distance_thresholds,
    feature_thresholds,
    neighbour_similarity,
    semantic_similarity,
)
from hashzoo.similarity.sparse import UNKNOWN, SparseSimilarity

__all__ = [
    "DistanceThresholds",
    "KMeansFeatures",
    "FITTED_ON_IMAGE_SET",
    "GRAPH_FEATURES_SEED",
    "PLAIN_EXTRACTORS",
    "SemanticSimilarity",
    "SparseSimilarity",
    "UNKNOWN",
    "check_extractor",
    "colour_histograms",
    "combine_signs",
    "cosine_knn",
    "distance_thresholds",
    "extract_features",
    "fitted_on_image_set",
    "feature_thresholds",
    "hog",
    "keras_app_features",
    "kmeans_features",
    "kmeans_hog_features",
    "knn_indicator",
    "neighbour_similarity",
    "pixel_features",
    "random_conv_features",
    "semantic_similarity",
    "shared_neighbour_sets",
    "shared_neighbour_similarity",
    "unit_rows",
]
