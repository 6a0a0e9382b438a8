"""BGAN ablation: what the neighbourhood structure, the GAN and the slope schedule buy.

Trains the full model and three variants from the same config, seed, data
and epochs, and prints mAP@all and P@100 on the config's protocol:

- no neighbourhood loss (lambda_N = 0: codes learn from the content loss only);
- no adversarial loss (lambda_A = 0: G learns from the content loss only, D
  still trains as a feature extractor for the content loss);
- fixed slope (k = 1 throughout, the authors' final release).

The table in docs/bgan.md is this script's output.

    python bench/bgan_ablation.py --config bgan_digits --bits 32
    python bench/bgan_ablation.py --config bgan_cifar10 --bits 32 --epochs 4
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
    "no neighbourhood loss (lambda_N = 0)": {"neighbourhood_weight": 0.0},
    "no adversarial loss (lambda_A = 0)": {"adversarial_weight": 0.0},
    "fixed slope (k = 1)": {"slope_schedule": "constant"},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="bgan_digits")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()

    base = training.load_config(args.config).replace(bits=args.bits, epochs=args.epochs, seed=args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for i, name in enumerate(args.variants):
            config = base.replace(model=dict(base.model, **VARIANTS[name]))
            started = time.time()
            _, result = training.train(
                config, os.path.join(workdir, str(i)), verbose=0, command="bench/bgan_ablation.py"
            )
            rows.append((name, result.metrics["mAP@all"], result.metrics["P@100"], time.time() - started))
            print(f"  {name}: mAP@all {rows[-1][1]:.4f}", flush=True)
    print(f"\n{args.config}, {args.bits} bits, {base.epochs} epochs, protocol {base.protocol}, seed {base.seed}")
    print("| variant | mAP@all | P@100 | train s |\n|---|---|---|---|")
    for name, map_all, p100, seconds in rows:
        print(f"| {name} | {map_all:.4f} | {p100:.4f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
