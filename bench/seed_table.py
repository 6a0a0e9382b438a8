"""Mean ± std over seeds of finished training runs, read from their `metadata.json` (nothing re-scored).

Runs written by `tools/train.py --out <name>-s<seed>` are grouped by folder
and name without the trailing `-s<seed>` (the name alone is printed unless two
folders hold runs of that name). For each group it prints the protocol's
headline metric on the query/database split per seed, its mean ± sample std
(ddof 1) and P@100's mean, beside the validation score of the epoch each run
published (the runner chooses that epoch on the validation split, never on
the queries). Use it to compare configs and ablation rows by validation and
report them by test score.

    python bench/seed_table.py runs/spah/digits-32-s? runs/spah/digits-lamA01-s?
    python bench/seed_table.py --sort validation runs/spah/*-s?
"""

import argparse
import collections
import json
import os
import re
import sys

import numpy as np

SEED_SUFFIX = re.compile(r"^(?P<group>.+)-s(?P<seed>\d+)$")


def read_run(folder):
    """(group, seed, record) of one run folder; raises ValueError naming the folder when it is not one."""
    name = os.path.basename(os.path.normpath(folder))
    match = SEED_SUFFIX.match(name)
    if match is None:
        raise ValueError(f"{folder!r}: a run folder's name must end in -s<seed> (e.g. digits-32-s0).")
    path = os.path.join(folder, "metadata.json")
    if not os.path.isfile(path):
        raise ValueError(f"{folder!r} has no metadata.json: the run has not finished.")
    with open(path) as handle:
        metadata = json.load(handle)
    metrics = metadata["evaluation"]["metrics"]
    headline = next((name for name in metrics if name.startswith("mAP@")), None)
    if headline is None:
        raise ValueError(f"{folder!r}: its evaluation has no mAP@ metric (it has {sorted(metrics)}).")
    checkpoint = metadata.get("checkpoint") or {}
    record = {
        "metric": headline,
        "value": float(metrics[headline]),
        "p100": metrics.get("P@100"),
        "validation": checkpoint.get("score"),
        "epoch": checkpoint.get("epoch"),
        "epochs": checkpoint.get("epochs_completed"),
    }
    return match.group("group"), int(match.group("seed")), record


def mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders named <name>-s<seed>.")
    parser.add_argument("--sort", choices=("name", "validation", "test"), default="name")
    args = parser.parse_args(argv)
    # Runs group by folder and name, so two folders' `full-s0` never merge; a name is shown alone when unique.
    groups = collections.defaultdict(dict)
    for folder in args.runs:
        try:
            group, seed, record = read_run(folder)
        except ValueError as error:
            print(f"skipped: {error}", file=sys.stderr)
            continue
        groups[(os.path.dirname(os.path.normpath(folder)), group)][seed] = record
    names = collections.Counter(name for _, name in groups)
    if not groups:
        print("error: no finished run among the folders given.", file=sys.stderr)
        return 2
    rows = []
    for (parent, name), by_seed in groups.items():
        seeds = sorted(by_seed)
        records = [by_seed[s] for s in seeds]
        test_mean, test_std = mean_std([r["value"] for r in records])
        validation = [r["validation"] for r in records if r["validation"] is not None]
        p100 = [r["p100"] for r in records if r["p100"] is not None]
        rows.append({
            "group": name if names[name] == 1 else os.path.join(parent, name),
            "metric": records[0]["metric"], "seeds": seeds,
            "per_seed": ", ".join(f"{r['value']:.4f}" for r in records),
            "epochs": ", ".join(f"{r['epoch']}/{r['epochs']}" for r in records),
            "validation": float(np.mean(validation)) if validation else float("nan"),
            "test": test_mean, "std": test_std, "p100": float(np.mean(p100)) if p100 else float("nan"),
        })
    key = {"name": lambda row: row["group"], "validation": lambda row: -row["validation"],
           "test": lambda row: -row["test"]}[args.sort]
    print("| runs | seeds | metric per seed | epoch chosen | validation (mean) | metric mean ± std | P@100 (mean) |")
    print("|---|---|---|---|---|---|---|")
    for row in sorted(rows, key=key):
        seeds = ",".join(str(s) for s in row["seeds"])
        print(f"| {row['group']} | {seeds} | {row['metric']} {row['per_seed']} | {row['epochs']} | "
              f"{row['validation']:.4f} | {row['test']:.4f} ± {row['std']:.4f} | {row['p100']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
