import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import keras
import pytest

from hashzoo import data, metrics, presets, training

REPO = pathlib.Path(__file__).resolve().parents[1]


def smoke(**changes):
    return training.load_config("coophash_digits:smoke").replace(**changes)


def test_train_writes_a_preset_whose_metrics_can_be_re_measured(tmp_path):
    out = tmp_path / "coop"
    model, result = training.train(smoke(), out, verbose=0, command="pytest")
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md", "config.json", "metadata.json", "model.weights.h5", "preprocessing.json",
    ]
    assert not (tmp_path / "coop.backup").exists()
    loaded = presets.load(out)
    query, _, database = data.get_protocol("digits").apply(data.load_digits())
    np.testing.assert_array_equal(loaded.encode(query.images), model.encode(query.images))
    again = metrics.evaluate(
        loaded.encode(query.images), query.labels, loaded.encode(database.images), database.labels,
        protocol="digits",
    )
    stored = loaded.card["evaluation"]["metrics"]
    for name, value in again.metrics.items():
        assert math.isclose(stored[name], value, abs_tol=1e-12), name
    assert loaded.card["protocol"]["split_sha256"] == data.get_protocol("digits").split_sha256
    assert loaded.card["command"] == "pytest" and loaded.card["code_bits"] == 16
    assert json.loads((out / "preprocessing.json").read_text())["image_size"] == [8, 8]


def test_a_killed_run_resumes_from_its_backup(tmp_path):
    class Killed(Exception):
        pass

    class KillAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Killed()

    out = tmp_path / "run"
    with pytest.raises(Killed):
        training.train(smoke(epochs=3), out, verbose=0, extra_callbacks=[KillAfterSecondEpoch()])
    assert not out.exists(), "a failed run must not leave an output folder"
    assert (tmp_path / "run.backup").is_dir()
    model, _ = training.train(smoke(epochs=3), out, verbose=0)
    history = json.loads((out / "metadata.json").read_text())["history"]
    assert len(history["loss"]) == 1, "the resumed run should train only the third epoch"
    assert not (tmp_path / "run.backup").exists()


def test_non_finite_values_stop_with_the_step_and_the_losses():
    guard = training.StopOnNonFinite()
    guard.on_epoch_begin(2)
    guard.on_train_batch_end(0, {"loss": 1.0})
    with pytest.raises(training.NonFiniteLossError, match=r"\['vae_loss'\].*epoch 3, step 5.*loss=1.*vae_loss=nan"):
        guard.on_train_batch_end(4, {"loss": 1.0, "vae_loss": float("nan")})


def test_refuses_to_overwrite_and_names_bad_configs(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with pytest.raises(ValueError, match="already exists"):
        training.train(smoke(), tmp_path / "full", verbose=0)
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    with pytest.raises(ValueError, match=r"unknown config variant 'huge'.*\['default', 'smoke'\]"):
        training.load_config("coophash_digits:huge")
    with pytest.raises(ValueError, match="no config file for 'nope'"):
        training.load_config("nope")
    with pytest.raises(ValueError, match="bits"):
        smoke(bits=0)
    with pytest.raises(ValueError, match=r"unknown coophash model argument\(s\) \['class_wieght'\]; allowed: .*'class_weight'"):
        training.build_model(smoke().replace(model={"class_wieght": 5}), data.load_digits())
    with pytest.raises(ValueError, match="unknown method 'coophsh'.*coophash"):
        training.build_model(smoke().replace(method="coophsh"), data.load_digits())


def test_presets_refuse_a_corrupted_weights_file(tmp_path):
    out = tmp_path / "p"
    training.train(smoke(epochs=1), out, verbose=0)
    size = (out / "model.weights.h5").stat().st_size
    with open(out / "model.weights.h5", "r+b") as handle:
        handle.seek(size // 2)
        chunk = handle.read(16)
        handle.seek(size // 2)
        handle.write(bytes(b ^ 0xFF for b in chunk))
    with pytest.raises(ValueError, match="expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}"):
        presets.load(out)
    with pytest.raises(ValueError, match="accepted forms"):
        presets.load(tmp_path / "missing")


def run_tool(args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_train_cli_end_to_end(tmp_path):
    out = tmp_path / "cli"
    proc = run_tool([str(REPO / "tools" / "train.py"), "--config", "coophash_digits:smoke", "--out", str(out),
                     "--epochs", "1", "--verbose", "0"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "mAP@all" in proc.stdout and (out / "config.json").is_file()
    bad = run_tool([str(REPO / "tools" / "train.py"), "--config", "coophash_digits", "--data", "/nonexistent",
                    "--out", str(tmp_path / "bad")], tmp_path)
    assert bad.returncode == 2 and "/nonexistent" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_demo_cli_prints_the_table_and_writes_both_pictures(tmp_path):
    proc = run_tool([str(REPO / "tools" / "demo.py"), "--out", str(tmp_path), "--coophash_config",
                     "coophash_digits:smoke", "--bgan_config", "bgan_digits:smoke", "--bits", "32"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in ("LSH", "PCA-ITQ", "CoopHash", "BGAN"):
        assert any(line.startswith(row) for line in proc.stdout.splitlines()), row
    from PIL import Image

    for name in ("retrieval.png", "pr_curve.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and min(image.size) > 200


def test_ablation_trains_every_variant_from_the_same_config():
    from hashzoo.training.ablation import run_ablation

    variants = {"full": {}, "no Langevin": {"langevin_steps": 0}}
    rows = run_ablation(smoke(epochs=1), variants, list(variants), command="pytest")
    assert [row[0] for row in rows] == ["full", "no Langevin"]
    assert all(0.0 < row[1] <= 1.0 and 0.0 < row[2] <= 1.0 for row in rows)
    assert rows[0][1] != rows[1][1], "the override must reach the model"
