"""Stable ranking of Hamming distances in linear time.

The ranking rule is the default tie rule (docs/evaluation.md, "Tie rules"; the
algorithm is in "How it is computed"): items are sorted by
(distance, database index). With only `bits + 1` distinct distances this is a
counting sort: histogram, prefix sums, scatter in index order. numpy's stable
sort of uint8 / uint16 keys is exactly that (an LSD radix sort, O(N) per row),
so the full ranking is `np.argsort(distances, kind="stable")` and costs O(N)
per query, not O(N log N).

For a top-k ranking with k much smaller than N only the items at or below the
k-th smallest distance matter. `rank_stable` finds, per query, a distance
threshold t whose count of items at distance <= t reaches k (from a histogram
of a strided sample, checked exactly and raised where the sample was wrong),
keeps those candidates and counting-sorts just them by (query, distance).
Items of the boundary distance therefore enter the top k lowest index first,
which is what the stable rule says about a top-k boundary inside a tie group.
"""

import numpy as np

from hashzoo.utils.validation import check_positive_int

# Below this ratio N / k the plain full radix sort is cheaper than selection.
_FULL_SORT_RATIO = 4
# Minimum number of sampled items per row when estimating the threshold.
_MIN_SAMPLE = 4096


def distance_histograms(distances, num_buckets):
    """Per-query histogram of distances.

    Args:
        distances: integer array `[q, N]` with values in `0..num_buckets - 1`.
        num_buckets: number of distance values, `bits + 1`.

    Returns:
        int64 array `[q, num_buckets]`; row i counts the items of each distance.
    """
    hist = np.empty((distances.shape[0], num_buckets), dtype=np.int64)
    for i, row in enumerate(distances):
        hist[i] = np.bincount(row, minlength=num_buckets)
    return hist


def check_distances(distances, name="distances"):
    """Checks a `[q, N]` array of non-negative integer distances.

    Args:
        distances: array-like of integer distances.
        name: argument name used in error messages.

    Returns:
        The distances as a uint8 or uint16 numpy array.

    Raises:
        ValueError: for a wrong rank, an empty array, a non-integer dtype,
            negative values or values above 65535.
    """
    array = np.asarray(distances)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"`{name}` must be a non-empty [queries, items] array, got {array.shape}.")
    if array.dtype in (np.uint8, np.uint16):
        return array
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`{name}` must hold integer Hamming distances, got dtype {array.dtype}.")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > 65535:
        raise ValueError(f"`{name}` must lie in 0..65535, got values from {low} to {high}.")
    return array.astype(np.uint8 if high <= 255 else np.uint16)


def rank_stable(distances, k=None):
    """Database indices in (distance, index) order, per query.

    This is the default tie rule (`tie_rule="stable"`): equal distances are
    ordered by database index, so the ranking is deterministic and equals a
    stable argsort of float distances. It runs in O(N + bits) per query.

    Args:
        distances: integer Hamming distances `[q, N]` (uint8 / uint16, as
            returned by `hamming_distances`).
        k: ranking depth; `None` ranks the whole database. A k larger than N
            is clamped to N.

    Returns:
        int64 array `[q, min(k, N)]` of database indices, best first.

    Raises:
        ValueError: for k < 1 or malformed distances.

    Example:

    >>> import numpy as np
    >>> rank_stable(np.array([[3, 1, 3, 0, 1]], dtype=np.uint8))
    array([[3, 1, 4, 0, 2]])
    >>> rank_stable(np.array([[3, 1, 3, 0, 1]], dtype=np.uint8), k=2)
    array([[3, 1]])
    """
    distances = check_distances(distances)
    num_items = distances.shape[1]
    k = num_items if k is None else min(check_positive_int(k, "k"), num_items)
    return topk_stable(distances, k, int(distances.max()) + 1)[0]


