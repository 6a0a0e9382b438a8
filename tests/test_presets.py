"""Shipped presets, `hashzoo.load` from every source, the download cache, offline mode."""

import contextlib
import dataclasses
import functools
import http.server
import json
import math
import os
import pathlib
import shutil
import threading

import numpy as np
import pytest

import hashzoo
from hashzoo import data
from hashzoo.training.evaluation import evaluate_on_protocol
from hashzoo.zoo import cards, presets, publish, registry

REPO = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = registry.list_presets(with_weights=True)
MB = 1_000_000


# -- shipped presets ---------------------------------------------------------------


def _metadata(name):
    return json.loads((registry.get_preset(name).builtin_path() / "metadata.json").read_text())


def _remeasure(model, metadata):
    """`evaluate_on_protocol` on the data and split the metadata records (skips without the CIFAR subset)."""
    if metadata["data"] == "cifar10-subset" and not data.cifar10_subset_dir().is_dir():
        pytest.skip(f"the CIFAR-10 developer subset is not at {data.cifar10_subset_dir()}")
    protocol = metadata["protocol"]
    return evaluate_on_protocol(model, protocol["id"], data=metadata["data"],
                                expected_split_sha256=protocol["split_sha256"])


def map_metric(protocol):
    """The protocol's mAP: `mAP@all`, or `mAP@K` for protocols that rank the top K (the mosaics: 500)."""
    return "mAP@all" if protocol.k is None else f"mAP@{protocol.k}"


def reproduce_params():
    """Every shipped preset; beyond the first CIFAR-10 preset of each method (32 bits first), behind --run-slow.

    Encoding the 6,102 CIFAR images takes 8-25 s a preset on 2 CPU cores. The digits presets and one
    CIFAR preset per method re-measure every method's weights, metrics and protocol in the default run.
    """
    first_cifar = {}
    for name in sorted(SHIPPED, key=lambda n: (registry.get_preset(n).bits != 32, n)):
        entry = registry.get_preset(name)
        if entry.dataset.startswith("cifar10"):
            first_cifar.setdefault(entry.method, name)
    return [pytest.param(name, marks=() if not registry.get_preset(name).dataset.startswith("cifar10")
                         or name in first_cifar.values() else pytest.mark.slow) for name in SHIPPED]


@pytest.mark.parametrize("name", reproduce_params())
def test_shipped_presets_load_offline_and_reproduce_their_metrics(name, monkeypatch):
    monkeypatch.setenv("HASHZOO_OFFLINE", "1")
    entry = registry.get_preset(name)
    model = hashzoo.load(name)
    assert model.card["preset"] == name and model.card["weights_sha256"] == entry.weights_sha256
    metadata = _metadata(name)
    result, split = _remeasure(model, metadata)
    assert {key: split[key] for key in metadata["protocol"]} == metadata["protocol"]
    recorded = metadata["evaluation"]["metrics"]
    headline = {m if m != "mAP@all" else map_metric(data.get_protocol(metadata["protocol"]["id"]))
                for m in publish.HEADLINE}
    assert set(recorded) == set(result.metrics) >= headline
    # A code bit whose pre-sign value lies within float rounding of 0 can flip on another CPU (docs/zoo.md,
    # "Publishing"): on coophash-cifar10-32 one such flip moved mAP@all by 5e-6 and P@100 by 1e-5.
    # 1e-4 allows a few flips; wrong weights, preprocessing or split move the metrics by 1e-2 or more.
    for metric, value in result.metrics.items():
        assert math.isclose(value, recorded[metric], abs_tol=1e-4), (metric, value, recorded[metric])
    assert result.tie_rule == metadata["evaluation"]["tie_rule"] == "stable"


