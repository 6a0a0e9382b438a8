import itertools

import numpy as np
import keras
import pytest
import tensorflow as tf
from scipy.stats import norm

from hashzoo import data, distribute, losses, similarity, training
from hashzoo.layers import HardSign
from hashzoo.losses.similarity import masked_pairwise_similarity_loss
from hashzoo.methods.spah import SPAH, JointDiscriminator
from hashzoo.methods.spah.prior import prior_codes
from hashzoo.methods.spah.similarity import spah_similarity
from hashzoo.methods.spah.spah_model import TRACKERS
from hashzoo.similarity import semantic
from hashzoo.zoo import presets
from tests import helpers

DIGITS = {"image_size": (8, 8), "channels": 1}


def digits_batch(n=16, start=0):
    from sklearn.datasets import load_digits

    return np.round(load_digits().images[start : start + n] * 255.0 / 16.0).astype("uint8")[..., None]


def small_kwargs(**overrides):
    kwargs = dict(code_bits=8, architecture="smoke", k=3, preprocessing=DIGITS, seed=1)
    kwargs.update(overrides)
    return kwargs


def build(encoder_lr=0.05, generator_lr=0.01, discriminator_lr=0.01, run_eagerly=False, **overrides):
    def build_and_compile():
        model = SPAH(**small_kwargs(**overrides))
        model.compile(
            encoder_optimizer=keras.optimizers.SGD(encoder_lr),
            generator_optimizer=keras.optimizers.SGD(generator_lr),
            discriminator_optimizer=keras.optimizers.SGD(discriminator_lr),
            run_eagerly=run_eagerly,
        )
        return model

    return build_and_compile


def batch_similarity(images, k=3):
    """The dense three-valued block of a batch that is the whole (tiny) training set."""
    return spah_similarity(similarity.pixel_features(images), k=k).dense()


def snapshot(variables):
    return [np.array(v) for v in variables]


def moved(before, variables):
    return [not np.array_equal(b, np.array(v)) for b, v in zip(before, variables)]


# === the shared battery ===


def test_serialization_with_non_default_values():
    helpers.run_serialization_test(
        SPAH,
        dict(
            code_bits=12, architecture="smoke", width=0.5, dropout=0.25, gan_size=16, noise_dim=3,
            slopes=(2.0, 4.0), slope_schedule="constant", adversarial_weight=0.5, similarity_weight=3.0,
            quantization_weight=0.2, reconstruction_weight=0.0, code_reconstruction_weight=2.0,
            similarity_norm="all", similarity_balance="balanced", normalize_inner_product=False,
            feature_extractor="array:/tmp/features.npy",
            feature_weights="/tmp/w.h5", k=7, tau=0.3, neighbour_rule="shared", neighbour_absent="dissimilar", k2=9,
            combine="intersection", bin_width=0.02, positive_sigmas=1.5, negative_sigmas=0.5, seed=7,
            preprocessing={"image_size": (16, 16), "channels": 3}, augment="flip_crop", name="spah",
        ),
    )
    helpers.run_serialization_test(
        JointDiscriminator, dict(gan_size=16, channels=3, code_bits=5, architecture="smoke", width=0.5, seed=2)
    )


def test_codes_and_saving_keep_the_slope_and_all_three_optimizers(tmp_path):
    images = digits_batch(16)
    model = build(noise_dim=2)()
    model.encoder.smooth_sign.set_slope(7.5)
    helpers.run_code_test(model, images)
    loaded = helpers.run_saving_test(model, images, tmp_path)
    assert loaded.slope == 7.5
    for name, rate in (("optimizer", 0.05), ("generator_optimizer", 0.01), ("discriminator_optimizer", 0.01)):
        optimizer = getattr(loaded, name)
        assert isinstance(optimizer, keras.optimizers.SGD) and float(optimizer.learning_rate) == pytest.approx(rate)


