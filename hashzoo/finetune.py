"""Fine-tuning a preset on new images (docs/zoo.md, "Fine-tuning"); `tools/finetune.py` runs it.

The new model is the parent's architecture with, optionally, a new code
length (`bits`) and what the method sizes from the new data
(`data_arguments`: class count, label kind, SADH's number of label sets).
Weights are copied from the parent wherever the shape is unchanged
("loaded"); the hash head of a new width (the method's `hash_head_layers()`)
and a class head of a new class count are fresh layers ("replaced"); any
other weight whose shape depends on bits or classes (a density head's class
matrix, a generator's label input) starts from its initializer
("re-initialised"); what the method's training stages compute from the data
(`stage_variables()`, SADH's dictionaries) is never copied and the stages
rebuild it on the new data ("rebuilt"). What a method prepares from the
training images (BGAN's and SPAH's similarity matrix) is built again by the
training core's `prepare`. The preprocessing contract is the parent's:
images whose size or channels differ from it are an error unless `resize` /
`convert_channels` is passed, and the choice is recorded.

Checkpoints are chosen on the validation split of the new data (validation
images as queries against the train images); the best weights are restored
before the final evaluation on the protocol's query/database split, and the
result is written as a complete preset folder (atomically) whose metadata
names the parent and its weights' sha256.
"""

import json
import math
import pathlib

from hashzoo import data as data_lib
from hashzoo.data import folders

LOADED, REPLACED, REINITIALISED, REBUILT = "loaded", "replaced", "re-initialised", "rebuilt"
STATUSES = (LOADED, REPLACED, REINITIALISED, REBUILT)


# -- data ----------------------------------------------------------------------------

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F", "La"}


def _folder_shapes(folder):
    """`{(height, width, channels): count}` of the images in a class-folder tree (headers only)."""
    from PIL import Image

    from hashzoo.data import image_folder

    shapes = {}
    for class_folder in image_folder.class_folders(pathlib.Path(folder).expanduser().resolve()):
        for file in image_folder.image_files(class_folder):
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


def _mosaic_grid(protocol):
    """Tiles per side of the images a protocol makes (a mosaic protocol: `grid`; any other: 1)."""
    if protocol is None:
        return 1
    mosaic = data_lib.get_protocol(protocol).mosaic
    return mosaic.grid if mosaic is not None else 1


