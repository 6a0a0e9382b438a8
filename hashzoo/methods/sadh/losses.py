"""SADH's loss terms (docs/sadh.md, "Losses").

Every pairwise term is a mean over all entries of an `[n, m]` matrix, the
diagonal included. Cosines use rows normalised with a small epsilon, so a
zero row has cosine 0 with everything instead of NaN.

>>> import numpy as np
>>> z = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], "float32")
>>> similar = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], "float32")
>>> round(float(margin_fixed_hinge(z, z, similar, theta=0.2)), 5)
0.08889
"""

import tensorflow as tf

EPSILON = 1e-8


def cosine_matrix(a, b):
    """`[n, m]` cosines of the rows of `a` `[n, d]` and `b` `[m, d]`."""
    a = tf.convert_to_tensor(a, tf.float32)
    b = tf.convert_to_tensor(b, tf.float32)
    a = a / (tf.norm(a, axis=-1, keepdims=True) + EPSILON)
    b = b / (tf.norm(b, axis=-1, keepdims=True) + EPSILON)
    return tf.matmul(a, b, transpose_b=True)


def shares_label(labels_a, labels_b):
    """`[n, m]` float 1 where two label vectors share at least one label, else 0."""
    labels_a = tf.convert_to_tensor(labels_a, tf.float32)
    labels_b = tf.convert_to_tensor(labels_b, tf.float32)
    return tf.cast(tf.matmul(labels_a, labels_b, transpose_b=True) > 0, tf.float32)


def scalable_margins(targets_a, targets_b):
    """The margin-scalable targets mu = max(0, cos(t_i, t_j)) in [0, 1], with no gradient.

    `targets_*` are LabNet outputs of the same kind (features or codes) for
    the two sides; identical label sets give mu = 1.
    """
    cosines = cosine_matrix(tf.stop_gradient(targets_a), tf.stop_gradient(targets_b))
    return tf.clip_by_value(cosines, 0.0, 1.0)


def margin_fixed_hinge(a, b, similar, theta=0.2):
    """LabNet's hinge: similar pairs pushed above cosine theta, dissimilar ones below -theta.

    `mean{ s [theta - cos]_+ + (1 - s) [theta + cos]_+ }` over `[n, m]`.
    """
    cosines = cosine_matrix(a, b)
    similar = tf.convert_to_tensor(similar, tf.float32)
    return tf.reduce_mean(similar * tf.nn.relu(theta - cosines) + (1.0 - similar) * tf.nn.relu(theta + cosines))


def margin_scalable_hinge(a, b, margins, similar):
    """The image network's hinge: a similar pair's cosine at least mu, a dissimilar one's at most mu.

    `mean{ s [mu - cos]_+ + (1 - s) [cos - mu]_+ }` over `[n, m]`; with mu = 1
    for every similar pair (`margins=similar`) it is the margin-fixed variant.
    """
    cosines = cosine_matrix(a, b)
    similar = tf.convert_to_tensor(similar, tf.float32)
    margins = tf.convert_to_tensor(margins, tf.float32)
    return tf.reduce_mean(similar * tf.nn.relu(margins - cosines) + (1.0 - similar) * tf.nn.relu(cosines - margins))


def mean_quantization(codes):
    """`mean_ik (h_ik - bin(h_ik))^2` with bin(z) = +1 for z >= 0, else -1 (equals `mean((|h| - 1)^2)`)."""
    codes = tf.convert_to_tensor(codes, tf.float32)
    return tf.reduce_mean(tf.square(tf.abs(codes) - 1.0))


def label_regression_loss(labels, scores, global_batch_size):
    """LabNet's class term `(2 / c) sum_i sum_k (y_ik - c_ik)^2` over the global batch.

    Written as `global_batch_size * (2 / c) * mean_i sum_k (...)` over this
    replica's rows, so that N replicas, each dividing by N before the
    gradient, add up to the one-device sum.
    """
    labels = tf.convert_to_tensor(labels, tf.float32)
    num_classes = tf.cast(tf.shape(labels)[-1], tf.float32)
    per_row = tf.reduce_sum(tf.square(labels - scores), axis=-1)
    return tf.cast(global_batch_size, tf.float32) * (2.0 / num_classes) * tf.reduce_mean(per_row)


def multi_label_cross_entropy(labels, logits):
    """Binary cross-entropy with logits, mean over the batch and the classes."""
    labels = tf.convert_to_tensor(labels, tf.float32)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def l2_penalty(variables, weight_decay):
    """`0.5 * weight_decay * sum ||w||^2`: the coupled weight decay added to the differentiated loss."""
    if not weight_decay or not variables:
        return tf.constant(0.0)
    return 0.5 * weight_decay * tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])


__all__ = [
    "cosine_matrix", "l2_penalty", "label_regression_loss", "margin_fixed_hinge", "margin_scalable_hinge",
    "mean_quantization", "multi_label_cross_entropy", "scalable_margins", "shares_label",
]
