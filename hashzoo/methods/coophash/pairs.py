"""Label sampling for contrastive pairs (docs/coophash.md).

Both functions are pure functions of the labels they get and a stateless
seed. `CoopHash` calls them on the labels of the *global* batch (every
replica's rows, gathered) with a seed that is the same on every replica, then
keeps its own rows, so N replicas draw exactly what one device draws.
"""

import tensorflow as tf

from hashzoo import distribute


def dissimilar_labels(labels, num_classes, seed, multi_label, shuffles=8):
    """A label vector per row that shares no label with that row's label.

    Single-label (`labels` int class ids, `[B]` or `[B, 1]`):
    `(y + randint(1, C)) mod C`, returned one-hot. Multi-label (`labels`
    multi-hot `[B, C]`): the first row of a few random in-batch shuffles with
    zero overlap; rows without one get a single random class absent from the
    anchor (hashzoo's stand-in for a table of training labels), or no label
    when every class is on. Returns float32 `[B, C]`.
    """
    if not multi_label:
        labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        offset = tf.random.stateless_uniform(tf.shape(labels), seed, minval=1, maxval=num_classes, dtype=tf.int32)
        return tf.one_hot((labels + offset) % num_classes, num_classes)

    labels = tf.cast(labels, tf.float32)
    batch = tf.shape(labels)[0]
    shuffle_seed, fallback_seed = distribute.split_seed(seed, 2)
    keys = tf.random.stateless_uniform(tf.stack([shuffles, batch]), shuffle_seed)
    candidates = tf.gather(labels, tf.argsort(keys, axis=1))  # [P, B, C]
    valid = tf.reduce_sum(candidates * labels[None], axis=-1) == 0  # [P, B]
    valid &= tf.reduce_sum(candidates, axis=-1) > 0
    first = tf.argmax(tf.cast(valid, tf.int32), axis=0)  # [B]
    chosen = tf.gather(tf.transpose(candidates, [1, 0, 2]), first, batch_dims=1)
    absent_logits = tf.where(labels > 0, -1e9, 0.0)
    noise = -tf.math.log(-tf.math.log(tf.random.stateless_uniform(tf.shape(labels), fallback_seed, 1e-6, 1.0)))
    fallback = tf.one_hot(tf.argmax(absent_logits + noise, axis=-1), tf.shape(labels)[1])
    fallback *= tf.cast(tf.reduce_any(labels <= 0, axis=-1, keepdims=True), tf.float32)
    return tf.where(tf.reduce_any(valid, axis=0)[:, None], chosen, fallback)


def in_batch_triplet_masks(labels):
    """Masks of every in-batch positive and negative per row.

    `labels` are label vectors `[B, C]`. Returns bool `(positive, negative)`,
    each `[B, B]`: positives share a label and are not the row itself (a row
    with no other same-label item has only itself); negatives share no label.
    """
    labels = tf.cast(labels, tf.float32)
    similar = tf.matmul(labels, labels, transpose_b=True) > 0
    eye = tf.eye(tf.shape(labels)[0], dtype=tf.bool)
    positive = similar & ~eye
    positive = tf.where(tf.reduce_any(positive, axis=1, keepdims=True), positive, eye)
    return positive, ~similar


def in_batch_triplets(labels, seed):
    """Indices of a random same-label positive and different-label negative per row.

    `labels` are label vectors `[B, C]` (one-hot or multi-hot). Returns
    `(positive, negative, has_negative)`, int64 `[B]`, int64 `[B]`, bool
    `[B]`, drawn uniformly from `in_batch_triplet_masks`: a row with no other
    same-label item uses itself as the positive.
    """
    positive_mask, negative_mask = in_batch_triplet_masks(labels)
    batch = tf.shape(positive_mask)[0]
    scores = tf.random.stateless_uniform(tf.stack([batch, batch]), seed)
    positive = tf.argmax(tf.where(positive_mask, scores, -1.0), axis=1)
    negative = tf.argmax(tf.where(negative_mask, scores, -1.0), axis=1)
    return positive, negative, tf.reduce_any(negative_mask, axis=1)
