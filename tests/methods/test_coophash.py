import numpy as np
import keras
import pytest
import tensorflow as tf

from hashzoo import training
from hashzoo.methods.coophash import CoopHash, DensityHead, Descriptor, LangevinSampler, PairGenerator, stability
from hashzoo.methods.coophash.coophash_model import DESCRIPTOR_ONLY_TRACKERS, TRACKERS
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
            energy_weight=0.01, kl_weight=1.5, vae_trains_trunk=False, cooperative=False, pair_source="real",
            generator_triplet_weight=0.3, real_triplet_weight=0.4, real_triplet_mining="all",
            real_reconstruction_weight=0.7, generator_class_weight=0.6,
            log_std_bounds=(-3.0, 0.5), descriptor_clipnorm=7.0, generator_clipnorm=None,
            langevin_grad_clip=0.3, seed=7, preprocessing={"image_size": (16, 16), "channels": 3}, augment="flip_crop",
            name="coop",
        ),
    )
    for cls, kwargs in (
        (Descriptor, dict(input_shape=(8, 8, 1), num_classes=3, code_bits=5, latent_dim=4, width=0.5, init_std=0.1,
                          seed=2, log_std_bounds=None)),
        (PairGenerator, dict(output_shape=(16, 16, 3), num_classes=3, latent_dim=4, width=0.5, seed=2)),
        (DensityHead, dict(num_classes=3, seed=4)),
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
    # Clip norms far below the gradients' norms: the clipped global gradient
    # must be the same on two replicas as on one device.
    images, labels = digits_batch(16)
    single, _ = helpers.run_distributed_equivalence_test(
        build(descriptor_clipnorm=0.05, generator_clipnorm=0.5, langevin_grad_clip=1e-3),
        images, labels, atol=2e-5, rtol=2e-4,
    )
    assert single.history.history["descriptor_grad_norm"][0] > 0.05
    assert single.history.history["generator_grad_norm"][0] > 0.5


def shipped_build(config_name, multi_label):
    """A tiny model with every loss setting of a shipped config, noise on.

    SGD at the config's learning rates stands in for its Adam: the biases
    before batch norm have a gradient that is zero in exact arithmetic, and
    Adam's normalisation would turn its float noise (about 1e-9, different
    on two replicas) into full-size steps.
    """
    config = training.load_config(config_name)
    channels = 1 if config.data == "digits" else 3
    side = 8 if channels == 1 else 16  # 16x16: the generator then has a batch-norm doubling
    kwargs = dict(config.model)
    kwargs.update(
        code_bits=8, num_classes=10, multi_label=multi_label, latent_dim=4, width=0.125, langevin_noise=True,
        langevin_steps=min(kwargs.get("langevin_steps", 2), 2), seed=5,
        preprocessing={"image_size": (side, side), "channels": channels},
    )

    def build_and_compile():
        model = CoopHash(**kwargs)
        model.compile(**{
            name: keras.optimizers.SGD(spec["config"]["learning_rate"]) for name, spec in config.optimizers.items()
        })
        return model

    return build_and_compile, side, channels


def multi_hot(labels, num_classes=10):
    """Multi-hot labels: the digit plus a second class for every third row, all classes for row 0."""
    out = np.eye(num_classes, dtype="float32")[labels]
    out[::3, (labels[::3] + 3) % num_classes] = 1.0
    out[0] = 1.0
    return out


# Each shipped config once in the default run (and each label kind once); the other two pairs are slow.
@pytest.mark.parametrize("config_name, multi_label", [
    pytest.param("coophash_digits", False, id="single-label-coophash_digits"),
    pytest.param("coophash_cifar10", True, id="multi-label-coophash_cifar10"),
    pytest.param("coophash_digits", True, id="multi-label-coophash_digits", marks=pytest.mark.slow),
    pytest.param("coophash_cifar10", False, id="single-label-coophash_cifar10", marks=pytest.mark.slow),
])
def test_every_shipped_config_takes_the_same_step_on_two_replicas(config_name, multi_label):
    """Two steps of 8 on two replicas equal two steps on one device: real triplets over the
    global batch (real_triplet_weight > 0 in every shipped config), multi-label negatives,
    Langevin noise, batch norm in the generator, the generator's real-image and class-guidance
    terms (on in every shipped config), both optimizer steps and every tracker."""
    build_and_compile, side, channels = shipped_build(config_name, multi_label)
    assert build_and_compile().real_triplet_weight > 0
    images, digits = digits_batch(16)
    images = np.asarray(tf.image.resize(images, (side, side), method="nearest")).astype("uint8")
    images = np.repeat(images, channels, axis=-1)
    digits = digits % 5  # repeated labels, so real triplets have positives
    labels = multi_hot(digits) if multi_label else digits

    single = build_and_compile()
    initial = single.get_weights()
    h1 = single.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    with helpers.two_replica_strategy().scope():
        mirrored = build_and_compile()
    mirrored.set_weights(initial)
    h2 = mirrored.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0).history

    # Every shipped config teaches its generator with the class head, so its loss is tracked too.
    assert single.generator_class_weight > 0 and single.real_reconstruction_weight > 0
    assert set(h1) == set(h2) == set(TRACKERS) | {"generator_class_loss"}
    for name in h1:
        np.testing.assert_allclose(h1[name], h2[name], atol=1e-4, rtol=1e-4, err_msg=name)
    for a, b in zip(single.weights, mirrored.weights):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-5, rtol=1e-4, err_msg=a.path)


