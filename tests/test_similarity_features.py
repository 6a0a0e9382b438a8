"""The unsupervised feature extractors behind the offline similarity graphs ("kmeans", "kmeans+hog")."""

import numpy as np
import pytest

from hashzoo import data, similarity
from hashzoo.similarity import handcrafted, kmeans_network


def random_images(count, height, width, channels, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, channels), dtype=np.uint8)


def unit_rows(features):
    return np.allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def digits():
    dataset = data.load("digits")
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(len(dataset.labels), 600, replace=False))
    return dataset.images[keep], dataset.labels[keep]


def neighbour_purity(features, labels, k):
    neighbours = similarity.cosine_knn(features, k)[:, 1:]
    return float(np.mean(labels[neighbours] == labels[:, None]))


@pytest.mark.parametrize("shape", [(8, 8, 1), (9, 13, 3), (32, 32, 3)])
def test_kmeans_network_shapes_grey_and_rgb(shape):
    images = random_images(12, *shape)
    model = kmeans_network.KMeansFeatures(num_centroids=10, num_patches=400).fit(images)
    assert model.patch_size_ == min(6, max(2, min(shape[:2]) // 2))
    assert model.centroids_.shape == (10, model.patch_size_**2 * shape[2])
    raw = model.transform(images)
    assert raw.shape == (12, 40) and raw.dtype == np.float32
    assert np.isfinite(raw).all() and (raw >= 0).all() and raw.sum() > 0


@pytest.mark.parametrize("name", ["kmeans", "kmeans+hog"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (16, 12, 3)])
def test_registry_extractors_give_unit_rows_of_at_most_256_dims(name, shape):
    images = random_images(30, *shape)
    features = similarity.extract_features(images, name)
    assert features.dtype == np.float32 and features.shape[0] == 30 and features.shape[1] <= 256
    assert np.isfinite(features).all() and unit_rows(features)
    assert similarity.cosine_knn(features, 5).shape == (30, 6)


def test_same_seed_same_features_other_seed_other_features():
    images = random_images(25, 10, 10, 3)
    first = similarity.extract_features(images, "kmeans+hog", seed=3)
    again = similarity.extract_features(images, "kmeans+hog", seed=3)
    other = similarity.extract_features(images, "kmeans+hog", seed=4)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_encoding_streams_over_batches_without_changing_the_result():
    images = random_images(11, 12, 12, 1)
    model = kmeans_network.KMeansFeatures(num_centroids=6, num_patches=300, batch_size=64).fit(images)
    whole = model.transform(images)
    model.batch_size = 3
    np.testing.assert_allclose(model.transform(images), whole, rtol=1e-5, atol=1e-5)


def test_stride_two_encodes_fewer_positions():
    images = random_images(6, 16, 16, 1)
    dense = kmeans_network.KMeansFeatures(num_centroids=5, num_patches=200, stride=1).fit(images)
    sparse = kmeans_network.KMeansFeatures(num_centroids=5, num_patches=200, stride=2).fit(images)
    # Same centroids (same patches drawn); roughly a quarter of the positions summed.
    np.testing.assert_array_equal(dense.centroids_, sparse.centroids_)
    ratio = sparse.transform(images).sum() / dense.transform(images).sum()
    assert 0.15 < ratio < 0.4


def test_kmeans_is_deterministic_and_moves_centroids_to_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], np.float32)
    points = np.concatenate([c + rng.normal(scale=0.3, size=(50, 2)) for c in centres]).astype(np.float32)
    found = kmeans_network.kmeans(points, 3, iterations=10, seed=1)
    np.testing.assert_array_equal(found, kmeans_network.kmeans(points, 3, iterations=10, seed=1))
    nearest = np.linalg.norm(found[:, None] - centres[None], axis=-1).min(axis=0)
    assert (nearest < 0.5).all()


