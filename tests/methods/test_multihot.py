import functools

import numpy as np
import keras
import pytest

from hashzoo import data, methods
from hashzoo.methods.multihot import MultiHotClassifierHasher
from tests import helpers

MOSAIC = {"image_size": (16, 16), "channels": 1}


@functools.lru_cache(maxsize=None)
def mosaic_parts():
    """`(query, train, database)` of the digits-mosaic protocol: 16x16 grey mosaics, multi-hot labels."""
    return data.get_protocol("digits-mosaic").apply(data.load("digits"))


def mosaic_batch(n=32):
    train = mosaic_parts()[1]
    return train.images[:n], train.labels[:n].astype("float32")


def build(**overrides):
    def build_and_compile():
        kwargs = dict(code_bits=16, num_classes=10, widths=(4, 8), seed=1, preprocessing=MOSAIC)
        kwargs.update(overrides)
        model = MultiHotClassifierHasher(**kwargs)
        model.compile(optimizer=keras.optimizers.SGD(0.05))
        return model

    return build_and_compile


def set_classifier(model, bias):
    """Zero kernel and the given bias: every image gets logits = bias."""
    kernel, _ = model.classifier.get_weights()
    model.classifier.set_weights([np.zeros_like(kernel), np.asarray(bias, "float32")])


# === the shared battery ===


def test_serialization_with_non_default_values():
    helpers.run_serialization_test(
        MultiHotClassifierHasher,
        dict(code_bits=12, num_classes=5, backbone="stages", widths=(4, 6, 8), weights_file=None, seed=7,
             preprocessing={"image_size": (12, 12), "channels": 3}, name="multihot"),
    )


def test_codes_and_saving(tmp_path):
    images, labels = mosaic_batch(16)
    model = build()()
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    codes = helpers.run_code_test(model, images)
    # Label bits are the signs of the label logits; padding bits are always -1.
    logits = np.asarray(model.logits(model.preprocess(images.astype("float32"))))
    np.testing.assert_array_equal(codes[:, :10], np.where(logits > 0, 1, -1))
    assert np.all(codes[:, 10:] == -1)
    # Hamming distance = size of the symmetric difference of the predicted label sets.
    present = logits > 0
    hamming = (codes[:, None, :] != codes[None, :, :]).sum(-1)
    np.testing.assert_array_equal(hamming, (present[:, None, :] != present[None, :, :]).sum(-1))
    helpers.run_saving_test(model, images, tmp_path)


def test_two_replicas_take_the_same_step_as_one_device():
    images, labels = mosaic_batch(16)
    helpers.run_distributed_equivalence_test(build(), images, labels)


# === the method ===


def test_registered_as_its_own_method():
    assert methods.get_method("multihot") is MultiHotClassifierHasher
    assert MultiHotClassifierHasher.__module__ == "hashzoo.methods.multihot.multihot_model"
    assert MultiHotClassifierHasher.SUPERVISED is True


def test_code_is_the_sign_of_each_label_logit_with_padding_off():
    images, _ = mosaic_batch(3)
    model = build(code_bits=8, num_classes=5)()
    set_classifier(model, [2.0, -1.0, 0.5, 0.0, -3.0])  # a logit of exactly 0 is "absent"
    expected = np.array([1, -1, 1, -1, -1, -1, -1, -1], "int8")
    codes = model.encode(images)
    np.testing.assert_array_equal(codes, np.tile(expected, (3, 1)))
    values = np.asarray(model(images.astype("float32")))
    np.testing.assert_array_equal(values, np.tile(expected.astype("float32"), (3, 1)))


def test_needs_at_least_one_bit_per_label():
    with pytest.raises(ValueError, match="code_bits >= num_classes.*code_bits=8 and num_classes=10"):
        MultiHotClassifierHasher(8, num_classes=10, widths=(4,), preprocessing=MOSAIC)


def test_loss_is_keras_binary_cross_entropy_from_logits():
    model = build(num_classes=3)()
    logits = np.array([[2.0, -1.0, 0.3], [-0.5, 4.0, -2.0]], "float32")
    labels = np.array([[1, 0, 0], [1, 1, 0]], "float32")
    expected = keras.losses.BinaryCrossentropy(from_logits=True)(labels, logits)
    by_hand = np.mean(np.log1p(np.exp(-logits)) * labels + np.log1p(np.exp(logits)) * (1 - labels))
    loss = float(model.multilabel_loss(logits, labels))
    np.testing.assert_allclose(loss, float(expected), rtol=1e-5)
    np.testing.assert_allclose(loss, by_hand, rtol=1e-5)


def test_single_label_ids_are_one_hot_encoded():
    model = build(num_classes=4)()
    want = np.eye(4, dtype="float32")[[2, 0, 3]]
    np.testing.assert_array_equal(np.asarray(model.label_vectors(np.array([2, 0, 3]))), want)
    np.testing.assert_array_equal(np.asarray(model.label_vectors(np.array([[2], [0], [3]]))), want)
    np.testing.assert_array_equal(np.asarray(model.label_vectors(want.astype(bool))), want)


def test_trains_on_single_label_digits():
    digits = data.load("digits")
    images, labels = digits.images[:16], digits.labels[:16]
    model = build(preprocessing={"image_size": (8, 8), "channels": 1})()
    history = model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert set(history.history) == {"loss", "label_accuracy"}


def test_short_fit_on_digit_mosaics_lowers_the_loss():
    train = mosaic_parts()[1]
    model = build()()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    images, labels = train.images[:64], train.labels[:64].astype("float32")
    vectors = model.label_vectors(labels)
    before = float(model.multilabel_loss(model.logits(model.preprocess(images.astype("float32"))), vectors))
    model.fit(images, labels, batch_size=16, epochs=3, shuffle=False, verbose=0)
    after = float(model.multilabel_loss(model.logits(model.preprocess(images.astype("float32"))), vectors))
    assert after < before


def test_from_data_sizes_the_head_and_keeps_the_image_size():
    train = mosaic_parts()[1]
    model = MultiHotClassifierHasher.from_data(16, train, seed=3, widths=(4,))
    assert model.num_classes == 10 and model.seed == 3
    assert tuple(model.preprocessing.image_size) == (16, 16)
    assert MultiHotClassifierHasher.supported_image_size((28, 20)) == (28, 20)


def test_missing_backbone_weights_file_is_named(tmp_path):
    missing = tmp_path / "nope.weights.h5"
    with pytest.raises(FileNotFoundError, match="nope.weights.h5"):
        MultiHotClassifierHasher(16, num_classes=10, widths=(4,), weights_file=missing, preprocessing=MOSAIC)
