"""A deliberately plain brute-force reference, written straight from the definitions.

The definitions are those of docs/evaluation.md, "Metrics". Nothing here is
optimised: per query, float64 distances (b - q.x) / 2, a stable `np.argsort`,
and Python loops for AP@K, P@k, recall@k, the radius metrics and NDCG@K. It is the
ground truth that the tests and `bench/eval_bench.py` compare the streaming
implementation against, and it follows the algorithm of
DeepHash-pytorch's `CalcTopMap` (re-written with a stable sort), so it is also
the speed baseline. Only the stable tie rule is implemented.
"""

import numpy as np

from hashzoo.codes import check_codes, unpack_codes


def _as_codes(codes, bits):
    """+1/-1 float64 codes `[N, bits]` from +1/-1 or uint8 packed input."""
    codes = np.asarray(codes)
    if codes.dtype == np.uint8:
        codes = unpack_codes(codes, bits if bits is not None else 8 * codes.shape[1])
    return check_codes(codes).astype(np.float64)


def reference_relevance(query_label, db_labels):
    """rel(q, x) = 1 when y_q . y_x > 0, with class ids as one-hot vectors."""
    db_labels = np.asarray(db_labels)
    if db_labels.ndim == 1:
        return (db_labels == query_label).astype(np.float64)
    return (db_labels.astype(np.float64) @ np.asarray(query_label, dtype=np.float64) > 0).astype(
        np.float64
    )


def reference_ranking(query_code, db_codes):
    """Stable ranking of the database for one query, and the sorted distances."""
    bits = db_codes.shape[1]
    distances = (bits - db_codes @ query_code) / 2.0
    order = np.argsort(distances, kind="stable")
    return order, distances[order]


def reference_average_precision(relevant_sorted, k):
    """AP@k of one ranked relevance vector, normalised by the relevant in the top k."""
    found = 0
    total = 0.0
    for rank in range(1, k + 1):
        if relevant_sorted[rank - 1]:
            found += 1
            total += found / rank
    return (total / found if found else 0.0), found


def reference_average_precisions(query_codes, query_labels, db_codes, db_labels, *, bits=None, k=None):
    """Per-query AP@k by brute force (the loop timed by `bench/eval_bench.py`).

    Args:
        query_codes, query_labels, db_codes, db_labels, bits: as in
            `reference_evaluate`.
        k: depth, None for all; clamped to N.

    Returns:
        `(aps, found)`: float64 `[Q]` AP@k and int64 `[Q]` R_q^k.
    """
    query = _as_codes(query_codes, bits)
    database = _as_codes(db_codes, bits)
    depth = len(database) if k is None else min(k, len(database))
    query_labels = np.asarray(query_labels)
    aps = np.zeros(len(query))
    found = np.zeros(len(query), dtype=np.int64)
    for i in range(len(query)):
        order, _ = reference_ranking(query[i], database)
        relevant_sorted = reference_relevance(query_labels[i], db_labels)[order]
        aps[i], found[i] = reference_average_precision(relevant_sorted, depth)
    return aps, found