@pytest.mark.parametrize("mining", ["random", "all"])
@pytest.mark.parametrize("multi_label", [False, True], ids=["single-label", "multi-label"])
def test_real_triplets_and_negative_labels_are_drawn_over_the_global_batch(multi_label, mining):
    """The triplet loss's gradient and the negative labels on two replicas equal one device's."""
    model = CoopHash(**small_kwargs(multi_label=multi_label, real_triplet_weight=1.0, real_triplet_mining=mining))
    rng = np.random.default_rng(3)
    u = tf.constant(rng.uniform(-1, 1, (8, model.code_bits)).astype("float32"))
    digits = np.array([0, 1, 0, 2, 1, 3, 2, 0])
    labels = tf.constant(multi_hot(digits) if multi_label else np.eye(10, dtype="float32")[digits])
    seed = tf.constant([7, 11], tf.int32)

    def step(u, y):
        y_global, start = stability.global_batch(y)
        with tf.GradientTape() as tape:
            tape.watch(u)
            loss = model.real_triplet_loss(u, y_global, start, seed)
            scaled = loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)
        _, y_pairs = model.propose(y, y_global, start, seed)
        return loss, tape.gradient(scaled, u), y_pairs

    loss, grad, y_pairs = tf.function(step)(u, labels)
    strategy = helpers.two_replica_strategy()
    shards = [(u[:4], labels[:4]), (u[4:], labels[4:])]
    with strategy.scope():
        u_dist, y_dist = (
            strategy.experimental_distribute_values_from_function(
                lambda ctx, i=i: shards[ctx.replica_id_in_sync_group][i]
            )
            for i in range(2)
        )
        results = strategy.run(tf.function(step), args=(u_dist, y_dist))
    losses_, grads, pairs = (strategy.experimental_local_results(r) for r in results)
    np.testing.assert_allclose(np.mean(losses_), loss.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.concatenate(grads), grad.numpy(), atol=1e-6)
    np.testing.assert_array_equal(np.concatenate(pairs), y_pairs.numpy())
    assert np.abs(grad.numpy()).sum() > 0


