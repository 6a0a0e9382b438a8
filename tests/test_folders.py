"""A folder named like a built-in data name never takes the name's place (`hashzoo.data.folders.is_builtin_name`).

`load(source)` resolves "digits", "cifar10-subset" and "tfds:<name>" before it
looks for a folder; every caller that asks `folder_kind` first (the run's
protocol, fine-tuning, `tools/evaluate.py`, the `--data` check) must agree.
"""

import pathlib
import sys
import types

import pytest

from hashzoo import data
from hashzoo.data import folders
from hashzoo.layers import Preprocessing
from hashzoo.utils import cli

REPO = pathlib.Path(__file__).resolve().parents[1]
NAMES = ("digits", "cifar10-subset", "tfds:mnist")


@pytest.fixture
def named_folders(tmp_path, monkeypatch):
    """A working folder holding class-folder trees named like every built-in name."""
    for name in NAMES:
        (tmp_path / name / "a").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_local_folder_named_digits_is_not_a_folder_source(named_folders):
    for name in NAMES:
        assert pathlib.Path(name).is_dir()
        assert folders.folder_kind(name) is None and data.folder_kind(pathlib.Path(name)) is None
        assert folders.is_builtin_name(name)
    # Spelled as a path, the folder is a folder.
    assert folders.folder_kind("./digits") == folders.IMAGES
    assert not folders.is_builtin_name("./digits")


def test_every_caller_reads_digits_as_the_built_in_data(named_folders):
    from hashzoo import finetune
    from hashzoo.training import run

    assert run.protocol_for("digits", None) is None  # the config's protocol, not "folder"
    assert run.protocol_for("./digits", None) == "folder"
    assert len(data.load("digits")) == 1797
    dataset, record = finetune.load_data("digits", Preprocessing(image_size=(8, 8), channels=1))
    assert len(dataset) == 1797 and record["native_shapes"] == [[8, 8, 1]]
    assert cli.check_data_source("digits") is None
    assert "needs --data_dir" in cli.check_data_source("tfds:mnist")

    sys.path.insert(0, str(REPO / "tools"))
    try:
        import evaluate as evaluate_tool
    finally:
        sys.path.remove(str(REPO / "tools"))
    model = types.SimpleNamespace(preprocessing=types.SimpleNamespace(channels=3))
    assert evaluate_tool._load_options(model, "digits", None) == {}  # `load("digits")` takes no `channels`
    assert evaluate_tool._load_options(model, "./digits", None) == {"channels": 3}


def test_every_built_in_name_has_a_loader():
    assert folders.BUILTIN_NAMES == ("digits", "cifar10-subset") and folders.BUILTIN_PREFIXES == ("tfds:",)
    for name in folders.BUILTIN_NAMES:
        with pytest.raises(ValueError, match="does not take"):  # the name's loader, not "no loader"
            data.load(name, image_size=(8, 8))
