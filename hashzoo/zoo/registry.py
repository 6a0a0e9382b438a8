"""The preset registry: which published weights exist and where they live (docs/zoo.md).

A preset name is `<method>-<dataset>-<bits>[.<tag>]`, lower case, e.g.
`coophash-digits-32` or `coophash-cifar10-64.resnet50`. A registry entry
holds only what identifies the weights: the name (method, dataset, bits, tag),
a one-line description, where the archive lives (its release URL, and the
folder under `pretrained/` in a checkout), the sha256 and size of
`model.weights.h5` and of the archive. Everything else (metrics, protocol,
preprocessing, training command, history) is in the preset's own
`metadata.json`, read from the folder once it is on disk.

Each method folder `hashzoo/methods/<method>/` may hold a `<method>_presets.py`
with a hand-written `METHOD` dict (title, paper, paper_url, bibtex, license)
and a `PRESETS` dict that `hashzoo.zoo.publish` generates (name -> entry
fields). The registry reads those files itself as plain modules, without
importing the method's package, so listing presets never starts TensorFlow,
and a method adds presets without touching any file outside its folder.

>>> from hashzoo.zoo import registry
>>> registry.parse_name("coophash-cifar10-64.resnet50")
ParsedName(method='coophash', dataset='cifar10', bits=64, tag='resnet50')
>>> registry.parse_name("coophash-cifar10-x64")
Traceback (most recent call last):
...
ValueError: malformed preset name 'coophash-cifar10-x64': bits must be a positive integer, got 'x64'. ...
>>> "coophash-digits-32" in registry.list_presets("coophash-digits-*")
True
>>> entry = registry.get_preset("coophash-digits-32")
>>> entry.url.endswith("/coophash-digits-32.tar.gz"), len(entry.weights_sha256)
(True, 64)
"""

import dataclasses
import difflib
import fnmatch
import importlib.util
import os
import pathlib
import re
import threading
import urllib.parse

#: The repository's folder of built-in presets (`<name>/config.json`, ...);
#: absent in an installed package, where presets come from their URL.
PRETRAINED_DIR = pathlib.Path(__file__).resolve().parents[2] / "pretrained"

#: Where published archives live: the project's release assets, one folder per version.
RELEASE_URL = "https://github.com/hashzoo/hashzoo/releases/download/v{version}/"

#: A mirror of the release assets: `<base>/<name>.tar.gz` replaces every preset's URL.
BASE_URL_ENV = "HASHZOO_PRESET_BASE_URL"