@pytest.mark.parametrize("run_eagerly", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_two_replicas_take_the_same_step_as_one_device(run_eagerly):
    # Dropout masks, prior codes and G's noise are drawn for the global batch and
    # sliced per replica; L_S pairs each replica's rows with the gathered codes and
    # divides by the global count of known pairs. Together: the one-device step.
    # (The traced step, which training runs, is the slow variant; eager is 3x faster.)
    images = digits_batch(16)
    s = batch_similarity(images)
    known_per_half = np.abs(s[:8]).sum(), np.abs(s[8:]).sum()
    assert (s == 0).any() and known_per_half[0] != known_per_half[1]  # uneven halves: the normaliser matters
    helpers.run_distributed_equivalence_test(
        build(dropout=0.5, noise_dim=2, run_eagerly=run_eagerly), images, s, atol=2e-5, rtol=2e-4
    )


def test_two_replicas_take_the_same_augmented_balanced_step_as_one_device():
    # Flips and crops are drawn for the global batch and sliced per replica; the balanced L_S
    # divides by the global batch's +1 and -1 counts, gathered from the replicas.
    images = digits_batch(16)
    helpers.run_distributed_equivalence_test(
        build(augment="flip_crop", similarity_balance="balanced", run_eagerly=True), images,
        batch_similarity(images), atol=2e-5, rtol=2e-4,
    )


def test_balanced_similarity_loss_gives_each_kind_of_known_pair_half():
    rng = np.random.default_rng(0)
    codes = np.tanh(rng.normal(size=(6, 4))).astype("float32")
    s = rng.choice([-1.0, 0.0, 1.0], size=(6, 6)).astype("float32")
    model = SPAH(**small_kwargs(code_bits=4, similarity_balance="balanced"))
    errors = np.square(codes @ codes.T / 4 - s)
    expected = 0.5 * errors[s > 0].mean() + 0.5 * errors[s < 0].mean()  # unknown (0) pairs add nothing
    np.testing.assert_allclose(float(model.similarity_loss(tf.constant(codes), tf.constant(s))), expected, rtol=1e-5)


def test_augmentation_changes_only_the_encoders_training_input():
    images = digits_batch(16)
    model = build(augment="flip_crop")()
    x = model.preprocess(images)
    augmented = np.asarray(model.augment_encoder_input(x))
    assert augmented.shape == x.shape and not np.array_equal(augmented, np.asarray(x))
    np.testing.assert_array_equal(np.asarray(model.encode(images)), np.asarray(build()().encode(images)))


# === the feature-similarity thresholds ===


def mirrored_gaussian_thresholds(distances, mode):
    """m - 2 sigma_l and m + 2 sigma_r from Gaussians fitted to each side mirrored around m."""
    left, right = distances[distances <= mode], distances[distances > mode]
    l_mean, l_std = norm.fit(np.concatenate([left, 2 * mode - left]))
    r_mean, r_std = norm.fit(np.concatenate([2 * mode - right, right]))
    return l_mean - 2 * l_std, r_mean + 2 * r_std


def ssdh_thresholds(distances):
    """SSDH's released procedure (100 open bins over [0, 1), then the mirrored fits), for [0, 1) data."""
    start, margin, max_num, max_value = -0.00000001, 1.0 / 100, 0.0, 0.0
    for _ in range(100):
        end = start + margin
        count = np.sum((distances > start) & (distances < end))
        if count > max_num:
            max_num, max_value = count, start
        start = end
    return mirrored_gaussian_thresholds(distances, max_value)


def test_thresholds_on_a_fixed_distance_vector_match_the_direct_computation():
    d = np.array([0.05, 0.31, 0.32, 0.33, 0.335, 0.34, 0.6, 0.9, 1.5, 2.0])
    t = semantic.distance_thresholds(d)
    # Bins 0.01 wide: 0.33 and 0.335 share the fullest bin [0.33, 0.34).
    assert t.mode == pytest.approx(0.33)
    left, right = d[d <= 0.33], d[d > 0.33]
    assert t.sigma_left == pytest.approx(np.sqrt(np.mean((left - 0.33) ** 2)))
    assert t.sigma_right == pytest.approx(np.sqrt(np.mean((right - 0.33) ** 2)))
    np.testing.assert_allclose((t.low, t.high), mirrored_gaussian_thresholds(d, 0.33), atol=1e-12)
    assert t.low < t.mode < t.high
    np.testing.assert_array_equal(t.classify([0.0, t.low, t.mode, t.high, t.high + 0.01]), [1, 0, 0, 0, -1])
    wider = semantic.distance_thresholds(d, positive_sigmas=1.0, negative_sigmas=0.5)
    assert (wider.low, wider.high) == pytest.approx((t.mode - t.sigma_left, t.mode + 0.5 * t.sigma_right))
    # SSDH's procedure on [0, 1) data gives the same thresholds.
    sample = np.random.default_rng(0).beta(5.0, 3.0, 20_000) * 0.99
    t = semantic.distance_thresholds(sample)
    np.testing.assert_allclose((t.low, t.high), ssdh_thresholds(sample), atol=1e-6)
    assert t.low < t.mode < t.high


def test_chunked_thresholds_equal_the_full_vector():
    features = np.random.default_rng(3).normal(size=(60, 10))
    unit = semantic.unit_rows(features)
    distances = semantic.cosine_distances(unit, np.arange(60), np.arange(60))[np.triu_indices(60, 1)]
    full = semantic.distance_thresholds(distances)
    for block_size in (7, 60, 512):
        chunked = semantic.feature_thresholds(features, block_size=block_size)
        assert chunked.mode == full.mode
        np.testing.assert_allclose((chunked.sigma_left, chunked.sigma_right), (full.sigma_left, full.sigma_right),
                                   rtol=1e-10)


# === S^n, the combination and the matrix ===


# (S^f, S^n) -> S; S^n = -1 only when its absent pairs read as dissimilar.
UNION = {(1, 1): 1, (1, 0): 1, (0, 1): 1, (0, 0): 0, (-1, 1): 0, (-1, 0): -1, (1, -1): 1, (0, -1): -1, (-1, -1): -1}
INTERSECTION = {(1, 1): 1, (1, 0): 0, (0, 1): 0, (0, 0): 0, (-1, 1): -1, (-1, 0): -1, (1, -1): -1, (0, -1): -1,
                (-1, -1): -1}


def test_every_cell_of_the_combination_tables():
    cells = list(itertools.product((1, 0, -1), (1, 0, -1)))
    f = np.array([c[0] for c in cells], np.int8)
    n = np.array([c[1] for c in cells], np.int8)
    for rule, table in (("union", UNION), ("intersection", INTERSECTION)):
        expected = [table[c] for c in cells]
        assert semantic.combine_signs(f, n, rule).tolist() == expected, rule
        tf_result = semantic.combine_signs(tf.constant(f, tf.float32), tf.constant(n, tf.float32), rule)
        assert tf_result.numpy().tolist() == expected, rule
    np.testing.assert_array_equal(semantic.combine_signs(f, n, "feature"), f)
    np.testing.assert_array_equal(semantic.combine_signs(f, n, "neighbour"), n)
    with pytest.raises(ValueError, match="combine"):
        semantic.combine_signs(f, n, "or")


def naive_neighbour_similarity(knn, tau):
    sets = [set(row[1:].tolist()) for row in knn]
    k, n = knn.shape[1] - 1, len(knn)
    s = np.eye(n)
    for i, j in itertools.product(range(n), repeat=2):
        if j in sets[i] or i in sets[j] or len(sets[i] & sets[j]) >= tau * k:
            s[i, j] = 1
    return s


def test_neighbour_similarity_is_symmetric_holds_every_knn_pair_and_matches_a_set_reference():
    features = np.random.default_rng(4).normal(size=(40, 6))
    knn = similarity.cosine_knn(features, 4)
    for tau in (0.5, 0.25, 2.0):
        dense = semantic.neighbour_similarity(knn, tau, block_size=9).dense()
        np.testing.assert_array_equal(dense, naive_neighbour_similarity(knn, tau))
        np.testing.assert_array_equal(dense, dense.T)
        assert set(np.unique(dense)) == {0.0, 1.0} and np.all(np.diag(dense) == 1)
        assert all(dense[i, j] == 1 for i, row in enumerate(knn) for j in row)


def dense_reference(features, k, tau, combine, neighbour_absent="unknown"):
    """S built directly from the full distance matrix and Python sets (small N)."""
    unit = semantic.unit_rows(features).astype(np.float64)
    d = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    t = semantic.distance_thresholds(d[np.triu_indices(len(d), 1)])
    feature = np.where(d < t.low, 1, np.where(d > t.high, -1, 0))
    neighbour = naive_neighbour_similarity(similarity.cosine_knn(features, k), tau).astype(int)
    if neighbour_absent == "dissimilar":
        neighbour = np.where(neighbour > 0, 1, -1)
    table = UNION if combine == "union" else INTERSECTION
    s = np.vectorize(lambda a, b: table[(a, b)])(feature, neighbour)
    np.fill_diagonal(s, 1)
    return s


@pytest.mark.parametrize("combine, neighbour_absent",
                         [("union", "unknown"), ("intersection", "unknown"), ("union", "dissimilar")])
def test_blocks_equal_the_dense_reference_in_numpy_and_tf(combine, neighbour_absent):
    rng = np.random.default_rng(5)
    features = rng.normal(size=(50, 12))
    features[:25, 0] += 2.0
    s = spah_similarity(features, k=4, combine=combine, neighbour_absent=neighbour_absent)
    dense = s.dense()
    np.testing.assert_array_equal(dense, dense_reference(features, 4, 0.5, combine, neighbour_absent))
    np.testing.assert_array_equal(dense, dense.T)
    assert {-1.0, 1.0} <= set(np.unique(dense)) <= {-1.0, 0.0, 1.0} and np.all(np.diag(dense) == 1)
    assert (neighbour_absent == "dissimilar") or (dense == 0).any()
    rows, cols = rng.integers(0, 50, 9), rng.integers(0, 50, 11)
    np.testing.assert_array_equal(s.block(rows, cols), dense[rows][:, cols])
    np.testing.assert_array_equal(s.tf_block_fn()(tf.constant(rows), tf.constant(cols)).numpy(), dense[rows][:, cols])
    values, known = s.tf_block_fn(with_mask=True)(tf.constant(rows), tf.constant(rows))
    np.testing.assert_array_equal(known.numpy(), dense[rows][:, rows] != 0)
    facts = s.summary(labels=np.repeat([0, 1], 25))
    off = ~np.eye(50, dtype=bool)
    assert facts["positive_fraction"] == pytest.approx(np.mean(dense[off] > 0))
    assert facts["negative_fraction"] == pytest.approx(np.mean(dense[off] < 0))
    assert facts["unknown_fraction"] == pytest.approx(np.mean(dense[off] == 0))
    same = np.equal.outer(np.repeat([0, 1], 25), np.repeat([0, 1], 25))
    assert facts["positive_label_agreement"] == pytest.approx(np.mean(same[off & (dense > 0)]))
    assert facts["negative_label_agreement"] == pytest.approx(np.mean(~same[off & (dense < 0)]))


def test_the_pipeline_serves_each_batch_with_its_block():
    images = digits_batch(24)
    s = spah_similarity(similarity.pixel_features(images), k=3)
    dense = s.dense()
    pixels = images.reshape(24, -1)
    for batch, block in data.make_similarity_dataset(images, s, batch_size=8, seed=3):
        ids = [int(np.flatnonzero((pixels == row).all(1))[0]) for row in batch.numpy().reshape(8, -1).astype("uint8")]
        np.testing.assert_array_equal(block.numpy(), dense[ids][:, ids])


# === the masked similarity loss ===


def test_masked_loss_ignores_unknown_pairs_and_equals_bgans_loss_when_all_are_known():
    c = np.array([1, -1, 1, 1, -1, -1, 1, -1], "float32")
    codes = np.stack([c, c, c, -c, -c])
    clusters = np.array([0, 0, 0, 1, 1])
    s = np.where(np.equal.outer(clusters, clusters), 1.0, -1.0).astype("float32")
    s[0, 3] = s[3, 0] = s[1, 4] = s[4, 1] = 0.0  # unknown pairs
    assert float(masked_pairwise_similarity_loss(codes, codes, s)) == 0.0
    assert float(masked_pairwise_similarity_loss(codes, codes, np.zeros((5, 5), "float32"))) == 0.0

    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, (6, 8)).astype("float32")
    signs = np.where(rng.random((6, 6)) < 0.5, 1.0, -1.0).astype("float32")
    for normalize in (True, False):
        bgan = float(losses.pairwise_similarity_loss(u, u, signs, normalize=normalize))
        for normalization in ("all", "known"):
            got = float(masked_pairwise_similarity_loss(u, u, signs, normalize=normalize, normalization=normalization))
            assert got == pytest.approx(bgan, rel=1e-6)
    # With unknown pairs: the sum over known pairs over their count, or over every pair.
    three = signs * (rng.random((6, 6)) < 0.6)
    errors = np.square(u @ u.T / 8 - three) * (three != 0)
    assert float(masked_pairwise_similarity_loss(u, u, three)) == pytest.approx(errors.sum() / (three != 0).sum())
    assert float(masked_pairwise_similarity_loss(u, u, three, normalization="all")) == pytest.approx(errors.mean())
    assert float(masked_pairwise_similarity_loss(u, u, three, denominator=4.0)) == pytest.approx(errors.sum() / 4)
    with pytest.raises(ValueError, match="normalization"):
        masked_pairwise_similarity_loss(u, u, three, normalization="mean")


