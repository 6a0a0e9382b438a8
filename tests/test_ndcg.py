"""Tests for NDCG@K with graded relevance (`hashzoo.metrics.ndcg_at_k`, `evaluate(ndcg_ks=...)`).

Exact values written out by hand, the streaming path against the brute-force
reference (`hashzoo.metrics.reference.reference_ndcg`) on tie-heavy data and
several query block sizes, the expected tie rule against the mean over all tie
orders, and input errors.
"""

import itertools
import math

import numpy as np
import pytest

from hashzoo import metrics
from hashzoo.metrics import faiss_knn, ndcg, reference

BACKENDS = ["numpy", "faiss"] if faiss_knn.faiss_available() else ["numpy"]
LOG2_3 = math.log2(3)

# Query [1, 1, 1, 1] with labels {0, 1}. Items at distances 0, 1, 2, so the
# stable ranking is item 0, 1, 2:
#   item 0: labels {0, 1}  -> shared 2, jaccard 2/2 = 1
#   item 1: labels {2}     -> shared 0, jaccard 0/3 = 0
#   item 2: labels {0, 2}  -> shared 1, jaccard 1/3
QUERY = np.array([[1, 1, 1, 1]])
QUERY_LABELS = np.array([[1, 1, 0]])
DB = np.array([[1, 1, 1, 1], [1, 1, 1, -1], [1, 1, -1, -1]])
DB_LABELS = np.array([[1, 1, 0], [0, 0, 1], [1, 0, 1]])


# --- hand-computed values -------------------------------------------------------


def test_shared_gain_by_hand():
    # Ranked gains (2, 0, 1); the ideal order is (2, 1, 0).
    # DCG@3 = 2/log2(2) + 0/log2(3) + 1/log2(4) = 2 + 0 + 0.5 = 2.5
    # IDCG@3 = 2/log2(2) + 1/log2(3) + 0 = 2.6309...
    dcg3 = 2.0 + 0.0 + 0.5
    idcg3 = 2.0 + 1.0 / LOG2_3
    got = metrics.ndcg_at_k(QUERY, QUERY_LABELS, DB, DB_LABELS, k=3)
    assert got == pytest.approx(dcg3 / idcg3, abs=1e-15)
    assert got == pytest.approx(0.9502344, abs=1e-7)
    # K = 2: DCG@2 = 2, IDCG@2 = 2 + 1/log2(3).
    got = metrics.ndcg_at_k(QUERY, QUERY_LABELS, DB, DB_LABELS, k=2)
    assert got == pytest.approx(2.0 / (2.0 + 1.0 / LOG2_3), abs=1e-15)
    assert got == pytest.approx(0.7601875, abs=1e-7)
    # K = 1: the best item is first, NDCG@1 = 2 / 2.
    assert metrics.ndcg_at_k(QUERY, QUERY_LABELS, DB, DB_LABELS, k=1) == 1.0


def test_jaccard_gain_by_hand():
    # Ranked gains (1, 0, 1/3); ideal (1, 1/3, 0).
    # DCG@3 = 1 + 0 + (1/3)/2 = 7/6;  IDCG@3 = 1 + (1/3)/log2(3) = 1.2103...
    want = (7 / 6) / (1.0 + (1 / 3) / LOG2_3)
    got = metrics.ndcg_at_k(QUERY, QUERY_LABELS, DB, DB_LABELS, k=3, gain="jaccard")
    assert got == pytest.approx(want, abs=1e-15)
    assert got == pytest.approx(0.9639404, abs=1e-7)
    # Not the "shared" value: Jaccard weighs item 2's single shared label by its union.
    assert abs(got - metrics.ndcg_at_k(QUERY, QUERY_LABELS, DB, DB_LABELS, k=3)) > 0.01


