import numpy as np
import keras
import pytest

from hashzoo import HashingModel
from tests import helpers
from tests.toy_hasher import ToyHasher

PRE = {"image_size": (8, 8), "channels": 1}


def digits_batch(n=32):
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.round(data.images[:n] * 255.0 / 16.0).astype("uint8")[..., None]
    return images, data.target[:n].astype("int64")


def build_toy(**overrides):
    kwargs = dict(code_bits=12, num_classes=10, hidden=6, quantization_weight=0.3, seed=3, preprocessing=PRE)
    kwargs.update(overrides)

    def build_and_compile():
        model = ToyHasher(**kwargs)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        return model

    return build_and_compile


def test_serialization_battery():
    helpers.run_serialization_test(
        ToyHasher,
        dict(code_bits=20, num_classes=4, hidden=5, quantization_weight=0.7, seed=9,
             preprocessing={"image_size": (6, 6), "channels": 3, "mean": 1.0, "std": 2.0}, name="toy_x"),
    )


def test_serialization_helper_catches_a_missing_argument():
    class Forgetful(ToyHasher):
        def __init__(self, code_bits, extra=5, **kwargs):
            super().__init__(code_bits, **kwargs)
            self.extra = extra

    with pytest.raises(AssertionError, match="extra"):
        helpers.run_serialization_test(Forgetful, dict(code_bits=4, extra=6, preprocessing=PRE))


def test_codes_and_saving_battery(tmp_path):
    images, _ = digits_batch(10)
    model = build_toy()()
    helpers.run_code_test(model, images)
    helpers.run_saving_test(model, images, tmp_path)


def test_encode_accepts_rgb_and_other_sizes():
    model = build_toy()()
    rgb = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3)).astype("uint8")
    assert model.encode(rgb).shape == (3, 12)


def test_zero_code_value_encodes_to_plus_one():
    class Zero(HashingModel):
        def hash_values(self, x, training=False):
            return keras.ops.zeros((keras.ops.shape(x)[0], self.code_bits))

    model = Zero(5, preprocessing=PRE)
    np.testing.assert_array_equal(model.encode(np.zeros((2, 8, 8, 1))), np.ones((2, 5), np.int8))


def test_subclass_without_hash_values_is_refused():
    with pytest.raises(TypeError, match="hash_values"):
        class Incomplete(HashingModel):  # noqa: F841
            pass


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((8, 8, 1)), "rank 4"),
        (np.zeros((2, 8, 8, 2)), "1 \\(grey\\) or 3 \\(RGB\\) channels"),
        (np.zeros((0, 8, 8, 1)), "empty"),
        (np.array([[[["x"]]]]), "dtype"),
    ],
)
def test_encode_rejects_bad_images(images, match):
    with pytest.raises(ValueError, match=match):
        build_toy()().encode(images)


def test_bad_bits_and_batch_size():
    with pytest.raises(ValueError, match="bits"):
        ToyHasher(0, preprocessing=PRE)
    with pytest.raises(ValueError, match="batch_size"):
        build_toy()().encode(np.zeros((1, 8, 8, 1)), batch_size=0)


def test_fit_lowers_loss_on_real_digits():
    images, labels = digits_batch(64)
    model = build_toy(hidden=32)()
    history = model.fit(images, labels, batch_size=16, epochs=8, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_distributed_fit_battery():
    images, labels = digits_batch(16)
    helpers.run_distributed_fit_test(build_toy(), images, labels, batch_size=8)


def test_two_replicas_take_the_same_step_as_one_device():
    images, labels = digits_batch(16)
    helpers.run_distributed_equivalence_test(build_toy(), images, labels)


def test_equivalence_helper_catches_an_unscaled_loss():
    class Unscaled(ToyHasher):
        def train_step(self, data):
            import tensorflow as tf

            images, labels = data
            with tf.GradientTape() as tape:
                logits = self.classifier(self.hash_values(self.preprocess(images), training=True))
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)
                )
            grads = tape.gradient(loss, self.trainable_weights)  # not divided by the replica count
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

    def build():
        model = Unscaled(12, hidden=6, seed=3, preprocessing=PRE)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        return model

    images, labels = digits_batch(16)
    with pytest.raises(AssertionError):
        helpers.run_distributed_equivalence_test(build, images, labels)


# -- pixels checked at the door (the same check as the baselines) ---------------

def bad_pixels():
    images = np.zeros((3, 8, 8, 1), np.float32)
    images[2, 4, 5, 0] = np.nan
    images[1, 1, 1, 0] = np.inf
    return images


@pytest.mark.parametrize(
    "images, match",
    [
        (bad_pixels(), r"finite pixels in \[0, 255\]; found 2 NaN or infinite value\(s\), the first \(inf\) "
                       r"at index \(1, 1, 1, 0\) of shape \(3, 8, 8, 1\)"),
        (np.full((2, 8, 8, 1), -np.inf),
         r"found 128 NaN or infinite value\(s\), the first \(-inf\) at index \(0, 0, 0, 0\)"),
        (np.where(np.arange(128).reshape(2, 8, 8, 1) == 70, 5000.0, 3.0),
         r"pixels in \[0, 255\].*found 1 value\(s\) outside, from 3.0 to 5000.0, the first \(5000.0\) at index "
         r"\(1, 0, 6, 0\)"),
        (np.full((1, 8, 8, 1), -500, np.int64), r"found 64 value\(s\) outside, from -500 to -500, the first \(-500\)"),
        (np.full((1, 8, 8, 1), 256, np.int16), r"outside, from 256 to 256"),
    ],
)
def test_encode_rejects_non_finite_and_out_of_range_pixels(images, match):
    model = build_toy()()
    with pytest.raises(ValueError, match=match):
        model.encode(images)
    with pytest.raises(ValueError, match=match):
        model.encode_packed(images)


def test_baselines_share_the_same_pixel_check():
    from hashzoo.baselines import LSH

    match = r"found 2 NaN or infinite value\(s\), the first \(inf\) at index \(1, 1, 1, 0\)"
    with pytest.raises(ValueError, match=match):
        LSH(4).fit(bad_pixels())


def test_pixels_scaled_to_unit_range_warn_and_name_the_fix():
    model = build_toy()()
    images, _ = digits_batch(4)
    scaled = images.astype("float32") / 255.0
    with pytest.warns(UserWarning, match=r"float pixels in \[0, 1\] only; .*multiply them by 255"):
        model.encode(scaled)
    with pytest.warns(UserWarning, match="multiply them by 255") as record:
        model.encode_packed(scaled)
    assert len(record) == 1 and record[0].filename == __file__, "one warning, pointing at the caller"


def test_valid_pixels_give_no_warning():
    import warnings

    model = build_toy()()
    images, _ = digits_batch(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.encode(images)  # uint8
        model.encode(images.astype("float64"))  # float in [0, 255]
        model.encode(np.zeros((2, 8, 8, 1), np.float32))  # all black
        model.encode(np.full((2, 8, 8, 1), 255.0))  # the top of the range
        model.encode(np.ones((2, 8, 8, 1), np.int32))  # integers 0..1 are raw pixels
