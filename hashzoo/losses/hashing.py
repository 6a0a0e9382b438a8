"""Losses on continuous codes u in (-1, 1)^K shared by hashing methods.

All are written with `keras.ops`, reduce to a scalar mean over the batch and
are tested against numpy on hand-made tensors.
"""

from keras import ops


def squared_distance(a, b):
    """Row-wise squared Euclidean distance; equals 4 x Hamming on +/-1 codes."""
    return ops.sum(ops.square(a - b), axis=-1)


def triplet_hash_loss(anchor, positive, negative, margin):
    """`mean(max(0, margin + |a - p|^2 - |a - n|^2))` over the batch.

    Args:
        anchor, positive, negative: `[B, K]` continuous codes.
        margin: float, in squared-distance units (4 per bit on +/-1 codes).
    """
    return ops.mean(ops.relu(margin + squared_distance(anchor, positive) - squared_distance(anchor, negative)))


def quantization_loss(codes):
    """`mean(| |u| - 1 |^2)` summed over bits: how far codes are from +/-1."""
    return ops.mean(ops.sum(ops.square(ops.abs(codes) - 1.0), axis=-1))
