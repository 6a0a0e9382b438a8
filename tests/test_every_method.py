"""Every published method through every tool, parametrised over the method registry (timm's habit).

A method gets these tests by registering (a folder under `hashzoo/methods/`
whose `__init__.py` names its `MODEL`, with the `<method>_presets.py` that
tests/test_registry.py asks of every method but the floors) and shipping a
zoo config with a `smoke` variant on data that comes with hashzoo
(`zoo_configs/<method>_digits*.py`). The floors (onehot, multihot) are
trained for comparison and never published, so no preset of theirs is
fine-tuned or exported; their own tests cover training and saving.
For each method, one run goes through the path a user takes
(docs/zoo.md): the smoke config trains (`hashzoo.training.train`), the
preset it writes loads with identical codes and evaluates through the
shared evaluation function to the numbers its card records, it fine-tunes
for a few steps with a new code length (`hashzoo.finetune`), and the
fine-tuned model exports (`hashzoo.export`) and reloads with the codes of
`encode`. The steps share one run because each needs the one before; the
messages say which step failed.

What holds for every shipped preset is tested where the preset tests live:
its card's numbers equal a fresh evaluation
(tests/test_presets.py::test_shipped_presets_load_offline_and_reproduce_their_metrics),
the bits in its name equal the model's
(tests/test_registry.py::test_bits_in_the_name_equal_the_config_and_the_output_width) and
its export serves the codes of `encode`
(tests/test_export.py::test_every_shipped_preset_serves_the_codes_of_encode).
"""

import math

import numpy as np
import pytest

import hashzoo
from hashzoo import data, export, finetune, training
from hashzoo.models import HashingModel
from hashzoo.training.config import config_dir
from hashzoo.training.evaluation import evaluate_on_protocol
from hashzoo.zoo import registry
from tests.helpers import images_away_from_zero

#: Data sources that need no download, so every method's smoke run works offline.
BUNDLED_DATA = ("digits",)

#: The methods that publish presets: those with a `hashzoo/methods/<method>/<method>_presets.py`
#: (tests/test_registry.py::test_every_method_contributes_presets asks one of every method but the floors).
PUBLISHED_METHODS = [method for method, _ in registry.preset_files()]

#: Smoke runs train one epoch at this batch size at least: fewer, larger steps keep the file fast.
SMOKE_BATCH = 64


def smoke_config(method):
    """The `smoke` variant of the method's first zoo config (by file name) whose data ships with hashzoo."""
    names = sorted(path.stem for path in config_dir().glob(f"{method}_*.py"))
    for name in names:
        config = training.load_config(f"{name}:smoke")
        if config.method == method and config.data in BUNDLED_DATA:
            return name, config
    pytest.fail(f"method {method!r} has no zoo config with a smoke variant on {list(BUNDLED_DATA)} data "
                f"(looked at {names} in {config_dir()}); add zoo_configs/{method}_digits.py with get_config('smoke').")


def check_loads_with_identical_codes(model, folder, images, bits):
    """The preset folder loads as the same method and code length, with `model`'s codes."""
    loaded = hashzoo.load(folder)
    assert type(loaded) is type(model) and loaded.code_bits == bits, "load: another class or code length"
    np.testing.assert_array_equal(loaded.encode(images), model.encode(images), err_msg="load: codes differ")
    return loaded


def check_evaluation_matches_the_card(model, protocol, dataset):
    """The shared evaluation function, run afresh on the recorded split, gives the card's numbers."""
    card = model.card
    result, split = evaluate_on_protocol(model, protocol, dataset=dataset,
                                         expected_split_sha256=card["protocol"]["split_sha256"])
    recorded = card["evaluation"]["metrics"]
    assert set(result.metrics) == set(recorded), "evaluate: other metrics than the card's"
    for metric, value in result.metrics.items():
        assert math.isclose(value, recorded[metric], abs_tol=1e-9), ("evaluate", metric, value, recorded[metric])
    assert split["split_sha256"] == card["protocol"]["split_sha256"]


def check_finetuned(tuned, rows, parent, bits, parts_train):
    """New bits give new hash heads, the parent is named, stages ran again, data hooks saw the new data."""
    assert tuned.code_bits == bits, "fine-tune: the code length did not change"
    statuses = {name: status for name, status, _, _ in rows}
    for layer in tuned.hash_head_layers():
        name = finetune.layer_of(layer.weights[0].path)
        assert statuses[name] == finetune.REPLACED, ("fine-tune: hash head kept", name)
    assert finetune.LOADED in statuses.values(), "fine-tune: nothing of the parent was kept"
    card = tuned.card
    assert card["parent"]["weights_sha256"] == parent.card["weights_sha256"]
    assert card["parent"]["code_bits"] == parent.code_bits
    assert [(stage["name"], stage["skipped"]) for stage in card["stages"]] == [
        (stage.name, False) for stage in tuned.training_stages()], "fine-tune: the method's stages did not run again"
    prepares = type(tuned).prepare is not HashingModel.prepare
    assert bool(card["train_data"]) == prepares, "fine-tune: prepare's facts missing or unexpected"
    assert card["protocol"]["train"] == len(parts_train)


@pytest.mark.parametrize("method", PUBLISHED_METHODS)
def test_the_smoke_config_trains_loads_evaluates_finetunes_and_exports(method, tmp_path):
    _, config = smoke_config(method)
    config = config.replace(epochs=1, batch_size=max(config.batch_size, SMOKE_BATCH))
    protocol = data.get_protocol(config.protocol)
    dataset = data.load(config.data)
    query, train, _ = protocol.apply(dataset)
    images = query.images[:64]

    model, _ = training.train(config, tmp_path / "smoke", verbose=0, command="pytest")
    loaded = check_loads_with_identical_codes(model, tmp_path / "smoke", images, config.bits)
    check_evaluation_matches_the_card(loaded, protocol, dataset)

    bits = 2 * config.bits
    tuned, result, _, rows = finetune.finetune(
        tmp_path / "smoke", config.data, tmp_path / "tuned", bits=bits, epochs=1, steps_per_epoch=2,
        batch_size=config.batch_size, protocol=config.protocol, verbose=0, command="pytest",
    )
    assert result.bits == bits
    check_finetuned(tuned, rows, loaded, bits, train)
    reloaded = check_loads_with_identical_codes(tuned, tmp_path / "tuned", images, bits)

    served = images_away_from_zero(reloaded, images)
    assert len(served) >= 8, "export: too few images with codes away from 0 to compare"
    report = export.check_export(reloaded, reloaded.export_serving(tmp_path / "serving"), served)
    assert report["codes_mismatch"] == report["packed_mismatch"] == report["bytes_codes_mismatch"] == 0, report
