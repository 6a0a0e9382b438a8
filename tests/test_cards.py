"""Model cards: seeds, floors on the same protocol, and what a preset does not claim (docs/zoo.md, "Model cards")."""

import importlib.util
import json
import math
import pathlib
import shutil

import pytest
from absl import flags

from hashzoo import data, methods
from hashzoo.training.config import load_config
from hashzoo.zoo import cards, floors, publish, registry

REPO = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = registry.list_presets(with_weights=True)
SECTIONS = ("## Seeds", "## Floors on the same protocol", "## What this model does not claim")


def _metadata(name):
    return json.loads((registry.get_preset(name).builtin_path() / "metadata.json").read_text())


def _section(card, title):
    start = card.index(title)
    end = card.find("\n## ", start + len(title))
    return card[start:] if end < 0 else card[start:end]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_card_has_seeds_floors_and_what_it_does_not_claim(name):
    card = (registry.get_preset(name).builtin_path() / "README.md").read_text()
    metadata = _metadata(name)
    assert [card.index(title) for title in SECTIONS] == sorted(card.index(title) for title in SECTIONS)
    headline = floors.headline_metric(metadata["evaluation"]["metrics"])
    value = metadata["evaluation"]["metrics"][headline]
    # Floors: both computed baselines, at the preset's bits and seed 0, on the headline metric, beside its value.
    record = metadata["floors"]
    assert record["protocol"] == metadata["protocol"]["id"] and record["metric"] == headline
    assert record["split_sha256"] == metadata["protocol"]["split_sha256"]
    assert record["supervised"] == methods.get_method(metadata["method"]).SUPERVISED
    section = _section(card, "## Floors on the same protocol")
    # The pixel baselines, then PCA-ITQ on the graph's features for a method that builds a graph from them.
    graph = floors.graph_features(metadata)
    expected = [shown for shown, _ in floors.BASELINES] + (
        [f"{floors.FEATURE_BASELINE[0]} on {graph[0]} features"] if graph else [])
    assert [row["baseline"] for row in record["baselines"]] == expected
    for row in record["baselines"][len(floors.BASELINES):]:
        assert row["features"]["extractor"] == graph[0] and row["features"]["weights"] == graph[1]
        assert f"- {row['baseline']}: PCA-ITQ at {row['bits']} bits (seed 0) fitted on the train part's rows" \
            in section
    for row in record["baselines"]:
        assert (row["bits"], row["seed"], row["metric"]) == (metadata["code_bits"], floors.SEED, headline)
        assert f"| {row['baseline']} ({row['bits']} bits, seed 0, computed) | {row['value']:.4f} | {value:.4f} |" \
            in section
    measured = floors.classifier_floors(record["protocol"])
    if not record["supervised"]:
        assert "This method is unsupervised" in section
    elif measured:
        assert all(f"| {floor.value_text()} | {value:.4f} |" in section for floor in measured)
    else:
        assert f"no measured classifier floor exists for protocol `{record['protocol']}`" in section
    # Seeds: the published one always; the others when recorded.
    seeds = _section(card, "## Seeds")
    assert f"- Published seed: {metadata['config']['seed']}" in seeds
    if len((metadata.get("seeds") or {}).get("runs", [])) > 1:
        assert "(mean ± sample std, n − 1)" in seeds
    else:
        assert "- One seed trained; other seeds not recorded with this preset." in seeds
    # What it does not claim: the method's own list, at least its unconditional items.
    claims = _section(card, "## What this model does not claim")
    items = registry.method_info(metadata["method"]).get("does_not_claim")
    assert items, f"METHOD of {metadata['method']!r} has no does_not_claim list"
    assert all(f"- {item}" in claims for item in items if isinstance(item, str))