def test_shipped_presets_are_small_and_complete():
    total = 0
    for name in SHIPPED:
        folder = registry.get_preset(name).builtin_path()
        assert sorted(p.name for p in folder.iterdir()) == sorted(presets.PRESET_FILES), name
        size = sum(p.stat().st_size for p in folder.iterdir())
        assert size < 10 * MB, f"{name} is {size / MB:.1f} MB"
        total += size
    everything = sum(p.stat().st_size for p in (REPO / "pretrained").rglob("*") if p.is_file())
    assert everything < 80 * MB, f"pretrained/ is {everything / MB:.1f} MB"


@pytest.mark.parametrize("name", SHIPPED)
def test_model_cards_say_data_metrics_tie_rule_command_license_and_paper(name):
    entry = registry.get_preset(name)
    card = (entry.builtin_path() / "README.md").read_text()
    metadata = _metadata(name)
    protocol = data.get_protocol(metadata["protocol"]["id"])
    average_precision = map_metric(protocol)
    for text in (f"# {name}", f"Protocol `{protocol.id}`: {protocol.description}", average_precision, "P@100", "P@r<=2",
                 "tie rule `stable`", metadata["command"], "Apache-2.0", f'hashzoo.load("{name}")',
                 protocols_data_family(protocol.dataset)["description"]):
        assert text in card, text
    assert "arXiv" in card or "doi" in card, "the card cites the paper by arXiv id or DOI"
    assert f"| {average_precision} | {metadata['evaluation']['metrics'][average_precision]:.4f} |" in card
    if protocol.note:
        assert protocol.note in card
    if protocol.id == "digits":
        assert "scikit-learn" in card and "BSD-3-Clause" in card
    if protocol.id == "cifar10-subset":
        assert "6,102-image" in card and "`cifar10` protocol" in card and "full download" in card


@pytest.mark.parametrize("name", SHIPPED)
def test_cards_say_which_epoch_was_published_and_old_presets_still_render(name):
    metadata = _metadata(name)
    card = (registry.get_preset(name).builtin_path() / "README.md").read_text()
    assert card == cards.model_card(metadata)
    if "checkpoint" not in metadata:  # written before training recorded its selection
        assert f"- Published weights: {cards.SELECTION_NOT_RECORDED}." in card
    else:
        assert f"- Published weights: epoch {metadata['checkpoint']['epoch']} of " in card


def test_a_card_shows_the_selection_the_validation_curve_an_early_stop_and_a_resume():
    metadata = dict(_metadata("coophash-digits-32"))
    curve = [0.41, 0.55, 0.62, float("nan"), 0.70, 0.66]
    metadata.update(
        checkpoint={"selection": "best on validation", "metric": "mAP@all", "epoch": 5, "score": 0.70,
                    "validation": curve, "epochs_completed": 6},
        stopped={"reason": "non-finite", "epoch": 7, "step": 12, "values": ["loss"], "message": "..."},
        resumed=True,
        stages=[{"name": "labels", "seconds": 3.21, "facts": {}, "skipped": True}],
        input={"source": "my_images", "native_shapes": [[28, 28, 1]], "contract": [32, 32, 1], "resized": True,
               "channels_converted": False, "adapted_by": "model preprocessing"},
        protocol=dict(metadata["protocol"], validation=150),
    )
    card = cards.model_card(metadata)
    for text in (
        "- Published weights: epoch 5 of 6 completed, the best on the validation split by mAP@all "
        "(150 validation queries searched against the train split; 0.7000).",
        "- Validation mAP@all by epoch: `", "0.4100, 0.5500, 0.6200, n/a, 0.7000, 0.6600.",
        "highest 0.7000 (epoch 5)",
        "- Stopped early: loss became non-finite at epoch 7, step 12",
        "- Resumed: yes", "`labels` (3.2 s, done before a resume)",
        "- Training images: 28×28×1, adapted to the input contract 32×32×1 (resized, by model preprocessing).",
        "/ 150 validation /",
    ):
        assert text in card, text
    curve_line = next(line for line in card.splitlines() if line.startswith("- Validation"))
    marks = curve_line.split("`")[1]
    assert len(marks) == 6 and marks[3] == "·" and marks[0] == "▁" and marks[4] == "█"
    # A run the protocol gave no validation split, never stopped, never resumed; a long curve stays one line.
    metadata.update(checkpoint={"selection": "last epoch", "metric": None, "epoch": 200, "score": None,
                                "validation": [None] * 200, "epochs_completed": 200}, stopped=None, resumed=False)
    card = cards.model_card(metadata)
    assert "- Published weights: epoch 200 of 200 completed, the last finished epoch" in card
    assert "- Stopped early: no; 200 epoch(s) ran." in card and "- Resumed: no" in card
    assert "- Validation" not in card
    metadata["checkpoint"].update(selection="best on validation", metric="mAP@all",
                                  validation=[i / 200 for i in range(200)])
    line = next(line for line in cards.model_card(metadata).splitlines() if line.startswith("- Validation"))
    assert "(one mark per 4 epochs)" in line and len(line.split("`")[1]) == 50 and len(line) < 250


