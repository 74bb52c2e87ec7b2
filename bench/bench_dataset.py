"""Benchmark (issue 14): `roofprof summary --by phase` over a large partitioned dataset.

Builds a dataset of real fixture rows (llama_small, spec_verify and batch_16 converted, tiled)
over 64 ranks (8 hosts x 8 ranks, one file per rank; rank r's durations scaled by 1 + r/1000
so the ranks differ), then times the CLI on it in a fresh process and reads its peak RSS
from GNU time.

Run from the repository root:  python bench/bench_dataset.py [--kernels N] [--dir DIR] [--quick]
Targets (issue 14, 2-core CPU machine): 10M kernels < 5 s; 100M < 60 s and < 2 GB peak RSS.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from roofprof.errors import RoofprofWarning
from roofprof.inputs.load import load
from roofprof.tables.kernels import arrow_table

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = [ROOT / "fixtures" / n for n in ("llama_small.ncu-rep", "spec_verify.ncu-rep",
                                            "batch_16.ncu-rep")]
RANKS, HOSTS = 64, 8


def base_rows() -> pa.Table:
    """The fixtures' kernel tables as one Arrow table with roofprof's metadata."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        tables = [arrow_table(load(f)) for f in FIXTURES]
    meta = tables[0].schema.metadata
    return pa.concat_tables([t.replace_schema_metadata(None) for t in tables],
                            promote_options="default").replace_schema_metadata(meta)


def build(directory: Path, kernels: int) -> None:
    base = base_rows()
    per_rank = kernels // RANKS
    idx = pa.array(np.arange(per_rank) % len(base))
    tiled = base.take(idx)
    dur_i = tiled.schema.get_field_index("duration_ns")
    for rank in range(RANKS):
        host = f"n{rank // (RANKS // HOSTS)}"
        t = tiled.set_column(dur_i, "duration_ns",
                             pc.multiply(tiled["duration_ns"], 1 + rank / 1000))
        t = t.set_column(t.schema.get_field_index("host"), "host",
                         pa.array([host] * len(t), pa.string()))
        folder = directory / "run=bench" / f"host={host}" / f"rank={rank}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(t, folder / f"part-{uuid.uuid4().hex}.parquet", compression="zstd")


def ready(directory: Path | None, kernels: int) -> Path:
    """The dataset at ``directory`` (built there with ``kernels`` kernels if missing; a new
    temporary folder if None), after printing the machine and its size on disk."""
    d = directory or Path(tempfile.mkdtemp()) / "fleet"
    if not d.exists():
        t0 = time.perf_counter()
        build(d, kernels)
        print(f"built {kernels:,} kernels over {RANKS} ranks in "
              f"{time.perf_counter() - t0:.1f} s at {d}")
    size = sum(f.stat().st_size for f in d.rglob("*.parquet")) / 2**20
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; dataset {size:.0f} MiB on disk")
    return d


def timed(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a fresh ``roofprof`` process."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "roofprof", *argv]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, int(rss.group(1)) / 1024 if rss else float("nan"), proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernels", type=int, default=10_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="reuse or build the dataset here")
    ap.add_argument("--engine", default="duckdb")
    ap.add_argument("--quick", action="store_true",
                    help="time only the first command (a smoke test of the bench itself)")
    args = ap.parse_args()
    d = ready(args.dir, args.kernels)
    runs = [["summary", str(d), "--by", "phase", "--engine", args.engine, "--format", "csv"],
            ["summary", str(d), "--by", "phase", "--where", "rank = 7", "--engine",
             args.engine, "--format", "csv"]]
    for argv in runs[:1] if args.quick else runs:
        wall, rss, out = timed(argv)
        print(f"roofprof {' '.join(argv[:1] + argv[2:])}: {wall:.2f} s, peak RSS {rss:.0f} MB")
        print("  " + out.strip().replace("\n", "\n  ")[:600])


if __name__ == "__main__":
    main()
