import numpy as np
import keras
import pytest
import tensorflow as tf

from hashzoo.methods.coophash import CoopHash, Descriptor, LangevinSampler, PairGenerator
from hashzoo.methods.coophash.pairs import dissimilar_labels
from tests import helpers

DIGITS = {"image_size": (8, 8), "channels": 1}


def digits_batch(n=32, start=0):
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.round(data.images[start : start + n] * 255.0 / 16.0).astype("uint8")[..., None]
    return images, data.target[start : start + n].astype("int64")


def small_kwargs(**overrides):
    kwargs = dict(
        code_bits=16, num_classes=10, latent_dim=8, width=0.25, langevin_steps=2,
        energy_weight=0.1, preprocessing=DIGITS, seed=1,
    )
    kwargs.update(overrides)
    return kwargs


def build(**overrides):
    def build_and_compile():
        model = CoopHash(**small_kwargs(**overrides))
        model.compile(
            descriptor_optimizer=keras.optimizers.SGD(0.01), generator_optimizer=keras.optimizers.SGD(0.001)
        )
        return model

    return build_and_compile


# === the shared battery ===


def test_serialization_with_non_default_values():
    helpers.run_serialization_test(
        CoopHash,
        dict(
            code_bits=12, num_classes=5, multi_label=True, latent_dim=6, width=0.5, init_std=0.02, langevin_steps=3,
            langevin_step_size=0.01, langevin_reference_std=0.5, langevin_noise=True, clip_revised=False,
            margin=3.0, hash_weight=0.5, class_weight=2.0, synthetic_class_weight=0.3, quantization_weight=0.2,
            energy_weight=0.01, kl_weight=1.5, vae_trains_trunk=False, pair_source="real",
            real_triplet_weight=0.4, seed=7, preprocessing={"image_size": (16, 16), "channels": 3}, name="coop",
        ),
    )
    for cls, kwargs in (
        (Descriptor, dict(input_shape=(8, 8, 1), num_classes=3, code_bits=5, latent_dim=4, width=0.5, init_std=0.1, seed=2)),
        (PairGenerator, dict(output_shape=(16, 16, 3), num_classes=3, latent_dim=4, width=0.5, seed=2)),
    ):
        helpers.run_serialization_test(cls, kwargs)


def test_codes_and_saving_with_both_optimizers(tmp_path):
    images, labels = digits_batch(16)
    model = build()()
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    helpers.run_code_test(model, images)
    loaded = helpers.run_saving_test(model, images, tmp_path)
    assert int(loaded.generator_optimizer.iterations.numpy()) == 2
    assert isinstance(loaded.generator_optimizer, keras.optimizers.SGD)
    for a, b in zip(model.generator_optimizer.variables, loaded.generator_optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_fit_under_two_replica_mirrored_strategy():
    images, labels = digits_batch(16)
    helpers.run_distributed_fit_test(build(), images, labels, batch_size=8)


def test_two_replicas_take_the_same_step_as_one_device():
    images, labels = digits_batch(16)
    helpers.run_distributed_equivalence_test(build(), images, labels, atol=2e-5, rtol=2e-4)


# === Langevin ===


def tiny_descriptor():
    return Descriptor((8, 8, 1), num_classes=3, code_bits=4, latent_dim=2, width=0.125, init_std=0.2, seed=4)


def test_langevin_step_with_noise_off_equals_the_closed_form():
    descriptor = tiny_descriptor()
    sampler = LangevinSampler(descriptor.energy, steps=1, step_size=0.3, reference_std=0.7, noise=False, clip=False)
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1)).astype("float32"))
    y = tf.one_hot([0, 1, 2, 0], 3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(descriptor.energy(x, y))
    expected = x + 0.5 * 0.3**2 * (tape.gradient(total, x) - x / 0.7**2)
    got = sampler.revise(x, y, tf.constant([0, 0], tf.int32))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)


def test_langevin_chains_are_independent_and_compile_once():
    descriptor = tiny_descriptor()
    sampler = LangevinSampler(descriptor.energy, steps=3, step_size=0.3, reference_std=1.0)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (5, 8, 8, 1)).astype("float32")
    y = tf.one_hot([0, 1, 2, 1, 0], 3)
    seed = tf.constant([1, 2], tf.int32)
    together = sampler.revise(tf.constant(x), y, seed).numpy()
    alone = np.concatenate([sampler.revise(tf.constant(x[i : i + 1]), y[i : i + 1], seed).numpy() for i in range(5)])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    for _ in range(4):
        sampler.revise(tf.constant(rng.uniform(-1, 1, (5, 8, 8, 1)).astype("float32")), y, seed)
    # One trace for the batch of 5 and one (relaxed) for the batch of 1: none per batch.
    assert sampler.revise.experimental_get_tracing_count() == 2


