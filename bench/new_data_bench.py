"""Every method's default config on data it was not tuned on, through the public tools.

A new user's first run: take a method's default CIFAR-10 config and point
`tools/train.py --data` at their own image folder. This bench builds such
folders from the data shipped with hashzoo, trains each config on each of
them with the full epochs of the config, and prints, per run, whether it
completed, the epoch chosen on the validation split, and mAP@all beside
PCA-ITQ on the same split of the same data.

Datasets (built once into `--work/data/`, as PNG class folders):

- `digits28`: scikit-learn's 1,797 digits upscaled to 28x28 grey, each with a
  small random shift (up to 2 px) and rotation (up to 10 degrees).
- `cifar_grey`: the 6,102-image CIFAR-10 subset in greyscale (32x32x1).
- `cifar_grey24`: 2,000 images of the CIFAR-10 subset (the first 200 of each
  class) in greyscale, downscaled to 24x24, a side none of the configs was
  written for; about a third of `cifar_grey`'s CPU time.
- `cifar48` (only when asked for: about 2.5x the CPU time of `cifar_grey`):
  the same subset upscaled to 48x48 RGB, an input size no config was written
  for.

    python bench/new_data_bench.py                                # digits28 and cifar_grey24
    python bench/new_data_bench.py --datasets cifar_grey          # the whole subset in grey (about 2 h)
    python bench/new_data_bench.py --configs coophash_cifar10 --datasets digits28

Each run is `python tools/train.py --config <config> --data <folder> --out
<work>/runs/<config>-<dataset>`; its log is beside it (`.log`). A finished
run is not trained again (delete its folder to redo it). This is a bench, not
a test: the default datasets took about two and a half hours on 2 CPU cores shared with other work
on 2026-11-28, before the configs' step floors; `coophash_cifar10`'s alone (session 23) raises its
epochs on these folders from 30 to 79 (`digits28`) and 70 (`cifar_grey24`), about an hour and a half
more.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from hashzoo import baselines, data  # noqa: E402
from hashzoo.training.evaluation import evaluate_split  # noqa: E402

CONFIGS = ("coophash_cifar10", "bgan_cifar10", "sadh_cifar10", "spah_cifar10", "onehot_cifar10")
DATASETS = ("digits28", "cifar_grey", "cifar_grey24", "cifar48")


def _distorted_digits(seed=0):
    digits = data.load("digits")
    rng = np.random.default_rng(seed)
    images = []
    for pixels in digits.images[..., 0]:
        image = Image.fromarray(pixels).resize((28, 28), Image.Resampling.BILINEAR)
        image = image.rotate(float(rng.uniform(-10, 10)), resample=Image.Resampling.BILINEAR,
                             translate=tuple(int(v) for v in rng.integers(-2, 3, size=2)))
        images.append(np.asarray(image, dtype=np.uint8)[..., None])
    return np.stack(images), digits.labels, digits.class_names


def _cifar(size=None, grey=False, per_class=None):
    cifar = data.load("cifar10-subset")
    keep = np.arange(len(cifar.labels))
    if per_class is not None:  # the first `per_class` images of each class, in file order
        keep = np.sort(np.concatenate([np.flatnonzero(cifar.labels == c)[:per_class]
                                       for c in range(len(cifar.class_names))]))
    images = []
    for pixels in cifar.images[keep]:
        image = Image.fromarray(pixels)
        if grey:
            image = image.convert("L")
        if size is not None:
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        images.append(array[..., None] if array.ndim == 2 else array)
    return np.stack(images), cifar.labels[keep], cifar.class_names


BUILDERS = {
    "digits28": _distorted_digits,
    "cifar_grey": lambda: _cifar(grey=True),
    "cifar_grey24": lambda: _cifar(size=24, grey=True, per_class=200),
    "cifar48": lambda: _cifar(size=48),
}


def build_folder(name, root):
    """Writes dataset `name` as PNG class folders under `root/name` (once); returns the folder."""
    folder = root / name
    done = folder / ".complete"
    if done.is_file():
        return folder
    images, labels, class_names = BUILDERS[name]()
    temp = root / f".{name}.partial"
    if temp.exists():
        import shutil

        shutil.rmtree(temp)
    for index, (pixels, label) in enumerate(zip(images, labels)):
        class_folder = temp / class_names[int(label)]
        class_folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(class_folder / f"{index:05d}.png")
    (temp / ".complete").write_text("ok\n")
    os.replace(temp, folder)
    return folder


def train(config, dataset, folder, runs):
    """Runs tools/train.py on `folder`; returns (exit status, seconds, output folder)."""
    out = runs / f"{config}-{dataset}"
    log = runs / f"{config}-{dataset}.log"
    if (out / "metadata.json").is_file():
        return 0, None, out
    command = [sys.executable, str(REPO / "tools" / "train.py"), "--config", config, "--data", str(folder),
               "--out", str(out), "--verbose", "2"]
    started = time.time()
    with open(log, "w") as handle:
        handle.write(" ".join(command) + "\n")
        handle.flush()
        status = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
    return status, time.time() - started, out


def itq_map(folder, bits, seed=0):
    """mAP@all of PCA-ITQ fitted on the folder protocol's train split of `folder`."""
    dataset = data.load(str(folder))
    protocol = data.get_protocol("folder")
    query, train_part, database = protocol.apply(dataset)
    model = baselines.PCAITQ(bits, seed=seed).fit(train_part.images)
    return float(evaluate_split(model, query, database, protocol).metrics["mAP@all"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), help="zoo configs to train.")
    parser.add_argument("--datasets", nargs="+", default=["digits28", "cifar_grey24"], choices=DATASETS)
    parser.add_argument("--work", default=str(REPO / "runs" / "new_data_bench"), help="data and runs folder.")
    args = parser.parse_args()
    work = pathlib.Path(args.work)
    (work / "data").mkdir(parents=True, exist_ok=True)
    (work / "runs").mkdir(parents=True, exist_ok=True)

    rows = []
    for dataset in args.datasets:
        folder = build_folder(dataset, work / "data")
        for config in args.configs:
            status, seconds, out = train(config, dataset, folder, work / "runs")
            row = {"config": config, "data": dataset, "status": status, "seconds": seconds}
            metadata_file = out / "metadata.json"
            if metadata_file.is_file():
                metadata = json.loads(metadata_file.read_text())
                checkpoint = metadata.get("checkpoint") or {}
                row.update(
                    completed=not metadata.get("stopped"), epochs=metadata.get("config", {}).get("epochs"),
                    best_epoch=checkpoint.get("epoch"), bits=metadata.get("code_bits"),
                    map_all=metadata.get("evaluation", {}).get("metrics", {}).get("mAP@all"),
                    image_size=metadata.get("preprocessing", {}).get("image_size"),
                )
                row["itq"] = itq_map(folder, row["bits"])
            else:
                row.update(completed=False)
            rows.append(row)
            print(json.dumps(row), flush=True)

    print()
    print("| config | data | completed | best epoch / epochs | input | mAP@all | PCA-ITQ (same bits) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        if row.get("map_all") is None:
            print(f"| {row['config']} | {row['data']} | no (exit {row['status']}) | — | — | — | — |")
            continue
        print(f"| {row['config']} | {row['data']} | {'yes' if row['completed'] else 'stopped'} | "
              f"{row['best_epoch']} / {row['epochs']} | {row['image_size']} | {row['map_all']:.4f} | "
              f"{row['itq']:.4f} |")
    return 0 if all(row.get("completed") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
