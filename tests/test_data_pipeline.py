"""Tests for hashzoo.data.make_tf_dataset: shapes, dtypes, values, seeding."""

import numpy as np
import pytest
import tensorflow as tf

from hashzoo import data


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def _collect(dataset):
    batches = list(dataset.as_numpy_iterator())
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return batches, images, labels


def test_batches_are_float_pixels_with_int64_ids(digits):
    dataset = data.make_tf_dataset(digits, batch_size=256, shuffle=False)
    spec_images, spec_labels = dataset.element_spec
    assert spec_images.dtype == tf.float32 and spec_images.shape.as_list() == [None, 8, 8, 1]
    assert spec_labels.dtype == tf.int64
    batches, images, labels = _collect(dataset)
    assert [len(b[0]) for b in batches] == [256] * 7 + [5]
    np.testing.assert_array_equal(images, digits.images.astype(np.float32))
    np.testing.assert_array_equal(labels, digits.labels)
    assert images.max() == 255.0


def test_drop_remainder_and_one_hot(digits):
    dataset = data.make_tf_dataset(
        digits.images, digits.labels, batch_size=256, shuffle=False,
        drop_remainder=True, one_hot=10,
    )
    assert dataset.element_spec[0].shape.as_list() == [256, 8, 8, 1]
    batches, _, labels = _collect(dataset)
    assert len(batches) == 7 and labels.dtype == np.float32 and labels.shape == (1792, 10)
    np.testing.assert_array_equal(labels.argmax(axis=1), digits.labels[:1792])
    assert (labels.sum(axis=1) == 1).all()


def test_multi_hot_labels_become_float32(digits):
    mosaics = data.make_mosaics(digits, 40, seed=0)
    _, images, labels = _collect(data.make_tf_dataset(mosaics, batch_size=16, shuffle=False))
    assert images.shape == (40, 16, 16, 1) and labels.dtype == np.float32
    np.testing.assert_array_equal(labels, mosaics.labels.astype(np.float32))


def test_images_only_and_float_input():
    pixels = np.linspace(0, 255, 3 * 2 * 2 * 3, dtype=np.float64).reshape(3, 2, 2, 3)
    dataset = data.make_tf_dataset(pixels, batch_size=2, shuffle=False)
    batches = list(dataset.as_numpy_iterator())
    assert [b.shape for b in batches] == [(2, 2, 2, 3), (1, 2, 2, 3)]
    np.testing.assert_allclose(np.concatenate(batches), pixels.astype(np.float32))


def test_shuffle_is_seeded_and_reshuffles_each_epoch(digits):
    def epochs(seed):
        dataset = data.make_tf_dataset(digits, batch_size=1797, seed=seed, repeat=True)
        iterator = dataset.as_numpy_iterator()
        return [next(iterator)[1] for _ in range(2)]

    first, again, other = epochs(5), epochs(5), epochs(6)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])  # a new order every epoch
    assert not np.array_equal(first[0], other[0])
    np.testing.assert_array_equal(np.sort(first[0]), np.sort(digits.labels))  # a permutation


@pytest.mark.parametrize(
    "images, labels, kwargs, message",
    [
        (np.full((2, 2, 2, 1), 300.0), None, {}, r"\[0, 255\]"),
        (np.zeros((2, 2, 2, 1)), [0, 4], {"one_hot": 3}, "class id 4 does not fit"),
        (np.zeros((2, 2, 2, 1)), None, {"one_hot": 3}, "needs `labels`"),
        (np.zeros((2, 2, 2, 1)), [[1, 0], [0, 1]], {"one_hot": 3}, "already|multi-hot"),
        (np.zeros((2, 2, 2, 1)), [0, 1], {"batch_size": 0}, "positive integer"),
        (np.zeros((2, 2, 2, 1), np.int32) - 1, None, {}, r"0\.\.255"),
    ],
)
def test_bad_input_is_rejected(images, labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.make_tf_dataset(images, labels, **kwargs)


def test_dataset_and_labels_together_is_ambiguous(digits):
    with pytest.raises(ValueError, match="not both"):
        data.make_tf_dataset(digits, digits.labels)
