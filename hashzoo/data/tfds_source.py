"""Datasets prepared with TensorFlow Datasets, read without downloading.

For users who already ran `tfds build cifar10 --data_dir D` (or
`tfds.builder(name, data_dir=D).download_and_prepare()`). hashzoo never asks
TFDS to download: a dataset that is not prepared in `data_dir` is an error that
says how to prepare it.

TFDS stores examples in its own (shuffled, deterministic) order, not in the
order of the original files, so a seeded protocol split of TFDS CIFAR-10 gives
other index lists, and another sha256, than the same protocol on the python
pickles. Results record the sha256, so the two never get mixed up.
"""

import difflib
import pathlib

import numpy as np

from hashzoo.data import dataset as dataset_lib


def _builder(name, data_dir):
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=str(data_dir), try_gcs=False)
    except tfds.core.registered.DatasetNotFoundError:
        registered = tfds.list_builders(with_community_datasets=False)
        close = difflib.get_close_matches(name.split(":")[0], registered, n=5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"TFDS has no dataset named {name!r}: it is neither registered nor "
            f"prepared in {data_dir}.{hint} Names look like 'cifar10' or "
            "'cifar10:3.0.2'; `tfds.list_builders()` lists the registered ones."
        ) from None
    if not builder.is_prepared():
        raise ValueError(
            f"TFDS dataset {name!r} is not prepared in {data_dir} (looked for "
            f"{builder.data_path}). hashzoo never downloads; prepare it once with "
            f"`tfds build {name} --data_dir {data_dir}` or pass the folder you "
            "prepared it in as `data_dir`."
        )
    return builder


def _all_splits(builder):
    """Every split of `builder`, train first, then test, then the rest by name: `"train+test+..."`."""
    names = sorted(builder.info.splits.keys(), key=lambda n: ({"train": 0, "test": 1}.get(n, 2), n))
    return "+".join(names)


def load_tfds(name, data_dir, split=None, image_key="image", label_key="label"):
    """Loads a prepared TFDS image-classification dataset into memory.

    Args:
        name: TFDS name, optionally with config and version (`"cifar10"`,
            `"cifar10:3.0.2"`).
        data_dir: the folder the dataset was prepared in.
        split: TFDS split expression. The default pools every split the
            dataset has, train first and then test (`"train+test"` for
            CIFAR-10, as its protocols expect; `"train"` for a dataset with
            only that split).
        image_key: feature holding the images (a `tfds.features.Image`), all
            of one size.
        label_key: feature holding the class (a `tfds.features.ClassLabel`).

    Returns:
        An `ImageDataset` with uint8 images, int64 class ids and the
        `ClassLabel` names; `source` reads `tfds:<name>:<split>@<data_dir>`.

    Raises:
        ValueError: when `data_dir` does not exist, the dataset is unknown or
            not prepared there, the split is unknown, the features are not an
            image plus a class label, or the images differ in size.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    folder = pathlib.Path(data_dir).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(
            f"TFDS data_dir {folder} does not exist; pass the folder the dataset "
            f"was prepared in (`tfds build {name} --data_dir <folder>`)."
        )
    builder = _builder(name, folder)
    if split is None:
        split = _all_splits(builder)
    features = builder.info.features
    image_feature = features[image_key] if image_key in features else None
    label_feature = features[label_key] if label_key in features else None
    if not isinstance(image_feature, tfds.features.Image) or not isinstance(
        label_feature, tfds.features.ClassLabel
    ):
        raise ValueError(
            f"TFDS dataset {name!r} must have an Image feature {image_key!r} and a "
            f"ClassLabel feature {label_key!r}; it has "
            f"{ {key: type(value).__name__ for key, value in features.items()} }."
        )
    try:
        arrays = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
    except (ValueError, KeyError) as error:
        raise ValueError(
            f"cannot read split {split!r} of TFDS dataset {name!r}; its splits are "
            f"{sorted(builder.info.splits.keys())}. TFDS said: {error}"
        ) from error
    except tf.errors.OpError as error:
        raise ValueError(
            f"cannot stack the images of TFDS dataset {name!r} split {split!r} "
            f"into one array (images of different sizes?): {error}"
        ) from error
    return dataset_lib.ImageDataset(
        images=np.asarray(arrays[image_key], dtype=np.uint8),
        labels=np.asarray(arrays[label_key], dtype=np.int64),
        class_names=tuple(label_feature.names),
        name=builder.name,
        source=f"tfds:{name}:{split}@{folder}",
    )
