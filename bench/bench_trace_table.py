"""Benchmark (issue 11): building `roofprof trace`'s timing table from a million launches.

The raw records are those the hook writes at exit (tests/test_tracer.py builds them from the bundled
Kineto capture: kernels, launch calls, NVTX markers), tiled in time to N launches. Times
`roofprof.capture.tracer.from_parts` (launch calls joined, NVTX stacks, attribution, table) and its
peak RSS; with ``-o`` also writes the table as ``roofprof trace`` does (Parquet) and reads it back
as ``roofprof join`` does, and times both. Run from the repository root:

    /usr/bin/time -v python bench/bench_trace_table.py [--launches 1000000] [-o table.parquet]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def tiled(rec: dict[str, Any], launches: int) -> dict[str, Any]:
    """``rec`` repeated until it has ``launches`` kernels, each copy later in time and with
    its own correlation and marker ids."""
    import numpy as np

    n = len(rec["kernels"]["start"])
    reps = max(1, -(-launches // n))
    span = int(rec["kernels"]["end"].max() - rec["kernels"]["start"].min()) + 1000

    def tile(cols: dict[str, Any], times: tuple[str, ...], ids: tuple[str, ...]
             ) -> dict[str, Any]:
        return {c: np.concatenate([v + r * span if c in times else
                                   v + r * 10_000_000 if c in ids else v
                                   for r in range(reps)]) for c, v in cols.items()}

    return {**rec,
            "kernels": tile(rec["kernels"], ("start", "end"), ("correlation_id",)),
            "calls": tile(rec["calls"], ("start", "end"), ("correlation_id",)),
            "markers": tile(rec["markers"], ("timestamp",), ("id",))}


def main() -> None:
    from roofprof.capture import tracer
    from roofprof.tables import timing
    from tests.test_tracer import EAGER, records_from_kineto

    ap = argparse.ArgumentParser()
    ap.add_argument("--launches", type=int, default=1_000_000)
    ap.add_argument("-o", type=Path, default=None, help="write the table here, then read it")
    args = ap.parse_args()
    rec = tiled(records_from_kineto(EAGER)[0], args.launches)
    t0 = time.perf_counter()
    table = tracer.from_parts([rec], source="bench.parquet")
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}")
    print(f"{len(table.kernels):,} launches, {len(rec['markers']['id']):,} NVTX marker "
          f"records: timing table in {wall:.1f} s, peak RSS {rss:.0f} MB")
    if args.o:
        del rec
        t0 = time.perf_counter()
        timing.write(table, args.o)
        t1 = time.perf_counter()
        n = len(table)
        del table
        back = timing.read(args.o)
        t2 = time.perf_counter()
        assert len(back) == n
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"write {args.o.name}: {t1 - t0:.1f} s, {args.o.stat().st_size / 1e6:.0f} MB; "
              f"read back: {t2 - t1:.1f} s; peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
