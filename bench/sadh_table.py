"""SADH results and ablation: mAP@K and NDCG@K of trained runs, mean ± std over seeds, beside the floors.

Each run is a preset folder written by `tools/train.py`; runs are grouped by
their name without the trailing `-s<seed>`. Every run is scored on its own
protocol's query/database split (the model was chosen on the validation
split during training), with NDCG@K using graded relevance (gain = labels in
common). LSH and PCA-ITQ rows are fitted on the same training split.

    python tools/train.py --config sadh_digits_mosaic --seed 0 --out runs/sadh/digits_mosaic-32-s0   # x3 seeds
    python tools/train.py --config sadh_digits_mosaic --seed 0 --model_override margin=fixed \\
        --out runs/sadh/abl-fixed-s0                                                                    # ablations
    python bench/sadh_table.py runs/sadh/digits_mosaic-32-s* runs/sadh/abl-*-s* runs/sadh/multihot-*-s*
"""

import argparse
import collections
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import hashzoo  # noqa: E402
from hashzoo import baselines, data  # noqa: E402
from hashzoo.training.evaluation import evaluate_split  # noqa: E402


def score(encoder, parts, protocol):
    query, _, database = parts
    result = evaluate_split(encoder, query, database, protocol, ks=(), radius=None, ndcg_ks=(protocol.k or len(database),))
    return {name.split("@")[0]: value for name, value in result.metrics.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="preset folders of training runs (name-s<seed>).")
    parser.add_argument("--floors", action="store_true", help="also fit LSH and PCA-ITQ (3 seeds) on each protocol.")
    parser.add_argument("--std", choices=("population", "sample"), default="population",
                        help="std over seeds: population (n, the digits tables in docs/sadh.md) or sample (n - 1).")
    parser.add_argument("--per_seed", action="store_true", help="add a column with each seed's mAP / NDCG.")
    args = parser.parse_args()

    groups = collections.defaultdict(list)
    splits, bits_seen = {}, collections.defaultdict(set)
    for folder in args.runs:
        if not os.path.isfile(os.path.join(folder, "metadata.json")):
            print(f"skipped {folder}: no metadata.json (not finished)", file=sys.stderr)
            continue
        model = hashzoo.load(folder)
        card = model.card
        protocol = data.get_protocol(card["protocol"]["id"])
        source = card["config"]["data"]
        key = (protocol.id, source)
        if key not in splits:
            splits[key] = protocol.apply(data.load(source))
        bits_seen[key].add(model.code_bits)
        base = os.path.basename(os.path.normpath(folder))
        named = re.fullmatch(r"(.*)-s(\d+)", base)
        name, seed = named.groups() if named else (base, "?")
        groups[(protocol.id, name, model.code_bits)].append(dict(score(model, splits[key], protocol), seed=seed))

    if args.floors:
        for key, parts in splits.items():
            protocol = data.get_protocol(key[0])
            for bits in sorted(bits_seen[key]):
                for floor in (baselines.LSH, baselines.PCAITQ):
                    for seed in range(3):
                        fitted = floor(bits, seed=seed).fit(parts[1].images)
                        groups[(key[0], floor.__name__, bits)].append(dict(score(fitted, parts, protocol), seed=str(seed)))

    ddof = 1 if args.std == "sample" else 0
    print(f"| protocol | run | bits | seeds | mAP | NDCG |{' per seed (mAP / NDCG) |' if args.per_seed else ''}")
    print(f"|---|---|---|---|---|---|{'---|' if args.per_seed else ''}")
    for (protocol, name, bits), scores in sorted(groups.items()):
        scores = sorted(scores, key=lambda s: s["seed"])
        cells = []
        for metric in ("mAP", "NDCG"):
            values = np.array([s[metric] for s in scores])
            spread = values.std(ddof=ddof) if len(values) > ddof else float("nan")
            cells.append(f"{values.mean():.4f} ± {spread:.4f}")
        if args.per_seed:
            cells.append(", ".join(f"s{s['seed']} {s['mAP']:.4f} / {s['NDCG']:.4f}" for s in scores))
        k = data.get_protocol(protocol).k
        print(f"| `{protocol}` (@{k or 'all'}) | {name} | {bits} | {len(scores)} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
