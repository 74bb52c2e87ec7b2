"""Benchmark (issue 4): summary and PNG roofline of a synthetic 1,000,000-kernel trace.

Run from the repository root:  python bench/bench_summary_plot.py [--kernels N] [-o DIR] [--quick]
Targets: summary < 3 s, PNG < 10 s, peak RSS < 2 GB (2-core CI machine).
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import _synth

from roofprof.analysis import roofline
from roofprof.views import chart as plot


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernels", type=int, default=1_000_000)
    ap.add_argument("-o", "--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true",
                    help="one summary, top_kernels and one PNG (a smoke test of the bench)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    table = _synth.replicate(_synth.h100_table(), args.kernels)
    build = time.perf_counter() - t0
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}; built {len(table):,} kernels in {build:.2f} s, "
          f"RSS {rss_mb():.0f} MB")
    results = []
    steps = [
        ("summary --by range", lambda: roofline.summarize(table, by="range")),
        ("summary --by range --depth 1", lambda: roofline.summarize(table, depth=1)),
        ("summary --by kernel", lambda: roofline.summarize(table, by="kernel")),
        ("top_kernels 20", lambda: roofline.top_kernels(table, 20)),
        ("plot PNG (dram)", lambda: plot.write(table, out / "bench.png")),
        ("plot PNG (dram,l2,l1)", lambda: plot.write(table, out / "bench_h.png",
                                                     levels=("dram", "l2", "l1"))),
        ("plot HTML", lambda: plot.write(table, out / "bench.html")),
    ]
    quick = ("summary --by range", "top_kernels 20", "plot PNG (dram)")
    for name, fn in [s for s in steps if s[0] in quick] if args.quick else steps:
        t0 = time.perf_counter()
        fn()
        results.append((name, time.perf_counter() - t0))
        print(f"{name:32s} {results[-1][1]:6.2f} s   peak RSS {rss_mb():6.0f} MB")
    print(f"peak RSS {rss_mb():.0f} MB; outputs in {out}")


if __name__ == "__main__":
    main()
