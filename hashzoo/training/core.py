"""The training core: one run, from data and a model builder to a preset folder.

`hashzoo.training.train` (a model built from a config) and
`hashzoo.finetune.finetune` (a preset's architecture with its weights
transferred) both call `run_training`, which does, in order:

1. split the data by the protocol (query, train, database, validation);
2. build the model with the caller's `build(parts)` inside the strategy's
   scope, and compile it with the recipe's optimizers;
3. `model.prepare(train)`: what the method computes before fitting;
4. the method's `training_stages()`, each recorded in the backup folder when
   done and skipped when a killed run is started again;
5. the main `fit`, scoring every epoch on the validation split (validation
   queries against the train database) and keeping the best epoch's weights;
   a non-finite loss stops it, and the run goes on from the best epoch;
6. evaluation on the query/database split, metadata, the preset folder; the
   backup folder is removed only after the preset is written.

A killed run resumes from `<out>.backup/` (see `hashzoo.training.backup`):
the folder records the run's fingerprint (`run_fingerprint`: the caller's
config and flags, the data's sha256, the split, the loop's options), and a
run with another fingerprint is refused before anything is loaded. Every
epoch ends with an atomic checkpoint of the full training state; a run
started again restores the newest usable one (a corrupt one falls back to
the previous), skips completed stages, and its metadata holds the whole
history with `resumed` true. Temporaries left by a killed writer are
removed first (docs/zoo.md, "Training runs").
"""

import copy
import dataclasses
import hashlib
import math
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Any, Optional

import keras
import numpy as np
import tensorflow as tf

import hashzoo
from hashzoo import data as data_lib
from hashzoo import distribute
from hashzoo.models.hooks import StageContext
from hashzoo.training.backup import KillPoint, RunBackup
from hashzoo.training.callbacks import KeepBestEpoch, NonFiniteLossError, StopOnNonFinite
from hashzoo.training.config import without_default_model_arguments
from hashzoo.training.evaluation import evaluate_split, result_records, split_record
from hashzoo.utils import io
from hashzoo.utils.validation import check_non_negative_int, check_positive_int

#: Selection rules recorded in the metadata's `checkpoint`.
BEST_ON_VALIDATION, LAST_EPOCH = "best on validation", "last epoch"


