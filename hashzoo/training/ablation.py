"""Ablation runs: one config trained with named model overrides, side by side.

The `bench/<method>_ablation.py` scripts define their variants and call
`ablation_main`; every variant uses the same config, seed, data and epochs.
"""

import argparse
import os
import tempfile
import time

from hashzoo.training.config import load_config
from hashzoo.training.run import train


def run_ablation(base, variants, names, command):
    """Trains `base` once per variant name; returns `(name, mAP@all, P@100, seconds)` rows."""
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for i, name in enumerate(names):
            config = base.replace(model=dict(base.model, **variants[name]))
            started = time.time()
            _, result = train(config, os.path.join(workdir, str(i)), verbose=0, command=command)
            rows.append((name, result.metrics["mAP@all"], result.metrics["P@100"], time.time() - started))
            print(f"  {name}: mAP@all {rows[-1][1]:.4f}", flush=True)
    return rows


def ablation_main(variants, default_config, description, command, argv=None):
    """Command line of an ablation script: parses flags, runs, prints a markdown table."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=default_config)
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--variants", nargs="*", default=list(variants), choices=list(variants))
    args = parser.parse_args(argv)

    base = load_config(args.config).replace(bits=args.bits, epochs=args.epochs, seed=args.seed)
    rows = run_ablation(base, variants, args.variants, command)
    print(f"\n{args.config}, {args.bits} bits, {base.epochs} epochs, protocol {base.protocol}, seed {base.seed}")
    print("| variant | mAP@all | P@100 | train s |\n|---|---|---|---|")
    for name, map_all, p100, seconds in rows:
        print(f"| {name} | {map_all:.4f} | {p100:.4f} | {seconds:.0f} |")
    return rows
