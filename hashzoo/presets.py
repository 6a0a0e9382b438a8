"""Preset folders and `hashzoo.load`: a trained model as files (zoo spec §3, §4).

Layout (as keras-hub's):

    <name>/
      config.json          the serialized model (class + every constructor argument)
      model.weights.h5     model weights only (no optimizer state)
      preprocessing.json   the input contract
      metadata.json        provenance, metrics, sha256 of the weights
      README.md            model card

`load` accepts a registered preset name (`hashzoo.registry`), a local preset
folder, a `.keras` file, or the URL of a preset archive (`file://`,
`https://`, or `http://` on a trusted network), optionally ending in
`#sha256=<hex>`. Model cards come from `hashzoo.cards`. Built-in presets live in the repository's `pretrained/`
folder and need no network. Remote archives are fetched with
`keras.utils.get_file` into the cache: `$HASHZOO_HOME`, else
`$KERAS_HOME/hashzoo`, else `~/.keras/hashzoo` (the system temporary folder,
with a warning, when none is writable). With `HASHZOO_OFFLINE=1` nothing is
downloaded.

Every write is atomic: downloads go to a `.partial` name, are verified,
fsynced and renamed; archives unpack into a temporary sibling folder that is
renamed into place; preset folders are written the same way. An interrupted
run leaves nothing a later load would trust, and weights are read only after
their sha256 matches.
"""

import datetime
import gzip
import hashlib
import importlib
import io
import json
import os
import pathlib
import tarfile
import tempfile
import urllib.parse
import uuid
import warnings

import keras

from hashzoo import registry
from hashzoo.cards import model_card
from hashzoo.utils.io import atomic_directory, atomic_open, atomic_write_json

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
PREPROCESSING_FILE = "preprocessing.json"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, PREPROCESSING_FILE, CARD_FILE)

HOME_ENV = "HASHZOO_HOME"
OFFLINE_ENV = "HASHZOO_OFFLINE"
URL_SCHEMES = ("file", "https", "http")

