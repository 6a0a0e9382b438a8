"""`ImageDataset`: images, labels and where they came from, in memory.

Every loader in `hashzoo.data` returns this one record, so protocols, mosaics
and `tf.data` pipelines never need to know which source the pixels came from.
Pixels stay raw (uint8, 0..255); resizing and normalisation happen inside the
model (its preprocessing contract, `hashzoo.layers.Preprocessing`).
"""

import dataclasses

import numpy as np

from hashzoo.utils import validation


def _read_only(array):
    """Returns a read-only view, so a frozen record cannot be changed in place."""
    view = array.view()
    view.flags.writeable = False
    return view


@dataclasses.dataclass(frozen=True, eq=False)
class ImageDataset:
    """An in-memory image dataset with class ids or multi-hot labels.

    Args:
        images: uint8 array `[N, H, W, C]`, C = 1 (grey) or 3 (RGB), values
            0..255.
        labels: int64 class ids `[N]` in `[0, len(class_names))`, or bool
            multi-hot `[N, len(class_names)]`.
        class_names: tuple of `str`, one per class, in id order.
        name: short name of the data, e.g. `"digits"` or `"cifar10"`.
        source: where the data came from (a path, a library call, or a
            description of how it was derived), for records and errors.

    The arrays are stored as read-only views; `subset` returns a new record.
    Equality is identity (`eq=False`): comparing image arrays element-wise is
    rarely what a caller means.

    Example:

    >>> import numpy as np
    >>> ds = ImageDataset(np.zeros((2, 4, 4, 1), np.uint8), np.array([0, 1]),
    ...                   ("a", "b"), "toy", "zeros")
    >>> len(ds), ds.num_classes, ds.is_multi_label
    (2, 2, False)
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    name: str
    source: str

    def __post_init__(self):
        images = validation.check_images(self.images)
        if images.dtype != np.uint8:
            raise ValueError(
                f"`images` must be uint8 (0..255), got dtype {images.dtype}; "
                "convert with `np.clip(x, 0, 255).round().astype(np.uint8)`."
            )
        labels = validation.check_labels(self.labels, images.shape[0])
        class_names = tuple(str(name) for name in self.class_names)
        if not class_names:
            raise ValueError("`class_names` is empty; give one name per class.")
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"`class_names` has duplicates: {class_names}.")
        if labels.ndim == 1 and labels.max() >= len(class_names):
            raise ValueError(
                f"class id {int(labels.max())} is out of range for "
                f"{len(class_names)} class names {class_names}."
            )
        if labels.ndim == 2 and labels.shape[1] != len(class_names):
            raise ValueError(
                f"multi-hot labels have {labels.shape[1]} columns but there are "
                f"{len(class_names)} class names."
            )
        object.__setattr__(self, "images", _read_only(images))
        object.__setattr__(self, "labels", _read_only(labels))
        object.__setattr__(self, "class_names", class_names)
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "source", str(self.source))

    def __len__(self):
        return int(self.images.shape[0])

    def __repr__(self):
        kind = "multi-hot" if self.is_multi_label else "class ids"
        return (
            f"ImageDataset(name={self.name!r}, images={self.images.shape}, "
            f"labels={kind}, num_classes={self.num_classes}, "
            f"source={self.source!r})"
        )

    @property
    def num_classes(self):
        """Number of classes (`len(class_names)`)."""
        return len(self.class_names)

    @property
    def is_multi_label(self):
        """True for multi-hot `[N, C]` labels, False for class ids `[N]`."""
        return self.labels.ndim == 2

    def subset(self, indices):
        """Returns the items at `indices` (integers, in that order) as a new record.

        Raises:
            ValueError: when `indices` is empty, not integers, or out of range.
        """
        indices = check_indices(indices, len(self))
        return dataclasses.replace(
            self, images=self.images[indices], labels=self.labels[indices]
        )


def check_indices(indices, size, name="indices"):
    """Returns `indices` as int64 after checking they are integers in `[0, size)`."""
    array = np.asarray(indices)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D list of integers, got shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`{name}` must be integers, got dtype {array.dtype}.")
    if array.min() < 0 or array.max() >= size:
        raise ValueError(
            f"`{name}` must lie in [0, {size}), got values from "
            f"{int(array.min())} to {int(array.max())}."
        )
    return array.astype(np.int64, copy=False)
