"""Single retrieval metrics: mAP@K, P@k, recall@k, precision/recall within a radius.

Every function takes query and database codes (+1/-1 of any int or float
dtype, or uint8 packed codes with `bits`) and labels (class ids `[N]` or
multi-hot `[N, C]`), and follows docs/evaluation.md, "Metrics":

- ranking by (Hamming distance, database index) (`tie_rule="stable"`), or the
  mean over all orders inside tie groups (`tie_rule="expected"`);
- AP@K normalised by R_q^K, the relevant items within the top K;
- queries without relevant items score 0 (`zero_relevant="count"`) or are left
  out of the mean (`"drop"`). This applies where a relevant count divides:
  AP (R_q^K) and recall (R_q); precisions are defined for every query;
- a depth K above the database size N is clamped to N.

To get several metrics from one pass over the data, use `evaluate`.
"""

import collections

from hashzoo.metrics import engine
from hashzoo.metrics.engine import DEFAULT_MEMORY_BUDGET
from hashzoo.utils.validation import check_positive_int

RadiusMetrics = collections.namedtuple("RadiusMetrics", ["precision", "recall", "empty_share"])
RadiusMetrics.__doc__ = """Precision and recall within a Hamming radius, and the share of empty results.

Attributes:
    precision: mean over queries of relevant retrieved / retrieved (0 when empty).
    recall: mean of relevant retrieved / R_q under the zero-relevant policy.
    empty_share: share of queries with nothing within the radius.
"""


def _inputs(query_codes, query_labels, db_codes, db_labels, bits):
    return engine.Inputs(query_codes, query_labels, db_codes, db_labels, bits)


def mean_average_precision(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    *,
    bits=None,
    k=None,
    tie_rule="stable",
    zero_relevant="count",
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
    backend="auto",
):
    """mAP@K: the mean over queries of AP@K (docs/evaluation.md, "mAP@K and mAP@all").

    AP@K = (1 / R_q^K) sum_{r <= K} P@r rel(r), where R_q^K counts the relevant
    items within the top K (the DeepHash-pytorch / HashNet normaliser).

    Args:
        query_codes: `[Q, bits]` +1/-1 codes or uint8 packed `[Q, bytes]`.
        query_labels: class ids `[Q]` or multi-hot `[Q, C]`.
        db_codes: `[N, bits]` +1/-1 codes or uint8 packed `[N, bytes]`.
        db_labels: class ids `[N]` or multi-hot `[N, C]`.
        bits: code length; needed for packed codes whose last byte is padded.
        k: depth K: None or "all" for K = N, or an integer >= 1 (clamped to N).
        tie_rule: "stable" (ties by database index) or "expected".
        zero_relevant: "count" (R_q^K = 0 scores 0) or "drop".
        memory_budget_bytes: working-set budget per query block.
        backend: "auto" (faiss when installed and useful), "numpy" or "faiss".

    Returns:
        float mAP@K (NaN when "drop" leaves no query).

    Raises:
        ValueError: for malformed codes or labels, K < 1, unknown options.
    """
    k = engine.check_depth(k)
    engine.check_options(tie_rule, zero_relevant, backend, memory_budget_bytes)
    inputs = _inputs(query_codes, query_labels, db_codes, db_labels, bits)
    depth = inputs.num_database if k is None else min(k, inputs.num_database)
    out = engine.run(
        inputs, ap_depth=depth, tie_rule=tie_rule, backend=backend,
        memory_budget_bytes=memory_budget_bytes,
    )
    return engine.policy_mean(out["ap"], out["ap_relevant"] > 0, zero_relevant)


def precision_at_k(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    *,
    bits=None,
    k=100,
    tie_rule="stable",
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
    backend="auto",
):
    """P@k = (relevant in the top k) / k, averaged over all queries.

    Args:
        query_codes, query_labels, db_codes, db_labels, bits: as in
            `mean_average_precision`.
        k: depth, an integer >= 1; clamped to N.
        tie_rule: "stable" or "expected" (expected relevant count in the top k).
        memory_budget_bytes: working-set budget per query block.
        backend: "auto", "numpy" or "faiss".

    Returns:
        float P@k.
    """
    k = check_positive_int(k, "k")
    engine.check_options(tie_rule, "count", backend, memory_budget_bytes)
    inputs = _inputs(query_codes, query_labels, db_codes, db_labels, bits)
    depth = min(k, inputs.num_database)
    out = engine.run(
        inputs, ks=(depth,), tie_rule=tie_rule, backend=backend,
        memory_budget_bytes=memory_budget_bytes,
    )
    return float((out["hits"][:, 0] / depth).mean())


def recall_at_k(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    *,
    bits=None,
    k=100,
    tie_rule="stable",
    zero_relevant="count",
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
    backend="auto",
):
    """recall@k = (relevant in the top k) / R_q, averaged under the zero-relevant policy.

    Args:
        query_codes, query_labels, db_codes, db_labels, bits: as in
            `mean_average_precision`.
        k: depth, an integer >= 1; clamped to N.
        tie_rule: "stable" or "expected".
        zero_relevant: "count" (R_q = 0 scores 0) or "drop".
        memory_budget_bytes: working-set budget per query block.
        backend: "auto", "numpy" or "faiss".

    Returns:
        float recall@k.
    """
    k = check_positive_int(k, "k")
    engine.check_options(tie_rule, zero_relevant, backend, memory_budget_bytes)
    inputs = _inputs(query_codes, query_labels, db_codes, db_labels, bits)
    out = engine.run(
        inputs, ks=(min(k, inputs.num_database),), tie_rule=tie_rule, backend=backend,
        memory_budget_bytes=memory_budget_bytes,
    )
    relevant = out["relevant"]
    return engine.policy_mean(
        engine.safe_ratio(out["hits"][:, 0], relevant), relevant > 0, zero_relevant
    )


def radius_precision_recall(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    *,
    bits=None,
    radius=2,
    zero_relevant="count",
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
):
    """Precision and recall of the items within a Hamming radius (`P@r<=2`, `R@r<=2`).

    The retrieved set is {x : d(q, x) <= radius}; no tie rule is involved.
    At 64 bits and more most radius-2 results are empty, so the share of
    empty results is returned with the numbers.

    Args:
        query_codes, query_labels, db_codes, db_labels, bits: as in
            `mean_average_precision`.
        radius: integer Hamming radius >= 0.
        zero_relevant: policy for recall when R_q = 0.
        memory_budget_bytes: working-set budget per query block.

    Returns:
        `RadiusMetrics(precision, recall, empty_share)` of floats.
    """
    radius = engine.check_radius(radius)
    engine.check_options("stable", zero_relevant, "numpy", memory_budget_bytes)
    inputs = _inputs(query_codes, query_labels, db_codes, db_labels, bits)
    out = engine.run(inputs, radius=radius, memory_budget_bytes=memory_budget_bytes)
    return radius_metrics(out, zero_relevant)


def radius_metrics(out, zero_relevant):
    """`RadiusMetrics` from the engine's per-query radius counts."""
    retrieved, found = out["radius_retrieved"], out["radius_relevant"]
    relevant = out["relevant"]
    return RadiusMetrics(
        precision=float(engine.safe_ratio(found, retrieved).mean()),
        recall=engine.policy_mean(engine.safe_ratio(found, relevant), relevant > 0, zero_relevant),
        empty_share=float((retrieved == 0).mean()),
    )
