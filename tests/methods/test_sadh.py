"""SADH: loss values by hand, stages and dictionaries, serialization, 2 replicas = 1 device, a smoke fit, kills."""

import inspect
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import hashzoo
from hashzoo import data, training
from hashzoo.methods.sadh import SADH, SADHImageNet, SADHLabelNet
from hashzoo.methods.sadh import dictionaries, losses
from tests import helpers

TINY = dict(feature_dim=16, hidden_dim=32, widths=(4, 8), label_epochs=2, label_batch_size=8,
            label_decay_epochs=(), preprocessing={"image_size": [8, 8], "channels": 1})
MOSAIC_LABELS = np.array([[1, 0, 0, 1], [0, 1, 0, 0], [1, 0, 0, 1], [0, 0, 1, 0], [1, 1, 0, 0], [0, 1, 0, 0],
                          [0, 0, 0, 1], [1, 0, 1, 0]], np.float32)


def tiny_sadh(labels=MOSAIC_LABELS, bits=8, **changes):
    return SADH.from_train_labels(bits, labels, **dict(TINY, **changes))


def images(count, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 8, 8, 1)).astype("float32")


def values(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor))


# --- loss values computed by hand ---------------------------------------------------------------


def test_margin_fixed_hinge_by_hand():
    z = np.array([[1, 0], [0, 1], [-1, 0]], np.float32)
    similar = values(losses.shares_label(np.array([[1, 0], [1, 0], [0, 1]]), np.array([[1, 0], [1, 0], [0, 1]])))
    assert float(losses.margin_fixed_hinge(z, z, similar, theta=0.2)) == pytest.approx(0.8 / 9, abs=1e-6)


def test_margin_scalable_hinge_by_hand():
    similar = np.ones((2, 2), np.float32)
    mu = np.array([[1, 0.5], [0.5, 1]], np.float32)
    a = np.array([[1, 0], [0, 1]], np.float32)
    assert float(losses.margin_scalable_hinge(a, a, mu, similar)) == pytest.approx(0.25, abs=1e-6)
    a = np.array([[1, 0], [0.6, 0.8]], np.float32)
    assert float(losses.margin_scalable_hinge(a, a, mu, similar)) == pytest.approx(0.0, abs=1e-6)
    # A dissimilar pair with mu = 0: each side pays its cosine 0.6.
    assert float(losses.margin_scalable_hinge(a, a, np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32))) == \
        pytest.approx(0.3, abs=1e-6)
    # Asymmetric: one image against two dictionary rows.
    asymmetric = losses.margin_scalable_hinge(np.array([[1, 0]], np.float32), np.array([[0.6, 0.8], [1, 0]], np.float32),
                                              np.array([[1, 0]], np.float32), np.array([[1, 0]], np.float32))
    assert float(asymmetric) == pytest.approx(0.7, abs=1e-6)


def test_class_and_quantization_terms_by_hand():
    y = np.array([[1, 0], [0, 1]], np.float32)
    scores = np.array([[0.5, 0], [0, 0]], np.float32)
    assert float(losses.label_regression_loss(y, scores, 2)) == pytest.approx(1.25, abs=1e-6)
    assert float(losses.mean_quantization(np.array([[0.5, -0.5]], np.float32))) == pytest.approx(0.25, abs=1e-6)
    assert float(losses.mean_quantization(np.zeros((1, 3), np.float32))) == pytest.approx(1.0)  # bin(0) = +1
    logits = np.array([[2.0, -1.0], [0.3, 0.7]], np.float32)
    expected = keras.losses.BinaryCrossentropy(from_logits=True)(y, logits)
    assert float(losses.multi_label_cross_entropy(y, logits)) == pytest.approx(float(expected), abs=1e-6)


def test_a_zero_row_has_cosine_zero_not_nan():
    cosines = values(losses.cosine_matrix(np.zeros((1, 3), np.float32), np.ones((2, 3), np.float32)))
    np.testing.assert_array_equal(cosines, 0.0)


