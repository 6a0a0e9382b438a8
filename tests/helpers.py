"""The test battery every hashzoo model runs (keras-hub's habit).

Each method's tests build small `init_kwargs` with non-default values and
call these helpers, so serialization, saving, codes and distribution are
checked the same way everywhere.
"""

import functools
import inspect
import os

import numpy as np
import keras
import tensorflow as tf


def constructor_parameters(cls):
    """Names of every explicit `__init__` parameter along the class's MRO."""
    names = set()
    for klass in cls.__mro__:
        if klass in (keras.Model, keras.layers.Layer, object) or "__init__" not in klass.__dict__:
            continue
        if not klass.__module__.startswith(("hashzoo", "tests", "test_")):
            continue
        for name, param in inspect.signature(klass.__init__).parameters.items():
            if name != "self" and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                names.add(name)
    return names


def run_serialization_test(cls, init_kwargs):
    """Every constructor argument is in `get_config`, and the config round-trips.

    `init_kwargs` should use non-default values, so an argument that is stored
    but not serialized shows up as a difference.
    """
    model = cls(**init_kwargs)
    config = model.get_config()
    missing = constructor_parameters(cls) - set(config)
    assert not missing, f"{cls.__name__}.get_config() lacks constructor arguments {sorted(missing)}"
    for key, value in init_kwargs.items():
        assert key in config, f"{key!r} missing from config"
    revived = cls.from_config(config)
    assert revived.get_config() == config
    serialized = keras.saving.serialize_keras_object(model)
    again = keras.saving.deserialize_keras_object(serialized)
    assert type(again) is cls and again.get_config() == config
    return model


def run_code_test(model, images):
    """Codes are int8 exactly +/-1 with shape `[N, bits]`; packed codes match."""
    codes = model.encode(images, batch_size=4)
    assert codes.dtype == np.int8
    assert codes.shape == (len(images), model.code_bits)
    assert set(np.unique(codes)) <= {-1, 1}
    packed = model.encode_packed(images, batch_size=4)
    assert packed.dtype == np.uint8 and packed.shape == (len(images), (model.code_bits + 7) // 8)
    np.testing.assert_array_equal(np.packbits(codes > 0, axis=1), packed)
    values = np.asarray(model(images.astype("float32")))
    np.testing.assert_array_equal(np.where(values >= 0, 1, -1), codes)
    return codes


def run_saving_test(model, images, tmp_path):
    """A `.keras` save and load gives the same class, config and codes."""
    path = os.path.join(str(tmp_path), "model.keras")
    before = model.encode(images)
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.encode(images), before)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    return loaded


@functools.lru_cache(maxsize=None)
def _mirrored_strategy(device_names):
    return tf.distribute.MirroredStrategy(list(device_names))


def two_replica_strategy():
    """A `MirroredStrategy` over two logical CPU devices (see conftest.py).

    One strategy serves the whole test process: separate strategies over the
    same devices reuse collective instance keys, and their all-reduces then
    collide ("Shape mismatch in the collective instance").
    """
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        import pytest

        pytest.skip("needs two logical CPU devices; TensorFlow started before conftest split the CPU")
    return _mirrored_strategy(tuple(d.name for d in devices[:2]))


def run_distributed_fit_test(build_and_compile, x, y, batch_size, steps=2):
    """A short `fit` under a 2-replica `MirroredStrategy`: finite metrics, weights move."""
    strategy = two_replica_strategy()
    with strategy.scope():
        model = build_and_compile()
        model.build()
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=batch_size, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    assert history.history, "fit returned no metrics"
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"
    moved = [not np.allclose(a, np.array(w)) for a, w in zip(before, model.trainable_weights)]
    assert any(moved), "no trainable weight moved under MirroredStrategy"
    return model, history


def run_distributed_equivalence_test(build_and_compile, x, y, atol=1e-5, rtol=1e-4):
    """One step on two replicas equals one step on one device (same global batch).

    Catches a hand-written loss that is not divided by the replica count (a
    2x step) and trackers that read a wrong value. `build_and_compile` must
    give identical initial weights each call (seed the initializers) and a
    deterministic step.
    """
    single = build_and_compile()
    single.build()
    initial = single.get_weights()
    h1 = single.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)

    with two_replica_strategy().scope():
        mirrored = build_and_compile()
        mirrored.build()
    mirrored.set_weights(initial)
    h2 = mirrored.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)

    for a, b in zip(single.trainable_weights, mirrored.trainable_weights):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=atol, rtol=rtol, err_msg=a.path)
    assert set(h1.history) == set(h2.history)
    for name in h1.history:
        np.testing.assert_allclose(h1.history[name], h2.history[name], atol=atol, rtol=rtol, err_msg=name)
    return single, mirrored


def images_away_from_zero(model, images, count=16, margin=1e-4):
    """Up to `count` of `images` whose code values all lie more than `margin` from 0.

    A code value at 0 may round to either side between two graphs (Keras's
    `predict` and a SavedModel), so exact code comparisons use these images.
    """
    z = np.asarray(model.predict(np.asarray(images).astype("float32"), verbose=0))
    return np.asarray(images)[np.min(np.abs(z), axis=1) > margin][:count]


class Killed(Exception):
    """What `KillAfterEpoch` raises: stands in for a process killed at an epoch boundary."""


class KillAfterEpoch(keras.callbacks.Callback):
    """Raises `Killed` once epoch `epoch` (0-based) has ended, after its checkpoint is written."""

    def __init__(self, epoch=0):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Killed(f"killed after epoch {epoch}")


class EpochsSeen(keras.callbacks.Callback):
    """Records the epochs a fit starts, so a test can check where a resumed run picked up."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)