def protocols_data_family(dataset):
    from hashzoo.data import protocols

    family = protocols.data_family(dataset)
    assert family["description"], f"no data description for {dataset!r} in hashzoo.data.protocols.DATA_FAMILIES"
    return family


# -- local folders, overrides, corruption -------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    query, _, database = data.get_protocol("digits").apply(data.load_digits())
    return query, database


@pytest.fixture
def preset_copy(tmp_path):
    folder = tmp_path / "coophash-digits-32"
    shutil.copytree(registry.get_preset("coophash-digits-32").builtin_path(), folder)
    return folder


def _flip_byte(path):
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        byte = handle.read(1)
        handle.seek(size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_folder_name_and_weights_forms_give_the_same_model(preset_copy, digits):
    query, _ = digits
    by_name = hashzoo.load("coophash-digits-32")
    by_folder = hashzoo.load(preset_copy)
    other_weights = hashzoo.load("coophash-digits-32", weights=preset_copy)
    h5 = hashzoo.load("coophash-digits-32", weights=preset_copy / "model.weights.h5")
    expected = by_name.encode(query.images)
    for model in (by_folder, other_weights, h5):
        np.testing.assert_array_equal(model.encode(query.images), expected)
    untrained = hashzoo.load("coophash-digits-32", weights=False)
    assert untrained.code_bits == 32 and not np.array_equal(untrained.encode(query.images), expected)
    with pytest.raises(ValueError, match="expected True, False, a `.weights.h5` file or a preset folder"):
        hashzoo.load("coophash-digits-32", weights="/nonexistent.weights.h5")


def test_overrides_are_checked_and_shape_changes_refused_with_weights(digits):
    query, _ = digits
    with pytest.raises(ValueError, match=r"unknown override\(s\) \['bitz'\].*valid keys: \[.*'code_bits'"):
        hashzoo.load("coophash-digits-32", bitz=16)
    with pytest.raises(ValueError, match=r"\['code_bits'\] change the shape of weights.*tools/finetune.py"):
        hashzoo.load("coophash-digits-32", code_bits=16)
    assert hashzoo.load("coophash-digits-32", weights=False, code_bits=16).code_bits == 16
    tweaked = hashzoo.load("coophash-digits-32", langevin_steps=3)
    assert tweaked.langevin_steps == 3 and tweaked.card["overrides"] == {"langevin_steps": 3}
    np.testing.assert_array_equal(tweaked.encode(query.images), hashzoo.load("coophash-digits-32").encode(query.images))


def test_a_corrupted_weights_file_is_refused_with_both_hashes(preset_copy, monkeypatch):
    expected = presets.sha256_file(preset_copy / "model.weights.h5")
    _flip_byte(preset_copy / "model.weights.h5")
    actual = presets.sha256_file(preset_copy / "model.weights.h5")
    with pytest.raises(ValueError, match=f"expected sha256 {expected}, got {actual}.*not loaded"):
        hashzoo.load(preset_copy)
    assert (preset_copy / "model.weights.h5").is_file(), "a user's own folder is never deleted"
    # A folder whose metadata agrees with changed weights still has to match the registry.
    metadata = json.loads((preset_copy / "metadata.json").read_text())
    metadata["weights_sha256"] = actual
    (preset_copy / "metadata.json").write_text(json.dumps(metadata))
    monkeypatch.setattr(registry, "PRETRAINED_DIR", preset_copy.parent)
    message = f"does not match the preset registry: expected sha256 {expected}, got {actual}"
    with pytest.raises(ValueError, match=message):
        hashzoo.load("coophash-digits-32")


def test_missing_paths_and_bad_folders_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="cannot load .*nothing/here.*accepted forms: a registered preset name"):
        hashzoo.load(str(tmp_path / "nothing" / "here"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"is not a hashzoo preset folder: missing \['config.json'"):
        hashzoo.load(tmp_path / "empty")


# -- archives, the cache and offline mode ---------------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    folder = registry.get_preset("coophash-digits-32").builtin_path()
    path = tmp_path_factory.mktemp("dist") / "coophash-digits-32.tar.gz"
    sha = presets.make_archive(folder, path)
    return path, sha


@pytest.fixture
def online(monkeypatch, tmp_path):
    monkeypatch.setenv("HASHZOO_OFFLINE", "0")
    monkeypatch.setenv("HASHZOO_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _cache_files(cache):
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def test_archives_are_reproducible(archive, tmp_path):
    path, sha = archive
    again = presets.make_archive(registry.get_preset("coophash-digits-32").builtin_path(), tmp_path / "again.tar.gz")
    assert again == sha == presets.sha256_file(path)


def test_file_url_downloads_once_then_loads_from_the_cache_offline(archive, online, digits, tmp_path, monkeypatch):
    path, sha = archive
    source = tmp_path / "served" / path.name
    source.parent.mkdir()
    shutil.copy(path, source)
    url = f"{source.as_uri()}#sha256={sha}"
    model = hashzoo.load(url)
    query, _ = digits
    expected = hashzoo.load("coophash-digits-32").encode(query.images)
    np.testing.assert_array_equal(model.encode(query.images), expected)
    key = f"coophash-digits-32-{sha[:12]}"
    unpacked = [f"presets/{key}/{name}" for name in sorted(presets.PRESET_FILES)]
    assert _cache_files(online) == [f"archives/{key}.tar.gz"] + unpacked
    source.unlink()
    monkeypatch.setenv("HASHZOO_OFFLINE", "1")
    np.testing.assert_array_equal(hashzoo.load(url).encode(query.images), expected)
    shutil.rmtree(online / "presets")  # the archive alone is enough: it is unpacked again, offline
    np.testing.assert_array_equal(hashzoo.load(url).encode(query.images), expected)


def test_a_hash_mismatch_is_refused_with_both_hashes_and_leaves_nothing(archive, online):
    path, sha = archive
    wrong = "0" * 64
    with pytest.raises(ValueError, match=f"expected sha256 {wrong}, got {sha}. It was deleted and not loaded"):
        hashzoo.load(f"{path.as_uri()}#sha256={wrong}")
    assert _cache_files(online) == []


def test_urls_need_a_hash_unless_verify_is_off(archive, online):
    path, _ = archive
    with pytest.raises(ValueError, match="cannot verify .*#sha256=<64 hex digits>"):
        hashzoo.load(path.as_uri())
    assert hashzoo.load(path.as_uri(), verify=False).code_bits == 32
    with pytest.raises(ValueError, match="unsupported URL scheme 'ftp'"):
        presets.fetch_archive("ftp://example.com/x.tar.gz#sha256=" + "0" * 64)


def test_offline_mode_names_the_expected_file_and_never_trusts_partial_downloads(archive, online, monkeypatch):
    path, sha = archive
    monkeypatch.setenv("HASHZOO_OFFLINE", "1")
    key = f"coophash-digits-32-{sha[:12]}"
    # What an interrupted download leaves behind: a partial file beside the target.
    (online / "archives").mkdir(parents=True)
    partial = online / "archives" / f".{key}.tar.gz.0123.partial"
    partial.write_bytes(path.read_bytes()[:1000])
    url = f"https://example.invalid/presets/coophash-digits-32.tar.gz#sha256={sha}"
    with pytest.raises(ValueError) as error:
        hashzoo.load(url)
    message = str(error.value)
    assert "HASHZOO_OFFLINE=1" in message and str(online / "archives" / f"{key}.tar.gz") in message
    assert "https://example.invalid/presets/coophash-digits-32.tar.gz" in message and sha in message
    # A truncated file under the final name (from another tool) is caught by its hash and deleted.
    truncated = online / "archives" / f"{key}.tar.gz"
    truncated.write_bytes(path.read_bytes()[:1000])
    bad = presets.sha256_file(truncated)
    with pytest.raises(ValueError, match=f"expected sha256 {sha}, got {bad}. It was deleted"):
        hashzoo.load(url)
    assert not truncated.exists() and not (online / "presets").exists()
    with pytest.raises(ValueError, match="force_download=True but HASHZOO_OFFLINE=1"):
        hashzoo.load(url, force_download=True)


def test_a_registered_remote_preset_downloads_by_name_from_a_mirror(archive, online, monkeypatch, digits, tmp_path):
    path, sha = archive
    entry = registry.get_preset("coophash-digits-32")
    remote = dataclasses.replace(entry, name="coophash-remote-32", dataset="remote", builtin=None,
                                 url="https://example.invalid/v0/coophash-remote-32.tar.gz", archive_sha256=sha)
    monkeypatch.setattr(registry, "_PRESETS", dict(registry._PRESETS))
    registry.register_preset(remote)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(path, mirror / "coophash-remote-32.tar.gz")
    monkeypatch.setenv("HASHZOO_PRESET_BASE_URL", mirror.as_uri())
    model = hashzoo.load("coophash-remote-32")
    query, _ = digits
    np.testing.assert_array_equal(model.encode(query.images), hashzoo.load(entry.name).encode(query.images))
    assert model.card["preset"] == "coophash-remote-32"
    # A cached folder whose weights were changed is refused and removed from the cache.
    cached = online / "presets" / f"coophash-remote-32-{sha[:12]}"
    _flip_byte(cached / "model.weights.h5")
    with pytest.raises(ValueError, match="expected sha256"):
        hashzoo.load("coophash-remote-32")
    assert not cached.exists()
    assert hashzoo.load("coophash-remote-32").code_bits == 32  # unpacked again from the verified archive


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate = False

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        if not self.truncate:
            return super().do_GET()
        body = (pathlib.Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])  # the connection drops half way


@contextlib.contextmanager
def serve_directory(directory, truncate=False):
    """Serves `directory` on a loopback HTTP server; yields its origin (tests/test_wheel.py uses it too)."""
    handler = type("Handler", (_Handler,), {"truncate": truncate})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_loopback_http_download_and_an_interrupted_one(archive, online, digits):
    path, sha = archive
    with serve_directory(path.parent, truncate=True) as origin:
        with pytest.raises(OSError, match="download of http://127.0.0.1:.* failed"):
            hashzoo.load(f"{origin}/{path.name}#sha256={sha}")
    assert _cache_files(online) == [], "an interrupted download must leave nothing behind"
    with serve_directory(path.parent) as origin:
        model = hashzoo.load(f"{origin}/{path.name}#sha256={sha}")
    query, _ = digits
    np.testing.assert_array_equal(model.encode(query.images), hashzoo.load("coophash-digits-32").encode(query.images))


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HASHZOO_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "k"))
    assert presets.cache_dir() == tmp_path / "h"
    monkeypatch.delenv("HASHZOO_HOME")
    assert presets.cache_dir() == tmp_path / "k" / "hashzoo"
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert presets.cache_dir() == tmp_path / "home" / ".keras" / "hashzoo"
    assert presets.cache_dir(tmp_path / "explicit") == tmp_path / "explicit"
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.warns(UserWarning, match="not writable"):
            assert presets.cache_dir(locked / "sub").name == "hashzoo"


