"""The preset registry: names, lookups, errors, and entries checked against their folders."""

import dataclasses
import importlib.util
import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import hashzoo
from hashzoo import methods, presets, registry

REPO = pathlib.Path(__file__).resolve().parents[1]

# Methods whose presets have not landed yet (issue 6). A method listed here must
# still get a `<method>_presets.py` with at least one preset; remove it then.
PENDING = set()
BASELINES = {"onehot"}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("coophash-cifar10-64", registry.ParsedName("coophash", "cifar10", 64)),
        ("bgan-digits-32.w2", registry.ParsedName("bgan", "digits", 32, "w2")),
        ("sadh-nuswide21-12", registry.ParsedName("sadh", "nuswide21", 12)),
    ],
)
def test_names_parse_into_their_parts(name, expected):
    parsed = registry.parse_name(name)
    assert parsed == expected and parsed.base == name.partition(".")[0]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("coophash-cifar10-x64", "bits must be a positive integer, got 'x64'"),
        ("coophash-cifar10-0", "bits must be a positive integer, got '0'"),
        ("coophash-cifar10-064", "bits must be a positive integer, got '064'"),
        ("coophash-cifar10", "expected 3 parts separated by '-', got 2"),
        ("coophash-cifar-10-64", "expected 3 parts separated by '-', got 4"),
        ("CoopHash-cifar10-64", "names are lower case"),
        ("9hash-cifar10-64", "method must be a lower-case word"),
        ("coophash-cifar$10-64", "dataset must be a lower-case word"),
        ("coophash-cifar10-64.", "the tag after '.'"),
    ],
)
def test_malformed_names_say_which_part_failed(name, reason):
    with pytest.raises(ValueError, match=re.escape(f"malformed preset name {name!r}: {reason}")):
        registry.parse_name(name)
    with pytest.raises(ValueError, match="local preset folder"):  # hashzoo.load adds the other forms
        hashzoo.load(name)


def test_unknown_names_list_close_matches_forms_and_how_to_list():
    with pytest.raises(ValueError) as error:
        hashzoo.load("coophash-digits-31")
    message = str(error.value)
    assert "unknown preset 'coophash-digits-31'" in message
    assert "'coophash-digits-32'" in message and "'coophash-digits-64'" in message
    for form in ("local preset folder", "`.keras` file", "file://", "https://", "#sha256="):
        assert form in message
    assert "hashzoo.list_presets()" in message
    # Up to five close matches, never more.
    assert message.split("Closest registered presets: ")[1].split(".")[0].count("'") <= 10


def test_list_presets_is_sorted_and_filters():
    names = hashzoo.list_presets()
    assert names == sorted(names) and {"coophash-digits-32", "coophash-digits-64"} <= set(names)
    assert hashzoo.list_presets("coophash-digits-*") == ["coophash-digits-32", "coophash-digits-64"]
    assert hashzoo.list_presets("*-64") == [n for n in names if n.endswith("-64")]
    assert hashzoo.list_presets("nothing-*") == []
    assert set(hashzoo.list_presets(with_weights=True)) <= set(names)


def test_registering_a_name_twice_is_an_error():
    existing = registry.get_preset("coophash-digits-32")
    with pytest.raises(ValueError, match="'coophash-digits-32' is already registered"):
        registry.register_preset(dataclasses.replace(existing))
    assert registry.get_preset("coophash-digits-32") is existing


def test_entries_are_frozen_and_checked_against_their_name():
    entry = registry.get_preset("coophash-digits-32")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.bits = 16
    with pytest.raises(ValueError, match="`bits` is 16 but the name says 32"):
        registry.make_preset("coophash-digits-32", {"protocol": "digits", "bits": 16})
    with pytest.raises(ValueError, match=r"unknown keys \['weights_url'\]"):
        registry.make_preset("coophash-digits-32", {"protocol": "digits", "weights_url": "x"})
    with pytest.raises(ValueError, match="needs the archive's `archive_sha256`"):
        registry.make_preset("coophash-digits-32", {"protocol": "digits", "url": "https://x/y.tar.gz"})