def test_all_triplet_mining_averages_every_valid_in_batch_triplet():
    """`real_triplet_mining="all"`: per anchor, the mean hinge over every same-label positive (itself
    when it has none) and every different-label negative; anchors with no negative add 0."""
    model = CoopHash(**small_kwargs(real_triplet_weight=1.0, real_triplet_mining="all", margin=3.0))
    rng = np.random.default_rng(5)
    u = rng.uniform(-1, 1, (6, model.code_bits)).astype("float32")
    digits = np.array([0, 1, 0, 2, 1, 0])  # class 2 has one item: its positive is itself
    y = np.eye(10, dtype="float32")[digits]
    loss = model.real_triplet_loss(tf.constant(u), tf.constant(y), 0, tf.constant([1, 2], tf.int32))
    per_anchor = []
    for a in range(6):
        positives = [p for p in range(6) if digits[p] == digits[a] and p != a] or [a]
        hinges = [
            max(0.0, 3.0 + np.sum((u[a] - u[p]) ** 2) - np.sum((u[a] - u[n]) ** 2))
            for p in positives for n in range(6) if digits[n] != digits[a]
        ]
        per_anchor.append(np.mean(hinges))
    np.testing.assert_allclose(float(loss), np.mean(per_anchor), rtol=1e-5)
    # one class only: no negatives anywhere, so the loss is 0
    same = model.real_triplet_loss(tf.constant(u), tf.constant(np.eye(10, dtype="float32")[[4] * 6]), 0,
                                   tf.constant([1, 2], tf.int32))
    assert float(same) == 0.0


def test_generator_triplet_weight_scales_only_the_generator_pairs_triplets():
    """hashing_loss = w_G * triplets on the revised pairs + w_R * real triplets; hash_weight scales both."""
    rng = np.random.default_rng(3)
    u_real = tf.constant(rng.uniform(-1, 1, (6, 16)).astype("float32"))
    u_revised = tf.constant(rng.uniform(-1, 1, (12, 16)).astype("float32"))
    y = tf.constant(np.eye(10, dtype="float32")[[0, 1, 0, 2, 1, 0]])
    seed = tf.constant([1, 2], tf.int32)

    def hashing_loss(**weights):
        model = CoopHash(**small_kwargs(real_triplet_mining="all", margin=3.0, **weights))
        return float(model.hashing_loss(u_real, u_revised, y, 0, seed))

    generator_part = hashing_loss(real_triplet_weight=0.0)
    real_part = hashing_loss(generator_triplet_weight=0.0, real_triplet_weight=1.0)
    assert generator_part > 0 and real_part > 0
    np.testing.assert_allclose(
        hashing_loss(generator_triplet_weight=0.25, real_triplet_weight=1.0), 0.25 * generator_part + real_part,
        rtol=1e-6,
    )
    # the same descriptor loss as hash_weight=0.25 with real_triplet_weight=4 (hash_weight multiplies the sum)
    np.testing.assert_allclose(
        0.25 * hashing_loss(real_triplet_weight=4.0),
        hashing_loss(generator_triplet_weight=0.25, real_triplet_weight=1.0),
        rtol=1e-6,
    )


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


