"""Tests for `hashzoo.index.HammingIndex`: exact (distance, id) order, equal
results from the faiss and numpy backends, range search and input errors."""

import numpy as np
import pytest

from hashzoo.codes import pack_codes
from hashzoo.index import HammingIndex
from hashzoo.metrics import faiss_knn

needs_faiss = pytest.mark.skipif(
    not faiss_knn.faiss_available(),
    reason="faiss-cpu is not installed; the numpy backend is tested on its own",
)

CODES = np.array(
    [
        [1, 1, 1, 1],
        [1, 1, -1, -1],
        [1, 1, 1, -1],
        [-1, -1, -1, -1],
        [1, -1, 1, 1],
        [1, 1, 1, 1],
    ]
)


def brute_force(queries, database):
    """Distances `[Q, N]` and the stable (distance, id) order by argsort."""
    bits = database.shape[1]
    distances = (bits - queries @ database.T) // 2
    return distances, np.argsort(distances, axis=1, kind="stable")


def tie_heavy(rng, bits, num_items, num_queries):
    """Codes with many exact duplicates and few distinct distances."""
    base = rng.choice([-1, 1], (7, bits))
    database = base[rng.integers(0, 7, num_items)]
    flip = rng.random(database.shape) < 0.05
    database = np.where(flip, -database, database)
    queries = base[rng.integers(0, 7, num_queries)]
    return database, queries


@pytest.mark.parametrize("backend", ["numpy", pytest.param("faiss", marks=needs_faiss)])
def test_search_by_hand(backend):
    index = HammingIndex(bits=4, backend=backend)
    index.add(CODES[:3])
    index.add(pack_codes(CODES[3:]))  # packed input appends too
    assert len(index) == 6 and index.backend == backend
    distances, ids = index.search(np.array([[1, 1, 1, 1], [-1, -1, -1, 1]]), k=4)
    assert distances.dtype == np.int32 and ids.dtype == np.int64
    # Ties come lowest id first: ids 0 and 5 share distance 0, 2 and 4 share 1;
    # for the second query 0, 1 and 5 tie at 3 and the boundary keeps 0 and 1.
    np.testing.assert_array_equal(distances, [[0, 0, 1, 1], [1, 2, 3, 3]])
    np.testing.assert_array_equal(ids, [[0, 5, 2, 4], [3, 4, 0, 1]])
    # k = len(index): the whole database in (distance, id) order.
    distances, ids = index.search(CODES[[0]], k=6)
    np.testing.assert_array_equal(ids, [[0, 5, 2, 4, 1, 3]])
    np.testing.assert_array_equal(distances, [[0, 0, 1, 1, 2, 4]])


@pytest.mark.parametrize("backend", ["numpy", pytest.param("faiss", marks=needs_faiss)])
def test_range_search_by_hand(backend):
    index = HammingIndex(bits=4, backend=backend)
    index.add(CODES)
    results = index.range_search(np.array([[1, 1, 1, 1], [-1, -1, 1, -1]]), radius=1)
    assert len(results) == 2
    (d0, i0), (d1, i1) = results
    np.testing.assert_array_equal(i0, [0, 5, 2, 4])
    np.testing.assert_array_equal(d0, [0, 0, 1, 1])
    np.testing.assert_array_equal(i1, [3])
    np.testing.assert_array_equal(d1, [1])
    assert d0.dtype == np.int32 and i0.dtype == np.int64
    (empty_d, empty_i), = index.range_search(np.array([[-1, 1, -1, 1]]), radius=0)
    assert empty_d.shape == (0,) and empty_i.shape == (0,)
    assert empty_d.dtype == np.int32 and empty_i.dtype == np.int64
    # A radius beyond the code length returns everything.
    (d_all, i_all), = index.range_search(CODES[[0]], radius=50)
    np.testing.assert_array_equal(i_all, [0, 5, 2, 4, 1, 3])


@pytest.mark.parametrize("bits", [5, 12, 64, 100])
def test_numpy_backend_matches_brute_force(bits):
    rng = np.random.default_rng(bits)
    database, queries = tie_heavy(rng, bits, 3000, 20)
    index = HammingIndex(bits, backend="numpy", memory_budget_bytes=50_000)
    index.add(database[:1000])
    index.add(database[1000:])
    want_d, want_order = brute_force(queries, database)
    for k in (1, 10, 700, 3000):
        distances, ids = index.search(queries, k)
        np.testing.assert_array_equal(ids, want_order[:, :k])
        np.testing.assert_array_equal(distances, np.take_along_axis(want_d, ids, axis=1))
    radius = bits // 5
    for (d, i), row in zip(index.range_search(queries, radius), want_d):
        inside = np.flatnonzero(row <= radius)
        order = np.argsort(row[inside], kind="stable")
        np.testing.assert_array_equal(i, inside[order])
        np.testing.assert_array_equal(d, row[inside][order])


