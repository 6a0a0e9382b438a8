"""Input checks shared by the public API.

Every check raises a `ValueError` that names the bad value and says what is
allowed, so a user never has to read a traceback into the library to learn
what went wrong.
"""

import numbers

import numpy as np


def check_positive_int(value, name):
    """Returns `value` as an int, or raises if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"`{name}` must be a positive integer, got {value!r} "
            f"(type {type(value).__name__})."
        )
    if value < 1:
        raise ValueError(f"`{name}` must be a positive integer (>= 1), got {value}.")
    return int(value)


def check_bits(bits):
    """Validates a code length in bits (an integer >= 1)."""
    return check_positive_int(bits, "bits")


def check_images(images, name="images"):
    """Checks an image batch `[N, H, W, C]` with C in {1, 3} and a numeric dtype.

    Returns the input as a numpy array (no copy when it already is one).
    """
    array = np.asarray(images)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(
            f"`{name}` must hold numbers (uint8 or float pixels in [0, 255]), "
            f"got dtype {array.dtype}."
        )
    if array.ndim != 4:
        raise ValueError(
            f"`{name}` must have rank 4 `[N, H, W, C]`, got rank {array.ndim} "
            f"with shape {array.shape}."
        )
    if array.shape[-1] not in (1, 3):
        raise ValueError(
            f"`{name}` must have 1 (grey) or 3 (RGB) channels in the last axis, "
            f"got {array.shape[-1]} (shape {array.shape})."
        )
    if array.shape[0] == 0:
        raise ValueError(f"`{name}` is empty (shape {array.shape}); pass at least one image.")
    if array.shape[1] < 1 or array.shape[2] < 1:
        raise ValueError(f"`{name}` has an empty spatial size: shape {array.shape}.")
    return array


def check_labels(labels, num_items, name="labels"):
    """Checks class ids `[N]` or multi-hot labels `[N, C]` against `num_items`.

    Returns the labels as a numpy array: int64 class ids, or bool multi-hot.
    """
    array = np.asarray(labels)
    if array.ndim not in (1, 2):
        raise ValueError(
            f"`{name}` must be class ids `[N]` or multi-hot `[N, C]`, got shape {array.shape}."
        )
    if array.shape[0] != num_items:
        raise ValueError(
            f"`{name}` has {array.shape[0]} rows but there are {num_items} items; "
            "each item needs exactly one label row."
        )
    if array.ndim == 1:
        if not np.issubdtype(array.dtype, np.integer):
            if np.issubdtype(array.dtype, np.floating) and np.all(np.mod(array, 1) == 0):
                array = array.astype(np.int64)
            else:
                raise ValueError(f"`{name}` class ids must be integers, got dtype {array.dtype}.")
        if array.size and array.min() < 0:
            raise ValueError(f"`{name}` class ids must be >= 0, got {int(array.min())}.")
        return array.astype(np.int64, copy=False)
    if array.dtype != bool:
        values = np.unique(array)
        if not np.all(np.isin(values, (0, 1))):
            raise ValueError(
                f"multi-hot `{name}` must hold only 0 and 1, got values {values[:8].tolist()}."
            )
        array = array.astype(bool)
    return array


def check_choice(value, name, allowed):
    """Raises unless `value` is one of `allowed`."""
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {sorted(allowed)}, got {value!r}.")
    return value


def check_non_negative_int(value, name):
    """Returns `value` as an int, or raises if it is not an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"`{name}` must be a non-negative integer, got {value!r} "
            f"(type {type(value).__name__})."
        )
    if value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer (>= 0), got {value}.")
    return int(value)
