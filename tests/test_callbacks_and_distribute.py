import functools

import numpy as np
import keras
import pytest
import tensorflow as tf

from hashzoo import distribute
from hashzoo.layers import HashHead
from hashzoo.methods.bgan.schedule import staged_slope
from hashzoo.training.callbacks import SmoothSignSchedule
from tests.helpers import two_replica_strategy


def test_staged_slope_matches_the_bgan_schedule():
    got = [staged_slope(e, 51) for e in range(51)]
    assert got[0:9] == [1.0] * 9
    assert got[9:17] == [2.5] * 8
    assert got[17:25] == [5.0] * 8
    assert got[25:33] == [7.5] * 8
    assert got[33:] == [10.0] * 18


def test_schedule_callback_sets_slope_each_epoch():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, HashHead(3, activation="smooth_sign")(inputs))
    model.compile(optimizer="sgd", loss="mse")
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(float(model.layers[1].smooth_sign.slope.numpy()))

    x, y = np.ones((8, 4), "float32"), np.zeros((8, 3), "float32")
    history = model.fit(
        x, y, epochs=4, verbose=0,
        callbacks=[SmoothSignSchedule(functools.partial(staged_slope, epochs=4, stages=2)), Spy()],
    )
    assert seen == [1.0, 1.0, 1.0, 2.5]
    assert history.history["slope"] == [1.0, 1.0, 1.0, 2.5]


def test_schedule_callback_needs_a_smooth_sign():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no SmoothSign"):
        model.fit(np.ones((2, 2)), np.ones((2, 1)), verbose=0, callbacks=[SmoothSignSchedule(lambda e: 2.0)])
    with pytest.raises(ValueError, match="callable"):
        SmoothSignSchedule(3.0)


def test_replica_seeds_differ_per_replica_and_per_call():
    strategy = two_replica_strategy()
    with strategy.scope():
        generator = keras.random.SeedGenerator(42)

    @tf.function
    def draw():
        def fn():
            seed = distribute.replica_seed(generator)
            return tf.random.stateless_normal([3], seed=seed), distribute.scale_loss(tf.constant(1.0))

        return strategy.run(fn)

    first, scaled = draw()
    a, b = (t.numpy() for t in strategy.experimental_local_results(first))
    assert not np.allclose(a, b)
    assert [float(s) for s in strategy.experimental_local_results(scaled)] == [0.5, 0.5]
    second, _ = draw()
    assert not np.allclose(strategy.experimental_local_results(second)[0].numpy(), a)


def test_split_seed_gives_distinct_seeds():
    seeds = distribute.split_seed(tf.constant([1, 2], tf.int32), 3)
    values = {tuple(s.numpy().tolist()) for s in seeds}
    assert len(values) == 3
    assert distribute.num_replicas() == 1


def test_replica_noise_slices_the_global_draw():
    strategy = two_replica_strategy()
    seed = tf.constant([7, 9], tf.int32)
    one_device = distribute.replica_normal([6, 3], seed).numpy()

    @tf.function
    def draw():
        return strategy.run(lambda: (distribute.replica_normal([3, 3], seed),
                                     distribute.replica_uniform_int([3], seed, 0, 1000)))

    normal, ints = draw()
    first, second = (t.numpy() for t in strategy.experimental_local_results(normal))
    assert not np.allclose(first, second), "replicas must draw different noise"
    np.testing.assert_array_equal(np.concatenate([first, second]), one_device)
    whole = distribute.replica_uniform_int([6], seed, 0, 1000).numpy()
    np.testing.assert_array_equal(np.concatenate([t.numpy() for t in strategy.experimental_local_results(ints)]), whole)


def test_strategies_by_name_and_the_chief():
    assert distribute.make_strategy("none") is tf.distribute.get_strategy()
    assert distribute.is_chief(distribute.make_strategy("none"))
    with pytest.raises(ValueError, match=r"unknown distribution strategy 'tpu'; allowed: \['none', 'mirrored', 'multiworker'\]"):
        distribute.make_strategy("tpu")
    assert distribute.is_chief(two_replica_strategy())
