"""`RetrievalResult`: the record `hashzoo.metrics.evaluate` returns.

See docs/evaluation.md, "The result record".

A number without its tie rule and zero-relevant policy is not comparable, so
the record carries both, and its table prints them next to the metrics.
"""

import dataclasses
import math
from typing import Optional

import numpy as np

TIE_RULE_TEXT = {
    "stable": "stable (equal distances ordered by database index)",
    "expected": "expected (mean over all orders inside each tie group)",
}
ZERO_RELEVANT_TEXT = {
    "count": "count (queries without relevant items score 0)",
    "drop": "drop (queries without relevant items left out of the mean)",
}


def _plain(value):
    """Converts numpy values and arrays to JSON-ready Python values (NaN -> None)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in np.asarray(value).tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) else value
    return value


@dataclasses.dataclass(frozen=True)
class RetrievalResult:
    """Retrieval metrics with the conventions needed to compare them.

    Attributes:
        metrics: metric name -> value; names carry their parameters, e.g.
            `"mAP@1000"`, `"mAP@all"`, `"P@100"`, `"recall@100"`, `"P@r<=2"`,
            `"R@r<=2"`, `"empty@r<=2"` (share of queries whose radius-2 result
            is empty; their precision counts as 0). NaN when `zero_relevant`
            is "drop" and no query is left.
        bits: code length.
        k: mAP depth as requested (`None` = all; a k above N is clamped to N).
        tie_rule: `"stable"` or `"expected"`.
        zero_relevant: `"count"` or `"drop"`.
        num_zero_relevant: queries with no relevant item in the top K (R_q^K = 0);
            under `"expected"`, in the top K of any tie order.
        num_zero_relevant_database: queries with no relevant item in the
            whole database (R_q = 0), the ones recall metrics count or drop.
        num_queries: Q.
        num_database: N.
        protocol: protocol id, or None.
        pr_radius: optional dict of arrays `radius`, `precision`, `recall`,
            `empty_share` (radius 0..bits).
        pr_rank: optional dict of arrays `ks`, `precision`, `recall`.
    """

    metrics: dict
    bits: int
    k: Optional[int]
    tie_rule: str
    zero_relevant: str
    num_zero_relevant: int
    num_zero_relevant_database: int
    num_queries: int
    num_database: int
    protocol: Optional[str] = None
    pr_radius: Optional[dict] = None
    pr_rank: Optional[dict] = None

    def to_dict(self):
        """The record as JSON-ready Python values (lists, floats, None for NaN).

        Returns:
            dict with every field of the dataclass.
        """
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    def format_table(self):
        """A plain-text table of the metrics, headed by the conventions used.

        Returns:
            str, one metric per line.
        """
        protocol = self.protocol if self.protocol is not None else "none"
        lines = [
            f"protocol: {protocol} | {self.bits} bits | {self.num_queries} queries x "
            f"{self.num_database} database items",
            f"tie rule: {TIE_RULE_TEXT[self.tie_rule]}",
            f"zero-relevant: {ZERO_RELEVANT_TEXT[self.zero_relevant]}; "
            f"{self.num_zero_relevant} with none in the top K, "
            f"{self.num_zero_relevant_database} with none in the database",
        ]
        width = max([len(name) for name in self.metrics] + [6])
        lines.append(f"{'metric':<{width}}  value")
        for name, value in self.metrics.items():
            note = ""
            if name.startswith("P@r<="):
                note = "  (empty results count as precision 0)"
            lines.append(f"{name:<{width}}  {value:.4f}{note}")
        return "\n".join(lines)

    def __str__(self):
        return self.format_table()
