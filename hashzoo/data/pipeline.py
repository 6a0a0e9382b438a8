"""`tf.data` input pipelines over in-memory images.

Batches carry float32 pixels in [0, 255]: the model resizes and normalises
(its preprocessing contract), so the pipeline only shuffles, batches and casts. Images stay
uint8 in memory and are cast per batch, which keeps a 60,000-image CIFAR-10
pipeline at 184 MB instead of 737 MB.
"""

import numpy as np

from hashzoo.data import dataset as dataset_lib
from hashzoo.utils import validation


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


def make_tf_dataset(images, labels=None, batch_size=32, shuffle=True, seed=None,
                    repeat=False, drop_remainder=False, one_hot=None):
    """Makes a batched, prefetched `tf.data.Dataset` from in-memory arrays.

    Args:
        images: `[N, H, W, C]` uint8 or float pixels in [0, 255], or an
            `ImageDataset` (then its labels are used and `labels` must be
            None).
        labels: optional int class ids `[N]` or multi-hot `[N, C]`.
        batch_size: items per batch.
        shuffle: shuffle the whole set, afresh every epoch.
        seed: shuffle seed; the same seed gives the same order of epochs.
        repeat: repeat forever (pass `steps_per_epoch` to `fit`).
        drop_remainder: drop the last, smaller batch (fixed batch shapes).
        one_hot: number of classes to one-hot class ids into; None keeps ids.

    Returns:
        A `tf.data.Dataset` of float32 image batches `[B, H, W, C]` in
        [0, 255], or of `(images, labels)` where labels are int64 ids `[B]`,
        float32 one-hot `[B, one_hot]`, or float32 multi-hot `[B, C]`.
        Prefetched with `tf.data.AUTOTUNE`.
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
        data = tf.data.Dataset.from_tensor_slices(images)

        def finish(batch):
            return tf.cast(batch, tf.float32)

    else:
        labels, make_labels = _label_transform(labels, images.shape[0], one_hot)
        data = tf.data.Dataset.from_tensor_slices((images, labels))

        def finish(batch, batch_labels):
            return tf.cast(batch, tf.float32), make_labels(batch_labels)

    if shuffle:
        data = data.shuffle(images.shape[0], seed=seed, reshuffle_each_iteration=True)
    if repeat:
        data = data.repeat()
    data = data.batch(batch_size, drop_remainder=drop_remainder)
    data = data.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def make_similarity_dataset(images, similarity, batch_size=32, shuffle=True, seed=None, repeat=False,
                            drop_remainder=True):
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
        batch_size, shuffle, seed, repeat, drop_remainder: as in
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
    data = tf.data.Dataset.from_tensor_slices((images, np.arange(images.shape[0], dtype=np.int64)))
    if shuffle:
        data = data.shuffle(images.shape[0], seed=seed, reshuffle_each_iteration=True)
    if repeat:
        data = data.repeat()
    data = data.batch(batch_size, drop_remainder=drop_remainder)
    data = data.map(
        lambda batch, ids: (tf.cast(batch, tf.float32), block(ids, ids)), num_parallel_calls=tf.data.AUTOTUNE
    )
    return data.prefetch(tf.data.AUTOTUNE)
