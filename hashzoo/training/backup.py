"""The backup folder of a training run: what lets a killed run resume without losing work.

`<out>.backup/` beside the preset folder holds, each file written atomically
(a temporary file in the same folder, fsynced, then `os.replace`):

- `fingerprint.json`: what the run is (config, data hash, split, bits,
  epochs, flags; `run_fingerprint`). Written first; a run started again
  with another fingerprint is refused before anything is loaded
  (`FingerprintMismatch`), naming the keys that differ;
- `stages.json` and `stage-<i>-<name>.weights.h5`: the method's stages that
  completed, with the model's weights after each (and their sha256);
- `fit/`: the epoch checkpoint of the main fit (`EpochCheckpoint`): the
  full training state (weights, optimizer states, the epoch counter) after
  the last finished epoch and after the one before it, each with its sha256
  in `fit/checkpoint.json`. A corrupt or truncated checkpoint is detected
  and the run resumes from the previous one; `stage-<i>-<name>/` is the same
  for a stage's own `fit`;
- `epochs.json`: every finished epoch's training logs and validation score,
  so a resumed run's metadata holds the whole history;
- `best.json` and `best-<epoch>.weights.h5`: the selected epoch so far (best
  validation score, or the last epoch when there is no validation split);
- `fit.json`: written once the main fit has ended (completed or stopped on a
  non-finite value); a run started again then only evaluates and writes.

The epoch checkpoint is the commit point of an epoch: the records of epoch
`n` (`epochs.json`, `best`) are written after its checkpoint, and a run that
resumes from checkpoint `n` writes them again from the restored weights, so
a kill between the two loses nothing. Temporaries left by a killed writer
are removed when the folder is opened again. The folder is removed only
after the preset folder is written (docs/zoo.md, "Training runs").
"""

import contextlib
import hashlib
import json
import math
import os
import pathlib
import shutil
import sys

import keras

from hashzoo.utils import io

FINGERPRINT_FILE = "fingerprint.json"
STAGES_FILE = "stages.json"
EPOCHS_FILE = "epochs.json"
BEST_FILE = "best.json"
FIT_FILE = "fit.json"
CHECKPOINT_FILE = "checkpoint.json"
FIT_CHECKPOINT = "fit"


# -- weights files ------------------------------------------------------------------


def save_weights_atomic(model, path, kind="weights"):
    """`model.save_weights(path)` through a temporary file in the same folder, then `os.replace`.

    A kill mid-write leaves the previous file (or none), never a truncated
    one; the temporary (`.<name>.<host>-<pid>.<random>.partial.weights.h5`)
    is removed by the next run (`hashzoo.utils.io.clean_stale_temporaries`).
    `kind` names the test-only kill points `<kind>-half` and `<kind>-replace`
    (`hashzoo.utils.io.kill_point`). A compiled model's file holds its
    optimizer states too.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / io.partial_name(path.name, suffix=".weights.h5")  # Keras wants that ending
    try:
        model.save_weights(str(temp))
        if io.kill_is_next(f"{kind}-half"):
            with open(temp, "r+b") as handle:
                handle.truncate(temp.stat().st_size // 2)
        io.kill_point(f"{kind}-half")
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        io.kill_point(f"{kind}-replace")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def build_optimizers(model):
    """Builds a compiled model's main optimizer, so a checkpoint restores its state too."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)


def weights_problem(path, sha256=None):
    """Why the weights file `path` cannot be used (missing, another sha256, not HDF5), or None."""
    path = pathlib.Path(path)
    if not path.is_file():
        return "the file is missing"
    if sha256 is not None:
        actual = io.sha256_file(path)
        if actual != sha256:
            return f"its sha256 is {actual}, but {sha256} was recorded when it was written (truncated or corrupt)"
    import h5py

    try:
        with h5py.File(path, "r"):
            pass
    except OSError as error:
        return f"it is not a readable HDF5 file ({error})"
    return None


def load_weights_checked(model, path, sha256=None, delete=None):
    """`model.load_weights(path)` after checking the file; names the file and the folder to delete on failure.

    Args:
        sha256: the digest recorded when the file was written (checked when given).
        delete: the folder to name in the error (default the file's folder).
    """
    path = pathlib.Path(path)
    delete = pathlib.Path(delete) if delete is not None else path.parent
    problem = weights_problem(path, sha256)
    if problem is None:
        build_optimizers(model)
        try:
            model.load_weights(str(path))
        except (OSError, ValueError) as error:
            problem = str(error)
    if problem is not None:
        raise ValueError(
            f"cannot restore the training checkpoint {path}: {problem}. Delete the folder {delete} to start "
            "the run from the beginning."
        )


