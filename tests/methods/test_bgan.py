import itertools

import numpy as np
import keras
import pytest
import tensorflow as tf

from hashzoo import data, losses, similarity, training
from hashzoo.zoo import presets
from hashzoo.methods.bgan import BGAN, Discriminator, Encoder, Generator
from hashzoo.methods.bgan.similarity import bgan_similarity
from tests import helpers

DIGITS = {"image_size": (8, 8), "channels": 1}


def digits_batch(n=16, start=0):
    from sklearn.datasets import load_digits

    images = np.round(load_digits().images[start : start + n] * 255.0 / 16.0).astype("uint8")[..., None]
    return images


def small_kwargs(**overrides):
    kwargs = dict(code_bits=8, architecture="smoke", k1=3, k2=4, preprocessing=DIGITS, seed=1)
    kwargs.update(overrides)
    return kwargs


def build(encoder_lr=0.05, generator_lr=0.01, discriminator_lr=0.01, **overrides):
    def build_and_compile():
        model = BGAN(**small_kwargs(**overrides))
        model.compile(
            encoder_optimizer=keras.optimizers.SGD(encoder_lr),
            generator_optimizer=keras.optimizers.SGD(generator_lr),
            discriminator_optimizer=keras.optimizers.SGD(discriminator_lr),
        )
        return model

    return build_and_compile


def batch_similarity(images, k1=3, k2=4):
    """The dense ±1 block of a batch that is the whole (tiny) training set."""
    return bgan_similarity(similarity.pixel_features(images), k1, k2).dense()


# === the shared battery ===


def test_serialization_with_non_default_values():
    helpers.run_serialization_test(
        BGAN,
        dict(
            code_bits=12, architecture="smoke", width=0.5, dropout=0.25, gan_size=16, slopes=(2.0, 4.0),
            slope_schedule="constant", neighbourhood_weight=5.0, content_weight=0.5, adversarial_weight=2.0,
            pixel_weight=0.1, normalize_inner_product=False, fake_source="gaussian", variational_jitter=True,
            update="alternating", k1=5, k2=7, feature_extractor="array:/tmp/features.npy",
            feature_weights="/tmp/w.h5", seed=7, preprocessing={"image_size": (16, 16), "channels": 3},
            augment={"flip": False, "pad": 3, "padding": "constant"}, name="bgan",
        ),
    )
    for cls, kwargs in (
        (Encoder, dict(input_shape=(8, 8, 1), code_bits=5, architecture="smoke", width=0.5, dropout=0.1, slope=2.0,
                       variance_head=True, seed=2)),
        (Generator, dict(code_bits=5, gan_size=16, channels=3, architecture="smoke", width=0.5, seed=2)),
        (Discriminator, dict(gan_size=16, channels=3, architecture="smoke", width=0.5, seed=2)),
    ):
        helpers.run_serialization_test(cls, kwargs)


def test_codes_and_saving_keep_the_slope_and_all_three_optimizers(tmp_path):
    images = digits_batch(16)
    model = build()()
    discriminator_before = [np.array(v) for v in model.discriminator.trainable_weights]
    model.fit(images, batch_similarity(images), batch_size=16, epochs=1, verbose=0)
    after = model.discriminator.trainable_weights
    moved = [not np.allclose(b, np.array(v)) for b, v in zip(discriminator_before, after)]
    assert any(moved)
    model.encoder.smooth_sign.set_slope(7.5)
    helpers.run_code_test(model, images)
    loaded = helpers.run_saving_test(model, images, tmp_path)
    assert loaded.slope == 7.5
    for name in ("optimizer", "generator_optimizer", "discriminator_optimizer"):
        optimizer = getattr(loaded, name)
        assert isinstance(optimizer, keras.optimizers.SGD) and int(optimizer.iterations.numpy()) == 1, name
        for a, b in zip(getattr(model, name).variables, optimizer.variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_two_replicas_take_the_same_step_as_one_device():
    # Dropout masks and the code jitter are drawn for the global batch and sliced
    # per replica; the neighbourhood loss pairs each replica's rows with the
    # gathered codes of the whole batch. Together: the same step as one device.
    images = digits_batch(16)
    helpers.run_distributed_equivalence_test(
        build(dropout=0.5, variational_jitter=True), images, batch_similarity(images), atol=2e-5, rtol=2e-4
    )


def test_two_replicas_take_the_same_balanced_augmented_step_as_one_device():
    # The balanced neighbourhood loss divides by the global batch's pair counts, gathered from the replicas;
    # the encoder's flips and crops are drawn for the global batch and sliced per replica.
    images = digits_batch(16)
    helpers.run_distributed_equivalence_test(
        build(neighbourhood_balance="balanced", augment="flip_crop"), images, batch_similarity(images),
        atol=2e-5, rtol=2e-4,
    )


@pytest.mark.slow  # test_two_replicas_take_the_same_step_as_one_device covers the step
def test_fit_on_the_similarity_pipeline_under_two_replicas():
    images = digits_batch(32)
    with helpers.two_replica_strategy().scope():
        model = build()()
    dataset = model.make_train_dataset(images, batch_size=16, seed=0)
    before = [np.array(v) for v in model.trainable_weights]
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False, callbacks=model.training_callbacks(1))
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), name
    moved = [not np.allclose(b, np.array(v)) for b, v in zip(before, model.trainable_weights)]
    assert sum(moved) > len(moved) // 2