def test_a_preset_without_a_weights_hash_is_refused_unless_verify_is_off(preset_copy, digits):
    metadata = json.loads((preset_copy / "metadata.json").read_text())
    del metadata["weights_sha256"]
    (preset_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="has no recorded sha256 .*not loaded.*verify=False"):
        hashzoo.load(preset_copy)
    query, _ = digits
    np.testing.assert_array_equal(hashzoo.load(preset_copy, verify=False).encode(query.images),
                                  hashzoo.load("coophash-digits-32").encode(query.images))


# -- publishing -----------------------------------------------------------------------------


@pytest.fixture
def checkout(tmp_path):
    """A scratch checkout to publish into: README.md, docs/ and the CoopHash presets file."""
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    shutil.copy(REPO / "README.md", repo / "README.md")
    methods = repo / "hashzoo" / "methods" / "coophash"
    methods.mkdir(parents=True)
    shutil.copy(registry.presets_file("coophash"), methods / "coophash_presets.py")
    return repo


def test_publish_writes_folder_archive_entry_and_tables_in_one_call(tmp_path, checkout, digits):
    # An older training run: weights file with optimizer slots, metadata without license or paper.
    old = tmp_path / "runs" / "old"
    shutil.copytree(registry.get_preset("coophash-digits-32").builtin_path(), old)
    compiled = hashzoo.load(old, compile=True)
    compiled.save_weights(str(old / "model.weights.h5"))
    metadata = json.loads((old / "metadata.json").read_text())
    for key in ("license", "paper", "paper_url", "preprocessing"):
        metadata.pop(key)
    metadata["weights_sha256"] = presets.sha256_file(old / "model.weights.h5")
    (old / "metadata.json").write_text(json.dumps(metadata))
    before = registry.presets_file("coophash").read_text()

    preset = publish.publish(old, "coophash-digits-32.again", repo=checkout, version="9.9.9",
                             command="python tools/make_preset.py --publish ...")
    target = checkout / "pretrained" / "coophash-digits-32.again"
    assert sorted(p.name for p in target.iterdir()) == sorted(presets.PRESET_FILES)
    written = json.loads((target / "metadata.json").read_text())
    assert (target / "model.weights.h5").stat().st_size < (old / "model.weights.h5").stat().st_size / 2
    assert written["published"]["source_weights_sha256"] == metadata["weights_sha256"]
    assert written["license"] == "Apache-2.0" and "arXiv" in written["paper"] and written["name"] == preset.name
    assert written["evaluation"] == metadata["evaluation"], "float32 publishing keeps the run's numbers"
    query, _ = digits
    np.testing.assert_array_equal(hashzoo.load(target).encode(query.images), compiled.encode(query.images))
    assert "optimizer state removed" in (target / "README.md").read_text()
    # The archive and the entry: identity only, with both hashes.
    archive = checkout / "dist" / "presets" / "coophash-digits-32.again.tar.gz"
    assert preset.archive_sha256 == presets.sha256_file(archive) and preset.archive_bytes == archive.stat().st_size
    assert preset.weights_sha256 == written["weights_sha256"] and preset.builtin == "coophash-digits-32.again"
    assert preset.url == "https://github.com/hashzoo/hashzoo/releases/download/v9.9.9/coophash-digits-32.again.tar.gz"
    info, entries = registry.read_presets_file(checkout / "hashzoo" / "methods" / "coophash" / "coophash_presets.py")
    assert entries["coophash-digits-32.again"] == registry.entry_of(preset)
    assert set(entries) == set(hashzoo.list_presets("coophash-*")) | {"coophash-digits-32.again"}
    assert "arXiv" in info["paper"]
    # The tables: the new row carries the numbers of its metadata.json.
    row = f"| `coophash-digits-32.again` | coophash | 32 | `digits` | {metadata['evaluation']['metrics']['mAP@all']:.4f} |"
    assert row in (checkout / "docs" / "presets.md").read_text() and row in (checkout / "README.md").read_text()
    assert publish.refresh(repo=checkout, check=True) == []
    assert registry.presets_file("coophash").read_text() == before, "the real checkout was not touched"
    assert not registry.is_registered("coophash-digits-32.again")
    with pytest.raises(ValueError, match="already exists; pass overwrite=True"):
        publish.publish(old, "coophash-digits-32.again", repo=checkout)
    with pytest.raises(ValueError, match="holds a 32-bit 'coophash' model; the name 'bgan-digits-32' says"):
        publish.publish(old, "bgan-digits-32", repo=checkout)


