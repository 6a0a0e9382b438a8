"""The shared similarity container and K-NN blocks (`hashzoo.similarity`), and BGAN's use of them."""

import hashlib

import numpy as np
import pytest
import scipy.sparse
import tensorflow as tf

from hashzoo import data, similarity
from hashzoo.methods.bgan.similarity import bgan_similarity
from hashzoo.similarity import SparseSimilarity


def random_signed_matrix(n, seed, known=0.3):
    """A dense symmetric S in {-1, 0, +1} with +1 on the diagonal, and its upper-triangle pairs."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.choice([-1, 0, 1], size=(n, n), p=[known / 2, 1 - known, known / 2]), 1)
    dense = upper + upper.T + np.eye(n, dtype=int)
    rows, cols = np.nonzero(upper)
    return dense, list(zip(rows.tolist(), cols.tolist())), upper[rows, cols]


def lookups(s, rows, cols):
    """(values, known) from numpy and from the TensorFlow function (inside a tf.function)."""
    numpy_values, numpy_known = s.block(rows, cols, with_mask=True)
    tf_block = tf.function(s.tf_block_fn(with_mask=True))
    tf_values, tf_known = tf_block(tf.constant(rows), tf.constant(cols))
    assert numpy_values.dtype == np.float32 and tf_values.dtype == tf.float32 and tf_known.dtype == tf.bool
    np.testing.assert_array_equal(tf_values.numpy(), numpy_values)
    np.testing.assert_array_equal(tf_known.numpy(), numpy_known)
    np.testing.assert_array_equal(s.block(rows, cols), numpy_values)
    np.testing.assert_array_equal(s.tf_block_fn()(tf.constant(rows), tf.constant(cols)).numpy(), numpy_values)
    return numpy_values, numpy_known


# === signed pairs and unknown pairs ===


def test_unknown_absent_pairs_match_a_dense_reference():
    n = 23
    dense, pairs, signs = random_signed_matrix(n, seed=0)
    s = SparseSimilarity.from_pairs(pairs, n, absent="unknown", values=signs)
    values, known = s.dense(with_mask=True)
    np.testing.assert_array_equal(values, dense)
    np.testing.assert_array_equal(known, dense != 0)
    assert s.is_symmetric() and s.absent_is_unknown
    assert s.num_positive == int((dense == 1).sum()) and s.num_negative == int((dense == -1).sum())
    np.testing.assert_array_equal(s.positives_per_row(), (dense == 1).sum(1))
    np.testing.assert_array_equal(s.negatives_per_row(), (dense == -1).sum(1))
    np.testing.assert_array_equal(s.neighbours(4), np.flatnonzero(dense[4] == 1))
    rng = np.random.default_rng(1)
    for size in [(1, 1), (7, 5), (16, 16)]:
        rows, cols = rng.integers(0, n, size[0]), rng.integers(0, n, size[1])  # repeats included
        values, known = lookups(s, rows, cols)
        np.testing.assert_array_equal(values, dense[rows][:, cols])
        np.testing.assert_array_equal(known, dense[rows][:, cols] != 0)


def test_known_absent_value_with_stored_negatives():
    n = 17
    dense, pairs, signs = random_signed_matrix(n, seed=2)
    s = SparseSimilarity.from_pairs(pairs, n, absent=-1.0, values=signs)
    reference = np.where(dense == 0, -1, dense)
    values, known = s.dense(with_mask=True)
    np.testing.assert_array_equal(values, reference)
    assert known.all()
    rows, cols = np.arange(n)[::-1], np.arange(0, n, 2)
    values, known = lookups(s, rows, cols)
    np.testing.assert_array_equal(values, reference[rows][:, cols])
    assert known.all()


def test_from_scipy_stores_signs_and_drops_zeros():
    matrix = scipy.sparse.csr_matrix(np.array([[3, 0, -2], [0, 1, 0], [-5, 0, 0]]))
    matrix.data = matrix.data.astype(np.float64)
    s = SparseSimilarity.from_scipy(matrix, absent="unknown")
    values, known = s.dense(with_mask=True)
    assert values.astype(int).tolist() == [[1, 0, -1], [0, 1, 0], [-1, 0, 0]]
    assert known.astype(int).tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match="square"):
        SparseSimilarity.from_scipy(scipy.sparse.csr_matrix(np.ones((2, 3))), absent=-1.0)


def test_an_empty_matrix_is_all_unknown_or_all_absent_value():
    s = SparseSimilarity.from_pairs([], 4, absent="unknown", diagonal=False)
    values, known = lookups(s, np.arange(4), np.arange(3))
    assert s.nnz == 0 and not values.any() and not known.any()
    negative = SparseSimilarity.from_pairs([], 4, absent=-1.0, diagonal=False)
    assert (negative.dense() == -1).all()


def test_bad_inputs_are_refused_with_the_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"'unknown' .* \{-1, 0, \+1\}; got 0.5"):
        SparseSimilarity.from_pairs([(0, 1)], 3, absent=0.5)
    with pytest.raises(ValueError, match="got 'missing'"):
        SparseSimilarity.from_pairs([(0, 1)], 3, absent="missing")
    with pytest.raises(TypeError):
        SparseSimilarity.from_pairs([(0, 1)], 3)  # the policy is always explicit
    with pytest.raises(ValueError, match=r"pair \(0, 1\) is given both \+1 and -1"):
        SparseSimilarity.from_pairs([(0, 1), (1, 0)], 3, absent="unknown", values=[1, -1])
    with pytest.raises(ValueError, match=r"pair \(2, 2\) is given both"):
        SparseSimilarity.from_pairs([(2, 2)], 3, absent="unknown", values=[-1])
    with pytest.raises(ValueError, match=r"must be \+1 or -1 .* got \[0\]"):
        SparseSimilarity.from_pairs([(0, 1)], 3, absent="unknown", values=[0])
    with pytest.raises(ValueError, match=r"shape \(1,\), got shape \(2,\)"):
        SparseSimilarity.from_pairs([(0, 1)], 3, absent="unknown", values=[1, 1])
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        SparseSimilarity.from_pairs([(0, 3)], 3, absent="unknown")
    with pytest.raises(ValueError, match="sorted"):
        SparseSimilarity([0, 2, 2], [1, 0], 2, absent=-1.0)
    knn = np.array([[0, 1], [1, 0], [2, 1]])
    for tau in (-0.1, float("nan")):
        with pytest.raises(ValueError, match=r"`tau` must be >= 0, got"):
            similarity.neighbour_similarity(knn, tau=tau)


def test_summary_counts_each_value_and_its_label_agreement():
    # Classes 0, 0, 1, 1: both +1 pairs join one class, both -1 pairs join two classes.
    labels = np.array([0, 0, 1, 1])
    s = SparseSimilarity.from_pairs([(0, 1), (0, 2), (2, 3), (1, 3)], 4, absent="unknown", values=[1, -1, 1, -1])
    info = s.summary(labels)
    assert info["positives"] == 4 + 4 and info["negatives"] == 4  # diagonal + two mirrored +1 pairs
    assert info["positive_fraction"] == 8 / 16 and info["negative_fraction"] == 4 / 16
    assert info["unknown_fraction"] == 4 / 16 and info["absent"] == "unknown"
    assert info["label_agreement"] == 1.0 and info["negative_label_agreement"] == 1.0
    multi_hot = np.array([[1, 0], [1, 1], [0, 1], [0, 1]])
    assert s.label_agreement(multi_hot, sign=-1) == 0.5  # (1, 3) share label 1
    with pytest.raises(ValueError, match="sign"):
        s.label_agreement(labels, sign=0)


def test_shared_neighbour_rule_takes_the_absent_policy():
    features = np.random.default_rng(3).normal(size=(30, 5))
    knn = similarity.cosine_knn(features, 3)
    negative = similarity.shared_neighbour_similarity(knn, 4)
    unknown = similarity.shared_neighbour_similarity(knn, 4, absent="unknown")
    assert negative.absent == -1.0 and unknown.absent_is_unknown
    np.testing.assert_array_equal(negative.keys, unknown.keys)
    values, known = unknown.dense(with_mask=True)
    np.testing.assert_array_equal(np.where(known, values, -1), negative.dense())
    assert set(np.unique(values)) == {0.0, 1.0}


def test_the_pipeline_serves_a_three_valued_matrix():
    n = 12
    dense, pairs, signs = random_signed_matrix(n, seed=4, known=0.6)
    s = SparseSimilarity.from_pairs(pairs, n, absent="unknown", values=signs)
    images = np.arange(n, dtype=np.uint8).repeat(4).reshape(n, 2, 2, 1)
    for batch, block in data.make_similarity_dataset(images, s, batch_size=4, seed=0):
        ids = batch.numpy()[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(block.numpy(), dense[ids][:, ids])


# === BGAN's matrix is unchanged by the move and the signed container ===

# Recorded from the two-valued container before it held signed and unknown pairs.
BGAN_SMALL = [
    "+-+-+++++-++", "-+-+--++-+-+", "+-+--++-+---", "-+-++----+-+", "+--++----+++", "+-+--++++-++",
    "+++--++++-++", "++---+++-+--", "+-+--++-+---", "-+-++--+-+-+", "+---+++---++", "++-++++--+++",
]
BGAN_DENSE_SHA256 = "b62d5fe41f77f5ab46ae02208c170a97bc9778a3f12103c949376434a88c235e"
BGAN_SUMMARY = {
    "num_items": 120, "positives": 2132, "positives_per_row_min": 10, "positives_per_row_mean": 17.766666666666666,
    "positives_per_row_max": 28, "positive_fraction": 0.14805555555555555, "label_agreement": 0.7246520874751491,
}


def bgan_example():
    rng = np.random.default_rng(2024)
    centres = rng.normal(size=(6, 16))
    features = (centres[np.arange(120) % 6] + 0.9 * rng.normal(size=(120, 16))).astype("float32")
    return features, np.arange(120) % 6


def test_bgan_reads_every_absent_pair_as_minus_one_exactly_as_before():
    features, labels = bgan_example()
    small = bgan_similarity(features[:12], k1=2, k2=3).dense()
    assert ["".join("+" if v > 0 else "-" for v in row) for row in small] == BGAN_SMALL
    s = bgan_similarity(features, k1=4, k2=6)
    assert s.absent == -1.0 and s.num_negative == 0 and s.is_symmetric()
    dense, known = s.dense(with_mask=True)
    assert dense.dtype == np.float32 and known.all() and set(np.unique(dense)) == {-1.0, 1.0}
    assert hashlib.sha256(dense.astype(np.int8).tobytes()).hexdigest() == BGAN_DENSE_SHA256
    assert s.summary(labels) == BGAN_SUMMARY  # no new keys in BGAN's run metadata
    rows, cols = np.random.default_rng(7).integers(0, 120, 17), np.random.default_rng(8).integers(0, 120, 13)
    block = s.tf_block_fn()(tf.constant(rows), tf.constant(cols))
    assert block.dtype == tf.float32
    np.testing.assert_array_equal(block.numpy(), dense[rows][:, cols])


def test_unit_rows_scales_rows_keeps_zero_rows_and_names_bad_input():
    unit = similarity.unit_rows([[3.0, 4.0], [0.0, 0.0]])
    assert unit.dtype == np.float32
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, D\].*shape \(3,\)"):
        similarity.unit_rows([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN or infinity"):
        similarity.unit_rows([[1.0, np.nan]])
    with pytest.raises(ValueError, match="NaN or infinity"):
        similarity.cosine_knn([[1.0, 0.0], [np.inf, 1.0]], 1)
