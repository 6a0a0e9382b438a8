"""Fine-tuning a preset on new images: weights kept/replaced, new preset folder, errors, resume."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import hashzoo
from hashzoo import data, finetune
from hashzoo.zoo import presets
from tests.helpers import EpochsSeen, KillAfterEpoch, Killed

REPO = pathlib.Path(__file__).resolve().parents[1]
PARENT = "coophash-digits-32"
SADH_PARENT = "sadh-digits_mosaic-32"  # 16x16 mosaics, 10 classes, multi-label


def write_folder(root, per_class, classes=range(10), size=None, mode="L"):
    """Digits turned 90 degrees and inverted, as PNG files in one sub-folder per class."""
    digits = data.load_digits()
    for c in classes:
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in np.flatnonzero(digits.labels == c)[:per_class]:
            image = Image.fromarray((255 - np.rot90(digits.images[i, :, :, 0])).astype(np.uint8), "L")
            if size is not None:
                image = image.resize((size, size))
            image.convert(mode).save(folder / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def turned(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("data") / "turned", per_class=20)


def test_finetuning_raises_map_on_the_new_data_and_writes_a_preset(turned, tmp_path):
    out = tmp_path / "ft"
    model, result, before, rows = finetune.finetune(
        PARENT, turned, out, epochs=2, steps_per_epoch=8, batch_size=32, verbose=0, command="pytest",
    )
    assert result.metrics["mAP@all"] > before.metrics["mAP@all"] + 0.05, (before.metrics, result.metrics)
    assert {status for _, status, _, _ in rows} == {finetune.LOADED}
    assert sorted(p.name for p in out.iterdir()) == sorted(presets.PRESET_FILES)
    assert not (tmp_path / "ft.backup").exists()
    loaded = hashzoo.load(out)
    query, _, database = data.get_protocol("folder").apply(data.load_image_folder(turned, channels=1))
    np.testing.assert_array_equal(loaded.encode(query.images), model.encode(query.images))
    card = loaded.card
    parent = hashzoo.load(PARENT).card
    assert card["parent"]["name"] == PARENT and card["parent"]["weights_sha256"] == parent["weights_sha256"]
    assert card["weights_sha256"] == presets.sha256_file(out / "model.weights.h5")
    assert card["protocol"]["id"] == "folder" and card["protocol"]["query"] == 50
    assert card["evaluation"]["metrics"]["mAP@all"] == result.metrics["mAP@all"]
    assert card["evaluation_parent"]["metrics"]["mAP@all"] == before.metrics["mAP@all"]
    assert card["checkpoint"]["epoch"] in (1, 2) and card["command"] == "pytest"
    assert card["input"]["resized"] is False and card["input"]["native_shapes"] == [[8, 8, 1]]
    assert loaded.preprocessing == hashzoo.load(PARENT).preprocessing
    text = (out / "README.md").read_text()
    assert f"Fine-tuned from `{PARENT}`" in text and "Protocol `folder`" in text


def test_an_unsupervised_preset_finetunes_through_its_own_pipeline(turned, tmp_path):
    # BGAN trains on (images, S_B) batches: fine-tuning must build S on the new data with the
    # method's make_train_dataset hook, keep the learned slope, and still write a loadable preset.
    parent = hashzoo.load("bgan-digits-32")
    model, result, before, rows = finetune.finetune(
        "bgan-digits-32", turned, tmp_path / "ft", epochs=1, steps_per_epoch=3, batch_size=32, verbose=0,
    )
    assert {status for _, status, _, _ in rows} == {finetune.LOADED}
    assert model.slope == parent.slope > 1
    assert model.card["train_data"]["num_items"] == model.card["protocol"]["train"] > 100
    assert np.isfinite(result.metrics["mAP@all"]) and result.metrics != before.metrics
    codes = hashzoo.load(tmp_path / "ft").encode(data.load_image_folder(turned, channels=1).images[:8])
    assert set(np.unique(codes)) <= {-1, 1}


def test_new_bits_and_classes_replace_heads_and_keep_the_trunk(tmp_path):
    five = write_folder(tmp_path / "five", per_class=8, classes=range(5))
    parent = hashzoo.load(PARENT)
    child = hashzoo.load(PARENT, weights=False, code_bits=16, num_classes=5)
    rows = {name: (status, old, new) for name, status, old, new in finetune.transfer_weights(parent, child)}
    assert rows["trunk/conv0"][0] == rows["trunk/features"][0] == rows["inference"][0] == finetune.LOADED
    assert rows["hash/projection"] == (finetune.REPLACED, [(128, 32), (32,)], [(128, 16), (16,)])
    assert rows["classes"] == (finetune.REPLACED, [(128, 10), (10,)], [(128, 5), (5,)])
    assert rows["density"][0] == finetune.REINITIALISED  # its class matrix is [classes, features]
    reinitialised = [name for name, (status, _, _) in rows.items() if status == finetune.REINITIALISED]
    assert any(name.startswith("network/") for name in reinitialised), "the generator's label input"
    by_path = dict(zip([w.path for w in parent.weights], parent.weights))
    for weight in child.weights:
        if weight.path.startswith("trunk/"):
            np.testing.assert_array_equal(np.asarray(weight), np.asarray(by_path[weight.path]))
    summary = finetune.format_summary(finetune.transfer_weights(parent, child))
    assert "hash/projection" in summary and "[128, 32] [32] -> [128, 16] [16]" in summary
    assert summary.splitlines()[-1].endswith("2 replaced, 2 re-initialised layers")

    model, result, _, _ = finetune.finetune(PARENT, five, tmp_path / "ft16", bits=16, epochs=1, steps_per_epoch=2,
                                            batch_size=16, verbose=0)
    assert model.code_bits == 16 and model.num_classes == 5 and result.bits == 16
    card = hashzoo.load(tmp_path / "ft16").card
    assert card["code_bits"] == 16 and card["parent"]["code_bits"] == 32
    assert {row["layer"]: row["status"] for row in card["layers"]}["hash/projection"] == "replaced"


def test_sadh_learns_its_label_network_and_dictionaries_again_for_a_new_label_set(tmp_path):
    # Multi-label mosaics of 10 classes -> single digits of 5 classes: new class count, label kind and
    # label sets. The image trunk is kept; the heads are new; both stages run again on the new labels.
    five = write_folder(tmp_path / "five", per_class=12, classes=range(5))
    parent = hashzoo.load(SADH_PARENT)
    model, result, _, rows = finetune.finetune(SADH_PARENT, five, tmp_path / "ft", bits=16, epochs=1,
                                               steps_per_epoch=2, batch_size=16, resize=True, verbose=0)
    statuses = {name: status for name, status, _, _ in rows}
    status = lambda variable: statuses[finetune.layer_of(variable.path)]  # noqa: E731
    assert status(model.dictionary_labels) == finetune.REBUILT
    for head in model.hash_head_layers():  # ImgNet's and LabNet's code heads, 32 -> 16 bits
        assert status(head.kernel) == finetune.REPLACED
    for head in (model.image_net.classifier, model.label_net.class_head):  # 10 -> 5 classes
        assert status(head.kernel) == finetune.REPLACED
    trunk = {finetune.layer_of(weight.path) for weight in model.image_net.backbone.weights}
    assert trunk and {statuses[name] for name in trunk} == {finetune.LOADED}
    assert (model.num_classes, model.multi_label, model.dictionary_size, model.code_bits) == (5, False, 5, 16)
    np.testing.assert_array_equal(np.asarray(model.dictionary_labels), np.eye(5)[::-1])  # sorted label sets
    assert model.dictionaries_built and result.bits == 16
    card = hashzoo.load(tmp_path / "ft").card
    assert [(stage["name"], stage["skipped"]) for stage in card["stages"]] == [("label_net", False),
                                                                                ("dictionaries", False)]
    assert card["stages"][1]["facts"]["dictionary_size"] == 5
    assert card["parent"] == {"name": SADH_PARENT, "weights_sha256": parent.card["weights_sha256"],
                              "source": parent.card["source"], "code_bits": 32}
    assert "rebuilt" in finetune.format_summary(rows).splitlines()[-1]


def test_a_mosaic_protocol_checks_the_mosaic_size_against_the_contract():
    contract = hashzoo.load(SADH_PARENT, weights=False).preprocessing  # 16x16x1 mosaics of 8x8 digits
    dataset, record = finetune.load_data("digits", contract, protocol="digits-mosaic")
    assert record["resized"] is False and record["mosaic_grid"] == 2 and record["native_shapes"] == [[8, 8, 1]]
    with pytest.raises(ValueError, match="images in digits are 8x8.*contract is 16x16x1. Pass --resize"):
        finetune.load_data("digits", contract, protocol="digits")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: root.mkdir(), "is empty"),
        (lambda root: write_folder(root, per_class=8, classes=[3]),
         "supervised and needs at least 2 classes.*'class_3'"),
        (lambda root: write_folder(root, per_class=8, classes=[0, 1], mode="RGB"),
         "have 3 channel.*contract is 8x8x1 \\(grey\\). Pass --convert_channels"),
        (lambda root: write_folder(root, per_class=8, classes=[0, 1], size=16),
         "are 16x16.*contract is 8x8x1. Pass --resize"),
        (lambda root: (root / "a").mkdir(parents=True), "holds no images"),
    ],
    ids=["empty", "one-class", "rgb", "size", "no-images"],
)
def test_bad_folders_get_clear_errors_and_nothing_is_written(tmp_path, make, message):
    root = tmp_path / "user"
    make(root)
    with pytest.raises(ValueError, match=message):
        finetune.finetune(PARENT, root, tmp_path / "out", epochs=1, steps_per_epoch=1, verbose=0)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.backup").exists()


def test_adapting_the_input_takes_a_flag_and_is_recorded(tmp_path):
    root = write_folder(tmp_path / "big", per_class=8, classes=[0, 1, 2], size=16, mode="RGB")
    dataset, record = finetune.load_data(root, hashzoo.load(PARENT).preprocessing, resize=True, convert_channels=True)
    assert dataset.images.shape[1:] == (8, 8, 1)
    assert record["resized"] and record["channels_converted"] and record["native_shapes"] == [[16, 16, 3]]


@pytest.mark.slow  # tests/test_kill.py kills and resumes tools/finetune.py
def test_a_killed_finetune_resumes_from_its_backup(turned, tmp_path):
    out = tmp_path / "ft"
    with pytest.raises(Killed):
        finetune.finetune(PARENT, turned, out, epochs=2, steps_per_epoch=2, batch_size=16, verbose=0,
                          extra_callbacks=[KillAfterEpoch(0)])
    assert not out.exists() and (tmp_path / "ft.backup").is_dir()
    best = json.loads((tmp_path / "ft.backup" / "best.json").read_text())
    assert best["epoch"] == 1 and (tmp_path / "ft.backup" / best["file"]).is_file()
    epochs = EpochsSeen()
    finetune.finetune(PARENT, turned, out, epochs=2, steps_per_epoch=2, batch_size=16, verbose=0,
                      extra_callbacks=[epochs])
    assert epochs.seen == [1], "the resumed run trains only the second epoch"
    card = json.loads((out / "metadata.json").read_text())
    assert len(card["history"]["loss"]) == 2 and card["resumed"] is True
    assert card["checkpoint"]["epoch"] in (1, 2) and len(card["checkpoint"]["validation"]) == 2
    assert not (tmp_path / "ft.backup").exists()


def test_finetune_flags_are_checked_before_anything_runs(turned, tmp_path):
    for kwargs, message in [({"steps_per_epoch": -3}, "steps_per_epoch"), ({"steps_per_epoch": 0}, "steps_per_epoch"),
                            ({"epochs": 0}, "epochs"), ({"epochs": -1}, "epochs"),
                            ({"learning_rate": float("nan")}, "learning_rate must be a finite number > 0"),
                            ({"learning_rate": -1}, "learning_rate must be a finite number > 0")]:
        with pytest.raises(ValueError, match=message):
            finetune.finetune(PARENT, turned, tmp_path / "out", verbose=0, **kwargs)
    assert not (tmp_path / "out").exists()


def test_finetune_cli_refuses_a_bad_thread_count_before_any_work(turned, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    args = [sys.executable, str(REPO / "tools" / "finetune.py"), "--preset", PARENT, "--data", str(turned),
            "--out", str(tmp_path / "cli"), "--threads", "-2"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2 and "error: flag --threads=-2" in proc.stderr
    assert not (tmp_path / "cli").exists()


@pytest.mark.slow  # tests/test_kill.py runs tools/finetune.py to a written preset
def test_finetune_cli_end_to_end(turned, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    args = [sys.executable, str(REPO / "tools" / "finetune.py"), "--preset", PARENT, "--data", str(turned),
            "--epochs", "1", "--steps_per_epoch", "3", "--batch_size", "16", "--out", str(tmp_path / "cli"),
            "--threads", "1"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "TensorFlow threads: 1 within an op, 1 across ops" in proc.stdout
    assert "11 loaded, 0 replaced, 0 re-initialised layers" in proc.stdout
    assert "mAP@all on the new data: parent" in proc.stdout and "3/3" in proc.stdout  # Keras progress bar
    assert hashzoo.load(tmp_path / "cli").card["command"].startswith("python ")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep").write_text("mine")
    with pytest.raises(ValueError, match="already exists and is not empty"):
        finetune.finetune(PARENT, turned, tmp_path / "taken", verbose=0)
    assert (tmp_path / "taken" / "keep").read_text() == "mine"


def test_finetune_reads_a_tfds_dataset_prepared_offline(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    digits = data.load_digits()
    keep = np.concatenate([np.flatnonzero(digits.labels == c)[:12] for c in range(10)])

    class HashzooTurnedDigits(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        """120 digits turned 90 degrees and inverted (12 per class), as a TFDS dataset; no download."""

        VERSION = tfds.core.Version("1.0.0")
        code_path = None  # no checksums folder next to this test module

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 1)),
                "label": tfds.features.ClassLabel(names=[str(c) for c in range(10)]),
            }))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for i in keep:
                image = (255 - np.rot90(digits.images[i, :, :, 0]))[..., None].astype(np.uint8)
                yield int(i), {"image": image, "label": int(digits.labels[i])}

    tfds.disable_progress_bar()
    HashzooTurnedDigits(data_dir=str(tmp_path / "tfds")).download_and_prepare()
    out = tmp_path / "ft"
    model, result, before, _ = finetune.finetune(
        PARENT, "tfds:hashzoo_turned_digits", out, data_dir=str(tmp_path / "tfds"), epochs=1, steps_per_epoch=3,
        batch_size=16, verbose=0,
    )
    card = hashzoo.load(out).card
    assert card["data"] == "tfds:hashzoo_turned_digits" and card["input"]["native_shapes"] == [[8, 8, 1]]
    assert card["protocol"]["query"] == 50 and card["protocol"]["train"] + card["protocol"]["validation"] == 70
    assert card["evaluation"]["metrics"]["mAP@all"] == result.metrics["mAP@all"]
