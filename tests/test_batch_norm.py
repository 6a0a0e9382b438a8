"""Precise batch-norm statistics (`hashzoo.training.batch_norm`) and BGAN / SPAH's `batch_norm_recalibration`."""

import types

import numpy as np
import keras
import pytest

from hashzoo import data, training
from hashzoo.methods.bgan import BGAN
from hashzoo.methods.bgan.smooth_sign_gan import DEFAULT_BATCH_NORM_RECALIBRATION
from hashzoo.methods.spah import SPAH
from hashzoo.models.hooks import StageContext
from hashzoo.training.batch_norm import (BatchNormRecalibration, batch_norm_layers, recalibrate_batch_norm,
                                         recalibration_indices)
from hashzoo.training.core import Parts
from hashzoo.zoo import presets
from tests import helpers

EPSILON = 1e-3  # Keras's BatchNormalization default


def tiny_network(seed=0):
    """1x1 conv, BN, ReLU, then a nested model: dense, BN, seeded dropout; gamma and beta not at their defaults."""
    keras.utils.set_random_seed(seed)
    inner = keras.Sequential([keras.Input((48,)), keras.layers.Dense(5, name="dense"),
                              keras.layers.BatchNormalization(name="bn_inner"),
                              keras.layers.Dropout(0.5, seed=3, name="dropout")], name="inner")
    network = keras.Sequential([
        keras.Input((4, 4, 2)), keras.layers.Conv2D(3, 1, use_bias=False, name="conv"),
        keras.layers.BatchNormalization(synchronized=True, name="bn_conv"), keras.layers.ReLU(),
        keras.layers.Flatten(), inner,
    ], name="tiny")
    rng = np.random.default_rng(seed)
    for layer in batch_norm_layers(network):
        layer.gamma.assign(rng.uniform(0.5, 2.0, layer.gamma.shape).astype("float32"))
        layer.beta.assign(rng.normal(size=layer.beta.shape).astype("float32"))
    return network


def batches(count=3, size=6, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(size, 4, 4, 2)).astype("float32") for _ in range(count)]


def numpy_statistics(network, inputs):
    """Per-batch training-mode moments of both BN layers, averaged, computed in numpy."""
    conv, bn_conv = network.get_layer("conv"), network.get_layer("bn_conv")
    inner = network.get_layer("inner")
    dense = inner.get_layer("dense")
    kernel = np.asarray(conv.kernel)[0, 0]
    sums = {name: [0.0, 0.0] for name in ("bn_conv", "bn_inner")}
    for x in inputs:
        c = x.astype(np.float64) @ kernel
        mean, var = c.mean(axis=(0, 1, 2)), c.var(axis=(0, 1, 2))
        sums["bn_conv"][0] += mean
        sums["bn_conv"][1] += var
        h = (c - mean) / np.sqrt(var + EPSILON) * np.asarray(bn_conv.gamma) + np.asarray(bn_conv.beta)
        h = np.maximum(h, 0.0).reshape(len(x), -1)
        d = h @ np.asarray(dense.kernel) + np.asarray(dense.bias)
        sums["bn_inner"][0] += d.mean(axis=0)
        sums["bn_inner"][1] += d.var(axis=0)
    return {name: (mean / len(inputs), var / len(inputs)) for name, (mean, var) in sums.items()}


def moving(network):
    return {layer.name: (np.asarray(layer.moving_mean), np.asarray(layer.moving_variance))
            for layer in batch_norm_layers(network)}


