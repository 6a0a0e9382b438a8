"""CIFAR-10 from the official python-pickle download.

The same reader handles the full download (60,000 images) and the real
6,102-image developer subset in `shared/data/cifar-10-batches-py`, which keeps
the official layout. Images are pooled in the official order, `data_batch_1`
.. `data_batch_5` then `test_batch`, so a seeded split gives the same index
lists on every machine (docs/evaluation.md, "How a split is drawn").

The batches are Python pickles. They are read with an unpickler that accepts
only the few numpy and codec names a CIFAR batch contains, so a stray or
tampered file cannot run code.
"""

import codecs
import pathlib
import pickle

import numpy as np

from hashzoo.data import dataset as dataset_lib
from hashzoo.data import paths

#: Official download (a tar.gz holding the `cifar-10-batches-py` folder).
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

#: Batch files in pooling order.
BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)

#: Every file the reader needs.
EXPECTED_FILES = BATCH_FILES + ("batches.meta",)

NUM_CLASSES = 10
IMAGE_SHAPE = (32, 32, 3)
ROW_BYTES = 32 * 32 * 3

# Names a CIFAR batch pickle may reference: numpy's array reconstruction
# (`numpy.core` in files written by numpy 1, `numpy._core` by numpy 2) and
# `_codecs.encode`, which Python 3 uses to write bytes in protocol 2.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a CIFAR batch needs."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR-10 batch holds only "
                "numpy arrays, lists and strings"
            ) from None


def _how_to_get():
    return (
        f"Download {CIFAR10_URL} and extract it (`tar xzf cifar-10-python.tar.gz`), "
        "then pass the `cifar-10-batches-py` folder (or the folder that holds it). "
        "hashzoo has no downloader: fetch it yourself once. Developers find the "
        f"real 6,102-image subset at {paths.cifar10_subset_dir()} "
        f"(set ${paths.DATA_ENV_VAR} to move it)."
    )


def _resolve_folder(path):
    """Accepts the batches folder itself or a folder that contains it."""
    folder = pathlib.Path(path).expanduser().resolve()
    if (folder / paths.CIFAR10_FOLDER).is_dir() and not (folder / "batches.meta").exists():
        folder = folder / paths.CIFAR10_FOLDER
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise ValueError(
            f"CIFAR-10 folder {folder} {what}. Expected a folder holding "
            f"{', '.join(EXPECTED_FILES)}. {_how_to_get()}"
        )
    missing = [name for name in EXPECTED_FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(
            f"CIFAR-10 folder {folder} is missing {', '.join(missing)}. Expected "
            f"{', '.join(EXPECTED_FILES)} (the official python-pickle layout). "
            f"{_how_to_get()}"
        )
    return folder


def _read_pickle(file):
    try:
        with open(file, "rb") as handle:
            record = _BatchUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError, KeyError) as error:
        raise ValueError(
            f"{file} is not a readable CIFAR-10 python pickle (truncated or "
            f"another format?): {type(error).__name__}: {error}. {_how_to_get()}"
        ) from error
    if not isinstance(record, dict):
        raise ValueError(
            f"{file} holds a {type(record).__name__}, expected a dict with "
            "b'data' and b'labels'."
        )
    return {key.decode("latin1") if isinstance(key, bytes) else key: value
            for key, value in record.items()}


def _read_batch(file):
    """Returns (images uint8 [n, 32, 32, 3], labels int64 [n]) from one batch."""
    record = _read_pickle(file)
    missing = [key for key in ("data", "labels") if key not in record]
    if missing:
        raise ValueError(
            f"{file} has no {' or '.join(repr(k) for k in missing)} entry; found keys "
            f"{sorted(record)}. Is this CIFAR-100 or another dataset?"
        )
    data = np.asarray(record["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW_BYTES:
        raise ValueError(
            f"{file}: 'data' must be uint8 rows of {ROW_BYTES} bytes (3x32x32, "
            f"channel-major), got dtype {data.dtype} and shape {data.shape}."
        )
    labels = np.asarray(record["labels"])
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{file}: 'labels' must be {data.shape[0]} integers (one per row of "
            f"'data'), got shape {labels.shape} and dtype {labels.dtype}."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(
            f"{file}: labels must lie in 0..{NUM_CLASSES - 1}, got "
            f"{int(labels.min())}..{int(labels.max())}."
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int64)


def _read_class_names(file):
    record = _read_pickle(file)
    names = record.get("label_names")
    if not isinstance(names, (list, tuple)) or len(names) != NUM_CLASSES:
        raise ValueError(
            f"{file}: expected 'label_names' with {NUM_CLASSES} names, got {names!r}."
        )
    return tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)


def load_cifar10(path):
    """Loads CIFAR-10 from the official python-pickle folder.

    Args:
        path: the `cifar-10-batches-py` folder, or a folder that contains it.

    Returns:
        An `ImageDataset` named `"cifar10"`: uint8 images `[N, 32, 32, 3]`
        (N = 60,000 for the full download, 6,102 for the developer subset),
        int64 labels 0..9 and the class names from `batches.meta`, pooled as
        `data_batch_1` .. `data_batch_5` then `test_batch`.

    Raises:
        ValueError: when the folder or a file is missing, a file is not a
            CIFAR-10 pickle (truncated, wrong keys, wrong shapes, labels
            outside 0..9). The message names the path, the expected files and
            how to get the data.
    """
    folder = _resolve_folder(path)
    class_names = _read_class_names(folder / "batches.meta")
    parts = [_read_batch(folder / name) for name in BATCH_FILES]
    return dataset_lib.ImageDataset(
        images=np.concatenate([images for images, _ in parts]),
        labels=np.concatenate([labels for _, labels in parts]),
        class_names=class_names,
        name="cifar10",
        source=str(folder),
    )


def is_cifar10_folder(path):
    """True when `path` looks like a CIFAR-10 pickle folder (or holds one)."""
    folder = pathlib.Path(path).expanduser()
    return (folder / "batches.meta").is_file() or (folder / paths.CIFAR10_FOLDER).is_dir()
