"""Benchmark (issue 14): `roofprof plot DATASET` out of core on DuckDB, bounded memory.

Reuses bench_dataset.py's dataset (real fixture rows, tiled over 64 ranks; built once into
--dir). Times `roofprof plot DIR --by phase` (PNG) in a fresh process with GNU time's peak
RSS, on DuckDB (the groups by summary's own query, the longest kernels of each group as
points), also with --where and at three memory levels, and, with --pandas, the in-memory path
on the same dataset for comparison.

Run from the repository root:
    python bench/bench_dataset_plot.py [--kernels N] [--dir DIR] [--pandas] [-o OUTDIR] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dataset import ready, timed  # the dataset bench's builder and timer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernels", type=int, default=10_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="reuse or build the dataset here")
    ap.add_argument("-o", "--out", type=Path, default=None, help="where the plots go")
    ap.add_argument("--pandas", action="store_true", help="also time --engine pandas")
    ap.add_argument("--quick", action="store_true",
                    help="time only the first plot (a smoke test of the bench itself)")
    args = ap.parse_args()
    d = ready(args.dir, args.kernels)
    out = args.out or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    runs = [["plot", str(d), "--by", "phase", "-o", str(out / "phase.png")],
            ["plot", str(d), "--by", "phase", "--where", "rank = 7", "-o",
             str(out / "rank7.png")],
            ["plot", str(d), "--by", "op,phase", "--level", "dram,l2,l1", "-o",
             str(out / "levels.png")]]
    if args.pandas:
        runs.append(["plot", str(d), "--by", "phase", "--engine", "pandas", "-o",
                     str(out / "pandas.png")])
    for argv in runs[:1] if args.quick else runs:
        wall, rss, _ = timed(argv)
        shown = " ".join(a if not a.startswith(str(d)) else "DIR" for a in argv[:1] + argv[1:])
        print(f"roofprof {shown.replace(str(out) + '/', '')}: {wall:.2f} s, "
              f"peak RSS {rss:.0f} MB")
    print(f"plots in {out}")


if __name__ == "__main__":
    main()