def test_unknown_pairs_pass_no_gradient():
    rng = np.random.default_rng(1)
    u = tf.Variable(rng.uniform(-1, 1, (5, 8)).astype("float32"))
    s = np.where(rng.random((5, 5)) < 0.5, 1.0, -1.0).astype("float32")
    s = np.triu(s) + np.triu(s, 1).T
    s[4, :] = s[:, 4] = 0.0  # item 4 takes part in unknown pairs only
    with tf.GradientTape() as tape:
        loss = masked_pairwise_similarity_loss(u, u, s)
    gradient = tape.gradient(loss, u).numpy()
    assert np.all(gradient[4] == 0) and np.any(gradient[:4] != 0)
    # Changing the target of an unknown pair changes nothing either.
    assert float(masked_pairwise_similarity_loss(u, u, s)) == float(
        masked_pairwise_similarity_loss(u, u, s, weights=np.abs(s) * (np.abs(s) > 0)))


# === straight-through sign and the prior ===


def test_straight_through_sign_is_exact_forward_and_identity_backward():
    u = tf.Variable([[-0.3, 0.0, 0.7, -1e-6]])
    with tf.GradientTape() as tape:
        hard = HardSign()(u)
        total = tf.reduce_sum(hard)
    assert hard.numpy().tolist() == [[-1.0, 1.0, 1.0, -1.0]]
    np.testing.assert_array_equal(tape.gradient(total, u).numpy(), np.ones((1, 4)))


