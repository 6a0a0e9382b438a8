"""`tools/evaluate.py`: metrics table, PR curve, retrieval grid, evaluation record."""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
from PIL import Image

import hashzoo
from hashzoo import data, registry

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_tool(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(REPO / "tools" / "evaluate.py"), *args], capture_output=True,
                          text=True, timeout=300, env=env)


def test_evaluate_a_preset_reproduces_its_card_and_writes_pictures(tmp_path):
    proc = run_tool("--preset", "coophash-digits-32", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    entry = registry.get_preset("coophash-digits-32")
    assert "protocol: digits | 32 bits | 300 queries x 1497 database items" in proc.stdout
    assert "tie rule: stable" in proc.stdout
    assert f"mAP@all     {entry.metric('mAP@all'):.4f}" in proc.stdout
    assert "largest difference" in proc.stdout and "(matches)" in proc.stdout
    for name in ("pr_curve.png", "retrieval.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and min(image.size) > 200
    record = json.loads((tmp_path / "evaluation.json").read_text())
    assert record["model"] == "coophash-digits-32" and record["weights_sha256"] == entry.sha256
    assert record["protocol"]["split_sha256"] == data.get_protocol("digits").split_sha256
    card = hashzoo.load("coophash-digits-32").card["evaluation"]["metrics"]
    for metric, value in record["evaluation"]["metrics"].items():
        assert math.isclose(value, card[metric], abs_tol=1e-6), metric
    assert len(record["evaluation"]["pr_radius"]["precision"]) == 33  # radius 0..32
    assert record["command"].startswith("python ")


def test_evaluate_a_model_folder_on_other_data_and_protocol(tmp_path):
    digits = data.load_digits()
    folder = tmp_path / "images"
    for c in range(3):
        (folder / f"c{c}").mkdir(parents=True)
        for i in np.flatnonzero(digits.labels == c)[:12]:
            Image.fromarray(digits.images[i, :, :, 0], "L").save(folder / f"c{c}" / f"{i}.png")
    model = str(registry.get_preset("coophash-digits-64").builtin_path())
    proc = run_tool("--model", model, "--data", str(folder), "--protocol", "folder", "--out", str(tmp_path / "o"),
                    "--queries_shown", "3", "--neighbours", "5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "protocol: folder | 64 bits | 15 queries x 21 database items" in proc.stdout
    assert "largest difference" not in proc.stdout  # another protocol than the recorded one
    record = json.loads((tmp_path / "o" / "evaluation.json").read_text())
    assert record["data"] == str(folder) and record["protocol"]["id"] == "folder"
    assert (tmp_path / "o" / "retrieval.png").is_file()


def test_evaluate_reports_bad_arguments(tmp_path):
    proc = run_tool("--preset", "coophash-digits-31", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "unknown preset 'coophash-digits-31'" in proc.stderr and "'coophash-digits-32'" in proc.stderr
    assert not any(tmp_path.iterdir())