# === the neighbourhood structure (docs/bgan.md, "The neighbourhood structure") ===


def naive_bgan_similarity(knn_ids, k2):
    """BGAN's K1/K2 rule (docs/bgan.md, "The neighbourhood structure") with Python sets, for small N."""
    n = len(knn_ids)
    neighbours = [set(row.tolist()) for row in knn_ids]
    s = -np.ones((n, n))
    for i in range(n):
        counts = [(len(neighbours[i] & neighbours[j]), j) for j in range(n) if j != i]
        others = [j for c, j in sorted(counts, key=lambda t: (-t[0], t[1])) if c > 0]
        for j in [i] + others[: k2 - 1]:
            for k in neighbours[j]:
                s[i, k] = s[k, i] = 1
    return s


def test_similarity_on_a_hand_computed_toy_set():
    # Points 0..4 on a line at cosine angles; K1 = 1, K2 = 2.
    angles = np.array([0.0, 0.1, 0.25, 1.3, 1.45])
    features = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    knn = similarity.cosine_knn(features, 1)
    # N_0 = {0, 1}, N_1 = {1, 0}, N_2 = {2, 1}, N_3 = {3, 4}, N_4 = {4, 3}.
    assert knn.tolist() == [[0, 1], [1, 0], [2, 1], [3, 4], [4, 3]]
    s = similarity.shared_neighbour_similarity(knn, k2=2).dense()
    # T_0 = {0, 1} -> P_0 = {0, 1}; T_1 = {1, 0} -> {0, 1}; T_2 = {2, 0} (c_20 = c_21 = 1, tie
    # to the lower index) -> P_2 = {2, 1, 0}; T_3 = {3, 4}; T_4 = {4, 3}.
    expected = -np.ones((5, 5))
    for i, ks in {0: [0, 1], 1: [0, 1], 2: [0, 1, 2], 3: [3, 4], 4: [3, 4]}.items():
        expected[i, ks] = expected[ks, i] = 1
    np.testing.assert_array_equal(s, expected)


def test_similarity_is_symmetric_with_positive_diagonal_and_matches_the_set_reference():
    rng = np.random.default_rng(0)
    n, k1, k2 = 50, 4, 6
    knn = np.stack([np.r_[i, rng.choice(np.delete(np.arange(n), i), k1, replace=False)] for i in range(n)])
    s = similarity.shared_neighbour_similarity(knn, k2, block_size=7)
    dense = s.dense()
    np.testing.assert_array_equal(dense, naive_bgan_similarity(knn, k2))
    np.testing.assert_array_equal(dense, dense.T)
    assert set(np.unique(dense)) == {-1.0, 1.0}
    assert np.all(np.diag(dense) == 1) and np.all((dense > 0).sum(1) >= k1 + 1)
    rows, cols = rng.integers(0, n, 9), rng.integers(0, n, 11)
    np.testing.assert_array_equal(s.block(rows, cols), dense[rows][:, cols])
    np.testing.assert_array_equal(s.tf_block_fn()(tf.constant(rows), tf.constant(cols)).numpy(), dense[rows][:, cols])