# -- the epoch checkpoint -------------------------------------------------------------


def _read_state(folder, delete):
    path = pathlib.Path(folder) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(
            f"cannot read the checkpoint record {path}: {error}. Delete the folder {delete} to start the run "
            "from the beginning."
        ) from error


def write_checkpoint(model, folder, epoch, logs=None, seconds=0.0):
    """Saves the training state after `epoch` finished epochs in `folder`, keeping the one before.

    The weights (and optimizer states) go to `epoch-<epoch>.weights.h5`
    atomically; then `checkpoint.json` names it, with its sha256, the
    epoch's training logs and seconds, and the previous checkpoint; files no
    longer named are removed.
    """
    folder = pathlib.Path(folder)
    name = f"epoch-{int(epoch)}.weights.h5"
    save_weights_atomic(model, folder / name, kind="checkpoint")
    try:
        state = _read_state(folder, folder) or {}
    except ValueError:
        state = {}
    latest = {
        "epoch": int(epoch), "file": name, "sha256": io.sha256_file(folder / name),
        "logs": {k: float(v) for k, v in (logs or {}).items() if not k.startswith("validation_")},
        "seconds": round(float(seconds), 2),
    }
    previous = state.get("latest")
    if previous is None or previous.get("epoch") == latest["epoch"]:
        previous = state.get("previous")
    io.atomic_write_json(folder / CHECKPOINT_FILE, {"latest": latest, "previous": previous})
    keep = {latest["file"], (previous or {}).get("file")}
    for stale in folder.glob("epoch-*.weights.h5"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return latest


def restore_checkpoint(model, folder, delete=None, verbose=1):
    """Loads the newest usable checkpoint of `folder` into `model`; returns its record, or None when none.

    The latest checkpoint is checked (sha256, HDF5) before it is loaded; a
    corrupt or truncated one is reported and the previous one is used.

    Raises:
        ValueError: neither checkpoint can be used; names both problems and
            the folder to delete (`delete`, default `folder`).
    """
    folder = pathlib.Path(folder)
    delete = pathlib.Path(delete) if delete is not None else folder
    state = _read_state(folder, delete)
    if not state:
        return None
    problems = []
    for which in ("latest", "previous"):
        entry = state.get(which)
        if not entry:
            continue
        path = folder / entry["file"]
        problem = weights_problem(path, entry.get("sha256"))
        if problem is None:
            build_optimizers(model)
            try:
                model.load_weights(str(path))
            except (OSError, ValueError) as error:
                problem = f"it does not load into this model ({error})"
        if problem is None:
            if problems and verbose:
                print(f"resuming from the previous checkpoint {path} (epoch {entry['epoch']})", file=sys.stderr,
                      flush=True)
            return dict(entry, which=which)
        problems.append(f"{path} (epoch {entry['epoch']}): {problem}")
        print(f"warning: the checkpoint {path} cannot be used: {problem}", file=sys.stderr, flush=True)
    raise ValueError(
        f"cannot resume the run: no usable checkpoint in {folder} ({'; '.join(problems)}). Delete the folder "
        f"{delete} to start the run from the beginning."
    )


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the full training state at every epoch end, atomically, keeping the previous one.

    Replaces Keras's `BackupAndRestore`, whose `latest.weights.h5` is
    written in place (a kill mid-write left a file no run could open). See
    `write_checkpoint` / `restore_checkpoint`.

    Args:
        folder: the checkpoint folder (one per `fit`).
        restore: at `on_train_begin`, load the newest usable checkpoint and
            start the fit at its epoch (for a stage's own `fit`; the training
            core restores the main fit itself, before calling `fit`).
        delete_at_end: remove the folder when the fit ends (a stage's
            checkpoint, whose weights the stage record then holds).
        delete: the folder an error tells the user to delete.
        verbose: say when a fit resumes.
    """

    def __init__(self, folder, restore=False, delete_at_end=False, delete=None, verbose=0):
        super().__init__()
        self.folder = pathlib.Path(folder)
        self.restore = restore
        self.delete_at_end = delete_at_end
        self.delete = delete
        self.verbose = verbose
        self.started = None

    def on_train_begin(self, logs=None):
        if self.restore:
            record = restore_checkpoint(self.model, self.folder, self.delete, self.verbose)
            self.model._initial_epoch = record["epoch"] if record else None
            if record and self.verbose:
                print(f"resuming {self.folder.name} at epoch {record['epoch'] + 1}", flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        import time

        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        import time

        seconds = time.time() - self.started if self.started is not None else 0.0
        write_checkpoint(self.model, self.folder, epoch + 1, logs, seconds)

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None
        if self.delete_at_end:
            shutil.rmtree(self.folder, ignore_errors=True)


class KillPoint(keras.callbacks.Callback):
    """Test-only: calls `hashzoo.utils.io.kill_point("step")` after every training step."""

    def on_train_batch_end(self, batch, logs=None):
        io.kill_point("step")


# -- fingerprints ---------------------------------------------------------------------


def _plain(value):
    """`value` as JSON would give it back (tuples as lists, numpy scalars as numbers)."""
    def default(item):
        if hasattr(item, "tolist"):
            return item.tolist()
        if isinstance(item, (set, frozenset)):
            return sorted(item)
        if isinstance(item, pathlib.PurePath):
            return str(item)
        raise TypeError(f"a run fingerprint holds JSON values only, got {type(item).__name__}: {item!r}")

    return json.loads(json.dumps(value, sort_keys=True, default=default))


def flatten(value, prefix=""):
    """`{"a": {"b": 1}}` -> `{"a.b": 1}` (lists stay whole)."""
    if isinstance(value, dict) and value:
        out = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def fingerprint_differences(old, new):
    """`[(key, old value, new value)]` of the flattened keys that differ (`ABSENT` when missing)."""
    old, new = flatten(_plain(old or {})), flatten(_plain(new or {}))
    keys = sorted(set(old) | set(new))
    return [(key, old.get(key, ABSENT), new.get(key, ABSENT)) for key in keys
            if key not in old or key not in new or old[key] != new[key]]


#: Stands for a key one fingerprint has and the other lacks.
ABSENT = "<absent>"


def _shown(value):
    return ABSENT if value is ABSENT else json.dumps(value)


class FingerprintMismatch(ValueError):
    """A backup folder belongs to another run (another config, data, bits, flags).

    Attributes:
        folder: the backup folder.
        differences: `[(key, old, new)]`.
    """

    def __init__(self, folder, differences, command=None):
        self.folder = pathlib.Path(folder)
        self.differences = list(differences)
        shown = "; ".join(f"{key}: {_shown(old)} -> {_shown(new)}" for key, old, new in self.differences[:12])
        more = f"; and {len(self.differences) - 12} more" if len(self.differences) > 12 else ""
        started = f" (it was started by: {command})" if command else ""
        super().__init__(
            f"the backup folder {self.folder} holds a killed run with other settings{started}, so it cannot be "
            f"resumed by this one: {shown}{more}. To start this run from the beginning, delete {self.folder}; "
            f"to resume the killed run, rerun it with its original arguments (recorded in "
            f"{self.folder / FINGERPRINT_FILE})."
        )


# -- the backup folder --------------------------------------------------------------------


class RunBackup:
    """One run's backup folder (see the module docstring).

    Args:
        folder: the folder, by convention `<out>.backup` beside `<out>`.
        fingerprint: what the run is (JSON-ready dict); `open` checks it
            against the folder's, and it is written with the folder's first
            file.
        about: JSON-ready facts recorded beside the fingerprint but not
            compared (the command line, the data's name).
        canonical: a function applied to the folder's fingerprint and to
            this run's before `open` compares them, so that two spellings
            of one run match (`core.canonical_fingerprint`); None compares
            them as they are.
    """

    def __init__(self, folder, fingerprint=None, about=None, canonical=None):
        self.folder = pathlib.Path(folder)
        self.fingerprint = _plain(fingerprint) if fingerprint is not None else None
        self.about = _plain(about or {})
        self.canonical = canonical

    # -- files ----------------------------------------------------------------------

    def path(self, name):
        return self.folder / name

    def read_json(self, name, default=None):
        path = self.path(name)
        if not path.is_file():
            return default
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(
                f"cannot read the training record {path}: {error}. Delete the folder {self.folder} to start "
                "the run from the beginning."
            ) from error

    def ensure(self):
        """Creates the folder with its fingerprint (first), when it does not exist yet."""
        if self.fingerprint is not None and not self.path(FINGERPRINT_FILE).is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            io.atomic_write_json(self.path(FINGERPRINT_FILE), {"fingerprint": self.fingerprint, "about": self.about})
        self.folder.mkdir(parents=True, exist_ok=True)

    def write_json(self, name, value):
        self.ensure()
        io.atomic_write_json(self.path(name), value)

    def checkpoint_folder(self, name):
        """The epoch checkpoint folder of one `fit` (`"fit"` or a stage)."""
        self.ensure()
        return self.path(name)

    @property
    def exists(self):
        return self.folder.is_dir()

    def has_progress(self):
        """True when the folder records any work: a stage, an epoch, a checkpoint or the fit's end."""
        if not self.exists:
            return False
        return bool(self.completed_stages() or self.epochs() or self.fit_record()
                    or any(self.folder.glob(f"*/{CHECKPOINT_FILE}")))

    def remove(self):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.folder)

    def progress(self):
        """`{"fingerprint", "stages", "epoch", "fit_done"}` as ints: where a run started on this folder begins.

        `fingerprint` is a 60-bit digest of the run's fingerprint, `stages`
        the completed stages, `epoch` the main fit's newest checkpoint (0:
        none), `fit_done` 1 once the fit ended. Nothing is loaded. Workers of
        a multi-worker run compare it before training
        (`hashzoo.distribute.check_workers_agree`).
        """
        state = _read_state(self.path(FIT_CHECKPOINT), self.folder) if self.exists else None
        text = json.dumps(self.fingerprint, sort_keys=True)
        return {
            "fingerprint": int(hashlib.sha256(text.encode()).hexdigest()[:15], 16),
            "stages": len(self.completed_stages()) if self.exists else 0,
            "epoch": int(((state or {}).get("latest") or {}).get("epoch", 0)),
            "fit_done": int(self.exists and self.fit_record() is not None),
        }

    def describe(self):
        """What the folder holds, for messages: `"the last finished epoch, epoch 2"` and the like."""
        try:
            progress = self.progress()
        except (OSError, ValueError) as error:
            return f"records that cannot be read ({error})"
        if progress["fit_done"]:
            return "the finished fit (only evaluation and writing the preset are left)"
        if progress["epoch"]:
            return f"the last finished epoch, epoch {progress['epoch']}"
        if progress["stages"]:
            return f"{progress['stages']} finished stage(s) and no finished epoch yet"
        return "no finished epoch yet (a restart begins at epoch 1)"

    def copy_from(self, source):
        """Replaces this folder with a copy of the backup folder `source` (its temporaries left out).

        A worker that is not the chief trains with a private copy of the
        chief's backup folder, so it resumes from the same state as the
        chief while only the chief writes the shared folder
        (docs/distributed.md). A missing `source` leaves this folder empty.
        """
        self.remove()
        source = pathlib.Path(source)
        if source.is_dir():
            shutil.copytree(source, self.folder, ignore=lambda _, names: [n for n in names if io.is_partial(n)])
        return self

    def clean(self):
        """Removes temporaries left by killed writers in the folder and its checkpoint folders."""
        removed = []
        if self.exists:
            removed += io.clean_stale_temporaries(self.folder)
            for sub in sorted(p for p in self.folder.iterdir() if p.is_dir() and not io.is_partial(p.name)):
                removed += io.clean_stale_temporaries(sub)
        return removed

    def open(self):
        """Checks an existing folder against this run's fingerprint and cleans its temporaries.

        Nothing is loaded before the check. A folder with no fingerprint
        file and nothing else is taken as new (a run killed as it began).

        Raises:
            FingerprintMismatch: the folder holds another run.
            ValueError: the folder holds work but no readable fingerprint.
        """
        if not self.exists:
            return self
        if not self.folder.is_dir():
            raise ValueError(f"the backup path {self.folder} is not a folder; delete it.")
        self.clean()
        stored = self.read_json(FINGERPRINT_FILE)
        if stored is None:
            if any(self.folder.iterdir()):
                raise ValueError(
                    f"the backup folder {self.folder} has no {FINGERPRINT_FILE} (written by an older hashzoo, or "
                    f"not by hashzoo), so it cannot be told whether it belongs to this run. Delete {self.folder} "
                    "to start the run from the beginning."
                )
            return self
        if self.fingerprint is not None:
            recorded, asked = _plain(stored.get("fingerprint") or {}), self.fingerprint
            if self.canonical is not None:
                recorded, asked = self.canonical(recorded), self.canonical(asked)
            differences = fingerprint_differences(recorded, asked)
            if differences:
                raise FingerprintMismatch(self.folder, differences, (stored.get("about") or {}).get("command"))
        return self

    # -- stages ---------------------------------------------------------------------

    def completed_stages(self):
        """`[{"name", "seconds", "facts", "weights", "sha256"}]` of the stages recorded as done, in order."""
        return list(self.read_json(STAGES_FILE, default=[]))

    def record_stage(self, model, index, name, seconds, facts):
        """Saves the weights after stage `index` and records it as done (weights first, then the record)."""
        self.ensure()
        weights = f"stage-{index}-{name}.weights.h5"
        save_weights_atomic(model, self.path(weights), kind="stage")
        records = [r for r in self.completed_stages() if r["name"] != name]
        records.append({"name": name, "seconds": round(float(seconds), 1), "facts": facts or {}, "weights": weights,
                        "sha256": io.sha256_file(self.path(weights))})
        self.write_json(STAGES_FILE, records)
        return records

    def restore_stage(self, model, record):
        load_weights_checked(model, self.path(record["weights"]), record.get("sha256"), self.folder)

    # -- the main fit's checkpoint ------------------------------------------------------

    def restore_fit(self, model, verbose=1):
        """Loads the main fit's newest usable epoch checkpoint; its record (`"epoch"`, `"logs"`, ...) or None."""
        return restore_checkpoint(model, self.path(FIT_CHECKPOINT), self.folder, verbose)

    def fit_checkpoint(self, verbose=0):
        """The `EpochCheckpoint` callback of the main fit (the core restores before `fit`)."""
        return EpochCheckpoint(self.checkpoint_folder(FIT_CHECKPOINT), restore=False, delete=self.folder,
                               verbose=verbose)

    def stage_checkpoint(self, index, name, verbose=0):
        """The `EpochCheckpoint` callback of stage `index`'s own `fit` (restores itself, removed when done)."""
        return EpochCheckpoint(self.checkpoint_folder(f"stage-{index}-{name}"), restore=True, delete_at_end=True,
                               delete=self.folder, verbose=verbose)

    # -- epochs of the main fit -------------------------------------------------------

    def epochs(self):
        """`{epoch (0-based, as str): {"logs", "score", "seconds"}}` of the finished epochs."""
        return dict(self.read_json(EPOCHS_FILE, default={}))

    def record_epoch(self, epoch, logs, score, seconds=0.0):
        records = self.epochs()
        records[str(int(epoch))] = {
            "logs": {k: float(v) for k, v in (logs or {}).items()}, "score": score, "seconds": round(float(seconds), 2),
        }
        self.write_json(EPOCHS_FILE, records)
        return records

    def keep_epochs_before(self, epoch):
        """Drops the records of epochs `epoch` (0-based) and later: they are trained again."""
        records = self.epochs()
        kept = {key: value for key, value in records.items() if int(key) < int(epoch)}
        if kept != records:
            self.write_json(EPOCHS_FILE, kept)
        return kept

    def best(self):
        """`{"epoch" (1-based), "score", "file", "sha256"}` of the selected epoch so far, or None."""
        record = self.read_json(BEST_FILE)
        return record if record and self.path(record.get("file", "")).is_file() else None

    def save_best(self, model, epoch, score):
        """Saves epoch `epoch`'s (0-based) weights as the best: a new file, then `best.json` names it.

        A kill between the two leaves the previous best whole; older best
        files are removed after the record.
        """
        self.ensure()
        name = f"best-{int(epoch) + 1}.weights.h5"
        save_weights_atomic(model, self.path(name), kind="best")
        score = None if score is None or not math.isfinite(float(score)) else float(score)
        self.write_json(BEST_FILE, {"epoch": int(epoch) + 1, "score": score, "file": name,
                                    "sha256": io.sha256_file(self.path(name))})
        for stale in self.folder.glob("best-*.weights.h5"):
            if stale.name != name:
                stale.unlink(missing_ok=True)

    def restore_best(self, model):
        record = self.read_json(BEST_FILE)
        if not record or not record.get("file"):
            raise ValueError(
                f"the backup folder {self.folder} records no finished epoch to restore. Delete {self.folder} to "
                "start the run from the beginning."
            )
        load_weights_checked(model, self.path(record["file"]), record.get("sha256"), self.folder)

    # -- the end of the main fit --------------------------------------------------------

    def fit_record(self):
        return self.read_json(FIT_FILE)

    def record_fit(self, record):
        self.write_json(FIT_FILE, record)


__all__ = [
    "EpochCheckpoint", "FingerprintMismatch", "KillPoint", "RunBackup", "build_optimizers",
    "fingerprint_differences", "flatten", "load_weights_checked", "restore_checkpoint", "save_weights_atomic",
    "weights_problem", "write_checkpoint",
]
