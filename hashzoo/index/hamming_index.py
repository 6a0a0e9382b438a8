"""`HammingIndex`: exact k-nearest-neighbour and range search over binary codes.

Exhaustive search: every query is compared with every stored
code, which at 64 bits runs near a billion codes per second per core, enough
for millions of codes. Results are in (distance, id) order: equal distances
come lowest id first, also at the top-k boundary, whichever backend runs.

Backends:

- `"faiss"`: `faiss.IndexBinaryFlat` (optional `faiss-cpu`), multi-threaded,
  with its per-distance counter selection (`use_heap=False`), which was
  1.1-1.9x faster than its heap for k = 10 over 1M codes. faiss needs whole
  bytes; packed codes are whole bytes whose padding bits are 0 in every code,
  so distances are unchanged.
- `"numpy"`: `np.bitwise_count` on the XOR of uint64 words, blocked over
  queries, and the counting-sort top-k of `hashzoo.metrics.ranking`.
- `"auto"`: faiss when it can be imported, else numpy.
"""

import numpy as np

from hashzoo.codes import as_packed
from hashzoo.metrics import faiss_knn
from hashzoo.metrics.distances import as_words, distance_dtype, distances_from_words
from hashzoo.metrics.engine import DEFAULT_MEMORY_BUDGET
from hashzoo.metrics.ranking import topk_stable
from hashzoo.utils.validation import (
    check_bits,
    check_choice,
    check_non_negative_int,
    check_positive_int,
)

BACKENDS = ("auto", "faiss", "numpy")


