"""Preset folders and `hashzoo.load`: a trained model as files (docs/zoo.md).

Layout (as keras-hub's):

    <name>/
      config.json          the serialized model (class + every constructor argument)
      model.weights.h5     model weights only (no optimizer state)
      preprocessing.json   the input contract
      metadata.json        provenance, metrics, sha256 of the weights
      README.md            model card

`load` accepts a registered preset name (`hashzoo.zoo.registry`), a local preset
folder, a `.keras` file, or the URL of a preset archive (`file://`,
`https://`, or `http://` on a trusted network), optionally ending in
`#sha256=<hex>`. Model cards come from `hashzoo.zoo.cards`. In a checkout,
registered presets load from the repository's `pretrained/` folder with no
network; an installed package fetches the preset's archive from its release
URL (or from `$HASHZOO_PRESET_BASE_URL/<name>.tar.gz`, a mirror) with
`keras.utils.get_file` into the cache: `$HASHZOO_HOME`, else
`$KERAS_HOME/hashzoo`, else `~/.keras/hashzoo` (the system temporary folder,
with a warning, when none is writable). With `HASHZOO_OFFLINE=1` nothing is
downloaded.

Every write is atomic: downloads go to a `.partial` name, are verified,
fsynced and renamed; archives unpack into a temporary sibling folder that is
renamed into place; preset folders are written the same way. An interrupted
run leaves nothing a later load would trust, and weights are read only after
their sha256 matches; a preset that records no sha256 for its weights is
refused unless the caller passes `verify=False`.
"""

import datetime
import gzip
import hashlib
import importlib
import io
import json
import os
import pathlib
import re
import tarfile
import tempfile
import urllib.parse
import uuid
import warnings
import zlib

import keras

from hashzoo.zoo import registry
from hashzoo.zoo.cards import model_card
from hashzoo.utils.io import atomic_directory, atomic_open, atomic_write_json, sha256_file  # noqa: F401 (public here too)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
PREPROCESSING_FILE = "preprocessing.json"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, PREPROCESSING_FILE, CARD_FILE)

HOME_ENV = "HASHZOO_HOME"
OFFLINE_ENV = "HASHZOO_OFFLINE"
URL_SCHEMES = ("file", "https", "http")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

