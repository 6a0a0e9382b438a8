"""Seed-generator positions travel with the weights (`hashzoo.utils.seed_state`): a resumed run is an uninterrupted one.

A Keras `SeedGenerator` keeps its position in a variable that `save_weights`
does not write, so before `SeedState` a model loaded from a checkpoint drew
its noise, augmentation and dropout from step 0 again.
"""

import h5py
import keras
import numpy as np
import pytest

from hashzoo.layers import FlipCrop
from hashzoo.utils.seed_state import KEY_PREFIX, SeedState, seed_generators
from tests import helpers
from tests.methods import test_bgan, test_coophash


def states(model):
    return [np.asarray(generator.state).tolist() for generator in seed_generators(model)]


def values(model):
    return [np.asarray(v) for v in model.weights]


def coophash():
    return test_coophash.build(augment="flip_crop")()


def bgan():
    return test_bgan.build(dropout=0.5, variational_jitter=True)()


def coophash_step(model, images, start):
    batch = slice(start, start + 8)
    model.fit(images[0][batch], images[1][batch], batch_size=8, epochs=1, shuffle=False, verbose=0)


def bgan_step(model, images, start):
    batch = images[start : start + 8]
    model.fit(batch, test_bgan.batch_similarity(batch), batch_size=8, epochs=1, shuffle=False, verbose=0)


CASES = {
    "coophash-flip_crop": (coophash, lambda: test_coophash.digits_batch(32), coophash_step),
    "bgan-smoke": (bgan, lambda: test_bgan.digits_batch(32), bgan_step),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_run_resumed_from_saved_weights_takes_the_step_the_uninterrupted_run_takes(case, tmp_path):
    build, batches, step = CASES[case]
    images = batches()
    model = build()
    initial = states(model)
    for start in (0, 8):
        step(model, images, start)
    assert states(model) != initial  # the streams moved
    path = tmp_path / "checkpoint.weights.h5"
    model.save_weights(path)

    resumed = build()
    resumed.load_weights(path)
    assert states(resumed) == states(model)
    step(model, images, 16)  # the uninterrupted run's next step ...
    step(resumed, images, 16)  # ... and the resumed run's
    # Equal up to float summation order (threads may add in another order); other noise or dropout
    # draws would move the weights by far more than this.
    for a, b in zip(values(model), values(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert states(resumed) == states(model)


def test_the_streams_are_restored_under_two_replicas(tmp_path):
    images = test_coophash.digits_batch(16)
    strategy = helpers.two_replica_strategy()
    with strategy.scope():
        model = coophash()
    coophash_step(model, images, 0)
    path = tmp_path / "checkpoint.weights.h5"
    model.save_weights(path)
    with strategy.scope():
        resumed = coophash()
        resumed.load_weights(path)
    assert states(resumed) == states(model) and states(resumed.augmentation) == states(model.augmentation)
    assert states(model) != states(coophash())


def test_the_streams_saved_are_the_models_own_and_its_nested_layers():
    model = coophash()
    generators = seed_generators(model)
    assert generators[0] is model.seed_generator
    assert model.augmentation.seed_generator not in generators  # FlipCrop saves its own
    assert seed_generators(model.augmentation) == [model.augmentation.seed_generator]
    gan = bgan()
    assert gan.seed_generator in seed_generators(gan)
    assert gan.encoder.dropout.seed_generator in seed_generators(gan)  # Keras's Dropout, nested


def stepped_coophash():
    """A CoopHash that took one step, so its streams have moved off their initial positions."""
    images = test_coophash.digits_batch(16)
    model = coophash()
    coophash_step(model, images, 0)
    return model, images


def test_a_weights_file_without_seed_states_loads_with_the_initial_streams(tmp_path):
    model, images = stepped_coophash()
    path = tmp_path / "old.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r+") as handle:  # as written before seed states were saved
        removed = []
        handle.visit(lambda name: removed.append(name) if name.rsplit("/", 1)[-1].startswith(KEY_PREFIX) else None)
        assert len(removed) == 2  # the model's noise stream and FlipCrop's
        for name in removed:
            del handle[name]
    fresh = coophash()
    initial = states(fresh) + states(fresh.augmentation)
    fresh.load_weights(path)
    assert states(fresh) + states(fresh.augmentation) == initial
    for a, b in zip(model.trainable_weights, fresh.trainable_weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_keras_file_round_trips_the_streams(tmp_path):
    model, images = stepped_coophash()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert states(loaded) == states(model) and states(loaded.augmentation) == states(model.augmentation)
    np.testing.assert_array_equal(loaded.encode(images[0]), model.encode(images[0]))


def test_a_file_from_another_architecture_is_named():
    class Two(SeedState, keras.layers.Layer):
        def __init__(self, count, **kwargs):
            super().__init__(**kwargs)
            self.streams = [keras.random.SeedGenerator(i) for i in range(count)]

    store = {}
    Two(2, name="two").save_own_variables(store)
    assert sorted(store) == [f"{KEY_PREFIX}0", f"{KEY_PREFIX}1"]
    with pytest.raises(ValueError, match="has 1 seed generator.*holds 2 seed state"):
        Two(1, name="one").load_own_variables(store)
    layer = FlipCrop(pad=1, seed=4)
    layer(np.zeros((2, 4, 4, 1), "float32"), training=True)
    store = {}
    layer.save_own_variables(store)
    again = FlipCrop(pad=1, seed=4)
    again.load_own_variables(store)
    assert np.asarray(again.seed_generator.state).tolist() == [4, 1]


def test_a_training_run_killed_after_an_epoch_resumes_with_the_streams_of_an_uninterrupted_run(tmp_path):
    from hashzoo import training

    # Shuffled as in every run: the pipeline's epoch order depends on the seed and the epoch only
    # (tests/test_resume_order.py), so the resumed epoch 2 reads the uninterrupted run's epoch 2.
    config = training.load_config("coophash_digits:smoke")
    config = config.replace(epochs=2, model=dict(config.model, augment="flip_crop"))

    class FinalWeights(keras.callbacks.Callback):
        def on_train_end(self, logs=None):  # before the best epoch is restored
            self.values = values(self.model)
            self.states = states(self.model) + states(self.model.augmentation)

    uninterrupted, resumed = FinalWeights(), FinalWeights()
    training.train(config, tmp_path / "reference", verbose=0, extra_callbacks=[uninterrupted])
    with pytest.raises(helpers.Killed):
        training.train(config, tmp_path / "run", verbose=0, extra_callbacks=[helpers.KillAfterEpoch(0)])
    training.train(config, tmp_path / "run", verbose=0, extra_callbacks=[resumed])
    assert resumed.states == uninterrupted.states
    for a, b in zip(uninterrupted.values, resumed.values):  # up to float summation order, as above
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
