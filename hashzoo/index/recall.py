"""How close an approximate index comes to exact search, on your own codes.

`measure_recall(index, database, queries, k)` runs the same queries through
the approximate index and through an exact `HammingIndex` over the same
codes and reports two recalls (docs/search.md, "Measuring recall"):

- `recall`: per query, the share of the k slots holding a code at least as
  close as the exact k-th neighbour. Binary codes tie a lot; any code at the
  k-th distance is as good an answer as the one exact search lists, so this
  is the number to compare settings with.
- `id_recall`: the share of the exact top-k ids (stable tie order) that the
  approximate index returned; lower than `recall` when ties are cut
  differently.

Both are averaged over the queries, with queries per second of each index.
"""

import time

import numpy as np

from hashzoo.codes import as_packed
from hashzoo.index.hamming_index import HammingIndex
from hashzoo.utils.validation import check_positive_int


def recall_from_results(exact, approximate, k):
    """`(recall, id_recall)` from two `(distances, ids)` top-k results of the same queries.

    Args:
        exact: `(distances, ids)` `[Q, >= k]` of exact search.
        approximate: `(distances, ids)` `[Q, >= k]`; id -1 marks an empty slot.
        k: depth.

    Example:

    >>> import numpy as np
    >>> exact = (np.array([[0, 1, 1]]), np.array([[4, 2, 7]]))
    >>> found = (np.array([[0, 1, 3]]), np.array([[4, 9, 1]]))
    >>> recall_from_results(exact, found, k=3)
    (0.6666666666666666, 0.3333333333333333)
    """
    exact_d, exact_i = (np.asarray(a)[:, :k] for a in exact)
    found_d, found_i = (np.asarray(a)[:, :k] for a in approximate)
    kth = exact_d[:, -1:]
    good = (found_i >= 0) & (found_d <= kth)
    recall = float(np.mean(np.minimum(good.sum(axis=1), k) / k))
    hits = [len(np.intersect1d(a[a >= 0], b)) for a, b in zip(found_i, exact_i)]
    return recall, float(np.mean(hits) / k)


def measure_recall(index, database, queries, k=10, ids=None, exact_backend="auto"):
    """Recall@k of `index` against exact search over the same codes.

    Args:
        index: a filled approximate index (`ApproximateHammingIndex`) or any
            object with `search(queries, k)` holding `database` in order.
        database: the codes the index holds, +1/-1 or packed, in insertion order.
        queries: query codes (+1/-1 or packed); use held-out codes of your
            own data, not random ones.
        k: depth.
        ids: the ids `database` was added with (default positions).
        exact_backend: backend of the exact reference index.

    Returns:
        A dict: `recall`, `id_recall`, `k`, `queries`, `queries_per_second`
        (the approximate index) and `exact_queries_per_second`.
    """
    k = check_positive_int(k, "k")
    packed, bits = as_packed(database, getattr(index, "bits", None), "database")
    queries_packed, _ = as_packed(queries, bits, "queries")
    exact_index = HammingIndex(bits, backend=exact_backend)
    exact_index.add(packed, ids)
    start = time.perf_counter()
    exact = exact_index.search(queries_packed, k)
    exact_seconds = time.perf_counter() - start
    start = time.perf_counter()
    found = index.search(queries_packed, k)
    seconds = time.perf_counter() - start
    recall, id_recall = recall_from_results(exact, found, k)
    return {
        "recall": recall,
        "id_recall": id_recall,
        "k": k,
        "queries": len(queries_packed),
        "queries_per_second": len(queries_packed) / max(seconds, 1e-9),
        "exact_queries_per_second": len(queries_packed) / max(exact_seconds, 1e-9),
    }