def test_class_ids_give_binary_gains_by_hand():
    # Distances 1, 0, 1, 2, 1 with classes 1, 0, 0, 0, 1 for a class-0 query:
    # stable order x1, x0, x2, x4, x3 with gains 1, 0, 1, 0, 1; R_q = 3.
    query_labels, db_labels = np.array([0]), np.array([1, 0, 0, 0, 1])
    database = np.array([[1, 1, 1, -1], [1, 1, 1, 1], [1, 1, -1, 1], [-1, -1, 1, 1], [-1, 1, 1, 1]])
    idcg = 1.0 + 1.0 / LOG2_3 + 1.0 / 2.0  # three gains of 1 at ranks 1..3
    want3 = (1.0 + 0.0 + 1.0 / 2.0) / idcg  # = 0.7039...
    want5 = (1.0 + 1.0 / 2.0 + 1.0 / math.log2(6)) / idcg  # = 0.8855...
    for gain in metrics.GAINS:  # "jaccard" of one class against one class is also 1 / 0
        args = (QUERY, query_labels, database, db_labels)
        assert metrics.ndcg_at_k(*args, k=3, gain=gain) == pytest.approx(want3, abs=1e-15)
        assert metrics.ndcg_at_k(*args, k=5, gain=gain) == pytest.approx(want5, abs=1e-15)
    assert want3 == pytest.approx(0.7039180, abs=1e-7)
    assert want5 == pytest.approx(0.8854599, abs=1e-7)


def test_ties_use_the_stable_rule_and_the_expected_rule_averages_them():
    # All three items tie at distance 1; in index order their gains are 0, 2, 1.
    database = np.array([[1, 1, 1, -1], [1, 1, -1, 1], [1, -1, 1, 1]])
    db_labels = np.array([[0, 0, 1], [1, 1, 0], [1, 0, 0]])
    args = (QUERY, QUERY_LABELS, database, db_labels)
    idcg2 = 2.0 + 1.0 / LOG2_3
    # Stable: ranks 1, 2 hold gains 0, 2 -> DCG@2 = 2 / log2(3).
    assert metrics.ndcg_at_k(*args, k=2) == pytest.approx((2.0 / LOG2_3) / idcg2, abs=1e-15)
    # Expected: every rank holds the group's mean gain (0 + 2 + 1) / 3 = 1.
    want = (1.0 + 1.0 / LOG2_3) / idcg2
    assert metrics.ndcg_at_k(*args, k=2, tie_rule="expected") == pytest.approx(want, abs=1e-15)
    assert want == pytest.approx(0.6199062, abs=1e-7)


def test_k_above_the_database_is_clamped():
    args = (QUERY, QUERY_LABELS, DB, DB_LABELS)
    at_n = metrics.ndcg_at_k(*args, k=3)
    for k in (4, 1000, None, "all"):
        assert metrics.ndcg_at_k(*args, k=k) == at_n
    result = metrics.evaluate(*args, ndcg_ks=(2, 1000), radius=None)
    assert result.metrics["NDCG@1000"] == at_n  # keeps the requested name, like mAP@K
    assert result.metrics["NDCG@2"] == metrics.ndcg_at_k(*args, k=2)


def test_zero_relevance_queries_under_both_policies():
    # Query 0 shares labels as above; query 1 has no labels; query 2 has label
    # {3}, which no item carries. Both have IDCG = 0.
    query = np.repeat(QUERY, 3, axis=0)
    query_labels = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    db_labels = np.pad(DB_LABELS, ((0, 0), (0, 1)))
    first = metrics.ndcg_at_k(QUERY, QUERY_LABELS, DB, DB_LABELS, k=3)
    for gain in metrics.GAINS:
        counted = metrics.ndcg_at_k(query, query_labels, DB, db_labels, k=3, gain=gain)
        dropped = metrics.ndcg_at_k(
            query, query_labels, DB, db_labels, k=3, gain=gain, zero_relevant="drop"
        )
        one = metrics.ndcg_at_k(QUERY, QUERY_LABELS, DB, DB_LABELS, k=3, gain=gain)
        assert counted == pytest.approx(one / 3, abs=1e-15)
        assert dropped == pytest.approx(one, abs=1e-15)
    assert metrics.ndcg_at_k(query, query_labels, DB, db_labels, k=3) == pytest.approx(first / 3)
    # Only zero-relevance queries: 0 when counted, NaN when dropped.
    args = (query[1:], query_labels[1:], DB, db_labels)
    assert metrics.ndcg_at_k(*args, k=3) == 0.0
    assert math.isnan(metrics.ndcg_at_k(*args, k=3, zero_relevant="drop"))
    # Class ids: a class missing from the database.
    assert metrics.ndcg_at_k(QUERY, [7], DB, [0, 1, 0], k=2) == 0.0
    assert math.isnan(metrics.ndcg_at_k(QUERY, [7], DB, [0, 1, 0], k=2, zero_relevant="drop"))
    result = metrics.evaluate(*args, ndcg_ks=(3,), zero_relevant="drop", radius=None)
    assert math.isnan(result.metrics["NDCG@3"])
    assert result.num_zero_relevant_database == 2


