"""Hamming distances between packed codes, computed with numpy.

See docs/evaluation.md, "Codes and distances" and "How it is computed".

d(q, x) = popcount(q XOR x). Packed codes (uint8 `[N, ceil(bits / 8)]`, see
`hashzoo.codes`) are padded with zero bytes to a multiple of 8 bytes and viewed
as uint64 words, so one XOR and one `np.bitwise_count` handle 64 bits at a time;
the padding is 0 in every code and adds nothing to any distance. Distances are
uint8 for codes of up to 255 bits and uint16 above, so a block of distances
costs one or two bytes per (query, item) pair, never a float.
"""

import numpy as np

from hashzoo.utils.validation import check_bits

# Bytes of the uint64 XOR scratch block. A few MiB keeps it in cache: measured
# 2x faster than one XOR over a whole [queries, N] block at N = 128,495.
_SCRATCH_BYTES = 2 * 2**20


def distance_dtype(bits):
    """The smallest unsigned integer dtype that holds distances 0..bits.

    Args:
        bits: code length in bits.

    Returns:
        `np.uint8` for bits <= 255, else `np.uint16`.
    """
    return np.dtype(np.uint8) if bits <= 255 else np.dtype(np.uint16)


def as_words(packed):
    """Views packed codes as uint64 words, zero-padding each code to 8-byte multiples.

    Args:
        packed: uint8 array `[N, num_bytes]`.

    Returns:
        A C-contiguous uint64 array `[N, ceil(num_bytes / 8)]`.
    """
    packed = np.asarray(packed)
    width = packed.shape[1]
    words = -(-width // 8)
    if width != 8 * words:
        padded = np.zeros((packed.shape[0], 8 * words), dtype=np.uint8)
        padded[:, :width] = packed
        packed = padded
    return np.ascontiguousarray(packed).view(np.uint64).reshape(packed.shape[0], words)


def distances_from_words(query_words, db_words, out):
    """Fills `out[i, j]` with the Hamming distance of query i and item j.

    Args:
        query_words: uint64 `[q, W]` from `as_words`.
        db_words: uint64 `[N, W]` from `as_words`.
        out: uint8 or uint16 array `[q, N]`, written in place.

    Returns:
        `out`.
    """
    num_queries, num_words = query_words.shape
    num_items = db_words.shape[0]
    if num_queries == 0 or num_items == 0:
        return out
    chunk = max(256, _SCRATCH_BYTES // (8 * num_queries))
    scratch = np.empty((num_queries, min(chunk, num_items)), dtype=np.uint64)
    counts = None if num_words == 1 else np.empty(scratch.shape, dtype=np.uint8)
    for start in range(0, num_items, chunk):
        stop = min(start + chunk, num_items)
        xor = scratch[:, : stop - start]
        target = out[:, start:stop]
        for w in range(num_words):
            np.bitwise_xor(query_words[:, w, None], db_words[None, start:stop, w], out=xor)
            if w == 0:
                np.bitwise_count(xor, out=target, casting="unsafe")
            else:
                popcount = counts[:, : stop - start]
                np.bitwise_count(xor, out=popcount)
                np.add(target, popcount, out=target, casting="unsafe")
    return out


def hamming_distances(query_packed, db_packed, bits=None):
    """All Hamming distances between two sets of packed codes.

    This is the exhaustive numpy kernel used by the metrics and by
    `HammingIndex(backend="numpy")`; it allocates only its `[q, N]` result
    (one or two bytes per pair) and a small scratch block.

    Args:
        query_packed: uint8 packed codes `[q, num_bytes]`.
        db_packed: uint8 packed codes `[N, num_bytes]`, same width.
        bits: code length; sets the result dtype (uint8 up to 255 bits). By
            default `8 * num_bytes`; the zero padding bits never add distance.

    Returns:
        uint8 (bits <= 255) or uint16 array `[q, N]` of distances.

    Raises:
        ValueError: when the inputs are not 2-D uint8 arrays of equal width, or
            `bits` does not match that width.
    """
    query_packed = np.asarray(query_packed)
    db_packed = np.asarray(db_packed)
    for name, array in (("query_packed", query_packed), ("db_packed", db_packed)):
        if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] < 1:
            raise ValueError(
                f"`{name}` must be uint8 packed codes [N, num_bytes], got dtype "
                f"{array.dtype} and shape {array.shape}."
            )
    width = query_packed.shape[1]
    if db_packed.shape[1] != width:
        raise ValueError(
            f"`query_packed` has {width} bytes per code but `db_packed` has "
            f"{db_packed.shape[1]}; both must pack the same number of bits."
        )
    if bits is None:
        bits = 8 * width
    elif not (8 * (width - 1) < check_bits(bits) <= 8 * width):
        raise ValueError(
            f"bits={bits} does not match packed codes of {width} bytes "
            f"(allowed: {8 * (width - 1) + 1}..{8 * width})."
        )
    out = np.empty((query_packed.shape[0], db_packed.shape[0]), dtype=distance_dtype(bits))
    return distances_from_words(as_words(query_packed), as_words(db_packed), out)