@needs_faiss
@pytest.mark.parametrize("bits", [5, 12, 64, 100])
def test_faiss_and_numpy_return_the_same_ids(bits):
    rng = np.random.default_rng(100 + bits)
    database, queries = tie_heavy(rng, bits, 5000, 30)
    numpy_index = HammingIndex(bits, backend="numpy")
    faiss_index = HammingIndex(bits, backend="faiss")
    for part in (database[:1234], database[1234:]):
        numpy_index.add(part)
        faiss_index.add(part)
    for k in (1, 3, 64, 999, 5000):
        d_np, i_np = numpy_index.search(queries, k)
        d_fa, i_fa = faiss_index.search(queries, k)
        np.testing.assert_array_equal(i_fa, i_np)
        np.testing.assert_array_equal(d_fa, d_np)
    radius = bits // 4
    for (d_np, i_np), (d_fa, i_fa) in zip(
        numpy_index.range_search(queries, radius), faiss_index.range_search(queries, radius)
    ):
        np.testing.assert_array_equal(i_fa, i_np)
        np.testing.assert_array_equal(d_fa, d_np)


@needs_faiss
@pytest.mark.parametrize("use_heap", [True, False])
def test_faiss_raw_tie_order_is_stable(use_heap):
    """Pins faiss's undocumented order: raw `IndexBinaryFlat.search` output (no
    fix-up) already lists ties lowest id first, also at the top-k boundary.
    If a faiss release changes this, `ranking.sort_ties` still fixes the order
    inside tie groups, but the boundary selection would need a new fix-up."""
    import faiss

    rng = np.random.default_rng(7)
    database, queries = tie_heavy(rng, 16, 20000, 50)
    index = faiss.IndexBinaryFlat(16)
    index.add(pack_codes(database))
    index.use_heap = use_heap
    want_d, want_order = brute_force(queries, database)
    for k in (1, 10, 100, 2500):
        distances, ids = index.search(pack_codes(queries), k)
        np.testing.assert_array_equal(ids, want_order[:, :k])
        np.testing.assert_array_equal(distances, np.take_along_axis(want_d, ids, axis=1))


@needs_faiss
def test_faiss_range_search_radius_is_strict():
    """faiss keeps distances < radius; `HammingIndex` passes radius + 1."""
    import faiss

    index = faiss.IndexBinaryFlat(8)
    index.add(pack_codes(CODES[:, [0, 1, 2, 3, 0, 1, 2, 3]]))
    query = pack_codes(CODES[[0]][:, [0, 1, 2, 3, 0, 1, 2, 3]])
    _, distances, _ = index.range_search(query, 2)
    assert set(distances.tolist()) == {0}  # distance-2 items are left out


def test_packed_and_pm1_input_agree_for_12_bits():
    rng = np.random.default_rng(12)
    database = rng.choice([-1, 1], (500, 12))
    queries = rng.choice([-1, 1], (9, 12))
    a = HammingIndex(12, backend="numpy")
    a.add(database)
    b = HammingIndex(12, backend="numpy")
    b.add(pack_codes(database))
    for x, y in zip(a.search(queries, 15), b.search(pack_codes(queries), 15)):
        np.testing.assert_array_equal(x, y)


def test_auto_backend_picks_faiss_when_installed():
    index = HammingIndex(8)
    assert index.backend == ("faiss" if faiss_knn.faiss_available() else "numpy")
    assert index.bits == 8 and len(index) == 0


@pytest.mark.parametrize("backend", ["numpy", pytest.param("faiss", marks=needs_faiss)])
def test_bad_inputs_raise(backend):
    index = HammingIndex(4, backend=backend)
    with pytest.raises(ValueError, match=r"the index is empty"):
        index.search(CODES[:1], k=1)
    index.add(CODES)
    with pytest.raises(ValueError, match=r"k=7 is larger than the index \(6 codes\)"):
        index.search(CODES[:1], k=7)
    with pytest.raises(ValueError, match=r"`k` must be a positive integer \(>= 1\), got 0"):
        index.search(CODES[:1], k=0)
    with pytest.raises(ValueError, match=r"`radius` must be a non-negative integer \(>= 0\), got -1"):
        index.range_search(CODES[:1], radius=-1)
    with pytest.raises(ValueError, match=r"`queries` has 5 bits but bits=4 was given"):
        index.search(np.ones((1, 5)), k=1)
    with pytest.raises(ValueError, match=r"`codes` must hold only \+1 and -1, found \[2\]"):
        index.add(np.array([[1, 2, 1, 1]]))
    with pytest.raises(ValueError, match=r"the 4 padding bit\(s\) of the last byte must be 0"):
        index.add(np.array([[0xFF]], dtype=np.uint8))
    with pytest.raises(ValueError, match=r"`queries` is empty"):
        index.search(np.zeros((0, 4)), k=1)
    assert len(index) == 6  # failed adds left the index unchanged


def test_bad_constructor_arguments_raise():
    with pytest.raises(ValueError, match=r"`bits` must be a positive integer \(>= 1\), got 0"):
        HammingIndex(0)
    with pytest.raises(ValueError, match=r"`backend` must be one of \['auto', 'faiss', 'numpy'\], got 'gpu'"):
        HammingIndex(8, backend="gpu")


def test_missing_faiss_falls_back_or_raises(monkeypatch):
    monkeypatch.setattr(faiss_knn, "_FAISS", False)
    assert HammingIndex(8).backend == "numpy"
    with pytest.raises(ImportError, match=r"backend='faiss' needs faiss"):
        HammingIndex(8, backend="faiss")
