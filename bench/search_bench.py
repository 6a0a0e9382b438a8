"""Search throughput and recall: exact backends side by side, approximate indexes against them.

1. Exact: 1,000,000 uniform random 64-bit codes, 1,000 queries, top-10, with
   `HammingIndex` on faiss, numpy and Milvus (milvus-lite, a local file);
   prints queries per second and checks that all return the same ids and
   distances (in (distance, id) order).
2. Approximate (faiss binary IVF over several nprobe, HNSW over several
   ef_search) on codes of a real preset (coophash-cifar10-64 on the CIFAR-10
   subset, replicated with small bit-flip noise up to `--size` codes; queries
   are the subset's codes with fresh noise) and on uniform codes: queries/s,
   its ratio to the exact flat index's in the same run, and recall@10
   (`hashzoo.index.measure_recall`; docs/search.md, "Measuring recall").

Timings are printed, never asserted.

Usage:
    python bench/search_bench.py                    # full size (HNSW builds for minutes at 1M)
    python bench/search_bench.py --size 20000 --queries 200   # quick correctness run
    python bench/search_bench.py --small            # 100,000 codes, 200 queries
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

from hashzoo.index import ApproximateHammingIndex, HammingIndex, measure_recall, milvus_available  # noqa: E402
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
    parser.add_argument("--size", "--database", dest="database", type=int, default=None,
                        help="codes in the database (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no_milvus", action="store_true", help="skip the Milvus (milvus-lite) exact run")
    parser.add_argument("--no_approximate", action="store_true", help="skip the approximate indexes")
    parser.add_argument("--no_hnsw", action="store_true", help="skip HNSW (its build takes minutes at 1M)")
    parser.add_argument("--preset", default="coophash-cifar10-64", help="preset whose codes the approximate "
                        "indexes are measured on")
    parser.add_argument("--noise", type=float, default=0.03, help="bit-flip probability of replicated codes")
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
    if not args.no_milvus:
        time_milvus(database, queries, args, report, results)
    if not faiss:
        print("faiss is not installed: only the numpy backend was timed (pip install faiss-cpu).")
        return 0
    same = all(all(np.array_equal(a, b) for a, b in zip(results["faiss"], other)) for other in results.values())
    print(f"{', '.join(results)} return the same ids and distances: {'yes' if same else 'NO'}")
    if not args.no_approximate:
        approximate_section(args, num_database, num_queries, rng)
    return 0 if same else 1


def time_milvus(database, queries, args, report, results):
    """Exact search with `backend="milvus"` on milvus-lite (a local file in a temporary folder)."""
    import tempfile

    if not milvus_available():
        print("Milvus: pymilvus / milvus-lite not installed (pip install 'hashzoo[milvus]'); skipped.")
        return
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        index = HammingIndex(args.bits, backend="milvus", uri=f"{folder}/bench.db", batch_size=10_000)
        index.add(database)
        print(f"{'milvus-lite insert':>24}: {time.perf_counter() - start:.1f} s for {len(database)} codes")
        index._milvus.batch_size = 100  # queries per call
        seconds, results["milvus"] = time_search(index, queries, args.k, args.repeats)
        report("milvus-lite BIN_FLAT", seconds)
        index.close()


def preset_codes(name):
    """Packed codes of the preset on the CIFAR-10 subset images (encoded once, a few seconds)."""
    import hashzoo
    from hashzoo import data

    model = hashzoo.load(name)
    images = data.load("cifar10-subset").images
    return model.encode_packed(images, batch_size=256), model.code_bits


def replicate(packed, bits, size, noise, rng):
    """`size` codes: copies of `packed` with each bit flipped with probability `noise`."""
    rows = packed[np.arange(size) % len(packed)]
    flips = np.packbits(rng.random((size, bits)) < noise, axis=1, bitorder="big")
    return rows ^ flips


def approximate_section(args, num_database, num_queries, rng):
    """IVF and HNSW queries/s and recall@k on a preset's codes and on uniform codes."""
    try:
        base, bits = preset_codes(args.preset)
    except (ValueError, OSError) as error:
        print(f"approximate indexes: cannot encode with {args.preset} ({error}); skipped.")
        return
    real = replicate(base, bits, num_database, args.noise, rng)
    real_queries = replicate(base[rng.permutation(len(base))[:num_queries]], bits, num_queries, args.noise, rng)
    width = (bits + 7) // 8
    uniform = rng.integers(0, 256, (num_database, width), dtype=np.uint8)
    uniform_queries = rng.integers(0, 256, (num_queries, width), dtype=np.uint8)
    for label, database, queries in (
        (f"{args.preset} codes of the CIFAR-10 subset x{num_database / len(base):.0f}, noise {args.noise}",
         real, real_queries),
        ("uniform random codes", uniform, uniform_queries),
    ):
        print(f"\napproximate, {label}: {num_database} x {bits}-bit codes, {num_queries} queries, top-{args.k}")
        exact = HammingIndex(bits, backend="faiss")
        exact.add(database)
        flat_seconds, _ = time_search(exact, queries, args.k, args.repeats)
        flat_qps = num_queries / flat_seconds
        print(f"{'exact faiss flat':>28}: {flat_qps:9.0f} queries/s  recall@{args.k} 1.000")
        nlist = int(min(1024, max(1, num_database // 39)))
        start = time.perf_counter()
        ivf = ApproximateHammingIndex(bits, "ivf", nlist=nlist)
        ivf.add(database)
        print(f"{'IVF build':>28}: {time.perf_counter() - start:.1f} s (nlist {nlist})")
        for nprobe in (1, 2, 4, 8, 16, 32):
            ivf.set_search(nprobe=nprobe)
            print_recall(f"IVF nlist {nlist} nprobe {nprobe}", ivf, database, queries, args, flat_qps)
        if args.no_hnsw:
            continue
        start = time.perf_counter()
        hnsw = ApproximateHammingIndex(bits, "hnsw", hnsw_m=32)
        hnsw.add(database)
        print(f"{'HNSW build':>28}: {time.perf_counter() - start:.1f} s (M 32)")
        for ef in (16, 32, 64, 128):
            hnsw.set_search(ef_search=ef)
            print_recall(f"HNSW32 ef_search {ef}", hnsw, database, queries, args, flat_qps)


def print_recall(label, index, database, queries, args, flat_qps):
    """One line: the best-of-repeats queries/s of `index`, its ratio to flat, and recall@k."""
    seconds, _ = time_search(index, queries, args.k, args.repeats)
    qps = len(queries) / seconds
    found = measure_recall(index, database, queries, k=args.k)
    print(f"{label:>28}: {qps:9.0f} queries/s ({qps / flat_qps:5.1f}x flat)  recall@{args.k} {found['recall']:.3f}"
          f"  id recall {found['id_recall']:.3f}")


if __name__ == "__main__":
    sys.exit(main())