# Config keys that are not constructor arguments a user would override.
_FIXED_KEYS = ("name", "trainable", "dtype")


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

    The license and paper default to the method's `METHOD` dict, read from
    its `<method>_presets.py` (`registry.method_info`); the registered
    presets are not consulted.
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


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def archive_bytes(folder, replace=None):
    """The bytes of the reproducible `.tar.gz` of preset folder `folder` (see `make_archive`).

    `replace` maps file names to the bytes to pack instead of the files on
    disk (`hashzoo.zoo.publish.refresh` packs a regenerated card it has not
    written yet).
    """
    folder = check_preset_folder(pathlib.Path(folder))
    replace = dict(replace or {})
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            names = {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")} | set(replace)
            for name in sorted(names):
                data = replace[name] if name in replace else (folder / name).read_bytes()
                info = tarfile.TarInfo(f"{folder.name}/{name}")
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_archive(folder, archive):
    """Packs preset folder `folder` into a reproducible `.tar.gz` at `archive`; returns its sha256.

    The archive holds one top folder named after `folder`, with files in
    sorted order, zero timestamps and owners, so the same files always give
    the same bytes (and sha256) with the same zlib.
    """
    data = archive_bytes(folder)
    with atomic_open(archive) as handle:
        handle.write(data)
    return sha256_bytes(data)


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


def check_hashing_model(model, source):
    """Raises `ValueError` unless `model` (read from `source`) is a hashzoo `HashingModel`.

    `hashzoo.load` returns models with `encode`, `encode_packed` and the
    input contract; any other Keras model is refused, naming its class.
    """
    from hashzoo.models import HashingModel

    if not isinstance(model, HashingModel):
        found = f"{type(model).__module__}.{type(model).__qualname__}"
        raise ValueError(
            f"{source} holds a {found}, not a hashzoo HashingModel (a model with encode, encode_packed and an "
            "input contract, as hashzoo.list_models() lists); hashzoo.load loads hashing models only. Load other "
            "Keras models with keras.saving.load_model."
        )
    return model


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


def verify_weights(weights_file, expected, registry_sha256=None, where=""):
    """Raises `ValueError` unless `weights_file` has the sha256 its preset records.

    Args:
        weights_file: the `model.weights.h5` about to be read.
        expected: `weights_sha256` from the folder's `metadata.json`, or None.
        registry_sha256: the registry's `weights_sha256` for a registered
            preset, or None.
        where: words naming the preset, for the message.

    A file with no recorded hash at all (neither given) is refused as well:
    nothing says it is the published one. `hashzoo.load(..., verify=False)`
    skips this check.
    """
    if expected is None and registry_sha256 is None:
        folder = pathlib.Path(weights_file).parent
        raise ValueError(
            f"{weights_file}{where} has no recorded sha256 (no `weights_sha256` in {folder / METADATA_FILE} and no "
            "registry entry), so nothing says these are the weights that were published; they were not loaded. "
            "Record the hash in metadata.json (hashzoo.zoo.presets.sha256_file), or, if you trust the file, opt "
            f"out explicitly with hashzoo.load({str(folder)!r}, verify=False)."
        )
    actual = sha256_file(weights_file)
    for wanted, source in ((expected, "metadata.json"), (registry_sha256, "the preset registry")):
        if wanted is not None and actual != wanted:
            raise ValueError(
                f"{weights_file} does not match {source}{where}: expected sha256 {wanted}, got {actual}. "
                "The file is corrupted or was changed; it was not loaded."
            )


def load_preset_dir(path, weights=True, verify=True, compile=False, overrides=None, expected_sha256=None,
                    cached=False):
    """Rebuilds the model in preset folder `path` and loads its weights.

    The weights are read only after their sha256 matches `metadata.json` (and
    `expected_sha256`, the registry's value, when given; see `verify_weights`).
    A `.weights.h5` file passed as `weights` is the caller's own choice and
    has no recorded hash, so it is read as it is. A mismatching file in the
    download cache (`cached=True`) is deleted.
    """
    path = check_preset_folder(path)
    overrides = dict(overrides or {})
    metadata = json.loads((path / METADATA_FILE).read_text())
    config, compile_config = _read_config(path)
    _check_overrides(config, overrides)
    model = keras.saving.deserialize_keras_object(_with_overrides(config, overrides) if overrides else config)
    check_hashing_model(model, path / CONFIG_FILE)

    weights_file, expected, check = None, None, verify
    if weights is True:
        weights_file, expected = path / WEIGHTS_FILE, metadata.get("weights_sha256")
    elif weights not in (False, None):
        other = pathlib.Path(weights)
        if other.is_dir():
            check_preset_folder(other)
            weights_file = other / WEIGHTS_FILE
            expected = json.loads((other / METADATA_FILE).read_text()).get("weights_sha256")
        elif other.is_file() and other.name.endswith(".weights.h5"):
            weights_file, check = other, False
        else:
            raise ValueError(
                f"weights={weights!r}: expected True, False, a `.weights.h5` file or a preset folder, "
                "and no such file or folder exists."
            )
        expected_sha256 = None
    if weights_file is not None:
        if check:
            try:
                verify_weights(weights_file, expected, expected_sha256)
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
    """`(origin without the fragment, sha256 from `#sha256=` or None, urlsplit parts)`.

    The only fragment accepted is one `sha256=<64 hex digits>`; anything else
    is refused here, before any download.
    """
    parts = urllib.parse.urlsplit(url)
    origin = urllib.parse.urlunsplit(parts._replace(fragment=""))
    if not parts.fragment:
        return origin, None, parts
    fragment = urllib.parse.parse_qs(parts.fragment, keep_blank_values=True)
    unknown = sorted(set(fragment) - {"sha256"})
    if unknown or len(fragment.get("sha256", [])) != 1:
        raise ValueError(
            f"cannot read the fragment #{parts.fragment} of {url!r}: the only one accepted is "
            "`#sha256=<64 hex digits>` (the archive's sha256)."
        )
    sha = check_sha256(fragment["sha256"][0], f"the #sha256= of {url!r}")
    return origin, sha, parts


def check_archive_url(url):
    """`(origin, sha256 from #sha256= or None)` of a preset archive URL, checked without any download.

    Raises `ValueError` for a scheme other than `URL_SCHEMES` (listing them)
    and for a fragment other than `#sha256=<64 hex digits>`.
    """
    scheme = urllib.parse.urlsplit(str(url)).scheme
    if scheme not in URL_SCHEMES:
        raise ValueError(f"unsupported URL scheme {scheme!r} in {url!r}: preset archives load from "
                         + ", ".join(f"{s}://" for s in URL_SCHEMES) + " URLs only.")
    origin, sha, _ = _split_url(str(url))
    return origin, sha


def check_sha256(value, what):
    """`value` as 64 lower-case hex digits; `ValueError` naming `what` when it is not a sha256."""
    text = str(value).strip().lower()
    if not _SHA256.match(text):
        raise ValueError(f"{what} is {value!r}, which is not a sha256 (64 hex digits); nothing was downloaded.")
    return text


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


def unpack(archive, folder, origin=None):
    """Unpacks a preset archive into `folder`, through a temporary sibling folder.

    Errors name the archive (and `origin`, the URL it came from), never the
    temporary folder, which is removed.
    """
    folder = pathlib.Path(folder)
    where = f"preset archive {archive}" + (f" (from {origin})" if origin else "")
    with atomic_directory(folder, overwrite=True) as temp:
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(temp, filter="data")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
            detail = str(error).replace(str(temp), str(folder))
            raise ValueError(f"{where} is not a readable .tar.gz: {detail}") from None
        entries = [p for p in temp.iterdir()]
        if len(entries) == 1 and entries[0].is_dir():
            for item in entries[0].iterdir():
                os.replace(item, temp / item.name)
            entries[0].rmdir()
        missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE) if not (temp / name).is_file()]
        if missing:
            held = sorted(p.name for p in temp.iterdir())
            raise ValueError(
                f"{where} is not a hashzoo preset: it lacks {missing} (it holds {held}; expected one top folder "
                f"with {', '.join(PRESET_FILES)}). Nothing was unpacked."
            )
    return folder


