"""Preset folders: a trained model as files that `hashzoo.load` opens.

Layout (zoo spec §3, as keras-hub's):

    <name>/
      config.json          the serialized model (class + every constructor argument)
      model.weights.h5     model weights only (no optimizer state)
      preprocessing.json   the input contract
      metadata.json        provenance, metrics, sha256 of the weights
      README.md            model card

Folders are written into a temporary sibling and renamed into place, so an
interrupted write never leaves a folder that a later load would trust.
"""

import hashlib
import json
import pathlib

import keras

from hashzoo.utils.io import atomic_directory, atomic_write_json

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
PREPROCESSING_FILE = "preprocessing.json"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_preset(model, path, metadata=None, card=None, overwrite=False):
    """Writes `model` as a preset folder at `path`; returns the metadata written.

    Args:
        model: a built `HashingModel`.
        path: the folder to create (must not exist, or be empty, unless
            `overwrite`).
        metadata: dict merged into `metadata.json` (metrics, command, ...).
        card: text of `README.md`; a minimal card is written when None.
        overwrite: replace an existing folder (only once the new one is complete).
    """
    path = pathlib.Path(path)
    config = keras.saving.serialize_keras_object(model)
    with atomic_directory(path, overwrite=overwrite) as temp:
        atomic_write_json(temp / CONFIG_FILE, config)
        # A fresh, uncompiled copy carries the weights without optimizer state.
        clean = keras.saving.deserialize_keras_object(config)
        clean.set_weights(model.get_weights())
        clean.save_weights(str(temp / WEIGHTS_FILE))
        atomic_write_json(temp / PREPROCESSING_FILE, model.preprocessing.to_dict())
        full = {
            "name": path.name,
            "class_name": type(model).__name__,
            "code_bits": model.code_bits,
            "parameters": int(clean.count_params()),
            "weights_sha256": sha256_file(temp / WEIGHTS_FILE),
            "weights_bytes": (temp / WEIGHTS_FILE).stat().st_size,
        }
        full.update(metadata or {})
        atomic_write_json(temp / METADATA_FILE, full)
        (temp / CARD_FILE).write_text(card or _minimal_card(full))
    return full


def load_preset_dir(path, weights=True, verify=True):
    """Rebuilds the model in preset folder `path` and loads its weights.

    The weights are read only after their sha256 matches `metadata.json`.
    """
    path = pathlib.Path(path)
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE) if not (path / name).is_file()]
    if missing:
        raise ValueError(
            f"{path} is not a hashzoo preset folder: missing {missing} (expected {CONFIG_FILE}, "
            f"{WEIGHTS_FILE}, {METADATA_FILE}, {PREPROCESSING_FILE}, {CARD_FILE})."
        )
    metadata = json.loads((path / METADATA_FILE).read_text())
    model = keras.saving.deserialize_keras_object(json.loads((path / CONFIG_FILE).read_text()))
    if weights:
        if verify:
            actual = sha256_file(path / WEIGHTS_FILE)
            expected = metadata.get("weights_sha256")
            if actual != expected:
                raise ValueError(
                    f"{path / WEIGHTS_FILE} does not match its metadata: expected sha256 {expected}, "
                    f"got {actual}. The file is corrupted or was changed; it was not loaded."
                )
        model.load_weights(str(path / WEIGHTS_FILE))
    model.card = metadata
    return model


def load(name_or_path, *, weights=True, verify=True):
    """Loads a model from a preset folder or a `.keras` file.

    Args:
        name_or_path: a preset folder (see module docstring) or a `.keras` file.
        weights: load the weights (False builds the architecture only).
        verify: check the weights' sha256 against `metadata.json` first.

    Returns:
        A `HashingModel` with `encode`, `encode_packed`, `preprocessing` and
        `card` (the preset's metadata).
    """
    path = pathlib.Path(str(name_or_path))
    if path.is_dir():
        return load_preset_dir(path, weights=weights, verify=verify)
    if path.suffix == ".keras" and path.is_file():
        model = keras.saving.load_model(str(path), compile=False)
        model.card = {}
        return model
    raise ValueError(
        f"cannot load {str(name_or_path)!r}: accepted forms are a preset folder (with {CONFIG_FILE}, "
        f"{WEIGHTS_FILE}, {METADATA_FILE}) or a `.keras` file, and neither exists at {path.resolve()}."
    )


def _minimal_card(metadata):
    lines = [f"# {metadata['name']}", "", f"A {metadata['class_name']} hashing model, {metadata['code_bits']} bits.", ""]
    for record in metadata.get("evaluation", {}).get("records", []):
        lines.append(f"- {record['metric']} = {record['value']:.4f} on protocol `{record['protocol']}`")
    if "command" in metadata:
        lines += ["", "Trained with:", "", "    " + metadata["command"]]
    lines += ["", "Load it with `hashzoo.load(path)`.", ""]
    return "\n".join(lines)