def test_the_recorded_floors_of_a_digits_preset_equal_a_fresh_computation():
    metadata = _metadata("coophash-digits-32")
    fresh = floors.baseline_floors(metadata)
    recorded = metadata["floors"]
    assert {key: recorded[key] for key in fresh if key != "baselines"} == \
        {key: value for key, value in fresh.items() if key != "baselines"}
    for old, new in zip(recorded["baselines"], fresh["baselines"], strict=True):
        assert {k: v for k, v in old.items() if k != "value"} == {k: v for k, v in new.items() if k != "value"}
        assert math.isclose(old["value"], new["value"], abs_tol=1e-9), (old, new)
    assert fresh["fitted_on"]["items"] == metadata["protocol"]["train"]


def test_the_recorded_feature_floor_of_a_graph_preset_equals_a_fresh_computation():
    metadata = _metadata("bgan-digits-32")
    assert floors.graph_features(metadata) == ("pixels", None)
    fresh = floors.feature_floors(metadata)
    recorded = [row for row in metadata["floors"]["baselines"] if "features" in row]
    assert len(fresh) == len(recorded) == 1
    old, new = recorded[0], fresh[0]
    assert {k: v for k, v in old.items() if k != "value"} == {k: v for k, v in new.items() if k != "value"}
    assert math.isclose(old["value"], new["value"], abs_tol=1e-9), (old, new)
    assert new["features"]["extracted_from"]["items"] == metadata["protocol"]["query"] + \
        metadata["protocol"]["database"]  # digits: the database holds every non-query image


def test_only_unsupervised_methods_that_build_a_graph_from_features_get_a_feature_floor():
    assert floors.graph_features(_metadata("coophash-digits-32")) is None  # supervised
    assert floors.feature_floors(_metadata("coophash-digits-32")) == []
    assert floors.graph_features(_metadata("bgan-cifar10-32")) == ("kmeans+hog", None)
    no_extractor = _metadata("bgan-digits-32")
    del no_extractor["config"]["model"]["feature_extractor"]
    assert floors.graph_features(no_extractor) == ("pixels", None)  # the method's default
    given = _metadata("spah-digits-32")
    given["config"]["model"].update(feature_extractor="array:/no/such.npy")
    (row,) = floors.feature_floors(given)
    assert "value" not in row and "training images only" in row["features"]["not_computed"]


def test_a_feature_floor_takes_part_in_the_card_and_old_records_still_render():
    metadata = _metadata("bgan-digits-32")
    feature_rows = [row for row in metadata["floors"]["baselines"] if "features" in row]
    assert feature_rows
    # Old records, written before the feature floor existed, render as before.
    old = json.loads(json.dumps(metadata))
    old["floors"]["baselines"] = old["floors"]["baselines"][:len(floors.BASELINES)]
    card = cards.model_card(old)
    assert " features (" not in _section(card, "## Floors on the same protocol")
    assert "- LSH and PCA-ITQ: `hashzoo.baselines` at 32 bits" in card
    # A preset below the feature floor (and above the pixel ones) says so under what it does not claim.
    row = feature_rows[0]
    low = json.loads(json.dumps(metadata))
    pixel_floors = [r["value"] for r in low["floors"]["baselines"] if "features" not in r]
    low["floors"]["baselines"][-1]["value"] = max(pixel_floors) + 0.02
    low["evaluation"]["metrics"]["mAP@all"] = max(pixel_floors) + 0.01
    claims = _section(cards.model_card(low), "## What this model does not claim")
    assert f"is not above {row['baseline']} ({max(pixel_floors) + 0.02:.4f})." in claims
    # A feature floor that could not be computed says why.
    skipped = json.loads(json.dumps(metadata))
    skipped["floors"]["baselines"] = skipped["floors"]["baselines"][:len(floors.BASELINES)]
    skipped["floors"]["not_computed"] = [dict(row, features={"extractor": "array:x.npy",
                                                             "not_computed": "no features of the queries"})]
    skipped["floors"]["not_computed"][0].pop("value")
    assert f"- {row['baseline']}: not computed, since no features of the queries." in cards.model_card(skipped)