def test_a_name_without_tag_means_the_first_tagged_variant_with_weights(monkeypatch):
    base = registry.get_preset("coophash-digits-32")
    monkeypatch.setattr(registry, "_PRESETS", {})
    registry.register_preset(dataclasses.replace(base, name="coophash-toy-8.nothing", bits=8, dataset="toy",
                                                 tag="nothing", builtin=None, url=None))
    registry.register_preset(dataclasses.replace(base, name="coophash-toy-8.small", bits=8, dataset="toy",
                                                 tag="small"))
    registry.register_preset(dataclasses.replace(base, name="coophash-toy-8.large", bits=8, dataset="toy",
                                                 tag="large"))
    assert registry.get_preset("coophash-toy-8").name == "coophash-toy-8.small"
    assert registry.list_presets(with_weights=True) == ["coophash-toy-8.large", "coophash-toy-8.small"]
    with pytest.raises(ValueError, match="unknown preset 'coophash-toy-8.medium'"):
        registry.get_preset("coophash-toy-8.medium")


def test_presets_register_from_the_package_without_importing_the_method():
    code = (
        "import sys, hashzoo\n"
        "names = hashzoo.list_presets()\n"
        "assert 'coophash-digits-32' in names, names\n"
        "assert not any(m.startswith('hashzoo.methods.') for m in sys.modules), "
        "[m for m in sys.modules if m.startswith('hashzoo.methods.')]\n"
        "print(len(names))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(REPO.parent))
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_method_contributes_presets():
    deep_methods = [name for name in methods.list_models() if name not in BASELINES]
    with_files = {method for method, _ in registry.preset_files()}
    for method in deep_methods:
        count = len(hashzoo.list_presets(f"{method}-*"))
        if method in PENDING and count == 0:
            continue
        assert method in with_files, f"hashzoo/methods/{method}/{method}_presets.py is missing"
        assert count >= 1, f"{method}_presets.py registers no preset"
    assert not (PENDING & {m for m in deep_methods if hashzoo.list_presets(f"{m}-*")}), (
        "a PENDING method now has presets: remove it from PENDING")


@pytest.mark.parametrize("name", registry.list_presets())
def test_bits_in_the_name_equal_the_config_and_the_output_width(name):
    entry = registry.get_preset(name)
    model = hashzoo.load(name, weights=False)
    assert entry.bits == registry.parse_name(name).bits == model.code_bits
    folder = presets.resolve(name)[1]
    assert json.loads((folder / "config.json").read_text())["config"]["code_bits"] == entry.bits
    height, width = model.preprocessing.image_size
    z = np.asarray(model(np.zeros((2, height, width, model.preprocessing.channels), "float32")))
    assert z.shape == (2, entry.bits)
    assert model.encode(np.zeros((1, height, width, model.preprocessing.channels), "uint8")).shape == (1, entry.bits)


@pytest.mark.parametrize("name", registry.list_presets())
def test_entries_match_their_folders(name):
    entry = registry.get_preset(name)
    folder = presets.resolve(name)[1]
    metadata = json.loads((folder / "metadata.json").read_text())
    assert entry.sha256 == presets.sha256_file(folder / "model.weights.h5") == metadata["weights_sha256"]
    assert entry.size_bytes == (folder / "model.weights.h5").stat().st_size
    assert entry.protocol == metadata["protocol"]["id"]
    assert entry.preprocessing_dict == {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in json.loads((folder / "preprocessing.json").read_text()).items()
    }
    assert entry.license and entry.paper and entry.command == metadata["command"]
    assert {record.metric for record in entry.metrics} >= {"mAP@all", "P@100", "P@r<=2"}
    for record in entry.metrics:
        assert record.value == metadata["evaluation"]["metrics"][record.metric]
        assert record.protocol == entry.protocol and record.bits == entry.bits and record.tie_rule == "stable"


def test_generated_preset_docs_are_up_to_date():
    spec = importlib.util.spec_from_file_location("make_preset_tool", REPO / "tools" / "make_preset.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for path, text in tool.docs_text().items():
        assert pathlib.Path(path).read_text() == text, f"{path} is stale: run python tools/make_preset.py --docs"
    for name in registry.list_presets():
        assert f"`{name}`" in (REPO / "docs" / "presets.md").read_text()
