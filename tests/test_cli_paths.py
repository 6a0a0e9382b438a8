"""Output paths of the tools (`hashzoo.utils.cli.check_output_folder` / `check_output_file`).

The tests run as root, for whom `os.access` is always true, so an unwritable
folder is simulated by patching `cli.os.access` to refuse one path.
"""

import os

import pytest

from hashzoo.utils import cli


@pytest.fixture
def refuse(monkeypatch):
    """`refuse(path)`: from now on `os.access` (as cli sees it) says `path` is not writable."""
    refused = set()
    real = os.access

    def access(path, mode, *args, **kwargs):
        if str(path) in refused and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(cli.os, "access", access)
    return lambda path: refused.add(str(path))


def test_an_existing_read_only_output_folder_is_refused(tmp_path, refuse):
    target = tmp_path / "out"
    target.mkdir()
    assert cli.check_output_folder(str(target), "--out") is None
    refuse(target)
    assert cli.check_output_folder(str(target), "--out") == \
        f"--out '{target}' is a folder this user cannot write into."
    # A new folder under it cannot be created: the message names the value and the folder that blocks it.
    assert cli.check_output_folder(str(target / "new" / "deeper"), "--out") == \
        f"--out '{target / 'new' / 'deeper'}': cannot create it, '{target}' is not writable."


def test_a_new_output_folder_is_checked_where_it_would_be_created(tmp_path, refuse):
    refuse(tmp_path.parent)  # an ancestor above the nearest existing folder does not matter
    assert cli.check_output_folder(str(tmp_path / "new"), "--out") is None
    a_file = tmp_path / "f"
    a_file.write_text("")
    assert cli.check_output_folder(str(a_file), "--out") == \
        f"--out '{a_file}' is a file; expected a folder to write into (a new or existing folder)."
    assert cli.check_output_folder(str(a_file / "sub"), "--out") == \
        f"--out '{a_file / 'sub'}' lies under '{a_file}', which is a file; expected a folder path."


def test_an_output_file_is_checked_in_its_own_folder(tmp_path, refuse):
    folder = tmp_path / "results"
    folder.mkdir()
    target = folder / "out.json"
    assert cli.check_output_file(str(target), "--json") is None
    refuse(tmp_path)  # the folder above does not matter: the file is written into `folder`
    assert cli.check_output_file(str(target), "--json") is None
    refuse(folder)
    assert cli.check_output_file(str(target), "--json") == \
        f"--json '{target}': cannot write it, its folder '{folder}' is not writable."
    # A file in a folder still to be made: the nearest existing folder must be writable.
    assert cli.check_output_file(str(folder / "new" / "out.json"), "--json") == \
        f"--json '{folder / 'new' / 'out.json'}': cannot write it, the folder it would be created in " \
        f"'{folder}' is not writable."


def test_output_file_messages_name_the_value_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    assert cli.check_output_file("a", "--json") == "--json 'a' is a folder; expected a file path."
    (tmp_path / "f").write_text("")
    assert cli.check_output_file("f/out.json", "--json") == \
        f"--json 'f/out.json' lies under '{tmp_path / 'f'}', which is a file; expected a file path in a folder."
    assert cli.check_output_file("out.json", "--json") is None  # in the working folder
    assert cli.check_output_file("", "--json") == "--json is empty; pass a file path."
    assert cli.check_output_file(None, "--json") is None