def topk_stable(distances, k, num_buckets):
    """`rank_stable` without input checks (k <= N, values < num_buckets).

    Returns:
        `(ids int64 [q, k], their distances [q, k])`.
    """
    num_queries, num_items = distances.shape
    if k * _FULL_SORT_RATIO >= num_items:
        ids = np.argsort(distances, axis=1, kind="stable")[:, :k]
        return ids, np.take_along_axis(distances, ids, axis=1)
    thresholds = _estimate_thresholds(distances, k, num_buckets)
    ids = np.empty((num_queries, k), dtype=np.int64)
    top = np.empty((num_queries, k), dtype=distances.dtype)
    pending = np.arange(num_queries)
    bump = 1
    while pending.size:
        rows = distances if pending.size == num_queries else distances[pending]
        mask = rows <= thresholds[pending, None].astype(rows.dtype)
        flat = np.flatnonzero(mask)
        del mask
        row_of = flat // num_items
        counts = np.bincount(row_of, minlength=pending.size)
        short = counts < k
        if short.any():
            keep = ~short[row_of]
            flat, row_of = flat[keep], row_of[keep]
            # Renumber the rows that succeeded 0..m-1 for the sort below.
            new_row = np.cumsum(~short) - 1
            row_of = new_row[row_of]
            done = pending[~short]
            counts = counts[~short]
            rows = rows[~short]
        else:
            done = pending
        if done.size:
            cols = flat - (flat // num_items) * num_items
            ids[done], top[done] = _sort_candidates(rows, row_of, cols, counts, k, num_buckets)
        pending = pending[short]
        # A sample that underestimated the threshold is rare; widen quickly.
        thresholds[pending] = np.minimum(thresholds[pending] + bump, num_buckets - 1)
        bump *= 2
    return ids, top


def _estimate_thresholds(distances, k, num_buckets):
    """Per-row distance whose count of items at or below it likely reaches k."""
    num_items = distances.shape[1]
    step = max(1, num_items // max(8 * k, _MIN_SAMPLE))
    sample = distances[:, ::step]
    hist = distance_histograms(sample, num_buckets)
    cum = np.cumsum(hist, axis=1)
    if step == 1:
        need = np.full(len(cum), k)
    else:
        expected = k * sample.shape[1] / num_items
        need = np.full(len(cum), int(np.ceil(expected + 3.0 * np.sqrt(expected) + 1.0)))
    need = np.minimum(need, cum[:, -1])
    return np.argmax(cum >= need[:, None], axis=1).astype(np.int64)


def _sort_candidates(rows, row_of, cols, counts, k, num_buckets):
    """Counting-sorts candidates by (row, distance, index) and keeps k per row.

    `row_of` / `cols` list the candidates in row-major order (so by index
    within a row); a stable sort on the small key row * num_buckets + distance
    keeps that index order inside every (row, distance) group.

    Returns:
        `(ids [rows, k], distances [rows, k])`.
    """
    dist = rows[row_of, cols]
    rows_per_group = max(1, 65535 // num_buckets)
    starts = np.concatenate(([0], np.cumsum(counts)))
    out = np.empty((len(counts), k), dtype=np.int64)
    out_dist = np.empty((len(counts), k), dtype=dist.dtype)
    for g0 in range(0, len(counts), rows_per_group):
        g1 = min(g0 + rows_per_group, len(counts))
        lo, hi = starts[g0], starts[g1]
        key = dist[lo:hi].astype(np.uint16)
        if rows_per_group > 1:
            key += (row_of[lo:hi] - g0).astype(np.uint16) * np.uint16(num_buckets)
        order = np.argsort(key, kind="stable")
        picked = order[(starts[g0:g1] - lo)[:, None] + np.arange(k)[None, :]]
        out[g0:g1] = cols[lo:hi][picked]
        out_dist[g0:g1] = dist[lo:hi][picked]
    return out, out_dist


def sort_ties(dists, ids):
    """Re-orders rows of a top-k result into (distance, id) order.

    Used after faiss, whose output order inside a tie group is not documented.
    Only rows that are out of order are re-sorted.

    Args:
        dists: `[q, k]` distances, ascending per row.
        ids: `[q, k]` int64 ids.

    Returns:
        `(dists, ids)`, re-ordered in place where needed.
    """
    if dists.shape[1] < 2:
        return dists, ids
    bad = (dists[:, 1:] < dists[:, :-1]) | (
        (dists[:, 1:] == dists[:, :-1]) & (ids[:, 1:] < ids[:, :-1])
    )
    for i in np.flatnonzero(bad.any(axis=1)):
        order = np.lexsort((ids[i], dists[i]))
        dists[i], ids[i] = dists[i][order], ids[i][order]
    return dists, ids