def test_far_apart_clusters_share_no_positives_and_knn_ties_go_to_the_lower_index():
    rng = np.random.default_rng(1)
    features = np.concatenate([rng.normal([10, 0, 0], 0.1, (5, 3)), rng.normal([0, 0, 10], 0.1, (5, 3))])
    dense = bgan_similarity(features, k1=2, k2=2).dense()
    assert np.all(dense[:5, 5:] == -1) and np.all(dense[5:, :5] == -1)
    # Four identical points: every neighbour ties, so the lowest ids come first.
    assert similarity.cosine_knn(np.ones((4, 2)), 2).tolist() == [[0, 1, 2], [1, 0, 2], [2, 0, 1], [3, 0, 1]]
    blocked = similarity.cosine_knn(features, 3, block_size=3)
    np.testing.assert_array_equal(blocked, similarity.cosine_knn(features, 3))


def test_the_pipeline_yields_each_batch_with_its_similarity_block():
    images = digits_batch(24)
    s = bgan_similarity(similarity.pixel_features(images), 3, 4)
    dense = s.dense()
    pixels = images.reshape(24, -1)
    for batch, block in data.make_similarity_dataset(images, s, batch_size=8, seed=3):
        ids = [int(np.flatnonzero((pixels == row).all(1))[0]) for row in batch.numpy().reshape(8, -1).astype("uint8")]
        np.testing.assert_array_equal(block.numpy(), dense[ids][:, ids])
    with pytest.raises(ValueError, match="covers 24 items but there are 8"):
        data.make_similarity_dataset(images[:8], s)


def test_frozen_features_are_unit_rows_and_pca_reduced():
    images = np.random.default_rng(0).integers(0, 256, (300, 16, 16, 3)).astype("uint8")
    for extractor, dim in (("pixels", 256), ("random_conv", 256)):
        features = similarity.extract_features(images, extractor)
        assert features.shape == (300, dim), extractor
        np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    first, again = (similarity.random_conv_features(images[:50]) for _ in range(2))
    np.testing.assert_array_equal(first, again)  # seeded: the same features every run
    # Fewer items than dimensions: PCA through the Gram matrix, same neighbours as the full PCA.
    few = images[:40].reshape(40, -1)
    np.testing.assert_array_equal(
        similarity.cosine_knn(similarity.pixel_features(few, max_dim=768), 5),
        similarity.cosine_knn(similarity.pixel_features(few, max_dim=39), 5),
    )


# === losses (docs/bgan.md, "Losses and the training step") ===


def test_neighbourhood_loss_is_zero_for_opposite_cluster_codes():
    c = np.array([1, -1, 1, 1, -1, -1, 1, -1], "float32")
    codes = np.stack([c, c, c, -c, -c])
    s = np.where(np.equal.outer([0, 0, 0, 1, 1], [0, 0, 0, 1, 1]), 1.0, -1.0)
    assert float(losses.pairwise_similarity_loss(codes, codes, s)) == 0.0
    assert float(losses.quantization_loss(codes)) == 0.0
    # Without 1/L, the raw inner product L = 8 is compared with S = ±1 (the released code).
    assert float(losses.pairwise_similarity_loss(codes, codes, s, normalize=False)) == 49.0
    random = np.random.default_rng(0).uniform(-1, 1, (6, 8)).astype("float32")
    assert np.isfinite(float(losses.pairwise_similarity_loss(random, random, np.ones((6, 6)))))


# === training on real digits ===


def test_fit_on_real_digits_moves_the_encoder_and_keeps_trackers_finite():
    images = data.load_digits().images[:96]
    model = BGAN(**small_kwargs(fake_source="gaussian", update="alternating", variational_jitter=True))
    model.compile(discriminator_optimizer=keras.optimizers.SGD(0.0))
    prepared = model.build_similarity(images)
    assert prepared.summary()["positives_per_row_min"] >= 4
    dataset = model.make_train_dataset(images, prepared=prepared, batch_size=16, seed=0)
    encoder_before = [np.array(v) for v in model.encoder.trainable_weights]
    generator_before = [np.array(v) for v in model.generator.trainable_weights]
    discriminator_before = [np.array(v) for v in model.discriminator.trainable_weights]
    history = model.fit(dataset, epochs=3, verbose=0, shuffle=False, callbacks=model.training_callbacks(3))
    assert set(history.history) >= {
        "loss", "neighbourhood_loss", "quantization_loss", "content_loss", "generator_loss",
        "discriminator_loss", "slope",
    }
    for name, values in history.history.items():
        assert len(values) == 3 and np.all(np.isfinite(values)), name
    assert history.history["slope"] == [1.0, 1.0, 2.5]  # E = 3: stage length 1
    assert all(not np.allclose(b, np.array(v)) for b, v in zip(encoder_before, model.encoder.trainable_weights))
    assert any(not np.allclose(b, np.array(v)) for b, v in zip(generator_before, model.generator.trainable_weights))
    # D's learning rate is 0: D does not move (L_C never updates D).
    for b, v in zip(discriminator_before, model.discriminator.trainable_weights):
        np.testing.assert_array_equal(b, np.array(v))
    # The codes are exactly the sign of the pre-activation, +1 at 0, at the final slope.
    np.testing.assert_array_equal(model.encode(images), np.where(np.asarray(model.pre_activation(images)) >= 0, 1, -1))


