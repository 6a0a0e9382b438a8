"""Optional faiss fast path: exhaustive binary top-k with the stable tie rule.

faiss (`pip install faiss-cpu`) is an optional dependency. Its
`IndexBinaryFlat` scans the database in index order and keeps, per query, the
k smallest distances either in a heap ordered by (distance, id) with a strict
`<` test for insertion ("hc", `use_heap=True`) or in per-distance buckets
filled in scan order ("mc", `use_heap=False`). Both therefore select, at a top-k
boundary inside a tie group, the lowest ids: the stable rule (docs/evaluation.md,
"Tie rules"). That order is not documented by faiss, so `tests/test_index.py` pins it against the
numpy counting sort on tie-heavy data, and `faiss_topk` re-sorts any row whose
tie groups come back out of id order (`ranking.sort_ties`).

faiss needs whole bytes per code; packed codes already are whole bytes with
zero padding bits, so `8 * num_bytes` dimensions give the same distances.
"""

import numpy as np

from hashzoo.metrics.ranking import sort_ties

_FAISS = None


def faiss_module():
    """Returns the imported `faiss` module, or None when it is not installed.

    faiss runs on OpenMP threads (all cores by default). With the default
    `OMP_WAIT_POLICY`, idle threads spin at barriers, and 2-thread searches
    were measured 4-6x slower than 1 thread while other processes shared the
    2 cores; `OMP_WAIT_POLICY=PASSIVE` in the environment before Python starts
    removed that (the OpenMP runtime reads it once, when first loaded).
    """
    global _FAISS
    if _FAISS is None:
        try:
            import faiss  # noqa: PLC0415 - optional dependency, imported lazily.
        except ImportError:
            _FAISS = False
        else:
            _FAISS = faiss
    return _FAISS or None


def faiss_available():
    """True when `faiss` can be imported."""
    return faiss_module() is not None


def binary_flat_index(packed):
    """Builds a `faiss.IndexBinaryFlat` over packed codes `[N, num_bytes]`.

    Args:
        packed: uint8 packed codes (see `hashzoo.codes.pack_codes`).

    Returns:
        The faiss index, with the codes added in order (ids 0..N-1).
    """
    faiss = faiss_module()
    if faiss is None:
        raise ImportError("faiss is not installed; `pip install faiss-cpu` or use backend='numpy'.")
    index = faiss.IndexBinaryFlat(8 * packed.shape[1])
    if len(packed):
        index.add(np.ascontiguousarray(packed, dtype=np.uint8))
    return index


def mc_bytes_per_query(num_bytes, k):
    """Scratch memory of faiss's counter ("mc") top-k for one query, in bytes."""
    return (8 * num_bytes + 1) * k * 8


def faiss_topk(index, queries_packed, k, use_heap=False):
    """Top-k ids and distances in (distance, id) order from a faiss index.

    Args:
        index: a `faiss.IndexBinaryFlat` (from `binary_flat_index`).
        queries_packed: uint8 packed queries `[q, num_bytes]`.
        k: depth, 1 <= k <= index.ntotal.
        use_heap: faiss's heap selection ("hc") when True, its per-distance
            counters ("mc") when False. mc was 2.3x faster at k = 1000 over
            128,495 codes and needs `mc_bytes_per_query` scratch per query.

    Returns:
        `(distances int32 [q, k], ids int64 [q, k])`.
    """
    index.use_heap = bool(use_heap)
    dists, ids = index.search(np.ascontiguousarray(queries_packed, dtype=np.uint8), k)
    if ids.size and ids.min() < 0:
        raise RuntimeError(f"faiss returned fewer than k={k} results from {index.ntotal} codes.")
    return sort_ties(dists, ids)