def test_langevin_gradient_is_clipped_per_image():
    descriptor = tiny_descriptor()
    sampler = LangevinSampler(descriptor.energy, steps=1, step_size=0.3, reference_std=0.7, clip=False, grad_clip=1e-4)
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1)).astype("float32"))
    y = tf.one_hot([0, 1, 2, 0], 3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(descriptor.energy(x, y))
    grad = tape.gradient(total, x).numpy()
    rms = np.sqrt((grad**2).mean(axis=(1, 2, 3), keepdims=True))
    assert np.all(rms > 1e-4)  # the clip acts on every image
    expected = x.numpy() + 0.5 * 0.3**2 * (grad * 1e-4 / rms - x.numpy() / 0.7**2)
    got = sampler.revise(x, y, tf.constant([0, 0], tf.int32)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    with pytest.raises(ValueError, match="langevin_grad_clip"):
        LangevinSampler(descriptor.energy, 1, 0.1, 1.0, grad_clip=-1.0)


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


def test_labels_shaped_b_by_1_train_like_flat_labels():
    labels = np.arange(12) % 10
    for shape in ((12,), (12, 1)):
        negative = dissimilar_labels(tf.constant(labels.reshape(shape)), 10, tf.constant([1, 2], tf.int32), False)
        assert negative.shape == (12, 10)
        assert np.all(np.argmax(negative.numpy(), 1) != labels)
    images, labels = digits_batch(16)
    flat = build(real_triplet_weight=1.0)().fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    column = build(real_triplet_weight=1.0)().fit(
        images, labels[:, None], batch_size=8, epochs=1, shuffle=False, verbose=0
    )
    for name in flat.history:
        np.testing.assert_allclose(flat.history[name], column.history[name], rtol=1e-5, err_msg=name)


def test_log_std_is_bounded_so_the_kl_stays_finite():
    bounds = (-6.0, 1.0)
    raw = tf.constant([-1e4, -50.0, -2.5, 0.0, 50.0, 1e4])
    bounded = stability.bounded_log_std(raw, bounds).numpy()
    assert np.all((bounded >= bounds[0]) & (bounded <= bounds[1]))
    assert np.all(np.diff(bounded) >= 0)
    np.testing.assert_allclose(bounded[2], -2.5)  # the centre maps to itself, with slope 1
    with tf.GradientTape() as tape:
        centre = tf.constant(-2.5)
        tape.watch(centre)
        value = stability.bounded_log_std(centre, bounds)
    np.testing.assert_allclose(tape.gradient(value, centre).numpy(), 1.0, rtol=1e-6)
    assert stability.bounded_log_std(raw, None) is raw

    # An inference head pushed to log-std 50: exp(2 * 50) overflows float32 without the bound.
    images, labels = digits_batch(8)
    histories = {}
    for name, bounds_ in (("bounded", bounds), ("unbounded", None)):
        model = build(log_std_bounds=bounds_)()
        kernel, bias = model.descriptor.inference_head.weights
        bias.assign(np.concatenate([np.zeros(8), np.full(8, 100.0)]).astype("float32"))
        histories[name] = model.fit(images, labels, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(histories["bounded"]["kl"][0]) and np.isfinite(histories["bounded"]["vae_loss"][0])
    assert histories["bounded"]["kl"][0] < 8 * 0.5 * np.exp(2.0)  # d * max of the per-dimension KL
    assert not np.isfinite(histories["unbounded"]["kl"][0])
    with pytest.raises(ValueError, match="log_std_bounds"):
        CoopHash(**small_kwargs(log_std_bounds=(1.0, -1.0)))


def test_gradients_are_clipped_to_the_global_norm():
    images, labels = digits_batch(16)
    model = CoopHash(**small_kwargs(descriptor_clipnorm=0.01, generator_clipnorm=0.02))
    model.compile(descriptor_optimizer=keras.optimizers.SGD(1.0), generator_optimizer=keras.optimizers.SGD(1.0))
    descriptor_before = [np.array(v) for v in model.descriptor.descriptor_variables]
    vae_before = [np.array(v) for v in model.vae_variables]
    history = model.fit(images, labels, batch_size=16, epochs=1, verbose=0).history
    assert history["descriptor_grad_norm"][0] > 0.01 and history["generator_grad_norm"][0] > 0.02

    def step_norm(before, variables):
        return np.sqrt(sum(((np.array(v) - b) ** 2).sum() for b, v in zip(before, variables)))

    # The trunk is in both steps: measure the descriptor step on its heads only, the VAE step on the rest.
    trunk = {id(v) for v in model.descriptor.trunk.trainable_variables}
    heads = [(b, v) for b, v in zip(descriptor_before, model.descriptor.descriptor_variables) if id(v) not in trunk]
    rest = [(b, v) for b, v in zip(vae_before, model.vae_variables) if id(v) not in trunk]
    assert 0 < step_norm(*zip(*heads)) <= 0.01 + 1e-6
    assert 0 < step_norm(*zip(*rest)) <= 0.02 + 1e-6
    for name in ("descriptor_clipnorm", "generator_clipnorm", "langevin_grad_clip"):
        with pytest.raises(ValueError, match=name):
            CoopHash(**small_kwargs(**{name: 0.0}))


def test_generator_health_trackers():
    images = np.random.default_rng(0).uniform(-1, 1, (6, 4, 4, 2)).astype("float32")
    np.testing.assert_allclose(stability.pixel_std(images).numpy(), images.reshape(6, -1).std(1).mean(), rtol=1e-5)
    np.testing.assert_allclose(stability.sample_std(images).numpy(), images.std(0).mean(), rtol=1e-5)

    images, labels = digits_batch(32)
    history = build(real_triplet_weight=1.0)().fit(images, labels, batch_size=16, epochs=1, verbose=0).history
    assert set(history) == set(TRACKERS)
    assert 0 < history["generated_pixel_std"][0] <= 1 and 0 < history["generated_sample_std"][0] <= 1
    real_std = (images / 127.5 - 1).reshape(32, -1).std(1).mean()
    np.testing.assert_allclose(history["real_pixel_std"][0], real_std, rtol=1e-4)
    assert 0 <= history["revised_class_accuracy"][0] <= 1
    assert history["descriptor_grad_norm"][0] > 0 and history["generator_grad_norm"][0] > 0


def test_configs_without_the_stability_keys_load_with_the_defaults_and_the_same_codes():
    images, labels = digits_batch(8)
    model = build()()
    config = model.get_config()
    for key in ("log_std_bounds", "descriptor_clipnorm", "generator_clipnorm", "langevin_grad_clip", "augment"):
        config.pop(key)
    old = CoopHash.from_config(config)
    old.set_weights(model.get_weights())
    np.testing.assert_array_equal(old.encode(images), model.encode(images))
    fresh = CoopHash(code_bits=8, num_classes=3, preprocessing=DIGITS).get_config()
    for key in ("log_std_bounds", "descriptor_clipnorm", "generator_clipnorm", "langevin_grad_clip", "augment"):
        assert old.get_config()[key] == fresh[key]
    assert old.augmentation is None


def test_augmentation_flips_and_shifts_real_images_in_training_only(tmp_path):
    """Off by default; on, it changes the step but not the codes, and the model saves and loads."""
    images, labels = digits_batch(16)
    plain, augmented = build()(), build(augment="crop")()
    assert plain.augmentation is None and augmented.augmentation.pad == 1 and not augmented.augmentation.flip
    augmented.set_weights(plain.get_weights())
    np.testing.assert_array_equal(augmented.encode(images), plain.encode(images))
    h_plain = plain.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    h_augmented = augmented.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    # The trackers' reference is the data's pixel std, before augmentation.
    np.testing.assert_allclose(h_augmented["real_pixel_std"], h_plain["real_pixel_std"], rtol=1e-6)
    assert h_augmented["class_loss"] != h_plain["class_loss"]
    loaded = helpers.run_saving_test(augmented, images, tmp_path)
    assert loaded.augment == "crop" and loaded.augmentation.get_config() == augmented.augmentation.get_config()


def test_two_replicas_take_the_same_augmented_step_as_one_device():
    images, labels = digits_batch(16)
    helpers.run_distributed_equivalence_test(build(augment="flip_crop"), images, labels, atol=2e-5, rtol=2e-4)


def test_two_replicas_take_the_same_step_with_real_reconstruction():
    images, labels = digits_batch(16)
    helpers.run_distributed_equivalence_test(build(real_reconstruction_weight=1.0), images, labels,
                                             atol=2e-5, rtol=2e-4)


def test_real_reconstruction_adds_the_real_images_vae_term_to_the_generator_step():
    # With the descriptor frozen (lr 0) both models see the same revised images; the term's weight
    # shows up in the VAE loss as weight * (error + kl_weight * KL) of the real images.
    images, labels = digits_batch(16)
    losses = {}
    for weight in (0.0, 1.0, 2.0):
        model = CoopHash(**small_kwargs(real_reconstruction_weight=weight))
        model.compile(descriptor_optimizer=keras.optimizers.SGD(0.0), generator_optimizer=keras.optimizers.SGD(0.0))
        history = model.fit(images, labels, batch_size=16, epochs=1, verbose=0, shuffle=False).history
        losses[weight] = history["vae_loss"][0]
    real_term = losses[1.0] - losses[0.0]
    assert real_term > 0
    np.testing.assert_allclose(losses[2.0] - losses[0.0], 2 * real_term, rtol=1e-4)
    model = CoopHash(**small_kwargs())
    x = model.preprocess(images)
    error, kl = model.vae_terms(x, tf.one_hot(labels, 10), tf.constant([3, 4]))
    assert error.shape == (16,) and kl.shape == (16,) and np.all(np.asarray(kl) >= 0)


def test_the_vae_step_moves_the_trunk_only_when_vae_trains_trunk():
    # The descriptor step is frozen (lr 0), so whatever moves the trunk is the VAE step.
    images, labels = digits_batch(16)

    def moved_after_one_step(vae_trains_trunk):
        model = CoopHash(**small_kwargs(vae_trains_trunk=vae_trains_trunk, real_reconstruction_weight=1.0))
        model.compile(descriptor_optimizer=keras.optimizers.SGD(0.0), generator_optimizer=keras.optimizers.SGD(0.01))
        before = {v.path: np.asarray(v).copy() for v in model.weights}
        model.fit(images, labels, batch_size=16, epochs=1, verbose=0, shuffle=False)
        return {v.path for v in model.weights if not np.array_equal(np.asarray(v), before[v.path])}, model

    attached, model = moved_after_one_step(True)
    detached, _ = moved_after_one_step(False)
    trunk = {v.path for v in model.descriptor.trunk.weights}
    vae_only = {v.path for v in model.generator.trainable_variables + model.descriptor.inference_head.weights}
    assert trunk & attached and not trunk & detached
    assert vae_only & detached and vae_only & attached


def test_two_replicas_take_the_same_step_with_the_trunk_left_out_of_the_vae_step():
    images, labels = digits_batch(16)
    helpers.run_distributed_equivalence_test(
        build(vae_trains_trunk=False, real_reconstruction_weight=1.0), images, labels, atol=2e-5, rtol=2e-4
    )


def test_two_replicas_take_the_same_step_with_generator_class_guidance():
    images, labels = digits_batch(16)
    helpers.run_distributed_equivalence_test(build(generator_class_weight=1.0), images, labels,
                                             atol=2e-5, rtol=2e-4)


def test_generator_class_guidance_trains_only_the_generator_and_teaches_it_the_labels():
    images, labels = digits_batch(32)

    def one_step(weight):
        model = CoopHash(**small_kwargs(generator_class_weight=weight, generator_clipnorm=None))
        model.compile(descriptor_optimizer=keras.optimizers.SGD(0.01), generator_optimizer=keras.optimizers.SGD(0.01))
        history = model.fit(images[:16], labels[:16], batch_size=16, epochs=1, verbose=0, shuffle=False).history
        return model, history

    plain, plain_history = one_step(0.0)
    guided, guided_history = one_step(5.0)
    assert "generator_class_loss" not in plain_history and guided_history["generator_class_loss"][0] > 0
    # Everything but G takes the step it takes without the term; G's step differs.
    rest = lambda m: m.descriptor.trainable_variables  # noqa: E731  (trunk and every head)
    for a, b in zip(rest(plain), rest(guided)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert any(
        not np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(plain.generator.trainable_variables, guided.generator.trainable_variables)
    )
    # With the descriptor frozen, G learns to make the fixed class head read its labels. A random
    # head is an unsure teacher (its logits are nearly flat), so the weight is large.
    model = CoopHash(**small_kwargs(generator_class_weight=200.0, init_std=0.2))
    model.compile(descriptor_optimizer=keras.optimizers.SGD(0.0), generator_optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(images, labels, batch_size=16, epochs=8, verbose=0, shuffle=False).history
    assert history["generator_class_loss"][-1] < history["generator_class_loss"][0] - 0.3
    assert history["revised_class_accuracy"][-1] > history["revised_class_accuracy"][0] + 0.3


def test_descriptor_only_trains_the_descriptors_hashing_terms_and_nothing_else():
    images, labels = digits_batch(16)

    def fit(lr, **overrides):
        model = CoopHash(**small_kwargs(pair_source="real", **overrides))
        model.compile(descriptor_optimizer=keras.optimizers.SGD(lr), generator_optimizer=keras.optimizers.SGD(lr))
        before = [np.asarray(v).copy() for v in model.weights]
        history = model.fit(images, labels, batch_size=16, epochs=1, verbose=0, shuffle=False).history
        return model, before, history

    # With lr 0 both see the same weights and draws: the same real triplets, class and quantization terms.
    _, _, full = fit(0.0)
    _, _, alone = fit(0.0, cooperative=False)
    assert set(alone) == set(DESCRIPTOR_ONLY_TRACKERS)
    for name in ("hash_loss", "class_loss", "quantization_loss", "real_pixel_std"):
        np.testing.assert_allclose(alone[name], full[name], rtol=1e-5)
    expected = alone["hash_loss"][0] + alone["class_loss"][0] + 0.05 * alone["quantization_loss"][0]
    np.testing.assert_allclose(alone["loss"][0], expected, rtol=1e-5)
    # A step moves the trunk, hash and class heads only.
    model, before, _ = fit(0.1, cooperative=False)
    moved = {v.path for v, b in zip(model.weights, before) if not np.array_equal(np.asarray(v), b)}
    trained = {v.path for v in model.descriptor.trunk.weights + model.descriptor.hash_head.weights
               + model.descriptor.class_head.weights}
    assert moved and moved <= trained | {"noise_seed/seed_generator_state"}
    assert not any("generator" in p or "inference" in p or "density" in p for p in moved - {"noise_seed/seed_generator_state"})


def test_two_replicas_take_the_same_descriptor_only_step_as_one_device():
    images, labels = digits_batch(16)
    helpers.run_distributed_equivalence_test(build(cooperative=False, pair_source="real"), images, labels,
                                             atol=2e-5, rtol=2e-4)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="pair_source must be 'real'"):
        CoopHash(code_bits=8, num_classes=3, cooperative=False, preprocessing=DIGITS)
    with pytest.raises(ValueError, match="real_reconstruction_weight"):
        CoopHash(code_bits=8, num_classes=3, real_reconstruction_weight=-1.0, preprocessing=DIGITS)
    with pytest.raises(ValueError, match="generator_class_weight"):
        CoopHash(code_bits=8, num_classes=3, generator_class_weight=-0.5, preprocessing=DIGITS)
    with pytest.raises(ValueError, match="generator_triplet_weight.*-0.25"):
        CoopHash(code_bits=8, num_classes=3, generator_triplet_weight=-0.25, preprocessing=DIGITS)
    with pytest.raises(ValueError, match="generator_triplet_weight.*nan"):
        CoopHash(code_bits=8, num_classes=3, generator_triplet_weight=float("nan"), preprocessing=DIGITS)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        CoopHash(code_bits=8, num_classes=1, preprocessing=DIGITS)
    with pytest.raises(ValueError, match="pair_source"):
        CoopHash(code_bits=8, num_classes=3, pair_source="fake", preprocessing=DIGITS)
    with pytest.raises(ValueError, match="augment"):
        CoopHash(code_bits=8, num_classes=3, augment="mixup", preprocessing=DIGITS)
    with pytest.raises(ValueError, match="real_triplet_mining.*'hardest'"):
        CoopHash(code_bits=8, num_classes=3, real_triplet_mining="hardest", preprocessing=DIGITS)
    with pytest.raises(ValueError, match=r"4 \* 2\*\*n"):
        CoopHash(code_bits=8, num_classes=3, preprocessing={"image_size": (28, 28), "channels": 1})