def test_prior_codes_are_fair_bits_that_differ_per_replica():
    c = prior_codes([10_000, 8], tf.constant([3, 4])).numpy()
    assert set(np.unique(c)) == {-1.0, 1.0}
    assert np.all(np.abs(c.mean(axis=0)) < 0.05) and abs(c.mean()) < 0.05
    strategy = helpers.two_replica_strategy()
    per_replica = strategy.run(lambda: prior_codes([4, 16], tf.constant([5, 6])))
    first, second = (np.asarray(v) for v in strategy.experimental_local_results(per_replica))
    assert not np.array_equal(first, second)
    # Together they are the one-device draw of the global batch.
    np.testing.assert_array_equal(np.concatenate([first, second]), prior_codes([8, 16], tf.constant([5, 6])).numpy())


# === the training step ===


def test_the_d_step_changes_only_d():
    images = digits_batch(16)
    model = build()()
    x, real = model.preprocess(images.astype("float32")), model.gan_preprocessor(images.astype("float32"))
    prior = prior_codes([16, 8], tf.constant([1, 2]))
    outputs = model.generate(x, prior, distribute.split_seed(tf.constant([3, 4]), 3))
    encoder, generator = snapshot(model.encoder.weights), snapshot(model.generator.weights)
    discriminator = snapshot(model.discriminator.trainable_weights)
    model.discriminator_step(real, outputs["hard"], outputs["fake"], prior)
    assert not any(moved(encoder, model.encoder.weights)) and not any(moved(generator, model.generator.weights))
    assert sum(moved(discriminator, model.discriminator.trainable_weights)) > len(discriminator) // 2


