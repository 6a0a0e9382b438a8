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
from hashzoo import data
from hashzoo.zoo import registry

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
    assert f"mAP@all     {hashzoo.load('coophash-digits-32').card['evaluation']['metrics']['mAP@all']:.4f}" in proc.stdout
    assert "largest difference" in proc.stdout and "(matches)" in proc.stdout
    for name in ("pr_curve.png", "retrieval.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and min(image.size) > 200
    record = json.loads((tmp_path / "evaluation.json").read_text())
    assert record["model"] == "coophash-digits-32" and record["weights_sha256"] == entry.weights_sha256
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


def test_every_flag_is_checked_before_anything_loads(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    proc = run_tool("--model", str(a_file), "--data", str(a_file), "--protocol", "nope", "--out", str(a_file),
                    "--batch_size", "0", "--neighbours", "-1", "extra")
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    for text in ("unexpected arguments ['extra']", f"--model '{a_file}' is a file but not a .keras file",
                 f"--data '{a_file}' is a file; expected a folder", "--protocol 'nope' is not a protocol",
                 f"--out '{a_file}' is a file; expected a folder", "--batch_size must be an integer >= 1, got 0",
                 "--neighbours must be an integer >= 1, got -1"):
        assert any(text in line for line in errors), (text, errors)
    assert "Traceback" not in proc.stderr
    proc = run_tool("--preset", "ftp://example.com/x.tar.gz", "--data", "tfds:mnist", "--queries_shown", "x")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: flag --queries_shown=x" in proc.stderr  # absl's own parse error, as one line
    proc = run_tool("--preset", "https://example.com/x.tar.gz#sha256=abc", "--data", "tfds:mnist")
    assert proc.returncode == 2
    assert "error: --preset: the #sha256= of" in proc.stderr and "not a sha256 (64 hex digits)" in proc.stderr
    assert "error: --data 'tfds:mnist' needs --data_dir" in proc.stderr
    assert not any(p for p in tmp_path.iterdir() if p != a_file)


def test_the_flag_helpers_return_messages_not_exceptions(tmp_path):
    from hashzoo.utils import cli

    a_file = tmp_path / "f"
    a_file.write_text("")
    assert cli.check_output_folder(str(a_file / "sub"), "--out").endswith("which is a file; expected a folder path.")
    assert cli.check_output_folder(str(tmp_path / "new" / "deeper"), "--out") is None
    assert cli.check_existing_folder(str(a_file), "--data_dir") == f"--data_dir '{a_file}' is a file; expected a folder."
    assert cli.check_positive_int(True, "--bits") and cli.check_positive_int(0, "--epochs", minimum=1)
    assert cli.check_preset("coophash-digits-32") is None and cli.check_model_path(str(REPO / "pretrained")) \
        .startswith("--model: ")
    assert cli.check_preset("ftp://host/x.tar.gz").startswith("--preset: unsupported URL scheme 'ftp'")
    assert cli.report_errors([None, ""]) == 0


def test_one_function_encodes_and_evaluates_for_models_and_baselines():
    import pytest

    from hashzoo import baselines
    from hashzoo.training import evaluate_on_protocol, evaluate_split, result_records

    model = hashzoo.load("coophash-digits-32")
    protocol = data.get_protocol("digits")
    result, split = evaluate_on_protocol(model, "digits", expected_split_sha256=protocol.split_sha256)
    assert split["id"] == "digits" and split["split_sha256"] == protocol.split_sha256
    assert split["query"] == 300 and split["query"] + split["train"] + split["validation"] > 1000
    recorded = model.card["evaluation"]["metrics"]
    assert all(math.isclose(result.metrics[m], recorded[m], abs_tol=1e-6) for m in recorded)
    records = result_records(result)["records"]
    assert {r["metric"] for r in records} == set(result.metrics) and records[0]["protocol"] == "digits"
    with pytest.raises(ValueError, match="different query/database items"):
        evaluate_on_protocol(model, "digits", expected_split_sha256="0" * 64)
    with pytest.raises(ValueError, match="not both"):
        evaluate_on_protocol(model, "digits", data="digits", dataset=data.load_digits())
    query, train, database = protocol.apply(data.load_digits())
    lsh = baselines.LSH(16, seed=0).fit(train.images)
    assert evaluate_split(lsh, query, database, protocol).bits == 16


def test_an_image_folder_is_read_with_the_models_channel_count(tmp_path):
    """A grey preset evaluated on an image folder sees grey pixels, as fine-tuning reads that folder."""
    sys.path.insert(0, str(REPO / "tools"))
    import evaluate as evaluate_tool

    digits = data.load_digits()
    folder = tmp_path / "digits"
    data.write_image_folder(digits, folder)
    model = hashzoo.load("coophash-digits-32")
    assert evaluate_tool._load_options(model, str(folder), None) == {"channels": 1}
    assert evaluate_tool._load_options(model, "digits", None) == {}
    result = evaluate_tool.evaluate(model, str(folder), "folder")[0]
    grey = data.load_image_folder(folder, channels=1)
    query, _, database = data.get_protocol("folder").apply(grey)
    expected = hashzoo.metrics.evaluate(model.encode(query.images), query.labels,
                                        model.encode(database.images), database.labels)
    assert math.isclose(result.metrics["mAP@all"], expected.metrics["mAP@all"], abs_tol=1e-9)
