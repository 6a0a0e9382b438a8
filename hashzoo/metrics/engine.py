"""The streaming evaluation engine behind every metric function.

See docs/evaluation.md, "How it is computed".

One pass over blocks of queries computes, per query, the few numbers each
metric needs (AP, relevant hits at given depths, radius counts), sized so a
block's working set fits a memory budget; no query x database float matrix is
ever built. Per block:

- stable tie rule: the top-`depth` ranking in (distance, index) order, from
  faiss (`IndexBinaryFlat`, when installed and the depth is small against N)
  or from numpy distances and the counting sort of `ranking.topk_stable`;
  relevance is then looked up only for the ranked items.
- expected tie rule, PR curve over radii: per-query histograms of all
  distances and of relevant distances (`bits + 1` buckets each).
- radius counts: from the ranked list when its last distance exceeds the
  radius (everything within the radius is then in the list), else from an
  exhaustive count over that query's distances.
"""

import numpy as np

from hashzoo.codes import as_packed
from hashzoo.metrics import faiss_knn, tie_aware
from hashzoo.metrics.distances import as_words, distance_dtype, distances_from_words
from hashzoo.metrics.ranking import _FULL_SORT_RATIO, distance_histograms, topk_stable
from hashzoo.metrics.relevance import Labels
from hashzoo.utils.validation import (
    check_choice,
    check_non_negative_int,
    check_positive_int,
)

TIE_RULES = ("stable", "expected")
ZERO_RELEVANT = ("count", "drop")
BACKENDS = ("auto", "numpy", "faiss")
DEFAULT_MEMORY_BUDGET = 256 * 2**20
# Below this many (query, item) pairs "auto" keeps to numpy.
_FAISS_MIN_PAIRS = 2**20


class Inputs:
    """Validated, packed codes and prepared labels for one evaluation."""

    def __init__(self, query_codes, query_labels, db_codes, db_labels, bits):
        query_packed, bits = as_packed(query_codes, bits, "query_codes")
        db_packed, bits = as_packed(db_codes, bits, "db_codes")
        for name, array in (("query_codes", query_packed), ("db_codes", db_packed)):
            if array.shape[0] == 0:
                raise ValueError(f"`{name}` is empty (shape {array.shape}); pass at least one code.")
        self.bits = bits
        self.query_packed = query_packed
        self.db_packed = db_packed
        self.num_queries = query_packed.shape[0]
        self.num_database = db_packed.shape[0]
        self.labels = Labels(query_labels, db_labels, self.num_queries, self.num_database)


def check_depth(k, name="k"):
    """`None` / `"all"` -> None (whole database); otherwise an integer >= 1."""
    if k is None or (isinstance(k, str) and k == "all"):
        return None
    if isinstance(k, str):
        raise ValueError(f"`{name}` must be None, 'all' or an integer >= 1, got {k!r}.")
    return check_positive_int(k, name)


def check_depths(ks, name="ks"):
    """A tuple of integers >= 1 (a single integer is accepted; None gives ())."""
    if ks is None:
        return ()
    if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
        ks = (ks,)
    try:
        values = tuple(ks)
    except TypeError:
        raise ValueError(f"`{name}` must be a sequence of integers >= 1, got {ks!r}.") from None
    return tuple(check_positive_int(k, f"{name}[{i}]") for i, k in enumerate(values))


def check_options(tie_rule, zero_relevant, backend, memory_budget_bytes):
    """Validates the shared keyword options; raises ValueError naming a bad one."""
    check_choice(tie_rule, "tie_rule", TIE_RULES)
    check_choice(zero_relevant, "zero_relevant", ZERO_RELEVANT)
    check_choice(backend, "backend", BACKENDS)
    check_positive_int(memory_budget_bytes, "memory_budget_bytes")


def check_radius(radius):
    """An integer Hamming radius >= 0."""
    return check_non_negative_int(radius, "radius")


def policy_mean(values, valid, zero_relevant):
    """Mean over queries: invalid ones score 0 ("count") or are left out ("drop").

    Returns NaN when "drop" leaves no query.
    """
    if zero_relevant == "count":
        return float(np.mean(np.where(valid, values, 0.0)))
    if not np.any(valid):
        return float("nan")
    return float(np.mean(values[valid]))


def safe_ratio(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator)
    return np.where(denominator > 0, numerator / np.maximum(denominator, 1), 0.0)


def _average_precision(relevant, hits):
    """AP@K of ranked relevance `[q, K]` with cumulative hits; normaliser R^K."""
    depth = relevant.shape[1]
    found = hits[:, -1]
    precision = hits / np.arange(1, depth + 1, dtype=np.float64)
    total = np.where(relevant, precision, 0.0).sum(axis=1)
    return np.where(found > 0, total / np.maximum(found, 1), 0.0), found


