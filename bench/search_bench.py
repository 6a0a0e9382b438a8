"""Top-k search throughput: `HammingIndex` with the faiss and numpy backends.

Workload: 1,000,000 uniform random 64-bit codes, 1,000
queries, top-10. Prints queries per second for both backends side by side and
checks that they return the same ids and distances (in (distance, id) order).
Timings are printed, never asserted; the target is >= 600 queries/s on 2 cores.

Usage:
    python bench/search_bench.py           # full size, about 10-20 s
    python bench/search_bench.py --small   # 100,000 codes, 200 queries
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

# OpenMP (faiss) threads that spin at barriers slow down sharply when other
# processes share the cores; the bench lets them sleep unless told otherwise.
# It must be set before the OpenMP runtime loads, so before numpy and hashzoo.
OMP_WAIT_POLICY_SET_HERE = "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hashzoo.index import HammingIndex  # noqa: E402
from hashzoo.metrics import faiss_knn  # noqa: E402
from machine import cpu_model, usable_cores  # noqa: E402


def time_search(index, queries, k, repeats):
    """Best wall time of `repeats` searches, and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = index.search(queries, k)
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="100,000 codes, 200 queries")
    parser.add_argument("--database", type=int, default=None)
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    num_database = args.database or (100_000 if args.small else 1_000_000)
    num_queries = args.queries or (200 if args.small else 1000)

    faiss = faiss_knn.faiss_module()
    print(f"workload: {num_database} x {args.bits}-bit uniform random codes, "
          f"{num_queries} queries, top-{args.k}")
    print(f"cpu: {cpu_model()}, {usable_cores()} usable cores")
    print(f"versions: python {platform.python_version()}, numpy {np.__version__}, "
          f"faiss {faiss.__version__ if faiss else 'not installed'}")

    rng = np.random.default_rng(args.seed)
    width = (args.bits + 7) // 8
    database = rng.integers(0, 256, (num_database, width), dtype=np.uint8)
    queries = rng.integers(0, 256, (num_queries, width), dtype=np.uint8)
    pad = 8 * width - args.bits
    if pad:
        mask = np.uint8((0xFF << pad) & 0xFF)
        database[:, -1] &= mask
        queries[:, -1] &= mask

    print(f"load average before timing: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
          + (" (set by this bench; export OMP_WAIT_POLICY=ACTIVE to compare)"
             if OMP_WAIT_POLICY_SET_HERE else " (from the environment)"))

    def report(label, seconds):
        print(f"{label:>24}: {num_queries / seconds:8.0f} queries/s "
              f"({1e3 * seconds:.1f} ms for {num_queries} queries, best of {args.repeats})")

    results = {}
    if faiss:
        index = HammingIndex(args.bits, backend="faiss")
        index.add(database)
        threads = faiss.omp_get_max_threads()
        # OpenMP threads spin at barriers, so faiss slows down sharply when other
        # processes share the cores; both settings are shown.
        for count in sorted({1, threads}):
            faiss.omp_set_num_threads(count)
            seconds, results["faiss"] = time_search(index, queries, args.k, args.repeats)
            report(f"faiss, {count} OpenMP thread{'s' if count > 1 else ''}", seconds)
        faiss.omp_set_num_threads(threads)
    index = HammingIndex(args.bits, backend="numpy")
    index.add(database)
    seconds, results["numpy"] = time_search(index, queries, args.k, args.repeats)
    report("numpy, 1 thread", seconds)
    if not faiss:
        print("faiss is not installed: only the numpy backend was timed (pip install faiss-cpu).")
        return 0
    same = all(np.array_equal(a, b) for a, b in zip(results["faiss"], results["numpy"]))
    print(f"faiss and numpy return the same ids and distances: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
