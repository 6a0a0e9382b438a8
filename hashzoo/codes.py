"""Binary codes: binarisation, bit packing and validation (numpy).

Conventions (docs/evaluation.md, "Codes and distances"):
- A code is a vector of +1/-1; `binarize` gives +1 where z >= 0, never 0.
- Packed codes are uint8 `[N, ceil(bits / 8)]`: bit j goes to byte j // 8, most
  significant bit first, +1 is stored as 1, and the unused low bits of the
  last byte are 0 on every code, so Hamming distances are unchanged.

Example:

>>> import numpy as np
>>> from hashzoo import codes
>>> c = codes.binarize(np.array([[0.3, -0.2, 0.0]]))
>>> c
array([[ 1, -1,  1]], dtype=int8)
>>> codes.pack_codes(c)
array([[160]], dtype=uint8)
>>> codes.unpack_codes(codes.pack_codes(c), bits=3)
array([[ 1, -1,  1]], dtype=int8)
"""

import numpy as np

from hashzoo.utils.validation import check_bits


def num_bytes(bits):
    """Bytes per packed code of `bits` bits."""
    return (check_bits(bits) + 7) // 8


def binarize(values):
    """Maps real values to int8 codes: +1 where value >= 0, else -1."""
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values to binarize must have shape [N, bits], got {values.shape}.")
    return np.where(values >= 0, 1, -1).astype(np.int8)


def check_codes(codes, name="codes"):
    """Checks a `[N, bits]` array of +1/-1 values and returns it as int8."""
    array = np.asarray(codes)
    if array.ndim != 2:
        raise ValueError(f"`{name}` must have shape [N, bits], got shape {array.shape}.")
    if array.shape[1] < 1:
        raise ValueError(f"`{name}` must have at least 1 bit, got shape {array.shape}.")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"`{name}` must be numeric +1/-1 values, got dtype {array.dtype}.")
    bad = (array != 1) & (array != -1)
    if bad.any():
        values = np.unique(array[bad])[:5].tolist()
        raise ValueError(
            f"`{name}` must hold only +1 and -1, found {values}. Use "
            "`hashzoo.codes.binarize` to turn real values into codes."
        )
    return array.astype(np.int8, copy=False)


def pack_codes(codes):
    """Packs +1/-1 codes `[N, bits]` into uint8 `[N, ceil(bits / 8)]`."""
    codes = check_codes(codes)
    return np.packbits(codes > 0, axis=1, bitorder="big")


def check_packed(packed, bits, name="packed"):
    """Checks uint8 packed codes `[N, ceil(bits / 8)]` for a given `bits`."""
    width = num_bytes(bits)
    array = np.asarray(packed)
    if array.dtype != np.uint8:
        raise ValueError(f"`{name}` must be uint8 packed codes, got dtype {array.dtype}.")
    if array.ndim != 2 or array.shape[1] != width:
        raise ValueError(
            f"`{name}` for {bits}-bit codes must have shape [N, {width}], got {array.shape}."
        )
    pad = 8 * width - bits
    if pad and np.any(array[:, -1] & np.uint8((1 << pad) - 1)):
        raise ValueError(
            f"`{name}`: the {pad} padding bit(s) of the last byte must be 0 for {bits}-bit codes."
        )
    return array


def unpack_codes(packed, bits):
    """Inverse of `pack_codes`: uint8 `[N, ceil(bits / 8)]` to int8 +1/-1 `[N, bits]`."""
    packed = check_packed(packed, bits)
    bits01 = np.unpackbits(packed, axis=1, count=bits, bitorder="big")
    return (bits01.astype(np.int8) * 2 - 1).astype(np.int8)


def as_packed(codes, bits=None, name="codes"):
    """Accepts +1/-1 codes or uint8 packed codes; returns `(packed, bits)`.

    uint8 input is read as packed codes and needs `bits` unless every bit of
    every byte is used (then bits = 8 * width). Anything else must be +1/-1.
    """
    array = np.asarray(codes)
    if array.dtype == np.uint8:
        if array.ndim != 2:
            raise ValueError(f"packed `{name}` must have shape [N, bytes], got {array.shape}.")
        bits = 8 * array.shape[1] if bits is None else check_bits(bits)
        return check_packed(array, bits, name), bits
    array = check_codes(array, name)
    if bits is not None and check_bits(bits) != array.shape[1]:
        raise ValueError(f"`{name}` has {array.shape[1]} bits but bits={bits} was given.")
    return pack_codes(array), array.shape[1]
