"""Mean ± std over seeds of finished training runs, read from their `metadata.json` (nothing re-scored).

Runs written by `tools/train.py --out <name>-s<seed>` are grouped by folder
and name without the trailing `-s<seed>` (the name alone is printed unless two
folders hold runs of that name). For each group it prints the protocol's
headline metric on the query/database split per seed, its mean ± sample std
(ddof 1) and the means of P@100 and P@r<=2, beside the validation score of the epoch each run
published (the runner chooses that epoch on the validation split, never on
the queries). Use it to compare configs and ablation rows by validation and
report them by test score.

`--trackers NAME,NAME,...` adds a second table, a row per group: each training
tracker's value at the last epoch trained, seed by seed (from the run's `history`),
e.g. CoopHash's generator trackers against their targets in docs/coophash.md.

    python bench/seed_table.py runs/spah/digits-32-s? runs/spah/digits-lamA01-s?
    python bench/seed_table.py --sort validation runs/spah/*-s?
    python bench/seed_table.py --trackers generated_pixel_std,generated_sample_std,revised_class_accuracy runs/coophash/cifar10-32-s?
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
        "p_radius2": metrics.get("P@r<=2"),
        "validation": checkpoint.get("score"),
        "epoch": checkpoint.get("epoch"),
        "epochs": checkpoint.get("epochs_completed"),
        "history": metadata.get("history") or {},
    }
    return match.group("group"), int(match.group("seed")), record


def last_tracker_values(records, name):
    """`name`'s value at the last epoch trained, one per record; `None` where a run did not track it."""
    values = []
    for record in records:
        series = record["history"].get(name)
        values.append(float(series[-1]) if series else None)
    return values


def print_trackers(rows, names):
    """One markdown table: a row per group, a column per tracker, seed by seed (last epoch trained)."""
    print("\n| runs | seeds | " + " | ".join(f"{name}, last epoch" for name in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for row in rows:
        cells = []
        for name in names:
            values = last_tracker_values(row["records"], name)
            cells.append(", ".join("n/a" if value is None else f"{value:.3f}" for value in values))
        seeds = ",".join(str(s) for s in row["seeds"])
        print(f"| {row['group']} | {seeds} | " + " | ".join(cells) + " |")


def mean_of_recorded(records, key):
    """Mean of `key` over the records that have it; nan when none does."""
    values = [record[key] for record in records if record[key] is not None]
    return float(np.mean(values)) if values else float("nan")


def mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders named <name>-s<seed>.")
    parser.add_argument("--sort", choices=("name", "validation", "test"), default="name")
    parser.add_argument("--trackers", default="", metavar="NAME,NAME,...",
                        help="comma-separated training trackers to print at the last epoch trained, seed by seed "
                             "(n/a where a run did not track one).")
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
        rows.append({
            "group": name if names[name] == 1 else os.path.join(parent, name),
            "metric": records[0]["metric"], "seeds": seeds,
            "per_seed": ", ".join(f"{r['value']:.4f}" for r in records),
            "epochs": ", ".join(f"{r['epoch']}/{r['epochs']}" for r in records),
            "validation": mean_of_recorded(records, "validation"),
            "test": test_mean, "std": test_std, "p100": mean_of_recorded(records, "p100"),
            "p_radius2": mean_of_recorded(records, "p_radius2"),
            "records": records,
        })
    key = {"name": lambda row: row["group"], "validation": lambda row: -row["validation"],
           "test": lambda row: -row["test"]}[args.sort]
    print("| runs | seeds | metric per seed | epoch chosen | validation (mean) | metric mean ± std | P@100 (mean) | "
          "P@r<=2 (mean) |")
    print("|---|---|---|---|---|---|---|---|")
    rows = sorted(rows, key=key)
    for row in rows:
        seeds = ",".join(str(s) for s in row["seeds"])
        print(f"| {row['group']} | {seeds} | {row['metric']} {row['per_seed']} | {row['epochs']} | "
              f"{row['validation']:.4f} | {row['test']:.4f} ± {row['std']:.4f} | {row['p100']:.4f} | "
              f"{row['p_radius2']:.4f} |")
    trackers = [name.strip() for name in args.trackers.split(",") if name.strip()]
    if trackers:
        print_trackers(rows, trackers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
