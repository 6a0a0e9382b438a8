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


def test_all_triplets_hash_loss_matches_a_loop_over_the_valid_triplets():
    rng = np.random.default_rng(1)
    anchor, items = rng.uniform(-1, 1, (3, 4)).astype("float32"), rng.uniform(-1, 1, (5, 4)).astype("float32")
    positive = np.array([[1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]], bool)
    negative = np.array([[0, 0, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], bool)  # row 2: no positive, adds 0
    expected = []
    for a in range(3):
        hinges = [max(0.0, 2.0 + np.sum((anchor[a] - items[p]) ** 2) - np.sum((anchor[a] - items[n]) ** 2))
                  for p in np.flatnonzero(positive[a]) for n in np.flatnonzero(negative[a])]
        expected.append(np.mean(hinges) if hinges else 0.0)
    loss = losses.all_triplets_hash_loss(anchor, items, positive, negative, margin=2.0)
    np.testing.assert_allclose(float(loss), np.mean(expected), rtol=1e-5)
    assert expected[0] > 0 and expected[1] > 0
    np.testing.assert_allclose(
        np.asarray(losses.pairwise_squared_distance(anchor, items)),
        ((anchor[:, None] - items[None]) ** 2).sum(-1), rtol=1e-5, atol=1e-6,
    )


def test_quantization_loss_matches_numpy():
    u = np.array([[0.5, -1.0, 0.0], [1.0, -0.9, 0.3]], "float32")
    expected = np.mean(np.sum((np.abs(u) - 1) ** 2, axis=1))
    np.testing.assert_allclose(float(losses.quantization_loss(u)), expected, rtol=1e-6)


def test_squared_distance_is_four_times_hamming_on_codes():
    rng = np.random.default_rng(0)
    a, b = (np.where(rng.random((6, 16)) < 0.5, 1.0, -1.0).astype("float32") for _ in range(2))
    hamming = (a != b).sum(1)
    np.testing.assert_allclose(np.asarray(losses.squared_distance(a, b)), 4 * hamming)


def test_balanced_neighbourhood_loss_gives_each_kind_of_pair_half():
    u = np.array([[1.0, 1.0], [1.0, -1.0], [0.5, 0.5]], "float32")
    s = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]], "float32")
    inner = u @ u.T / 2
    residual = (inner - s) ** 2
    # 3 positive pairs (the diagonal), 6 negative ones.
    expected = 0.5 * residual[s > 0].mean() + 0.5 * residual[s < 0].mean()
    np.testing.assert_allclose(float(losses.neighbourhood_loss(u, u, s, balance="balanced")), expected, rtol=1e-6)
    # "none" is the plain mean over every pair, BGAN's published loss.
    np.testing.assert_allclose(float(losses.neighbourhood_loss(u, u, s)), residual.mean(), rtol=1e-6)
    np.testing.assert_allclose(float(losses.neighbourhood_loss(u, u, s)), float(losses.pairwise_similarity_loss(u, u, s)))
    # A block without negatives keeps its positives' half.
    only = np.ones((3, 3), "float32")
    np.testing.assert_allclose(float(losses.neighbourhood_loss(u, u, only, balance="balanced")),
                               0.5 * ((inner - 1) ** 2).mean(), rtol=1e-6)


def test_balanced_neighbourhood_loss_splits_over_replicas_like_one_device():
    rng = np.random.default_rng(1)
    u = np.tanh(rng.normal(size=(6, 4))).astype("float32")
    s = np.where(rng.random((6, 6)) < 0.3, 1.0, -1.0).astype("float32")
    whole = float(losses.neighbourhood_loss(u, u, s, balance="balanced"))
    # Two replicas, rows 0-2 and 3-5, each against every column, global counts over the replica count.
    counts = (float((s > 0).sum()) / 2, float((s < 0).sum()) / 2)
    parts = [float(losses.neighbourhood_loss(u[r], u, s[r], balance="balanced", counts=counts))
             for r in (slice(0, 3), slice(3, 6))]
    np.testing.assert_allclose(sum(parts) / 2, whole, rtol=1e-6)


def test_neighbourhood_loss_names_the_allowed_balances():
    import pytest

    with pytest.raises(ValueError, match=r"`balance` must be one of \['none', 'balanced'\], got 'half'"):
        losses.neighbourhood_loss(np.ones((1, 2), "float32"), np.ones((1, 2), "float32"), np.ones((1, 1)), "half")
