"""Tests for hashzoo.data.make_mosaics: real tiles, label unions, relevance share."""

import numpy as np
import pytest

from hashzoo import data


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture(scope="module")
def mosaics(digits):
    return data.make_mosaics(digits, 600, seed=3, return_tiles=True)


def test_mosaic_tiles_are_real_images(digits, mosaics):
    ds, tiles = mosaics
    assert ds.images.shape == (600, 16, 16, 1) and ds.images.dtype == np.uint8
    assert tiles.shape == (600, 4) and tiles.dtype == np.int64
    # Row-major tiles: top-left, top-right, bottom-left, bottom-right.
    for sample in (0, 299, 599):
        image, (a, b, c, d) = ds.images[sample], tiles[sample]
        np.testing.assert_array_equal(image[:8, :8], digits.images[a])
        np.testing.assert_array_equal(image[:8, 8:], digits.images[b])
        np.testing.assert_array_equal(image[8:, :8], digits.images[c])
        np.testing.assert_array_equal(image[8:, 8:], digits.images[d])


def test_mosaic_labels_are_the_union_of_tile_classes(digits, mosaics):
    ds, tiles = mosaics
    assert ds.is_multi_label and ds.labels.shape == (600, 10)
    assert ds.class_names == digits.class_names
    for sample in range(600):
        expected = set(digits.labels[tiles[sample]].tolist())
        assert set(np.flatnonzero(ds.labels[sample]).tolist()) == expected
    counts = ds.labels.sum(axis=1)
    assert counts.min() == 1 and counts.max() == 3
    # The number of classes is uniform in 1..3: each count gets roughly a third.
    shares = np.bincount(counts, minlength=4)[1:] / 600
    assert np.all(np.abs(shares - 1 / 3) < 0.07), shares


def test_mosaic_relevant_pair_share_is_about_a_third(mosaics):
    labels = mosaics[0].labels.astype(np.int32)
    relevant = (labels @ labels.T) > 0
    n = labels.shape[0]
    share = (relevant.sum() - n) / (n * n - n)
    assert 0.2 < share < 0.5, share


def test_mosaics_are_seeded(digits):
    a = data.make_mosaics(digits, 20, seed=7)
    b = data.make_mosaics(digits, 20, seed=7)
    c = data.make_mosaics(digits, 20, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.images, c.images)


def test_mosaic_options(digits):
    big = data.make_mosaics(digits, 10, grid=3, classes_per_sample=(4, 4), seed=0)
    assert big.images.shape == (10, 24, 24, 1)
    assert (big.labels.sum(axis=1) == 4).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"classes_per_sample": (1, 5)}, "exceeds the 4 tiles"),
        ({"classes_per_sample": (3, 2)}, "1 <= low <= high"),
        ({"classes_per_sample": 3}, "must be a pair"),
        ({"num_samples": 0}, "positive integer"),
    ],
)
def test_mosaic_bad_options(digits, kwargs, message):
    kwargs = {"num_samples": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        data.make_mosaics(digits, **kwargs)


def test_mosaics_need_single_label_sources(digits):
    multi = data.make_mosaics(digits, 5)
    with pytest.raises(ValueError, match="single-label"):
        data.make_mosaics(multi, 5)