# --- against the brute-force reference and all tie orders --------------------------


def tie_heavy_case(rng, multi_label, num_items, bits, num_classes=6):
    """Codes drawn near a few centres (many ties, also at top-K boundaries)."""
    centres = rng.choice([-1, 1], (4, bits))
    db_centre = rng.integers(0, 4, num_items)
    database = np.where(rng.random((num_items, bits)) < 0.15, -centres[db_centre], centres[db_centre])
    num_queries = int(rng.integers(1, 9))
    query = centres[rng.integers(0, 4, num_queries)]
    if multi_label:
        query_labels = rng.random((num_queries, num_classes)) < 0.35
        db_labels = rng.random((num_items, num_classes)) < 0.35
    else:
        query_labels = rng.integers(0, num_classes, num_queries)
        db_labels = rng.integers(0, num_classes, num_items)
    return query, query_labels, database, db_labels


@pytest.mark.parametrize("multi_label", [True, False])
@pytest.mark.parametrize("gain", ["shared", "jaccard"])
def test_streamed_matches_brute_force_on_tie_heavy_data(multi_label, gain):
    rng = np.random.default_rng(20 + multi_label)
    for trial in range(8):
        num_items = int(rng.integers(1, 80))
        bits = int(rng.choice([2, 4, 8, 70]))
        query, query_labels, database, db_labels = tie_heavy_case(rng, multi_label, num_items, bits)
        ks = (1, 3, num_items, num_items + 4, 50)
        want = {
            (k, policy): reference.reference_ndcg(
                query, query_labels, database, db_labels, k=k, gain=gain, zero_relevant=policy
            )
            for k in ks
            for policy in ("count", "drop")
        }
        for budget, backend, policy in itertools.product(
            (1, 2000, metrics.DEFAULT_MEMORY_BUDGET), BACKENDS, ("count", "drop")
        ):
            options = {"memory_budget_bytes": budget, "backend": backend, "zero_relevant": policy}
            result = metrics.evaluate(
                query, query_labels, database, db_labels, ks=(), radius=None, ndcg_ks=ks,
                ndcg_gain=gain, **options,
            )
            prefix = "NDCG" if gain == "shared" else "NDCG-jaccard"
            for k in ks:
                np.testing.assert_allclose(
                    result.metrics[f"{prefix}@{k}"], want[(k, policy)], rtol=0, atol=1e-12
                )
            single = metrics.ndcg_at_k(
                query, query_labels, database, db_labels, ks[trial % len(ks)], gain=gain, **options
            )
            np.testing.assert_allclose(single, want[(ks[trial % len(ks)], policy)], rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_medium_database_takes_the_top_k_path_and_matches_brute_force(backend):
    # N = 3,000 puts K = 20 on the sampled-threshold top-K selection (and on
    # faiss under "auto" with it installed); 16-bit codes from 4 centres tie heavily.
    rng = np.random.default_rng(23)
    query, query_labels, database, db_labels = tie_heavy_case(rng, True, 3000, 16, num_classes=10)
    query, query_labels = np.tile(query, (3, 1)), np.tile(query_labels, (3, 1))
    for gain in metrics.GAINS:
        want = reference.reference_ndcg(query, query_labels, database, db_labels, k=20, gain=gain)
        for budget in (40_000, metrics.DEFAULT_MEMORY_BUDGET):  # one query per block, then one block
            got = metrics.ndcg_at_k(
                query, query_labels, database, db_labels, k=20, gain=gain, backend=backend,
                memory_budget_bytes=budget,
            )
            assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("gain", ["shared", "jaccard"])
def test_ideal_dcg_by_sorting_gains_equals_counting_gain_keys(gain, monkeypatch):
    # IDCG counts items per (shared, union) key when keys are few; with many
    # distinct gains it sorts them per label set instead. Both give the reference.
    rng = np.random.default_rng(26)
    query, query_labels, database, db_labels = tie_heavy_case(rng, True, 300, 12, num_classes=9)
    ks = (1, 10, 299, 300)
    want = [
        reference.reference_ndcg(query, query_labels, database, db_labels, k=k, gain=gain)
        for k in ks
    ]
    counting = metrics.evaluate(
        query, query_labels, database, db_labels, ndcg_ks=ks, ndcg_gain=gain, radius=None
    )
    original = ndcg.GainTable.__init__

    def sorting_init(self, labels, gain):
        original(self, labels, gain)
        assert self.use_keys
        self.use_keys = False

    monkeypatch.setattr(ndcg.GainTable, "__init__", sorting_init)
    sorting = metrics.evaluate(
        query, query_labels, database, db_labels, ndcg_ks=ks, ndcg_gain=gain, radius=None,
        memory_budget_bytes=50_000,
    )
    prefix = "NDCG" if gain == "shared" else "NDCG-jaccard"
    for k, value in zip(ks, want):
        assert counting.metrics[f"{prefix}@{k}"] == pytest.approx(value, abs=1e-12)
        assert sorting.metrics[f"{prefix}@{k}"] == pytest.approx(value, abs=1e-12)


def mean_dcg_ratio_over_tie_orders(distances, gains, k):
    """Mean over every order inside each tie group of DCG@k, over the ideal DCG@k."""
    groups = [np.flatnonzero(distances == d) for d in np.unique(distances)]
    ideal = reference.reference_dcg(sorted(gains, reverse=True), k)
    values = []
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        ranking = np.concatenate([np.asarray(o, dtype=int) for o in orders])
        values.append(reference.reference_dcg(gains[ranking], k) / ideal if ideal > 0 else 0.0)
    return float(np.mean(values))


@pytest.mark.parametrize("gain", ["shared", "jaccard"])
def test_expected_rule_equals_mean_over_all_tie_orders(gain):
    rng = np.random.default_rng(24)
    for _ in range(30):
        bits = int(rng.integers(1, 4))
        num_items = int(rng.integers(1, 8))
        database = rng.choice([-1, 1], (num_items, bits))
        query = rng.choice([-1, 1], (1, bits))
        query_labels = rng.random((1, 4)) < 0.6
        db_labels = rng.random((num_items, 4)) < 0.5
        distances = (bits - database @ query[0]) // 2
        gains = reference.reference_gains(query_labels[0], db_labels, gain)
        for k in range(1, num_items + 2):
            got = metrics.ndcg_at_k(
                query, query_labels, database, db_labels, k=k, gain=gain, tie_rule="expected",
                memory_budget_bytes=int(rng.choice([1, 10**6])),
            )
            want = mean_dcg_ratio_over_tie_orders(distances, gains, min(k, num_items))
            assert got == pytest.approx(want, abs=1e-12)


# --- evaluate ----------------------------------------------------------------------


def test_evaluate_without_ndcg_is_unchanged_and_with_it_adds_named_entries():
    rng = np.random.default_rng(25)
    query, query_labels, database, db_labels = tie_heavy_case(rng, True, 60, 8)
    args = (query, query_labels, database, db_labels)
    plain = metrics.evaluate(*args, k=10, ks=(5,))
    assert list(plain.metrics) == ["mAP@10", "P@5", "recall@5", "P@r<=2", "R@r<=2", "empty@r<=2"]
    assert metrics.evaluate(*args, k=10, ks=(5,), ndcg_ks=()).to_dict() == plain.to_dict()
    with_ndcg = metrics.evaluate(*args, k=10, ks=(5,), ndcg_ks=(5, 20))
    assert list(with_ndcg.metrics) == [
        "mAP@10", "P@5", "recall@5", "NDCG@5", "NDCG@20", "P@r<=2", "R@r<=2", "empty@r<=2",
    ]
    for name, value in plain.metrics.items():
        assert with_ndcg.metrics[name] == value
    assert with_ndcg.metrics["NDCG@20"] == metrics.ndcg_at_k(*args, k=20)
    jaccard = metrics.evaluate(*args, ks=(), radius=None, ndcg_ks=7, ndcg_gain="jaccard")
    assert list(jaccard.metrics) == ["mAP@all", "NDCG-jaccard@7"]
    assert jaccard.metrics["NDCG-jaccard@7"] == metrics.ndcg_at_k(*args, k=7, gain="jaccard")
    expected = metrics.evaluate(*args, ks=(), radius=None, ndcg_ks=(7,), tie_rule="expected")
    assert expected.metrics["NDCG@7"] == metrics.ndcg_at_k(*args, k=7, tie_rule="expected")
    assert "NDCG@7" in expected.format_table()


def test_graded_relevance_separates_what_binary_relevance_cannot():
    # Two databases, identical for binary relevance (every item shares a label),
    # ranked so that the item sharing two labels comes last or first.
    query_labels = np.array([[1, 1, 0]])
    worse = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    better = worse[::-1]
    database = np.array([[1, 1], [1, -1], [-1, -1]])
    query = np.array([[1, 1]])
    for db_labels in (worse, better):
        assert metrics.mean_average_precision(query, query_labels, database, db_labels) == 1.0
    low = metrics.ndcg_at_k(query, query_labels, database, worse, k=3)
    high = metrics.ndcg_at_k(query, query_labels, database, better, k=3)
    assert high == pytest.approx(1.0, abs=1e-15) and low < 0.9


# --- input errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, r"`k` must be a positive integer \(>= 1\), got 0"),
        ({"k": "top"}, r"`k` must be None, 'all' or an integer >= 1, got 'top'"),
        ({"k": 2.5}, r"`k` must be a positive integer, got 2.5"),
        ({"gain": "cosine"}, r"`gain` must be one of \['jaccard', 'shared'\], got 'cosine'"),
        ({"tie_rule": "random"}, r"`tie_rule` must be one of \['expected', 'stable'\], got 'random'"),
        ({"zero_relevant": "skip"}, r"`zero_relevant` must be one of \['count', 'drop'\], got 'skip'"),
        ({"backend": "gpu"}, r"`backend` must be one of .* got 'gpu'"),
        ({"memory_budget_bytes": 0}, r"`memory_budget_bytes` must be a positive integer"),
    ],
)
def test_bad_arguments_raise_naming_the_value_and_the_allowed_ones(kwargs, message):
    options = {"k": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        metrics.ndcg_at_k(QUERY, QUERY_LABELS, DB, DB_LABELS, **options)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ndcg_ks": (5, 0)}, r"`ndcg_ks\[1\]` must be a positive integer \(>= 1\), got 0"),
        ({"ndcg_ks": (5, 2.5)}, r"`ndcg_ks\[1\]` must be a positive integer, got 2.5"),
        ({"ndcg_ks": (5,), "ndcg_gain": "dice"},
         r"`ndcg_gain` must be one of \['jaccard', 'shared'\], got 'dice'"),
    ],
)
def test_evaluate_rejects_bad_ndcg_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.evaluate(QUERY, QUERY_LABELS, DB, DB_LABELS, **kwargs)


def test_bad_labels_raise():
    with pytest.raises(ValueError, match=r"both be class ids \[N\] or both multi-hot"):
        metrics.ndcg_at_k(QUERY, [0], DB, DB_LABELS, k=2)
    with pytest.raises(ValueError, match=r"`db_labels` has 2 rows but there are 3 items"):
        metrics.ndcg_at_k(QUERY, QUERY_LABELS, DB, DB_LABELS[:2], k=2)
