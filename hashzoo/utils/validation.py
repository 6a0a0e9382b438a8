"""Input checks shared by the public API.

Every check raises a `ValueError` that names the bad value and says what is
allowed, so a user never has to read a traceback into the library to learn
what went wrong.
"""

import numbers
import warnings

import numpy as np

#: The documented pixel range of every image input: raw pixels, the model
#: normalises them itself (README.md, "Images are always [N, H, W, 1 or 3] pixels").
PIXEL_RANGE = (0.0, 255.0)


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


def _first_index(mask):
    """The index of the first True entry of `mask`, as a tuple of ints."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask.ravel())), mask.shape))


def check_pixels(images, name="images", stacklevel=1):
    """Checks an image batch (as `check_images`) and that its pixels are finite and in [0, 255].

    The documented input of every encoder is raw pixels in [0, 255]
    (`PIXEL_RANGE`). NaN or infinite pixels, or pixels outside the range,
    raise a `ValueError` that names how many there are, the first one and
    its index. Float images whose values all lie in [0, 1] (with some above
    0) are inside the range but almost surely scaled to [0, 1] by mistake:
    they give a `UserWarning` that says to multiply by 255, since an
    all-dark image is legal input and must not be refused.

    `stacklevel` is that of `warnings.warn` as seen from the caller of
    `check_pixels` (2 points the warning at the caller's caller).

    Returns the input as a numpy array (no copy when it already is one).
    """
    array = check_images(images, name)
    if array.dtype == np.uint8:
        return array
    low, high = PIXEL_RANGE
    # min/max propagate NaN and reach any infinity, so one pass settles the common case.
    smallest, largest = array.min(), array.max()
    if np.isfinite(smallest) and np.isfinite(largest) and low <= smallest and largest <= high:
        if np.issubdtype(array.dtype, np.floating) and 0.0 < largest <= 1.0:
            warnings.warn(
                f"`{name}` holds float pixels in [0, {float(largest):g}] only; encoders take raw pixels in "
                "[0, 255] and normalise them themselves. If the images were scaled to [0, 1], multiply "
                "them by 255 first (their codes change otherwise).",
                UserWarning,
                stacklevel=stacklevel + 1,
            )
        return array
    if np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array)
        if bad.any():
            where = _first_index(bad)
            raise ValueError(
                f"`{name}` must hold finite pixels in [0, 255]; found {int(bad.sum())} NaN or infinite "
                f"value(s), the first ({array[where]}) at index {where} of shape {array.shape}."
            )
    bad = (array < low) | (array > high)
    where = _first_index(bad)
    raise ValueError(
        f"`{name}` must hold pixels in [0, 255] (raw pixels; the model normalises them); found "
        f"{int(bad.sum())} value(s) outside, from {smallest} to {largest}, the first ({array[where]}) at "
        f"index {where} of shape {array.shape}."
    )


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


def check_non_negative_float(value, name):
    """Returns `value` as a float, or raises if it is not >= 0 (NaN included)."""
    number = float(value)
    if not number >= 0:
        raise ValueError(f"`{name}` must be >= 0, got {value}.")
    return number
