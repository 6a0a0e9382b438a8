"""NDCG@K with graded relevance (docs/evaluation.md, "NDCG@K (graded relevance)").

mAP sees relevance as 0 or 1: an item that shares three labels with the query
counts the same as one that shares one. NDCG@K grades it. The gain of a
database item x for query q is

- `gain="shared"`: the number of labels they share, |y_q AND y_x|;
- `gain="jaccard"`: |y_q AND y_x| / |y_q OR y_x| (0 when both are empty);

and for class ids `[N]` either option gives 1 for the same class, else 0.

    DCG@K(q)  = sum_{r = 1..K} gain(r) / log2(r + 1)
    IDCG@K(q) = the same sum over the K largest gains of the whole database
    NDCG@K(q) = DCG@K(q) / IDCG@K(q)

The ranking is the one every other metric uses: (Hamming distance, database
index) for `tie_rule="stable"`; for `tie_rule="expected"` the mean over all
orders inside tie groups, which for DCG is exact in closed form: every
position a tie group occupies holds, on average, the group's mean gain.
A query with IDCG = 0 (no database item shares a label with it, R_q = 0)
follows the `zero_relevant` policy, as for mAP. K above N is clamped to N.

How it is computed: queries are streamed in blocks sized by the memory
budget, exactly as in `engine.run`. DCG needs gains only for the ranked top K
(numpy counting sort or faiss). IDCG needs no ranking: for class ids it is the
discount sum over the first min(R_q, K) ranks; for multi-hot labels the gains
are taken against each distinct database label set and sorted with their
multiplicities (counted per distinct gain value when those are few), so a block
costs `[q, S]` for S distinct sets, never `[q, N]`.
"""

import numpy as np

from hashzoo.metrics import engine, faiss_knn
from hashzoo.metrics.distances import as_words, distance_dtype, distances_from_words
from hashzoo.metrics.engine import DEFAULT_MEMORY_BUDGET
from hashzoo.metrics.ranking import distance_histograms, topk_stable
from hashzoo.metrics.relevance import SINGLE
from hashzoo.utils.validation import check_choice

GAINS = ("shared", "jaccard")
# IDCG counts items per gain key when there are at most this many keys (or
# no more than distinct label sets); beyond, it sorts gains per label set.
_MIN_KEYS = 4096


def check_gain(gain, name="gain"):
    """Raises a ValueError naming `gain` and the allowed options unless it is one of `GAINS`."""
    return check_choice(gain, name, GAINS)


def cumulative_discounts(depth):
    """`[0, 1/log2(2), 1/log2(2) + 1/log2(3), ...]`: float64 `[depth + 1]`.

    Entry r is the discount sum of ranks 1..r, so a run of equal gains g at
    ranks a+1..b adds g * (c[b] - c[a]).
    """
    discounts = 1.0 / np.log2(np.arange(2, depth + 2, dtype=np.float64))
    return np.concatenate(([0.0], np.cumsum(discounts)))


def _popcount_and(query_words, item_words):
    """Shared labels per pair: popcount of the AND over the label words (int64)."""
    out = np.bitwise_count(query_words[..., 0] & item_words[..., 0]).astype(np.int64)
    for w in range(1, query_words.shape[-1]):
        out += np.bitwise_count(query_words[..., w] & item_words[..., w])
    return out


def _label_counts(words):
    """Number of labels of every row of uint64 label words `[n, W]` (int64)."""
    return np.bitwise_count(words).astype(np.int64).sum(axis=1)


