"""Reading .ncu-rep reports: roofprof's own reader against NVIDIA's library (issues 2 and 13).

For each report: a bare loop that opens it with NVIDIA's ``ncu_report`` and reads the same metrics
roofprof reads (values only, nothing kept), against roofprof's reader
(``parsers.ncu_rep_reader.read``: decode, and build the identity and metric columns), and
``roofprof.inputs.load.convert`` to Parquet end to end (read, derive, attribute, write) with each
reader. Target (issue 13): roofprof's reader >= 10x the bare loop. Each time is the best of
REPEAT runs (3 x REPEAT for roofprof's, which are short; one bare run for reports over 50 MB):
the machine is shared with other jobs, and the best run is the least disturbed one.

    python bench/bench_convert.py                 # the default reports below
    python bench/bench_convert.py REPORT ...      # these reports
    python bench/bench_convert.py --rss           # peak RSS against the number of kernels
    python bench/bench_convert.py --repeat 1 fixtures/mul_full.ncu-rep   # a quick look

Default reports: the fixture with the most kernels (spec_verify.ncu-rep, 224 kernels of
roofprof's metric set), the ``--set roofline`` fixture (known_work_roofline.ncu-rep, the largest
file), and a 10,000-kernel report built from spec_verify.ncu-rep by appending copies of its real
result blocks (``build_report``; written under the system's temporary folder, not committed).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPEAT = 5
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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


def build_report(source: Path, kernels: int, out: Path) -> Path:
    """A report of ``kernels`` kernels: ``source`` whole, then copies of its result blocks
    (each block header and payload byte for byte; the string table stays in the first)."""
    from parsers import ncu_rep_wire as wire

    data = source.read_bytes()
    blocks: list[tuple[int, int, int]] = []  # (start, end, results)
    with open(source, "rb") as fh:
        wire.read_file_header(fh, len(data))
        for unit in wire.walk(fh, len(data)):
            if isinstance(unit, wire.Block):
                n = int.from_bytes(data[unit.offset:unit.offset + 4], "little")
                end = unit.offset + 4 + n + unit.payload_size
                if unit.num_results and not unit.strings:
                    blocks.append((unit.offset, end, unit.num_results))
    have = sum(b[2] for b in blocks) + 1  # the first result block holds the string table
    with open(out, "wb") as fh:
        fh.write(data)
        i = 0
        while have < kernels:
            start, end, results = blocks[i % len(blocks)]
            fh.write(data[start:end])
            have += results
            i += 1
    return out


def _best_time(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def speed(paths: list[Path], repeat: int = REPEAT) -> None:
    """Bare loop: each run in a fresh process (NVIDIA's library keeps every report it loaded in
    memory: ~0.5 MB per kernel, so repeated loads of a 10,000-kernel report in one process run
    out of memory). roofprof: best of ``repeat`` in this process; convert: end to end to
    Parquet."""
    from parsers import ncu_rep_reader
    from roofprof.inputs.load import convert

    print(f"{'report':34s} {'kernels':>7s} {'MB':>6s} {'bare loop':>10s} {'roofprof':>9s} "
          f"{'ratio':>6s} {'convert':>8s}")
    for path in paths:
        times = repeat if path.stat().st_size < 50e6 else 1
        runs = [_child(path, "ncu-report") for _ in range(times)]
        kernels = int(runs[0][0])
        bare = min(r[1] for r in runs)
        ncu_rep_reader.read(path)  # warm: imports
        ours = _best_time(lambda p=path: ncu_rep_reader.read(p), 3 * times)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "t.parquet"
            conv = _best_time(lambda p=path, o=out: convert([p], o), 3 * times)
        print(f"{path.name:34s} {kernels:7d} {path.stat().st_size / 1e6:6.1f} {bare:9.3f}s "
              f"{ours:8.3f}s {bare / ours:5.1f}x {conv:7.3f}s", flush=True)


def rss(source: Path, counts: list[int]) -> None:
    """Peak RSS of a process that reads an N-kernel report, for several N (one process each)."""
    print(f"{'kernels':>8s} {'report MB':>10s} {'roofprof reader':>16s} "
          f"{'bare ncu_report loop':>21s}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            path = build_report(source, n, Path(tmp) / f"r{n}.ncu-rep")
            ours = _child(path, "roofprof")[2]
            # NVIDIA's library needs ~0.5 MB per kernel: not run past 5,000 kernels here
            theirs = _child(path, "ncu-report")[2] if n <= 5_000 else float("nan")
            print(f"{n:8d} {path.stat().st_size / 1e6:10.0f} {ours:13.0f} MB "
                  f"{theirs:18.0f} MB", flush=True)
            path.unlink()


def _child(path: Path, reader: str) -> tuple[float, float, float]:
    """(kernels, seconds reading, peak RSS MB) of one read in a fresh process."""
    done = subprocess.run([sys.executable, __file__, "--child", reader, str(path)],
                          capture_output=True, text=True, check=True)
    kernels, seconds, peak = done.stdout.split()[-3:]
    return float(kernels), float(seconds), float(peak)


def _child_main(reader: str, path: Path) -> None:
    warnings.simplefilter("ignore")
    import numpy  # noqa: F401  (imports counted in both)
    import pandas  # noqa: F401

    from parsers import ncu_rep_reader
    from roofprof.tables.metrics import wanted_metrics

    names = wanted_metrics()

    def run(p: Path) -> int:
        if reader == "roofprof":
            return len(ncu_rep_reader.read(p).identity)
        return bare_loop(p, names)

    run(ROOT / "fixtures" / "sol_roofline_chart.ncu-rep")  # NVIDIA's library initialises once
    t0 = time.perf_counter()
    n = run(path)
    seconds = time.perf_counter() - t0
    print(n, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="*", type=Path, metavar="REPORT",
                    help="the reports to time (default: the fixture with the most kernels, "
                         "the --set roofline fixture and a 10,000-kernel report)")
    ap.add_argument("--rss", nargs="*", type=int, metavar="N",
                    help="peak RSS against the number of kernels N (default 1,000 to 20,000)")
    ap.add_argument("--repeat", type=int, default=REPEAT,
                    help="runs of each timing; the best is kept (%(default)s)")
    # one read in a fresh process: READER and REPORT (how _child runs this script)
    ap.add_argument("--child", nargs=2, metavar=("READER", "REPORT"), help=argparse.SUPPRESS)
    return ap


def main(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    warnings.simplefilter("ignore")
    if args.child:
        _child_main(args.child[0], Path(args.child[1]))
        return
    source = ROOT / "fixtures" / "spec_verify.ncu-rep"
    if args.rss is not None:
        rss(source, args.rss or [1_000, 2_500, 5_000, 10_000, 20_000])
        return
    if args.reports:
        speed(args.reports, args.repeat)
        return
    with tempfile.TemporaryDirectory() as tmp:
        big = build_report(source, 10_000, Path(tmp) / "spec_verify_x10000.ncu-rep")
        speed([source, ROOT / "fixtures" / "known_work_roofline.ncu-rep", big], args.repeat)


if __name__ == "__main__":
    main(sys.argv[1:])
