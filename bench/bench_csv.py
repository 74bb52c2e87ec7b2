"""Reading a large Nsight Compute CSV export: time and peak memory (issue 10).

Builds a raw export of ROWS kernels from the rows of a fixture (``fixtures/llama_small_raw.csv``:
415 columns, 54 of them used by roofprof), each row a distinct kernel (its ID renumbered), with
EXTRA more unused columns, then loads it with ``roofprof.load`` in a fresh interpreter and
reports the wall time and the peak resident memory of that interpreter (and what the imports
alone take). Memory should stay flat as EXTRA grows: only the needed columns are kept.

    python bench/bench_csv.py [--rows 100000] [--extra 0 800] [--source FIXTURE]
    PYTHONPATH=/path/to/other/checkout python bench/bench_csv.py ...   # compare a version

The file is written to a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time, warnings
import roofprof, pandas, pyarrow, numpy
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    trace = roofprof.load(sys.argv[1])
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"roofprof": roofprof.__file__, "kernels": len(trace), "seconds": seconds,
                  "imports_mb": base / 1024, "peak_mb": peak / 1024}))
"""


def build(source: Path, rows: int, extra: int, out: Path) -> tuple[int, int]:
    """Write the export; returns its size in bytes and its number of columns."""
    table = list(csv.reader(io.StringIO(source.read_text())))
    header, units, data = table[0], table[1], table[2:]
    j_id = header.index("ID")
    header = header + [f"bench__unused_{k}.sum" for k in range(extra)]
    units = units + ["byte"] * extra
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(header)
        w.writerow(units)
        filler = [f"{k * 1_234:,}" for k in range(extra)]
        for i in range(rows):
            row = list(data[i % len(data)])
            row[j_id] = str(i)
            w.writerow(row + filler)
    return out.stat().st_size, len(header)


def measure(path: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    # run in the file's folder: ``python -c`` puts the working folder first on sys.path, and
    # PYTHONPATH must decide which roofprof is measured
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                         text=True, env=env, check=True, cwd=path.parent)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--extra", type=int, nargs="+", default=[0, 800])
    ap.add_argument("--source", type=Path, default=ROOT / "fixtures" / "llama_small_raw.csv")
    args = ap.parse_args()
    print(f"{'rows':>7s} {'columns':>7s} {'file MB':>8s} {'kernels':>7s} {'seconds':>8s} "
          f"{'peak MB':>8s} {'imports MB':>10s}")
    for extra in args.extra:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big_raw.csv"
            size, ncols = build(args.source, args.rows, extra, path)
            r = measure(path)
        print(f"# {r['roofprof']}")
        print(f"{args.rows:7d} {ncols:7d} {size / 1e6:8.0f} {r['kernels']:7.0f} "
              f"{r['seconds']:8.1f} {r['peak_mb']:8.0f} {r['imports_mb']:10.0f}")


if __name__ == "__main__":
    main()