def test_zero_hash_weights_give_all_plus_one_codes():
    model = BGAN(**small_kwargs())
    for variable in model.encoder.hash_head.projection.weights:
        variable.assign(np.zeros(variable.shape, "float32"))
    codes = model.encode(digits_batch(4))
    assert codes.dtype == np.int8 and np.all(codes == 1)


# === slope schedule (docs/bgan.md, "Smooth sign and slope schedule") ===


def test_slope_schedule_table_and_constant_option():
    model = BGAN(**small_kwargs())
    table = [model.slope_at(e, 51) for e in range(51)]
    assert table[:9] == [1.0] * 9 and table[9:17] == [2.5] * 8 and table[33:] == [10.0] * 18
    assert table == sorted(table) and max(table) == 10.0
    assert [model.slope_at(e, 5) for e in range(5)] == [1.0, 1.0, 2.5, 5.0, 7.5]  # s = 1 when E < 6
    constant = BGAN(**small_kwargs(slope_schedule="constant", slopes=(3.0,)))
    assert {constant.slope_at(e, 51) for e in range(51)} == {3.0} and constant.slope == 3.0


# === the runner ===


def test_train_builds_the_similarity_once_and_writes_a_preset(tmp_path):
    config = training.load_config("bgan_digits:smoke").replace(epochs=3, batch_size=64)
    model, result = training.train(config, tmp_path / "bgan", verbose=0, command="pytest")
    card = presets.load(tmp_path / "bgan").card
    assert card["train_data"]["k1"] == 3 and card["train_data"]["positives_per_row_min"] >= 4
    assert card["history"]["slope"] == [1.0, 1.0, 2.5]
    loaded = presets.load(tmp_path / "bgan")
    assert loaded.slope == 2.5
    query, _, _ = data.get_protocol("digits").apply(data.load_digits())
    np.testing.assert_array_equal(loaded.encode(query.images), model.encode(query.images))
    assert 0.0 < result.metrics["mAP@all"] <= 1.0


# === errors name the bad value ===


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.h5.*backbone='conv'"):
        BGAN(code_bits=8, backbone="vgg19", backbone_weights=str(tmp_path / "missing.h5"), gan_size=32,
             preprocessing=BGAN.VGG19_PREPROCESSING)
    with pytest.raises(ValueError, match="needs preprocessing"):
        BGAN(code_bits=8, backbone="vgg19", preprocessing=DIGITS)
    with pytest.raises(ValueError, match="fake_source"):
        BGAN(**small_kwargs(fake_source="noise"))
    with pytest.raises(ValueError, match="set `gan_size` explicitly"):
        BGAN(**small_kwargs(preprocessing={"image_size": (12, 12), "channels": 1}))
    with pytest.raises(ValueError, match="feature_extractor"):
        BGAN(**small_kwargs(feature_extractor="resnet"))
    with pytest.raises(FileNotFoundError, match=r"feature_weights=None.*feature_extractor='pixels'"):
        similarity.extract_features(digits_batch(4), "keras_app:resnet50")
    model = BGAN(**small_kwargs())
    model.compile()
    with pytest.raises(ValueError, match=r"\(images, S_B\) batches.*\[16, 8\]"):
        model.fit(digits_batch(16), np.ones((16, 8), "float32"), batch_size=16, epochs=1, verbose=0)


def test_every_saved_argument_can_be_set_by_a_config():
    # The runner accepts only constructor parameters (`check_model_arguments`); shared ones must be named too.
    from hashzoo.training.config import TrainConfig
    from hashzoo.training.run import check_model_arguments

    saved = set(build()().get_config()) - {"name", "trainable", "dtype", "code_bits"}
    assert {"augment", "neighbourhood_balance", "batch_norm_recalibration"} <= saved
    config = TrainConfig(method="bgan", data="digits", protocol="digits", bits=8, epochs=1, batch_size=8,
                         model={key: None for key in saved})
    check_model_arguments(BGAN, config)