def test_langevin_noise_is_on_only_when_asked():
    descriptor = tiny_descriptor()
    x = tf.zeros((2, 8, 8, 1))
    y = tf.one_hot([0, 1], 3)
    quiet = LangevinSampler(descriptor.energy, 2, 0.1, 1.0, noise=False)
    noisy = LangevinSampler(descriptor.energy, 2, 0.1, 1.0, noise=True)
    a = quiet.revise(x, y, tf.constant([3, 4], tf.int32)).numpy()
    b = quiet.revise(x, y, tf.constant([5, 6], tf.int32)).numpy()
    np.testing.assert_array_equal(a, b)
    c = noisy.revise(x, y, tf.constant([3, 4], tf.int32)).numpy()
    assert np.abs(c - a).mean() > 0.05
    assert np.all(np.abs(c) <= 1.0)
    with pytest.raises(ValueError, match="langevin_steps"):
        LangevinSampler(descriptor.energy, -1, 0.1, 1.0)


# === losses and pairs ===


def test_negative_labels_never_overlap():
    labels = tf.constant(np.arange(200) % 10)
    for s in range(5):
        negative = dissimilar_labels(labels, 10, tf.constant([s, 0], tf.int32), multi_label=False)
        assert np.all(np.argmax(negative.numpy(), 1) != labels.numpy())
    rng = np.random.default_rng(0)
    multi = (rng.random((64, 6)) < 0.3).astype("float32")
    multi[0] = 1.0  # every class on: the only dissimilar label is "no label"
    negative = dissimilar_labels(tf.constant(multi), 6, tf.constant([1, 1], tf.int32), multi_label=True).numpy()
    assert np.all((negative * multi).sum(1) == 0)
    assert np.all(negative[1:].sum(1) >= 1)


def test_descriptor_step_never_touches_the_generator():
    model = build()()
    descriptor_ids = {id(v) for v in model.descriptor.descriptor_variables}
    assert not descriptor_ids & {id(v) for v in model.generator.trainable_variables}
    assert not descriptor_ids & {id(v) for v in model.descriptor.inference_head.trainable_variables}


def test_with_hashing_and_class_weights_at_zero_the_loss_is_the_energy_loss():
    images, labels = digits_batch(16)
    model = build(hash_weight=0.0, class_weight=0.0, quantization_weight=0.0, energy_weight=0.0)()
    hash_before = [np.array(v) for v in model.descriptor.hash_head.weights]
    class_before = [np.array(v) for v in model.descriptor.class_head.weights]
    history = model.fit(images, labels, batch_size=16, epochs=1, verbose=0)
    assert history.history["loss"] == history.history["ebm_loss"]
    for before, v in zip(hash_before + class_before, model.descriptor.hash_head.weights + model.descriptor.class_head.weights):
        np.testing.assert_array_equal(before, np.array(v))


def test_fit_on_real_digits_lowers_the_loss_and_stays_finite():
    images, labels = digits_batch(128)
    model = CoopHash(**small_kwargs(width=0.5, real_triplet_weight=1.0))
    model.compile(descriptor_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    before = [np.array(v) for v in model.trainable_weights]
    history = model.fit(images, labels, batch_size=32, epochs=5, shuffle=False, verbose=0)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), name
    assert history.history["class_loss"][-1] < history.history["class_loss"][0]
    assert history.history["hash_loss"][-1] < history.history["hash_loss"][0]
    assert max(abs(g) for g in history.history["energy_gap"]) < 1e3
    assert all(not np.allclose(b, np.array(v)) for b, v in zip(before, model.trainable_weights) if b.size > 1)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_classes >= 2"):
        CoopHash(code_bits=8, num_classes=1, preprocessing=DIGITS)
    with pytest.raises(ValueError, match="pair_source"):
        CoopHash(code_bits=8, num_classes=3, pair_source="fake", preprocessing=DIGITS)
    with pytest.raises(ValueError, match=r"4 \* 2\*\*n"):
        CoopHash(code_bits=8, num_classes=3, preprocessing={"image_size": (28, 28), "channels": 1})
