"""Benchmarks of issue 11 on a GPU host (ncu, cupti-python: pip install -e '.[trace]').

    python bench/bench_production.py OUTDIR [--limit 600] [--skip-big] [--skip-accuracy]
                                            [--skip-full]

1. A 32-layer hidden-4096 random Llama (batch 1, prompt 512, 32 new tokens), whole run:
   `roofprof record --sample 1` (every launch timed, each launch configuration profiled once,
   joined) against plain `roofprof record` of the same run, stopped with Ctrl-C (SIGINT) after
   --limit seconds: how many kernels it had profiled by then. Target: the sampled run <= 3 min.
2. The 2-layer model of the fixtures, where a full recording is feasible: `record --sample 1`
   against a full `record` and a `trace` of the same program. Reports the joined phase and op
   time shares against the timing truth, and the share of launches (and of time) whose joined
   FLOPs and DRAM bytes are within 1% of the full recording's same launch.
Prints the numbers; paste them into BENCHMARKS.md. `--compare-only` redoes part 2's comparison
on recordings already in OUTDIR (no GPU needed: it runs this tree's join).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = [sys.executable, str(ROOT / "examples" / "kineto_llama.py"), "--no-profiler"]
BIG = ["--layers", "32", "--hidden", "4096", "--heads", "32", "--kv-heads", "8", "--vocab",
       "32000", "--batch", "1", "--prompt", "512", "--new-tokens", "32"]
SMALL = ["--layers", "2", "--hidden", "512", "--heads", "8", "--kv-heads", "2", "--vocab",
         "8000", "--batch", "2", "--prompt", "128", "--new-tokens", "4"]
RANGES = ["--range", "prefill", "--range", "decode"]


def run_roofprof(*args: str, limit: float | None = None) -> tuple[float, int, str]:
    """Run roofprof; SIGINT after ``limit`` s (record keeps what ncu profiled). Returns wall
    seconds, exit code, stderr tail."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "roofprof", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate()
    return time.perf_counter() - t0, proc.returncode, (out + err)[-2000:]


def big(out: Path, limit: float, full: bool = True) -> None:
    import roofprof

    wall, rc, tail = run_roofprof("record", "-q", "-f", "-o", str(out / "big"), "--sample", "1",
                              *RANGES, "--", *EXAMPLE, *BIG)
    print(f"32-layer record --sample 1: {wall:.0f} s wall, exit {rc} (target <= 180 s)")
    print(tail)
    if not full:
        return
    wall, rc, tail = run_roofprof("record", "-q", "-f", "-o", str(out / "big_full"), *RANGES, "--",
                              *EXAMPLE, *BIG, limit=limit)
    parquet = out / "big_full.parquet"
    n = len(roofprof.load(parquet)) if parquet.exists() else 0
    print(f"32-layer plain record: {wall:.0f} s wall, exit {rc}, {n} kernels profiled by then")


def accuracy(out: Path) -> None:
    for args in (("record", "-q", "-f", "-o", str(out / "full"), *RANGES, "--", *EXAMPLE,
                  *SMALL),
                 ("record", "-q", "-f", "-o", str(out / "s"), "--sample", "1", *RANGES, "--",
                  *EXAMPLE, *SMALL)):
        wall, rc, tail = run_roofprof(*args)
        print(f"{' '.join(args[:6])}...: {wall:.0f} s, exit {rc}")
        assert rc == 0, tail
    compare(out)


def compare(out: Path) -> None:
    """The sampled run joined again (this tree's join) against its timing and the full
    recording: phase and op time shares, and FLOPs and DRAM bytes of each launch that both
    measured. A kernel is deterministic in a column when every launch of its template instance,
    grid and block in the full recording agrees within 1%: then one sample stands for all of
    them. Launches whose work changes with their arguments at one configuration (an elementwise
    kernel over tensors of different sizes) are not, and no sample can stand for them."""
    import numpy as np

    import roofprof
    from roofprof.analysis.join import join
    from roofprof.inputs.timing import load_timing
    from roofprof.views.join import format_report

    timing = load_timing(out / "s.timing.parquet")
    joined = join(timing, roofprof.load(out / "s.parquet"))
    print(format_report(joined.meta["join"]), end="")
    sampled = joined.kernels
    full = roofprof.load(out / "full.parquet")
    truth = join(timing, full).kernels  # the full recording, launch by launch
    t = timing.kernels
    for by in ("phase", "op"):
        a = sampled.groupby(by)["duration_ns"].sum() / sampled["duration_ns"].sum()
        b = t.groupby(by)["duration_ns"].sum() / t["duration_ns"].sum()
        print(f"max |joined - timing| {by} share: {100 * (a - b).abs().max():.2f} points")
    key = ["kernel_demangled", "grid", "block"]
    both = (truth["counters_from"] == "launch") & (sampled["counters_from"] != "none")
    for col in ("flop", "dram_bytes"):
        g = full.kernels.groupby(key, dropna=False)[col]
        lo, hi = g.transform("min"), g.transform("max")
        steady = full.kernels.loc[np.isclose(lo, hi, rtol=0.01), key].drop_duplicates()
        det = sampled[key].merge(steady.assign(_det=True), on=key, how="left")["_det"]
        det = det.fillna(False).to_numpy(bool)
        x, y = sampled.loc[both, col].to_numpy(), truth.loc[both, col].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = np.isclose(x, y, rtol=0.01) | ((x == 0) & (y == 0))
        d = det[both.to_numpy()]
        print(f"{col}: {100 * ok.mean():.1f}% of {both.sum()} launches within 1% of the full "
              f"recording; deterministic kernels: {100 * ok[d].mean():.1f}% of {d.sum()}; "
              f"the rest ({(~d).sum()} launches, whose work or bytes change between launches "
              f"of one configuration) {100 * ok[~d].mean():.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--limit", type=float, default=600)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--compare-only", action="store_true",
                    help="only compare the accuracy part's recordings already in OUTDIR")
    ap.add_argument("--skip-full", action="store_true",
                    help="leave out the plain record of the 32-layer run (it takes --limit s)")
    args = ap.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    if args.compare_only:
        compare(args.outdir)
        return
    if not args.skip_accuracy:
        accuracy(args.outdir)
    if not args.skip_big:
        big(args.outdir, args.limit, full=not args.skip_full)


if __name__ == "__main__":
    main()