#: The folder of method folders, each maybe with a `<method>_presets.py`.
METHODS_DIR = pathlib.Path(__file__).resolve().parents[1] / "methods"
_PART = re.compile(r"^[a-z][a-z0-9_]*$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

FORMS = (
    "a registered preset name `<method>-<dataset>-<bits>[.<tag>]` (see hashzoo.list_presets())",
    "a local preset folder (config.json, model.weights.h5, metadata.json)",
    "a `.keras` file",
    "a `file://`, `https://` (or loopback `http://`) URL of a preset archive (.tar.gz), "
    "optionally ending in `#sha256=<hex>`",
)


@dataclasses.dataclass(frozen=True)
class ParsedName:
    method: str
    dataset: str
    bits: int
    tag: str | None = None

    @property
    def base(self):
        """The name without its tag."""
        return f"{self.method}-{self.dataset}-{self.bits}"


def _malformed(name, reason):
    return ValueError(
        f"malformed preset name {name!r}: {reason}. Preset names look like "
        "`<method>-<dataset>-<bits>[.<tag>]`, e.g. 'coophash-cifar10-64'; call hashzoo.list_presets() "
        "for the registered ones."
    )


def parse_name(name):
    """Splits a preset name into method, dataset, bits and tag.

    Raises:
        ValueError: naming the part that failed (method, dataset, bits, tag).
    """
    if not isinstance(name, str):
        raise ValueError(f"a preset name must be a string, got {name!r} (type {type(name).__name__}).")
    base, dot, tag = name.partition(".")
    if name != name.lower():
        raise _malformed(name, "names are lower case")
    if dot and not _TAG.match(tag):
        raise _malformed(name, f"the tag after '.' must be letters, digits or '_', got {tag!r}")
    parts = base.split("-")
    if len(parts) != 3:
        raise _malformed(name, f"expected 3 parts separated by '-', got {len(parts)}: {parts}")
    method, dataset, bits = parts
    if not _PART.match(method):
        raise _malformed(name, f"method must be a lower-case word like 'coophash', got {method!r}")
    if not _PART.match(dataset):
        raise _malformed(name, f"dataset must be a lower-case word like 'cifar10', got {dataset!r}")
    if not bits.isdigit() or int(bits) < 1 or bits != str(int(bits)):
        raise _malformed(name, f"bits must be a positive integer, got {bits!r}")
    return ParsedName(method, dataset, int(bits), tag or None)


def release_url(name, version):
    """The default URL of preset `name`'s archive, published with hashzoo `version`."""
    return RELEASE_URL.format(version=version) + f"{name}.tar.gz"


@dataclasses.dataclass(frozen=True)
class Preset:
    """A registry entry: the identity of one set of published weights (timm's `PretrainedCfg` in spirit).

    Args:
        name: `<method>-<dataset>-<bits>[.<tag>]`.
        method, dataset, bits, tag: the parts of the name.
        description: one line.
        builtin: folder name under `pretrained/` in a checkout, or None.
        url: URL of the preset archive (`.tar.gz`), or None.
        weights_sha256, weights_bytes: sha256 and size of `model.weights.h5`,
            checked before any weights are read, wherever they came from.
        archive_sha256, archive_bytes: sha256 and size of the archive at
            `url`, checked when it is downloaded.
    """

    name: str
    method: str
    dataset: str
    bits: int
    tag: str | None = None
    description: str = ""
    builtin: str | None = None
    url: str | None = None
    weights_sha256: str = ""
    weights_bytes: int = 0
    archive_sha256: str | None = None
    archive_bytes: int = 0

    @property
    def has_weights(self):
        """True when weights are published: a built-in folder or a URL."""
        return self.builtin is not None or self.url is not None

    def builtin_path(self):
        """`pretrained/<builtin>` of this checkout, or None (the folder may be absent)."""
        return None if self.builtin is None else PRETRAINED_DIR / self.builtin

    def archive_url(self):
        """Where to download the archive: `url`, or its file under `$HASHZOO_PRESET_BASE_URL` when set."""
        if self.url is None:
            return None
        base = os.environ.get(BASE_URL_ENV, "").strip()
        if not base:
            return self.url
        filename = pathlib.PurePosixPath(urllib.parse.urlsplit(self.url).path).name
        return base.rstrip("/") + "/" + filename


#: The keys a `<method>_presets.py` entry may hold (the rest comes from the name).
ENTRY_KEYS = ("description", "builtin", "url", "weights_sha256", "weights_bytes", "archive_sha256", "archive_bytes")


def make_preset(name, entry):
    """Builds a checked `Preset` from a `<method>_presets.py` dict entry."""
    parsed = parse_name(name)
    entry = dict(entry)
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise ValueError(f"preset {name!r}: unknown keys {unknown}; allowed: {list(ENTRY_KEYS)}.")
    if entry.get("url") and not _SHA256.match(entry.get("archive_sha256") or ""):
        raise ValueError(f"preset {name!r}: a `url` needs the archive's `archive_sha256` (64 hex digits).")
    if (entry.get("builtin") or entry.get("url")) and not _SHA256.match(entry.get("weights_sha256", "")):
        raise ValueError(f"preset {name!r}: `weights_sha256` of model.weights.h5 must be 64 hex digits, got "
                         f"{entry.get('weights_sha256', '')!r}.")
    return Preset(name=name, method=parsed.method, dataset=parsed.dataset, bits=parsed.bits, tag=parsed.tag,
                  **entry)


def entry_of(preset):
    """The `<method>_presets.py` dict of a `Preset` (the inverse of `make_preset`)."""
    return {key: getattr(preset, key) for key in ENTRY_KEYS if getattr(preset, key) not in (None, "", 0)}


# -- the per-method files ----------------------------------------------------------


def preset_files():
    """`(method, path)` of every `hashzoo/methods/<method>/<method>_presets.py`."""
    return [
        (folder.name, folder / f"{folder.name}_presets.py")
        for folder in sorted(METHODS_DIR.iterdir())
        if (folder / f"{folder.name}_presets.py").is_file()
    ]


def presets_file(method):
    """The path of `hashzoo/methods/<method>/<method>_presets.py` (it may not exist yet)."""
    return METHODS_DIR / method / f"{method}_presets.py"


def read_presets_file(path):
    """`(METHOD dict, PRESETS dict)` of a `<method>_presets.py`, run as a plain module."""
    spec = importlib.util.spec_from_file_location(f"hashzoo._presets_{pathlib.Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    presets = getattr(module, "PRESETS", {})
    info = getattr(module, "METHOD", {})
    if not isinstance(presets, dict) or not isinstance(info, dict):
        raise ValueError(f"{path} must define the dicts METHOD (paper, license, ...) and PRESETS (name -> entry).")
    return dict(info), dict(presets)


def method_info(method):
    """The METHOD dict (title, paper, paper_url, bibtex, license) of `method`; {} when it has no file.

    Read straight from `<method>_presets.py`; the registered presets are not
    looked at, so a preset folder can be written before its entry exists.
    """
    path = presets_file(method)
    return read_presets_file(path)[0] if path.is_file() else {}


# -- the registry ---------------------------------------------------------------

_PRESETS = {}
_LOADED = False
_LOCK = threading.RLock()


def register_preset(preset):
    """Adds a `Preset`; registering a name twice is an error."""
    if not isinstance(preset, Preset):
        raise ValueError(f"expected a Preset, got {type(preset).__name__}.")
    with _LOCK:
        if preset.name in _PRESETS:
            raise ValueError(
                f"preset {preset.name!r} is already registered (from method {_PRESETS[preset.name].method!r}); "
                "preset names must be unique."
            )
        _PRESETS[preset.name] = preset
    return preset


def _ensure_loaded():
    global _LOADED
    with _LOCK:
        if _LOADED:
            return
        found = []
        for method, path in preset_files():
            for name, entry in read_presets_file(path)[1].items():
                preset = make_preset(name, entry)
                if preset.method != method:
                    raise ValueError(f"{path}: preset {name!r} belongs to method {preset.method!r}, not {method!r}.")
                found.append(preset)
        for preset in found:
            register_preset(preset)
        _LOADED = True


def reload():
    """Forgets every registered preset; the next lookup reads the `<method>_presets.py` files again."""
    global _LOADED
    with _LOCK:
        _PRESETS.clear()
        _LOADED = False


def list_presets(pattern=None, with_weights=False):
    """Sorted preset names, optionally filtered.

    Args:
        pattern: an fnmatch pattern, e.g. `"coophash-*"` or `"*-64"`.
        with_weights: only presets whose weights are published.
    """
    _ensure_loaded()
    names = [
        name for name, preset in _PRESETS.items()
        if (pattern is None or fnmatch.fnmatchcase(name, pattern)) and (preset.has_weights or not with_weights)
    ]
    return sorted(names)


def unknown_name_error(name):
    """The ValueError for a name that is neither registered nor a path."""
    _ensure_loaded()
    close = difflib.get_close_matches(str(name), list(_PRESETS), n=5, cutoff=0.5)
    hint = f" Closest registered presets: {', '.join(repr(c) for c in close)}." if close else ""
    return ValueError(
        f"unknown preset {str(name)!r}.{hint} Accepted forms: " + "; ".join(FORMS)
        + ". Call hashzoo.list_presets() to see every registered preset."
    )


def get_preset(name):
    """The `Preset` for `name`; without a tag, the first tagged variant with weights.

    Raises:
        ValueError: a malformed name (says which part failed) or an unknown
            one (lists close matches and the accepted forms).
    """
    _ensure_loaded()
    if isinstance(name, Preset):
        return name
    if name in _PRESETS:
        return _PRESETS[name]
    parsed = parse_name(name)
    if parsed.tag is None:
        for candidate in _PRESETS.values():  # registration order (timm's rule)
            if candidate.name.partition(".")[0] == parsed.base and candidate.has_weights:
                return candidate
    raise unknown_name_error(name)


def is_registered(name):
    _ensure_loaded()
    try:
        get_preset(name)
    except ValueError:
        return False
    return True


def all_presets():
    """Every registered `Preset`, sorted by name."""
    _ensure_loaded()
    return [_PRESETS[name] for name in sorted(_PRESETS)]
