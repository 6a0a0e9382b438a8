"""The shared training augmentation (`hashzoo.layers.FlipCrop`): what it draws, when, and on how many replicas."""

import numpy as np
import keras
import pytest
import tensorflow as tf

from hashzoo import distribute
from hashzoo.layers import FlipCrop
from hashzoo.layers.augmentation import check_augment, default_pad, flip_crop, make_augmentation
from tests import helpers


def images(batch=6, side=5, channels=2):
    return np.random.default_rng(0).uniform(-1, 1, (batch, side, side, channels)).astype("float32")


def reference(x, seed, flip, pad, padding):
    """`flip_crop` in numpy from the same stateless draws, one device."""
    flip_seed, crop_seed = distribute.split_seed(tf.constant(seed, tf.int32), 2)
    out = x.copy()
    if flip:
        mirror = tf.random.stateless_uniform([len(x)], flip_seed).numpy() < 0.5
        out[mirror] = out[mirror][:, :, ::-1]
    if pad:
        offsets = tf.random.stateless_uniform([len(x), 2], crop_seed, 0, 2 * pad + 1, dtype=tf.int32).numpy()
        mode = {"constant": "constant", "reflect": "reflect", "symmetric": "symmetric"}[padding]
        padded = np.pad(out, [(0, 0), (pad, pad), (pad, pad), (0, 0)], mode=mode)
        h, w = x.shape[1:3]
        out = np.stack([p[i : i + h, j : j + w] for p, (i, j) in zip(padded, offsets)])
    return out


@pytest.mark.parametrize("flip, pad, padding", [
    (True, 2, "reflect"), (False, 1, "constant"), (True, 0, "reflect"), (True, 3, "symmetric"),
])
def test_output_on_a_fixed_seed_is_the_flipped_and_shifted_images(flip, pad, padding):
    x = images()
    layer = FlipCrop(flip=flip, pad=pad, padding=padding, seed=11)
    stream = keras.random.SeedGenerator(11)
    # Each training call takes the next seed of the layer's stream.
    for _ in range(2):
        out = np.asarray(layer(x, training=True))
        np.testing.assert_array_equal(out, reference(x, stream.next().numpy(), flip, pad, padding))
    again = FlipCrop(flip=flip, pad=pad, padding=padding, seed=11)
    first = keras.random.SeedGenerator(11).next().numpy()
    np.testing.assert_array_equal(np.asarray(again(x, training=True)), reference(x, first, flip, pad, padding))


def test_both_flips_and_every_offset_occur():
    x = np.tile(np.arange(16, dtype="float32").reshape(1, 4, 4, 1), (400, 1, 1, 1))
    out = np.asarray(FlipCrop(flip=True, pad=1, padding="constant", seed=0)(x, training=True))
    centre = out[:, 1:3, 1:3, 0].reshape(400, -1)
    # The 2x2 centre of a flipped and shifted 4x4 ramp identifies the flip and the offset.
    assert len({tuple(row) for row in centre}) == 18  # 2 flips x 9 offsets
    assert out.shape == x.shape


def test_identity_outside_training():
    x = images()
    layer = FlipCrop(pad=2, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(FlipCrop(flip=False, pad=0)(x, training=True)), x)


def test_config_round_trip():
    layer = helpers.run_serialization_test(FlipCrop, dict(flip=False, pad=3, padding="symmetric", seed=9, name="aug"))
    x = images()
    again = FlipCrop.from_config(layer.get_config())
    np.testing.assert_array_equal(np.asarray(again(x, training=True)), np.asarray(layer(x, training=True)))


def test_two_replicas_draw_what_one_device_draws():
    x = images(batch=8)
    single = np.asarray(FlipCrop(pad=2, seed=4)(x, training=True))
    strategy = helpers.two_replica_strategy()
    with strategy.scope():
        layer = FlipCrop(pad=2, seed=4)
    local = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(x[4 * ctx.replica_id_in_sync_group :][:4])
    )
    result = strategy.run(tf.function(lambda batch: layer(batch, training=True)), args=(local,))
    mirrored = np.concatenate([np.asarray(r) for r in strategy.experimental_local_results(result)])
    np.testing.assert_array_equal(mirrored, single)


def test_augment_argument_names_and_errors():
    assert make_augmentation(None, (32, 32), 0) is None
    layer = make_augmentation("flip_crop", (32, 32), 5)
    assert (layer.flip, layer.pad, layer.padding, layer.seed) == (True, 4, "reflect", 305)
    layer = make_augmentation("crop", (8, 8), 0)
    assert (layer.flip, layer.pad) == (False, 1)
    layer = make_augmentation("flip", (32, 32), 0)
    assert (layer.flip, layer.pad) == (True, 0)
    layer = make_augmentation({"pad": 2, "padding": "constant"}, (32, 32), 0)
    assert (layer.flip, layer.pad, layer.padding) == (True, 2, "constant")
    assert default_pad((64, 48)) == 6 and default_pad((4, 4)) == 1
    assert check_augment({"pad": 1}) == {"pad": 1}
    with pytest.raises(ValueError, match="augment"):
        check_augment("mixup")
    with pytest.raises(ValueError, match="unknown `augment` keys"):
        check_augment({"seed": 1})
    with pytest.raises(ValueError, match="augment"):
        check_augment(True)
    with pytest.raises(ValueError, match="pad"):
        FlipCrop(pad=-1)
    with pytest.raises(ValueError, match="padding"):
        FlipCrop(padding="wrap")
    with pytest.raises(ValueError, match="reflect"):
        FlipCrop(pad=5)(images(side=5), training=True)


def test_flip_crop_keeps_the_rows_of_this_replica():
    x = images(batch=4)
    seed = tf.constant([1, 2], tf.int32)
    np.testing.assert_array_equal(np.asarray(flip_crop(x, seed, pad=1)), reference(x, seed.numpy(), True, 1, "reflect"))