def _relevant_histograms(distances, relevant, num_buckets):
    """Per-query histogram of the distances of relevant items only."""
    hist = np.empty((distances.shape[0], num_buckets), dtype=np.int64)
    for i in range(distances.shape[0]):
        hist[i] = np.bincount(distances[i][relevant[i]], minlength=num_buckets)
    return hist


def run(
    inputs,
    *,
    ap_depth=0,
    ks=(),
    radius=None,
    radius_curve=False,
    grid=(),
    tie_rule="stable",
    backend="auto",
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
):
    """Computes the per-query quantities the requested metrics need.

    Args:
        inputs: an `Inputs`.
        ap_depth: K for AP@K, already clamped to 1..N; 0 for no AP.
        ks: depths for relevant-hit counts (P@k, recall@k), clamped to N.
        radius: Hamming radius for radius counts, or None.
        radius_curve: also count within every radius 0..bits.
        grid: depths of the PR curve over ranks, clamped to N.
        tie_rule: "stable" or "expected".
        backend: "auto", "numpy" or "faiss" (top-K selection for "stable").
        memory_budget_bytes: working-set budget that sizes the query blocks.

    Returns:
        dict of per-query numpy arrays: `relevant` (R_q) always; `ap`,
        `ap_relevant` with ap_depth; `hits` `[Q, len(ks)]`; `grid_hits`;
        `radius_retrieved`, `radius_relevant`; `curve_retrieved`,
        `curve_relevant` `[Q, bits + 1]`.
    """
    num_queries, num_items, bits = inputs.num_queries, inputs.num_database, inputs.bits
    ks = np.asarray(ks, dtype=np.int64)
    grid = np.asarray(grid, dtype=np.int64)
    need_hist = radius_curve or tie_rule == "expected"
    depth = 0
    if tie_rule == "stable":
        depth = int(max([ap_depth] + ks.tolist() + grid.tolist()))
    use_faiss = depth > 0 and topk_backend(backend, depth, num_queries, num_items, need_hist) == "faiss"
    need_distances = not use_faiss or need_hist
    dtype = distance_dtype(bits)

    per_query = 48 * depth + 1
    if need_distances:
        per_query += num_items * (dtype.itemsize + 10)
    if use_faiss:
        per_query += faiss_knn.mc_bytes_per_query(inputs.query_packed.shape[1], depth)
    if tie_rule == "expected" and ap_depth:
        per_query += 96 * (ap_depth + 1)
    block = int(min(num_queries, max(1, memory_budget_bytes // per_query)))

    query_words = as_words(inputs.query_packed)
    db_words = as_words(inputs.db_packed)
    index = faiss_knn.binary_flat_index(inputs.db_packed) if use_faiss else None
    out = _allocate(inputs, ap_depth, ks, grid, radius, radius_curve)

    for start in range(0, num_queries, block):
        rows = slice(start, min(start + block, num_queries))
        distances = None
        if need_distances:
            distances = np.empty((rows.stop - start, num_items), dtype=dtype)
            distances_from_words(query_words[rows], db_words, distances)
        top_dist = top_rel = None
        if depth:
            if use_faiss:
                top_dist, ids = faiss_knn.faiss_topk(index, inputs.query_packed[rows], depth)
            else:
                ids, top_dist = topk_stable(distances, depth, bits + 1)
            top_rel = inputs.labels.relevance(rows, ids)
            _stable_block(out, rows, top_rel, ap_depth, ks, grid)
        if need_hist:
            hist = distance_histograms(distances, bits + 1)
            hist_rel = _relevant_histograms(distances, inputs.labels.relevance(rows), bits + 1)
            if tie_rule == "expected":
                _expected_block(out, rows, hist, hist_rel, ap_depth, ks, grid)
            _histogram_counts(out, rows, hist, hist_rel, radius, radius_curve, bits)
        elif radius is not None:
            _radius_counts(
                out, rows, radius, top_dist, top_rel, distances, inputs, query_words, db_words,
                memory_budget_bytes,
            )
    return out


def topk_backend(backend, depth, num_queries, num_items, need_hist=False):
    """Which path selects the stable top-`depth` lists: "faiss" or "numpy".

    Args:
        backend: "auto", "numpy" or "faiss".
        depth: ranking depth (<= num_items).
        num_queries: Q.
        num_items: N.
        need_hist: whether full distance histograms are computed anyway.

    Returns:
        "faiss" or "numpy".

    Raises:
        ImportError: for backend="faiss" without faiss installed.
    """
    if backend == "numpy":
        return "numpy"
    if backend == "faiss":
        if not faiss_knn.faiss_available():
            raise ImportError("backend='faiss' needs faiss: `pip install faiss-cpu`.")
        return "faiss"
    # "auto": faiss pays off on large problems (starting its threads costs
    # milliseconds) when the depth is small against N and no histogram needs
    # the full distance block anyway.
    large = num_queries * num_items >= _FAISS_MIN_PAIRS
    shallow = depth * _FULL_SORT_RATIO < num_items
    if faiss_knn.faiss_available() and large and shallow and not need_hist:
        return "faiss"
    return "numpy"


def _allocate(inputs, ap_depth, ks, grid, radius, radius_curve):
    """The engine's per-query output arrays, R_q filled in."""
    num_queries, num_buckets = inputs.num_queries, inputs.bits + 1
    out = {"relevant": inputs.labels.relevant_counts()}
    if ap_depth:
        out["ap"] = np.zeros(num_queries)
        out["ap_relevant"] = np.zeros(num_queries, dtype=np.int64)
    if ks.size:
        out["hits"] = np.zeros((num_queries, ks.size))
    if grid.size:
        out["grid_hits"] = np.zeros((num_queries, grid.size))
    if radius is not None:
        out["radius_retrieved"] = np.zeros(num_queries, dtype=np.int64)
        out["radius_relevant"] = np.zeros(num_queries, dtype=np.int64)
    if radius_curve:
        out["curve_retrieved"] = np.zeros((num_queries, num_buckets), dtype=np.int64)
        out["curve_relevant"] = np.zeros((num_queries, num_buckets), dtype=np.int64)
    return out


def _stable_block(out, rows, top_rel, ap_depth, ks, grid):
    """AP and hit counts of one block from its ranked relevance `[q, depth]`."""
    hits = np.cumsum(top_rel, axis=1, dtype=np.int64)
    if ap_depth:
        out["ap"][rows], out["ap_relevant"][rows] = _average_precision(
            top_rel[:, :ap_depth], hits[:, :ap_depth]
        )
    if ks.size:
        out["hits"][rows] = hits[:, ks - 1]
    if grid.size:
        out["grid_hits"][rows] = hits[:, grid - 1]


def _expected_block(out, rows, hist, hist_rel, ap_depth, ks, grid):
    """Tie-aware expected AP and hit counts of one block from its histograms."""
    if ap_depth:
        out["ap"][rows], out["ap_relevant"][rows] = tie_aware.expected_average_precision(
            hist, hist_rel, ap_depth
        )
    if ks.size:
        out["hits"][rows] = tie_aware.expected_hits(hist, hist_rel, ks)
    if grid.size:
        out["grid_hits"][rows] = tie_aware.expected_hits(hist, hist_rel, grid)


def _histogram_counts(out, rows, hist, hist_rel, radius, radius_curve, bits):
    """Radius counts of one block from its cumulative histograms."""
    cum = np.cumsum(hist, axis=1)
    cum_rel = np.cumsum(hist_rel, axis=1)
    if radius is not None:
        out["radius_retrieved"][rows] = cum[:, min(radius, bits)]
        out["radius_relevant"][rows] = cum_rel[:, min(radius, bits)]
    if radius_curve:
        out["curve_retrieved"][rows] = cum
        out["curve_relevant"][rows] = cum_rel


def _radius_counts(out, rows, radius, top_dist, top_rel, distances, inputs, query_words,
                   db_words, memory_budget_bytes):
    """Items within `radius` and relevant ones among them, for one block."""
    num_rows = rows.stop - rows.start
    if top_dist is not None:
        inside = top_dist <= radius
        out["radius_retrieved"][rows] = inside.sum(axis=1)
        out["radius_relevant"][rows] = (inside & top_rel).sum(axis=1)
        covered = top_dist[:, -1] > radius
        if top_dist.shape[1] == inputs.num_database:
            covered[:] = True
        missing = np.flatnonzero(~covered)
    else:
        missing = np.arange(num_rows)
    if missing.size == 0:
        return
    num_items = inputs.num_database
    dtype = distance_dtype(inputs.bits)
    step = max(1, memory_budget_bytes // (num_items * (dtype.itemsize + 2)))
    every_row = missing.size == num_rows
    for first in range(0, missing.size, step):
        local = missing[first : first + step]
        if distances is not None:
            # A slice is a view; an index list (rows the ranked list did not
            # cover, rare) copies only those rows.
            block = distances[first : first + step] if every_row else distances[local]
        else:
            block = np.empty((local.size, num_items), dtype=dtype)
            distances_from_words(query_words[rows.start + local], db_words, block)
        inside = block <= radius
        global_rows = rows.start + local
        out["radius_retrieved"][global_rows] = np.count_nonzero(inside, axis=1)
        inside &= inputs.labels.relevance(global_rows)
        out["radius_relevant"][global_rows] = np.count_nonzero(inside, axis=1)
