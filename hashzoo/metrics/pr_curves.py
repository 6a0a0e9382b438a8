"""Precision-recall curves over Hamming radii and over ranks (docs/evaluation.md, "PR curves").

Both are computed per query block and reduced to per-query numbers right
away: the radius curve from per-query histograms of `bits + 1` distances, the
rank curve from relevant-hit counts at a fixed grid of depths. No query x
database curve is stored.
"""

import numpy as np

from hashzoo.metrics import engine
from hashzoo.metrics.engine import DEFAULT_MEMORY_BUDGET


def default_rank_grid(num_database):
    """The fixed rank grid: 1, 2, 5, 10, 20, 50, ... below N, then N itself.

    Args:
        num_database: N.

    Returns:
        int64 array of increasing depths ending with N.
    """
    grid = []
    scale = 1
    while scale < num_database:
        grid.extend(v for v in (scale, 2 * scale, 5 * scale) if v < num_database)
        scale *= 10
    grid.append(num_database)
    return np.asarray(grid, dtype=np.int64)


def radius_curve(out, bits, zero_relevant):
    """The PR curve over radii from the engine's per-query cumulative counts."""
    retrieved, found = out["curve_retrieved"], out["curve_relevant"]
    relevant = out["relevant"][:, None]
    recall = engine.safe_ratio(found, relevant)
    valid = out["relevant"] > 0
    return {
        "radius": np.arange(bits + 1),
        "precision": engine.safe_ratio(found, retrieved).mean(axis=0),
        "recall": np.array(
            [engine.policy_mean(recall[:, r], valid, zero_relevant) for r in range(bits + 1)]
        ),
        "empty_share": (retrieved == 0).mean(axis=0),
    }


def rank_curve(out, grid, zero_relevant):
    """The PR curve over ranks from the engine's hits at the (clamped) grid."""
    hits = out["grid_hits"]
    relevant = out["relevant"]
    recall = engine.safe_ratio(hits, relevant[:, None])
    valid = relevant > 0
    return {
        "ks": np.asarray(grid, dtype=np.int64),
        "precision": (hits / np.asarray(grid)[None, :]).mean(axis=0),
        "recall": np.array(
            [engine.policy_mean(recall[:, j], valid, zero_relevant) for j in range(len(grid))]
        ),
    }


def clamp_grid(ks, num_database):
    """Validated depths, clamped to N, duplicates removed, increasing."""
    if ks is None:
        return default_rank_grid(num_database)
    depths = engine.check_depths(ks)
    if not depths:
        raise ValueError("`ks` for the PR curve over ranks is empty; pass at least one depth.")
    return np.unique(np.minimum(np.asarray(depths, dtype=np.int64), num_database))


def pr_curve_over_radii(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    *,
    bits=None,
    zero_relevant="count",
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
):
    """Precision, recall and share of empty results for every radius r = 0..bits.

    For radius r the retrieved set is {x : d(q, x) <= r}; precision is 0 for an
    empty set; both are averaged over queries (recall under the zero-relevant
    policy, for R_q = 0).

    Args:
        query_codes, query_labels, db_codes, db_labels, bits: as in
            `hashzoo.metrics.mean_average_precision`.
        zero_relevant: "count" or "drop".
        memory_budget_bytes: working-set budget per query block.

    Returns:
        dict of float arrays `[bits + 1]`: `radius` (int), `precision`,
        `recall`, `empty_share`.
    """
    engine.check_options("stable", zero_relevant, "numpy", memory_budget_bytes)
    inputs = engine.Inputs(query_codes, query_labels, db_codes, db_labels, bits)
    out = engine.run(inputs, radius_curve=True, memory_budget_bytes=memory_budget_bytes)
    return radius_curve(out, inputs.bits, zero_relevant)


def pr_curve_over_ranks(
    query_codes,
    query_labels,
    db_codes,
    db_labels,
    *,
    bits=None,
    ks=None,
    tie_rule="stable",
    zero_relevant="count",
    memory_budget_bytes=DEFAULT_MEMORY_BUDGET,
    backend="auto",
):
    """P@k and recall@k on a grid of depths k.

    Args:
        query_codes, query_labels, db_codes, db_labels, bits: as in
            `hashzoo.metrics.mean_average_precision`.
        ks: depths (integers >= 1, clamped to N, sorted, duplicates merged);
            by default `default_rank_grid(N)` (1, 2, 5, 10, ..., N).
        tie_rule: "stable" or "expected".
        zero_relevant: recall policy for R_q = 0.
        memory_budget_bytes: working-set budget per query block.
        backend: "auto", "numpy" or "faiss".

    Returns:
        dict of arrays: `ks` (int), `precision`, `recall` (float).
    """
    engine.check_options(tie_rule, zero_relevant, backend, memory_budget_bytes)
    inputs = engine.Inputs(query_codes, query_labels, db_codes, db_labels, bits)
    grid = clamp_grid(ks, inputs.num_database)
    out = engine.run(
        inputs, grid=grid, tie_rule=tie_rule, backend=backend,
        memory_budget_bytes=memory_budget_bytes,
    )
    return rank_curve(out, grid, zero_relevant)