def test_recalibrated_statistics_are_the_average_batch_moments_of_every_nested_layer():
    network = tiny_network()
    inputs = batches()
    dropout_state = np.asarray(network.get_layer("inner").get_layer("dropout").seed_generator.state)
    weights = [np.asarray(w) for w in network.trainable_weights]
    assert recalibrate_batch_norm(network, inputs) == 3
    expected = numpy_statistics(network, inputs)
    got = moving(network)
    assert set(got) == {"bn_conv", "bn_inner"}
    for name, (mean, var) in expected.items():
        np.testing.assert_allclose(got[name][0], mean, rtol=1e-4, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(got[name][1], var, rtol=1e-4, atol=1e-5, err_msg=name)
    # Nothing else moved: momenta, trainable weights, the dropout's seed state.
    assert all(layer.momentum == 0.99 for layer in batch_norm_layers(network))
    for before, after in zip(weights, network.trainable_weights):
        np.testing.assert_array_equal(before, np.asarray(after))
    np.testing.assert_array_equal(
        np.asarray(network.get_layer("inner").get_layer("dropout").seed_generator.state), dropout_state)


def test_after_recalibrating_on_one_batch_inference_outputs_equal_training_outputs_on_it():
    network = tiny_network()
    network.get_layer("inner").get_layer("dropout").rate = 0.0
    x = batches(count=1, size=16)[0]
    before = np.asarray(network(x, training=False))
    recalibrate_batch_norm(network, [x])
    inference = np.asarray(network(x, training=False))
    train = np.asarray(network(x, training=True))
    assert not np.allclose(before, train, atol=1e-2)
    np.testing.assert_allclose(inference, train, rtol=1e-4, atol=1e-4)


def test_frozen_layers_are_left_alone_and_no_batch_changes_nothing():
    network = tiny_network()
    network.get_layer("inner").get_layer("bn_inner").trainable = False
    assert [layer.name for layer in batch_norm_layers(network)] == ["bn_conv"]
    frozen = np.asarray(network.get_layer("inner").get_layer("bn_inner").moving_mean)
    recalibrate_batch_norm(network, batches())
    np.testing.assert_array_equal(np.asarray(network.get_layer("inner").get_layer("bn_inner").moving_mean), frozen)
    before = moving(network)
    with pytest.raises(ValueError, match="no batch"):
        recalibrate_batch_norm(network, [])
    for name, (mean, var) in moving(network).items():
        np.testing.assert_array_equal(mean, before[name][0])
        np.testing.assert_array_equal(var, before[name][1])
    assert recalibrate_batch_norm(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), batches()) == 0


def test_the_batches_are_a_fixed_seeded_draw_of_full_batches():
    first = recalibration_indices(10, 3, 5, seed=4)
    assert [len(b) for b in first] == [3, 3, 3]  # at most the full batches
    assert len(set(np.concatenate(first))) == 9
    assert all(np.array_equal(a, b) for a, b in zip(first, recalibration_indices(10, 3, 5, seed=4)))
    assert [len(b) for b in recalibration_indices(10, 3, 2, seed=4)] == [3, 3]
    np.testing.assert_array_equal(recalibration_indices(2, 3, 5)[0], [0, 1])  # fewer images than a batch


def test_two_replicas_give_the_statistics_of_one_device_in_every_copy():
    inputs = batches(count=2, size=8)
    single = tiny_network()
    initial = single.get_weights()
    recalibrate_batch_norm(single, inputs)
    strategy = helpers.two_replica_strategy()
    with strategy.scope():
        mirrored = tiny_network(seed=5)
    expected = moving(single)
    for in_scope in (False, True):  # a Keras callback may be called in the scope or out of it
        mirrored.set_weights(initial)
        if in_scope:
            with strategy.scope():
                recalibrate_batch_norm(mirrored, inputs)
        else:
            recalibrate_batch_norm(mirrored, inputs)
        for layer in batch_norm_layers(mirrored):
            for variable, value in zip((layer.moving_mean, layer.moving_variance), expected[layer.name]):
                copies = getattr(variable.value, "values", None)
                assert copies is not None and len(copies) == 2, "not a mirrored variable"
                for copy in copies:
                    np.testing.assert_allclose(np.asarray(copy), value, rtol=1e-5, atol=1e-6,
                                               err_msg=f"{variable.path}, in scope: {in_scope}")


# === BGAN and SPAH's option ===

DIGITS = {"image_size": (8, 8), "channels": 1}


@pytest.mark.parametrize("cls, extra", [(BGAN, {"k1": 3, "k2": 4}), (SPAH, {"k": 3})])
def test_the_option_round_trips_and_old_configs_load_without_it(cls, extra):
    model = cls(code_bits=8, architecture="smoke", preprocessing=DIGITS, batch_norm_recalibration=7, **extra)
    config = model.get_config()
    assert config["batch_norm_recalibration"] == 7
    assert cls.from_config(config).batch_norm_recalibration == 7
    old = {key: value for key, value in config.items() if key != "batch_norm_recalibration"}
    assert cls.from_config(old).batch_norm_recalibration == 0
    assert cls(code_bits=8, architecture="smoke", preprocessing=DIGITS, **extra).batch_norm_recalibration == \
        DEFAULT_BATCH_NORM_RECALIBRATION
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="batch_norm_recalibration"):
            cls(code_bits=8, architecture="smoke", preprocessing=DIGITS, batch_norm_recalibration=bad, **extra)