def test_margins_lie_in_zero_one_and_identical_label_sets_give_one():
    model = tiny_sadh()
    rng = np.random.default_rng(1)
    labels = (rng.random((12, 4)) < 0.4).astype(np.float32)
    labels[6:] = labels[:6]
    outputs = model.label_net(labels)
    for kind in ("features", "codes"):
        mu = values(losses.scalable_margins(outputs[kind], outputs[kind]))
        assert mu.min() >= 0.0 and mu.max() <= 1.0 + 1e-6
        np.testing.assert_allclose(np.diag(mu[:6, 6:]), 1.0, atol=1e-6)


# --- dictionaries and stages --------------------------------------------------------------------


def test_dictionary_rows_are_the_distinct_label_sets_sorted():
    rows = dictionaries.distinct_label_sets(MOSAIC_LABELS)
    assert len(rows) == len({tuple(r) for r in MOSAIC_LABELS}) == 6
    assert [tuple(r) for r in rows] == sorted({tuple(r) for r in MOSAIC_LABELS})
    single = dictionaries.distinct_label_sets(np.array([3, 1, 3, 0, 2, 9, 5, 4, 6, 7, 8]), num_classes=10)
    np.testing.assert_array_equal(single, np.eye(10, dtype=np.float32)[::-1])  # lexicographic: 0...01 first
    np.testing.assert_array_equal(dictionaries.distinct_label_sets(np.array([[2], [0]]), num_classes=3),
                                  np.array([[0, 0, 1], [1, 0, 0]], np.float32))


def test_the_dictionaries_hold_label_net_outputs_on_the_distinct_label_sets():
    model = tiny_sadh()
    model.compile()
    model.fit_label_net(MOSAIC_LABELS, epochs=1)
    model.build_dictionaries()
    rows = dictionaries.distinct_label_sets(MOSAIC_LABELS)
    np.testing.assert_array_equal(values(model.dictionary_labels), rows)
    outputs = model.label_net(rows)
    np.testing.assert_allclose(values(model.feature_dictionary), values(outputs["features"]), atol=1e-6)
    np.testing.assert_allclose(values(model.code_dictionary), values(outputs["codes"]), atol=1e-6)
    assert model.dictionaries_built

    binary = tiny_sadh(binary_code_dictionary=True)
    binary.build_dictionaries()
    assert set(np.unique(values(binary.code_dictionary))) <= {-1.0, 1.0}


def test_stage_one_moves_only_label_net_and_stage_two_only_image_net():
    model = tiny_sadh()
    model.compile()
    with pytest.raises(ValueError, match=r"build_dictionaries\(\)"):
        model.fit(images(8), MOSAIC_LABELS, batch_size=8, epochs=1, verbose=0)

    label_before = [values(w) for w in model.label_net.weights]
    image_before = [values(w) for w in model.image_net.weights]
    model.fit_label_net(MOSAIC_LABELS, epochs=2)
    assert any(not np.allclose(a, values(b)) for a, b in zip(label_before, model.label_net.weights))
    for a, b in zip(image_before, model.image_net.weights):
        np.testing.assert_array_equal(a, values(b))

    model.build_dictionaries()
    label_after = [values(w) for w in model.label_net.weights]
    dictionaries_after = [values(model.feature_dictionary), values(model.code_dictionary)]
    history = model.fit(images(8), MOSAIC_LABELS, batch_size=8, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "code_symmetric", "code_asymmetric", "feature_symmetric",
                                    "feature_asymmetric", "quantization_loss", "class_loss"}
    assert any(not np.allclose(a, values(b)) for a, b in zip(image_before, model.image_net.trainable_weights))
    for a, b in zip(label_after, model.label_net.weights):
        np.testing.assert_array_equal(a, values(b))
    np.testing.assert_array_equal(dictionaries_after[0], values(model.feature_dictionary))
    np.testing.assert_array_equal(dictionaries_after[1], values(model.code_dictionary))


def test_a_dictionary_size_that_does_not_match_the_labels_is_named():
    model = SADH(8, num_classes=4, dictionary_size=3, **TINY)
    with pytest.raises(ValueError, match=r"6 distinct label sets.*dictionary_size=3"):
        model.set_dictionary_labels(MOSAIC_LABELS)