def test_the_e_and_g_update_changes_only_e_and_g_and_the_d_update_only_d():
    images = digits_batch(16)
    s = batch_similarity(images)
    model = build(discriminator_lr=0.0, run_eagerly=True)()
    networks = (model.encoder, model.generator, model.discriminator)
    # D's learning rate 0: a whole step leaves D's trainable weights alone and moves E and G.
    before = [snapshot(n.trainable_weights) for n in networks]
    model.fit(images, s, batch_size=16, epochs=1, verbose=0)
    encoder, generator, discriminator = (moved(b, n.trainable_weights) for b, n in zip(before, networks))
    assert all(encoder) and sum(generator) > len(generator) // 2 and not any(discriminator)
    # E's and G's learning rates 0: only D's trainable weights move.
    model.optimizer.learning_rate.assign(0.0)
    model.generator_optimizer.learning_rate.assign(0.0)
    model.discriminator_optimizer.learning_rate.assign(0.01)
    before = [snapshot(n.trainable_weights) for n in networks]
    model.fit(images, s, batch_size=16, epochs=1, verbose=0)
    encoder, generator, discriminator = (moved(b, n.trainable_weights) for b, n in zip(before, networks))
    assert not any(encoder) and not any(generator) and sum(discriminator) > len(discriminator) // 2


