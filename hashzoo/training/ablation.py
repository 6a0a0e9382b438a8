"""Ablation runs: one config trained with named model overrides, side by side, over seeds.

The `bench/<method>_ablation.py` scripts define their variants and call
`ablation_main`; every variant uses the same config, data and epochs, and
each seed is trained once per variant. Each run publishes the epoch chosen
on the protocol's validation split (the runner's rule), and the table reports
its score on the query/database split: mean ± sample std over seeds.

With `out_dir` every run is kept as a preset folder `<out_dir>/<variant>-s<seed>`
(readable by `bench/seed_table.py`). A finished folder is read back instead of
retrained when its recorded config is the one asked for (a model argument
listed at the method's default matches one left out), and a killed run
resumes from its backup, so an interrupted ablation loses at most the epoch
in progress.
"""

import argparse
import dataclasses
import json
import os
import re
import tempfile
import time

import numpy as np

from hashzoo.training.backup import fingerprint_differences
from hashzoo.training.config import load_config, parse_model_overrides, without_default_model_arguments
from hashzoo.training.run import train


@dataclasses.dataclass(frozen=True)
class AblationRun:
    """One trained variant at one seed: its query/database scores and its training time."""

    variant: str
    seed: int
    map_all: float
    p100: float
    seconds: float
    reused: bool = False


def variant_folder_name(variant, seed):
    """`"no Langevin (T=0)"`, 1 -> `"no-langevin-t-0-s1"`: a folder name `bench/seed_table.py` groups by variant."""
    slug = re.sub(r"[^a-z0-9]+", "-", variant.lower()).strip("-")
    if not slug:
        raise ValueError(f"variant name {variant!r} has no letter or digit to name its run folder after.")
    return f"{slug}-s{seed}"


def _finished_run(folder, config, variant):
    """The `AblationRun` of a finished preset folder, or None when `folder` holds no finished run.

    Raises a `ValueError` naming the folder and the settings that differ when the finished run was
    trained with another config (say, other epochs): reading it back would report the wrong run.
    """
    path = os.path.join(folder, "metadata.json")
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        metadata = json.load(handle)
    differences = fingerprint_differences(without_default_model_arguments(metadata.get("config") or {}),
                                          without_default_model_arguments(config.to_dict()))
    if differences:
        shown = "; ".join(f"{key}: {old!r} recorded, {new!r} asked for" for key, old, new in differences)
        raise ValueError(
            f"{folder!r} holds a finished run of another config (settings that differ: "
            f"{[key for key, _, _ in differences]}; {shown}); delete it or pass another --out to train this ablation.")
    metrics = metadata["evaluation"]["metrics"]
    return AblationRun(variant, config.seed, float(metrics["mAP@all"]), float(metrics["P@100"]),
                       float(metadata.get("train_seconds") or 0.0), reused=True)


def run_ablation(base, variants, names, command, seeds=None, out_dir=None, verbose=0):
    """Trains `base` once per variant name and seed; returns the `AblationRun`s, variant by variant.

    Args:
        base: the `TrainConfig` every variant starts from.
        variants: `{name: model overrides}`.
        names: the variant names to run, in order.
        command: the command line recorded in each run's metadata.
        seeds: the seeds; `None` runs `base.seed` only.
        out_dir: keep the runs here (see the module docstring); `None` trains in a temporary folder.
        verbose: Keras progress bar of each run (0, 1 or 2).
    """
    unknown = [name for name in names if name not in variants]
    if unknown:
        raise ValueError(f"unknown ablation variant(s) {unknown}; the variants are {sorted(variants)}.")
    seeds = [base.seed] if seeds is None else list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds!r}.")
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        root = scratch if out_dir is None else out_dir
        for name in names:
            for seed in seeds:
                folder = os.path.join(root, variant_folder_name(name, seed))
                config = base.replace(model=dict(base.model, **variants[name]), seed=seed)
                run = _finished_run(folder, config, name)
                if run is None:
                    started = time.time()
                    _, result = train(config, folder, verbose=verbose, command=command)
                    run = AblationRun(name, seed, result.metrics["mAP@all"], result.metrics["P@100"],
                                      time.time() - started)
                runs.append(run)
                print(f"  {name}, seed {seed}: mAP@all {run.map_all:.4f}" + (" (read back)" if run.reused else ""),
                      flush=True)
    return runs


def summarize(runs):
    """Markdown table rows: per variant, mAP@all mean ± sample std over seeds, the per-seed values, P@100's mean."""
    lines = ["| variant | mAP@all, mean ± std | per seed | P@100, mean | train s, mean |", "|---|---|---|---|---|"]
    for name in dict.fromkeys(run.variant for run in runs):
        rows = [run for run in runs if run.variant == name]
        values = np.array([run.map_all for run in rows])
        std = f"{values.std(ddof=1):.4f}" if len(values) > 1 else "n/a (1 seed)"
        per_seed = ", ".join(f"{run.map_all:.4f}" for run in rows)
        lines.append(f"| {name} | {values.mean():.4f} ± {std} | {per_seed} | "
                     f"{np.mean([run.p100 for run in rows]):.4f} | {np.mean([run.seconds for run in rows]):.0f} |")
    return "\n".join(lines)


def ablation_main(variants, default_config, description, command, argv=None):
    """Command line of an ablation script: parses flags, runs, prints a markdown table."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=default_config)
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds to train each variant with (default: the config's seed only).")
    parser.add_argument("--out", default=None,
                        help="keep the runs as <out>/<variant>-s<seed>; finished ones are read back, killed ones resume.")
    parser.add_argument("--variants", nargs="*", default=list(variants), choices=list(variants))
    parser.add_argument("--model_override", action="append", default=[], metavar="KEY=VALUE",
                        help="model argument (JSON value) set on the config before every variant's own, as in "
                             "tools/train.py; repeat for more. A run of an earlier config is read back with its "
                             "overrides.")
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2))
    args = parser.parse_args(argv)

    base = load_config(args.config).replace(bits=args.bits, epochs=args.epochs)
    base = base.replace(model=dict(base.model, **parse_model_overrides(args.model_override)))
    runs = run_ablation(base, variants, args.variants, command, seeds=args.seeds, out_dir=args.out,
                        verbose=args.verbose)
    seeds = sorted({run.seed for run in runs})
    print(f"\n{args.config}, {args.bits} bits, {base.epochs} epochs, protocol {base.protocol}, seeds {seeds}")
    print(summarize(runs))
    return runs