def test_hook_gives_a_recalibration_only_when_on():
    context = StageContext(train=Parts.of(data.load_digits(), "digits").train, batch_size=40, seed=2)
    off = BGAN(code_bits=8, architecture="smoke", k1=3, k2=4, preprocessing=DIGITS, batch_norm_recalibration=0)
    assert off.pre_checkpoint_callbacks(context) == []
    on = BGAN(code_bits=8, architecture="smoke", k1=3, k2=4, preprocessing=DIGITS, batch_norm_recalibration=4)
    [callback] = on.pre_checkpoint_callbacks(context)
    assert isinstance(callback, BatchNormRecalibration) and len(callback.batches) == 4
    assert callback.batches[0].shape == (40, 8, 8, 1)


def test_a_smoke_fit_checkpoints_recalibrated_statistics(tmp_path):
    config = training.load_config("bgan_digits:smoke").replace(epochs=1)
    # Through the core directly: `train` accepts only the model arguments BGAN's own constructor names.
    training.core.run_training(
        lambda parts: BGAN.from_data(config.bits, parts.train, seed=config.seed, batch_norm_recalibration=3,
                                     **config.model),
        data.load(config.data), config.protocol, tmp_path / "bgan",
        training.core.RunOptions(epochs=1, batch_size=config.batch_size, seed=config.seed, steps_per_epoch=4,
                                 verbose=0),
        method_class=BGAN, optimizers=config.optimizers, data_name=config.data,
        metadata={"method": config.method, "config": config.to_dict()},
    )
    loaded = presets.load(tmp_path / "bgan")
    assert loaded.batch_norm_recalibration == 3
    saved = moving(loaded.encoder)
    assert saved
    # Recalibrating the kept weights again on the run's batches changes nothing.
    train = Parts.of(data.load(config.data), config.protocol).train
    batch_size = min(config.batch_size, len(train))
    BatchNormRecalibration(loaded.encoder, train.images, batch_size, 3, seed=config.seed,
                           preprocess=loaded.preprocess).recalibrate()
    for name, (mean, var) in moving(loaded.encoder).items():
        np.testing.assert_allclose(mean, saved[name][0], rtol=1e-4, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(var, saved[name][1], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.slow  # test_two_replicas_give_the_statistics_of_one_device_in_every_copy covers the recalibration
def test_a_fit_under_two_replicas_ends_each_epoch_with_recalibrated_statistics_in_every_copy():
    from sklearn.datasets import load_digits

    images = np.round(load_digits().images[:48] * 255.0 / 16.0).astype("uint8")[..., None]
    with helpers.two_replica_strategy().scope():
        model = BGAN(code_bits=8, architecture="smoke", k1=3, k2=4, preprocessing=DIGITS, seed=1,
                     batch_norm_recalibration=2)
        model.compile(encoder_optimizer=keras.optimizers.SGD(0.05), generator_optimizer=keras.optimizers.SGD(0.01),
                      discriminator_optimizer=keras.optimizers.SGD(0.01))
    context = StageContext(train=types.SimpleNamespace(images=images), batch_size=16, seed=0)
    [callback] = model.pre_checkpoint_callbacks(context)
    model.fit(model.make_train_dataset(images, batch_size=16, seed=0), epochs=1, verbose=0, shuffle=False,
              callbacks=[callback, *model.training_callbacks(1)])
    fitted = {layer.name: [np.asarray(copy) for variable in (layer.moving_mean, layer.moving_variance)
                           for copy in variable.value.values] for layer in batch_norm_layers(model.encoder)}
    callback.recalibrate()  # the same batches and weights: the same statistics
    for layer in batch_norm_layers(model.encoder):
        again = [np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)]
        mean_copies, variance_copies = fitted[layer.name][:2], fitted[layer.name][2:]
        for copy in mean_copies:
            np.testing.assert_allclose(copy, again[0], rtol=1e-4, atol=1e-5, err_msg=layer.name)
        for copy in variance_copies:
            np.testing.assert_allclose(copy, again[1], rtol=1e-4, atol=1e-5, err_msg=layer.name)
