"""Tests for `hashzoo.metrics`: exact values by hand, against the brute-force
reference, against the mean over all tie orders, and input errors."""

import itertools
import json

import numpy as np
import pytest

from hashzoo import metrics
from hashzoo.codes import pack_codes
from hashzoo.metrics import faiss_knn, ranking, reference, tie_aware

BACKENDS = ["numpy", "faiss"] if faiss_knn.faiss_available() else ["numpy"]

# Query [1, 1, 1, 1] against five items at distances 1, 0, 1, 2, 1 with labels
# 1, 0, 0, 0, 1: the stable order is x1, x0, x2, x4, x3 (ties by index) and the
# relevance in that order is 1, 0, 1, 0, 1.
QUERY = np.array([[1, 1, 1, 1]])
QUERY_LABELS = np.array([0])
DB = np.array(
    [
        [1, 1, 1, -1],
        [1, 1, 1, 1],
        [1, 1, -1, 1],
        [-1, -1, 1, 1],
        [-1, 1, 1, 1],
    ]
)
DB_LABELS = np.array([1, 0, 0, 0, 1])


def ap_at(relevant, k):
    """AP@k of a ranked 0/1 list, normalised by the relevant in the top k."""
    found, total = 0, 0.0
    for rank in range(1, k + 1):
        if relevant[rank - 1]:
            found += 1
            total += found / rank
    return total / found if found else 0.0


def mean_ap_over_tie_orders(distances, relevant, k):
    """Mean AP@k over every order of the items inside each tie group."""
    groups = [np.flatnonzero(distances == d) for d in np.unique(distances)]
    values = []
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        ranking_ = np.concatenate([np.asarray(o, dtype=int) for o in orders])
        values.append(ap_at(relevant[ranking_], k))
    return float(np.mean(values))


def random_case(rng, multi_label, bits=None):
    bits = bits or int(rng.choice([3, 8, 12, 16, 64, 72]))
    num_queries, num_items = int(rng.integers(1, 12)), int(rng.integers(1, 60))
    query = rng.choice([-1, 1], (num_queries, bits))
    database = rng.choice([-1, 1], (num_items, bits))
    if multi_label:
        query_labels = rng.random((num_queries, 5)) < 0.3
        db_labels = rng.random((num_items, 5)) < 0.3
    else:
        query_labels = rng.integers(0, 4, num_queries)
        db_labels = rng.integers(0, 4, num_items)
    return query, query_labels, database, db_labels


# --- hand-computed values -----------------------------------------------------


def test_rank_stable_orders_ties_by_index():
    distances = np.array([[3, 1, 3, 0, 1], [2, 2, 2, 2, 2]], dtype=np.uint8)
    np.testing.assert_array_equal(
        metrics.rank_stable(distances), [[3, 1, 4, 0, 2], [0, 1, 2, 3, 4]]
    )
    np.testing.assert_array_equal(metrics.rank_stable(distances, k=2), [[3, 1], [0, 1]])
    np.testing.assert_array_equal(metrics.rank_stable(distances, k=99), metrics.rank_stable(distances))


def test_hand_computed_map_with_ties():
    d = metrics.hamming_distances(pack_codes(QUERY), pack_codes(DB))
    np.testing.assert_array_equal(d, [[1, 0, 1, 2, 1]])
    assert d.dtype == np.uint8
    args = (QUERY, QUERY_LABELS, DB, DB_LABELS)
    for backend in BACKENDS:
        assert metrics.mean_average_precision(*args, backend=backend) == pytest.approx(
            (1 + 2 / 3 + 3 / 5) / 3, abs=1e-15
        )
        assert metrics.mean_average_precision(*args, k=2, backend=backend) == 1.0
        assert metrics.mean_average_precision(*args, k=3, backend=backend) == pytest.approx(
            (1 + 2 / 3) / 2, abs=1e-15
        )
        assert metrics.precision_at_k(*args, k=2, backend=backend) == 0.5
        assert metrics.recall_at_k(*args, k=3, backend=backend) == pytest.approx(2 / 3)
    # Expected rule: the one relevant item of the distance-1 group sits at rank
    # 2, 3 or 4 with equal probability.
    want = np.mean([(1 + 2 / r + 3 / 5) / 3 for r in (2, 3, 4)])
    assert metrics.mean_average_precision(*args, tie_rule="expected") == pytest.approx(want, abs=1e-15)
    # P@2 under the expected rule: 1 + (1 of the 3 tied items) * 1/3.
    assert metrics.precision_at_k(*args, k=2, tie_rule="expected") == pytest.approx((1 + 1 / 3) / 2)


