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
    with pytest.raises(ValueError, match=r"`backend` must be one of \['auto', 'faiss', 'milvus', 'numpy'\], got 'gpu'"):
        HammingIndex(8, backend="gpu")


def test_missing_faiss_falls_back_or_raises(monkeypatch):
    monkeypatch.setattr(faiss_knn, "_FAISS", False)
    assert HammingIndex(8).backend == "numpy"
    with pytest.raises(ImportError, match=r"backend='faiss' needs faiss"):
        HammingIndex(8, backend="faiss")


# -- user ids and persistence ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", pytest.param("faiss", marks=needs_faiss)])
def test_user_ids_and_save_load(backend, tmp_path):
    rng = np.random.default_rng(5)
    database, queries = tie_heavy(rng, 24, 3000, 12)
    user_ids = 10_000 - 3 * np.arange(3000)  # decreasing: ties still follow insertion order
    plain = HammingIndex(24, backend=backend)
    plain.add(database)
    index = HammingIndex(24, backend=backend)
    index.add(database[:1000], user_ids[:1000])
    index.add(pack_codes(database[1000:]), user_ids[1000:])
    d_plain, i_plain = plain.search(queries, 50)
    d_user, i_user = index.search(queries, 50)
    np.testing.assert_array_equal(d_user, d_plain)
    np.testing.assert_array_equal(i_user, user_ids[i_plain])
    for (d0, i0), (d1, i1) in zip(plain.range_search(queries, 3), index.range_search(queries, 3)):
        np.testing.assert_array_equal(d1, d0)
        np.testing.assert_array_equal(i1, user_ids[i0])
    path = index.save(tmp_path / "codes.npz")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    again = HammingIndex.load(path, backend="numpy")
    assert len(again) == 3000 and again.bits == 24
    for x, y in zip(again.search(queries, 50), (d_user, i_user)):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match=r"`ids` must have shape \[2\]"):
        index.add(database[:2], [1, 2, 3])
    with pytest.raises(ValueError, match=r"cannot read index file .*missing.npz"):
        HammingIndex.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match=r"is not a hashzoo exact index file"):
        HammingIndex.load(tmp_path / "other.npz")


# -- Milvus (milvus-lite) ------------------------------------------------------------------


def _milvus_lite_or_skip():
    """Skips with the reason when milvus-lite cannot run here (the `.[milvus]` extra, Linux/macOS)."""
    from hashzoo.index import milvus_available

    if not milvus_available():
        pytest.skip("pymilvus is not installed: `pip install 'hashzoo[milvus]'` (part of `.[dev]`)")
    try:
        import milvus_lite  # noqa: F401
    except ImportError as error:
        pytest.skip(f"milvus-lite cannot be imported here ({error}); it has wheels for Linux and macOS only")


def test_a_local_milvus_file_waits_longer_for_its_server_than_a_remote_uri(monkeypatch):
    """milvus-lite starts a server process per file; pymilvus's default 10 s connect wait failed once on a busy
    CI machine, so local files get `LOCAL_CONNECT_TIMEOUT_S`; a server URI keeps pymilvus's default."""
    from hashzoo.index import milvus_available, milvus_store

    if not milvus_available():
        pytest.skip("pymilvus is not installed: `pip install 'hashzoo[milvus]'` (part of `.[dev]`)")
    import pymilvus

    seen = []
    monkeypatch.setattr(pymilvus, "MilvusClient", lambda uri, **kwargs: seen.append((uri, kwargs)))
    milvus_store._client("/data/codes.db", None)
    milvus_store._client("http://search.internal:19530", "user:secret")
    assert seen == [("/data/codes.db", {"timeout": milvus_store.LOCAL_CONNECT_TIMEOUT_S}),
                    ("http://search.internal:19530", {"token": "user:secret"})]
    assert milvus_store.LOCAL_CONNECT_TIMEOUT_S > 10