class GainTable:
    """Gains of database items for queries, from prepared `Labels`.

    Args:
        labels: a `relevance.Labels` (class ids or multi-hot label words).
        gain: "shared" or "jaccard".
    """

    def __init__(self, labels, gain):
        self.labels = labels
        self.gain = gain
        if labels.kind == SINGLE:
            self.relevant = labels.relevant_counts()
            return
        self.query_sizes = _label_counts(labels.query)
        self.db_sizes = _label_counts(labels.database)
        # IDCG depends only on the multiset of database label sets.
        self.sets, self.set_sizes = np.unique(labels.database, axis=0, return_counts=True)
        self.set_label_counts = _label_counts(self.sets)
        # A gain is a function of the pair (shared, union) alone, and there are
        # few such pairs: IDCG counts items per pair instead of sorting gains.
        most_shared = int(min(self.query_sizes.max(), self.set_label_counts.max()))
        if gain == "shared":
            self.key_base = 1
            key_gains = np.arange(most_shared + 1, dtype=np.float64)
        else:
            self.key_base = int(self.query_sizes.max() + self.set_label_counts.max() + 1)
            shared, union = np.divmod(np.arange((most_shared + 1) * self.key_base), self.key_base)
            key_gains = np.where(union > 0, shared / np.maximum(union, 1), 0.0)
        self.key_order = np.argsort(-key_gains, kind="stable")
        self.sorted_key_gains = key_gains[self.key_order]
        self.use_keys = key_gains.size <= max(_MIN_KEYS, len(self.sets))

    @property
    def ideal_bytes_per_query(self):
        """Working set of `ideal_dcg` per query, for sizing blocks."""
        if self.labels.kind == SINGLE:
            return 16
        size = 64 * len(self.sets)
        if self.use_keys:
            size += 48 * self.sorted_key_gains.size
        return size

    def _from_shared(self, shared, query_sizes, item_sizes):
        """Gains from shared-label counts: the counts, or their Jaccard ratio."""
        if self.gain == "shared":
            return shared.astype(np.float64)
        union = query_sizes + item_sizes - shared
        return np.where(union > 0, shared / np.maximum(union, 1), 0.0)

    def gains(self, rows, ids=None):
        """Gains of a block of queries for ranked items, or for every item.

        Args:
            rows: slice of query rows.
            ids: int64 `[q, k]` database indices, or None for the whole database.

        Returns:
            float64 `[q, k]`, or `[q, N]` when `ids` is None.
        """
        if self.labels.kind == SINGLE:
            return self.labels.relevance(rows, ids).astype(np.float64)
        query = self.labels.query[rows]
        if ids is None:
            shared = _popcount_and(query[:, None, :], self.labels.database[None, :, :])
            item_sizes = self.db_sizes[None, :]
        else:
            shared = _popcount_and(query[:, None, :], self.labels.database[ids])
            item_sizes = self.db_sizes[ids]
        return self._from_shared(shared, self.query_sizes[rows, None], item_sizes)

    def ideal_dcg(self, rows, ks, cum):
        """IDCG@k of a block of queries for every k in `ks` (each <= N).

        Args:
            rows: slice of query rows.
            ks: int64 `[m]` depths, clamped to N.
            cum: `cumulative_discounts(max(ks))`.

        Returns:
            float64 `[q, m]`.
        """
        if self.labels.kind == SINGLE:
            # Gains are 1 for the R_q items of the query's class, 0 otherwise.
            return cum[np.minimum(self.relevant[rows, None], ks[None, :])]
        query = self.labels.query[rows]
        num_rows = query.shape[0]
        shared = _popcount_and(query[:, None, :], self.sets[None, :, :])
        query_sizes = self.query_sizes[rows, None]
        if self.use_keys:
            # Items per (query, gain key), then the keys in descending gain order.
            keys = shared
            if self.gain == "jaccard":
                keys = shared * self.key_base + (query_sizes + self.set_label_counts[None, :] - shared)
            num_keys = self.sorted_key_gains.size
            keys += (np.arange(num_rows) * num_keys)[:, None]
            weights = np.broadcast_to(self.set_sizes, keys.shape).ravel()
            counts = np.bincount(keys.ravel(), weights=weights, minlength=num_rows * num_keys)
            counts = counts.reshape(num_rows, num_keys)[:, self.key_order].astype(np.int64)
            gains = self.sorted_key_gains[None, :]
        else:
            # Many distinct gains: sort every query's gains per label set.
            set_gains = self._from_shared(shared, query_sizes, self.set_label_counts[None, :])
            order = np.argsort(-set_gains, axis=1, kind="stable")
            gains = np.take_along_axis(set_gains, order, axis=1)
            counts = self.set_sizes[order]
        ends = np.cumsum(counts, axis=1)
        starts = ends - counts
        out = np.empty((num_rows, ks.size))
        for j, k in enumerate(ks.tolist()):
            weights = cum[np.minimum(ends, k)] - cum[np.minimum(starts, k)]
            out[:, j] = (gains * weights).sum(axis=1)
        return out