def test_ablation_switches_change_the_loss_terms():
    x = images(8)
    results = {}
    for name, changes in {"full": {}, "fixed": {"margin": "fixed"}, "no_asym": {"asymmetric": False},
                          "no_features": {"feature_weight": 0.0}}.items():
        keras.utils.set_random_seed(0)
        model = tiny_sadh(**changes)
        model.compile()
        model.fit_label_net(MOSAIC_LABELS, epochs=1)
        model.build_dictionaries()
        results[name] = model.fit(x, MOSAIC_LABELS, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    assert results["no_asym"]["code_asymmetric"] == [0.0] and results["no_asym"]["feature_asymmetric"] == [0.0]
    assert results["fixed"]["code_symmetric"] != results["full"]["code_symmetric"]
    assert results["no_features"]["loss"][0] < results["full"]["loss"][0]


# --- codes, serialization, saving ----------------------------------------------------------------


def test_encode_gives_plus_minus_one_and_zero_maps_to_plus_one():
    model = tiny_sadh()
    helpers.run_code_test(model, images(6))
    head = model.image_net.hash_head
    head.kernel.assign(np.zeros(head.kernel.shape, np.float32))
    np.testing.assert_array_equal(model.encode(images(3)), np.ones((3, 8), np.int8))


def test_serialization_covers_every_argument():
    init = dict(code_bits=12, num_classes=4, dictionary_size=5, multi_label=False, feature_dim=8, hidden_dim=16,
                backbone="stages", widths=(4, 6), weights_file=None, theta=0.3, label_quantization_weight=0.2,
                label_class_weight=0.5, label_weight_decay=1e-4, label_epochs=3, label_batch_size=16,
                label_decay_epochs=(1, 2), label_decay_factor=0.5, code_weight=2.0, feature_weight=0.5,
                quantization_weight=0.02, class_weight=0.3, weight_decay=1e-5, margin="fixed", asymmetric=False,
                binary_code_dictionary=True, symmetric_scope="replica", seed=3,
                preprocessing={"image_size": [8, 8], "channels": 1})
    helpers.run_serialization_test(SADH, init)
    helpers.run_serialization_test(SADHLabelNet, dict(num_classes=3, code_bits=6, feature_dim=5, hidden_dim=7, seed=2))
    helpers.run_serialization_test(SADHImageNet, dict(input_shape_hwc=(8, 8, 1), num_classes=3, code_bits=6,
                                                      feature_dim=5, widths=(4,), seed=2))
    assert set(inspect.signature(SADH.__init__).parameters) - {"self", "kwargs"} <= set(SADH(**init).get_config())


def test_keras_save_and_load_keep_the_dictionaries_the_flag_and_the_codes(tmp_path):
    model = tiny_sadh()
    model.compile()
    model.fit_label_net(MOSAIC_LABELS, epochs=1)
    model.build_dictionaries()
    loaded = helpers.run_saving_test(model, images(6), tmp_path)
    assert loaded.dictionaries_built
    for name in ("dictionary_labels", "feature_dictionary", "code_dictionary"):
        np.testing.assert_array_equal(values(getattr(loaded, name)), values(getattr(model, name)))


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="margin must be one of"):
        tiny_sadh(margin="soft")
    with pytest.raises(ValueError, match="symmetric_scope"):
        tiny_sadh(symmetric_scope="all")
    with pytest.raises(ValueError, match="class_weight must be a finite number"):
        tiny_sadh(class_weight=float("nan"))
    with pytest.raises(ValueError, match="backbone must be one of"):
        tiny_sadh(backbone="vgg")
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        tiny_sadh(weights_file=str(tmp_path / "missing.weights.h5"))


def test_the_backbone_starts_from_a_local_weights_file(tmp_path):
    donor = tiny_sadh(seed=5)
    path = tmp_path / "backbone.weights.h5"
    donor.image_net.backbone.save_weights(str(path))
    model = tiny_sadh(weights_file=str(path))
    for a, b in zip(donor.image_net.backbone.weights, model.image_net.backbone.weights):
        np.testing.assert_array_equal(values(a), values(b))
    # A saved model whose starting file is gone still loads (its own weights replace the file's).
    config = model.get_config()
    path.unlink()
    assert SADH.from_config(config).get_config()["weights_file"] is None


# --- distribution ---------------------------------------------------------------------------------


def test_two_replicas_take_the_same_image_step_as_one_device():
    x = images(8)

    def build_and_compile():
        model = tiny_sadh(seed=1)
        model.compile()
        model.build_dictionaries()
        return model

    helpers.run_distributed_equivalence_test(build_and_compile, x, MOSAIC_LABELS)