def test_milvus_equals_numpy_and_faiss_on_ties(tmp_path):
    """Tie-heavy codes, inserted in small batches: ids, distances and tie order equal numpy's,
    also at the top-k boundary, for range search, user ids, and after reopening the collection."""
    _milvus_lite_or_skip()
    rng = np.random.default_rng(21)
    database, queries = tie_heavy(rng, 20, 6000, 25)
    user_ids = np.arange(6000)[::-1].copy()
    reference = HammingIndex(20, backend="numpy")
    reference.add(database, user_ids)
    uri = str(tmp_path / "codes.db")
    index = HammingIndex(20, backend="milvus", uri=uri, collection="ties", batch_size=700)
    index.add(database[:2500], user_ids[:2500])
    index.add(pack_codes(database[2500:]), user_ids[2500:])
    assert len(index) == 6000 and index.backend == "milvus" and index.exact
    for k in (1, 10, 333, 2000):
        for got, want in zip(index.search(queries, k), reference.search(queries, k)):
            np.testing.assert_array_equal(got, want)
    for (d0, i0), (d1, i1) in zip(reference.range_search(queries, 2), index.range_search(queries, 2)):
        np.testing.assert_array_equal(d1, d0)
        np.testing.assert_array_equal(i1, i0)
    index.save()  # flush
    index.close()
    reopened = HammingIndex(20, backend="milvus", uri=uri, collection="ties")
    assert len(reopened) == 6000
    np.testing.assert_array_equal(reopened.ids(), user_ids)
    for got, want in zip(reopened.search(queries, 10), reference.search(queries, 10)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"not a 32-dimension hashzoo index"):
        HammingIndex(32, backend="milvus", uri=uri, collection="ties")
    with pytest.raises(ValueError, match=r"milvus-lite .* supports BIN_FLAT only"):
        from hashzoo.index import ApproximateHammingIndex

        ApproximateHammingIndex(20, kind="milvus-ivf", uri=uri)
    reopened.close()


def test_milvus_equals_faiss_on_100k_codes(tmp_path):
    """The issue's bar: 100,000 64-bit codes from a few clusters, 300 queries, top-10 and top-100."""
    _milvus_lite_or_skip()
    rng = np.random.default_rng(100)
    centres = rng.choice([-1, 1], (50, 64))
    database = centres[rng.integers(0, 50, 100_000)]
    database = np.where(rng.random(database.shape) < 0.1, -database, database)
    queries = np.where(rng.random((300, 64)) < 0.1, -1, 1) * centres[rng.integers(0, 50, 300)]
    packed = pack_codes(database)
    exact = HammingIndex(64, backend="faiss" if faiss_knn.faiss_available() else "numpy")
    exact.add(packed)
    index = HammingIndex(64, backend="milvus", uri=str(tmp_path / "big.db"), batch_size=5000)
    index.add(packed)
    for k in (10, 100):
        for got, want in zip(index.search(queries, k), exact.search(queries, k)):
            np.testing.assert_array_equal(got, want)
    for (d0, i0), (d1, i1) in zip(exact.range_search(queries[:50], 8), index.range_search(queries[:50], 8)):
        np.testing.assert_array_equal(i1, i0)
        np.testing.assert_array_equal(d1, d0)
    index.close()


def test_milvus_backend_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"pass `uri`"):
        HammingIndex(8, backend="milvus")
    with pytest.raises(ValueError, match=r"pass `uri`"):
        HammingIndex(8, backend="numpy", uri=str(tmp_path / "x.db"))
    from hashzoo.index import milvus_store

    monkeypatch.setitem(__import__("sys").modules, "pymilvus", None)
    with pytest.raises(ImportError, match=r"pip install 'hashzoo\[milvus\]'"):
        HammingIndex(8, backend="milvus", uri=str(tmp_path / "x.db"))
    assert not milvus_store.milvus_available()


# -- approximate indexes and the recall helper ----------------------------------------------