def _run_folder(root, name, metadata, **changes):
    folder = root / name
    folder.mkdir()
    other = json.loads(json.dumps(metadata))
    for dotted, value in changes.items():
        target = other
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        target[last] = value
    (folder / "metadata.json").write_text(json.dumps(other))
    return folder


def test_seed_runs_must_be_the_published_config_with_another_seed(tmp_path):
    metadata = _metadata("sadh-digits_mosaic-32")
    metric = "mAP@500"
    good = _run_folder(tmp_path, "s1", metadata, config__seed=1, evaluation__metrics={metric: 0.95})
    record = publish.seeds_record(metadata, [good])
    assert [(run["seed"], run["published"]) for run in record["runs"]] == [(0, True), (1, False)]
    assert record["metric"] == metric and record["runs"][1]["value"] == 0.95
    card = cards.model_card(dict(metadata, seeds=record))
    assert "seed 1 0.9500" in card and "- Over seeds 0, 1: mAP@500" in card

    epochs = _run_folder(tmp_path, "epochs", metadata, config__seed=2, config__epochs=20)
    with pytest.raises(ValueError, match=r"differs in config\.epochs: 20 there, 30 in the published run\. "
                                         r"Only `config\.seed` may differ"):
        publish.seeds_record(metadata, [epochs])
    override = _run_folder(tmp_path, "override", metadata, config__seed=2, config__model__margin="fixed")
    with pytest.raises(ValueError, match=r"differs in config\.model\.margin: 'fixed' there, None"):
        publish.seeds_record(metadata, [override])
    split = _run_folder(tmp_path, "split", metadata, config__seed=2, protocol__split_sha256="0" * 64)
    with pytest.raises(ValueError, match=r"protocol\.split_sha256"):
        publish.seeds_record(metadata, [split])
    with pytest.raises(ValueError, match="has seed 1, which is already recorded"):
        publish.seeds_record(metadata, [good, _run_folder(tmp_path, "again", metadata, config__seed=1)])