def test_a_card_change_moves_the_archive_hash_in_the_same_refresh(tmp_path, checkout, monkeypatch):
    name = "coophash-digits-32"
    folder = checkout / "pretrained" / name
    shutil.copytree(registry.get_preset(name).builtin_path(), folder)
    methods_file = checkout / "hashzoo" / "methods" / "coophash" / "coophash_presets.py"
    publish.refresh(repo=checkout)  # the scratch README's table lists only this checkout's presets
    assert publish.refresh(repo=checkout, check=True) == []
    before = registry.read_presets_file(methods_file)[1][name]
    weights = presets.sha256_file(folder / "model.weights.h5")

    original = cards.model_card
    monkeypatch.setattr(cards, "model_card", lambda metadata: original(metadata) + "\nOne more line.\n")
    # --check sees both: the card, and the entry whose archive will hold the new card.
    assert set(publish.refresh(repo=checkout, check=True)) == {folder / "README.md", methods_file}
    publish.refresh(repo=checkout)
    after = registry.read_presets_file(methods_file)[1][name]
    assert after["archive_sha256"] != before["archive_sha256"]
    assert after["archive_sha256"] == presets.make_archive(folder, tmp_path / "again.tar.gz")
    assert after["weights_sha256"] == before["weights_sha256"] == weights == presets.sha256_file(
        folder / "model.weights.h5"), "a card refresh never touches the weights"
    assert publish.refresh(repo=checkout, check=True) == []
    assert publish.write_archives(tmp_path / "dist", repo=checkout, names=[name])


def test_float16_publish_halves_the_file_and_records_the_metrics_of_the_stored_weights(tmp_path, checkout):
    source = registry.get_preset("coophash-digits-32").builtin_path()
    preset = publish.publish(source, "coophash-digits-32.half", repo=checkout, weights_dtype="float16")
    target = checkout / "pretrained" / preset.name
    written = json.loads((target / "metadata.json").read_text())
    assert (target / "model.weights.h5").stat().st_size < 0.6 * (source / "model.weights.h5").stat().st_size
    assert "float16" in (target / "README.md").read_text()
    assert written["published"]["source_metrics"] == _metadata("coophash-digits-32")["evaluation"]["metrics"]

    model = hashzoo.load(target)
    for variable in model.weights:
        if variable.dtype == "float32":
            value = np.asarray(variable)
            np.testing.assert_array_equal(value, value.astype(np.float16).astype(np.float32))
    result, _ = _remeasure(model, written)
    for metric, value in result.metrics.items():
        assert math.isclose(value, written["evaluation"]["metrics"][metric], abs_tol=1e-6), metric
    with pytest.raises(ValueError, match="weights_dtype must be one of"):
        publish.publish(source, "coophash-digits-32.other", repo=checkout, weights_dtype="int8")
