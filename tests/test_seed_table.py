"""bench/seed_table.py: the mean ± std over seeds and the trackers it reads back from finished runs."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_seed_table():
    spec = importlib.util.spec_from_file_location("seed_table", os.path.join(ROOT, "bench", "seed_table.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(folder, map_all, p100, p_radius2, validation, history):
    os.makedirs(folder)
    metadata = {
        "evaluation": {"metrics": {"mAP@all": map_all, "P@100": p100, "P@r<=2": p_radius2}},
        "checkpoint": {"score": validation, "epoch": 3, "epochs_completed": 4},
        "history": history,
    }
    with open(os.path.join(folder, "metadata.json"), "w") as handle:
        json.dump(metadata, handle)


def table_rows(text):
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| runs")]


def test_mean_std_over_seeds_and_trackers_at_the_last_epoch(tmp_path, capsys):
    seed_table = load_seed_table()
    write_run(str(tmp_path / "full-s0"), 0.5, 0.6, 0.4, 0.55, {"generated_pixel_std": [0.1, 0.2, 0.3, 0.25]})
    write_run(str(tmp_path / "full-s1"), 0.7, 0.8, 0.2, 0.65, {"generated_pixel_std": [0.1, 0.2, 0.3, 0.15]})
    unfinished = tmp_path / "full-s2"
    unfinished.mkdir()

    rc = seed_table.main([
        "--trackers", "generated_pixel_std, revision",
        str(tmp_path / "full-s0"), str(tmp_path / "full-s1"), str(unfinished),
    ])

    out, err = capsys.readouterr()
    assert rc == 0
    assert "full-s2" in err and "has not finished" in err
    summary, trackers = table_rows(out)
    # mean 0.6, sample std (ddof 1) of 0.5 and 0.7 = 0.1414; P@100 and P@r<=2 means 0.7 and 0.3.
    assert summary == ("| full | 0,1 | mAP@all 0.5000, 0.7000 | 3/4, 3/4 | 0.6000 | 0.6000 ± 0.1414 | "
                       "0.7000 | 0.3000 |")
    # The last epoch trained (not the best nor the mean); a tracker a run never logged is n/a.
    assert trackers == "| full | 0,1 | 0.250, 0.150 | n/a, n/a |"
    assert "generated_pixel_std, last epoch | revision, last epoch" in out


def test_groups_by_folder_and_reports_no_finished_run(tmp_path, capsys):
    seed_table = load_seed_table()
    write_run(str(tmp_path / "a" / "full-s0"), 0.5, 0.6, 0.4, 0.55, {})
    write_run(str(tmp_path / "b" / "full-s0"), 0.3, 0.6, 0.4, 0.35, {})
    assert seed_table.main(["--sort", "test", str(tmp_path / "a" / "full-s0"), str(tmp_path / "b" / "full-s0")]) == 0
    rows = table_rows(capsys.readouterr().out)
    # Same name in two folders: each keeps its folder, the better test score first.
    assert rows[0].startswith(f"| {tmp_path / 'a' / 'full'} | 0 | mAP@all 0.5000")
    assert rows[1].startswith(f"| {tmp_path / 'b' / 'full'} | 0 | mAP@all 0.3000")

    assert seed_table.main([str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "must end in -s<seed>" in err and "no finished run" in err


@pytest.mark.parametrize("values, expected", [([0.5], (0.5, None)), ([0.5, 0.7], (0.6, 0.1414))])
def test_mean_std_is_nan_for_one_seed(values, expected):
    mean, std = load_seed_table().mean_std(values)
    assert mean == pytest.approx(expected[0])
    if expected[1] is None:
        assert std != std
    else:
        assert std == pytest.approx(expected[1], abs=1e-4)