def test_radius_metrics_by_hand():
    args = (QUERY, QUERY_LABELS, DB, DB_LABELS)
    result = metrics.radius_precision_recall(*args, radius=1)
    # Within radius 1: x0, x1, x2, x4, of which x1 and x2 are relevant (of 3).
    assert result.precision == 0.5
    assert result.recall == pytest.approx(2 / 3)
    assert result.empty_share == 0.0
    far = metrics.radius_precision_recall(-QUERY, QUERY_LABELS, DB, DB_LABELS, radius=1)
    assert far == (0.0, 0.0, 1.0)


def test_zero_relevant_count_versus_drop():
    query = np.vstack([QUERY, QUERY])
    labels = np.array([0, 7])  # class 7 is not in the database
    args = (query, labels, DB, DB_LABELS)
    first = (1 + 2 / 3 + 3 / 5) / 3
    counted = metrics.evaluate(*args, ks=(3,))
    dropped = metrics.evaluate(*args, ks=(3,), zero_relevant="drop")
    assert counted.metrics["mAP@all"] == pytest.approx(first / 2)
    assert dropped.metrics["mAP@all"] == pytest.approx(first)
    assert counted.metrics["recall@3"] == pytest.approx((2 / 3) / 2)
    assert dropped.metrics["recall@3"] == pytest.approx(2 / 3)
    # Precision is defined for every query and keeps all of them.
    assert counted.metrics["P@3"] == dropped.metrics["P@3"] == pytest.approx((2 / 3) / 2)
    for result, policy in ((counted, "count"), (dropped, "drop")):
        assert result.zero_relevant == policy
        assert result.num_zero_relevant == 1
        assert result.num_zero_relevant_database == 1
    # R_q^K = 0 while R_q > 0: zero for the mAP, not for recall.
    top = metrics.evaluate(DB[[0]], QUERY_LABELS, DB, DB_LABELS, k=1, ks=())
    assert top.metrics["mAP@1"] == 0.0
    assert (top.num_zero_relevant, top.num_zero_relevant_database) == (1, 0)
    only_zero = metrics.mean_average_precision(
        QUERY, np.array([7]), DB, DB_LABELS, zero_relevant="drop"
    )
    assert np.isnan(only_zero)


def test_multi_label_relevance_and_unlabelled_items():
    db_labels = np.array(
        [[1, 0, 0], [0, 1, 1], [0, 0, 0], [0, 0, 1], [1, 1, 0]], dtype=bool
    )
    query_labels = np.array([[0, 1, 0], [0, 0, 0]], dtype=bool)
    rel = metrics.relevance_matrix(query_labels, db_labels)
    np.testing.assert_array_equal(rel, [[0, 1, 0, 0, 1], [0, 0, 0, 0, 0]])
    # Item 2 has no label: relevant to nothing, even to a query on its own code.
    query = DB[[2, 2]]
    result = metrics.evaluate(query, query_labels, DB, db_labels, ks=(5,))
    # Query 0 at distances [2, 1, 0, 3, 2] ranks 2, 1, 0, 4, 3: relevance 0, 1, 0, 1, 0,
    # so AP = (1/2 + 2/4) / 2; query 1 has no label and scores 0.
    assert result.metrics["mAP@all"] == pytest.approx((1 / 2 + 2 / 4) / 2 / 2)
    assert result.metrics["recall@5"] == pytest.approx(0.5)
    assert result.num_zero_relevant == 1
    # 0/1 integers work as multi-hot too.
    again = metrics.evaluate(query, query_labels.astype(int), DB, db_labels.astype(np.float32), ks=(5,))
    assert again.metrics == result.metrics