# Config keys that are not constructor arguments a user would override.
_FIXED_KEYS = ("name", "trainable", "dtype")


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_offline():
    """True when `$HASHZOO_OFFLINE` is set to 1 / true / yes / on."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def cache_dir(path=None):
    """The cache folder: `path`, `$HASHZOO_HOME`, `$KERAS_HOME/hashzoo` or `~/.keras/hashzoo`.

    Falls back to `<tempdir>/hashzoo`, with a warning, when the chosen folder
    cannot be created or written.
    """
    if path is not None:
        chosen = pathlib.Path(path)
    elif os.environ.get(HOME_ENV):
        chosen = pathlib.Path(os.environ[HOME_ENV])
    elif os.environ.get("KERAS_HOME"):
        chosen = pathlib.Path(os.environ["KERAS_HOME"]) / "hashzoo"
    else:
        chosen = pathlib.Path("~/.keras/hashzoo")
    chosen = chosen.expanduser()
    try:
        chosen.mkdir(parents=True, exist_ok=True)
        if os.access(chosen, os.W_OK):
            return chosen
    except OSError:
        pass
    fallback = pathlib.Path(tempfile.gettempdir()) / "hashzoo"
    warnings.warn(f"hashzoo cache {chosen} is not writable; using {fallback} instead.", stacklevel=3)
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


# -- writing ----------------------------------------------------------------------


def save_preset(model, path, metadata=None, card=None, overwrite=False):
    """Writes `model` as a preset folder at `path`; returns the metadata written.

    Args:
        model: a built `HashingModel`.
        path: the folder to create (must not exist, or be empty, unless
            `overwrite`).
        metadata: dict merged into `metadata.json` (metrics, command, ...).
        card: text of `README.md`; by default `model_card(metadata)`.
        overwrite: replace an existing folder (only once the new one is complete).
    """
    path = pathlib.Path(path)
    config = keras.saving.serialize_keras_object(model)
    with atomic_directory(path, overwrite=overwrite) as temp:
        atomic_write_json(temp / CONFIG_FILE, config)
        # A fresh, uncompiled copy carries the weights without optimizer state.
        clean_config = dict(config)
        clean_config.pop("compile_config", None)
        clean = keras.saving.deserialize_keras_object(clean_config)
        clean.set_weights(model.get_weights())
        clean.save_weights(str(temp / WEIGHTS_FILE))
        atomic_write_json(temp / PREPROCESSING_FILE, model.preprocessing.to_dict())
        method = (metadata or {}).get("method")
        info = registry.method_info(method) if method else {}
        full = {
            "name": path.name,
            "class_name": type(model).__name__,
            "code_bits": model.code_bits,
            "parameters": int(clean.count_params()),
            "preprocessing": model.preprocessing.to_dict(),
            "license": info.get("license", "Apache-2.0"),
            "paper": info.get("paper", ""),
            "paper_url": info.get("paper_url", ""),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "weights_sha256": sha256_file(temp / WEIGHTS_FILE),
            "weights_bytes": (temp / WEIGHTS_FILE).stat().st_size,
        }
        full.update(metadata or {})
        atomic_write_json(temp / METADATA_FILE, full)
        with atomic_open(temp / CARD_FILE, "w") as handle:
            handle.write(card or model_card(full))
    return full


def round_to_float16(model):
    """Rounds every float32 variable of `model` to the nearest float16 value, in place.

    After this, `save_float16_weights` stores the model exactly: float16 to
    float32 is lossless, so a model loaded from the half-size file encodes
    exactly as `model` does now. Raises `ValueError` naming a variable whose
    values do not fit float16.
    """
    import numpy as np

    limit = float(np.finfo(np.float16).max)
    for variable in model.weights:
        if variable.dtype != "float32":
            continue
        value = keras.ops.convert_to_numpy(variable)
        if value.size and float(np.abs(value).max()) > limit:
            raise ValueError(f"variable {variable.path!r} holds values beyond float16's range (+-{limit}); "
                             "publish it with float32 weights.")
        variable.assign(value.astype(np.float16).astype(np.float32))


def save_float16_weights(model, path):
    """Saves `model`'s weights like `save_weights`, with float32 arrays stored as float16.

    Keras casts them back to each variable's float32 dtype on load, so the
    file loads with `load_weights` / `hashzoo.load` unchanged. Call
    `round_to_float16` first for the stored model to equal the one in memory.
    """
    import h5py
    import numpy as np

    path = pathlib.Path(path)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        full = pathlib.Path(scratch) / WEIGHTS_FILE
        model.save_weights(str(full))
        with h5py.File(full, "r") as source, h5py.File(path, "w") as target:
            target.attrs.update(dict(source.attrs))

            def copy(name, item):
                if isinstance(item, h5py.Group):
                    target.require_group(name).attrs.update(dict(item.attrs))
                    return
                value = item[()]
                if isinstance(value, np.ndarray) and value.dtype == np.float32:
                    value = value.astype(np.float16)
                target.create_dataset(name, data=value)
                target[name].attrs.update(dict(item.attrs))

            source.visititems(copy)


def make_archive(folder, archive):
    """Packs preset folder `folder` into a reproducible `.tar.gz`; returns its sha256.

    The archive holds one top folder named after `folder`, with files in
    sorted order, zero timestamps and owners, so the same files always give
    the same bytes (and sha256).
    """
    folder = pathlib.Path(folder)
    check_preset_folder(folder)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
                data = (folder / name).read_bytes()
                info = tarfile.TarInfo(f"{folder.name}/{name}")
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    with atomic_open(archive) as handle:
        handle.write(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


# -- reading ----------------------------------------------------------------------


def check_preset_folder(path):
    path = pathlib.Path(path)
    required = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)
    missing = [name for name in required if not (path / name).is_file()]
    if missing:
        raise ValueError(
            f"{path} is not a hashzoo preset folder: missing {missing} (expected {', '.join(PRESET_FILES)})."
        )
    return path


def _read_config(path):
    """`(config without compile_config, compile_config or None)` of a preset folder."""
    config = json.loads((path / CONFIG_FILE).read_text())
    compile_config = config.pop("compile_config", None)
    module = str(config.get("module", ""))
    if module.startswith("hashzoo."):
        # Registers the class with Keras before it is looked up.
        importlib.import_module(module)
    return config, compile_config


def _check_overrides(config, overrides):
    valid = sorted(key for key in config.get("config", {}) if key not in _FIXED_KEYS)
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f"unknown override(s) {unknown} for {config.get('class_name')}; valid keys: {valid}.")


def _with_overrides(config, overrides):
    config = json.loads(json.dumps(config))
    config["config"].update(overrides)
    config.pop("build_config", None)
    return config


def _refuse_shape_changes(model, reference, overrides):
    changed = [
        (new.path, tuple(old.shape), tuple(new.shape))
        for old, new in zip(reference.weights, model.weights)
        if tuple(old.shape) != tuple(new.shape)
    ]
    if changed or len(reference.weights) != len(model.weights):
        shown = "; ".join(f"{name}: {old} -> {new}" for name, old, new in changed[:4])
        raise ValueError(
            f"override(s) {sorted(overrides)} change the shape of weights ({shown or 'the number of weights'}), "
            "so the published weights cannot load. Pass weights=False to build the new architecture only, "
            "or fine-tune with tools/finetune.py (e.g. --bits) to get trained weights of the new shape."
        )


def _verify_weights(weights_file, expected, other_expected=None, where=""):
    actual = sha256_file(weights_file)
    for wanted, source in ((expected, "metadata.json"), (other_expected, "the preset registry")):
        if wanted is not None and actual != wanted:
            raise ValueError(
                f"{weights_file} does not match {source}{where}: expected sha256 {wanted}, got {actual}. "
                "The file is corrupted or was changed; it was not loaded."
            )


def load_preset_dir(path, weights=True, verify=True, compile=False, overrides=None, expected_sha256=None,
                    cached=False):
    """Rebuilds the model in preset folder `path` and loads its weights.

    The weights are read only after their sha256 matches `metadata.json` (and
    `expected_sha256`, the registry's value, when given). A mismatching file
    in the download cache (`cached=True`) is deleted.
    """
    path = check_preset_folder(path)
    overrides = dict(overrides or {})
    metadata = json.loads((path / METADATA_FILE).read_text())
    config, compile_config = _read_config(path)
    _check_overrides(config, overrides)
    model = keras.saving.deserialize_keras_object(_with_overrides(config, overrides) if overrides else config)

    weights_file, expected = None, None
    if weights is True:
        weights_file, expected = path / WEIGHTS_FILE, metadata.get("weights_sha256")
    elif weights not in (False, None):
        other = pathlib.Path(weights)
        if other.is_dir():
            check_preset_folder(other)
            weights_file = other / WEIGHTS_FILE
            expected = json.loads((other / METADATA_FILE).read_text()).get("weights_sha256")
        elif other.is_file() and other.name.endswith(".weights.h5"):
            weights_file = other
        else:
            raise ValueError(
                f"weights={weights!r}: expected True, False, a `.weights.h5` file or a preset folder, "
                "and no such file or folder exists."
            )
        expected_sha256 = None
    if weights_file is not None:
        if verify:
            try:
                _verify_weights(weights_file, expected, expected_sha256)
            except ValueError:
                if cached:
                    import shutil

                    shutil.rmtree(path, ignore_errors=True)
                raise
        if overrides:
            _refuse_shape_changes(model, keras.saving.deserialize_keras_object(config), overrides)
        model.load_weights(str(weights_file))
    if compile:
        # After the weights, so the optimizers' (absent) slots are not looked for in the file.
        if compile_config:
            model.compile_from_config(compile_config)
        else:
            model.compile()
    card = dict(metadata)
    card["source"] = str(path)
    if overrides:
        card["overrides"] = overrides
    model.card = card
    return model


# -- remote archives -------------------------------------------------------------------


def _split_url(url):
    parts = urllib.parse.urlsplit(url)
    fragment = urllib.parse.parse_qs(parts.fragment)
    sha = fragment.get("sha256", [None])[0]
    origin = urllib.parse.urlunsplit(parts._replace(fragment=""))
    return origin, sha, parts


def _archive_stem(origin):
    name = pathlib.PurePosixPath(urllib.parse.urlsplit(origin).path).name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name or "preset"


def download(origin, target, sha256=None):
    """Fetches `origin` to `target` with `keras.utils.get_file`, atomically.

    The bytes land in `.<target>.<random>.partial` beside `target`, are
    checked against `sha256`, fsynced and renamed; on any error the partial
    file is removed and `target` is untouched.
    """
    target = pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.partial"):
        stale.unlink(missing_ok=True)
    partial = target.parent / f".{target.name}.{uuid.uuid4().hex}.partial"
    try:
        try:
            keras.utils.get_file(
                fname=partial.name, origin=origin, file_hash=sha256, hash_algorithm="sha256",
                cache_dir=str(target.parent), cache_subdir=str(target.parent), force_download=True,
            )
        except ValueError as error:
            actual = sha256_file(partial) if partial.exists() else "(no file)"
            raise ValueError(
                f"the archive downloaded from {origin} does not match: expected sha256 {sha256}, got {actual}. "
                "It was deleted and not loaded."
            ) from error
        except Exception as error:  # get_file wraps URL errors in a bare Exception
            raise OSError(f"download of {origin} failed: {error}") from error
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def unpack(archive, folder):
    """Unpacks a preset archive into `folder`, through a temporary sibling folder."""
    folder = pathlib.Path(folder)
    with atomic_directory(folder, overwrite=True) as temp:
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(temp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ValueError(f"{archive} is not a readable preset archive (.tar.gz): {error}") from error
        entries = [p for p in temp.iterdir()]
        if len(entries) == 1 and entries[0].is_dir():
            for item in entries[0].iterdir():
                os.replace(item, temp / item.name)
            entries[0].rmdir()
        check_preset_folder(temp)
    return folder


def fetch_archive(url, sha256=None, name=None, cache=None, force_download=False, verify=True):
    """The unpacked cache folder of the preset archive at `url` (downloaded when needed)."""
    origin, fragment_sha, parts = _split_url(url)
    if parts.scheme not in URL_SCHEMES:
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} in {url!r}; use one of {list(URL_SCHEMES)}.")
    sha256 = sha256 or fragment_sha
    if sha256 is None and verify:
        raise ValueError(
            f"cannot verify {origin}: give the archive's sha256 as `{origin}#sha256=<64 hex digits>` "
            "(or pass verify=False to trust it unchecked)."
        )
    stem = name or _archive_stem(origin)
    key = f"{stem}-{sha256[:12]}" if sha256 else stem
    home = cache_dir(cache)
    folder = home / "presets" / key
    archive = home / "archives" / f"{key}.tar.gz"
    if force_download and is_offline():
        raise ValueError(f"force_download=True but {OFFLINE_ENV}=1 forbids the network; unset one of them.")
    if not force_download and (folder / CONFIG_FILE).is_file():
        return folder
    if not force_download and archive.is_file():
        actual = sha256_file(archive) if (sha256 and verify) else sha256
        if actual == sha256:
            return unpack(archive, folder)
        archive.unlink()
        message = (
            f"cached archive {archive} does not match: expected sha256 {sha256}, got {actual}. "
            "It was deleted and not loaded."
        )
        if is_offline():
            raise ValueError(message + f" {OFFLINE_ENV}=1, so it is not downloaded again; fetch {origin} by hand.")
        warnings.warn(message + " Downloading it again.", stacklevel=3)
    if is_offline():
        raise ValueError(
            f"{OFFLINE_ENV}=1: preset {stem!r} is not in the cache and hashzoo will not use the network. "
            f"Expected the unpacked folder {folder} or the archive {archive}"
            + (f" (sha256 {sha256})" if sha256 else "")
            + f". Fetch {origin} by hand and save it as {archive}, or unset {OFFLINE_ENV}."
        )
    download(origin, archive, sha256 if verify else None)
    return unpack(archive, folder)


# -- the public loader -----------------------------------------------------------------


def _is_url(text):
    return urllib.parse.urlsplit(text).scheme in URL_SCHEMES and "://" in text


def resolve(name_or_path, cache=None, force_download=False, verify=True):
    """Where a preset's files are: `(kind, location, registry entry or None, cached)`.

    kind is "folder" (a preset folder) or "keras" (a `.keras` file); cached
    is True for a folder unpacked into the download cache.
    """
    if isinstance(name_or_path, registry.Preset):
        entry = name_or_path
    else:
        text = str(name_or_path)
        entry = registry.get_preset(text) if registry.is_registered(text) else None
        if entry is None:
            if _is_url(text):
                folder = fetch_archive(text, cache=cache, force_download=force_download, verify=verify)
                return "folder", folder, None, True
            path = pathlib.Path(text).expanduser()
            if path.is_dir():
                return "folder", path, None, False
            if path.suffix == ".keras" and path.is_file():
                return "keras", path, None, False
            if _looks_valid(text):
                raise registry.unknown_name_error(text)
            if os.sep in text or text.startswith(".") or path.suffix:
                raise ValueError(
                    f"cannot load {text!r}: no such preset folder or `.keras` file at {path.resolve()}; "
                    "accepted forms: " + "; ".join(registry.FORMS) + "."
                )
            raise _parse_error(text)
    builtin = entry.builtin_path()
    if builtin is not None and (builtin / CONFIG_FILE).is_file():
        return "folder", builtin, entry, False
    if entry.url:
        folder = fetch_archive(entry.url, entry.archive_sha256, name=entry.name, cache=cache,
                               force_download=force_download, verify=verify)
        return "folder", folder, entry, True
    raise ValueError(
        f"preset {entry.name!r} is built in, but its folder {builtin} is missing. Built-in presets ship in "
        "the repository's pretrained/ folder: use a full git checkout of hashzoo."
    )


def _looks_valid(text):
    try:
        registry.parse_name(text)
    except ValueError:
        return False
    return True


def _parse_error(text):
    try:
        registry.parse_name(text)
    except ValueError as error:
        return ValueError(f"{error} Other accepted forms: " + "; ".join(registry.FORMS[1:]) + ".")
    return registry.unknown_name_error(text)


def load(name_or_path, *, weights=True, cache_dir=None, force_download=False, verify=True, compile=False,
         **overrides):
    """Loads a ready `HashingModel`.

    Args:
        name_or_path: a registered preset name (`hashzoo.list_presets()`), a
            local preset folder, a `.keras` file, or the URL of a preset
            archive (`file://`, `https://`, `http://`), optionally ending in
            `#sha256=<hex>` (required unless `verify=False`).
        weights: True loads the preset's weights; False builds the
            architecture only; a `.weights.h5` file or a preset folder loads
            those weights instead.
        cache_dir: the download cache (default `$HASHZOO_HOME`, else
            `$KERAS_HOME/hashzoo`, else `~/.keras/hashzoo`).
        force_download: fetch a remote archive again even when cached.
        verify: check sha256 values before anything is read.
        compile: compile the model with its default optimizers.
        **overrides: config keys to change (e.g. `langevin_steps=5`). One
            that changes the shape of a weight (bits, classes) is refused
            while weights load: fine-tune instead.

    Returns:
        A `HashingModel` with `encode`, `encode_packed`, `preprocess`,
        `preprocessing`, `code_bits`, `export_serving` and `card` (the
        preset's metadata).

    Raises:
        ValueError: an unknown or malformed name (with close matches and the
            accepted forms), a missing path, an unknown override, a sha256
            mismatch (with both hashes), or an offline cache miss (with the
            expected path).
    """
    kind, location, entry, cached = resolve(
        name_or_path, cache=cache_dir, force_download=force_download, verify=verify
    )
    if kind == "keras":
        if overrides:
            raise ValueError(f"overrides {sorted(overrides)} need a preset folder; {location} is a `.keras` file.")
        model = keras.saving.load_model(str(location), compile=compile)
        model.card = {"source": str(location)}
        return model
    model = load_preset_dir(
        location, weights=weights, verify=verify, compile=compile, overrides=overrides,
        expected_sha256=entry.sha256 if entry is not None else None, cached=cached,
    )
    if entry is not None:
        model.card = dict(model.card, preset=entry.name)
    return model
