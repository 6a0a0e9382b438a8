"""`tools/index.py` and `hashzoo.index.folder_index`: build, add, query, duplicates, grid, errors, kills."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
PRESET = "coophash-cifar10-64"


def run_tool(*args, **env):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
    return subprocess.run([sys.executable, str(REPO / "tools" / "index.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def cifar():
    from hashzoo import data

    return data.load("cifar10-subset")


@pytest.fixture(scope="module")
def model():
    import hashzoo

    return hashzoo.load(PRESET)


def write_folder(folder, dataset, rows, nested=True):
    """CIFAR-10 subset images as PNG files under class folders, every other one a level deeper."""
    for i in rows:
        sub = "deeper/still" if nested and i % 2 else ""
        path = folder / dataset.class_names[dataset.labels[i]] / sub / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(dataset.images[i]).save(path)
    return folder


def test_build_query_add_duplicates_in_python(tmp_path, cifar, model):
    from hashzoo.index import HammingIndex, folder_index

    folder = write_folder(tmp_path / "images", cifar, range(60))
    (folder / "notes.txt").write_text("not an image")
    index_path = tmp_path / "cifar.index.npz"
    assert folder_index.build(model, PRESET, folder, index_path, batch_size=25, verbose=0) == 60
    packed, paths, manifest = folder_index.read_index(index_path)
    assert len(paths) == 60 and manifest["model"]["name"] == PRESET and manifest["model"]["bits"] == 64
    assert manifest["model"]["weights_sha256"] == model.card["weights_sha256"]
    # The PNGs are the subset's pixels, so the codes are the model's codes of those images.
    order = [int(pathlib.Path(p).stem) for p in paths]
    np.testing.assert_array_equal(packed, model.encode_packed(cifar.images[order]))
    # Queries from outside the folder: the tool's answer is HammingIndex's.
    queries = [tmp_path / f"q{i}.png" for i in (100, 101, 102)]
    for path, i in zip(queries, (100, 101, 102)):
        Image.fromarray(cifar.images[i]).resize((48, 40)).save(path)  # another size: resized on load
    results = folder_index.query(model, index_path, queries, k=7)
    reference = HammingIndex(64)
    reference.add(packed)
    want_d, want_i = reference.search(model.encode_packed(folder_index.load_images(queries, (32, 32), 3)), 7)
    for result, d, i in zip(results, want_d, want_i):
        assert [n["id"] for n in result["neighbours"]] == i.tolist()
        assert [n["distance"] for n in result["neighbours"]] == d.tolist()
        assert [n["path"] for n in result["neighbours"]] == [paths[j] for j in i]
    within = folder_index.query(model, index_path, queries[:1], radius=int(want_d[0, 2]))[0]["neighbours"]
    assert [n["id"] for n in within][:3] == want_i[0, :3].tolist()
    # add: only the new images are encoded and appended.
    write_folder(folder, cifar, range(60, 70))
    assert folder_index.add(model, index_path, batch_size=25, verbose=0) == 10
    assert folder_index.add(model, index_path, verbose=0) == 0
    packed2, paths2, _ = folder_index.read_index(index_path)
    assert paths2[:60] == paths and len(paths2) == 70
    np.testing.assert_array_equal(packed2[:60], packed)
    # duplicates: an exact copy lands in one group at radius 0.
    copy = folder / "copies" / "again.png"
    copy.parent.mkdir()
    Image.fromarray(cifar.images[3]).save(copy)
    folder_index.add(model, index_path, verbose=0)
    groups = folder_index.duplicates(index_path, 0)
    assert any("copies/again.png" in g and any(p.endswith("0003.png") for p in g) for g in groups)
    grid = folder_index.retrieval_grid(model, index_path, folder / paths[0], 5, tmp_path / "grid.png")
    with Image.open(grid) as image:
        assert image.format == "PNG" and min(image.size) > 100


def test_folder_errors(tmp_path, cifar, model):
    from hashzoo.index import folder_index

    with pytest.raises(ValueError, match=r"does not exist"):
        folder_index.image_paths(tmp_path / "nope")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"holds no images"):
        folder_index.image_paths(tmp_path / "empty")
    folder = write_folder(tmp_path / "images", cifar, range(4))
    (folder / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read image .*broken.png"):
        folder_index.build(model, PRESET, folder, tmp_path / "x.npz", verbose=0)
    assert not (tmp_path / "x.npz").exists() and not list(tmp_path.glob(".x.npz*"))
    (folder / "broken.png").unlink()
    folder_index.build(model, PRESET, folder, tmp_path / "x.npz", verbose=0)
    _, _, manifest = folder_index.read_index(tmp_path / "x.npz")
    other = dict(folder_index.model_record(model, PRESET), name="coophash-cifar10-32", weights_sha256="0" * 64)
    with pytest.raises(ValueError, match=r"was built with coophash-cifar10-64 .* not with coophash-cifar10-32"):
        folder_index.check_same_model(manifest, other, tmp_path / "x.npz")
    with pytest.raises(ValueError, match=r"does not exist; create it with"):
        folder_index.read_index(tmp_path / "missing.npz")


def test_tool_build_then_query_matches_python_and_survives_a_kill(tmp_path, cifar, model):
    from hashzoo.index import HammingIndex, folder_index

    folder = write_folder(tmp_path / "images", cifar, range(30))
    index_path = tmp_path / "cifar.index.npz"
    killed = run_tool("build", "--folder", folder, "--preset", PRESET, "--index", index_path, "--batch_size", 8,
                      HASHZOO_TEST_KILL_AT="index-half")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not index_path.exists()  # killed half-way through the write: no index at all
    assert [p.name for p in tmp_path.glob(".cifar.index.npz.*.partial")]  # its temporary, stale now
    proc = run_tool("build", "--folder", folder, "--preset", PRESET, "--index", index_path, "--batch_size", 8)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"indexed 30 images of {folder}" in proc.stdout
    assert not list(tmp_path.glob(".cifar.index.npz.*"))  # the rebuild removed the stale temporary
    third = f"{cifar.class_names[cifar.labels[3]]}/deeper/still/0003.png"
    queries = [folder / third, tmp_path / "q.png"]
    Image.fromarray(cifar.images[200]).save(queries[1])
    out = tmp_path / "out" / "result.json"
    proc = run_tool("query", "--index", index_path, "--images", ",".join(map(str, queries)), "--k", 6,
                    "--json", out, "--grid", tmp_path / "grid.png")
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(out.read_text())
    packed, paths, _ = folder_index.read_index(index_path)
    reference = HammingIndex(64, backend="numpy")
    reference.add(model.encode_packed(cifar.images[[int(pathlib.Path(p).stem) for p in paths]]))
    want_d, want_i = reference.search(model.encode_packed(cifar.images[[3, 200]]), 6)
    for result, d, i in zip(record["results"], want_d, want_i):
        assert [n["id"] for n in result["neighbours"]] == i.tolist()
        assert [n["distance"] for n in result["neighbours"]] == d.tolist()
        assert [n["path"] for n in result["neighbours"]] == [paths[j] for j in i]
    assert record["results"][0]["neighbours"][0] == {"id": paths.index(third), "distance": 0, "path": third}
    assert (tmp_path / "grid.png").is_file()


def test_tool_checks_every_flag_first(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    proc = run_tool("build", "--folder", a_file, "--index", tmp_path, "--k", 0, "--batch_size", 0, "extra")
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    for text in ("unexpected arguments ['extra']", f"--folder '{a_file}' is a file", "--k must be an integer >= 1",
                 "--batch_size must be an integer >= 1", f"--index '{tmp_path}' is a folder",
                 "--k is not a flag of `build`", "build needs exactly one of --preset"):
        assert any(text in line for line in errors), (text, errors)
