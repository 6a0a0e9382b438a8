import inspect
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import keras
import pytest

from hashzoo import data, methods, metrics, training
from hashzoo.zoo import presets
from tests.helpers import EpochsSeen, KillAfterEpoch, Killed

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
    checkpoint = loaded.card["checkpoint"]
    assert checkpoint["selection"] == "best on validation" and checkpoint["metric"] == "mAP@all"
    assert len(checkpoint["validation"]) == checkpoint["epochs_completed"] == smoke().epochs
    assert checkpoint["score"] == max(checkpoint["validation"])
    assert checkpoint["validation"][checkpoint["epoch"] - 1] == checkpoint["score"]
    assert loaded.card["stopped"] is None and loaded.card["resumed"] is False
    assert loaded.card["protocol"]["validation"] == len(data.get_protocol("digits").split(
        data.load_digits().labels).validation)
    assert loaded.card["input"]["native_shapes"] == [[8, 8, 1]] and loaded.card["input"]["resized"] is False


@pytest.mark.slow  # tests/test_kill.py kills and resumes tools/train.py
def test_a_killed_run_resumes_from_its_backup(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(Killed):
        training.train(smoke(epochs=3), out, verbose=0, extra_callbacks=[KillAfterEpoch(1)])
    assert not out.exists(), "a failed run must not leave an output folder"
    assert (tmp_path / "run.backup").is_dir()
    epochs = EpochsSeen()
    model, _ = training.train(smoke(epochs=3), out, verbose=0, extra_callbacks=[epochs])
    assert epochs.seen == [2], "the resumed run should train only the third epoch"
    card = json.loads((out / "metadata.json").read_text())
    assert len(card["history"]["loss"]) == 3, "the metadata holds the whole history"
    assert card["resumed"] is True and card["checkpoint"]["epochs_completed"] == 3
    assert len(card["checkpoint"]["validation"]) == 3
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


@pytest.mark.slow  # the folder and exit-3 CLI tests run tools/train.py end to end
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
    # CoopHash and BGAN are trained (smoke configs); SPAH and SADH come as presets, so four methods show.
    proc = run_tool([str(REPO / "tools" / "demo.py"), "--out", str(tmp_path), "--coophash_config",
                     "coophash_digits:smoke", "--bgan_config", "bgan_digits:smoke", "--bits", "32",
                     "--presets", "spah-digits-32,sadh-digits_mosaic-32"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in ("LSH", "PCA-ITQ", "CoopHash", "BGAN", "spah-digits-32", "sadh-digits_mosaic-32"):
        assert any(line.startswith(row) for line in proc.stdout.splitlines()), row
    assert "protocol digits-mosaic" in proc.stdout  # the multi-label preset is searched on its own protocol
    from PIL import Image

    # Every preset gets a retrieval grid (the mosaic one captions shared labels); one PR plot per protocol.
    for name in ("retrieval.png", "pr_curve.png", "pr_curve_digits-mosaic.png", "preset_sadh-digits_mosaic-32.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and min(image.size) > 200


def test_ablation_trains_every_variant_and_seed_from_the_same_config(tmp_path, monkeypatch):
    from hashzoo.training import ablation

    variants = {"full": {}, "no Langevin (T=0)": {"langevin_steps": 0}}
    runs = ablation.run_ablation(smoke(epochs=1), variants, list(variants), command="pytest", seeds=[0, 1],
                                 out_dir=str(tmp_path))
    assert [(run.variant, run.seed) for run in runs] == [
        ("full", 0), ("full", 1), ("no Langevin (T=0)", 0), ("no Langevin (T=0)", 1)]
    assert all(0.0 < run.map_all <= 1.0 and 0.0 < run.p100 <= 1.0 and not run.reused for run in runs)
    assert runs[0].map_all != runs[2].map_all, "the override must reach the model"
    assert runs[0].map_all != runs[1].map_all, "the seed must reach the model"
    assert sorted(os.listdir(tmp_path)) == ["full-s0", "full-s1", "no-langevin-t-0-s0", "no-langevin-t-0-s1"]
    with open(tmp_path / "full-s1" / "metadata.json") as handle:
        assert json.load(handle)["config"]["seed"] == 1

    # A second call reads the finished runs back instead of training them again.
    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(ablation, "train", no_training)
    again = ablation.run_ablation(smoke(epochs=1), variants, list(variants), command="pytest", seeds=[0, 1],
                                  out_dir=str(tmp_path))
    assert [(run.map_all, run.p100) for run in again] == [(run.map_all, run.p100) for run in runs]
    assert all(run.reused for run in again)

    # A finished run of another config is refused, not reported as this one.
    with pytest.raises(ValueError, match=r"full-s0.*another config.*\['epochs'\]"):
        ablation.run_ablation(smoke(epochs=2), variants, ["full"], command="pytest", seeds=[0], out_dir=str(tmp_path))

    # A config that lists a model setting at the method's default still reads back runs that left it out;
    # the same setting at another value is refused, naming it.
    default_kl = inspect.signature(methods.get_method("coophash").__init__).parameters["kl_weight"].default
    assert "kl_weight" not in smoke().model
    explicit = smoke(epochs=1, model=dict(smoke().model, kl_weight=default_kl))
    assert [run.map_all for run in ablation.run_ablation(explicit, variants, ["full"], command="pytest", seeds=[0],
                                                          out_dir=str(tmp_path))] == [runs[0].map_all]
    other = smoke(epochs=1, model=dict(smoke().model, kl_weight=default_kl / 2))
    with pytest.raises(ValueError, match=r"full-s0.*another config.*model\.kl_weight"):
        ablation.run_ablation(other, variants, ["full"], command="pytest", seeds=[0], out_dir=str(tmp_path))

    table = ablation.summarize(runs).splitlines()
    assert len(table) == 4 and table[2].startswith("| full | ")
    values = [runs[0].map_all, runs[1].map_all]
    assert f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}" in table[2]


def test_ablation_bench_sets_model_overrides_on_the_config_before_the_variants(monkeypatch, capsys):
    from hashzoo.training import ablation
    from hashzoo.training.config import parse_model_overrides

    seen = {}

    def fake_run_ablation(base, variants, names, command, **kwargs):
        seen["model"] = base.model
        return [ablation.AblationRun("full", base.seed, 0.5, 0.6, 1.0)]

    monkeypatch.setattr(ablation, "run_ablation", fake_run_ablation)
    ablation.ablation_main({"full": {}}, "coophash_digits:smoke", "test", "pytest", argv=[
        "--model_override", "vae_trains_trunk=false", "--model_override", 'pair_source="real"',
        "--model_override", "langevin_steps=3",
    ])
    expected = dict(smoke().model, vae_trains_trunk=False, pair_source="real", langevin_steps=3)
    assert seen["model"] == expected
    assert "| full | 0.5000" in capsys.readouterr().out
    assert parse_model_overrides(["augment=flip", "w=0.5"]) == {"augment": "flip", "w": 0.5}
    with pytest.raises(ValueError, match=r"--model_override must be key=value, got 'novalue'"):
        parse_model_overrides(["novalue"])
    with pytest.raises(ValueError, match=r"--model_override must be key=value, got '=1'"):
        parse_model_overrides(["=1"])


def test_ablation_names_the_bad_variant_and_seeds():
    from hashzoo.training.ablation import run_ablation

    with pytest.raises(ValueError, match=r"unknown ablation variant\(s\) \['nope'\]"):
        run_ablation(smoke(), {"full": {}}, ["nope"], command="pytest")
    with pytest.raises(ValueError, match="distinct"):
        run_ablation(smoke(), {"full": {}}, ["full"], command="pytest", seeds=[0, 0])


# === the training core on a toy method: best epoch, non-finite stop, stages ===

from hashzoo.training import core  # noqa: E402
from tests.toy_hasher import StageCrash, ToyHasher, ToyStagedHasher  # noqa: E402

TOY_OPTIMIZERS = {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01}}}


def toy_run(out, cls=ToyHasher, epochs=3, extra_callbacks=(), verbose=0, strategy=None, min_steps=0):
    options = core.RunOptions(epochs=epochs, batch_size=64, seed=0, verbose=verbose,
                              extra_callbacks=tuple(extra_callbacks), min_steps=min_steps)
    return core.run_training(
        lambda parts: cls.from_data(16, parts.train, seed=0, hidden=16), data.load_digits(), "digits", out, options,
        method_class=cls, optimizers=TOY_OPTIMIZERS, data_name="digits", metadata={"method": "toy"},
        strategy=strategy,
    )


class OverwriteInEpoch(keras.callbacks.Callback):
    """Sets the weights `pick(model)` to `value` at every step of epoch `epoch` (0-based).

    `after_step=False` overwrites before each step, True after it.
    """

    def __init__(self, epoch, pick, value, after_step=False):
        super().__init__()
        self.target, self.pick, self.value, self.after_step, self.epoch = epoch, pick, value, after_step, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def overwrite(self):
        if self.epoch == self.target:
            for variable in self.pick(self.model):
                variable.assign(np.full(variable.shape, self.value, "float32"))

    def on_train_batch_begin(self, batch, logs=None):
        if not self.after_step:
            self.overwrite()

    def on_train_batch_end(self, batch, logs=None):
        if self.after_step:
            self.overwrite()


def spoil_final_epoch(epochs):
    """Zeroes the hash head after every step of the last epoch: its codes are all +1, a bad epoch."""
    return OverwriteInEpoch(epochs - 1, lambda model: model.hash_head.weights, 0.0, after_step=True)


def poison_at_epoch(epoch):
    """Makes every trainable weight NaN at the first step of epoch `epoch` (0-based)."""
    return OverwriteInEpoch(epoch, lambda model: model.trainable_weights, np.nan)


def test_the_best_validation_epoch_is_published_not_the_last(tmp_path):
    outcome = toy_run(tmp_path / "toy", epochs=3, extra_callbacks=[spoil_final_epoch(3)])
    checkpoint = outcome.metadata["checkpoint"]
    assert checkpoint["epoch"] < 3 and checkpoint["epochs_completed"] == 3
    assert checkpoint["validation"][2] < checkpoint["score"] == max(checkpoint["validation"])
    loaded = presets.load(tmp_path / "toy")
    assert len(np.unique(loaded.encode(data.load_digits().images[:50]), axis=0)) > 1, "not the spoilt weights"
    query, _, database = data.get_protocol("digits").apply(data.load_digits())
    again = training.evaluate_split(loaded, query, database, "digits")
    assert again.metrics == outcome.result.metrics
    assert outcome.metadata["evaluation"]["metrics"]["mAP@all"] == outcome.result.metrics["mAP@all"]


def test_a_non_finite_loss_publishes_the_best_finished_epoch_and_says_so(tmp_path):
    outcome = toy_run(tmp_path / "toy", epochs=4, extra_callbacks=[poison_at_epoch(2)])
    stopped = outcome.metadata["stopped"]
    assert stopped["reason"] == "non-finite" and stopped["epoch"] == 3 and stopped["step"] == 1
    assert "loss" in stopped["values"] and "epoch 3, step 1" in stopped["message"]
    assert outcome.stopped == stopped
    assert outcome.metadata["checkpoint"]["epochs_completed"] == 2 and outcome.metadata["checkpoint"]["epoch"] <= 2
    loaded = presets.load(tmp_path / "toy")
    assert loaded.card["stopped"]["epoch"] == 3
    assert all(np.all(np.isfinite(np.asarray(w))) for w in loaded.weights)
    assert not (tmp_path / "toy.backup").exists()


def test_a_non_finite_loss_before_any_epoch_writes_nothing(tmp_path):
    with pytest.raises(training.NonFiniteLossError, match="No epoch had finished.*nothing was written"):
        toy_run(tmp_path / "toy", epochs=2, extra_callbacks=[poison_at_epoch(0)])
    assert not (tmp_path / "toy").exists()


def test_a_kill_after_the_fit_loses_nothing(tmp_path, monkeypatch):
    from hashzoo.zoo import presets as presets_lib

    real_save = presets_lib.save_preset

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed before the preset was written")

    monkeypatch.setattr(presets_lib, "save_preset", killed)
    with pytest.raises(KeyboardInterrupt):
        toy_run(tmp_path / "toy", epochs=2)
    monkeypatch.setattr(presets_lib, "save_preset", real_save)

    class NoFit(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            raise AssertionError("the fit had finished; it must not run again")

    outcome = toy_run(tmp_path / "toy", epochs=2, extra_callbacks=[NoFit()])
    assert outcome.metadata["resumed"] is True and len(outcome.metadata["history"]["loss"]) == 2
    assert not (tmp_path / "toy.backup").exists()


def test_the_best_weights_file_is_written_atomically(tmp_path, monkeypatch):
    from hashzoo.training import backup as backup_lib

    model = ToyHasher(8, num_classes=3, hidden=4, preprocessing={"image_size": (8, 8), "channels": 1})
    model.build()
    target = tmp_path / "best.weights.h5"
    backup_lib.save_weights_atomic(model, target)
    before = target.read_bytes()

    def broken(self, path, *args, **kwargs):
        pathlib.Path(path).write_bytes(b"half a file")
        raise OSError("killed mid-write")

    monkeypatch.setattr(ToyHasher, "save_weights", broken)
    with pytest.raises(OSError, match="mid-write"):
        backup_lib.save_weights_atomic(model, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.weights.h5"], "no temporary file is left"


def final_weights(outcome):
    return [np.asarray(w) for w in outcome.model.weights]


@pytest.fixture
def staged():
    ToyStagedHasher.calls.update(warmup=0, center=0)
    ToyStagedHasher.crash_in = None
    yield ToyStagedHasher
    ToyStagedHasher.crash_in = None


def test_stages_run_before_the_fit_and_are_recorded(tmp_path, staged, capsys):
    outcome = toy_run(tmp_path / "toy", cls=staged, epochs=1, verbose=1)
    assert staged.calls == {"warmup": 1, "center": 1}
    stages = outcome.metadata["stages"]
    assert [s["name"] for s in stages] == ["warmup", "center"] and not any(s["skipped"] for s in stages)
    assert np.isfinite(stages[0]["facts"]["loss"]) and stages[1]["facts"]["center_norm"] > 0
    assert float(np.linalg.norm(np.asarray(outcome.model.center))) > 0
    printed = capsys.readouterr().out
    assert "stage 1/2 warmup: one epoch of the class loss" in printed and "stage 2/2 center" in printed
    assert "2/2" in printed  # the stage progress bar


@pytest.mark.parametrize("crash", ["center", "fit"])
def test_a_killed_run_skips_completed_stages_and_ends_where_an_uninterrupted_run_ends(tmp_path, staged, crash):
    reference = final_weights(toy_run(tmp_path / "reference", cls=staged, epochs=2))
    staged.calls.update(warmup=0, center=0)

    class KillInFit(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                raise StageCrash("killed in the main fit")

    out = tmp_path / "killed"
    staged.crash_in = crash if crash != "fit" else None
    with pytest.raises(StageCrash):
        toy_run(out, cls=staged, epochs=2, extra_callbacks=[KillInFit()] if crash == "fit" else ())
    assert not out.exists()
    recorded = json.loads((tmp_path / "killed.backup" / "stages.json").read_text())
    assert [r["name"] for r in recorded] == (["warmup"] if crash == "center" else ["warmup", "center"])
    calls_before = dict(staged.calls)

    staged.crash_in = None
    outcome = toy_run(out, cls=staged, epochs=2)
    assert staged.calls["warmup"] == calls_before["warmup"], "a completed stage must not run again"
    assert staged.calls["center"] == calls_before["center"] + (1 if crash == "center" else 0)
    skipped = {s["name"]: s["skipped"] for s in outcome.metadata["stages"]}
    assert skipped == {"warmup": True, "center": crash == "fit"}
    for expected, got in zip(reference, final_weights(outcome)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "killed.backup").exists()


@pytest.mark.slow  # stage resume: test_a_killed_run_skips_completed_stages...; 2 replicas: the methods' step tests
def test_stages_resume_under_two_replicas(tmp_path, staged):
    from tests.helpers import two_replica_strategy

    strategy = two_replica_strategy()
    staged.crash_in = "center"
    with pytest.raises(StageCrash):
        toy_run(tmp_path / "toy", cls=staged, epochs=1, strategy=strategy)
    staged.crash_in = None
    outcome = toy_run(tmp_path / "toy", cls=staged, epochs=1, strategy=strategy)
    assert staged.calls == {"warmup": 1, "center": 2}
    assert [s["skipped"] for s in outcome.metadata["stages"]] == [True, False]
    assert len(outcome.metadata["checkpoint"]["validation"]) == 1


# === method hooks ===


def test_methods_declare_what_they_need_from_the_data():
    from hashzoo import methods

    digits = data.load_digits()
    for name in methods.list_models():
        cls = methods.get_method(name)
        assert isinstance(cls.__dict__.get("SUPERVISED"), bool), f"{name} must declare SUPERVISED"
    coophash = methods.get_method("coophash")
    assert coophash.data_arguments(digits, 7) == {"num_classes": 10, "multi_label": False, "seed": 7}
    assert methods.get_method("bgan").data_arguments(digits, 7) == {"seed": 7}
    model = training.build_model(smoke().replace(model=dict(smoke().model, preprocessing={"image_size": [16, 16]})),
                                 digits)
    assert model.num_classes == 10 and model.preprocessing.image_size == (16, 16) and model.preprocessing.channels == 1
    bgan = methods.get_method("bgan")
    assert bgan.supported_image_size((28, 28)) == (32, 32) and bgan.supported_image_size((8, 8)) == (8, 8)
    assert bgan.supported_image_size((28, 28), {"gan_size": 16}) == (28, 28)

    class Undeclared(ToyHasher):
        SUPERVISED = None

    with pytest.raises(TypeError, match="Undeclared must declare the class attribute SUPERVISED"):
        core.check_training_data(Undeclared, digits, "digits")


def test_a_folder_without_a_protocol_uses_the_folder_protocol(tmp_path):
    (tmp_path / "images" / "a").mkdir(parents=True)
    assert training.protocol_for(str(tmp_path / "images"), None) == "folder"
    assert training.protocol_for(str(tmp_path / "images"), "digits") == "digits"
    assert training.protocol_for("digits", None) is None and training.protocol_for(None, None) is None


@pytest.mark.parametrize(
    "changes, message",
    [({"epochs": 0}, "epochs"), ({"batch_size": -1}, "batch_size"), ({"steps_per_epoch": -3}, "steps_per_epoch"),
     ({"steps_per_epoch": 0}, "steps_per_epoch"), ({"seed": 1.5}, "seed"), ({"min_steps": -1}, "min_steps")],
)
def test_run_options_are_checked(changes, message):
    with pytest.raises(ValueError, match=message):
        core.RunOptions(**dict({"epochs": 1, "batch_size": 8}, **changes))


def test_min_steps_raises_the_epochs_of_a_small_train_split_only():
    options = core.RunOptions(epochs=12, batch_size=40, min_steps=1200)
    assert options.for_train_size(4050).epochs == 12  # 101 full batches an epoch: 1,212 steps
    assert options.for_train_size(1300).epochs == 38  # 32 full batches an epoch
    assert options.for_train_size(10).epochs == 1200  # one (smaller) batch an epoch
    assert core.RunOptions(epochs=12, batch_size=40, min_steps=1200, steps_per_epoch=50).for_train_size(10).epochs == 24
    assert core.RunOptions(epochs=2, batch_size=40).for_train_size(10).epochs == 2  # off by default


def test_a_run_with_min_steps_trains_the_raised_epochs_and_records_them(tmp_path, capsys):
    # Digits' train split has 1,348 items: 21 full batches of 64 an epoch, so 50 steps need 3 epochs.
    seen = EpochsSeen()
    outcome = toy_run(tmp_path / "toy", epochs=1, min_steps=50, extra_callbacks=[seen], verbose=1)
    assert seen.seen == [0, 1, 2]
    assert outcome.metadata["checkpoint"]["epochs_completed"] == 3
    assert "training 3 epochs" in capsys.readouterr().out


def test_a_config_records_min_steps_only_when_set():
    config = training.load_config("bgan_digits:smoke")
    assert "min_steps" not in config.to_dict()  # fingerprints and cards of configs without it are unchanged
    assert config.replace(min_steps=300).to_dict()["min_steps"] == 300
    with pytest.raises(ValueError, match="min_steps"):
        config.replace(min_steps=-5)


@pytest.mark.parametrize("name", ["bgan_cifar10", "spah_cifar10", "coophash_cifar10", "coophash_cifar10:augmented"])
def test_a_cifar_config_step_floor_leaves_the_subset_at_its_epochs_and_raises_them_on_smaller_data(name):
    # The floor is what the config's epochs are on the CIFAR-10 subset it was written for (4,050 training
    # images): the presets' training is unchanged there, and a smaller split gets more epochs.
    config = training.load_config(name)
    options = core.RunOptions(epochs=config.epochs, batch_size=config.batch_size, min_steps=config.min_steps)
    steps_per_epoch = 4050 // config.batch_size
    assert config.min_steps > 0 and config.min_steps <= config.epochs * steps_per_epoch < config.min_steps + steps_per_epoch
    assert options.for_train_size(4050).epochs == config.epochs
    assert options.for_train_size(1750).epochs > config.epochs  # cifar_grey24's training split
    assert training.load_config(name.split(":")[0] + ":smoke").min_steps == 0  # tests stay one epoch


def test_train_cli_exits_3_when_a_non_finite_loss_stopped_it(tmp_path):
    script = f"""
import runpy, sys
import numpy as np, keras
import hashzoo.training as training
sys.path.insert(0, {str(REPO)!r})
from tests.test_training import poison_at_epoch
real = training.train
training.train = lambda *a, **k: real(*a, **dict(k, extra_callbacks=[poison_at_epoch(1)]))
sys.argv = ["tools/train.py", "--config", "coophash_digits:smoke", "--epochs", "2", "--out", {str(tmp_path / "nan")!r},
            "--verbose", "0"]
runpy.run_path({str(REPO / "tools" / "train.py")!r}, run_name="__main__")
"""
    proc = run_tool(["-c", script], tmp_path)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "stopped early" in proc.stderr and "published epoch 1 of 1" in proc.stdout
    assert presets.load(tmp_path / "nan").card["stopped"]["epoch"] == 2


def test_train_cli_on_an_image_folder_uses_the_folder_protocol_and_a_size_the_method_takes(tmp_path):
    from PIL import Image

    digits = data.load_digits()
    for c in range(4):
        (tmp_path / "images" / f"c{c}").mkdir(parents=True)
        for i in np.flatnonzero(digits.labels == c)[:20]:
            Image.fromarray(digits.images[i, :, :, 0], "L").resize((12, 12)).save(tmp_path / "images" / f"c{c}" / f"{i}.png")
    out = tmp_path / "bgan"
    proc = run_tool([str(REPO / "tools" / "train.py"), "--config", "bgan_digits:smoke", "--data", str(tmp_path / "images"),
                     "--epochs", "1", "--batch_size", "16", "--out", str(out), "--verbose", "0", "--threads", "1"],
                    tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "TensorFlow threads: 1 within an op, 1 across ops" in proc.stdout
    card = presets.load(out).card
    assert card["protocol"]["id"] == "folder" and card["protocol"]["query"] == 20
    assert card["preprocessing"]["image_size"] == [16, 16]  # BGAN's G and D take 8, 16, 32 or 64
    assert card["input"]["native_shapes"][0][:2] == [12, 12] and card["input"]["resized"] is True
    bad = run_tool([str(REPO / "tools" / "train.py"), "--config", "bgan_digits:smoke", "--bits", "0",
                    "--out", str(tmp_path / "zero")], tmp_path)
    assert bad.returncode == 2 and "error: `bits` must be a positive integer" in bad.stderr
    bad = run_tool([str(REPO / "tools" / "train.py"), "--config", "bgan_digits:smoke", "--threads", "-1",
                    "--out", str(tmp_path / "threads")], tmp_path)
    assert bad.returncode == 2 and "error:" in bad.stderr and "threads" in bad.stderr
    assert not (tmp_path / "threads").exists()


def test_methods_are_found_by_their_folders_and_unknown_names_say_what_exists():
    import hashzoo
    import hashzoo.methods as methods

    folders = sorted(p.name for p in pathlib.Path(methods.__file__).parent.iterdir()
                     if p.is_dir() and (p / "__init__.py").is_file() and not p.name.startswith("_"))
    assert methods.list_models() == folders and {"bgan", "coophash", "onehot"} <= set(folders)
    for name in folders:
        assert issubclass(methods.get_method(name), hashzoo.HashingModel), name
    with pytest.raises(ValueError, match=r"unknown method 'coophsh'.*Did you mean \['coophash'\]"):
        methods.get_method("coophsh")
