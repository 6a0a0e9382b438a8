"""How much class structure each frozen-feature extractor's neighbourhood graph keeps.

For each extractor of `hashzoo.similarity.extract_features` (labels are never
given to it) this prints, side by side:

- `feature s`: the time to extract features of the protocol's train part, as
  BGAN and SPAH do before training;
- `purity@K`: over those train images, the share of each image's K cosine
  nearest neighbours (itself excluded) that have its class -- a diagnostic of
  the graph BGAN / SPAH learn from, the only place labels are read;
- `ITQ mAP@all`: PCA-ITQ (`hashzoo.baselines.PCAITQ`, which takes `[N, D]`
  feature arrays as well as images) at `--bits` bits fitted on the train rows
  of features extracted from all the protocol's images (query and database
  together, still without labels), evaluated on the query/database split.

The last row is PCA-ITQ on the raw pixels (the `bench/baselines_table.py`
row), for reference. The numbers in docs/similarity.md come from (numpy on one
thread, so the times are one core's)

    export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
    nice -n 5 python bench/graph_purity.py --data cifar10-subset --protocol cifar10-subset
    nice -n 5 python bench/graph_purity.py --data digits --protocol digits --k 10
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from hashzoo import baselines, data, metrics, similarity  # noqa: E402


def purity(features, labels, k):
    """Share of same-class items among each item's `k` cosine nearest neighbours (itself excluded)."""
    neighbours = similarity.cosine_knn(features, k)[:, 1:]
    return float(np.mean(labels[neighbours] == labels[:, None]))


def itq_map(train_x, query_x, query_y, database_x, database_y, bits, seed):
    """mAP@all of PCA-ITQ fitted on `train_x` (features or images)."""
    model = baselines.PCAITQ(bits, seed=seed).fit(train_x)
    result = metrics.evaluate(model.encode(query_x), query_y, model.encode(database_x), database_y,
                              bits=bits, k=None, ks=(), radius=None)
    return result.metrics["mAP@all"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="cifar10-subset")
    parser.add_argument("--protocol", default="cifar10-subset")
    parser.add_argument("--extractors", nargs="+", default=["pixels", "random_conv", "kmeans", "kmeans+hog"])
    parser.add_argument("--k", type=int, default=20, help="neighbours per image for the purity")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dataset = data.load(args.data)
    protocol = data.get_protocol(args.protocol)
    split = protocol.split(dataset.labels, dataset.class_names)
    images, labels = dataset.images, dataset.labels
    train_y = labels[split.train]
    chance = float(np.sum(np.bincount(train_y) ** 2) / len(train_y) ** 2)
    print(f"{args.data}, protocol {protocol.id}: {len(split.query)} query / {len(split.train)} train / "
          f"{len(split.database)} database; images {images.shape[1:]}; K = {args.k}, {args.bits} bits, "
          f"seed {args.seed}; purity of a random graph ~ {chance:.3f}")
    print(f"| features | dim | feature s (train) | purity@{args.k} (train) | PCA-ITQ mAP@all |")
    print("|---|---|---|---|---|")
    for name in args.extractors:
        started = time.perf_counter()
        train_features = similarity.extract_features(images[split.train], name, seed=args.seed)
        seconds = time.perf_counter() - started
        share = purity(train_features, train_y, args.k)
        everything = similarity.extract_features(images, name, seed=args.seed)
        score = itq_map(everything[split.train], everything[split.query], labels[split.query],
                        everything[split.database], labels[split.database], args.bits, args.seed)
        print(f"| {name} | {train_features.shape[1]} | {seconds:.1f} | {share:.3f} | {score:.4f} |", flush=True)
    score = itq_map(images[split.train], images[split.query], labels[split.query],
                    images[split.database], labels[split.database], args.bits, args.seed)
    print(f"| raw pixels (PCA-ITQ on images) | {int(np.prod(images.shape[1:]))} | - | - | {score:.4f} |")


if __name__ == "__main__":
    main()
