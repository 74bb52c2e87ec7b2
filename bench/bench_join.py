"""Benchmark (issue 11): join 10,000,000 timed launches with 10,000 sampled launches.

Run from the repository root:  python bench/bench_join.py [--launches N] [--samples M] [-o DIR] or,
on a real timing table (``bench/bench_trace_table.py --launches N -o T.parquet`` writes one the way
``roofprof trace`` does):  python bench/bench_join.py --timing T.parquet [--cli] (``--cli``: then
also ``roofprof join T.parquet COUNTERS -o J`` in its own process, which joins a timing Parquet file
in chunks, ``roofprof.app.join.write_joined_file``: its wall time and peak RSS) Targets:
the join (matching, provenance, coverage and report) < 10 s and peak RSS < 2 GB on the 2-core CI
machine; also times writing the joined table (chunked Parquet).

The timing table is synthetic, shaped like a long decode run: 10,000 distinct signatures (kernel x
grid x block), 1,000 annotation paths, text columns dictionary-typed as the product makes them
(``roofprof.tables.columns.taken``), the annotation lists shared per path. The counters hold one
launch per signature (a --per-config 1 recording), with made-up counter values. With ``--timing``,
the timing table is read with ``roofprof.inputs.timing.load_timing`` (as ``roofprof join`` reads it)
and the counters are its first launch of each signature, with made-up values.
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from roofprof.analysis.join import match
from roofprof.analysis.join_report import report
from roofprof.app.join import write_joined
from roofprof.tables.columns import taken
from roofprof.tables.kernels import Trace
from roofprof.tables.schema import COLUMNS, MEASURED
from roofprof.tables.timing import TimingTrace
from roofprof.views.join import format_report


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def current_mb() -> float:
    """The resident set now (Linux), to tell the join's own memory from the input's peak."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def peak_since_reset_mb() -> float:
    """The peak resident set since :func:`reset_peak` (Linux VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def synthetic(n: int, samples: int, seed: int = 0) -> tuple[TimingTrace, Trace]:
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, samples, n)
    kernels = pd.Index([f"kernel_{i}" for i in range(200)])  # signature = kernel x grid
    grids = pd.Index([f"({1 + i}, 1, 1)" for i in range((samples + 199) // 200)])
    paths = [["decode" if p % 4 else "prefill", f"model.layers.{p % 32}",
              f"model.layers.{p % 32}.module{p}"] for p in range(1000)]
    path = rng.integers(0, 1000, n)
    ranges = pd.Index(["/".join(p) for p in paths])

    def cat(codes: np.ndarray, cats: pd.Index) -> pd.Categorical:  # the product's text dtype
        return taken(list(cats), codes)

    demangled = pd.Index([f"void ns::kernel_{i % 200}<{i}>(int)" for i in range(samples)])
    start = np.cumsum(rng.integers(1000, 5000, n)).astype(np.int64)
    dur = rng.integers(500, 4000, n).astype(np.float64)
    shared = np.empty(1000, dtype=object)
    shared[:] = paths
    timing = pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "kernel": cat(sig % 200, kernels),
        "kernel_demangled": cat(sig, demangled),
        "grid": cat(sig // 200, grids),
        "block": cat(np.zeros(n, dtype=np.int64), pd.Index(["(128, 1, 1)"])),
        "device": np.zeros(n, dtype=np.int64),
        "range": cat(path, ranges),
        "nvtx": shared[path],
        "phase": cat((path % 4 != 0).astype(np.int64), pd.Index(["prefill", "decode"])),
        "op": cat(path % 7, pd.Index([f"op{i}" for i in range(7)])),
        "category": cat(np.zeros(n, dtype=np.int64), pd.Index(["gemm"])),
        "start_ns": start, "end_ns": start + dur.astype(np.int64), "duration_ns": dur,
    })
    first = pd.Series(np.arange(n)).groupby(sig).first().to_numpy()[:samples]
    return TimingTrace(kernels=timing, meta={"sources": ["timing"]}), \
        sampled(timing, first, rng)


def sampled(timing: pd.DataFrame, first: np.ndarray, rng: np.random.Generator) -> Trace:
    """The counters of the launches at ``first``, with made-up counter values."""
    c = timing.iloc[first].reset_index(drop=True).copy()
    for col in (*MEASURED, "flop"):
        c[col] = rng.uniform(1e6, 1e9, len(c))
    for col in COLUMNS:
        if col not in c:
            c[col] = None
    return Trace(kernels=c[list(COLUMNS)], meta={"sources": ["samples"], "formats": ["synthetic"]})


def real(path: Path) -> tuple[TimingTrace, Trace]:
    """A timing table from ``path`` (the product's reader) and one sample per signature."""
    from roofprof.analysis.join import SIGNATURE, UNUSED_TIMING
    from roofprof.inputs.timing import load_timing

    timing = load_timing(path, skip=UNUSED_TIMING)  # as roofprof join reads it
    sig = timing.kernels.groupby(list(SIGNATURE), sort=False, dropna=False).ngroup()
    first = pd.Series(np.arange(len(sig))).groupby(sig.to_numpy()).first().to_numpy()
    return timing, sampled(timing.kernels, first, np.random.default_rng(0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--launches", type=int, default=10_000_000)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("-o", type=Path, default=None, help="keep the joined Parquet here")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--timing", type=Path, default=None,
                    help="a timing table (Parquet) to join instead of the synthetic one")
    ap.add_argument("--cli", action="store_true",
                    help="with --timing: also time `roofprof join` of it in its own process")
    args = ap.parse_args()
    t0 = time.perf_counter()
    timing, counters = real(args.timing) if args.timing else \
        synthetic(args.launches, args.samples)
    t1 = time.perf_counter()
    base, held = rss_mb(), current_mb()
    reset_peak()
    m = match(timing.kernels, counters.kernels)
    facts = report(m, timing.kernels, 0.05)
    t2 = time.perf_counter()
    joined_rss, joined_held = peak_since_reset_mb(), current_mb()
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores")
    print(f"{'read ' + args.timing.name if args.timing else 'synthetic tables'}: "
          f"{t1 - t0:.1f} s, peak RSS {base:.0f} MB, RSS after {held:.0f} MB")
    print(f"join of {len(timing):,} timed launches with {len(counters.kernels):,} samples: "
          f"{t2 - t1:.2f} s, peak RSS during it {joined_rss:.0f} MB, after {joined_held:.0f} MB")
    print(format_report(facts, top=3), end="")
    if not args.no_write:
        with tempfile.TemporaryDirectory() as tmp:
            out = (args.o or Path(tmp)) / "joined.parquet"
            t3 = time.perf_counter()
            write_joined(timing, counters, out)
            t4 = time.perf_counter()
            print(f"join + write {out.name} (chunks of 1M rows): {t4 - t3:.1f} s, "
                  f"{out.stat().st_size / 1e6:.0f} MB, peak RSS {rss_mb():.0f} MB")
    if args.cli and args.timing:
        cli(args.timing, counters)


def cli(timing: Path, counters: Trace) -> None:
    """``roofprof join TIMING COUNTERS -o J`` in a process of its own: wall and peak RSS."""
    import subprocess
    import sys

    from roofprof.tables.kernels import write_parquet

    with tempfile.TemporaryDirectory() as tmp:
        write_parquet(counters, Path(tmp) / "counters.parquet")
        t0 = time.perf_counter()
        # VmHWM, not ru_maxrss: Linux keeps the parent's ru_maxrss across fork and exec
        done = subprocess.run([sys.executable, "-c", "import sys\n"
                               "from roofprof.cli import main\n"
                               "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
                               "hwm = open('/proc/self/status').read().split('VmHWM:')[1]\n"
                               "print('maxrss', int(hwm.split()[0]) // 1024, file=sys.stderr)\n",
                               "join", str(timing), str(Path(tmp) / "counters.parquet"), "-o",
                               str(Path(tmp) / "j.parquet")],
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        peak = [ln for ln in done.stderr.splitlines() if ln.startswith("maxrss")]
        print(f"roofprof join {timing.name} (own process, exit {done.returncode}): {wall:.1f} s, "
              f"peak RSS {peak[-1].split()[1] if peak else '?'} MB")


if __name__ == "__main__":
    main()
