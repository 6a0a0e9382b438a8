"""The preset registry: named, published models as data (zoo spec §1, §2).

A preset name is `<method>-<dataset>-<bits>[.<tag>]`, lower case, e.g.
`coophash-digits-32` or `coophash-cifar10-64.resnet50`. Each method folder
`hashzoo/methods/<method>/` may hold a data-only `<method>_presets.py` with
two plain dicts:

    METHOD = {"paper": ..., "paper_url": ..., "bibtex": ..., "license": ...,
              "supervised": True}
    PRESETS = {"<method>-<dataset>-<bits>": {"protocol": ..., "builtin": ...,
               "sha256": ..., ...}}   # keys: the fields of `Preset`

The registry finds those files itself, the first time a preset is looked up:
it reads every `hashzoo/methods/*/<folder>_presets.py` as a plain module
(without importing the method's package, so listing presets never starts
TensorFlow). A new method registers by adding that one file; nothing has to
import it by hand. `tools/make_preset.py --entry` prints an entry for a
preset folder.

>>> from hashzoo import registry
>>> registry.parse_name("coophash-cifar10-64.resnet50")
ParsedName(method='coophash', dataset='cifar10', bits=64, tag='resnet50')
>>> registry.parse_name("coophash-cifar10-x64")
Traceback (most recent call last):
...
ValueError: malformed preset name 'coophash-cifar10-x64': bits must be a positive integer, got 'x64'. ...
>>> "coophash-digits-32" in registry.list_presets("coophash-digits-*")
True
"""

import dataclasses
import difflib
import fnmatch
import importlib.util
import pathlib
import re
import threading

#: The repository's folder of built-in presets (`<name>/config.json`, ...).
PRETRAINED_DIR = pathlib.Path(__file__).resolve().parents[1] / "pretrained"

_METHODS_DIR = pathlib.Path(__file__).resolve().parent / "methods"
_PART = re.compile(r"^[a-z][a-z0-9_]*$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9_]*$")

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


@dataclasses.dataclass(frozen=True)
class MetricRecord:
    """One headline number with everything needed to compare it (evaluation spec §6)."""

    metric: str
    value: float
    protocol: str
    bits: int
    tie_rule: str = "stable"
    zero_relevant: str = "count"
    seed: int = 0
    command: str = ""


@dataclasses.dataclass(frozen=True)
class Preset:
    """A registry entry: one published model (timm's `PretrainedCfg` in spirit).

    Args:
        name: `<method>-<dataset>-<bits>[.<tag>]`.
        method, dataset, bits, tag: the parts of the name (checked against it).
        protocol: id of the protocol the metrics were measured on.
        description: one line.
        backbone: the network family and width, e.g. `"coophash-conv-w0.5"`.
        preprocessing: the input contract (`image_size`, `channels`, `mean`,
            `std`, `resize`), as in `preprocessing.json`.
        builtin: folder name under `pretrained/`, or None.
        url: URL of the preset archive (`.tar.gz`), or None.
        sha256: sha256 of `model.weights.h5`.
        size_bytes: size of `model.weights.h5`.
        archive_sha256: sha256 of the archive at `url` (required with `url`).
        license, paper, paper_url: provenance.
        config: the zoo config file that trained it.
        command: the exact command that produced the weights.
        hashzoo_version, min_keras_version: versions.
        metrics: tuple of `MetricRecord`.
    """

    name: str
    method: str
    dataset: str
    bits: int
    protocol: str
    tag: str | None = None
    description: str = ""
    backbone: str = ""
    preprocessing: tuple = ()
    builtin: str | None = None
    url: str | None = None
    sha256: str = ""
    size_bytes: int = 0
    archive_sha256: str | None = None
    license: str = ""
    paper: str = ""
    paper_url: str = ""
    config: str = ""
    command: str = ""
    hashzoo_version: str = ""
    min_keras_version: str = ""
    metrics: tuple = ()

    @property
    def has_weights(self):
        """True when weights are published: a built-in folder or a URL."""
        return self.builtin is not None or self.url is not None

    @property
    def preprocessing_dict(self):
        return dict(self.preprocessing)

    def metric(self, name):
        """The value of headline metric `name` (e.g. `"mAP@all"`), or None."""
        for record in self.metrics:
            if record.metric == name:
                return record.value
        return None

    def builtin_path(self):
        return None if self.builtin is None else PRETRAINED_DIR / self.builtin