def reference_evaluate(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    *,
    bits=None,
    k=None,
    ks=(),
    radii=(),
    zero_relevant="count",
):
    """Metrics by brute force, one query at a time.

    Args:
        query_codes: +1/-1 codes `[Q, bits]` or uint8 packed codes.
        query_labels: class ids `[Q]` or multi-hot `[Q, C]`.
        db_codes: +1/-1 codes `[N, bits]` or uint8 packed codes.
        db_labels: class ids `[N]` or multi-hot `[N, C]`.
        bits: code length for packed input.
        k: mAP depth, None for all; clamped to N.
        ks: depths for P@k and recall@k (clamped to N).
        radii: Hamming radii for P@r / R@r / empty share.
        zero_relevant: "count" or "drop".

    Returns:
        dict: `"mAP"`, `"num_zero_relevant"`, and per depth `("P", k)`,
        `("recall", k)`, per radius `("P@r", r)`, `("R@r", r)`, `("empty@r", r)`.
    """
    query = _as_codes(query_codes, bits)
    database = _as_codes(db_codes, bits)
    num_items = len(database)
    depth = num_items if k is None else min(k, num_items)
    query_labels = np.asarray(query_labels)
    aps, ap_valid = [], []
    hits = {kk: [] for kk in ks}
    recalls = {kk: [] for kk in ks}
    radius = {r: ([], [], []) for r in radii}
    for i in range(len(query)):
        order, distances = reference_ranking(query[i], database)
        relevant = reference_relevance(query_labels[i], db_labels)
        relevant_sorted = relevant[order]
        total_relevant = relevant.sum()
        ap, found = reference_average_precision(relevant_sorted, depth)
        aps.append(ap)
        ap_valid.append(found > 0)
        for kk in ks:
            used = min(kk, num_items)
            in_top = relevant_sorted[:used].sum()
            hits[kk].append(in_top / used)
            recalls[kk].append(in_top / total_relevant if total_relevant else None)
        for r in radii:
            inside = distances <= r
            retrieved = inside.sum()
            found_r = relevant_sorted[inside].sum()
            radius[r][0].append(found_r / retrieved if retrieved else 0.0)
            radius[r][1].append(found_r / total_relevant if total_relevant else None)
            radius[r][2].append(retrieved == 0)

    def mean(values, valid=None):
        if valid is None:
            valid = [v is not None for v in values]
        if zero_relevant == "count":
            return float(np.mean([v if ok else 0.0 for v, ok in zip(values, valid)]))
        kept = [v for v, ok in zip(values, valid) if ok]
        return float(np.mean(kept)) if kept else float("nan")

    result = {"mAP": mean(aps, ap_valid), "num_zero_relevant": int(len(aps) - sum(ap_valid))}
    for kk in ks:
        result[("P", kk)] = float(np.mean(hits[kk]))
        result[("recall", kk)] = mean(recalls[kk])
    for r in radii:
        precision, recall, empty = radius[r]
        result[("P@r", r)] = float(np.mean(precision))
        result[("R@r", r)] = mean(recall)
        result[("empty@r", r)] = float(np.mean(empty))
    return result


def reference_gains(query_label, db_labels, gain="shared"):
    """Graded relevance of every database item for one query.

    "shared": y_q . y_x (labels in common); "jaccard": that over
    |y_q| + |y_x| - y_q . y_x, 0 when both label sets are empty. Class ids
    give 1 for the same class, else 0.
    """
    db_labels = np.asarray(db_labels)
    if db_labels.ndim == 1:
        return (db_labels == query_label).astype(np.float64)
    database = db_labels.astype(np.float64)
    query = np.asarray(query_label, dtype=np.float64)
    shared = database @ query
    if gain == "shared":
        return shared
    union = database.sum(axis=1) + query.sum() - shared
    return np.array([s / u if u > 0 else 0.0 for s, u in zip(shared, union)])


def reference_dcg(gains_in_order, k):
    """sum_{r = 1..k} gain(r) / log2(r + 1), term by term."""
    total = 0.0
    for rank in range(1, k + 1):
        total += gains_in_order[rank - 1] / np.log2(rank + 1)
    return total


def reference_ndcg_scores(
    query_codes, query_labels, db_codes, db_labels, *, bits=None, k=None, gain="shared"
):
    """Per-query NDCG@k by brute force (stable ranking).

    Args:
        query_codes, query_labels, db_codes, db_labels, bits: as in
            `reference_evaluate`.
        k: depth, None for all; clamped to N.
        gain: "shared" or "jaccard".

    Returns:
        `(ndcg, idcg)`: float64 `[Q]` NDCG@k (0 where IDCG is 0) and the IDCG@k.
    """
    query = _as_codes(query_codes, bits)
    database = _as_codes(db_codes, bits)
    depth = len(database) if k is None else min(k, len(database))
    query_labels = np.asarray(query_labels)
    scores = np.zeros(len(query))
    ideals = np.zeros(len(query))
    for i in range(len(query)):
        order, _ = reference_ranking(query[i], database)
        gains = reference_gains(query_labels[i], db_labels, gain)
        dcg = reference_dcg(gains[order], depth)
        ideals[i] = reference_dcg(sorted(gains, reverse=True), depth)
        scores[i] = dcg / ideals[i] if ideals[i] > 0 else 0.0
    return scores, ideals


def reference_ndcg(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    *,
    bits=None,
    k=None,
    gain="shared",
    zero_relevant="count",
):
    """Mean NDCG@k by brute force; queries with IDCG = 0 score 0 ("count") or are dropped.

    Returns:
        float (NaN when "drop" leaves no query).
    """
    scores, ideals = reference_ndcg_scores(
        query_codes, query_labels, db_codes, db_labels, bits=bits, k=k, gain=gain
    )
    if zero_relevant == "count":
        return float(np.mean(scores))
    kept = [score for score, ideal in zip(scores, ideals) if ideal > 0]
    return float(np.mean(kept)) if kept else float("nan")
