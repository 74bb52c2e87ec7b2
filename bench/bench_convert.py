"""Convert throughput against the floor set by NVIDIA's own reader (issue 2).

For each report: the time of a bare loop that opens it with ``ncu_report`` and reads the same
metrics roofprof reads (value only), against ``roofprof.trace.convert`` to Parquet (parse, derive,
write). Target: convert <= 1.5x the bare loop. Median of REPEAT runs each.

    python bench/bench_convert.py [REPORT ...]

Default reports: the largest fixture, and bench data made on a GPU host with
``roofprof record -o tiny --range loop -- python bench/tiny_kernels.py 500`` if present at
/work/bigdata/tiny.ncu-rep (not committed: 10 MB).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPEAT = 5
ROOT = Path(__file__).resolve().parent.parent


def bare_loop(path: Path, names: list[str]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import ncu_report
    ctx = ncu_report.load_report(str(path))
    n = 0
    for r in range(ctx.num_ranges()):
        rng = ctx.range_by_idx(r)
        for i in range(rng.num_actions()):
            action = rng.action_by_idx(i)
            for name in names:
                m = action.metric_by_name(name)
                if m is not None:
                    m.value()
            action.name()
            n += 1
    return n


def main(paths: list[Path]) -> None:
    from parsers.ncu_rep import wanted_metrics
    from roofprof.trace import convert

    names = wanted_metrics()
    print(f"{'report':28s} {'kernels':>7s} {'bare loop':>10s} {'convert':>10s} {'ratio':>6s} "
          f"{'kernels/s':>10s}")
    for path in paths:
        bare, conv = [], []
        kernels = 0
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            kernels = bare_loop(path, names)
            bare.append(time.perf_counter() - t0)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                convert([path], Path(tmp) / "t.parquet")
                conv.append(time.perf_counter() - t0)
        b, c = statistics.median(bare), statistics.median(conv)
        print(f"{path.name:28s} {kernels:7d} {b:9.3f}s {c:9.3f}s {c / b:6.2f} {kernels / c:10.0f}")


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    args = [Path(a) for a in sys.argv[1:]]
    if not args:
        args = [ROOT / "fixtures" / "llama_small.ncu-rep"]
        big = Path("/work/bigdata/tiny.ncu-rep")
        if big.exists():
            args.append(big)
    main(args)