def make_preset(name, entry, method_info=None):
    """Builds a checked `Preset` from a `<method>_presets.py` dict entry."""
    parsed = parse_name(name)
    entry = dict(entry)
    method_info = method_info or {}
    fields = {field.name for field in dataclasses.fields(Preset)}
    unknown = sorted(set(entry) - fields)
    if unknown:
        raise ValueError(f"preset {name!r}: unknown keys {unknown}; allowed: {sorted(fields - {'name'})}.")
    for key, value in (("method", parsed.method), ("dataset", parsed.dataset), ("bits", parsed.bits),
                       ("tag", parsed.tag)):
        if key in entry and entry[key] != value:
            raise ValueError(f"preset {name!r}: `{key}` is {entry[key]!r} but the name says {value!r}.")
        entry[key] = value
    if "protocol" not in entry:
        raise ValueError(f"preset {name!r}: `protocol` (the id its metrics were measured on) is required.")
    if entry.get("url") and not entry.get("archive_sha256"):
        raise ValueError(f"preset {name!r}: a `url` needs the archive's `archive_sha256`.")
    if (entry.get("builtin") or entry.get("url")) and not re.fullmatch(r"[0-9a-f]{64}", entry.get("sha256", "")):
        raise ValueError(f"preset {name!r}: `sha256` of model.weights.h5 must be 64 hex digits.")
    entry.setdefault("license", method_info.get("license", ""))
    entry.setdefault("paper", method_info.get("paper", ""))
    entry.setdefault("paper_url", method_info.get("paper_url", ""))
    entry["preprocessing"] = tuple(
        (key, tuple(value) if isinstance(value, list) else value)
        for key, value in sorted(dict(entry.get("preprocessing", {})).items())
    )
    entry["metrics"] = tuple(
        record if isinstance(record, MetricRecord) else MetricRecord(**record) for record in entry.get("metrics", ())
    )
    return Preset(name=name, **entry)


# -- the registry ---------------------------------------------------------------

_PRESETS = {}
_METHOD_INFO = {}
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


def preset_files():
    """`(method, path)` of every `hashzoo/methods/<method>/<method>_presets.py`."""
    return [
        (folder.name, folder / f"{folder.name}_presets.py")
        for folder in sorted(_METHODS_DIR.iterdir())
        if (folder / f"{folder.name}_presets.py").is_file()
    ]


def _read_presets_file(method, path):
    spec = importlib.util.spec_from_file_location(f"hashzoo._presets_{method}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    presets = getattr(module, "PRESETS", None)
    if not isinstance(presets, dict):
        raise ValueError(f"{path} must define a dict PRESETS (name -> entry).")
    return dict(getattr(module, "METHOD", {})), presets


def _ensure_loaded():
    global _LOADED
    with _LOCK:
        if _LOADED:
            return
        found = []
        for method, path in preset_files():
            info, entries = _read_presets_file(method, path)
            _METHOD_INFO[method] = info
            for name, entry in entries.items():
                preset = make_preset(name, entry, info)
                if preset.method != method:
                    raise ValueError(f"{path}: preset {name!r} belongs to method {preset.method!r}, not {method!r}.")
                found.append(preset)
        for preset in found:
            register_preset(preset)
        _LOADED = True


def method_info(method):
    """The METHOD dict of `<method>_presets.py` (paper, license, ...); {} if none."""
    _ensure_loaded()
    return dict(_METHOD_INFO.get(method, {}))


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


# -- generated documentation ------------------------------------------------------

TABLE_START = "<!-- presets-table:start (generated by tools/make_preset.py --docs) -->"
TABLE_END = "<!-- presets-table:end -->"


def markdown_table():
    """A markdown table of every registered preset with its headline metrics."""
    lines = [
        "| preset | method | bits | protocol | mAP@all | P@100 | P@r<=2 | weights |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for preset in all_presets():
        values = [preset.metric(name) for name in ("mAP@all", "P@100", "P@r<=2")]
        cells = [f"{value:.4f}" if value is not None else "—" for value in values]
        where = f"`pretrained/{preset.builtin}`" if preset.builtin else (preset.url or "none")
        size = f" ({preset.size_bytes / 1e6:.1f} MB)" if preset.size_bytes else ""
        lines.append(
            f"| `{preset.name}` | {preset.method} | {preset.bits} | `{preset.protocol}` | "
            + " | ".join(cells) + f" | {where}{size} |"
        )
    lines += [
        "",
        "Metrics were measured on each protocol's query/database split with the stable tie rule (equal "
        "Hamming distances ranked by database index); P@r<=2 counts an empty radius-2 result as precision 0. "
        "`cifar10-subset` is the 6,102-image developer subset of CIFAR-10, not the standard `cifar10` protocol. "
        "`tests/test_presets.py` re-measures every row from the shipped weights.",
    ]
    return "\n".join(lines)
