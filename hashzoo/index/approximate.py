"""Approximate Hamming search: faiss binary IVF and HNSW, Milvus `BIN_IVF_FLAT`.

These indexes look at part of the database only, so they can miss true
neighbours; they are never called exact (`exact = False`), and how much they
miss is measured with `hashzoo.index.measure_recall` on your own codes
(docs/search.md, "Measuring recall"). On uniform random codes every one of
them loses most of its recall: measure on codes a model produced.

- `"ivf"`: `faiss.IndexBinaryIVF`, k-means cells (`nlist`) over the codes,
  `nprobe` cells searched per query. Trained on the first `add`.
- `"hnsw"`: `faiss.IndexBinaryHNSW`, a neighbour graph (`hnsw_m` links per
  node), `ef_search` candidates explored per query.
- `"milvus-ivf"`: Milvus `BIN_IVF_FLAT` (`nlist`, `nprobe`) on a server or
  cluster (milvus-lite has `BIN_FLAT` only).

Distances returned are exact Hamming distances of the codes found; results
come in (distance, insertion position) order like `HammingIndex`, but which
codes of the k-th distance's tie group are returned follows the index's own
scan order, even when every cell is searched. A slot with nothing found
holds id -1 and distance -1.
"""

import numpy as np

from hashzoo.index import milvus_store
from hashzoo.index.hamming_index import CodeIndexBase, load_arrays, save_arrays
from hashzoo.metrics import faiss_knn
from hashzoo.metrics.ranking import sort_ties
from hashzoo.utils.validation import check_bits, check_choice, check_positive_int

KINDS = ("ivf", "hnsw", "milvus-ivf")


def _faiss():
    faiss = faiss_knn.faiss_module()
    if faiss is None:
        raise ImportError("approximate faiss indexes need faiss: `pip install faiss-cpu`.")
    return faiss