def fetch_archive(url, sha256=None, name=None, cache=None, force_download=False, verify=True):
    """The unpacked cache folder of the preset archive at `url` (downloaded when needed)."""
    origin, fragment_sha = check_archive_url(url)
    if sha256 is not None:
        sha256 = check_sha256(sha256, f"the sha256 given for {origin}")
        if fragment_sha is not None and fragment_sha != sha256:
            raise ValueError(f"{url!r} ends in #sha256={fragment_sha} but the sha256 given with it is {sha256}; "
                             "they must agree.")
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
            return unpack(archive, folder, origin)
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
    return unpack(archive, folder, origin)


# -- the public loader -----------------------------------------------------------------


def is_url(text):
    """True for any `<scheme>://...` text; `check_archive_url` refuses the schemes `load` does not take."""
    return _URL.match(str(text)) is not None


def resolve(name_or_path, cache=None, force_download=False, verify=True):
    """Where a preset's files are: `(kind, location, registry entry or None, cached)`.

    kind is "folder" (a preset folder) or "keras" (a `.keras` file); cached
    is True for a folder unpacked into the download cache.
    """
    if isinstance(name_or_path, registry.Preset):
        entry = name_or_path
    else:
        if not isinstance(name_or_path, (str, os.PathLike)):
            raise TypeError(f"hashzoo.load takes a preset name, a path or a URL (a str or path), got "
                            f"{type(name_or_path).__name__} {name_or_path!r}.")
        text = str(name_or_path)
        if isinstance(name_or_path, str) and not text.strip():
            raise ValueError(
                f"cannot load {text!r}: the name is empty. Accepted forms: " + "; ".join(registry.FORMS)
                + ". (For a preset folder in the current folder, pass its path, e.g. '.'.)"
            )
        entry = registry.get_preset(text) if registry.is_registered(text) else None
        if entry is None:
            if is_url(text):
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
        folder = fetch_archive(entry.archive_url(), entry.archive_sha256, name=entry.name, cache=cache,
                               force_download=force_download, verify=verify)
        return "folder", folder, entry, True
    raise ValueError(
        f"preset {entry.name!r} has no published archive and its folder {builtin} is missing; it ships only "
        "in the repository's pretrained/ folder: use a full git checkout of hashzoo."
    )