def ndcg_per_query(
    inputs,
    ks,
    *,
    gain="shared",
    tie_rule="stable",
    backend="auto",
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
):
    """NDCG@k of every query for several depths, in one streaming pass.

    Args:
        inputs: an `engine.Inputs`.
        ks: depths, each already clamped to 1..N.
        gain: "shared" or "jaccard".
        tie_rule: "stable" or "expected".
        backend: "auto", "numpy" or "faiss" (top-K selection for "stable").
        memory_budget_bytes: working-set budget that sizes the query blocks.

    Returns:
        `(ndcg, valid)`: float64 `[Q, len(ks)]` (0 where IDCG is 0) and bool
        `[Q]`, True where IDCG > 0 (the query has an item with positive gain).
    """
    num_queries, num_items, bits = inputs.num_queries, inputs.num_database, inputs.bits
    ks = np.asarray(ks, dtype=np.int64)
    depth = int(ks.max())
    table = GainTable(inputs.labels, gain)
    cum = cumulative_discounts(depth)
    dtype = distance_dtype(bits)

    use_faiss = tie_rule == "stable" and (
        engine.topk_backend(backend, depth, num_queries, num_items) == "faiss"
    )
    per_query = 48 * depth + table.ideal_bytes_per_query + 1
    if tie_rule == "expected":
        # Distances, every item's gain and its shared-label scratch.
        per_query += num_items * (dtype.itemsize + 34)
    elif use_faiss:
        per_query += faiss_knn.mc_bytes_per_query(inputs.query_packed.shape[1], depth)
    else:
        per_query += num_items * (dtype.itemsize + 10)
    block = int(min(num_queries, max(1, memory_budget_bytes // per_query)))

    query_words = as_words(inputs.query_packed)
    db_words = as_words(inputs.db_packed)
    index = faiss_knn.binary_flat_index(inputs.db_packed) if use_faiss else None
    dcg = np.zeros((num_queries, ks.size))
    idcg = np.zeros((num_queries, ks.size))
    for start in range(0, num_queries, block):
        rows = slice(start, min(start + block, num_queries))
        distances = None
        if not use_faiss:
            distances = np.empty((rows.stop - start, num_items), dtype=dtype)
            distances_from_words(query_words[rows], db_words, distances)
        if tie_rule == "expected":
            dcg[rows] = _expected_dcg(distances, table.gains(rows), ks, cum, bits + 1)
        else:
            if use_faiss:
                _, ids = faiss_knn.faiss_topk(index, inputs.query_packed[rows], depth)
            else:
                ids, _ = topk_stable(distances, depth, bits + 1)
            ranked = table.gains(rows, ids) * np.diff(cum)[None, :]
            dcg[rows] = np.cumsum(ranked, axis=1)[:, ks - 1]
        idcg[rows] = table.ideal_dcg(rows, ks, cum)
    valid = idcg[:, 0] > 0
    # IDCG > 0 for one depth means a positive gain exists, so for every depth.
    return np.where(valid[:, None], dcg / np.where(valid[:, None], idcg, 1.0), 0.0), valid


def _expected_dcg(distances, gains, ks, cum, num_buckets):
    """Mean DCG@k over all orders inside tie groups, from per-distance gain sums.

    A tie group of n items with gain sum G occupies ranks a+1..a+n; in a
    uniformly random order each of those ranks holds expected gain G / n.
    """
    counts = distance_histograms(distances, num_buckets)
    sums = np.empty(counts.shape)
    for i in range(distances.shape[0]):
        sums[i] = np.bincount(distances[i], weights=gains[i], minlength=num_buckets)
    mean_gain = sums / np.maximum(counts, 1)
    ends = np.cumsum(counts, axis=1)
    starts = ends - counts
    out = np.empty((distances.shape[0], ks.size))
    for j, k in enumerate(ks.tolist()):
        weights = cum[np.minimum(ends, k)] - cum[np.minimum(starts, k)]
        out[:, j] = (mean_gain * weights).sum(axis=1)
    return out


def ndcg_at_k(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    k,
    *,
    bits=None,
    gain="shared",
    tie_rule="stable",
    zero_relevant="count",
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
    backend="auto",
):
    """NDCG@K with graded relevance, averaged over queries.

    DCG@K = sum_{r <= K} gain(r) / log2(r + 1) over the Hamming ranking;
    IDCG@K is the DCG of the best possible order of the whole database; the
    score of a query is DCG@K / IDCG@K (docs/evaluation.md, "NDCG@K (graded
    relevance)").

    Args:
        query_codes: `[Q, bits]` +1/-1 codes or uint8 packed `[Q, bytes]`.
        query_labels: class ids `[Q]` or multi-hot `[Q, C]`.
        db_codes: `[N, bits]` +1/-1 codes or uint8 packed `[N, bytes]`.
        db_labels: class ids `[N]` or multi-hot `[N, C]`.
        k: depth K: an integer >= 1 (clamped to N), or None / "all" for K = N.
        bits: code length; needed for packed codes whose last byte is padded.
        gain: "shared" (number of shared labels) or "jaccard" (shared / union).
            Class ids give gain 1 for the same class, 0 otherwise, either way.
        tie_rule: "stable" (ties by database index) or "expected".
        zero_relevant: "count" (IDCG = 0 scores 0) or "drop".
        memory_budget_bytes: working-set budget per query block.
        backend: "auto" (faiss when installed and useful), "numpy" or "faiss".

    Returns:
        float NDCG@K (NaN when "drop" leaves no query).

    Raises:
        ValueError: for malformed codes or labels, K < 1, unknown options.

    Example:

    >>> import numpy as np
    >>> query, query_labels = np.array([[1, 1]]), np.array([[1, 1, 0]])
    >>> db = np.array([[1, 1], [1, -1], [-1, -1]])
    >>> db_labels = np.array([[1, 1, 0], [0, 0, 1], [1, 0, 0]])
    >>> round(ndcg_at_k(query, query_labels, db, db_labels, k=2), 6)  # gains 2, 0 vs 2, 1
    0.760188
    """
    k = engine.check_depth(k)
    check_gain(gain)
    engine.check_options(tie_rule, zero_relevant, backend, memory_budget_bytes)
    inputs = engine.Inputs(query_codes, query_labels, db_codes, db_labels, bits)
    depth = inputs.num_database if k is None else min(k, inputs.num_database)
    scores, valid = ndcg_per_query(
        inputs, (depth,), gain=gain, tie_rule=tie_rule, backend=backend,
        memory_budget_bytes=memory_budget_bytes,
    )
    return engine.policy_mean(scores[:, 0], valid, zero_relevant)
