"""Benchmark (issue 14): `roofprof ranks` (per rank and phase, with the communication share)
over a large partitioned dataset, beside `summary --by phase` on the same files.

The dataset is bench_dataset.py's (real fixture rows tiled over 64 ranks); `ranks` runs two
summaries out of core on DuckDB (by phase,rank and by phase,rank,category), so it should take
about twice `summary`'s time in the same bounded memory.

Run from the repository root:  python bench/bench_ranks.py [--kernels N] [--dir DIR] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dataset import ready, timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernels", type=int, default=10_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="reuse or build the dataset here")
    ap.add_argument("--quick", action="store_true",
                    help="time only `ranks --by phase` (a smoke test of the bench itself)")
    args = ap.parse_args()
    d = ready(args.dir, args.kernels)
    runs = [["summary", str(d), "--by", "phase", "--format", "csv"],
            ["ranks", str(d), "--by", "phase", "--format", "csv"],
            ["ranks", str(d), "--view", "spread", "--format", "csv"]]
    for argv in runs[1:2] if args.quick else runs:
        wall, rss, out = timed(argv)
        print(f"roofprof {' '.join(argv[:1] + argv[2:])}: {wall:.2f} s, peak RSS {rss:.0f} MB "
              f"({len(out.splitlines()) - 1} rows)")


if __name__ == "__main__":
    main()