def _flag_errors(*args):
    """`tools/make_preset.py`'s flag check on `args`, in this process (the tool's own flags, fresh)."""
    spec = importlib.util.spec_from_file_location("make_preset_tool", REPO / "tools" / "make_preset.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    values = flags.FlagValues()
    tool.define_flags(values)
    argv = values(["make_preset.py", *args])
    return tool.flag_errors(values, argv)


def test_make_preset_checks_the_seed_and_floor_flags(tmp_path):
    errors = _flag_errors("--refresh", "--seed_runs", str(tmp_path / "no-such-run"), "--floors", "nohash-x-1")
    for text in ("--seed_runs goes with --publish or --add_seeds.", f"--seed_runs '{tmp_path / 'no-such-run'}' "
                 "does not exist", "--floors: unknown preset 'nohash-x-1'"):
        assert any(text in error for error in errors), (text, errors)
    errors = _flag_errors("--add_seeds", "sadh-digits_mosaic-32")
    assert any("--add_seeds needs --seed_runs" in error for error in errors), errors
    (tmp_path / "empty").mkdir()
    assert any("has no metadata.json" in error for error in _flag_errors(
        "--add_seeds", "sadh-digits_mosaic-32", "--seed_runs", str(tmp_path / "empty")))
    assert _flag_errors("--floors", "all") == [] and _flag_errors("--floors", "coophash-digits-32") == []


def test_the_classifier_floor_table_names_registered_protocols_commands_and_the_reporting_page():
    assert floors.CLASSIFIER_FLOORS
    for floor in floors.CLASSIFIER_FLOORS:
        protocol = data.get_protocol(floor.protocol)  # registered
        assert floor.metric == ("mAP@all" if protocol.k is None else f"mAP@{protocol.k}")
        assert floor.method in methods.list_models() and methods.get_method(floor.method).SUPERVISED
        assert f"tools/train.py --config {floor.config}" in floor.command
        name = floor.config.split(":")[0]
        assert (REPO / "zoo_configs" / f"{name}.py").is_file()
        assert load_config(floor.config).method == floor.method  # the variant exists and trains that method
        assert len(floor.seeds) == 1 or floor.std is not None
        # The number is the one its page reports, never a new one.
        page = (REPO / floor.docs).read_text()
        assert floor.value_text() in page or f"{floor.mean:.4f}" in page, (floor.docs, floor.value_text())


def test_a_card_says_why_a_protocol_has_no_measured_classifier_floor(monkeypatch):
    for protocol_id in floors.NOT_MEASURED:  # an entry names a registered protocol that has no floor
        assert protocol_id in data.list_protocols() and not floors.classifier_floors(protocol_id)
    metadata = _metadata("coophash-digits-32")
    protocol_id = metadata["protocol"]["id"]
    assert metadata["floors"].get("supervised") is not False  # a method a classifier floor would apply to
    section = lambda: _section(cards.model_card(metadata), "## Floors on the same protocol")  # noqa: E731
    assert floors.classifier_floors(protocol_id) and "no measured classifier floor" not in section()
    # Without its measured floor, the card says so, and why when NOT_MEASURED has the reason.
    monkeypatch.setattr(floors, "CLASSIFIER_FLOORS",
                        tuple(floor for floor in floors.CLASSIFIER_FLOORS if floor.protocol != protocol_id))
    assert (f"- Classifier floor: no measured classifier floor exists for protocol `{protocol_id}`.\n"
            in section() + "\n")
    monkeypatch.setattr(floors, "NOT_MEASURED", {protocol_id: "the one-hot floor has not been trained on it yet"})
    assert (f"- Classifier floor: no measured classifier floor exists for protocol `{protocol_id}`: the one-hot "
            "floor has not been trained on it yet." in section())


def test_a_run_folder_card_without_floors_or_seeds_says_so():
    metadata = _metadata("coophash-digits-32")
    for key in ("floors", "seeds"):
        metadata.pop(key, None)
    card = cards.model_card(metadata)
    assert all(title in card for title in SECTIONS)
    assert "- LSH and PCA-ITQ: not computed for this folder yet" in card
    assert "- One seed trained; other seeds not recorded with this preset." in card
    assert "- A seed-to-seed spread: one seed was trained" in card


def test_publish_records_floors_and_other_seeds_in_one_call(tmp_path):
    # A scratch checkout (as tests/test_presets.py's publishing tests use), a run folder and a seed-1 run.
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    shutil.copy(REPO / "README.md", repo / "README.md")
    methods_dir = repo / "hashzoo" / "methods" / "coophash"
    methods_dir.mkdir(parents=True)
    shutil.copy(registry.presets_file("coophash"), methods_dir / "coophash_presets.py")
    run = tmp_path / "runs" / "s0"
    shutil.copytree(registry.get_preset("coophash-digits-32").builtin_path(), run)
    metadata = json.loads((run / "metadata.json").read_text())
    for key in ("floors", "seeds"):
        metadata.pop(key, None)
    (run / "metadata.json").write_text(json.dumps(metadata))
    other = _run_folder(tmp_path / "runs", "s1", metadata, config__seed=1, evaluation__metrics={"mAP@all": 0.9})

    publish.publish(run, "coophash-digits-32.seeds", repo=repo, seed_runs=[other])
    target = repo / "pretrained" / "coophash-digits-32.seeds"
    written = json.loads((target / "metadata.json").read_text())
    assert [row["baseline"] for row in written["floors"]["baselines"]] == ["LSH", "PCA-ITQ"]
    assert written["floors"]["supervised"] is True
    assert [(r["seed"], r["run"]) for r in written["seeds"]["runs"]] == [(0, str(run)), (1, str(other))]
    card = (target / "README.md").read_text()
    assert "- Over seeds 0, 1: mAP@all" in card and "| PCA-ITQ (32 bits, seed 0, computed) |" in card
    assert publish.refresh(repo=repo, check=True) == []
