"""The preset registry: names, lookups, errors, identity-only entries checked against their folders."""

import dataclasses
import json
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import hashzoo
from hashzoo import methods
from hashzoo.zoo import presets, publish, registry

REPO = pathlib.Path(__file__).resolve().parents[1]

# Methods whose presets have not landed yet (issue 6). A method listed here must
# still get a `<method>_presets.py` with at least one preset; remove it then.
PENDING = set()
BASELINES = {"onehot", "multihot"}  # floors: trained for comparison, never published


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


def test_entries_are_frozen_and_hold_only_what_identifies_the_weights():
    entry = registry.get_preset("coophash-digits-32")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.bits = 16
    assert (entry.method, entry.dataset, entry.bits, entry.tag) == ("coophash", "digits", 32, None)
    # Metrics, protocol, preprocessing and commands live in metadata.json only.
    for key in ("protocol", "metrics", "preprocessing", "command", "bits", "sha256"):
        with pytest.raises(ValueError, match=rf"unknown keys \['{key}'\]; allowed: \['description'"):
            registry.make_preset("coophash-digits-32", {key: "x"})
    with pytest.raises(ValueError, match="a `url` needs the archive's `archive_sha256`"):
        registry.make_preset("coophash-digits-32", {"url": "https://x/y.tar.gz", "weights_sha256": "0" * 64})
    with pytest.raises(ValueError, match="`weights_sha256` of model.weights.h5 must be 64 hex digits, got ''"):
        registry.make_preset("coophash-digits-32", {"builtin": "coophash-digits-32"})
    assert registry.make_preset(entry.name, registry.entry_of(entry)) == entry


def test_the_mirror_variable_moves_every_archive_url(monkeypatch):
    entry = registry.get_preset("coophash-digits-32")
    monkeypatch.delenv(registry.BASE_URL_ENV, raising=False)
    assert entry.archive_url() == entry.url == registry.release_url(entry.name, hashzoo.__version__)
    assert entry.url == f"https://github.com/hashzoo/hashzoo/releases/download/v{hashzoo.__version__}/{entry.name}.tar.gz"
    monkeypatch.setenv(registry.BASE_URL_ENV, "http://127.0.0.1:8000/mirror/")
    assert entry.archive_url() == "http://127.0.0.1:8000/mirror/coophash-digits-32.tar.gz"


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
    folder = entry.builtin_path()
    assert entry.builtin == name and (folder / "config.json").is_file(), "every preset ships in pretrained/"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert entry.weights_sha256 == presets.sha256_file(folder / "model.weights.h5") == metadata["weights_sha256"]
    assert entry.weights_bytes == (folder / "model.weights.h5").stat().st_size == metadata["weights_bytes"]
    archive = presets.archive_bytes(folder)
    assert (entry.archive_sha256, entry.archive_bytes) == (presets.sha256_bytes(archive), len(archive))
    assert entry.url.startswith("https://") and entry.url.endswith(f"/{name}.tar.gz")
    assert entry.description and "\n" not in entry.description
    assert metadata["name"] == name and metadata["method"] == entry.method and metadata["code_bits"] == entry.bits
    info = registry.method_info(entry.method)
    # A citable identifier: an arXiv id, or a DOI where the paper has no arXiv version (SPAH).
    assert re.search(r"arXiv:\d{4}\.\d{4,5}|doi:10\.\d{4,}/\S+", info["paper"]), info["paper"]
    assert info["license"] and info["bibtex"].strip().startswith("@")
    assert "supervised" not in info, "the model class declares SUPERVISED; METHOD holds provenance only"


def test_generated_files_are_up_to_date():
    # What `python tools/make_preset.py --check` checks: cards, registry entries (with the
    # archives' sha256) and the preset tables all follow from pretrained/.
    stale = publish.refresh(check=True)
    assert stale == [], f"stale: {[str(p) for p in stale]}; run python tools/make_preset.py --refresh"
    page = (REPO / "docs" / "presets.md").read_text()
    for name in registry.list_presets():
        assert f"`{name}`" in page
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "make_preset.py"), "--check"], capture_output=True,
                          text=True, timeout=300, cwd=str(REPO))
    assert proc.returncode == 0 and "up to date" in proc.stdout, proc.stderr[-2000:]