class ApproximateHammingIndex(CodeIndexBase):
    """Approximate k-nearest-neighbour search over binary codes (never exact).

    Args:
        bits: code length in bits.
        kind: `"ivf"`, `"hnsw"` (faiss) or `"milvus-ivf"` (a Milvus server).
        nlist: IVF cells (ivf, milvus-ivf); the first `add` needs at least
            `nlist` codes to train on (39 * nlist or more is better).
        nprobe: IVF cells searched per query; more is slower and closer to exact.
        hnsw_m: HNSW links per node.
        ef_construction: HNSW candidates while building.
        ef_search: HNSW candidates while searching; more is slower and closer to exact.
        uri, collection, consistency_level, token, batch_size: Milvus only,
            as in `HammingIndex`.

    Example:

    >>> import numpy as np
    >>> from hashzoo.index import ApproximateHammingIndex
    >>> codes = np.random.default_rng(0).choice([-1, 1], (2000, 32))
    >>> index = ApproximateHammingIndex(32, kind="ivf", nlist=16, nprobe=16)
    >>> index.add(codes)
    >>> index.exact, len(index)
    (False, 2000)
    >>> distances, ids = index.search(codes[:3], k=1)
    >>> distances[:, 0].tolist(), ids[:, 0].tolist()
    ([0, 0, 0], [0, 1, 2])
    """

    exact = False

    def __init__(self, bits, kind="ivf", *, nlist=1024, nprobe=16, hnsw_m=32, ef_construction=40,
                 ef_search=64, uri=None, collection="hashzoo_codes_ivf", consistency_level="Strong",
                 token=None, batch_size=1000):
        self._bits = check_bits(bits)
        self._kind = check_choice(kind, "kind", KINDS)
        self._nlist = check_positive_int(nlist, "nlist")
        self._nprobe = check_positive_int(nprobe, "nprobe")
        self._hnsw_m = check_positive_int(hnsw_m, "hnsw_m")
        self._ef_construction = check_positive_int(ef_construction, "ef_construction")
        self._ef_search = check_positive_int(ef_search, "ef_search")
        self._width = (self._bits + 7) // 8
        self._ids = []
        self._faiss = None
        self._milvus = None
        self._size = 0
        if kind == "milvus-ivf":
            if uri is None:
                raise ValueError("kind='milvus-ivf' needs `uri`, a Milvus server such as http://host:19530.")
            self._milvus = milvus_store.MilvusStore(
                uri, collection, self._width, "BIN_IVF_FLAT", index_params={"nlist": self._nlist},
                search_params={"nprobe": self._nprobe}, consistency_level=consistency_level, token=token,
                batch_size=check_positive_int(batch_size, "batch_size"),
            )
            self._size = self._milvus.size
        elif uri is not None:
            raise ValueError(f"`uri` is for kind='milvus-ivf' only, not kind={kind!r}.")
        elif kind == "hnsw":
            self._faiss = _faiss().IndexBinaryHNSW(8 * self._width, self._hnsw_m)
            self._faiss.hnsw.efConstruction = self._ef_construction
        self._set_search_parameters()

    @property
    def kind(self):
        """`"ivf"`, `"hnsw"` or `"milvus-ivf"`."""
        return self._kind

    def _set_search_parameters(self):
        if self._faiss is None:
            return
        if self._kind == "ivf":
            self._faiss.nprobe = self._nprobe
        else:
            self._faiss.hnsw.efSearch = self._ef_search

    def set_search(self, nprobe=None, ef_search=None):
        """Changes the speed/recall setting of searches (`nprobe` for IVF, `ef_search` for HNSW)."""
        if nprobe is not None:
            self._nprobe = check_positive_int(nprobe, "nprobe")
            if self._milvus is not None:
                self._milvus.search_params["nprobe"] = self._nprobe
        if ef_search is not None:
            self._ef_search = check_positive_int(ef_search, "ef_search")
        self._set_search_parameters()

    def _train_ivf(self, packed):
        """Builds and trains the IVF index on the first codes added (k-means over them)."""
        if len(packed) < self._nlist:
            raise ValueError(
                f"an IVF index with nlist={self._nlist} must be trained on at least {self._nlist} codes, "
                f"got {len(packed)}; add more codes at once or pass a smaller nlist."
            )
        faiss = _faiss()
        quantizer = faiss.IndexBinaryFlat(8 * self._width)
        index = faiss.IndexBinaryIVF(quantizer, 8 * self._width, self._nlist)
        self._quantizer = quantizer  # faiss does not own it: keep it alive with the index.
        index.train(np.ascontiguousarray(packed))
        self._faiss = index

    def add(self, codes, ids=None):
        """Appends codes (the first `add` of an IVF index also trains it); see `HammingIndex.add`."""
        packed, ids = self._codes_to_add(codes, ids)
        if len(packed) == 0:
            return
        if self._milvus is not None:
            self._milvus.insert(packed, ids)
        else:
            if self._faiss is None:
                self._train_ivf(packed)
                self._set_search_parameters()
            self._faiss.add(np.ascontiguousarray(packed))
            self._ids.append(ids)
        self._size += len(packed)

    def _user_ids(self):
        if len(self._ids) > 1:
            self._ids = [np.concatenate(self._ids)]
        return self._ids[0]

    def search(self, queries, k):
        """Approximate top-k: `(distances int32 [Q, k], ids int64 [Q, k])`, -1 where nothing was found."""
        k = check_positive_int(k, "k")
        packed = self._queries(queries, k)
        if self._milvus is not None:
            distances, _, ids = self._milvus.search(packed, min(k, milvus_store.MAX_LIMIT))
            return distances, ids
        distances, positions = self._faiss.search(np.ascontiguousarray(packed), k)
        distances = distances.astype(np.int32)
        positions = positions.astype(np.int64)
        missing = positions < 0
        distances[missing] = np.iinfo(np.int32).max
        distances, positions = sort_ties(distances, positions)
        missing = positions < 0
        ids = np.where(missing, -1, self._user_ids()[np.where(missing, 0, positions)])
        distances[missing] = -1
        return distances, ids

    # -- persistence ----------------------------------------------------------------

    def _settings(self):
        return {"kind": self._kind, "nlist": self._nlist, "nprobe": self._nprobe, "hnsw_m": self._hnsw_m,
                "ef_construction": self._ef_construction, "ef_search": self._ef_search}

    def save(self, path=None):
        """Writes a faiss index (with ids and settings) to one `.npz`, atomically; flushes a Milvus one."""
        if self._milvus is not None:
            self._milvus.flush()
            return None
        if path is None:
            raise ValueError("pass a file path to save a faiss approximate index.")
        faiss = _faiss()
        blob = faiss.serialize_index_binary(self._faiss) if self._faiss is not None else np.zeros(0, np.uint8)
        settings = {name: np.str_(value) if isinstance(value, str) else np.int64(value)
                    for name, value in self._settings().items()}
        settings["index_kind"] = settings.pop("kind")
        ids = self._user_ids() if self._ids else np.zeros(0, np.int64)
        save_arrays(path, np.zeros((0, self._width), np.uint8), ids, self._bits, kind="approximate",
                    extra=dict(settings, faiss_index=np.asarray(blob, np.uint8)))
        return path

    @classmethod
    def load(cls, path):
        """Reads a faiss approximate index written by `save`."""
        arrays = load_arrays(path, kind="approximate")
        index = cls(int(arrays["bits"]), kind=str(arrays["index_kind"]),
                    **{name: int(arrays[name]) for name in ("nlist", "nprobe", "hnsw_m", "ef_construction",
                                                             "ef_search")})
        if arrays["faiss_index"].size:
            index._faiss = _faiss().deserialize_index_binary(arrays["faiss_index"])
            index._set_search_parameters()
        index._ids = [arrays["ids"]] if len(arrays["ids"]) else []
        index._size = len(arrays["ids"])
        return index

    def close(self):
        """Releases a Milvus connection (a no-op for faiss)."""
        if self._milvus is not None:
            self._milvus.close()
