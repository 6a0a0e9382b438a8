"""`tf.data` input pipelines over in-memory images.

Batches carry float32 pixels in [0, 255]: the model resizes and normalises
(its preprocessing contract), so the pipeline only shuffles, batches and casts. Images stay
uint8 in memory and are cast per batch, which keeps a 60,000-image CIFAR-10
pipeline at 184 MB instead of 737 MB.

The order is stateless: the pipeline draws batches of item indices and
gathers their images. Pass `p` over the set (one shuffled permutation, cut
into batches) is `stateless_shuffle(range(N), seed=[seed, p])`, so it depends
on the seed and `p` only, never on how often the dataset was iterated. The
passes 0, 1, 2, ... make one endless stream of batches, and epoch `e` of
`steps` batches is the stream's batches `e * steps` to `(e + 1) * steps`
(with the default `steps`, exactly pass `e`). A training run resumed at
epoch `e` therefore reads the batches an uninterrupted run read
(docs/zoo.md, "Training runs").
"""

import numpy as np

from hashzoo.data import dataset as dataset_lib
from hashzoo.utils import validation

#: Epoch numbers drawn for a pipeline without an `epoch` lie below this.
_DRAWN_EPOCHS = 2**31


def _check_pixels(images):
    images = validation.check_images(images)
    if np.issubdtype(images.dtype, np.floating):
        low, high = float(images.min()), float(images.max())
        if not (0.0 <= low and high <= 255.0):
            raise ValueError(
                f"float `images` must lie in [0, 255] (raw pixels; the model "
                f"normalises), got values from {low} to {high}."
            )
        return images.astype(np.float32, copy=False)
    if images.dtype != np.uint8:
        if images.min() < 0 or images.max() > 255:
            raise ValueError(
                f"integer `images` must lie in 0..255, got {images.min()}..{images.max()}."
            )
        images = images.astype(np.uint8)
    return images


def _label_transform(labels, num_items, one_hot):
    """Returns (labels to slice, per-batch function making the output labels)."""
    import tensorflow as tf

    labels = validation.check_labels(labels, num_items)
    if labels.ndim == 2:
        if one_hot is not None and one_hot != labels.shape[1]:
            raise ValueError(
                f"labels are multi-hot with {labels.shape[1]} classes; "
                f"`one_hot={one_hot}` does not match (leave it None)."
            )
        return labels, lambda batch: tf.cast(batch, tf.float32)
    if one_hot is None:
        return labels, lambda batch: batch
    depth = validation.check_positive_int(one_hot, "one_hot")
    if labels.max() >= depth:
        raise ValueError(
            f"class id {int(labels.max())} does not fit `one_hot={depth}` classes."
        )
    return labels, lambda batch: tf.one_hot(batch, depth, dtype=tf.float32)


def batches_per_pass(num_items, batch_size, drop_remainder):
    """Batches in one pass over `num_items` items (the incomplete last one counted unless dropped)."""
    return num_items // batch_size if drop_remainder else -(-num_items // batch_size)


def pass_order(num_items, seed, pass_number, shuffle=True):
    """The item order of pass `pass_number` (int64 `[num_items]`): a function of `seed` and the pass only.

    Works eagerly and inside `tf.data` functions (`pass_number` may be a
    tensor).
    """
    import tensorflow as tf

    ids = tf.range(num_items, dtype=tf.int64)
    if not shuffle:
        return ids
    key = tf.stack([tf.constant(int(seed), tf.int64), tf.cast(pass_number, tf.int64)])
    return tf.random.experimental.stateless_shuffle(ids, seed=key)


def _index_batches(num_items, batch_size, *, shuffle, seed, repeat, drop_remainder, epoch, steps):
    """A dataset of int64 index batches: epoch `epoch` of the stream (see the module docstring), or all from it on."""
    import tensorflow as tf

    per_pass = batches_per_pass(num_items, batch_size, drop_remainder)
    if per_pass == 0:
        raise ValueError(
            f"`batch_size={batch_size}` is larger than the {num_items} items and `drop_remainder` drops the only, "
            "incomplete batch: the pipeline would be empty."
        )
    steps = per_pass if steps is None else validation.check_positive_int(steps, "steps")
    if seed is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    full = num_items // batch_size

    def one_pass(pass_number):
        ids = pass_order(num_items, seed, pass_number, shuffle)
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(ids[: full * batch_size], [full, batch_size]))
        if not drop_remainder and full < per_pass:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(ids[full * batch_size:]))
        return batches

    def from_epoch(first_epoch):
        start = tf.cast(first_epoch, tf.int64) * steps
        passes = tf.data.Dataset.range(start // per_pass, tf.int64.max)
        stream = passes.flat_map(one_pass).skip(start % per_pass)
        return stream if repeat else stream.take(steps)

    # A variable is read at each iteration; a keras.Variable wraps the tf.Variable to read.
    variable = epoch if isinstance(epoch, tf.Variable) else getattr(epoch, "value", None)
    if hasattr(epoch, "assign") and not isinstance(variable, tf.Variable):
        raise TypeError(f"`epoch` must be an int, a tf.Variable or a keras.Variable, got {type(epoch).__name__}.")
    if isinstance(variable, tf.Variable):
        epochs = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(
            lambda _: tf.cast(tf.identity(variable), tf.int64))
    elif epoch is None and not repeat:
        # A new epoch number at every iteration, drawn from the seed (as `shuffle(reshuffle_each_iteration=True)`).
        epochs = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1).map(
            lambda r: tf.math.floormod(r, _DRAWN_EPOCHS))
    else:
        if epoch is not None and (isinstance(epoch, bool) or int(epoch) != epoch or epoch < 0):
            raise ValueError(f"`epoch` must be an integer >= 0 or a variable holding one, got {epoch!r}.")
        epochs = tf.data.Dataset.from_tensors(tf.constant(0 if epoch is None else int(epoch), tf.int64))
    batches = epochs.flat_map(from_epoch)
    count = tf.data.INFINITE_CARDINALITY if repeat else steps
    return batches.apply(tf.data.experimental.assert_cardinality(count))