def load_data(source, preprocessing, data_dir=None, resize=False, convert_channels=False, protocol=None):
    """Loads the new images and checks them against the parent's input contract.

    The check is on the images the model will see: under a mosaic protocol
    (`digits-mosaic`, `folder-mosaic`) those are `grid x grid` tiles of the
    source images, so 8x8 digits meet a 16x16 contract without resizing
    (docs/zoo.md, "Fine-tuning").

    Args:
        source: an image folder (one sub-folder per class), a CIFAR-10
            pickle folder, `"digits"`, `"cifar10-subset"` or `"tfds:<name>"`.
        preprocessing: the parent's `Preprocessing`.
        data_dir: the TFDS data folder for `"tfds:<name>"`.
        resize: allow images of another size (they are resized to the
            contract's size).
        convert_channels: allow grey images for an RGB contract or the
            reverse (they are converted).
        protocol: the protocol (or its id) that will split the data; None
            checks the source images as they are.

    Returns:
        `(dataset, input_record)`: an `ImageDataset` and a dict recording the
        native shapes and any adaptation, for the metadata.
    """
    height, width = preprocessing.image_size
    channels = preprocessing.channels
    grid = _mosaic_grid(protocol)
    text = str(source)
    path = pathlib.Path(text).expanduser()
    # An image folder is sized before loading (it may hold several sizes); any other source is loaded first.
    is_folder = folders.folder_kind(path) == folders.IMAGES
    if is_folder:
        shapes = _folder_shapes(path)
    else:
        kwargs = {"data_dir": data_dir} if text.startswith("tfds:") else {}
        dataset = data_lib.load(text, **kwargs)
        shapes = {tuple(int(v) for v in dataset.images.shape[1:]): len(dataset)}
    native = sorted(shapes)
    seen = {(h * grid, w * grid, c): count for (h, w, c), count in shapes.items()}
    wrong_channels = sorted({c for (_, _, c) in seen if c != channels})
    wrong_size = sorted({(h, w) for (h, w, _) in seen if (h, w) != (height, width)})
    contract = f"{height}x{width}x{channels}"
    what = f"images in {text}" if grid == 1 else f"{grid}x{grid} mosaics of the images in {text}"
    if wrong_channels and not convert_channels:
        raise ValueError(
            f"{what} have {wrong_channels[0]} channel(s) ({_describe(seen)}), but the preset's input "
            f"contract is {contract} ({'grey' if channels == 1 else 'RGB'}). Pass --convert_channels to convert "
            "them (recorded in the metadata), or fine-tune a preset made for such images."
        )
    if wrong_size and not resize:
        raise ValueError(
            f"{what} are {wrong_size[0][0]}x{wrong_size[0][1]} ({_describe(seen)}), but the preset's "
            f"input contract is {contract}. Pass --resize to resize them to {height}x{width} "
            f"({preprocessing.resize}; recorded in the metadata)."
        )
    if is_folder:
        dataset = data_lib.load_image_folder(path, image_size=(height // grid, width // grid), channels=channels)
    record = {
        "source": text,
        "native_shapes": [list(shape) for shape in native],
        "contract": [height, width, channels],
        "resized": bool(wrong_size),
        "channels_converted": bool(wrong_channels),
        "adapted_by": ("folder loader (Pillow bilinear)" if is_folder else "model preprocessing")
        if (wrong_size or wrong_channels) else None,
    }
    if grid > 1:
        record["mosaic_grid"] = grid
    return dataset, record


# -- weights -------------------------------------------------------------------------


def layer_of(variable_path):
    """The layer a weight belongs to, as the summary names it: its path without the variable name."""
    return variable_path.rsplit("/", 1)[0] if "/" in variable_path else variable_path


def transfer_weights(parent, child):
    """Copies the parent's weights into `child`, layer by layer, where shapes match.

    Weights are matched by position (both models come from the same config,
    so they list their weights in the same order) and grouped into layers by
    their path. A layer whose weights all come from the training stages
    (`child.stage_variables()`) is not copied: it is "rebuilt" when the
    stages run on the new data. A layer with any weight of a new shape keeps
    all of its fresh initial values: it is "replaced" when it is a hash head
    (`child.hash_head_layers()`) or a class head (output width = the class
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
    hash_ids = {id(variable) for layer in child.hash_head_layers() for variable in layer.weights}
    stage_ids = {id(variable) for variable in child.stage_variables()}
    layers = {}
    for old, new in zip(parent.weights, child.weights):
        layers.setdefault(layer_of(old.path), []).append((old, new))
    return [_transfer_layer(name, pairs, hash_ids, stage_ids, getattr(child, "num_classes", None))
            for name, pairs in layers.items()]


def _transfer_layer(name, pairs, hash_ids, stage_ids, class_count):
    """Copies one layer's weights when nothing about it changed; returns its summary row."""
    old_shapes = [tuple(old.shape) for old, _ in pairs]
    new_shapes = [tuple(new.shape) for _, new in pairs]
    if all(id(new) in stage_ids for _, new in pairs):
        status = REBUILT
    elif old_shapes == new_shapes:
        for old, new in pairs:
            if id(new) not in stage_ids:
                new.assign(old)
        status = LOADED
    elif any(id(new) in hash_ids for _, new in pairs) or (
            class_count is not None and len(new_shapes[0]) == 2 and new_shapes[0][-1] == class_count):
        status = REPLACED
    else:
        status = REINITIALISED
    return name, status, old_shapes, new_shapes


def format_summary(rows):
    """The layer table of `transfer_weights` rows and a count per status ("rebuilt" only when there is one)."""
    width = max(len(name) for name, *_ in rows)
    lines = [f"{'layer':<{width}}  {'status':<15} shapes"]
    for name, status, old, new in rows:
        shapes = " ".join(str(list(s)) for s in new)
        if old != new:
            shapes = " ".join(str(list(s)) for s in old) + " -> " + shapes
        lines.append(f"{name:<{width}}  {status:<15} {shapes}")
    counts = {status: sum(1 for row in rows if row[1] == status) for status in STATUSES}
    counts = {status: count for status, count in counts.items() if count or status != REBUILT}
    lines.append(", ".join(f"{count} {status}" for status, count in counts.items()) + " layers")
    return "\n".join(lines)


# -- the run -------------------------------------------------------------------------


def optimizer_recipe(card, learning_rate=None):
    """The parent's optimizers (`card["config"]["optimizers"]`), each with `learning_rate` when given.

    A parent that records no optimizers gets Adam at `learning_rate`, or the
    method's defaults when no rate is given (an empty recipe).
    """
    optimizers = json.loads(json.dumps((card.get("config") or {}).get("optimizers") or {}))
    if learning_rate is None:
        return optimizers
    for spec in optimizers.values():
        spec.setdefault("config", {})["learning_rate"] = float(learning_rate)
    return optimizers or {"optimizer": {"class_name": "Adam", "config": {"learning_rate": float(learning_rate)}}}


def check_learning_rate(learning_rate):
    """None, or a finite rate > 0."""
    if learning_rate is None:
        return None
    try:
        value = float(learning_rate)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}.")
    return value


def child_overrides(parent, train, bits, seed):
    """Config keys of the new model that differ from the parent's: code length and the data's arguments.

    The data's arguments are the method's `data_arguments(train, seed)`
    (class count, label kind, seed); only those that change are overridden.
    """
    config = parent.get_config()
    overrides = {key: value for key, value in type(parent).data_arguments(train, seed).items()
                 if config.get(key) != value}
    if bits is not None and int(bits) != parent.code_bits:
        overrides["code_bits"] = int(bits)
    return overrides


def weights_digest(model):
    """sha256 over a model's weight values (for a parent whose card records no `weights_sha256`)."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(np.asarray(weight))
        digest.update(f"{weight.path}{value.dtype.str}{value.shape}".encode())
        digest.update(memoryview(value).cast("B"))
    return digest.hexdigest()


def finetune(preset, data, out, *, bits=None, epochs=1, steps_per_epoch=None, batch_size=64, seed=0,
             protocol="folder", learning_rate=None, data_dir=None, resize=False, convert_channels=False,
             verbose=1, overwrite=False, command=None, extra_callbacks=()):
    """Fine-tunes `preset` on `data` and writes a new preset folder at `out`.

    The run goes through the training core (`hashzoo.training.core`): the
    best epoch on the validation split is kept, a non-finite loss stops the
    fit and the preset is written from the best finished epoch, and a killed
    run resumes from `<out>.backup/`. The backup records the run's
    fingerprint (the parent's weights sha256, bits, learning rate, epochs,
    steps per epoch, batch size, seed, protocol, the data's sha256,
    `resize`/`convert_channels`); a run with another one is refused with a
    `ValueError` naming the folder and what differs. Only the weight
    transfer and its flags are fine-tuning's own.

    Args:
        preset: anything `hashzoo.load` accepts (a name, a folder, a URL).
        data: the new images (see `load_data`).
        out: the preset folder to write.
        bits: new code length (a new hash head; trunk kept); default the parent's.
        epochs, steps_per_epoch, batch_size, seed: the training loop
            (`steps_per_epoch` None means one pass over the train split).
        protocol: protocol id that splits the new data (default `folder`:
            5 queries per class, database the rest; `folder-mosaic`: 2x2
            multi-label mosaics of any data with at least 3 classes).
        learning_rate: replaces the learning rate of every optimizer of the
            parent's recipe.
        data_dir, resize, convert_channels: see `load_data`.
        verbose: Keras progress bar (0, 1, 2) and the summary.
        overwrite: replace an existing `out`.
        command: the command line recorded in the metadata.
        extra_callbacks: more Keras callbacks.

    Returns:
        `(model, result, before, rows)`: the new model (its `card` is the
        metadata written), its `RetrievalResult` on the new data, the
        parent's result on the same split, and the layer summary rows.
    """
    import hashzoo
    from hashzoo.training import core
    from hashzoo.training.evaluation import evaluate_split, result_records

    options = core.RunOptions(epochs=epochs, batch_size=batch_size, seed=seed, steps_per_epoch=steps_per_epoch,
                              verbose=verbose, overwrite=overwrite, command=command,
                              extra_callbacks=tuple(extra_callbacks), method_callbacks=False)
    learning_rate = check_learning_rate(learning_rate)
    core.check_output_folder(out, overwrite)
    parent = hashzoo.load(preset)
    card = parent.card
    parent_name = card.get("preset") or card.get("name") or str(preset)
    protocol = data_lib.get_protocol(protocol)
    dataset, input_record = load_data(data, parent.preprocessing, data_dir, resize, convert_channels, protocol)
    optimizers = optimizer_recipe(card, learning_rate)
    made = {}

    def build(parts):
        child = hashzoo.load(card["source"], weights=False, **child_overrides(parent, parts.train, bits, seed))
        made["rows"] = transfer_weights(parent, child)
        if verbose:
            print(f"fine-tuning {parent_name} ({parent.code_bits} bits) -> {child.code_bits} bits on {data}: "
                  f"{dataset.num_classes} classes, {len(parts.train)} train / {len(parts.validation)} validation / "
                  f"{len(parts.query)} query / {len(parts.database)} database (protocol {protocol.id})")
            print(format_summary(made["rows"]))
        made["before"] = evaluate_split(parent, parts.query, parts.database, protocol)
        return child

    def metadata(parts, child):
        return {
            "method": card.get("method"),
            "parent": {
                "name": parent_name,
                "weights_sha256": card.get("weights_sha256"),
                "source": card.get("source"),
                "code_bits": parent.code_bits,
            },
            "input": input_record,
            "evaluation_parent": result_records(made["before"]),
            "layers": [{"layer": name, "status": status, "parent_shapes": [list(s) for s in old],
                        "shapes": [list(s) for s in new]} for name, status, old, new in made["rows"]],
            "config": {
                "method": card.get("method"), "bits": child.code_bits, "epochs": options.epochs,
                "steps_per_epoch": options.steps_per_epoch, "batch_size": min(options.batch_size, len(parts.train)),
                "seed": options.seed, "learning_rate": learning_rate, "optimizers": optimizers,
                "protocol": protocol.id, "description": f"{parent_name} fine-tuned on {data}",
            },
        }

    # The method's schedules (BGAN's and SPAH's slope) are not re-run: a fine-tune continues from the
    # parent's saved state. What the method computes from the data is rebuilt on the new data by the core:
    # `prepare` (BGAN's and SPAH's similarity matrix) and `training_stages` (SADH's label network and
    # dictionaries, for the new label set). docs/zoo.md, "Fine-tuning".
    fingerprint = {
        "parent": {"name": parent_name, "weights_sha256": card.get("weights_sha256") or weights_digest(parent)},
        "bits": int(bits) if bits is not None else parent.code_bits,
        "learning_rate": learning_rate,
        "resize": bool(resize),
        "convert_channels": bool(convert_channels),
    }
    outcome = core.run_training(build, dataset, protocol, out, options, method_class=type(parent),
                                optimizers=optimizers, data_name=str(data), metadata=metadata,
                                fingerprint=fingerprint)
    return outcome.model, outcome.result, made.get("before"), made.get("rows")


__all__ = [
    "LOADED", "REBUILT", "REINITIALISED", "REPLACED", "STATUSES", "check_learning_rate", "child_overrides",
    "finetune", "format_summary", "layer_of", "load_data", "optimizer_recipe", "transfer_weights",
    "weights_digest",
]
