"""What every custom `train_step` needs to be correct under `tf.distribute`.

Measured facts (zoo spec §8, Keras 3.15 / TF 2.21): gradients are summed
across replicas, so a hand-written loss must be divided by the replica count
before the gradient; seeded Keras random draws are identical on every replica,
so noise seeds must fold in the replica id.
"""

import tensorflow as tf


def num_replicas():
    """Replicas in sync under the current strategy (1 without one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_id():
    """This replica's id as an int32 tensor (0 outside a replica context)."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return tf.constant(0, tf.int32)
    return tf.cast(context.replica_id_in_sync_group, tf.int32)


def scale_loss(loss):
    """`loss / num_replicas()`: differentiate this, track the unscaled loss.

    Call it inside the `GradientTape`, or the tape cannot see the division.
    """
    return loss / tf.cast(num_replicas(), loss.dtype)


def replica_seed(seed_generator):
    """A stateless-RNG seed (int32 `[2]`) that differs per replica and per call.

    Takes the next seed of a `keras.random.SeedGenerator` (so runs stay
    reproducible) and folds in the replica id (so replicas draw different
    noise). Use it with `tf.random.stateless_*`.
    """
    seed = tf.cast(seed_generator.next(), tf.int32)
    return tf.random.experimental.stateless_fold_in(seed, replica_id())


def split_seed(seed, count):
    """`count` independent int32 `[2]` seeds derived from one seed."""
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=count))
