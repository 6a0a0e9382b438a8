"""mAP@K benchmark: hashzoo's streaming evaluation against the brute-force reference.

Workload: synthetic 64-bit codes with class structure
(one random centre per class, 20% of bits flipped per item) at ImageNet-100
scale, 5,000 queries x 128,495 database items, 100 classes, mAP@1000.

In one process this script times `hashzoo.metrics.mean_average_precision` and
the reference algorithm (`hashzoo.metrics.reference`: per query float64
distances, a stable argsort and an AP@K loop, i.e. DeepHash-pytorch's
`CalcTopMap` with a stable sort), checks both mAPs agree to 1e-9, and prints
both times, their ratio, hashzoo's peak extra memory, the CPU, core count and
library versions. Timings are printed, never asserted.

The reference runs on every query when its projected time is below
`--reference-budget-s` (60 s by default); otherwise on a prefix of the queries,
and its full time is extrapolated (the output says so), and the mAPs are then
compared on that prefix.

Usage:
    python bench/eval_bench.py            # full size, about 1-2 minutes
    python bench/eval_bench.py --small    # 500 x 20,000, a few seconds
"""

import argparse
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

# OpenMP (faiss) threads that spin at barriers slow down sharply when other
# processes share the cores; the bench lets them sleep unless told otherwise.
# It must be set before the OpenMP runtime loads, so before numpy and hashzoo.
OMP_WAIT_POLICY_SET_HERE = "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hashzoo import metrics  # noqa: E402
from machine import cpu_model, usable_cores  # noqa: E402
from hashzoo.metrics import engine, faiss_knn, reference  # noqa: E402


def make_codes(num_queries, num_database, bits, num_classes, flip, seed):
    """Class-structured +1/-1 int8 codes and class ids for queries and database."""
    rng = np.random.default_rng(seed)
    centres = rng.choice(np.array([-1, 1], dtype=np.int8), size=(num_classes, bits))

    def draw(n):
        labels = rng.integers(0, num_classes, n)
        flips = rng.random((n, bits)) < flip
        return np.where(flips, -centres[labels], centres[labels]).astype(np.int8), labels

    query, query_labels = draw(num_queries)
    database, db_labels = draw(num_database)
    return query, query_labels, database, db_labels


def _status_kib(field):
    """A `Vm*` field of /proc/self/status in KiB, or None where unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak extra memory of a block, two ways.

    `traced_peak`: tracemalloc's peak (Python objects and numpy buffers).
    `rss_extra`: the kernel's peak resident set (VmHWM, reset on entry through
    /proc/self/clear_refs) minus the resident set on entry; it also sees
    faiss's C++ allocations. None where /proc is not available.
    """

    def __enter__(self):
        self.rss_extra = None
        self._rss_base = None
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._rss_base = _status_kib("VmRSS")
        except OSError:
            pass
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        _, self.traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak = _status_kib("VmHWM")
        if self._rss_base is not None and peak is not None:
            self.rss_extra = (peak - self._rss_base) * 1024
        return False


