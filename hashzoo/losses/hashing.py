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


def pairwise_squared_distance(a, b):
    """`[A, N]` squared Euclidean distances between the rows of `a` `[A, K]` and `b` `[N, K]`."""
    squared_a = ops.sum(ops.square(a), axis=-1)[:, None]
    squared_b = ops.sum(ops.square(b), axis=-1)[None, :]
    return ops.maximum(squared_a + squared_b - 2.0 * ops.matmul(a, ops.transpose(b)), 0.0)


def all_triplets_hash_loss(anchor, items, positive_mask, negative_mask, margin):
    """Mean over anchors of the mean hinge over all their valid (positive, negative) pairs.

    Every anchor row `a` is compared with every positive `p` and negative
    `n` among `items`: `max(0, margin + |a - p|^2 - |a - n|^2)`, averaged
    over the pairs with `positive_mask[a, p]` and `negative_mask[a, n]`. An
    anchor with no valid pair adds 0 (it still counts in the mean over
    anchors, as a row with no negative does in the sampled form).

    Args:
        anchor: `[A, K]` continuous codes.
        items: `[N, K]` continuous codes the positives and negatives come from.
        positive_mask, negative_mask: bool `[A, N]`.
        margin: float, in squared-distance units (4 per bit on +/-1 codes).
    """
    distance = pairwise_squared_distance(anchor, items)
    hinge = ops.relu(margin + distance[:, :, None] - distance[:, None, :])  # [A, P, N]
    valid = ops.cast(ops.logical_and(positive_mask[:, :, None], negative_mask[:, None, :]), hinge.dtype)
    count = ops.sum(valid, axis=(1, 2))
    per_anchor = ops.sum(hinge * valid, axis=(1, 2)) / ops.maximum(count, 1.0)
    return ops.mean(per_anchor)


def quantization_loss(codes):
    """`mean(| |u| - 1 |^2)` summed over bits: how far codes are from +/-1."""
    return ops.mean(ops.sum(ops.square(ops.abs(codes) - 1.0), axis=-1))