def test_zero_hash_weights_give_all_plus_one_codes():
    model = SPAH(**small_kwargs())
    for variable in model.encoder.hash_head.projection.weights:
        variable.assign(np.zeros(variable.shape, "float32"))
    codes = model.encode(digits_batch(4))
    assert codes.dtype == np.int8 and np.all(codes == 1)


def test_slope_schedule_is_bgans():
    model = SPAH(**small_kwargs())
    assert [model.slope_at(e, 20) for e in range(20)][::4] == [1.0, 2.5, 5.0, 7.5, 10.0]
    constant = SPAH(**small_kwargs(slope_schedule="constant", slopes=(1.0,)))
    assert {constant.slope_at(e, 10) for e in range(10)} == {1.0}


# === the runner ===


def test_a_smoke_run_on_digits_keeps_every_tracker_finite_and_writes_a_preset(tmp_path):
    config = training.load_config("spah_digits:smoke").replace(epochs=1, batch_size=160)
    model, result = training.train(config, tmp_path / "spah", verbose=0, command="pytest")
    card = presets.load(tmp_path / "spah").card
    facts = card["train_data"]
    assert facts["k"] == 5 and facts["feature_extractor"] == "pixels"
    assert 0 < facts["positive_fraction"] < 1 and facts["negative_fraction"] > 0
    assert facts["threshold_low"] < facts["threshold_mode"] < facts["threshold_high"]
    assert facts["positive_label_agreement"] > 0.5  # digits: pixel neighbours mostly share the class
    history = card["history"]
    assert set(history) >= set(TRACKERS)
    for name, values in history.items():
        assert len(values) == 1 and np.all(np.isfinite(values)), name
    assert history["slope"] == [1.0]
    query, _, _ = data.get_protocol("digits").apply(data.load_digits())
    np.testing.assert_array_equal(presets.load(tmp_path / "spah").encode(query.images), model.encode(query.images))
    np.testing.assert_array_equal(model.encode(query.images),
                                  np.where(np.asarray(model.pre_activation(query.images)) >= 0, 1, -1))
    assert 0.0 < result.metrics["mAP@all"] <= 1.0


# === errors name the bad value ===


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="combine"):
        SPAH(**small_kwargs(combine="or"))
    with pytest.raises(ValueError, match="similarity_norm"):
        SPAH(**small_kwargs(similarity_norm="mean"))
    with pytest.raises(ValueError, match="neighbour_rule"):
        SPAH(**small_kwargs(neighbour_rule="mutual"))
    with pytest.raises(ValueError, match="noise_dim"):
        SPAH(**small_kwargs(noise_dim=-1))
    with pytest.raises(ValueError, match="similarity_balance"):
        SPAH(**small_kwargs(similarity_balance="even"))
    with pytest.raises(ValueError, match="augment"):
        SPAH(**small_kwargs(augment="rotate"))
    with pytest.raises(ValueError, match=r"`tau` must be >= 0, got -0.5"):
        SPAH(**small_kwargs(tau=-0.5))
    model = build(run_eagerly=True)()
    with pytest.raises(ValueError, match=r"\(images, S_B\) batches.*\[16, 8\]"):
        model.fit(digits_batch(16), np.ones((16, 8), "float32"), batch_size=16, epochs=1, verbose=0)


def test_every_saved_argument_can_be_set_by_a_config():
    # The runner accepts only constructor parameters (`check_model_arguments`); shared ones must be named too.
    from hashzoo.training.config import TrainConfig
    from hashzoo.training.run import check_model_arguments

    saved = set(SPAH(**small_kwargs()).get_config()) - {"name", "trainable", "dtype", "code_bits"}
    assert {"augment", "similarity_balance", "batch_norm_recalibration"} <= saved
    config = TrainConfig(method="spah", data="digits", protocol="digits", bits=8, epochs=1, batch_size=8,
                         model={key: None for key in saved})
    check_model_arguments(SPAH, config)
