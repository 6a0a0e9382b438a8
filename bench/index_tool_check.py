"""`tools/index.py build` + `query` on the CIFAR-10 subset's images against `HammingIndex` in Python.

Writes the 6,102 images of the developer subset as PNG class folders under
`--work`, indexes them with the tool and a preset, queries a few of them with
`--json`, and checks that the tool's neighbours (paths, distances, order)
equal a `HammingIndex` over `encode_packed` of the same images.

    python bench/index_tool_check.py --work /tmp/index_check
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import hashzoo  # noqa: E402
from hashzoo import data  # noqa: E402
from hashzoo.index import HammingIndex  # noqa: E402


def write_folder(root):
    """The CIFAR-10 subset as `root/<class>/<index>.png` (once); returns the sorted relative paths."""
    if not (root / ".complete").is_file():
        cifar = data.load("cifar10-subset")
        for index, (pixels, label) in enumerate(zip(cifar.images, cifar.labels)):
            folder = root / cifar.class_names[int(label)]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(folder / f"{index:05d}.png")
        (root / ".complete").write_text("ok\n")
    return sorted(str(path.relative_to(root)) for path in root.rglob("*.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="/tmp/hashzoo_index_check", help="folder for the images and the index.")
    parser.add_argument("--preset", default="coophash-cifar10-64")
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    work = pathlib.Path(args.work)
    root, index_file, hits_file = work / "images", work / "cifar.index.npz", work / "hits.json"
    paths = write_folder(root)
    tool = [sys.executable, str(REPO / "tools" / "index.py")]
    subprocess.run([*tool, "build", "--folder", str(root), "--preset", args.preset, "--index", str(index_file),
                    "--overwrite"], check=True)
    queries = [str(root / path) for path in paths[:: len(paths) // args.queries][: args.queries]]
    subprocess.run([*tool, "query", "--index", str(index_file), "--images", ",".join(queries), "--k", str(args.k),
                    "--json", str(hits_file)], check=True, stdout=subprocess.DEVNULL)
    hits = json.loads(hits_file.read_text())["results"]

    model = hashzoo.load(args.preset)
    index = HammingIndex(model.code_bits)
    index.add(model.encode_packed(np.stack([np.asarray(Image.open(root / path)) for path in paths])))
    distances, ids = index.search(model.encode_packed(np.stack([np.asarray(Image.open(q)) for q in queries])), args.k)
    same = all(
        [n["path"] for n in hit["neighbours"]] == [paths[i] for i in row]
        and [n["distance"] for n in hit["neighbours"]] == [int(d) for d in drow]
        for hit, row, drow in zip(hits, ids, distances)
    )
    print(f"{len(paths)} images indexed with {args.preset}; {len(queries)} queries, top-{args.k}; "
          f"tools/index.py == HammingIndex (paths, distances, order): {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
