"""SPAH's code prior p(c): independent fair bits, each +1 or -1 with probability 1/2 (docs/spah.md, "Networks")."""

import tensorflow as tf

from hashzoo import distribute


def prior_codes(local_shape, seed):
    """float32 codes in {-1, +1} for this replica's rows of the global batch.

    Drawn for the whole global batch from one stateless step seed and sliced
    per replica (`distribute.replica_uniform_int`): replicas draw different
    codes, and N replicas draw exactly the codes one device would.

    Args:
        local_shape: `[rows on this replica, L]` (a tensor is fine).
        seed: int32 `[2]` stateless seed, the same on every replica.

    >>> import tensorflow as tf
    >>> c = prior_codes([1000, 8], tf.constant([1, 2]))
    >>> sorted(set(c.numpy().ravel().tolist())), abs(float(tf.reduce_mean(c))) < 0.05
    ([-1.0, 1.0], True)
    """
    bits = distribute.replica_uniform_int(local_shape, seed, 0, 2)
    return tf.cast(2 * bits - 1, tf.float32)