def test_make_preset_checks_every_flag_before_reading_or_writing(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    before = {p: p.read_text() for p in (REPO / "docs" / "presets.md", registry.presets_file("coophash"))}
    tool = [sys.executable, str(REPO / "tools" / "make_preset.py")]
    proc = subprocess.run(tool + ["--publish", str(a_file), "--name", "coophash-digits-x32", "--archives", str(a_file),
                                  "--remeasure", "coophash-digits-31", "stray"],
                          capture_output=True, text=True, timeout=300, cwd=str(REPO))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for text in (f"error: --publish '{a_file}' is a file; expected the preset folder of a training run",
                 "error: --name: malformed preset name 'coophash-digits-x32'",
                 f"error: --archives '{a_file}' is a file", "error: --remeasure: unknown preset 'coophash-digits-31'",
                 "error: unexpected arguments ['stray']"):
        assert text in proc.stderr, text
    proc = subprocess.run(tool + ["--refresh", "--check", "--weights_dtype", "float16"], capture_output=True,
                          text=True, timeout=300, cwd=str(REPO))
    assert proc.returncode == 2
    assert "error: pass one of --refresh" in proc.stderr and "error: --weights_dtype goes with --publish only" \
        in proc.stderr
    proc = subprocess.run(tool + ["--publish", str(tmp_path), "--name", "coophash-digits-32", "--weights_dtype",
                                  "int8"], capture_output=True, text=True, timeout=300, cwd=str(REPO))
    assert proc.returncode == 2 and "error: flag --weights_dtype=int8: value should be one of" in proc.stderr
    assert {p: p.read_text() for p in before} == before


def test_a_method_adds_presets_inside_its_own_folder(monkeypatch, tmp_path):
    # A new method folder with a `<method>_presets.py` is all it takes: nothing else is edited.
    methods_dir = tmp_path / "methods"
    shutil.copytree(registry.METHODS_DIR, methods_dir, ignore=shutil.ignore_patterns("__pycache__"))
    (methods_dir / "toyhash").mkdir()
    entry = {"description": "a toy", "builtin": "toyhash-digits-8", "url": "https://example.invalid/toyhash-digits-8.tar.gz",
             "weights_sha256": "a" * 64, "weights_bytes": 1, "archive_sha256": "b" * 64, "archive_bytes": 2}
    (methods_dir / "toyhash" / "toyhash_presets.py").write_text(
        'METHOD = {"title": "Toy", "paper": "A toy. arXiv:0000.00000.", "license": "MIT"}\n'
        f"PRESETS = {{'toyhash-digits-8': {entry!r}}}\n"
    )
    monkeypatch.setattr(registry, "METHODS_DIR", methods_dir)
    monkeypatch.setattr(registry, "_PRESETS", {})
    monkeypatch.setattr(registry, "_LOADED", False)
    assert hashzoo.list_presets("toyhash-*") == ["toyhash-digits-8"]
    assert registry.get_preset("toyhash-digits-8").weights_bytes == 1
    assert registry.method_info("toyhash")["license"] == "MIT"
    assert "coophash-digits-32" in hashzoo.list_presets()


def test_save_preset_reads_the_method_file_not_the_registry(monkeypatch, tmp_path):
    model = hashzoo.load("coophash-digits-32")

    def refuse():
        raise AssertionError("save_preset looked at the registered presets")

    monkeypatch.setattr(registry, "_ensure_loaded", refuse)
    written = presets.save_preset(model, tmp_path / "saved", metadata={"method": "coophash", "code_bits": 32})
    assert written["license"] == "Apache-2.0" and "arXiv:2210.04288" in written["paper"]
    card = (tmp_path / "saved" / "README.md").read_text()
    assert "@article{doan2022coophash" in card
