"""How the offline K-NN similarity build scales: time and peak memory at N items.

Builds BGAN's neighbourhood structure (blocked cosine K-NN, then the K1/K2
shared-neighbour rule, stored sparse) for N synthetic points drawn from 100
Gaussian clusters, and times a batch-block lookup. The figures in
docs/bgan.md are this script's output.

    python bench/similarity_bench.py --num-items 50000
"""

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from hashzoo import similarity  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-items", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k1", type=int, default=20)
    parser.add_argument("--k2", type=int, default=30)
    parser.add_argument("--batch", type=int, default=40)
    args = parser.parse_args()

    n = args.num_items
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(100, args.dim))
    features = (centres[rng.integers(0, 100, n)] + 0.8 * rng.normal(size=(n, args.dim))).astype("float32")
    started = time.time()
    knn = similarity.cosine_knn(features, args.k1)
    knn_seconds = time.time() - started
    started = time.time()
    matrix = similarity.shared_neighbour_similarity(knn, args.k2)
    rule_seconds = time.time() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"N = {n}, D = {args.dim}, K1 = {args.k1}, K2 = {args.k2}")
    print(f"cosine K-NN (1,024-row blocks): {knn_seconds:.1f} s; K1/K2 rule: {rule_seconds:.1f} s")
    print(f"positives: {matrix.nnz} ({matrix.nnz / n:.0f} per row), keys {matrix.keys.nbytes / 2**20:.0f} MiB")
    print(f"peak memory: {peak:.0f} MiB (one dense float32 N x N matrix: {n * n * 4 / 2**30:.1f} GiB)")

    import tensorflow as tf

    block = tf.function(matrix.tf_block_fn())
    ids = tf.constant(rng.integers(0, n, args.batch))
    block(ids, ids)
    started = time.time()
    for _ in range(100):
        block(ids, ids)
    print(f"S_B lookup, {args.batch} x {args.batch} (tf.function): {(time.time() - started) * 10:.2f} ms")


if __name__ == "__main__":
    main()
