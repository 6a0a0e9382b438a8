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
- `"milvus"`: a Milvus collection (`BIN_FLAT`), for an index that outgrows
  one machine's memory or is shared by several processes: embedded
  milvus-lite for a local file URI, a server or cluster for
  `http://host:19530` (optional `.[milvus]` extra; `milvus_store`).
- `"auto"`: faiss when it can be imported, else numpy.

Ids are the user's (`add(codes, ids=...)`), by default the insertion
positions; ties are always broken by insertion position, so every backend
returns the same ids in the same order. `save` / `HammingIndex.load` keep a
local index in one `.npz` file, written atomically (docs/search.md,
"Backends").
"""

import io

import numpy as np

from hashzoo.codes import as_packed
from hashzoo.index import milvus_store
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
from hashzoo.utils.io import atomic_open, kill_point

BACKENDS = ("auto", "faiss", "numpy", "milvus")
#: Version of the `.npz` layout written by `save`.
FILE_FORMAT = 1


class CodeIndexBase:
    """What every code index does alike: its accessors and the checks on codes going in and queries.

    `HammingIndex` (exact) and `approximate.ApproximateHammingIndex` both keep
    the code length in `_bits` and the stored count in `_size` (for Milvus,
    the collection's count). The accessors and the input checks are written
    once here, so the two indexes accept the same codes and refuse the same
    searches with the same messages.
    """

    @property
    def bits(self):
        """Code length in bits."""
        return self._bits

    def __len__(self):
        return self._size

    def _codes_to_add(self, codes, ids):
        """`(packed, ids)` of codes to append: codes of this length, ids (default positions) of the same count."""
        packed, _ = as_packed(codes, self._bits, "codes")
        return packed, check_ids(ids, len(packed), self._size)

    def _queries(self, queries, k=None):
        """The packed queries of a search; refuses an empty index, no queries, and a `k` above the size."""
        if self._size == 0:
            raise ValueError("the index is empty; call `add(codes)` before searching.")
        packed, _ = as_packed(queries, self._bits, "queries")
        if len(packed) == 0:
            raise ValueError(f"`queries` is empty (shape {packed.shape}); pass at least one code.")
        if k is not None and k > self._size:
            raise ValueError(f"k={k} is larger than the index ({self._size} codes); use k <= {self._size}.")
        return packed


class HammingIndex(CodeIndexBase):
    """Exact Hamming-distance search over +1/-1 or packed binary codes.

    Ids are the user's (int64; by default the insertion positions 0, 1, ...).
    `search` returns, per query, the k nearest codes in (distance, insertion
    position) order; `range_search` returns every code within a radius, in
    the same order. A k larger than the number of stored codes raises a
    `ValueError` instead of padding the result, so the result is always a
    full `[Q, k]` block.

    Args:
        bits: code length in bits (any integer >= 1; 12, 24, 48 are fine).
        backend: `"auto"` (faiss if installed), `"faiss"`, `"numpy"` or
            `"milvus"`.
        memory_budget_bytes: working-set budget that sizes query blocks.
        uri: Milvus only: a local file (`codes.db`, embedded milvus-lite)
            or `http://host:19530` (a server or cluster).
        collection: Milvus only: the collection name; an existing
            collection is reopened with its codes.
        consistency_level: Milvus only: `"Strong"` (default; a search sees
            every finished `add`) or a weaker level for a busy cluster.
        token: Milvus only: server credentials.
        batch_size: Milvus only: rows per insert and queries per search call.

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

    #: Every answer is the exact one (approximate indexes say False).
    exact = True

    def __init__(self, bits, backend="auto", memory_budget_bytes=DEFAULT_MEMORY_BUDGET, *, uri=None,
                 collection="hashzoo_codes", consistency_level="Strong", token=None, batch_size=1000):
        self._bits = check_bits(bits)
        check_choice(backend, "backend", BACKENDS)
        self._memory_budget = check_positive_int(memory_budget_bytes, "memory_budget_bytes")
        if backend == "auto":
            backend = "faiss" if faiss_knn.faiss_available() else "numpy"
        elif backend == "faiss" and not faiss_knn.faiss_available():
            raise ImportError("backend='faiss' needs faiss: `pip install faiss-cpu`, or use 'numpy'.")
        if (uri is not None) != (backend == "milvus"):
            raise ValueError("pass `uri` (a local .db file or http://host:19530) exactly when backend='milvus'.")
        self._backend = backend
        self._chunks = []
        self._id_chunks = []
        self._default_ids = True
        self._size = 0
        self._words = None
        self._user_ids = None
        self._faiss = None
        self._milvus = None
        if backend == "faiss":
            self._faiss = faiss_knn.binary_flat_index(np.zeros((0, (self._bits + 7) // 8), np.uint8))
        elif backend == "milvus":
            self._milvus = milvus_store.MilvusStore(
                uri, collection, (self._bits + 7) // 8, "BIN_FLAT", consistency_level=consistency_level,
                token=token, batch_size=check_positive_int(batch_size, "batch_size"),
            )
            self._size = self._milvus.size

    @property
    def backend(self):
        """The backend in use: `"faiss"`, `"numpy"` or `"milvus"`."""
        return self._backend

    def add(self, codes, ids=None):
        """Appends codes; their positions continue from the current size.

        Args:
            codes: +1/-1 codes `[n, bits]` (any int or float dtype) or uint8
                packed codes `[n, ceil(bits / 8)]`.
            ids: optional int64 ids `[n]` returned by searches; default the
                positions `len(self) ... len(self) + n - 1`.

        Raises:
            ValueError: when the codes are malformed or have another length,
                or `ids` has another length.
        """
        packed, ids = self._codes_to_add(codes, ids)
        if len(packed) == 0:
            return
        if self._milvus is not None:
            self._milvus.insert(packed, ids)
            self._size += len(packed)
            return
        if self._faiss is not None:
            self._faiss.add(np.ascontiguousarray(packed))
        self._chunks.append(packed)
        self._id_chunks.append(ids)
        self._default_ids = self._default_ids and bool(np.array_equal(ids, np.arange(self._size, self._size + len(ids))))
        self._words = None
        self._user_ids = None
        self._size += len(packed)

    def _packed(self):
        """All stored packed codes `[N, bytes]`, in position order."""
        if self._milvus is not None:
            return self._milvus.fetch(0, self._size)[0]
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros((0, (self._bits + 7) // 8), np.uint8)

    def ids(self):
        """The user ids of all stored codes `[N]`, in position order."""
        if self._milvus is not None:
            return self._milvus.fetch(0, self._size)[1]
        if self._user_ids is None:
            self._user_ids = np.concatenate(self._id_chunks) if self._id_chunks else np.zeros(0, np.int64)
        return self._user_ids

    def _to_user(self, positions):
        """Maps positions (any shape) to the user's ids."""
        return positions if self._default_ids else self.ids()[positions]

    def _database_words(self):
        if self._words is None:
            self._words = as_words(self._packed())
        return self._words

    def _block_size(self, per_query):
        return max(1, self._memory_budget // max(1, per_query))

    def search(self, queries, k):
        """The k nearest stored codes of each query.

        Args:
            queries: +1/-1 codes `[Q, bits]` or uint8 packed codes.
            k: number of neighbours, 1 <= k <= len(self) (and <= 16,384 on Milvus).

        Returns:
            `(distances, ids)`: int32 `[Q, k]` Hamming distances and int64
            `[Q, k]` ids, sorted by (distance, insertion position).

        Raises:
            ValueError: for k < 1, k > len(self), an empty index or bad codes.
        """
        k = check_positive_int(k, "k")
        packed = self._queries(queries, k)
        if self._milvus is not None:
            if k > milvus_store.MAX_LIMIT:
                raise ValueError(f"k={k} is above Milvus's limit of {milvus_store.MAX_LIMIT} results per query.")
            distances, _, ids = self._milvus.search(packed, k)
            return distances, ids
        num_queries = len(packed)
        distances = np.empty((num_queries, k), dtype=np.int32)
        ids = np.empty((num_queries, k), dtype=np.int64)
        if self._faiss is not None:
            per_query = faiss_knn.mc_bytes_per_query(packed.shape[1], k) + 12 * k
            step = self._block_size(per_query)
            for start in range(0, num_queries, step):
                rows = slice(start, start + step)
                distances[rows], ids[rows] = faiss_knn.faiss_topk(self._faiss, packed[rows], k)
            return distances, self._to_user(ids)
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
        return distances, self._to_user(ids)

    def range_search(self, queries, radius):
        """Every stored code within a Hamming radius of each query.

        Args:
            queries: +1/-1 codes `[Q, bits]` or uint8 packed codes.
            radius: integer >= 0; codes with distance <= radius are returned.

        Returns:
            A list of Q pairs `(distances int32 [m], ids int64 [m])`, each
            sorted by (distance, insertion position); m may be 0.

        Raises:
            ValueError: for radius < 0, an empty index or bad codes (on
                Milvus also for 16,384 or more codes within the radius).
        """
        radius = check_non_negative_int(radius, "radius")
        packed = self._queries(queries)
        if self._milvus is not None:
            return [(d, u) for d, _, u in self._milvus.range_search(packed, min(radius, self._bits))]
        if self._faiss is not None:
            # faiss keeps distances strictly below its radius argument.
            limits, dists, ids = self._faiss.range_search(
                np.ascontiguousarray(packed), min(radius, self._bits) + 1
            )
            limits = limits.astype(np.int64)
            rows = np.repeat(np.arange(len(packed)), np.diff(limits))
            order = np.lexsort((ids, dists, rows))
            dists, ids = dists[order].astype(np.int32), self._to_user(ids[order].astype(np.int64))
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
            # Stable sort by (row, distance) keeps position order inside each group.
            order = np.lexsort((dists, row_of))
            flat, row_of, dists = flat[order], row_of[order], dists[order]
            limits = np.searchsorted(row_of, np.arange(rows.stop - start + 1))
            ids = self._to_user(flat - row_of * self._size)
            for i in range(rows.stop - start):
                results.append(
                    (
                        dists[limits[i] : limits[i + 1]].astype(np.int32),
                        ids[limits[i] : limits[i + 1]].astype(np.int64),
                    )
                )
        return results

    # -- persistence ----------------------------------------------------------------

    def save(self, path=None):
        """Writes the index to `path` (`.npz`: packed codes, ids, bits), atomically.

        A Milvus index lives in its collection: `save()` without a path
        flushes it so that it survives a restart; with a path its codes and
        ids are also copied into a local file. Returns `path` (or None).
        """
        if self._milvus is not None:
            self._milvus.flush()
            if path is None:
                return None
        elif path is None:
            raise ValueError(f"pass a file path to save a {self._backend} index.")
        save_arrays(path, self._packed(), self.ids(), self._bits, kind="exact")
        return path

    @classmethod
    def load(cls, path, backend="auto", **options):
        """Reads an index written by `save` into a new index of `backend` (options as the constructor's)."""
        arrays = load_arrays(path, kind="exact")
        index = cls(int(arrays["bits"]), backend=backend, **options)
        if backend == "milvus" and len(index):
            raise ValueError(f"Milvus collection {options.get('collection')!r} already holds codes; "
                             "load into an empty one.")
        index.add(arrays["packed"], arrays["ids"])
        return index

    def close(self):
        """Releases a Milvus connection (a no-op for the local backends)."""
        if self._milvus is not None:
            self._milvus.close()


def check_ids(ids, count, start):
    """`ids` as int64 `[count]`, or the positions `start ... start + count - 1` when None."""
    if ids is None:
        return np.arange(start, start + count, dtype=np.int64)
    array = np.asarray(ids)
    if array.ndim != 1 or len(array) != count:
        raise ValueError(f"`ids` must have shape [{count}] (one id per code), got {array.shape}.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`ids` must be integers, got dtype {array.dtype}.")
    return array.astype(np.int64)


def save_arrays(path, packed, ids, bits, kind, extra=None, kill_name=None):
    """Writes one index file atomically: `.npz` with the codes, ids, bits and `kind`.

    `kill_name` names the test-only kill point `<kill_name>-half`, reached
    with half of the temporary file written (`hashzoo.utils.io.kill_point`).
    """
    buffer = io.BytesIO()
    np.savez(buffer, packed=packed, ids=ids, bits=np.int64(bits), kind=np.str_(kind),
             format=np.int64(FILE_FORMAT), **(extra or {}))
    data = buffer.getvalue()
    with atomic_open(path) as handle:
        handle.write(data[: len(data) // 2])
        if kill_name:
            handle.flush()
            kill_point(f"{kill_name}-half")
        handle.write(data[len(data) // 2 :])


def load_arrays(path, kind):
    """Reads a file of `save_arrays`, checking its kind; returns a dict of arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read index file {path}: {error}") from error
    if str(arrays.get("kind")) != kind or int(arrays.get("format", -1)) != FILE_FORMAT:
        raise ValueError(f"{path} is not a hashzoo {kind} index file (format {FILE_FORMAT}).")
    return arrays