def make_tf_dataset(images, labels=None, batch_size=32, shuffle=True, seed=None,
                    repeat=False, drop_remainder=False, one_hot=None, epoch=None, steps=None):
    """Makes a batched, prefetched `tf.data.Dataset` from in-memory arrays.

    Args:
        images: `[N, H, W, C]` uint8 or float pixels in [0, 255], or an
            `ImageDataset` (then its labels are used and `labels` must be
            None).
        labels: optional int class ids `[N]` or multi-hot `[N, C]`.
        batch_size: items per batch.
        shuffle: shuffle the whole set, afresh every pass.
        seed: shuffle seed; pass `p`'s order is a function of `(seed, p)`
            only. None draws one (from NumPy's global generator).
        repeat: yield the endless stream of passes (pass `steps_per_epoch`
            to `fit`) instead of one epoch per iteration.
        drop_remainder: drop the last, smaller batch of every pass (fixed
            batch shapes).
        one_hot: number of classes to one-hot class ids into; None keeps ids.
        epoch: which epoch to yield (or, with `repeat`, to start the stream
            at): an int, or an int64 `tf.Variable` read when each iteration
            starts (a `fit` callback sets it at each epoch's beginning, so
            every epoch reads its own batches however often `fit` re-iterates
            the dataset). None: with `repeat` the stream starts at epoch 0;
            without, every iteration draws a new epoch number from the seed
            (the order of the k-th iteration then depends on k, as with
            `shuffle(reshuffle_each_iteration=True)`).
        steps: batches per epoch; None is one pass. Epoch `e` is the
            stream's batches `e * steps` to `(e + 1) * steps`.

    Returns:
        A `tf.data.Dataset` of float32 image batches `[B, H, W, C]` in
        [0, 255], or of `(images, labels)` where labels are int64 ids `[B]`,
        float32 one-hot `[B, one_hot]`, or float32 multi-hot `[B, C]`.
        Prefetched with `tf.data.AUTOTUNE`; its cardinality is the epoch's
        batch count (infinite with `repeat`).
    """
    import tensorflow as tf

    if isinstance(images, dataset_lib.ImageDataset):
        if labels is not None:
            raise ValueError("pass either an ImageDataset or `labels`, not both.")
        images, labels = images.images, images.labels
    images = _check_pixels(images)
    batch_size = validation.check_positive_int(batch_size, "batch_size")

    if labels is None:
        if one_hot is not None:
            raise ValueError(f"`one_hot={one_hot}` needs `labels`; none were given.")
        make_labels = None
    else:
        labels, make_labels = _label_transform(labels, images.shape[0], one_hot)
    indices = _index_batches(images.shape[0], batch_size, shuffle=shuffle, seed=seed, repeat=repeat,
                             drop_remainder=drop_remainder, epoch=epoch, steps=steps)
    pixels = tf.convert_to_tensor(images)
    if make_labels is None:

        def finish(ids):
            return tf.cast(tf.gather(pixels, ids), tf.float32)

    else:
        label_values = tf.convert_to_tensor(labels)

        def finish(ids):
            return tf.cast(tf.gather(pixels, ids), tf.float32), make_labels(tf.gather(label_values, ids))

    data = indices.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def make_similarity_dataset(images, similarity, batch_size=32, shuffle=True, seed=None, repeat=False,
                            drop_remainder=True, epoch=None, steps=None):
    """Batches of `(images, S_B)`: pixels and the batch's block of a similarity matrix.

    Methods that learn from an offline similarity matrix S over the training
    images (BGAN's neighbourhood structure) get, with each batch of images
    `x[idx]`, the block `S_B = S[idx][:, idx]` (`[B, B]` float32), looked up
    from the sparse matrix inside the pipeline. Under a `MirroredStrategy`,
    `fit` splits the global batch by rows, so each replica receives its own
    images and its rows of S_B against the whole global batch (`[B / R, B]`);
    the method gathers the codes of all replicas to use every column.

    Args:
        images: `[N, H, W, C]` uint8 or float pixels in [0, 255].
        similarity: an object with `num_items == N` and `tf_block_fn()`
            returning `(rows, cols) -> S[rows][:, cols]`, e.g.
            `hashzoo.similarity.SparseSimilarity`.
        batch_size, shuffle, seed, repeat, drop_remainder, epoch, steps: as in
            `make_tf_dataset` (incomplete batches are dropped by default).

    Returns:
        A prefetched `tf.data.Dataset` of `(float32 [B, H, W, C], float32 [B, B])`.
    """
    import tensorflow as tf

    images = _check_pixels(images)
    batch_size = validation.check_positive_int(batch_size, "batch_size")
    if similarity.num_items != images.shape[0]:
        raise ValueError(
            f"the similarity matrix covers {similarity.num_items} items but there are {images.shape[0]} images; "
            "build it from the same training images, in the same order."
        )
    block = similarity.tf_block_fn()
    indices = _index_batches(images.shape[0], batch_size, shuffle=shuffle, seed=seed, repeat=repeat,
                             drop_remainder=drop_remainder, epoch=epoch, steps=steps)
    pixels = tf.convert_to_tensor(images)
    data = indices.map(lambda ids: (tf.cast(tf.gather(pixels, ids), tf.float32), block(ids, ids)),
                       num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)
