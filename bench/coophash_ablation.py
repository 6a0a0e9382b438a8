"""CoopHash ablation: what the cooperative part buys.

Trains the full model, the model without Langevin revision (T = 0), and the
model without generator pairs (real in-batch triplets only), all from the
same config, seed, data and epochs, and prints mAP@all and P@100 on the
config's protocol. The table in docs/coophash.md is this script's output.

    python bench/coophash_ablation.py --config coophash_digits --bits 32
    python bench/coophash_ablation.py --config coophash_cifar10 --bits 32 --epochs 10
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hashzoo import training  # noqa: E402

VARIANTS = {
    "full": {},
    "no Langevin (T=0)": {"langevin_steps": 0},
    "no generator pairs (real triplets)": {"pair_source": "real"},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="coophash_digits")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()

    base = training.load_config(args.config).replace(bits=args.bits, epochs=args.epochs)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for i, name in enumerate(args.variants):
            config = base.replace(model=dict(base.model, **VARIANTS[name]))
            started = time.time()
            _, result = training.train(config, os.path.join(workdir, str(i)), verbose=0, command="bench/coophash_ablation.py")
            rows.append((name, result.metrics["mAP@all"], result.metrics["P@100"], time.time() - started))
            print(f"  {name}: mAP@all {rows[-1][1]:.4f}", flush=True)
    print(f"\n{args.config}, {args.bits} bits, {base.epochs} epochs, protocol {base.protocol}, seed {base.seed}")
    print("| variant | mAP@all | P@100 | train s |\n|---|---|---|---|")
    for name, map_all, p100, seconds in rows:
        print(f"| {name} | {map_all:.4f} | {p100:.4f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