def test_k_larger_than_database_is_clamped():
    args = (QUERY, QUERY_LABELS, DB, DB_LABELS)
    full = metrics.mean_average_precision(*args)
    assert metrics.mean_average_precision(*args, k=5) == full
    assert metrics.mean_average_precision(*args, k=1000) == full
    assert metrics.mean_average_precision(*args, k="all") == full
    result = metrics.evaluate(*args, k=1000, ks=(1000,))
    assert result.k == 1000
    assert result.metrics["mAP@1000"] == full
    assert result.metrics["P@1000"] == pytest.approx(3 / 5)  # depth clamped to N = 5
    assert result.metrics["recall@1000"] == 1.0


def test_all_codes_tied():
    database = np.tile(QUERY, (6, 1))
    db_labels = np.array([1, 0, 1, 1, 0, 0])
    args = (QUERY, QUERY_LABELS, database, db_labels)
    relevant = (db_labels == 0).astype(int)
    for backend in BACKENDS:
        assert metrics.mean_average_precision(*args, backend=backend) == pytest.approx(
            ap_at(relevant, 6), abs=1e-15
        )
        assert metrics.mean_average_precision(*args, k=2, backend=backend) == 1.0 / 2
    distances = np.zeros(6, dtype=int)
    for k in (1, 2, 4, 6):
        assert metrics.mean_average_precision(*args, k=k, tie_rule="expected") == pytest.approx(
            mean_ap_over_tie_orders(distances, relevant, k), abs=1e-12
        )
    curve = metrics.pr_curve_over_radii(*args)
    np.testing.assert_allclose(curve["precision"], 0.5)
    np.testing.assert_allclose(curve["recall"], 1.0)
    np.testing.assert_array_equal(curve["empty_share"], 0.0)


def test_empty_radius_results():
    rng = np.random.default_rng(3)
    database = rng.choice([-1, 1], (40, 64))
    query = -database[:3]  # the complement sits at distance 64 from its source
    labels = rng.integers(0, 3, 40)
    result = metrics.evaluate(query, labels[:3], database, labels, radius=0)
    want = reference.reference_evaluate(query, labels[:3], database, labels, radii=(0,))
    assert result.metrics["empty@r<=0"] == want[("empty@r", 0)] == 1.0
    assert result.metrics["P@r<=0"] == 0.0
    assert result.metrics["R@r<=0"] == 0.0
    assert "empty results count as precision 0" in str(result)


