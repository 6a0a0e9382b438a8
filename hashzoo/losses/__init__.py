"""Losses shared by hashing methods (keras.ops; scalar means over the batch).

Example:

>>> import numpy as np
>>> from hashzoo import losses
>>> u = np.array([[1.0, -1.0]], "float32")
>>> float(losses.triplet_hash_loss(u, u, -u, margin=2.0))
0.0
>>> float(losses.quantization_loss(np.array([[0.5, -1.0]], "float32")))
0.25
>>> float(losses.pairwise_similarity_loss(u, np.concatenate([u, -u]), np.array([[1.0, -1.0]])))
0.0
"""

from hashzoo.losses.hashing import (
    all_triplets_hash_loss,
    pairwise_squared_distance,
    quantization_loss,
    squared_distance,
    triplet_hash_loss,
)
from hashzoo.losses.similarity import BALANCES, neighbourhood_loss, pairwise_similarity_loss

__all__ = [
    "BALANCES",
    "all_triplets_hash_loss",
    "neighbourhood_loss",
    "pairwise_similarity_loss",
    "pairwise_squared_distance",
    "quantization_loss",
    "squared_distance",
    "triplet_hash_loss",
]
