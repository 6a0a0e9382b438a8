"""bench/contrastive_features.py and `bench/graph_fit.py --features array:`: the self-supervised diagnostic."""

import importlib.util
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_bench(name):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "bench", f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.join(ROOT, "bench"))
    return module


def test_two_views_of_an_image_differ_and_stay_in_the_centred_pixel_range():
    import tensorflow as tf

    bench = load_bench("contrastive_features")
    tf.random.set_seed(0)
    images = tf.constant(np.random.default_rng(0).uniform(0, 1, (6, 12, 12, 3)).astype("float32"))
    first, second = bench.augment(images, tf), bench.augment(images, tf)
    assert first.shape == (6, 12, 12, 3)
    assert float(tf.reduce_min(first)) >= -0.5 and float(tf.reduce_max(first)) <= 0.5
    assert float(tf.reduce_mean(tf.abs(first - second))) > 0.01


def test_the_trunk_pools_to_eight_times_its_width_on_any_image_size():
    import keras

    bench = load_bench("contrastive_features")
    trunk, head = bench.build_networks(keras, (8, 8, 3), 4)
    features = trunk(np.zeros((2, 8, 8, 3), "float32"))
    assert features.shape == (2, 32)
    assert head(features).shape == (2, 128)


def test_a_ranking_that_puts_every_same_class_item_first_scores_one_and_a_reversed_one_less():
    bench = load_bench("graph_fit")
    labels = np.array([0, 0, 1, 1, 0, 1, 2, 2])
    same = (labels[:, None] == labels[None, :]).astype("float64")
    assert bench.ranking_map(same, labels) == 1.0
    assert bench.ranking_map(-same, labels) < 0.5


def test_diffusion_ranks_the_far_end_of_a_chain_above_a_closer_point_off_the_chain():
    bench = load_bench("graph_fit")
    # A chain of unit vectors in the xy-plane (each one's nearest neighbour is the previous link) and a
    # pair off the plane, closer in cosine to the chain's start than the chain's far end is.
    chain = np.array([0.0, 0.3, 0.65, 1.05, 1.5])
    pair = np.array([0.9, 1.0])
    unit = np.concatenate([np.stack([np.cos(chain), np.sin(chain), 0 * chain], axis=1),
                           np.stack([np.cos(pair), 0 * pair, np.sin(pair)], axis=1)])
    assert unit[0] @ unit[5] > unit[0] @ unit[4]
    scores = bench.diffusion_scores(unit, k=1, alpha=0.99, power=1)
    np.testing.assert_allclose(scores, scores.T, atol=1e-8)
    assert scores[0, 4] > scores[0, 5]


def run(script, *arguments):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "bench", script), *arguments],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_features_saved_for_every_image_feed_graph_fit(tmp_path):
    saved = str(tmp_path / "features.npy")
    printed = run("contrastive_features.py", "--data", "digits", "--protocol", "digits", "--epochs", "1",
                  "--batch_size", "128", "--width", "4", "--k", "5", "--save", saved)
    assert "purity@5 (train)" in printed and "PCA-ITQ on these features" in printed
    features = np.load(saved)
    assert features.shape[0] == 1797
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-4)
    assert not [name for name in os.listdir(tmp_path) if "partial" in name]
    fitted = run("graph_fit.py", "--data", "digits", "--protocol", "digits", "--features", f"array:{saved}",
                 "--steps", "3", "--balances", "balanced")
    assert "| balanced |" in fitted
    assert "real-valued cosine ranking of the features:" in fitted and "diffusion ranking" in fitted


def test_graph_fit_refuses_an_array_with_other_rows_than_the_dataset(tmp_path):
    wrong = str(tmp_path / "wrong.npy")
    np.save(wrong, np.ones((10, 4), "float32"))
    result = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "graph_fit.py"), "--data", "digits",
                             "--protocol", "digits", "--features", f"array:{wrong}", "--steps", "1"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "expected an [N, D] array with N = 1797 rows" in result.stderr