def clustered(rng, bits, num_items, num_queries, noise=0.06):
    """Codes near 64 random centres, like a trained model's codes of 64 classes."""
    centres = rng.choice([-1, 1], (64, bits))
    database = centres[rng.integers(0, 64, num_items)]
    queries = centres[rng.integers(0, 64, num_queries)]
    flip = lambda x: np.where(rng.random(x.shape) < noise, -x, x)  # noqa: E731
    return flip(database), flip(queries)


@needs_faiss
@pytest.mark.parametrize("kind, settings", [("ivf", {"nlist": 32, "nprobe": 4}), ("hnsw", {"ef_search": 64})])
def test_approximate_recall_and_persistence(kind, settings, tmp_path):
    from hashzoo.index import ApproximateHammingIndex, make_index, measure_recall

    rng = np.random.default_rng(3)
    database, queries = clustered(rng, 64, 8000, 100)
    index = make_index(64, kind, **settings)
    assert isinstance(index, ApproximateHammingIndex) and not index.exact
    ids = np.arange(8000) * 7 + 3
    index.add(database[:6000], ids[:6000])
    index.add(database[6000:], ids[6000:])
    report = measure_recall(index, database, queries, k=10, ids=ids)
    assert report["recall"] >= 0.9, report
    assert 0 <= report["id_recall"] <= report["recall"] + 1e-9
    distances, found = index.search(queries, 10)
    assert (np.diff(distances, axis=1) >= 0).all() and np.isin(found, ids).all()
    again = ApproximateHammingIndex.load(index.save(tmp_path / f"{kind}.npz"))
    for x, y in zip(again.search(queries, 10), (distances, found)):
        np.testing.assert_array_equal(x, y)
    # More effort can only help on the same index (IVF: all cells = exact answers).
    if kind == "ivf":
        index.set_search(nprobe=32)
        exact = measure_recall(index, database, queries, k=10, ids=ids)
        # Every cell searched: exact distances, but IVF may pick other codes of the k-th distance's tie group.
        assert exact["recall"] == 1.0 and exact["id_recall"] >= 0.95


@needs_faiss
def test_approximate_errors():
    from hashzoo.index import ApproximateHammingIndex, make_index

    with pytest.raises(ValueError, match=r"must be trained on at least 1024 codes, got 10"):
        ApproximateHammingIndex(16, "ivf").add(np.ones((10, 16)))
    with pytest.raises(ValueError, match=r"`kind` must be one of \['exact', 'ivf', 'hnsw', 'milvus-ivf'\]"):
        make_index(16, "lsh")
    with pytest.raises(ValueError, match=r"needs `uri`"):
        ApproximateHammingIndex(16, "milvus-ivf")
    with pytest.raises(ValueError, match=r"the index is empty"):
        ApproximateHammingIndex(16, "hnsw").search(np.ones((1, 16)), 1)
    # Accessors and input checks come from HammingIndex's base class, messages included.
    index = ApproximateHammingIndex(16, "hnsw")
    index.add(np.ones((3, 16)))
    assert (index.bits, len(index)) == (16, 3)
    with pytest.raises(ValueError, match=r"k=4 is larger than the index \(3 codes\)"):
        index.search(np.ones((1, 16)), 4)
    with pytest.raises(ValueError, match=r"`queries` is empty"):
        index.search(np.zeros((0, 16)), 1)
    with pytest.raises(ValueError, match=r"`codes` must hold only \+1 and -1, found \[2\]"):
        index.add(np.full((1, 16), 2))
    assert len(index) == 3


def test_search_doc_examples_run(tmp_path, monkeypatch):
    """The Python examples of docs/search.md that assert something run, in order, and pass."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "search.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "assert" in b]
    assert len(blocks) >= 3, "docs/search.md lost its checked examples"
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        if "make_index(64, \"ivf\"" in block and not faiss_knn.faiss_available():
            pytest.skip("the approximate examples need faiss-cpu")
        exec(compile(block, "docs/search.md", "exec"), namespace)