class HammingIndex:
    """Exact Hamming-distance search over +1/-1 or packed binary codes.

    Ids are insertion order (int64, starting at 0). `search` returns, per
    query, the k nearest codes in (distance, id) order; `range_search` returns
    every code within a radius, in the same order. A k larger than the number
    of stored codes raises a `ValueError` instead of padding the result, so the
    result is always a full `[Q, k]` block.

    Args:
        bits: code length in bits (any integer >= 1; 12, 24, 48 are fine).
        backend: `"auto"` (faiss if installed), `"faiss"` or `"numpy"`.
        memory_budget_bytes: working-set budget that sizes query blocks.

    Example:

    >>> import numpy as np
    >>> from hashzoo.index import HammingIndex
    >>> index = HammingIndex(bits=4, backend="numpy")
    >>> index.add(np.array([[1, 1, 1, 1], [1, 1, -1, -1], [1, 1, 1, -1], [-1, -1, -1, -1]]))
    >>> len(index)
    4
    >>> distances, ids = index.search(np.array([[1, 1, 1, 1]]), k=3)
    >>> distances
    array([[0, 1, 2]], dtype=int32)
    >>> ids
    array([[0, 2, 1]])
    >>> index.range_search(np.array([[1, 1, -1, 1]]), radius=1)
    [(array([1, 1], dtype=int32), array([0, 1]))]
    """

    def __init__(self, bits, backend="auto", memory_budget_bytes=DEFAULT_MEMORY_BUDGET):
        self._bits = check_bits(bits)
        check_choice(backend, "backend", BACKENDS)
        self._memory_budget = check_positive_int(memory_budget_bytes, "memory_budget_bytes")
        if backend == "auto":
            backend = "faiss" if faiss_knn.faiss_available() else "numpy"
        elif backend == "faiss" and not faiss_knn.faiss_available():
            raise ImportError("backend='faiss' needs faiss: `pip install faiss-cpu`, or use 'numpy'.")
        self._backend = backend
        self._chunks = []
        self._size = 0
        self._words = None
        self._faiss = None
        if backend == "faiss":
            self._faiss = faiss_knn.binary_flat_index(np.zeros((0, (self._bits + 7) // 8), np.uint8))

    @property
    def bits(self):
        """Code length in bits."""
        return self._bits

    @property
    def backend(self):
        """The backend in use: `"faiss"` or `"numpy"`."""
        return self._backend

    def __len__(self):
        return self._size

    def add(self, codes):
        """Appends codes; their ids continue from the current size.

        Args:
            codes: +1/-1 codes `[n, bits]` (any int or float dtype) or uint8
                packed codes `[n, ceil(bits / 8)]`.

        Raises:
            ValueError: when the codes are malformed or have another length.
        """
        packed, _ = as_packed(codes, self._bits, "codes")
        if len(packed) == 0:
            return
        if self._faiss is not None:
            self._faiss.add(np.ascontiguousarray(packed))
        else:
            self._chunks.append(packed)
            self._words = None
        self._size += len(packed)

    def _database_words(self):
        if self._words is None:
            packed = np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
            self._chunks = [packed]
            self._words = as_words(packed)
        return self._words

    def _queries(self, queries):
        if self._size == 0:
            raise ValueError("the index is empty; call `add(codes)` before searching.")
        packed, _ = as_packed(queries, self._bits, "queries")
        if len(packed) == 0:
            raise ValueError(f"`queries` is empty (shape {packed.shape}); pass at least one code.")
        return packed

    def _block_size(self, per_query):
        return max(1, self._memory_budget // max(1, per_query))

    def search(self, queries, k):
        """The k nearest stored codes of each query.

        Args:
            queries: +1/-1 codes `[Q, bits]` or uint8 packed codes.
            k: number of neighbours, 1 <= k <= len(self).

        Returns:
            `(distances, ids)`: int32 `[Q, k]` Hamming distances and int64
            `[Q, k]` ids, sorted by (distance, id).

        Raises:
            ValueError: for k < 1, k > len(self), an empty index or bad codes.
        """
        k = check_positive_int(k, "k")
        packed = self._queries(queries)
        if k > self._size:
            raise ValueError(
                f"k={k} is larger than the index ({self._size} codes); "
                f"use k <= {self._size}."
            )
        num_queries = len(packed)
        distances = np.empty((num_queries, k), dtype=np.int32)
        ids = np.empty((num_queries, k), dtype=np.int64)
        if self._faiss is not None:
            per_query = faiss_knn.mc_bytes_per_query(packed.shape[1], k) + 12 * k
            step = self._block_size(per_query)
            for start in range(0, num_queries, step):
                rows = slice(start, start + step)
                distances[rows], ids[rows] = faiss_knn.faiss_topk(self._faiss, packed[rows], k)
            return distances, ids
        words = self._database_words()
        dtype = distance_dtype(self._bits)
        step = self._block_size(self._size * (dtype.itemsize + 10) + 48 * k)
        query_words = as_words(packed)
        for start in range(0, num_queries, step):
            rows = slice(start, min(start + step, num_queries))
            block = np.empty((rows.stop - start, self._size), dtype=dtype)
            distances_from_words(query_words[rows], words, block)
            ids[rows], top = topk_stable(block, k, self._bits + 1)
            distances[rows] = top
        return distances, ids

    def range_search(self, queries, radius):
        """Every stored code within a Hamming radius of each query.

        Args:
            queries: +1/-1 codes `[Q, bits]` or uint8 packed codes.
            radius: integer >= 0; codes with distance <= radius are returned.

        Returns:
            A list of Q pairs `(distances int32 [m], ids int64 [m])`, each
            sorted by (distance, id); m may be 0.

        Raises:
            ValueError: for radius < 0, an empty index or bad codes.
        """
        radius = check_non_negative_int(radius, "radius")
        packed = self._queries(queries)
        if self._faiss is not None:
            # faiss keeps distances strictly below its radius argument.
            limits, dists, ids = self._faiss.range_search(
                np.ascontiguousarray(packed), min(radius, self._bits) + 1
            )
            limits = limits.astype(np.int64)
            rows = np.repeat(np.arange(len(packed)), np.diff(limits))
            order = np.lexsort((ids, dists, rows))
            dists, ids = dists[order].astype(np.int32), ids[order].astype(np.int64)
            return [
                (dists[limits[i] : limits[i + 1]], ids[limits[i] : limits[i + 1]])
                for i in range(len(packed))
            ]
        words = self._database_words()
        dtype = distance_dtype(self._bits)
        step = self._block_size(self._size * (dtype.itemsize + 17))
        query_words = as_words(packed)
        results = []
        for start in range(0, len(packed), step):
            rows = slice(start, min(start + step, len(packed)))
            block = np.empty((rows.stop - start, self._size), dtype=dtype)
            distances_from_words(query_words[rows], words, block)
            flat = np.flatnonzero(block <= min(radius, self._bits))
            row_of = flat // self._size
            dists = block.ravel()[flat]
            # Stable sort by (row, distance) keeps id order inside each group.
            order = np.lexsort((dists, row_of))
            flat, row_of, dists = flat[order], row_of[order], dists[order]
            limits = np.searchsorted(row_of, np.arange(rows.stop - start + 1))
            ids = flat - row_of * self._size
            for i in range(rows.stop - start):
                results.append(
                    (
                        dists[limits[i] : limits[i + 1]].astype(np.int32),
                        ids[limits[i] : limits[i + 1]].astype(np.int64),
                    )
                )
        return results