def test_hog_of_a_constant_image_is_zero_and_random_images_are_finite():
    constant = np.full((3, 16, 16, 3), 128, np.uint8)
    features = handcrafted.hog(constant)
    assert features.shape == (3, 7 * 7 * 4 * 9)  # cells of 16 // 8 = 2 pixels: 8 x 8 cells, 7 x 7 blocks
    assert np.isfinite(features).all() and not features.any()
    noisy = handcrafted.hog(random_images(4, 32, 32, 3))
    assert noisy.shape == (4, 7 * 7 * 36) and np.isfinite(noisy).all() and noisy.any()
    blocks = noisy.reshape(4, 49, 36)
    assert (np.linalg.norm(blocks, axis=-1) <= 1.0 + 1e-5).all()


def test_hog_orientation_follows_the_edge():
    ramp = np.tile(np.arange(16, dtype=np.float32) * 10, (16, 1))  # brightness grows along x
    along_x = handcrafted.hog(ramp[None, :, :, None], cell=4).reshape(3, 3, 4, 9)
    along_y = handcrafted.hog(ramp.T[None, :, :, None], cell=4).reshape(3, 3, 4, 9)
    # Gradient at 0 degrees splits between the bins centred at 10 and 170 degrees, 90 degrees at bin 4.
    assert along_x[1, 1, 0, [0, 8]].min() > 0 and np.allclose(along_x[1, 1, 0, 1:8], 0)
    assert along_y[1, 1, 0, 4] > 0 and np.allclose(np.delete(along_y[1, 1, 0], 4), 0)


def test_hog_needs_two_cells_a_side():
    with pytest.raises(ValueError, match="2 x 2 cells"):
        handcrafted.hog(random_images(1, 3, 3, 1))


def test_colour_histograms_are_fractions_per_channel():
    images = random_images(5, 8, 6, 3)
    histograms = handcrafted.colour_histograms(images, bins=8)
    assert histograms.shape == (5, 24)
    np.testing.assert_allclose(histograms.reshape(5, 3, 8).sum(axis=-1), 1.0, rtol=1e-6)


def test_check_extractor_names():
    for name in ("pixels", "random_conv", "kmeans", "kmeans+hog", "keras_app:resnet50", "array:/tmp/x.npy"):
        assert similarity.check_extractor(name) == name
    with pytest.raises(ValueError) as error:
        similarity.check_extractor("hog")
    message = str(error.value)
    for name in ("'pixels'", "'random_conv'", "'kmeans'", "'kmeans+hog'", "'keras_app:resnet50'", "array:<path.npy>"):
        assert name in message
    with pytest.raises(ValueError, match="unknown feature_extractor 'kmeans400'"):
        similarity.extract_features(random_images(3, 8, 8, 1), "kmeans400")


def test_kmeans_graph_on_digits_is_far_purer_than_chance(digits):
    images, labels = digits
    features = similarity.kmeans_features(images, num_centroids=100, num_patches=20_000)
    chance = np.sum(np.bincount(labels) ** 2) / len(labels) ** 2  # about 0.1
    share = neighbour_purity(features, labels, 10)
    assert chance < 0.12 and share > 0.85
    combined = similarity.kmeans_hog_features(images, num_centroids=100, num_patches=20_000)
    assert neighbour_purity(combined, labels, 10) > 0.85


def test_every_plain_extractor_says_what_it_fits_on_the_image_set():
    """Floors rely on this to decide how to extract features; a new extractor must say what it fits."""
    assert set(similarity.FITTED_ON_IMAGE_SET) == set(similarity.PLAIN_EXTRACTORS)
    # 8x8 grey digits (64 values) are below the PCA size: only the standardisation is fitted.
    assert "PCA" not in similarity.fitted_on_image_set("pixels", 64)
    assert "PCA to 256" in similarity.fitted_on_image_set("pixels", 32 * 32 * 3)
    assert similarity.fitted_on_image_set("keras_app:vgg16", 224 * 224 * 3) is None
    with pytest.raises(ValueError, match="nope"):
        similarity.fitted_on_image_set("nope", 64)
