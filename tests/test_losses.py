import numpy as np

from hashzoo import losses


def test_triplet_hash_loss_matches_numpy_including_the_hinge():
    a = np.array([[1.0, -1.0, 0.5], [0.2, 0.2, 0.2]], "float32")
    p = np.array([[1.0, -1.0, 0.0], [0.2, 0.2, 0.2]], "float32")
    n = np.array([[-1.0, -1.0, 0.5], [0.2, 0.2, -0.8]], "float32")
    # row 0: |a-p|^2 = 0.25, |a-n|^2 = 4 -> max(0, 2 + 0.25 - 4) = 0 (hinge off)
    # row 1: |a-p|^2 = 0,    |a-n|^2 = 1 -> max(0, 2 + 0 - 1) = 1
    np.testing.assert_allclose(float(losses.triplet_hash_loss(a, p, n, margin=2.0)), 0.5, rtol=1e-6)
    # exactly at the margin the hinge gives 0
    np.testing.assert_allclose(float(losses.triplet_hash_loss(a[1:], p[1:], n[1:], margin=1.0)), 0.0)


def test_quantization_loss_matches_numpy():
    u = np.array([[0.5, -1.0, 0.0], [1.0, -0.9, 0.3]], "float32")
    expected = np.mean(np.sum((np.abs(u) - 1) ** 2, axis=1))
    np.testing.assert_allclose(float(losses.quantization_loss(u)), expected, rtol=1e-6)


def test_squared_distance_is_four_times_hamming_on_codes():
    rng = np.random.default_rng(0)
    a, b = (np.where(rng.random((6, 16)) < 0.5, 1.0, -1.0).astype("float32") for _ in range(2))
    hamming = (a != b).sum(1)
    np.testing.assert_allclose(np.asarray(losses.squared_distance(a, b)), 4 * hamming)
