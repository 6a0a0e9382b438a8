"""The installed package: a real wheel in a fresh venv, outside the checkout, fetching presets by URL.

The wheel is built from a copy of the working tree, installed into a
temporary venv that borrows `.venv`'s already-installed dependencies through a
`.pth` line (nothing is downloaded), and run from a folder outside the
checkout. Preset archives are made from `pretrained/` with the reproducible
archive function and served from a loopback HTTP server that
`HASHZOO_PRESET_BASE_URL` points at.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest

import hashzoo
from hashzoo import data
from hashzoo.zoo import presets, registry
from tests.test_presets import serve_directory

REPO = pathlib.Path(__file__).resolve().parents[1]
LOADED = ("coophash-digits-32", "bgan-digits-32")

# Runs inside the installed package; prints one JSON line.
CHILD = r"""
import json, os, pathlib, sys
import numpy as np
import hashzoo
from hashzoo import data, training
from hashzoo.zoo import registry

query, _, _ = data.get_protocol("digits").apply(data.load_digits())
report = {
    "file": hashzoo.__file__,
    "pretrained_dir_exists": registry.PRETRAINED_DIR.exists(),
    "presets": hashzoo.list_presets(),
    "config": training.load_config("coophash_digits").to_dict(),
    "config_dir": str(training.config.config_dir()),
}
codes = {}
for name in sys.argv[2:]:
    model = hashzoo.load(name)
    codes[name] = model.encode(query.images)
    report.setdefault("sources", {})[name] = model.card["source"]
os.environ["HASHZOO_OFFLINE"] = "1"  # from the cache now, with no server needed
again = hashzoo.load(sys.argv[2])
report["offline_equal"] = bool((again.encode(query.images) == codes[sys.argv[2]]).all())
np.savez(sys.argv[1], **codes)
print(json.dumps(report))
"""


def _copy_tree(target):
    """The parts of the working tree a wheel is built from (not pretrained/, not .venv)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in ("hashzoo", "zoo_configs"):
        shutil.copytree(REPO / folder, target / folder, ignore=ignore)
    for name in ("setup.py", "README.md"):
        shutil.copy(REPO / name, target / name)


def _run(command, **kwargs):
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{command} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    _copy_tree(source)
    out = tmp_path_factory.mktemp("wheelhouse")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(out), str(source)])
    (path,) = out.glob("hashzoo-*.whl")
    return path


def test_the_wheel_holds_the_package_and_configs_but_no_presets(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("pretrained/") or "/pretrained/" in n], "presets come by URL"
    assert wheel.stat().st_size < 2_000_000, f"{wheel.stat().st_size} bytes"
    configs = sorted(p.name for p in (REPO / "zoo_configs").glob("*.py"))
    assert sorted(n.split("/")[-1] for n in names if n.startswith("hashzoo/zoo_configs/")) == configs
    for method, path in registry.preset_files():
        assert f"hashzoo/methods/{method}/{path.name}" in names
    for module in ("hashzoo/zoo/registry.py", "hashzoo/zoo/presets.py", "hashzoo/zoo/cards.py",
                   "hashzoo/zoo/publish.py", "hashzoo/training/config.py"):
        assert module in names


def test_an_installed_hashzoo_lists_fetches_verifies_and_caches_presets(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = pathlib.Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                        .stdout.strip())
    # The checkout's dependencies, appended after the venv's own site-packages (the wheel wins).
    (site / "hashzoo-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: pip must never touch the checkout's editable install it can see through the .pth.
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
          "--ignore-installed", "-q", str(wheel)])

    served = tmp_path / "served"
    release = f"v{hashzoo.__version__}"  # a mirror keeps the release's layout
    for name in LOADED:
        presets.make_archive(registry.get_preset(name).builtin_path(), served / release / f"{name}.tar.gz")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HASHZOO_", "PYTHON"))}
    env.update(HASHZOO_HOME=str(tmp_path / "cache"), HOME=str(tmp_path / "home"))
    with serve_directory(served) as origin:
        env["HASHZOO_PRESET_BASE_URL"] = f"{origin}/{release}/"
        proc = _run([str(python), "-c", CHILD, str(tmp_path / "codes.npz"), *LOADED], cwd=str(outside), env=env)
    report = json.loads(proc.stdout.strip().splitlines()[-1])

    assert pathlib.Path(report["file"]).is_relative_to(site), f"imported {report['file']}, not the wheel's"
    assert not report["pretrained_dir_exists"]
    assert report["presets"] == hashzoo.list_presets()
    assert report["config"] == hashzoo.training.load_config("coophash_digits").to_dict()
    assert pathlib.Path(report["config_dir"]).is_relative_to(site)
    query, _, _ = data.get_protocol("digits").apply(data.load_digits())
    codes = np.load(tmp_path / "codes.npz")
    for name in LOADED:
        entry = registry.get_preset(name)
        cached = tmp_path / "cache" / "presets" / f"{name}-{entry.archive_sha256[:12]}"
        assert pathlib.Path(report["sources"][name]) == cached
        assert presets.sha256_file(tmp_path / "cache" / "archives" / f"{cached.name}.tar.gz") == entry.archive_sha256
        np.testing.assert_array_equal(codes[name], hashzoo.load(name).encode(query.images))
    assert report["offline_equal"]
    assert not list((tmp_path / "cache").rglob("*.partial")), "downloads are renamed into place"
