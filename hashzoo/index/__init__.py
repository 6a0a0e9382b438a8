"""Hamming search over binary codes: exact `HammingIndex`, `ApproximateHammingIndex`, `measure_recall`.

See docs/search.md, "Backends" and "Exact and approximate".

Results come in (distance, id) order, so equal distances are broken by
insertion order the same way as the metrics' stable tie rule, and the faiss
and numpy backends return the same ids.

Example:

>>> import numpy as np
>>> from hashzoo.index import HammingIndex
>>> rng = np.random.default_rng(0)
>>> codes = rng.choice([-1, 1], size=(1000, 12))
>>> index = HammingIndex(bits=12)
>>> index.add(codes)
>>> distances, ids = index.search(codes[:2], k=3)
>>> distances[:, 0].tolist(), ids[:, 0].tolist()
([0, 0], [0, 1])
>>> bool((np.diff(distances, axis=1) >= 0).all())
True
"""

from hashzoo.index.approximate import KINDS as APPROXIMATE_KINDS
from hashzoo.index.approximate import ApproximateHammingIndex
from hashzoo.index.hamming_index import BACKENDS, HammingIndex
from hashzoo.index.milvus_store import milvus_available
from hashzoo.index.recall import measure_recall, recall_from_results

#: Values of `make_index(kind=...)`: "exact" and the approximate kinds.
INDEX_KINDS = ("exact",) + APPROXIMATE_KINDS


def make_index(bits, kind="exact", **options):
    """An index chosen by one parameter: `"exact"` (`HammingIndex`) or `"ivf"` / `"hnsw"` / `"milvus-ivf"`.

    `options` go to the class (`backend`, `uri` for exact; `nlist`, `nprobe`,
    `ef_search`, ... for approximate). Only "exact" answers exactly.

    >>> make_index(16).exact, make_index(16, "hnsw").exact
    (True, False)
    """
    if kind == "exact":
        return HammingIndex(bits, **options)
    if kind not in APPROXIMATE_KINDS:
        raise ValueError(f"`kind` must be one of {list(INDEX_KINDS)}, got {kind!r}.")
    return ApproximateHammingIndex(bits, kind=kind, **options)


__all__ = [
    "APPROXIMATE_KINDS", "ApproximateHammingIndex", "BACKENDS", "HammingIndex", "INDEX_KINDS", "make_index",
    "measure_recall", "milvus_available", "recall_from_results",
]
