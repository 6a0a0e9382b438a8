"""Retrieval metrics for binary codes, exactly as defined in docs/evaluation.md.

What a number means (docs/evaluation.md, "Metrics" and "Tie rules"):

- Hamming distance d = popcount(q XOR x); the database is ranked by
  (distance, database index): `tie_rule="stable"`, the default. The
  alternative `tie_rule="expected"` averages over all orders inside each tie
  group, in closed form.
- AP@K is normalised by the relevant items within the top K (DeepHash-pytorch,
  HashNet); `mAP@all` uses K = N. A K above N is clamped to N.
- Relevance: the label vectors share at least one label (same class for class
  ids); an item with no labels is relevant to nothing.
- Queries without relevant items score 0 (`zero_relevant="count"`) or are left
  out of the mean (`"drop"`); the policy and their number are reported.

How it is computed (docs/evaluation.md, "How it is computed"): queries are
streamed in blocks sized by a memory budget, distances are uint8 (uint16
above 255 bits), the ranking is a linear counting sort (or faiss's exhaustive
binary top-K when installed), and no query x database float matrix is built. `reference` holds a plain brute-force
version of every metric for comparison.

Example:

>>> import numpy as np
>>> from hashzoo import metrics
>>> db = np.array([[1, 1, 1, 1], [1, 1, 1, -1], [-1, -1, 1, 1], [-1, -1, -1, -1]])
>>> db_labels = np.array([0, 0, 1, 1])
>>> query, query_labels = np.array([[1, 1, 1, 1]]), np.array([0])
>>> result = metrics.evaluate(query, query_labels, db, db_labels, ks=(2,), radius=1)
>>> result.metrics
{'mAP@all': 1.0, 'P@2': 1.0, 'recall@2': 1.0, 'P@r<=1': 1.0, 'R@r<=1': 1.0, 'empty@r<=1': 0.0}
>>> metrics.mean_average_precision(-query, query_labels, db, db_labels, k=2)
0.0
>>> print(result.format_table().splitlines()[1])
tie rule: stable (equal distances ordered by database index)
"""

from hashzoo.metrics.distances import hamming_distances
from hashzoo.metrics.engine import BACKENDS, DEFAULT_MEMORY_BUDGET, TIE_RULES, ZERO_RELEVANT
from hashzoo.metrics.evaluation import evaluate
from hashzoo.metrics.ndcg import GAINS, ndcg_at_k
from hashzoo.metrics.pr_curves import default_rank_grid, pr_curve_over_radii, pr_curve_over_ranks
from hashzoo.metrics.ranking import rank_stable
from hashzoo.metrics.relevance import relevance_matrix
from hashzoo.metrics.result import RetrievalResult
from hashzoo.metrics.retrieval import (
    RadiusMetrics,
    mean_average_precision,
    precision_at_k,
    radius_precision_recall,
    recall_at_k,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_MEMORY_BUDGET",
    "GAINS",
    "RadiusMetrics",
    "RetrievalResult",
    "TIE_RULES",
    "ZERO_RELEVANT",
    "default_rank_grid",
    "evaluate",
    "hamming_distances",
    "mean_average_precision",
    "ndcg_at_k",
    "pr_curve_over_radii",
    "pr_curve_over_ranks",
    "precision_at_k",
    "radius_precision_recall",
    "rank_stable",
    "recall_at_k",
    "relevance_matrix",
]
