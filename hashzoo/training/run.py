"""One training run: data and protocol, model, fit, evaluation, preset folder."""

import contextlib
import inspect
import pathlib
import shutil
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

import hashzoo
from hashzoo import data as data_lib
from hashzoo import methods, metrics, presets
from hashzoo.training.callbacks import StopOnNonFinite

STRATEGIES = ("none", "mirrored", "multiworker")


def make_strategy(name):
    """`tf.distribute` strategy by name: none, mirrored (one machine), multiworker."""
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown distribution strategy {name!r}; allowed: {list(STRATEGIES)}.")


def is_chief(strategy):
    """True on the worker that writes outputs (worker 0, or any single-worker run)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def default_preprocessing(dataset):
    """The contract for a dataset's native size and channels, pixels to [-1, 1]."""
    height, width, channels = dataset.images.shape[1:]
    return {"image_size": [int(height), int(width)], "channels": int(channels), "mean": 127.5, "std": 127.5}


def build_model(config, dataset):
    """The method's model for `config`, sized from the data (classes, labels, image size)."""
    cls = methods.get_method(config.method)
    parameters = inspect.signature(cls.__init__).parameters
    kwargs = dict(config.model)
    allowed = sorted(name for name in parameters if name not in ("self", "kwargs", "code_bits"))
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {config.method} model argument(s) {unknown}; allowed: {allowed}.")
    if "num_classes" in parameters:
        kwargs.setdefault("num_classes", dataset.num_classes)
    if "multi_label" in parameters:
        kwargs.setdefault("multi_label", dataset.is_multi_label)
    if "seed" in parameters:
        kwargs.setdefault("seed", config.seed)
    kwargs.setdefault("preprocessing", default_preprocessing(dataset))
    return cls(code_bits=config.bits, **kwargs)


def compile_model(model, config):
    model.compile(**{name: keras.optimizers.deserialize(spec) for name, spec in config.optimizers.items()})


def evaluate_model(model, query, database, protocol, batch_size=256):
    """Encodes query and database and evaluates them under `protocol`."""
    return metrics.evaluate(
        model.encode(query.images, batch_size=batch_size),
        query.labels,
        model.encode(database.images, batch_size=batch_size),
        database.labels,
        k=protocol.k,
        protocol=protocol.id,
        tie_rule=protocol.tie_rule,
        zero_relevant=protocol.zero_relevant,
    )


def train(config, out_dir, data=None, strategy="none", verbose=1, overwrite=False, command=None, extra_callbacks=()):
    """Trains `config` and writes a preset folder to `out_dir`.

    A run that is killed resumes from `<out_dir>.backup/` (Keras
    `BackupAndRestore`); that folder is removed when the run completes.
    Under `"multiworker"` only worker 0 writes `out_dir`; the others write
    to temporary folders that are removed.

    Args:
        config: a `TrainConfig`.
        out_dir: the preset folder to write (see `hashzoo.presets`).
        data: overrides `config.data` (any `hashzoo.data.load` form).
        strategy: `"none"`, `"mirrored"` or `"multiworker"`.
        verbose: Keras progress bar (0, 1 or 2).
        overwrite: replace an existing `out_dir`.
        command: the command line recorded in the metadata.

    Returns:
        `(model, result)`: the trained model and its `RetrievalResult` on the
        protocol's query/database split.
    """
    distribution = make_strategy(strategy)
    chief = is_chief(distribution)
    out_dir = pathlib.Path(out_dir) if chief else pathlib.Path(tempfile.mkdtemp(prefix="hashzoo-worker-")) / "preset"
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise ValueError(f"output folder {out_dir} already exists and is not empty; pass overwrite to replace it.")
    dataset = data_lib.load(data or config.data)
    protocol = data_lib.get_protocol(config.protocol)
    split = protocol.split(dataset.labels, dataset.class_names)
    query, train_part, database = protocol.apply(dataset)
    keras.utils.set_random_seed(config.seed)

    with distribution.scope():
        model = build_model(config, train_part)
        compile_model(model, config)
    batch_size = min(config.batch_size, len(train_part))
    # The method's hook: shuffled (images, labels) batches by default; BGAN builds
    # its K-NN similarity matrix here, once, and yields (images, S_B) batches.
    started = time.time()
    train_ds = model.make_train_dataset(train_part.images, train_part.labels, batch_size=batch_size, seed=config.seed)
    prepare_seconds = time.time() - started
    backup_dir = out_dir.with_name(out_dir.name + ".backup")
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        StopOnNonFinite(),
        *model.training_callbacks(config.epochs),
        *extra_callbacks,
    ]
    started = time.time()
    history = model.fit(train_ds, epochs=config.epochs, verbose=verbose, callbacks=callbacks, shuffle=False)
    train_seconds = time.time() - started

    result = evaluate_model(model, query, database, protocol)
    metadata = {
        "method": config.method,
        "config": config.to_dict(),
        "data": str(data or config.data),
        "protocol": {
            "id": protocol.id,
            "split_seed": protocol.split_seed,
            "split_sha256": split.sha256,
            "query": len(query),
            "train": len(train_part),
            "database": len(database),
        },
        "evaluation": result_records(result),
        "history": {name: [float(v) for v in values] for name, values in history.history.items()},
        "train_seconds": round(train_seconds, 1),
        "prepare_seconds": round(prepare_seconds, 1),
        "train_data": model.train_data_summary(),
        "command": command or " ".join(sys.argv),
        "versions": versions(),
    }
    presets.save_preset(model, out_dir, metadata=metadata, overwrite=overwrite)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(backup_dir)
    if not chief:
        # Other workers write a full preset too (the same collective steps), then drop it.
        shutil.rmtree(out_dir.parent, ignore_errors=True)
    return model, result


def result_records(result):
    """A `RetrievalResult` as the evaluation record stored in metadata."""
    record = result.to_dict()
    record["records"] = [
        {"metric": name, "value": float(value), "protocol": result.protocol, "bits": result.bits,
         "tie_rule": result.tie_rule, "zero_relevant": result.zero_relevant}
        for name, value in result.metrics.items()
    ]
    return record


def versions():
    return {
        "hashzoo": hashzoo.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }
