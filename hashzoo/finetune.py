"""Fine-tuning a preset on new images (zoo spec §7); `tools/finetune.py` runs it.

The new model is the parent's architecture with, optionally, a new code
length (`bits`) and the new data's class count. Weights are copied from the
parent wherever the shape is unchanged ("loaded"); the hash head of a new
width and a class head of a new class count are fresh layers ("replaced");
any other weight whose shape depends on bits or classes (a density head's
class matrix, a generator's label input) starts from its initializer
("re-initialised"). The preprocessing contract is the parent's: images whose
size or channels differ from it are an error unless `resize` /
`convert_channels` is passed, and the choice is recorded.

Checkpoints are chosen on the validation split of the new data (validation
images as queries against the train images); the best weights are restored
before the final evaluation on the protocol's query/database split, and the
result is written as a complete preset folder (atomically) whose metadata
names the parent and its weights' sha256.
"""

import contextlib
import inspect
import json
import pathlib
import shutil
import sys
import time

from hashzoo import data as data_lib
from hashzoo.layers.hash_head import HashHead

LOADED, REPLACED, REINITIALISED = "loaded", "replaced", "re-initialised"


# -- data ----------------------------------------------------------------------------

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F", "La"}


def _folder_shapes(folder):
    """`{(height, width, channels): count}` of the images in a class-folder tree (headers only)."""
    from PIL import Image

    from hashzoo.data import image_folder

    shapes = {}
    for class_folder in image_folder._class_folders(pathlib.Path(folder).expanduser().resolve()):
        for file in image_folder._image_files(class_folder):
            try:
                with Image.open(file) as image:
                    channels = 1 if image.mode in _GREY_MODES else 3
                    key = (image.height, image.width, channels)
            except OSError as error:
                raise ValueError(f"cannot read image {file}: {error}") from error
            shapes[key] = shapes.get(key, 0) + 1
    return shapes


def _describe(shapes):
    return ", ".join(f"{count} of {h}x{w}x{c}" for (h, w, c), count in sorted(shapes.items(), key=lambda kv: -kv[1]))


def load_data(source, preprocessing, data_dir=None, resize=False, convert_channels=False):
    """Loads the new images and checks them against the parent's input contract.

    Args:
        source: an image folder (one sub-folder per class), a CIFAR-10
            pickle folder, `"digits"`, `"cifar10-subset"` or `"tfds:<name>"`.
        preprocessing: the parent's `Preprocessing`.
        data_dir: the TFDS data folder for `"tfds:<name>"`.
        resize: allow images of another size (they are resized to the
            contract's size).
        convert_channels: allow grey images for an RGB contract or the
            reverse (they are converted).

    Returns:
        `(dataset, input_record)`: an `ImageDataset` and a dict recording the
        native shapes and any adaptation, for the metadata.
    """
    height, width = preprocessing.image_size
    channels = preprocessing.channels
    text = str(source)
    path = pathlib.Path(text).expanduser()
    from hashzoo.data import cifar10

    is_folder = path.is_dir() and not cifar10.is_cifar10_folder(path)
    if is_folder:
        shapes = _folder_shapes(path)
        native = sorted(shapes)
    else:
        kwargs = {"data_dir": data_dir} if text.startswith("tfds:") else {}
        dataset = data_lib.load(text, **kwargs)
        shapes = {tuple(int(v) for v in dataset.images.shape[1:]): len(dataset)}
        native = sorted(shapes)
    wrong_channels = sorted({c for (_, _, c) in native if c != channels})
    wrong_size = sorted({(h, w) for (h, w, _) in native if (h, w) != (height, width)})
    contract = f"{height}x{width}x{channels}"
    if wrong_channels and not convert_channels:
        raise ValueError(
            f"images in {text} have {wrong_channels[0]} channel(s) ({_describe(shapes)}), but the preset's input "
            f"contract is {contract} ({'grey' if channels == 1 else 'RGB'}). Pass --convert_channels to convert "
            "them (recorded in the metadata), or fine-tune a preset made for such images."
        )
    if wrong_size and not resize:
        raise ValueError(
            f"images in {text} are {wrong_size[0][0]}x{wrong_size[0][1]} ({_describe(shapes)}), but the preset's "
            f"input contract is {contract}. Pass --resize to resize them to {height}x{width} "
            f"({preprocessing.resize}; recorded in the metadata)."
        )
    if is_folder:
        dataset = data_lib.load_image_folder(path, image_size=(height, width), channels=channels)
    record = {
        "source": text,
        "native_shapes": [list(shape) for shape in native],
        "contract": [height, width, channels],
        "resized": bool(wrong_size),
        "channels_converted": bool(wrong_channels),
        "adapted_by": ("folder loader (Pillow bilinear)" if is_folder else "model preprocessing")
        if (wrong_size or wrong_channels) else None,
    }
    return dataset, record


# -- weights -------------------------------------------------------------------------


def _layer_of(variable_path):
    return variable_path.rsplit("/", 1)[0] if "/" in variable_path else variable_path


def transfer_weights(parent, child):
    """Copies the parent's weights into `child`, layer by layer, where shapes match.

    Weights are matched by position (both models come from the same config,
    so they list their weights in the same order). A layer with any weight
    of a new shape keeps all of its fresh initial values: it is "replaced"
    when it is the hash head or a class head (output width = the class
    count), "re-initialised" otherwise. Every other layer is "loaded".

    Returns:
        A list of `(layer, status, parent shapes, child shapes)` rows, one per
        layer, in weight order.
    """
    if len(parent.weights) != len(child.weights):
        raise ValueError(
            f"cannot transfer weights: the parent has {len(parent.weights)} weights and the new model "
            f"{len(child.weights)}; the architecture changed beyond bits and classes."
        )
    hash_ids = {
        id(variable) for layer in child._flatten_layers() if isinstance(layer, HashHead) for variable in layer.weights
    }
    class_count = getattr(child, "num_classes", None)
    layers = {}
    for old, new in zip(parent.weights, child.weights):
        row = layers.setdefault(_layer_of(old.path), {"pairs": [], "hash": False})
        row["pairs"].append((old, new))
        row["hash"] = row["hash"] or id(new) in hash_ids
    rows = []
    for name, row in layers.items():
        old_shapes = [tuple(old.shape) for old, _ in row["pairs"]]
        new_shapes = [tuple(new.shape) for _, new in row["pairs"]]
        if old_shapes == new_shapes:
            for old, new in row["pairs"]:
                new.assign(old)
            status = LOADED
        elif row["hash"] or (class_count is not None and len(new_shapes[0]) == 2 and new_shapes[0][-1] == class_count):
            status = REPLACED
        else:
            status = REINITIALISED
        rows.append((name, status, old_shapes, new_shapes))
    return rows


def format_summary(rows):
    width = max(len(name) for name, *_ in rows)
    lines = [f"{'layer':<{width}}  {'status':<15} shapes"]
    for name, status, old, new in rows:
        shapes = " ".join(str(list(s)) for s in new)
        if status != LOADED:
            shapes = " ".join(str(list(s)) for s in old) + " -> " + shapes
        lines.append(f"{name:<{width}}  {status:<15} {shapes}")
    counts = {status: sum(1 for row in rows if row[1] == status) for status in (LOADED, REPLACED, REINITIALISED)}
    lines.append(", ".join(f"{count} {status}" for status, count in counts.items()) + " layers")
    return "\n".join(lines)


# -- validation checkpointing ----------------------------------------------------------


def _validation_callback(validation, train, protocol, backup_dir, verbose):
    import keras

    from hashzoo import metrics

    class BestOnValidation(keras.callbacks.Callback):
        """Keeps the weights with the best validation mAP (validation queries vs train database)."""

        def __init__(self):
            super().__init__()
            self.best_file = pathlib.Path(backup_dir) / "best.weights.h5"
            self.score_file = pathlib.Path(backup_dir) / "best.json"
            self.best = json.loads(self.score_file.read_text())["score"] if self.score_file.is_file() else -1.0
            self.scores = []

        def score(self):
            result = metrics.evaluate(
                self.model.encode(validation.images), validation.labels,
                self.model.encode(train.images), train.labels,
                k=protocol.k, tie_rule=protocol.tie_rule, zero_relevant=protocol.zero_relevant, ks=(), radius=None,
            )
            return float(next(iter(result.metrics.values())))

        def on_epoch_end(self, epoch, logs=None):
            value = self.score()
            self.scores.append(value)
            if logs is not None:
                logs["val_mAP"] = value
            if value > self.best:
                self.best = value
                self.best_file.parent.mkdir(parents=True, exist_ok=True)
                self.model.save_weights(str(self.best_file), overwrite=True)
                self.score_file.write_text(json.dumps({"score": value, "epoch": epoch + 1}))
            if verbose:
                print(f"  validation mAP {value:.4f} (best {self.best:.4f})")

        def restore_best(self):
            if self.best_file.is_file():
                self.model.load_weights(str(self.best_file))
                return json.loads(self.score_file.read_text())
            return None

    return BestOnValidation()


# -- the run ---------------------------------------------------------------------------


def _compile(model, card, learning_rate):
    import keras

    optimizers = json.loads(json.dumps((card.get("config") or {}).get("optimizers") or {}))
    if learning_rate is not None:
        for spec in optimizers.values():
            spec.setdefault("config", {})["learning_rate"] = float(learning_rate)
    accepted = inspect.signature(model.compile).parameters
    kwargs = {name: keras.optimizers.deserialize(spec) for name, spec in optimizers.items() if name in accepted}
    if not kwargs and learning_rate is not None:
        kwargs = {"optimizer": keras.optimizers.Adam(float(learning_rate))}
    model.compile(**kwargs)
    return optimizers


def finetune(preset, data, out, *, bits=None, epochs=1, steps_per_epoch=None, batch_size=64, seed=0,
             protocol="folder", learning_rate=None, data_dir=None, resize=False, convert_channels=False,
             verbose=1, overwrite=False, command=None, extra_callbacks=()):
    """Fine-tunes `preset` on `data` and writes a new preset folder at `out`.

    Args:
        preset: anything `hashzoo.load` accepts (a name, a folder, a URL).
        data: the new images (see `load_data`).
        out: the preset folder to write.
        bits: new code length (a new hash head; trunk kept); default the parent's.
        epochs, steps_per_epoch, batch_size, seed: the training loop
            (`steps_per_epoch` None means one pass over the train split).
        protocol: protocol id that splits the new data (default `folder`:
            5 queries per class, database the rest).
        learning_rate: replaces the learning rate of every optimizer of the
            parent's recipe.
        data_dir, resize, convert_channels: see `load_data`.
        verbose: Keras progress bar (0, 1, 2) and the summary.
        overwrite: replace an existing `out`.
        command: the command line recorded in the metadata.
        extra_callbacks: more Keras callbacks.

    Returns:
        `(model, result, before, rows)`: the new model, its `RetrievalResult`
        on the new data, the parent's result on the same split, and the layer
        summary rows.
    """
    import keras

    import hashzoo
    from hashzoo import presets
    from hashzoo.training import StopOnNonFinite, evaluate_model
    from hashzoo.training.run import result_records
    from hashzoo.training.run import versions

    out = pathlib.Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"output folder {out} already exists and is not empty; choose another or pass overwrite.")
    parent = hashzoo.load(preset)
    card = parent.card
    parent_name = card.get("preset") or card.get("name") or str(preset)
    dataset, input_record = load_data(data, parent.preprocessing, data_dir, resize, convert_channels)
    if dataset.is_multi_label != bool(getattr(parent, "multi_label", False)):
        raise ValueError(
            f"{parent_name} expects {'multi-hot' if getattr(parent, 'multi_label', False) else 'single-class'} "
            f"labels, but {data} has {'multi-hot' if dataset.is_multi_label else 'single-class'} labels."
        )
    supervised = "num_classes" in inspect.signature(type(parent).__init__).parameters
    if supervised and dataset.num_classes < 2:
        raise ValueError(
            f"{type(parent).__name__} is supervised and needs at least 2 classes, but {data} has one class "
            f"({dataset.class_names[0]!r}); add a sub-folder per class."
        )
    protocol = data_lib.get_protocol(protocol)
    split = protocol.split(dataset.labels, dataset.class_names)
    query, train, database, validation = protocol.apply(dataset, include_validation=True)

    overrides = {}
    if bits is not None and bits != parent.code_bits:
        overrides["code_bits"] = int(bits)
    if supervised and dataset.num_classes != parent.num_classes:
        overrides["num_classes"] = dataset.num_classes
    keras.utils.set_random_seed(seed)
    child = hashzoo.load(card["source"], weights=False, **overrides)
    rows = transfer_weights(parent, child)
    if verbose:
        print(f"fine-tuning {parent_name} ({parent.code_bits} bits) -> {child.code_bits} bits on {data}: "
              f"{dataset.num_classes} classes, {len(train)} train / {len(validation)} validation / "
              f"{len(query)} query / {len(database)} database (protocol {protocol.id})")
        print(format_summary(rows))

    before = evaluate_model(parent, query, database, protocol)
    optimizers = _compile(child, card, learning_rate)
    batch = min(int(batch_size), len(train))
    steps = int(steps_per_epoch) if steps_per_epoch else max(1, len(train) // batch)
    # The method's own pipeline (BGAN builds its similarity matrix on the new data here), repeated so
    # that --steps_per_epoch may exceed one pass. The parent's slope schedule is not re-run: a
    # fine-tune continues from the saved slope.
    train_ds = child.make_train_dataset(train.images, train.labels, batch_size=batch, seed=seed).repeat()
    backup_dir = out.with_name(out.name + ".backup")
    best = _validation_callback(validation, train, protocol, backup_dir, verbose) if len(validation) else None
    # Keras deletes its own backup folder when fit ends; the best-epoch weights live beside it.
    callbacks = [keras.callbacks.BackupAndRestore(str(backup_dir / "keras")), StopOnNonFinite(), *extra_callbacks]
    if best is not None:
        callbacks.insert(0, best)
    started = time.time()
    history = child.fit(train_ds, epochs=int(epochs), steps_per_epoch=steps, verbose=verbose, callbacks=callbacks,
                        shuffle=False)
    seconds = time.time() - started
    chosen = best.restore_best() if best is not None else None

    result = evaluate_model(child, query, database, protocol)
    metadata = {
        "method": card.get("method"),
        "parent": {
            "name": parent_name,
            "weights_sha256": card.get("weights_sha256"),
            "source": card.get("source"),
            "code_bits": parent.code_bits,
        },
        "data": str(data),
        "input": input_record,
        "protocol": {
            "id": protocol.id, "split_seed": protocol.split_seed, "split_sha256": split.sha256,
            "query": len(query), "train": len(train), "database": len(database), "validation": len(validation),
        },
        "evaluation": result_records(result),
        "evaluation_parent": result_records(before),
        "layers": [{"layer": name, "status": status, "parent_shapes": [list(s) for s in old],
                    "shapes": [list(s) for s in new]} for name, status, old, new in rows],
        "config": {
            "method": card.get("method"), "bits": child.code_bits, "epochs": int(epochs),
            "steps_per_epoch": steps, "batch_size": batch, "seed": int(seed), "learning_rate": learning_rate,
            "optimizers": optimizers, "protocol": protocol.id,
            "description": f"{parent_name} fine-tuned on {data}",
        },
        "checkpoint": chosen,
        "history": {name: [float(v) for v in values] for name, values in history.history.items()},
        "train_data": child.train_data_summary(),
        "train_seconds": round(seconds, 1),
        "command": command or " ".join(sys.argv),
        "versions": versions(),
    }
    presets.save_preset(child, out, metadata=metadata, overwrite=overwrite)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(backup_dir)
    child.card = json.loads((out / presets.METADATA_FILE).read_text())
    return child, result, before, rows


__all__ = ["finetune", "format_summary", "load_data", "transfer_weights"]
