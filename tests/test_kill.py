"""Runs killed with `kill -9` by PID at controlled points, then started again.

Each tool runs as a subprocess with the test-only hook
`HASHZOO_TEST_KILL_AT=<point>[@<n>]:stop` (`hashzoo.utils.io.kill_point`):
at that point the process stops itself (SIGSTOP), and the test kills it with
SIGKILL by its PID, so the kill lands at exactly that point. Every kill must
end in a correct resume (the preset is written, its metadata says it resumed
and holds the whole history, temporaries are cleaned) or a clear refusal
(exit 2, an `error:` line naming the backup folder and what differs).
"""

import inspect
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import hashzoo
from hashzoo import data, methods, training
from hashzoo.training import backup as backup_lib
from hashzoo.utils import io
from tests.helpers import EpochsSeen, KillAfterEpoch, Killed

REPO = pathlib.Path(__file__).resolve().parents[1]
TRAIN = [str(REPO / "tools" / "train.py"), "--config", "coophash_digits:smoke", "--epochs", "2", "--verbose", "2"]


def smoke(**changes):
    return training.load_config("coophash_digits:smoke").replace(**dict({"epochs": 2}, **changes))


class Run:
    """A finished or killed tool run: `returncode`, `stdout`, `stderr`."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __repr__(self):
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"


def tool(args, cwd, kill_at=None, timeout=300):
    """Runs `python <args>`; with `kill_at`, kills it with SIGKILL by PID when it reaches that point."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop(io.KILL_ENV, None)
    if kill_at is None:
        proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
        return Run(proc.returncode, proc.stdout, proc.stderr)
    env[io.KILL_ENV] = f"{kill_at}:stop"
    out, err = pathlib.Path(cwd) / "stdout.txt", pathlib.Path(cwd) / "stderr.txt"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=stdout, stderr=stderr)
    deadline = time.time() + timeout
    while True:
        pid, status = os.waitpid(proc.pid, os.WUNTRACED | os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            os.kill(proc.pid, signal.SIGKILL)
            os.waitpid(proc.pid, 0)
            proc.returncode = -9
            pytest.fail(f"{kill_at} was not reached in {timeout} s")
        time.sleep(0.05)
    if not os.WIFSTOPPED(status):
        proc.returncode = os.waitstatus_to_exitcode(status)
        ended = Run(proc.returncode, out.read_text(), err.read_text())
        pytest.fail(f"the run ended before reaching {kill_at}: {ended}")
    os.kill(proc.pid, signal.SIGKILL)  # kill -9 <pid>
    _, status = os.waitpid(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == -signal.SIGKILL
    return Run(proc.returncode, out.read_text(), err.read_text())


def temporaries(folder):
    return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*") if io.is_partial(p.name))


def digits_codes(model):
    return model.encode(data.load_digits().images[:200])


def test_kills_in_a_checkpoint_write_and_after_the_fit_end_as_an_uninterrupted_run(tmp_path):
    out, backup = tmp_path / "run", tmp_path / "run.backup"
    args = [*TRAIN, "--out", str(out)]

    # (b) killed halfway through writing the first epoch checkpoint: only a temporary is half-written.
    killed = tool(args, tmp_path, kill_at="checkpoint-half@1")
    assert not out.exists() and not (backup / "fit" / "checkpoint.json").exists(), killed
    assert [name.startswith("fit/.epoch-1.weights.h5.") for name in temporaries(backup)] == [True]

    # (d) another --bits: refused before anything is loaded, naming the folder and what differs.
    refused = tool([*args, "--bits", "8"], tmp_path)
    assert refused.returncode == 2, refused
    assert f"error: the backup folder {backup}" in refused.stderr and "run.config.bits: 16 -> 8" in refused.stderr
    assert f"delete {backup}" in refused.stderr and "original arguments" in refused.stderr
    assert "Traceback" not in refused.stderr and not out.exists()

    # (c) killed after the fit, with the preset folder complete but not yet renamed into place: the fit is
    # recorded, `run` does not exist, a `.run.<host>-<pid>.*.partial` folder is left; the half-written
    # temporary of the first kill is gone.
    killed = tool(args, tmp_path, kill_at="folder-replace")
    assert (backup / "fit.json").is_file() and not out.exists(), killed
    assert temporaries(backup) == []
    assert "resuming" not in killed.stdout, "no epoch had been committed: the fit starts from the beginning"
    assert [p.name.startswith(".run.") for p in tmp_path.iterdir() if io.is_partial(p.name)] == [True]

    done = tool(args, tmp_path)
    assert done.returncode == 0, done
    assert "the fit finished in an earlier run" in done.stdout
    assert not backup.exists() and not [p for p in tmp_path.iterdir() if io.is_partial(p.name)]
    card = json.loads((out / "metadata.json").read_text())
    assert card["resumed"] is True and card["code_bits"] == 16
    assert card["checkpoint"]["epochs_completed"] == 2 and len(card["checkpoint"]["validation"]) == 2
    assert len(card["history"]["loss"]) == 2 and card["train_seconds"] > 0

    # The fit ran once, uninterrupted, in the third process: the same weights as a run never killed.
    reference, _ = training.train(smoke(), tmp_path / "reference", verbose=0)
    np.testing.assert_array_equal(digits_codes(hashzoo.load(out)), digits_codes(reference))
    assert reference.card["evaluation"]["metrics"] == card["evaluation"]["metrics"]


def test_a_run_killed_mid_epoch_resumes_and_a_rerun_with_other_arguments_is_refused(tmp_path):
    out, backup = tmp_path / "run", tmp_path / "run.backup"
    args = [*TRAIN, "--out", str(out)]
    split = data.get_protocol("digits").split(data.load_digits().labels)
    steps = -(-len(split.train) // smoke().batch_size)

    # (a) killed mid-way through the second epoch: the first epoch's checkpoint is committed.
    killed = tool(args, tmp_path, kill_at=f"step@{steps + 5}")
    state = json.loads((backup / "fit" / "checkpoint.json").read_text())
    assert state["latest"]["epoch"] == 1 and not out.exists(), killed
    before = {p.name: p.read_bytes() for p in backup.iterdir() if p.is_file()}

    # (d) other arguments: refused before anything is loaded; --overwrite does not resume it either.
    for config, expected in [
        (smoke(epochs=3), "run.config.epochs: 2 -> 3"),
        (smoke(model=dict(smoke().model, langevin_steps=3)), "run.config.model.langevin_steps: 2 -> 3"),
        (smoke(seed=7), "run.config.seed: 0 -> 7"),
        (smoke(model=dict(smoke().model, kl_weight=0.5)), "run.config.model.kl_weight: <absent> -> 0.5"),
    ]:
        for overwrite in (False, True):
            with pytest.raises(backup_lib.FingerprintMismatch, match="holds a killed run with other settings") as error:
                training.train(config, out, verbose=0, overwrite=overwrite)
            message = str(error.value)
            assert str(backup) in message and expected in message and f"delete {backup}" in message
            assert "python" in message, "the refusal shows the command that started the killed run"
    assert {p.name: p.read_bytes() for p in backup.iterdir() if p.is_file()} == before, "a refusal changes nothing"
    assert not out.exists()

    # (e) the same run spelled with a model argument at the method's default (a config that starts to
    # list it) is the same run: it resumes. A non-default value was refused in (d).
    default_kl = inspect.signature(methods.get_method("coophash").__init__).parameters["kl_weight"].default
    assert "kl_weight" not in smoke().model
    done = tool([*args, "--model_override", f"kl_weight={default_kl!r}"], tmp_path)
    assert done.returncode == 0, done
    assert "resuming the fit from" in done.stdout and "after epoch 1 of 2" in done.stdout
    assert "Epoch 1/2" not in done.stdout and "Epoch 2/2" in done.stdout
    card = hashzoo.load(out).card
    assert card["resumed"] is True and card["checkpoint"]["epochs_completed"] == 2
    assert len(card["history"]["loss"]) == 2 and len(card["checkpoint"]["validation"]) == 2
    assert card["checkpoint"]["epoch"] in (1, 2) and not backup.exists()


def test_a_corrupt_or_truncated_checkpoint_falls_back_to_the_previous_one_or_names_the_folder(tmp_path, capsys):
    from tests.test_training import toy_run

    out, fit = tmp_path / "toy", tmp_path / "toy.backup" / "fit"
    with pytest.raises(Killed):
        toy_run(out, epochs=3, extra_callbacks=[KillAfterEpoch(1)])
    state = json.loads((fit / "checkpoint.json").read_text())
    assert (state["latest"]["epoch"], state["previous"]["epoch"]) == (2, 1)
    # What a kill inside Keras's in-place write used to leave: a truncated latest checkpoint.
    latest = fit / state["latest"]["file"]
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    epochs = EpochsSeen()
    outcome = toy_run(out, epochs=3, extra_callbacks=[epochs])
    assert epochs.seen == [1, 2], "resumed from the previous checkpoint (epoch 1)"
    assert f"warning: the checkpoint {latest} cannot be used" in capsys.readouterr().err
    assert outcome.metadata["resumed"] is True and len(outcome.metadata["history"]["loss"]) == 3
    assert outcome.metadata["checkpoint"]["epochs_completed"] == 3

    # Both checkpoints spoilt (a flipped byte, a file gone): an error that says which folder to delete.
    with pytest.raises(Killed):
        toy_run(tmp_path / "again", epochs=3, extra_callbacks=[KillAfterEpoch(1)])
    fit = tmp_path / "again.backup" / "fit"
    state = json.loads((fit / "checkpoint.json").read_text())
    spoilt = bytearray((fit / state["latest"]["file"]).read_bytes())
    spoilt[len(spoilt) // 2] ^= 0xFF
    (fit / state["latest"]["file"]).write_bytes(bytes(spoilt))
    (fit / state["previous"]["file"]).unlink()
    with pytest.raises(ValueError, match="no usable checkpoint") as error:
        toy_run(tmp_path / "again", epochs=3)
    message = str(error.value)
    assert "was recorded when it was written (truncated or corrupt)" in message and "the file is missing" in message
    assert f"Delete the folder {tmp_path / 'again.backup'} to start the run from the beginning" in message


def test_stale_temporaries_are_cleaned_but_never_a_live_writers(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = io.host_tag()
        names = {
            "dead": f".out.{host}-{dead.pid}.abc.partial",
            "alive": f".out.{host}-{alive.pid}.abc.partial",
            "mine": f".out.{host}-{os.getpid()}.abc.partial",
            "other host": f".out.elsewhere-{dead.pid}.abc.partial",
            "legacy": ".out.0123abcd.partial",
            "other output": f".other.{host}-{dead.pid}.abc.partial",
        }
        for name in names.values():
            (tmp_path / name).mkdir()
        os.utime(tmp_path / names["legacy"], (time.time() - 3600, time.time() - 3600))
        removed = io.clean_stale_partials(tmp_path / "out")
        assert sorted(p.name for p in removed) == sorted([names["dead"], names["legacy"]])
        left = {p.name for p in tmp_path.iterdir()}
        assert left == {names["alive"], names["mine"], names["other host"], names["other output"]}
        # A killed weights write inside a backup folder: its temporary is removed when the folder is opened.
        run = backup_lib.RunBackup(tmp_path / "b", fingerprint={"x": 1})
        run.ensure()
        (tmp_path / "b" / f".best-1.weights.h5.{host}-{dead.pid}.abc.partial.weights.h5").write_bytes(b"half")
        (tmp_path / "b" / f".best-1.weights.h5.{host}-{alive.pid}.abc.partial.weights.h5").write_bytes(b"busy")
        backup_lib.RunBackup(tmp_path / "b", fingerprint={"x": 1}).open()
        assert temporaries(tmp_path / "b") == [f".best-1.weights.h5.{host}-{alive.pid}.abc.partial.weights.h5"]
        with pytest.raises(backup_lib.FingerprintMismatch, match=r"x: 1 -> 2; y: <absent> -> \[1, 2\]"):
            backup_lib.RunBackup(tmp_path / "b", fingerprint={"x": 2, "y": (1, 2)}).open()
    finally:
        alive.kill()
        alive.wait()


def test_fingerprints_compare_with_model_arguments_at_the_methods_defaults_left_out(tmp_path):
    from hashzoo.training.core import canonical_fingerprint

    default_kl = inspect.signature(methods.get_method("coophash").__init__).parameters["kl_weight"].default

    def fingerprint(model, method="coophash"):
        return {"method": "CoopHash", "run": {"config": {"method": method, "bits": 8, "model": model}}}

    assert canonical_fingerprint(fingerprint({"kl_weight": default_kl, "cooperative": False})) == \
        fingerprint({"cooperative": False})
    assert canonical_fingerprint(fingerprint({"kl_weight": default_kl / 4})) == fingerprint({"kl_weight": default_kl / 4})
    unknown = fingerprint({"kl_weight": default_kl}, method="no-such-method")
    assert canonical_fingerprint(unknown) == unknown, "an unknown method's arguments are kept"
    finetune = {"method": "CoopHash", "run": {"parent_sha256": "ab", "bits": 8}}
    assert canonical_fingerprint(finetune) == finetune

    backup_lib.RunBackup(tmp_path / "b", fingerprint=fingerprint({})).ensure()
    backup_lib.RunBackup(tmp_path / "b", fingerprint=fingerprint({"kl_weight": default_kl}),
                         canonical=canonical_fingerprint).open()
    with pytest.raises(backup_lib.FingerprintMismatch, match=r"run\.config\.model\.kl_weight: <absent> -> 0\.5"):
        backup_lib.RunBackup(tmp_path / "b", fingerprint=fingerprint({"kl_weight": 0.5}),
                             canonical=canonical_fingerprint).open()
    with pytest.raises(backup_lib.FingerprintMismatch, match=r"run\.config\.model\.kl_weight"):
        backup_lib.RunBackup(tmp_path / "b", fingerprint=fingerprint({"kl_weight": default_kl})).open()


# Slow: tests/test_finetune.py resumes a killed fine-tune in-process, test_training.py kills the best-weights
# write, and the mid-epoch test above refuses other arguments; this one runs the three through the tool.
@pytest.mark.slow
def test_a_finetune_killed_in_its_best_checkpoint_write_resumes_and_refuses_other_arguments(tmp_path):
    from tests.test_finetune import PARENT, write_folder

    images = write_folder(tmp_path / "images", per_class=12)
    out, backup = tmp_path / "ft", tmp_path / "ft.backup"
    args = [str(REPO / "tools" / "finetune.py"), "--preset", PARENT, "--data", str(images), "--epochs", "2",
            "--steps_per_epoch", "3", "--batch_size", "16", "--verbose", "2", "--out", str(out)]

    # Killed halfway through writing the first best-epoch weights (the epoch's checkpoint is committed).
    killed = tool(args, tmp_path, kill_at="best-half@1")
    assert not out.exists() and not (backup / "best.json").exists(), killed
    assert [name.startswith(".best-1.weights.h5.") for name in temporaries(backup)] == [True]

    refused = tool([*args, "--learning_rate", "1e-5"], tmp_path)
    assert refused.returncode == 2, refused
    assert f"error: the backup folder {backup}" in refused.stderr
    assert "run.learning_rate: null -> 1e-05" in refused.stderr

    done = tool(args, tmp_path)
    assert done.returncode == 0, done
    assert "after epoch 1 of 2" in done.stdout
    card = hashzoo.load(out).card
    assert card["resumed"] is True and len(card["history"]["loss"]) == 2
    assert card["checkpoint"]["epochs_completed"] == 2 and card["checkpoint"]["epoch"] in (1, 2)
    assert card["parent"]["name"] == PARENT and not backup.exists()