@dataclasses.dataclass(frozen=True)
class Parts:
    """A dataset split by a protocol: four `ImageDataset` parts and the `Split`."""

    query: Any
    train: Any
    database: Any
    validation: Any
    split: Any

    @classmethod
    def of(cls, dataset, protocol):
        protocol = data_lib.get_protocol(protocol)
        split = protocol.split(dataset.labels, dataset.class_names)
        query, train, database, validation = protocol.apply(dataset, include_validation=True)
        return cls(query, train, database, validation, split)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The training loop's settings, checked when made.

    Args:
        epochs: epochs of the main fit (>= 1).
        batch_size: global batch size (>= 1; at most the train split's size is used).
        seed: training seed (data order, noise, new layers).
        steps_per_epoch: steps per epoch; None is one pass over the train split.
        min_steps: at least this many optimizer steps in the main fit: on a
            train split too small for `epochs` to reach them, `epochs` is
            raised (`for_train_size`; 0: off).
        verbose: Keras progress bar (0 silent, 1 bar, 2 one line per epoch).
        overwrite: replace an existing output folder.
        command: the command line recorded in the metadata.
        extra_callbacks: more Keras callbacks for the main fit.
        method_callbacks: add the method's `training_callbacks(epochs)`
            (schedules of a run from scratch, e.g. BGAN's slope). Fine-tuning
            turns them off: it continues from the parent's saved state.
    """

    epochs: int
    batch_size: int
    seed: int = 0
    steps_per_epoch: Optional[int] = None
    verbose: int = 1
    overwrite: bool = False
    command: Optional[str] = None
    extra_callbacks: tuple = ()
    method_callbacks: bool = True
    min_steps: int = 0

    def __post_init__(self):
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_non_negative_int(self.min_steps, "min_steps")
        if self.steps_per_epoch is not None:
            check_positive_int(self.steps_per_epoch, "steps_per_epoch")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {self.seed!r}.")


    def for_train_size(self, train_size):
        """These options with `epochs` raised, if needed, so that the fit takes at least `min_steps` steps.

        An epoch is `steps_per_epoch` steps, or one pass over `train_size`
        items in full batches (the last partial batch is dropped).
        """
        if not self.min_steps:
            return self
        steps = self.steps_per_epoch or max(1, int(train_size) // min(self.batch_size, max(1, int(train_size))))
        return dataclasses.replace(self, epochs=max(self.epochs, math.ceil(self.min_steps / steps)))


@dataclasses.dataclass
class RunOutcome:
    """What `run_training` returns.

    Attributes:
        model: the trained model, holding the selected epoch's weights; its
            `card` is the metadata written.
        result: its `RetrievalResult` on the protocol's query/database split.
        parts: the split data (`Parts`).
        metadata: the metadata written to the preset folder.
        stopped: None, or the record of a non-finite stop (the preset was
            then written from the best finished epoch).
    """

    model: Any
    result: Any
    parts: Parts
    metadata: dict
    stopped: Optional[dict] = None


#: Exit statuses of `tools/train.py` and `tools/finetune.py`: written; an error (nothing written); a
#: non-finite loss stopped training and the preset was written from the best finished epoch.
EXIT_OK, EXIT_ERROR, EXIT_STOPPED = 0, 2, 3
#: Exit status of `tools/train.py` when a peer of a multi-worker run stopped: nothing written, the
#: backup folder holds the last finished epoch, and restarting every worker resumes (docs/distributed.md).
EXIT_WORKER_LOST = 4


def report(card, out=sys.stdout, err=sys.stderr):
    """Prints which epoch a written preset holds (and a non-finite stop); returns the tool's exit status."""
    checkpoint = card.get("checkpoint") or {}
    print(f"published epoch {checkpoint.get('epoch')} of {checkpoint.get('epochs_completed')} "
          f"({checkpoint.get('selection')})", file=out)
    stopped = card.get("stopped")
    if stopped:
        print(f"stopped early: {stopped['message']}", file=err)
        return EXIT_STOPPED
    return EXIT_OK


def versions():
    """Versions of hashzoo and its main dependencies, for metadata."""
    return {
        "hashzoo": hashzoo.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def backup_folder(out_dir):
    """The backup folder of a run writing `out_dir`: `<out_dir>.backup` beside it."""
    out_dir = pathlib.Path(out_dir)
    return out_dir.with_name(out_dir.name + ".backup")


def check_output_folder(out_dir, overwrite=False):
    """Refuses an output path that is a file, or a non-empty folder unless `overwrite`."""
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"output path {out_dir} exists and is a file; give a folder path.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        backup = backup_folder(out_dir)
        left = (f" The backup folder {backup} beside it is left from a run killed after writing it (or from "
                "another run); delete it once you no longer need it." if backup.exists() else "")
        raise ValueError(f"output folder {out_dir} already exists and is not empty; choose another or pass "
                         f"overwrite.{left}")
    return out_dir


def data_sha256(dataset):
    """sha256 of a dataset's images, labels and class names (what a run trains on)."""
    digest = hashlib.sha256()
    for array in (dataset.images, dataset.labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    digest.update("\n".join(map(str, dataset.class_names)).encode())
    return digest.hexdigest()


#: Bumped when what a checkpoint holds or how epochs are ordered changes (docs/zoo.md, "Training runs").
TRAINING_STATE_VERSION = 2


def run_fingerprint(dataset, parts, protocol, options, method_class, optimizers, fingerprint=None):
    """What a run is, for its backup folder: a run with another fingerprint may not resume it.

    The caller's `fingerprint` (train: the whole config; fine-tuning: the
    parent's weights sha256, bits, learning rate, input flags) plus the
    method, the data's sha256 and shape, the protocol and its split's
    sha256, the optimizers and the loop's options (epochs, batch size,
    seed, steps per epoch).
    """
    return {
        "method": method_class.__name__,
        "data": {"sha256": data_sha256(dataset), "images": [int(v) for v in dataset.images.shape],
                 "classes": len(dataset.class_names)},
        "protocol": {"id": protocol.id, "split_sha256": parts.split.sha256},
        "optimizers": optimizers or {},
        "options": {"epochs": int(options.epochs), "batch_size": int(options.batch_size), "seed": int(options.seed),
                    "steps_per_epoch": options.steps_per_epoch, "method_callbacks": bool(options.method_callbacks)},
        "run": fingerprint or {},
        # How epochs are ordered and what a checkpoint holds: a backup written under other rules
        # (before per-epoch orders and saved random streams) cannot resume exactly, so it is refused.
        "training_state": TRAINING_STATE_VERSION,
    }


def canonical_fingerprint(fingerprint):
    """`fingerprint` as a backup's is compared with it: its config's model arguments at the method's defaults left out.

    A config that starts to list a setting at its default (a variant made
    explicit) still resumes the runs killed before, which left it out; a
    setting at any other value still differs. Fingerprints without a config
    (fine-tuning's) are returned as they are.
    """
    run = fingerprint.get("run") if isinstance(fingerprint, dict) else None
    if not isinstance(run, dict) or not isinstance(run.get("config"), dict):
        return fingerprint
    return dict(fingerprint, run=dict(run, config=without_default_model_arguments(run["config"])))


def check_training_data(method_class, dataset, data_name):
    """A supervised method needs labels of at least 2 classes (`HashingModel.SUPERVISED`)."""
    if method_class.check_declared() and dataset.num_classes < 2:
        raise ValueError(
            f"{method_class.__name__} is supervised and needs at least 2 classes, but {data_name} has one class "
            f"({dataset.class_names[0]!r}); add a sub-folder per class."
        )


def compile_model(model, optimizers):
    """Compiles `model` with `{compile argument: Keras optimizer config}` (empty: the method's defaults).

    The configs are copied first: Keras's `deserialize` rewrites the dict it
    is given (`"Adam"` becomes `"adam"`), which would change the caller's
    config and the run's fingerprint.
    """
    model.compile(**{name: keras.optimizers.deserialize(copy.deepcopy(spec))
                     for name, spec in (optimizers or {}).items()})


def input_record(data_name, dataset, model):
    """How the data met the model's input contract: native shapes, contract, what was adapted."""
    native = [int(v) for v in dataset.images.shape[1:]]
    height, width = model.preprocessing.image_size
    contract = [int(height), int(width), int(model.preprocessing.channels)]
    resized = native[:2] != contract[:2]
    converted = native[2] != contract[2]
    return {
        "source": str(data_name),
        "native_shapes": [native],
        "contract": contract,
        "resized": resized,
        "channels_converted": converted,
        "adapted_by": "model preprocessing" if (resized or converted) else None,
    }


def validation_scorer(parts, protocol):
    """`(score(model), metric)`: the protocol's mAP of validation queries against the train database.

    None when the protocol leaves no validation split.
    """
    if len(parts.validation) == 0 or len(parts.train) == 0:
        return None, None
    metric = "mAP@all" if protocol.k is None else f"mAP@{protocol.k}"

    def score(model):
        result = evaluate_split(model, parts.validation, parts.train, protocol, ks=(), radius=None)
        return float(next(iter(result.metrics.values())))

    return score, metric


def run_stages(model, stages, context, backup, verbose):
    """Runs `stages` in order; a stage recorded in `backup` is skipped and its weights restored.

    Returns the stage records (`{"name", "seconds", "facts", "skipped"}`).
    """
    done = {record["name"]: record for record in backup.completed_stages()}
    names = [stage.name for stage in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"{type(model).__name__}.training_stages() repeats a stage name: {names}.")
    records, restore = [], None
    progress = keras.utils.Progbar(len(stages), verbose=1 if verbose else 0, unit_name="stage") if stages else None
    for index, stage in enumerate(stages):
        if stage.name in done:
            restore = done[stage.name]
            records.append(dict(done[stage.name], skipped=True))
            if verbose:
                print(f"stage {index + 1}/{len(stages)} {stage.name}: done in an earlier run, skipped", flush=True)
            progress.update(index + 1)
            continue
        if restore is not None:
            backup.restore_stage(model, restore)
            restore = None
        if verbose:
            print(f"stage {index + 1}/{len(stages)} {stage.name}" + (f": {stage.description}" if stage.description
                                                                     else ""), flush=True)
        keras.utils.set_random_seed(context.seed + 1 + index)
        stage_context = dataclasses.replace(context, callbacks=[
            backup.stage_checkpoint(index, stage.name, verbose=verbose), StopOnNonFinite(),
        ])
        started = time.time()
        facts = stage.run(stage_context) or {}
        backup.record_stage(model, index, stage.name, time.time() - started, facts)
        records.append(dict(backup.completed_stages()[-1], skipped=False))
        progress.update(index + 1)
    if restore is not None:
        backup.restore_stage(model, restore)
    return [{key: value for key, value in record.items() if key != "weights"} for record in records]


class PipelineEpoch(keras.callbacks.Callback):
    """Sets `epoch`, the int64 variable a training pipeline reads when each iteration starts, to fit's epoch.

    Keras iterates a finite dataset afresh at every epoch, after
    `on_epoch_begin`; with `make_train_dataset(..., epoch=callback.epoch)`
    every epoch therefore reads its own batches, also in a fit started at
    `initial_epoch` (hashzoo.data.make_tf_dataset).
    """

    def __init__(self):
        super().__init__()
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="pipeline_epoch")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)


def _fit(model, parts, protocol, backup, options):
    """Prepare, stages, the main fit with best-epoch keeping; returns the fit record."""
    started = time.time()
    prepared = model.prepare(parts.train)
    prepare_seconds = time.time() - started
    batch_size = min(options.batch_size, len(parts.train))
    context = StageContext(train=parts.train, prepared=prepared, batch_size=batch_size, seed=options.seed,
                           verbose=options.verbose, steps_per_epoch=options.steps_per_epoch)
    stages = run_stages(model, list(model.training_stages()), context, backup, options.verbose)

    # Reseeded here, so the pipeline and the fit draw the same whether or not stages ran in this process.
    keras.utils.set_random_seed(options.seed)
    # Each iteration of the pipeline yields the batches of the epoch `pipeline_epoch` names, a function of the
    # seed and that epoch only: a resumed run reads what an uninterrupted one read (docs/zoo.md, "Training runs").
    pipeline_epoch = PipelineEpoch()
    train_ds = model.make_train_dataset(parts.train.images, parts.train.labels, prepared=prepared,
                                        batch_size=batch_size, seed=options.seed, epoch=pipeline_epoch.epoch,
                                        steps=options.steps_per_epoch)
    score, metric = validation_scorer(parts, protocol)
    keeper = KeepBestEpoch(backup, score, metric=metric or "score", verbose=options.verbose)
    initial_epoch = _resume_fit(model, backup, keeper, options)
    callbacks = [
        pipeline_epoch,
        # What must change the weights at an epoch end before they are saved (BGAN's batch-norm
        # recalibration), then the checkpoint: it commits the epoch; the keeper's records follow and
        # are written again from the restored weights when a run resumes from it (_resume_fit).
        *model.pre_checkpoint_callbacks(context),
        backup.fit_checkpoint(verbose=options.verbose),
        keeper,
        StopOnNonFinite(),
        *(model.training_callbacks(options.epochs) if options.method_callbacks else ()),
        *options.extra_callbacks,
        *([KillPoint()] if io.kill_requested("step") else []),
    ]
    stopped = None
    model._initial_epoch = None  # a stage's fit must not move the main fit's start
    try:
        # No `steps_per_epoch`: the dataset holds exactly one epoch's batches, and fit must iterate it afresh
        # every epoch, after `pipeline_epoch` has set the epoch (a kept iterator would read a stale epoch).
        model.fit(train_ds, epochs=options.epochs, initial_epoch=initial_epoch, verbose=options.verbose,
                  callbacks=callbacks, shuffle=False)
    except NonFiniteLossError as error:
        if backup.best() is None:
            raise NonFiniteLossError(
                f"{error} No epoch had finished, so there is no checkpoint to publish and nothing was written.",
                epoch=error.epoch, step=error.step, names=error.names,
            ) from error
        stopped = {"reason": "non-finite", "epoch": error.epoch, "step": error.step, "values": error.names,
                   "message": str(error)}
        if options.verbose:
            print(f"{error}\nRestoring the best finished epoch and writing the preset from it.", flush=True)
    best = backup.best()
    backup.restore_best(model)
    record = {
        "checkpoint": {
            "selection": BEST_ON_VALIDATION if score is not None else LAST_EPOCH,
            "metric": metric,
            "epoch": best["epoch"],
            "score": best["score"],
        },
        "stopped": stopped,
        "stages": stages,
        "train_data": prepared.summary() if prepared is not None else {},
        "prepare_seconds": round(prepare_seconds, 1),
    }
    backup.record_fit(record)
    return record


def _resume_fit(model, backup, keeper, options):
    """Restores the main fit's newest usable checkpoint; returns the epoch to start at (0 when none).

    Records of later epochs are dropped (they are trained again), and the
    restored epoch's record and best-epoch check are written again from the
    restored weights, in case the run was killed between its checkpoint and
    its records.
    """
    restored = backup.restore_fit(model, verbose=options.verbose)
    epoch = int(restored["epoch"]) if restored else 0
    backup.keep_epochs_before(epoch)
    if restored:
        if options.verbose:
            print(f"resuming the fit from {backup.folder} after epoch {epoch} of {options.epochs}", flush=True)
        keeper.set_model(model)
        keeper.started = time.time() - float(restored.get("seconds") or 0.0)
        keeper.on_epoch_end(epoch - 1, dict(restored.get("logs") or {}))
    return min(epoch, options.epochs)


def _history(backup):
    epochs = sorted(backup.epochs().items(), key=lambda item: int(item[0]))
    names = []
    for _, record in epochs:
        names.extend(name for name in record["logs"] if name not in names)
    history = {name: [record["logs"].get(name, math.nan) for _, record in epochs] for name in names}
    scores = [record["score"] for _, record in epochs]
    seconds = sum(record.get("seconds", 0.0) for _, record in epochs)
    return history, scores, seconds, len(epochs)


def run_training(build, dataset, protocol, out_dir, options, *, method_class, optimizers=None, data_name=None,
                 metadata=None, strategy=None, fingerprint=None):
    """Trains a model built by `build(parts)` on `dataset` and writes a preset folder at `out_dir`.

    Args:
        build: `build(parts) -> HashingModel`, called inside the strategy's
            scope with the split data (`Parts`); the core compiles the model.
        dataset: the `ImageDataset` to split.
        protocol: a `Protocol` or its id.
        out_dir: the preset folder to write.
        options: `RunOptions`.
        method_class: the model's class (its `SUPERVISED` is checked
            against the data before anything is built).
        optimizers: `{compile argument: Keras optimizer config}`; empty or
            None compiles with the method's defaults.
        data_name: how the data is named in the metadata.
        metadata: dict, or `metadata(parts, model) -> dict` called after the
            fit: the caller's fields (method, config, parent, ...), merged over
            the core's.
        strategy: a `tf.distribute.Strategy` (default: the current one).
            Under a multi-worker strategy only the chief writes `out_dir` and
            its backup folder; the others start from a copy of that backup
            folder and write to temporary folders that are removed
            (docs/distributed.md).
        fingerprint: JSON-ready dict of what identifies the caller's run
            beyond the data and the options (see `run_fingerprint`); a
            backup folder of a run with another fingerprint is refused.

    Returns:
        A `RunOutcome`.

    Raises:
        ValueError: bad options, an output folder in the way, data the
            method or protocol cannot take, a backup folder of another run
            (`hashzoo.training.backup.FingerprintMismatch`, naming the folder
            and the keys that differ) or one that cannot be read.
        NonFiniteLossError: a non-finite loss before any epoch finished
            (nothing is written). Later ones stop the fit and the run goes
            on from the best finished epoch (`RunOutcome.stopped`).
        hashzoo.distribute.WorkerLostError: a peer of a multi-worker run
            stopped; restarting every worker with the same command resumes
            from the backup folder.
    """
    strategy = strategy or tf.distribute.get_strategy()
    check_output_folder(out_dir, options.overwrite)
    shared = RunBackup(backup_folder(out_dir))
    arguments = dict(options=options, method_class=method_class, optimizers=optimizers, data_name=data_name,
                     metadata=metadata, strategy=strategy, fingerprint=fingerprint)
    with distribute.report_lost_worker(strategy, shared.folder, shared.describe):
        if distribute.is_chief(strategy):
            return _run(build, dataset, protocol, pathlib.Path(out_dir), **arguments)
        # Not the chief: a private preset and backup folder, removed at the end (docs/distributed.md).
        private = pathlib.Path(tempfile.mkdtemp(prefix="hashzoo-worker-"))
        try:
            return _run(build, dataset, protocol, private / "preset", chief_backup=shared.folder, **arguments)
        finally:
            shutil.rmtree(private, ignore_errors=True)


#: Said when the workers of a multi-worker run would start from different states.
DISAGREE_ADVICE = ("Every worker must run the same command, and the backup folder must be one path that every worker "
                   "reaches (a shared file system): see docs/distributed.md.")


def _run(build, dataset, protocol, out_dir, *, options, method_class, optimizers, data_name, metadata, strategy,
         fingerprint, chief_backup=None):
    """`run_training` on one worker, writing `out_dir`; `chief_backup`: the chief's backup folder, for the others.

    A worker that is not the chief starts from a copy of the chief's backup
    folder, and every worker checks that all start from the same progress
    (`check_workers_agree`): then all issue the same collectives in the same
    order, through the fit, the evaluation and the preset's writing.
    """
    protocol = data_lib.get_protocol(protocol)
    data_name = str(data_name if data_name is not None else dataset.name)
    check_training_data(method_class, dataset, data_name)
    parts = Parts.of(dataset, protocol)
    resolved = options.for_train_size(len(parts.train))
    if resolved.epochs != options.epochs and options.verbose:
        print(f"{options.epochs} epochs over {len(parts.train)} training items take fewer than min_steps="
              f"{options.min_steps} steps: training {resolved.epochs} epochs", flush=True)
    options = resolved
    # Before anything is built or loaded: a backup folder of another run is refused.
    io.clean_stale_partials(out_dir)
    backup = RunBackup(
        backup_folder(out_dir),
        fingerprint=run_fingerprint(dataset, parts, protocol, options, method_class, optimizers, fingerprint),
        about={"command": options.command or " ".join(sys.argv), "data": data_name},
        canonical=canonical_fingerprint,
    )
    if chief_backup is not None:
        backup.copy_from(chief_backup)
    backup.open()
    distribute.check_workers_agree(strategy, backup.progress(), DISAGREE_ADVICE)
    resumed = backup.has_progress()
    keras.utils.set_random_seed(options.seed)
    with strategy.scope():
        model = build(parts)
        if not model.built:
            model.build()  # every variable exists before checkpoints load
        compile_model(model, optimizers)

    record = backup.fit_record()
    # In the scope: a checkpoint restored before the first step may have to build optimizer variables.
    with strategy.scope():
        if record is None:
            record = _fit(model, parts, protocol, backup, options)
        else:
            if options.verbose:
                print(f"the fit finished in an earlier run; restoring its selected epoch from {backup.folder}",
                      flush=True)
            backup.restore_best(model)
    io.kill_point("fit-done")

    result = evaluate_split(model, parts.query, parts.database, protocol)
    history, scores, seconds, completed = _history(backup)
    checkpoint = dict(record["checkpoint"], validation=scores, epochs_completed=completed)
    full = {
        "data": data_name,
        "input": input_record(data_name, dataset, model),
        "protocol": split_record(protocol, parts.split),
        "evaluation": result_records(result),
        "history": history,
        "checkpoint": checkpoint,
        "stopped": record["stopped"],
        "stages": record["stages"],
        "resumed": resumed,
        "train_seconds": round(seconds, 1),
        "prepare_seconds": record["prepare_seconds"],
        "train_data": record["train_data"],
        "command": options.command or " ".join(sys.argv),
        "versions": versions(),
    }
    full.update(metadata(parts, model) if callable(metadata) else (metadata or {}))
    from hashzoo.zoo import presets

    written = presets.save_preset(model, out_dir, metadata=full, overwrite=options.overwrite)
    backup.remove()
    model.card = written
    return RunOutcome(model=model, result=result, parts=parts, metadata=written, stopped=record["stopped"])


__all__ = [
    "BEST_ON_VALIDATION", "DISAGREE_ADVICE", "EXIT_ERROR", "EXIT_OK", "EXIT_STOPPED", "EXIT_WORKER_LOST", "LAST_EPOCH",
    "Parts", "RunOptions", "RunOutcome", "backup_folder", "check_output_folder", "check_training_data", "compile_model",
    "data_sha256", "input_record", "report", "run_fingerprint", "run_stages", "run_training", "validation_scorer", "versions",
]
