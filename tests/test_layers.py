import numpy as np
import keras
import pytest
import tensorflow as tf

from hashzoo.layers import HardSign, HashHead, ImagePreprocessing, Preprocessing, SmoothSign


def test_hard_sign_forward_and_straight_through_gradient():
    x = tf.constant([[-2.0, -1e-7, 0.0, 0.5]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = HardSign()(x)
        loss = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0, 4.0]]))
    np.testing.assert_array_equal(y.numpy(), [[-1, -1, 1, 1]])
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [[1.0, 2.0, 3.0, 4.0]])


def test_smooth_sign_approaches_sign_and_gradient_stays_finite():
    x = tf.constant(np.linspace(-1, 1, 41, dtype="float32")[None])
    target = np.where(x.numpy() >= 0, 1.0, -1.0)
    layer = SmoothSign(slope=1.0)
    errors = []
    for slope in (1.0, 10.0, 100.0, 1e4):
        layer.set_slope(slope)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            total = tf.reduce_sum(y)
        grad = tape.gradient(total, x).numpy()
        assert np.all(np.isfinite(grad))
        off_zero = np.abs(x.numpy()) > 0
        errors.append(np.abs(y.numpy() - target)[off_zero].max())
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-6


def test_smooth_sign_slope_is_a_saved_non_trainable_weight(tmp_path):
    layer = SmoothSign(slope=2.0)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1
    layer.set_slope(7.5)
    model = keras.Sequential([keras.Input((3,)), layer])
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert float(loaded.layers[0].slope.numpy()) == 7.5
    with pytest.raises(ValueError, match="slope"):
        SmoothSign(slope=0)


@pytest.mark.parametrize("activation", ["tanh", "smooth_sign", "linear"])
def test_hash_head_shapes_and_config(activation):
    head = HashHead(bits=12, activation=activation, slope=3.0)
    out = head(np.ones((4, 5), "float32"))
    assert out.shape == (4, 12)
    if activation != "linear":
        assert np.all(np.abs(out.numpy()) <= 1)
    revived = HashHead.from_config(head.get_config())
    assert revived.get_config() == head.get_config()


def test_hash_head_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bits"):
        HashHead(bits=0)
    with pytest.raises(ValueError, match=r"activation.*'relu'"):
        HashHead(bits=4, activation="relu")


def test_preprocessing_contract_validates():
    with pytest.raises(ValueError, match="channels"):
        Preprocessing(channels=2)
    with pytest.raises(ValueError, match="mean"):
        Preprocessing(channels=3, mean=(1.0, 2.0))
    with pytest.raises(ValueError, match="std"):
        Preprocessing(std=0)
    with pytest.raises(ValueError, match="unknown preprocessing keys"):
        Preprocessing.from_dict({"size": 3})
    p = Preprocessing(image_size=16, channels=3, mean=(1, 2, 3), std=2)
    assert p.image_size == (16, 16) and p.std == (2.0, 2.0, 2.0)


def test_image_preprocessing_values():
    layer = ImagePreprocessing(Preprocessing(image_size=(2, 2), channels=3, mean=127.5, std=127.5))
    grey = np.array([0, 255, 255, 0], "float32").reshape(1, 2, 2, 1)
    out = layer(grey).numpy()
    assert out.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(out[0, :, :, 0], [[-1, 1], [1, -1]])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    to_grey = ImagePreprocessing({"image_size": (2, 2), "channels": 1, "mean": 0, "std": 1})
    rgb = np.zeros((1, 2, 2, 3), "float32")
    rgb[..., 1] = 100
    np.testing.assert_allclose(to_grey(rgb).numpy(), np.full((1, 2, 2, 1), 58.7), rtol=1e-6)
    resized = to_grey(np.full((2, 6, 6, 3), 10.0, "float32"))
    assert resized.shape == (2, 2, 2, 1)
    np.testing.assert_allclose(resized.numpy(), 10.0 * (0.2989 + 0.587 + 0.114), rtol=1e-5)


def test_image_preprocessing_handles_unknown_shapes_in_a_trace():
    layer = ImagePreprocessing({"image_size": (4, 4), "channels": 1})
    fn = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, None], tf.float32)])
    for shape in ((2, 4, 4, 1), (3, 8, 8, 3)):
        x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
        np.testing.assert_allclose(fn(x).numpy(), layer(x).numpy(), atol=1e-5)
