"""Which template instances x configurations a `record --sample` run timed but ncu did not
profile (GPU host): ``python bench/instances_check.py OUT [record options]``, run on the
32-layer model of bench_production.py; prints, per kernel with such instances, the instances
timed inside and outside the NVTX ranges and those profiled. Written after the H200 run of
2026-11-23 (BENCHMARKS.md), to check on a GPU that the bool fix of ``template_key`` leaves no
instance unmatched; not run yet. From bench/: ``python instances_check.py /tmp/d``."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench_production import BIG, EXAMPLE

import roofprof
from roofprof.inputs.timing import load_timing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Other options go to `roofprof record --sample 1`.",
                                 allow_abbrev=False)  # record's options pass through whole
    ap.add_argument("out", metavar="OUT", help="the recording's name (OUT.parquet, ...)")
    args, record_args = ap.parse_known_args()
    out = args.out
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "roofprof", "record", "-q", "-f", "-o", out,
                           "--sample", "1", *record_args, "--", *EXAMPLE, *BIG],
                          capture_output=True, text=True, check=False)
    print(f"record --sample 1 {' '.join(record_args)}: {time.perf_counter() - t0:.0f} s, "
          f"exit {done.returncode}")
    print(done.stdout[-1500:])
    key = ["kernel_demangled", "grid", "block"]
    timed = load_timing(f"{out}.timing.parquet").kernels
    prof = roofprof.load(f"{out}.parquet").kernels
    joined = roofprof.load(f"{out}.joined.parquet").kernels
    missing = joined[joined["counters_from"] == "none"]
    for name in missing["kernel"].value_counts().index[:6]:
        t = timed[timed["kernel"] == name]
        first = t.sort_values("start_ns").groupby(key, dropna=False)["phase"].first()
        got = set(map(tuple, prof.loc[prof["kernel"] == name, key].astype(str).to_numpy()))
        print(f"== {name}: {len(first)} instance x config timed, {len(got)} profiled")
        for k, phase in first.items():
            mark = "profiled" if tuple(map(str, k)) in got else "NOT profiled"
            print(f"   {mark:13} first launch in {phase:8} {str(k[0])[:110]} {k[1]} {k[2]}")


if __name__ == "__main__":
    main()
