"""CoopHash's stability guards and global-batch helpers (docs/coophash.md, "Stability").

- `bounded_log_std`: a soft clamp on the inference head's log-std, so
  `exp(log_std)` and the KL term stay finite whatever the trunk outputs.
- `clip_gradients`: clip a step's gradients by their global norm, taken over
  the global batch (all replicas), so a clipped step on N replicas is the
  clipped step one device takes.
- `clip_per_image`: clip each image's Langevin gradient on its own, so the
  chains stay independent.
- `global_batch` / `local_rows`: draw anything that pairs batch items
  (in-batch triplets, label shuffles) over the global batch, then keep this
  replica's rows, as `hashzoo.distribute` does for noise.
"""

import math

import tensorflow as tf

from hashzoo import distribute


def check_log_std_bounds(bounds):
    """`(low, high)` as a float tuple with low < high, or None (unbounded); else a ValueError."""
    if bounds is None:
        return None
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"`log_std_bounds` must be a pair (low, high) of numbers or None, got {bounds!r}.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"`log_std_bounds` must be finite with low < high, got {bounds!r}.")
    return (low, high)


def check_clip(value, name):
    """A positive finite float, or None (no clipping); else a ValueError naming `name`."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a positive number or None, got {value!r}.") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be a positive finite number or None (no clipping), got {value!r}.")
    return value


def bounded_log_std(log_std, bounds):
    """Soft-clamp `log_std` into the open interval `bounds = (low, high)`.

    `low + (high - low) * sigmoid(4 * (log_std - mid) / (high - low))`, with
    `mid` the interval's centre: smooth, slope 1 at the centre, never outside
    the bounds. `bounds=None` returns `log_std` unchanged (the parent form).
    """
    if bounds is None:
        return log_std
    low, high = bounds
    span = high - low
    return low + span * tf.sigmoid(4.0 * (log_std - 0.5 * (low + high)) / span)


def clip_gradients(gradients, variables, clipnorm):
    """Gradients of this replica to hand to the optimizer, and the global norm before clipping.

    A `None` gradient (a variable the loss does not reach) counts as zeros.

    The optimizer sums the replicas' gradients. To clip the *global* gradient
    (what one device would see), the replicas' gradients are summed here
    first, clipped to `clipnorm` by their global norm, and divided by the
    replica count again, so the optimizer's sum gives the clipped global
    gradient back. `clipnorm=None` only measures the norm. One replica: a
    plain `tf.clip_by_global_norm`.
    """
    gradients = [tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(gradients, variables)]
    replicas = distribute.num_replicas()
    if replicas > 1:
        gradients = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    norm = tf.linalg.global_norm(gradients)
    if clipnorm is not None:
        gradients, _ = tf.clip_by_global_norm(gradients, clipnorm, use_norm=norm)
    if replicas > 1:
        gradients = [g / tf.cast(replicas, g.dtype) for g in gradients]
    return gradients, norm


def clip_per_image(gradient, rms_limit):
    """Scale each image's gradient so its root-mean-square over pixels is at most `rms_limit`.

    Per image (axis 0 is the batch), so clipping one chain never changes
    another. `rms_limit=None` returns `gradient` unchanged.
    """
    if rms_limit is None:
        return gradient
    axes = list(range(1, len(gradient.shape)))
    rms = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=axes, keepdims=True))
    return gradient * tf.minimum(1.0, rms_limit / tf.maximum(rms, 1e-12))


def global_batch(value):
    """`(value over the global batch, index of this replica's first row in it)`.

    Rows are in replica order (the order `fit` splits the global batch in);
    the start index counts the actual rows of the replicas before this one,
    so uneven last batches work too. One replica: `(value, 0)`.
    """
    if distribute.num_replicas() == 1:
        return value, tf.constant(0, tf.int32)
    sizes = distribute.gather_replicas(tf.shape(value, out_type=tf.int32)[:1])
    start = tf.cumsum(sizes, exclusive=True)[distribute.replica_id()]
    return distribute.gather_replicas(value), start


def local_rows(value, start, size):
    """Rows `start .. start + size` of a global-batch tensor (this replica's rows)."""
    return value[start : start + size]


def pixel_std(images):
    """Mean over images of each image's pixel standard deviation (a scalar)."""
    flat = tf.reshape(images, [tf.shape(images)[0], -1])
    return tf.reduce_mean(tf.math.reduce_std(flat, axis=1))


def sample_std(images):
    """Standard deviation across the global batch, per pixel, averaged over pixels (a scalar).

    The same value on every replica and on one device.
    """
    everyone, _ = global_batch(images)
    return tf.reduce_mean(tf.math.reduce_std(everyone, axis=0))
