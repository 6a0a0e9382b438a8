"""LSH and PCA-ITQ rows on a protocol: the reference rows beside every deep method.

Fits on the protocol's train part (pixels scaled to [0, 1]), evaluates the
query/database split, prints a markdown table.

    python bench/baselines_table.py --data digits --protocol digits
    python bench/baselines_table.py --data cifar10-subset --protocol cifar10-subset --bits 16 32 64
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hashzoo import baselines, data  # noqa: E402
from hashzoo.training.evaluation import evaluate_split  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--protocol", default="digits")
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    protocol = data.get_protocol(args.protocol)
    query, train, database = protocol.apply(data.load(args.data))
    print(f"protocol {protocol.id}: {len(query)} query / {len(train)} train / {len(database)} database, seed {args.seed}")
    print("| method | bits | mAP@all | P@100 | P@r<=2 | fit s |\n|---|---|---|---|---|---|")
    for bits in args.bits:
        for name, cls in (("LSH", baselines.LSH), ("PCA-ITQ", baselines.PCAITQ)):
            model = cls(bits, seed=args.seed).fit(train.images)
            result = evaluate_split(model, query, database, protocol)
            m = result.metrics
            print(f"| {name} | {bits} | {m['mAP@all']:.4f} | {m['P@100']:.4f} | {m['P@r<=2']:.4f} | {model.fit_seconds:.2f} |")


if __name__ == "__main__":
    main()