def test_bits_not_multiple_of_eight():
    rng = np.random.default_rng(4)
    query, query_labels, database, db_labels = random_case(rng, False, bits=12)
    packed_q, packed_db = pack_codes(query), pack_codes(database)
    assert packed_q.shape[1] == 2
    plain = metrics.evaluate(query, query_labels, database, db_labels, k=5, ks=(3,))
    packed = metrics.evaluate(packed_q, query_labels, packed_db, db_labels, bits=12, k=5, ks=(3,))
    assert plain.metrics == packed.metrics
    assert packed.bits == 12
    want = reference.reference_evaluate(query, query_labels, database, db_labels, k=5)
    assert packed.metrics["mAP@5"] == pytest.approx(want["mAP"], abs=1e-12)
    d = metrics.hamming_distances(packed_q, packed_db, bits=12)
    np.testing.assert_array_equal(d, (12 - query @ database.T) // 2)


# --- against the brute-force reference and all tie orders ----------------------


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("zero_relevant", ["count", "drop"])
def test_every_metric_matches_reference(multi_label, zero_relevant):
    rng = np.random.default_rng(10 + multi_label)
    for trial in range(18):
        query, query_labels, database, db_labels = random_case(rng, multi_label)
        num_items = len(database)
        k = [None, 1, 3, num_items, num_items + 5, 1000][trial % 6]
        ks = (1, 4, 50)
        radii = (0, 2, 5)
        want = reference.reference_evaluate(
            query, query_labels, database, db_labels, k=k, ks=ks, radii=radii,
            zero_relevant=zero_relevant,
        )
        radius = radii[trial % len(radii)]
        for backend in BACKENDS:
            got = metrics.evaluate(
                query, query_labels, database, db_labels, k=k, ks=ks, radius=radius,
                zero_relevant=zero_relevant, backend=backend, memory_budget_bytes=4096,
            )
            name = "mAP@all" if k is None else f"mAP@{k}"
            pairs = [(got.metrics[name], want["mAP"])]
            pairs += [(got.metrics[f"P@{kk}"], want[("P", kk)]) for kk in ks]
            pairs += [(got.metrics[f"recall@{kk}"], want[("recall", kk)]) for kk in ks]
            pairs += [
                (got.metrics[f"P@r<={radius}"], want[("P@r", radius)]),
                (got.metrics[f"R@r<={radius}"], want[("R@r", radius)]),
                (got.metrics[f"empty@r<={radius}"], want[("empty@r", radius)]),
            ]
            for value, expected in pairs:
                np.testing.assert_allclose(value, expected, rtol=0, atol=1e-12)
            assert got.num_zero_relevant == want["num_zero_relevant"]


def test_pr_curves_match_reference():
    rng = np.random.default_rng(5)
    query, query_labels, database, db_labels = random_case(rng, True, bits=16)
    radii = metrics.pr_curve_over_radii(query, query_labels, database, db_labels)
    want = reference.reference_evaluate(
        query, query_labels, database, db_labels, radii=range(17), zero_relevant="count"
    )
    np.testing.assert_array_equal(radii["radius"], np.arange(17))
    np.testing.assert_allclose(radii["precision"], [want[("P@r", r)] for r in range(17)], atol=1e-12)
    np.testing.assert_allclose(radii["recall"], [want[("R@r", r)] for r in range(17)], atol=1e-12)
    np.testing.assert_allclose(radii["empty_share"], [want[("empty@r", r)] for r in range(17)])
    grid = metrics.default_rank_grid(len(database))
    assert grid[0] == 1 and grid[-1] == len(database)
    ranks = metrics.pr_curve_over_ranks(query, query_labels, database, db_labels)
    want = reference.reference_evaluate(query, query_labels, database, db_labels, ks=tuple(grid))
    np.testing.assert_array_equal(ranks["ks"], grid)
    np.testing.assert_allclose(ranks["precision"], [want[("P", k)] for k in grid], atol=1e-12)
    np.testing.assert_allclose(ranks["recall"], [want[("recall", k)] for k in grid], atol=1e-12)
    result = metrics.evaluate(query, query_labels, database, db_labels, pr_curves=True)
    np.testing.assert_allclose(result.pr_radius["precision"], radii["precision"])
    np.testing.assert_allclose(result.pr_rank["recall"], ranks["recall"])


def test_expected_rule_equals_mean_over_all_tie_orders():
    rng = np.random.default_rng(6)
    for _ in range(40):
        bits = int(rng.integers(1, 4))
        num_items = int(rng.integers(1, 8))
        database = rng.choice([-1, 1], (num_items, bits))
        query = rng.choice([-1, 1], (1, bits))
        db_labels = rng.integers(0, 2, num_items)
        distances = (bits - database @ query[0]) // 2
        relevant = (db_labels == 0).astype(int)
        for k in range(1, num_items + 1):
            got = metrics.mean_average_precision(
                query, [0], database, db_labels, k=k, tie_rule="expected"
            )
            assert got == pytest.approx(mean_ap_over_tie_orders(distances, relevant, k), abs=1e-12)


def test_expected_rule_on_larger_data_is_close_to_stable_and_bounded():
    rng = np.random.default_rng(7)
    query, query_labels, database, db_labels = random_case(rng, False, bits=64)
    stable = metrics.evaluate(query, query_labels, database, db_labels, k=10)
    expected = metrics.evaluate(
        query, query_labels, database, db_labels, k=10, tie_rule="expected"
    )
    assert expected.tie_rule == "expected"
    # 64-bit random codes rarely tie, so both rules agree closely.
    assert abs(expected.metrics["mAP@10"] - stable.metrics["mAP@10"]) < 0.05
    assert expected.metrics["P@r<=2"] == stable.metrics["P@r<=2"]


def test_harmonic_difference_is_accurate():
    for upper, lower in [(5, 0), (64, 63), (70, 3), (100_000, 99_990), (10**6, 10)]:
        exact = np.sum(1.0 / np.arange(lower + 1, upper + 1)[::-1])
        got = tie_aware.harmonic_difference(upper, lower)
        assert got == pytest.approx(exact, rel=1e-13)


# --- ranking internals ------------------------------------------------------------


def test_rank_stable_matches_argsort_on_large_rows():
    rng = np.random.default_rng(8)
    distances = rng.binomial(64, 0.5, (6, 30000)).astype(np.uint8)
    distances[2] = 7  # one row all tied
    for k in (1, 10, 100, 5000, 30000):
        np.testing.assert_array_equal(
            metrics.rank_stable(distances, k),
            np.argsort(distances, axis=1, kind="stable")[:, :k],
        )


def test_rank_stable_recovers_from_a_low_threshold_estimate():
    # Row 0: the strided sample holds 300 zeros, the full row only 300 (< k).
    # The first threshold is then too low and must be raised for that row only.
    num_items, k = 40000, 1000
    distances = np.full((3, num_items), 9, dtype=np.uint8)
    distances[0, 0 : 5 * 300 : 5] = 0
    distances[1] = np.arange(num_items) % 10
    distances[2, ::7] = 2
    want = np.argsort(distances, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(metrics.rank_stable(distances, k), want)
    ids, top = ranking.topk_stable(distances, k, 10)
    np.testing.assert_array_equal(top, np.take_along_axis(distances, want, axis=1))


def test_rank_stable_uint16_distances():
    rng = np.random.default_rng(9)
    distances = rng.integers(0, 400, (3, 500)).astype(np.uint16)
    np.testing.assert_array_equal(
        metrics.rank_stable(distances, 20), np.argsort(distances, axis=1, kind="stable")[:, :20]
    )


def test_sort_ties_fixes_out_of_order_tie_groups():
    dists = np.array([[0, 1, 1, 1, 2], [0, 0, 1, 2, 2]], dtype=np.int32)
    ids = np.array([[4, 9, 2, 5, 0], [1, 3, 0, 2, 4]], dtype=np.int64)
    fixed_d, fixed_i = ranking.sort_ties(dists.copy(), ids.copy())
    np.testing.assert_array_equal(fixed_i, [[4, 2, 5, 9, 0], [1, 3, 0, 2, 4]])
    np.testing.assert_array_equal(fixed_d, dists)


def test_hamming_distances_dtypes_and_values():
    rng = np.random.default_rng(11)
    for bits, dtype in ((7, np.uint8), (64, np.uint8), (255, np.uint8), (300, np.uint16)):
        query = rng.choice([-1, 1], (4, bits))
        database = rng.choice([-1, 1], (9, bits))
        d = metrics.hamming_distances(pack_codes(query), pack_codes(database), bits=bits)
        assert d.dtype == dtype
        np.testing.assert_array_equal(d, (bits - query @ database.T) // 2)


def test_small_memory_budget_streams_one_query_at_a_time():
    rng = np.random.default_rng(12)
    query, query_labels, database, db_labels = random_case(rng, False, bits=32)
    args = (query, query_labels, database, db_labels)
    for tie_rule in ("stable", "expected"):
        big = metrics.evaluate(*args, k=7, tie_rule=tie_rule, pr_curves=True)
        tiny = metrics.evaluate(*args, k=7, tie_rule=tie_rule, pr_curves=True, memory_budget_bytes=1)
        assert big.metrics == tiny.metrics
        np.testing.assert_array_equal(big.pr_radius["recall"], tiny.pr_radius["recall"])


# --- the result record ------------------------------------------------------------


def test_result_record_and_table():
    result = metrics.evaluate(
        QUERY, QUERY_LABELS, DB, DB_LABELS, k=3, ks=(2,), protocol="digits", pr_curves=True
    )
    assert list(result.metrics) == ["mAP@3", "P@2", "recall@2", "P@r<=2", "R@r<=2", "empty@r<=2"]
    record = json.loads(json.dumps(result.to_dict()))
    assert record["protocol"] == "digits"
    assert record["tie_rule"] == "stable" and record["zero_relevant"] == "count"
    assert record["metrics"]["mAP@3"] == pytest.approx((1 + 2 / 3) / 2)
    assert record["pr_radius"]["radius"] == [0, 1, 2, 3, 4]
    assert record["pr_rank"]["ks"] == [1, 2, 5]
    table = result.format_table()
    assert "tie rule: stable" in table and "zero-relevant: count" in table
    assert "mAP@3" in table and "0.8333" in table
    with pytest.raises(Exception):
        result.bits = 8  # frozen
    dropped = metrics.evaluate(QUERY, np.array([7]), DB, DB_LABELS, zero_relevant="drop")
    assert dropped.to_dict()["metrics"]["mAP@all"] is None  # NaN -> null in JSON


def test_protocol_record_must_agree_with_options():
    class Protocol:
        id = "imagenet100"
        k = 1000
        tie_rule = "stable"
        zero_relevant = "count"

    args = (QUERY, QUERY_LABELS, DB, DB_LABELS)
    assert metrics.evaluate(*args, k=1000, protocol=Protocol()).protocol == "imagenet100"
    with pytest.raises(ValueError, match="protocol 'imagenet100' uses k=1000 but k=None"):
        metrics.evaluate(*args, protocol=Protocol())
    with pytest.raises(ValueError, match="protocol id string"):
        metrics.evaluate(*args, protocol=3)


# --- input errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, r"`k` must be a positive integer \(>= 1\), got 0"),
        ({"k": "top"}, r"`k` must be None, 'all' or an integer >= 1, got 'top'"),
        ({"ks": (5, 0)}, r"`ks\[1\]` must be a positive integer \(>= 1\), got 0"),
        ({"radius": -1}, r"`radius` must be a non-negative integer \(>= 0\), got -1"),
        ({"radius": 1.5}, r"`radius` must be a non-negative integer, got 1.5"),
        ({"tie_rule": "random"}, r"`tie_rule` must be one of \['expected', 'stable'\], got 'random'"),
        ({"zero_relevant": "skip"}, r"`zero_relevant` must be one of \['count', 'drop'\], got 'skip'"),
        ({"backend": "gpu"}, r"`backend` must be one of .* got 'gpu'"),
        ({"memory_budget_bytes": 0}, r"`memory_budget_bytes` must be a positive integer"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.evaluate(QUERY, QUERY_LABELS, DB, DB_LABELS, **kwargs)


def test_bad_inputs_raise():
    args = (QUERY, QUERY_LABELS, DB, DB_LABELS)
    with pytest.raises(ValueError, match=r"`db_labels` has 4 rows but there are 5 items"):
        metrics.evaluate(QUERY, QUERY_LABELS, DB, DB_LABELS[:4])
    with pytest.raises(ValueError, match=r"`query_codes` is empty \(shape \(0, 1\)\)"):
        metrics.evaluate(np.zeros((0, 4), np.int8), np.zeros(0, int), DB, DB_LABELS)
    with pytest.raises(ValueError, match=r"`db_codes` is empty"):
        metrics.evaluate(QUERY, QUERY_LABELS, np.zeros((0, 4)), np.zeros(0, int))
    with pytest.raises(ValueError, match=r"must hold only \+1 and -1, found \[0\]"):
        metrics.evaluate(np.array([[1, 0, 1, 1]]), QUERY_LABELS, DB, DB_LABELS)
    with pytest.raises(ValueError, match=r"for 12-bit codes must have shape \[N, 2\], got \(5, 1\)"):
        metrics.evaluate(pack_codes(np.ones((1, 12))), [0], pack_codes(DB), DB_LABELS, bits=12)
    with pytest.raises(ValueError, match=r"`db_codes` has 4 bits but bits=8 was given"):
        metrics.evaluate(np.ones((1, 8)), [0], DB, DB_LABELS)
    with pytest.raises(ValueError, match=r"both be class ids \[N\] or both multi-hot"):
        metrics.evaluate(QUERY, np.array([[1, 0]]), DB, DB_LABELS)
    with pytest.raises(ValueError, match=r"have 2 classes but `db_labels` have 3"):
        metrics.evaluate(QUERY, np.ones((1, 2)), DB, np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"class ids must be >= 0, got -1"):
        metrics.mean_average_precision(*args[:3], np.array([0, 1, -1, 0, 0]))
    with pytest.raises(ValueError, match=r"`k` must be a positive integer \(>= 1\), got -3"):
        metrics.precision_at_k(*args, k=-3)
    with pytest.raises(ValueError, match=r"`k` must be a positive integer"):
        metrics.rank_stable(np.zeros((1, 3), np.uint8), k=0)
    with pytest.raises(ValueError, match=r"`distances` must lie in 0..65535, got values from -1"):
        metrics.rank_stable(np.array([[-1, 2]]))
    with pytest.raises(ValueError, match=r"`db_packed` has 2"):
        metrics.hamming_distances(np.zeros((1, 1), np.uint8), np.zeros((1, 2), np.uint8))
    with pytest.raises(ValueError, match=r"bits=20 does not match packed codes of 2 bytes"):
        metrics.hamming_distances(np.zeros((1, 2), np.uint8), np.zeros((1, 2), np.uint8), bits=20)
    with pytest.raises(ValueError, match=r"`ks` for the PR curve over ranks is empty"):
        metrics.pr_curve_over_ranks(*args, ks=())


def test_backends_agree_with_reference_on_tie_heavy_medium_data():
    # N = 6,000 puts small depths on the sampled-threshold top-K path, and 16-bit
    # codes drawn from 5 centres tie heavily, also at the top-K boundary.
    rng = np.random.default_rng(13)
    centres = rng.choice([-1, 1], (5, 16))
    db_classes = rng.integers(0, 5, 6000)
    database = np.where(rng.random((6000, 16)) < 0.1, -centres[db_classes], centres[db_classes])
    query_classes = np.arange(6) % 5
    query = centres[query_classes]
    db_labels = db_classes % 3
    query_labels = query_classes % 3
    want = reference.reference_evaluate(
        query, query_labels, database, db_labels, k=100, ks=(10, 500), radii=(3,)
    )
    for backend in BACKENDS:
        got = metrics.evaluate(
            query, query_labels, database, db_labels, k=100, ks=(10, 500), radius=3,
            backend=backend,
        )
        assert got.metrics["mAP@100"] == pytest.approx(want["mAP"], abs=1e-12)
        assert got.metrics["P@10"] == pytest.approx(want[("P", 10)], abs=1e-12)
        assert got.metrics["recall@500"] == pytest.approx(want[("recall", 500)], abs=1e-12)
        assert got.metrics["P@r<=3"] == pytest.approx(want[("P@r", 3)], abs=1e-12)
        assert got.metrics["R@r<=3"] == pytest.approx(want[("R@r", 3)], abs=1e-12)


def test_missing_faiss_falls_back_or_raises(monkeypatch):
    monkeypatch.setattr(faiss_knn, "_FAISS", False)
    assert not faiss_knn.faiss_available()
    args = (QUERY, QUERY_LABELS, DB, DB_LABELS)
    assert metrics.mean_average_precision(*args, k=1) == 1.0  # "auto" uses numpy
    with pytest.raises(ImportError, match=r"backend='faiss' needs faiss: `pip install faiss-cpu`"):
        metrics.mean_average_precision(*args, k=1, backend="faiss")
