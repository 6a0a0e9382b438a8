"""`evaluate`: every standard retrieval metric from one pass over the data."""

import numpy as np

from hashzoo.metrics import engine, ndcg, retrieval
from hashzoo.metrics import pr_curves as curves
from hashzoo.metrics.engine import DEFAULT_MEMORY_BUDGET
from hashzoo.metrics.result import RetrievalResult


def _protocol_id(protocol, k, tie_rule, zero_relevant):
    """The protocol id; a protocol record must agree with the options used."""
    if protocol is None or isinstance(protocol, str):
        return protocol
    protocol_id = getattr(protocol, "id", None)
    if not isinstance(protocol_id, str):
        raise ValueError(
            f"`protocol` must be None, a protocol id string or a protocol record with "
            f"an `id`, got {protocol!r}."
        )
    used = {"k": k, "tie_rule": tie_rule, "zero_relevant": zero_relevant}
    for name, value in used.items():
        if hasattr(protocol, name) and getattr(protocol, name) != value:
            raise ValueError(
                f"protocol {protocol_id!r} uses {name}={getattr(protocol, name)!r} but "
                f"{name}={value!r} was passed; pass {name}=protocol.{name}."
            )
    return protocol_id


def evaluate(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    *,
    bits=None,
    k=None,
    ks=(100,),
    radius=2,
    tie_rule="stable",
    zero_relevant="count",
    protocol=None,
    pr_curves=False,
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
    backend="auto",
    ndcg_ks=(),
    ndcg_gain="shared",
):
    """Computes mAP@K, P@k, recall@k and radius metrics in one streaming pass.

    Args:
        query_codes: `[Q, bits]` +1/-1 codes (any int or float dtype) or uint8
            packed codes `[Q, ceil(bits / 8)]`.
        query_labels: class ids `[Q]` or multi-hot `[Q, C]`.
        db_codes: `[N, bits]` +1/-1 codes or uint8 packed codes.
        db_labels: class ids `[N]` or multi-hot `[N, C]`, same kind.
        bits: code length; needed for packed codes of a length that is not a
            multiple of 8.
        k: mAP depth: None or "all" (K = N, reported as `mAP@all`) or an
            integer >= 1 (clamped to N, reported as `mAP@<k>`).
        ks: depths for `P@k` and `recall@k` (integers >= 1; may be empty).
        radius: Hamming radius for `P@r<=r`, `R@r<=r`, `empty@r<=r`; None skips them.
        tie_rule: "stable" (equal distances in database-index order) or
            "expected" (mean over all orders inside tie groups, closed form).
        zero_relevant: "count" (queries without relevant items score 0) or
            "drop" (left out of the mean) for mAP (R_q^K = 0) and recall (R_q = 0).
        protocol: protocol id string, a protocol record with `id` (its `k`,
            `tie_rule`, `zero_relevant` must then match the arguments), or None.
        pr_curves: also compute the PR curves over radii and over ranks.
        memory_budget_bytes: working-set budget that sizes the query blocks.
        backend: top-K selection for the stable rule: "auto" (faiss when
            installed and K is small against N), "numpy" or "faiss".
        ndcg_ks: depths for NDCG@k with graded relevance (integers >= 1,
            clamped to N; empty, the default, computes none). Reported as
            `NDCG@<k>` ("shared" gain) or `NDCG-jaccard@<k>`, after `recall@k`,
            under the same tie rule and zero-relevant policy (IDCG = 0 is
            R_q = 0). They take a second streaming pass over the queries.
        ndcg_gain: "shared" (labels in common) or "jaccard" (shared / union),
            see `ndcg.ndcg_at_k`.

    Returns:
        A `RetrievalResult`.

    Raises:
        ValueError: for malformed codes or labels, K < 1, radius < 0, unknown
            options, or a protocol record that disagrees with the options.
    """
    k = engine.check_depth(k)
    ks = engine.check_depths(ks)
    ndcg_ks = engine.check_depths(ndcg_ks, "ndcg_ks")
    ndcg.check_gain(ndcg_gain, "ndcg_gain")
    if radius is not None:
        radius = engine.check_radius(radius)
    engine.check_options(tie_rule, zero_relevant, backend, memory_budget_bytes)
    protocol_id = _protocol_id(protocol, k, tie_rule, zero_relevant)
    inputs = engine.Inputs(query_codes, query_labels, db_codes, db_labels, bits)
    num_items = inputs.num_database
    depth = num_items if k is None else min(k, num_items)
    depths = tuple(min(value, num_items) for value in ks)
    grid = curves.default_rank_grid(num_items) if pr_curves else ()

    out = engine.run(
        inputs,
        ap_depth=depth,
        ks=depths,
        radius=radius,
        radius_curve=pr_curves,
        grid=grid,
        tie_rule=tie_rule,
        backend=backend,
        memory_budget_bytes=memory_budget_bytes,
    )
    relevant = out["relevant"]
    metrics = {
        f"mAP@{'all' if k is None else k}": engine.policy_mean(
            out["ap"], out["ap_relevant"] > 0, zero_relevant
        )
    }
    for j, (name, used) in enumerate(zip(ks, depths)):
        metrics[f"P@{name}"] = float((out["hits"][:, j] / used).mean())
        metrics[f"recall@{name}"] = engine.policy_mean(
            engine.safe_ratio(out["hits"][:, j], relevant), relevant > 0, zero_relevant
        )
    if ndcg_ks:
        scores, valid = ndcg.ndcg_per_query(
            inputs, tuple(min(value, num_items) for value in ndcg_ks), gain=ndcg_gain,
            tie_rule=tie_rule, backend=backend, memory_budget_bytes=memory_budget_bytes,
        )
        prefix = "NDCG" if ndcg_gain == "shared" else f"NDCG-{ndcg_gain}"
        for j, name in enumerate(ndcg_ks):
            metrics[f"{prefix}@{name}"] = engine.policy_mean(scores[:, j], valid, zero_relevant)
    if radius is not None:
        radius_result = retrieval.radius_metrics(out, zero_relevant)
        metrics[f"P@r<={radius}"] = radius_result.precision
        metrics[f"R@r<={radius}"] = radius_result.recall
        metrics[f"empty@r<={radius}"] = radius_result.empty_share
    return RetrievalResult(
        metrics=metrics,
        bits=inputs.bits,
        k=k,
        tie_rule=tie_rule,
        zero_relevant=zero_relevant,
        num_zero_relevant=int(np.count_nonzero(out["ap_relevant"] == 0)),
        num_zero_relevant_database=int(np.count_nonzero(relevant == 0)),
        num_queries=inputs.num_queries,
        num_database=num_items,
        protocol=protocol_id,
        pr_radius=curves.radius_curve(out, inputs.bits, zero_relevant) if pr_curves else None,
        pr_rank=curves.rank_curve(out, grid, zero_relevant) if pr_curves else None,
    )