def preset_metadata(name_or_path, cache=None):
    """The `metadata.json` of a preset (name, folder or archive URL) as a dict.

    Metrics, protocol, preprocessing, command and history live there and
    nowhere else. A registered preset that is not on disk is fetched first,
    as `load` would.
    """
    kind, location, _, _ = resolve(name_or_path, cache=cache)
    if kind != "folder":
        raise ValueError(f"{location} is a `.keras` file; only preset folders have a metadata.json.")
    return json.loads((location / METADATA_FILE).read_text())


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
        name_or_path: a registered preset name (`hashzoo.list_presets()`:
            `pretrained/<name>/` in a checkout, else its archive from the
            release URL or `$HASHZOO_PRESET_BASE_URL`), a local preset
            folder, a `.keras` file, or the URL of a preset archive
            (`file://`, `https://`, `http://`; other schemes are refused),
            optionally ending in `#sha256=<64 hex digits>` (required unless
            `verify=False`; a malformed one is refused before any download).
            An empty name is an error, not the current folder.
        weights: True loads the preset's weights; False builds the
            architecture only; a `.weights.h5` file or a preset folder loads
            those weights instead.
        cache_dir: the download cache (default `$HASHZOO_HOME`, else
            `$KERAS_HOME/hashzoo`, else `~/.keras/hashzoo`).
        force_download: fetch a remote archive again even when cached.
        verify: check sha256 values before anything is read. A preset
            folder whose metadata.json records no `weights_sha256` (and no
            registry entry) is refused, with an error naming the file and
            this flag; `verify=False` is the explicit opt-out: it skips every
            sha256 check (weights, archives, URLs without `#sha256=`), for
            files you trust.
        compile: compile the model with its default optimizers.
        **overrides: config keys to change (e.g. `langevin_steps=5`). One
            that changes the shape of a weight (bits, classes) is refused
            while weights load: fine-tune instead.

    Returns:
        A `HashingModel` with `encode`, `encode_packed`, `preprocess`,
        `preprocessing`, `code_bits`, `export_serving` and `card` (the
        preset's metadata).

    Raises:
        ValueError: an unknown, malformed or empty name (with close matches
            and the accepted forms), a missing path, an unsupported URL
            scheme, a malformed `#sha256=`, an unknown override, a sha256
            mismatch (with both hashes), weights with no recorded hash, a
            folder or `.keras` file that holds no `HashingModel` (naming the
            class found), an archive that is not a preset (naming the
            archive), or an offline cache miss (with the expected path).
        TypeError: `name_or_path` is not a string, path or registry `Preset`.
    """
    kind, location, entry, cached = resolve(
        name_or_path, cache=cache_dir, force_download=force_download, verify=verify
    )
    if kind == "keras":
        if overrides:
            raise ValueError(f"overrides {sorted(overrides)} need a preset folder; {location} is a `.keras` file.")
        if weights is not True:
            raise ValueError(f"weights={weights!r} needs a preset folder; {location} is a `.keras` file, which "
                             "always loads with the weights it holds.")
        model = check_hashing_model(keras.saving.load_model(str(location), compile=compile), location)
        model.card = {"source": str(location)}
        return model
    model = load_preset_dir(
        location, weights=weights, verify=verify, compile=compile, overrides=overrides,
        expected_sha256=entry.weights_sha256 if entry is not None else None, cached=cached,
    )
    if entry is not None:
        model.card = dict(model.card, preset=entry.name)
    return model