def versions():
    """Versions of the libraries on the timed path."""
    import hashzoo

    parts = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    faiss = faiss_knn.faiss_module()
    parts.append(f"faiss {faiss.__version__}" if faiss is not None else "faiss not installed")
    parts.append(f"hashzoo {getattr(hashzoo, '__version__', '?')}")
    return ", ".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="500 queries x 20,000 items")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--database", type=int, default=None)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--flip", type=float, default=0.2)
    parser.add_argument("--k", type=int, default=1000, help="mAP depth K")
    parser.add_argument("--backend", default="auto", choices=metrics.BACKENDS)
    parser.add_argument("--repeats", type=int, default=3, help="hashzoo timing runs (best is used)")
    parser.add_argument("--reference-budget-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-variants", action="store_true",
                        help="skip timing the faiss 1-thread and numpy top-K variants")
    args = parser.parse_args(argv)
    num_queries = args.queries or (500 if args.small else 5000)
    num_database = args.database or (20000 if args.small else 128495)

    print(f"workload: {num_queries} queries x {num_database} database, {args.bits} bits, "
          f"{args.classes} classes, {args.flip:.0%} bits flipped, mAP@{args.k}")
    print(f"cpu: {cpu_model()}, {usable_cores()} usable cores ({os.cpu_count()} online)")
    print(f"versions: {versions()}")
    print(f"load average before timing: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
          + (" (set by this bench; export OMP_WAIT_POLICY=ACTIVE to compare)"
             if OMP_WAIT_POLICY_SET_HERE else " (from the environment)"))
    query, query_labels, database, db_labels = make_codes(
        num_queries, num_database, args.bits, args.classes, args.flip, args.seed
    )

    def run_hashzoo(rows=slice(None), backend=args.backend):
        return metrics.mean_average_precision(
            query[rows], query_labels[rows], database, db_labels, k=args.k, backend=backend
        )

    def best_time(backend):
        times = []
        for _ in range(max(1, args.repeats)):
            start = time.perf_counter()
            value = run_hashzoo(backend=backend)
            times.append(time.perf_counter() - start)
        return value, min(times), times

    # Memory first, on a cold process (freed pages would hide a later peak).
    with PeakMemory() as memory:
        run_hashzoo()
    hashzoo_map, hashzoo_time, times = best_time(args.backend)
    backend = engine.topk_backend(args.backend, min(args.k, num_database), num_queries, num_database)
    print(f"hashzoo (backend={args.backend!r} -> {backend} top-K): mAP@{args.k} = "
          f"{hashzoo_map:.12f}, best {hashzoo_time:.3f} s of {len(times)} "
          f"(all: {', '.join(f'{t:.3f}' for t in times)} s)")
    rss = "n/a" if memory.rss_extra is None else f"{memory.rss_extra / 2**20:.1f} MiB"
    print(f"hashzoo peak extra memory: {memory.traced_peak / 2**20:.1f} MiB traced "
          f"(numpy/Python buffers), {rss} peak RSS growth (also counts faiss)")

    # The other top-K paths, for comparison: OpenMP threads spin at barriers,
    # so faiss can lose to one thread when other processes share the cores.
    faiss = faiss_knn.faiss_module()
    variants = {}
    if not args.no_variants:
        if faiss is not None:
            threads = faiss.omp_get_max_threads()
            if backend != "faiss":
                variants[f"faiss, {threads} OpenMP threads"] = best_time("faiss")
            if threads > 1:
                faiss.omp_set_num_threads(1)
                variants["faiss, 1 OpenMP thread"] = best_time("faiss")
                faiss.omp_set_num_threads(threads)
        if backend != "numpy":
            variants["numpy, 1 thread"] = best_time("numpy")
    for name, (value, seconds, _) in variants.items():
        same = "same mAP" if abs(value - hashzoo_map) <= 1e-12 else f"mAP {value:.12f} DIFFERS"
        print(f"  variant {name}: best {seconds:.3f} s ({same})")

    # Reference: time a first chunk, then decide whether all queries fit the budget.
    chunk = min(num_queries, 100)
    start = time.perf_counter()
    aps, _ = reference.reference_average_precisions(
        query[:chunk], query_labels[:chunk], database, db_labels, k=args.k
    )
    per_query = (time.perf_counter() - start) / chunk
    done = [aps]
    limit = num_queries
    if per_query * num_queries > args.reference_budget_s:
        limit = max(chunk, int(args.reference_budget_s / per_query))
    for first in range(chunk, limit, 500):
        last = min(first + 500, limit)
        aps, _ = reference.reference_average_precisions(
            query[first:last], query_labels[first:last], database, db_labels, k=args.k
        )
        done.append(aps)
    reference_time = time.perf_counter() - start
    reference_map = float(np.concatenate(done).mean())
    if limit < num_queries:
        compared = run_hashzoo(slice(0, limit))
        projected = reference_time * num_queries / limit
        print(f"reference: ran on the first {limit} of {num_queries} queries in "
              f"{reference_time:.1f} s; EXTRAPOLATED full time {projected:.1f} s")
    else:
        compared = hashzoo_map
        projected = reference_time
        print(f"reference: all {num_queries} queries in {reference_time:.1f} s "
              f"({1e3 * reference_time / num_queries:.2f} ms/query)")
    difference = abs(compared - reference_map)
    status = "OK" if difference <= 1e-9 else "MISMATCH"
    print(f"mAP check ({limit} queries): hashzoo {compared:.12f} vs reference "
          f"{reference_map:.12f}, |diff| = {difference:.1e} -> {status}")
    print(f"speed-up: {projected / hashzoo_time:.1f}x "
          f"(reference {projected:.2f} s / hashzoo {hashzoo_time:.3f} s)")
    if variants:
        name, (_, seconds, _) = min(variants.items(), key=lambda item: item[1][1])
        if seconds < hashzoo_time:
            print(f"fastest variant here: {name}, {projected / seconds:.1f}x")
    return 0 if status == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