def test_two_replicas_take_the_same_label_step_as_one_device():
    single = tiny_sadh(seed=2)
    single.compile()
    initial = single.get_weights()
    h1 = single.fit_label_net(MOSAIC_LABELS, epochs=1, batch_size=8)
    with helpers.two_replica_strategy().scope():
        mirrored = tiny_sadh(seed=2)
        mirrored.compile()
    mirrored.set_weights(initial)
    h2 = mirrored.fit_label_net(MOSAIC_LABELS, epochs=1, batch_size=8)
    for a, b in zip(single.label_net.weights, mirrored.label_net.weights):
        np.testing.assert_allclose(values(a), values(b), atol=1e-5, rtol=1e-4)
    for name in h1.history:
        np.testing.assert_allclose(h1.history[name], h2.history[name], atol=1e-5, rtol=1e-4, err_msg=name)


# --- through the training runner --------------------------------------------------------------------


def test_smoke_run_on_digit_mosaics_learns_margins_and_beats_the_relevant_pair_rate(tmp_path):
    config = training.load_config("sadh_digits_mosaic:smoke").replace(
        epochs=2, model=dict(training.load_config("sadh_digits_mosaic:smoke").model, label_epochs=6))
    model, _ = training.train(config, tmp_path / "sadh", verbose=0)
    card = json.loads((tmp_path / "sadh" / "metadata.json").read_text())
    stages = {stage["name"]: stage["facts"] for stage in card["stages"]}
    facts = stages["dictionaries"]
    assert facts["dictionary_size"] == model.dictionary_size > 100
    assert facts["mean_margin_overlapping"] > facts["mean_margin_disjoint"] + 0.05
    assert facts["margin_jaccard_spearman"] > 0.3 and facts["label_map"] > 0.6
    history = card["history"]["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
    query, _, database = data.get_protocol("digits-mosaic").apply(data.load("digits"))
    relevant_rate = float((query.labels @ database.labels.T > 0).mean())
    assert card["evaluation"]["metrics"]["mAP@500"] > relevant_rate + 0.1
    loaded = hashzoo.load(tmp_path / "sadh")
    np.testing.assert_array_equal(loaded.encode(query.images[:20]), model.encode(query.images[:20]))


# Slow: the same kill at a stage record and resume run in tests/test_training.py on a toy staged method
# (`test_a_killed_run_skips_completed_stages_and_ends_where_an_uninterrupted_run_ends`); this is SADH's own.
@pytest.mark.slow
def test_a_run_killed_at_the_stage_boundary_resumes_to_the_uninterrupted_result(tmp_path):
    from tests.test_kill import tool

    args = [str(helpers_repo() / "tools" / "train.py"), "--config", "sadh_digits_mosaic:smoke", "--verbose", "2",
            "--out", str(tmp_path / "run")]
    # Killed while the dictionary stage's record is written: the label stage is recorded, the dictionaries not.
    killed = tool(args, tmp_path, kill_at="stage-half@2")
    stages = json.loads((tmp_path / "run.backup" / "stages.json").read_text())
    assert [s["name"] for s in stages] == ["label_net"], killed
    done = tool(args, tmp_path)
    assert done.returncode == 0, done
    assert "label_net: done in an earlier run, skipped" in done.stdout
    card = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert [s["skipped"] for s in card["stages"]] == [True, False]

    reference, _ = training.train(training.load_config("sadh_digits_mosaic:smoke"), tmp_path / "reference",
                                  verbose=0)
    query_images = data.load("digits").images[:100]
    mosaic = np.tile(query_images, (1, 2, 2, 1))
    np.testing.assert_array_equal(hashzoo.load(tmp_path / "run").encode(mosaic), reference.encode(mosaic))


def helpers_repo():
    import pathlib

    return pathlib.Path(__file__).resolve().parents[2]


def test_label_vectors_accept_b_by_1_class_ids():
    model = SADH.from_train_labels(8, np.array([0, 1, 2, 1]), num_classes=3, **TINY)
    assert not model.multi_label and model.dictionary_size == 3
    flat = values(model.label_vectors(tf.constant([0, 2])))
    np.testing.assert_array_equal(flat, values(model.label_vectors(tf.constant([[0], [2]]))))
