"""Benchmark (issue 24): reading a large PyTorch profiler (Kineto) trace, streaming.

Builds a synthetic trace of N events (default 2 million) in a temporary folder from the bundled
eager capture (fixtures/llama_kineto.json.gz): its events repeated, each copy later in time and
with its own correlation and external ids, plus extra copies of its ``cpu_op`` events, so that
most events are ones the reader drops (as in a real trace: CPU operators outnumber kernels).
Then times ``roofprof.inputs.timing.load_timing`` on it in a fresh process and reports its wall
time and peak RSS (``resource.getrusage``), the RSS of that process before reading (imports),
and in a second fresh process the peak of Python's own allocations (``tracemalloc``, slower).
Run from the repository root:

    python bench/bench_kineto_read.py [--events 2000000] [--plain] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
EAGER = ROOT / "fixtures" / "llama_kineto.json.gz"
#: extra copies of each cpu_op event per repetition
CPU_OP_COPIES = 4
#: ids shifted per repetition, far above any id of one capture
ID_STRIDE = 10_000_000


def write_trace(path: Path, events: int) -> dict[str, int]:
    """Write a trace of about ``events`` events to ``path`` (gzip if its name ends .gz), one
    event at a time; what it holds."""
    with gzip.open(EAGER, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    events_of_capture = doc.pop("traceEvents")
    base = [e for e in events_of_capture if e.get("ph") != "M"]
    meta = [e for e in events_of_capture if e.get("ph") == "M"]
    cpu_ops = [e for e in base if e.get("cat") == "cpu_op"]
    per_rep = len(base) + CPU_OP_COPIES * len(cpu_ops)
    reps = max(1, -(-events // per_rep))
    times = [e["ts"] for e in base if "ts" in e]
    span = max(e["ts"] + e.get("dur", 0) for e in base if "ts" in e) - min(times) + 1000.0
    counts = {"events": len(meta), "kernels": 0, "repetitions": reps}
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as out:
        head = json.dumps(doc)[:-1]  # the other keys, then traceEvents last
        out.write(head + ', "traceEvents": [\n')
        first = True
        for e in meta:
            first = _write(out, e, first)
        for r in range(reps):
            for e in base + cpu_ops * CPU_OP_COPIES:
                first = _write(out, _shifted(e, r, span), first)
                counts["events"] += 1
                counts["kernels"] += e.get("cat") == "kernel"
        out.write("\n]}\n")
    counts["bytes"] = path.stat().st_size
    return counts


def _shifted(e: dict[str, Any], r: int, span: float) -> dict[str, Any]:
    if not r:
        return e
    c = dict(e)
    if "ts" in c:
        c["ts"] = round(c["ts"] + r * span, 3)
    if isinstance(c.get("args"), dict):
        args = c["args"] = dict(c["args"])
        for key in ("correlation", "External id"):
            if isinstance(args.get(key), int):
                args[key] += r * ID_STRIDE
    if c.get("cat") == "ac2g" and isinstance(c.get("id"), int):
        c["id"] += r * ID_STRIDE
    return c


def _write(out: IO[str], e: dict[str, Any], first: bool) -> bool:
    out.write(("  " if first else ",\n  ") + json.dumps(e))
    return False


def read_once(path: Path, trace_memory: bool) -> None:
    """In this (fresh) process: load_timing of ``path``; print one JSON line of numbers."""
    from roofprof.inputs.timing import load_timing

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace_memory:
        import tracemalloc

        tracemalloc.start()
    t0 = time.perf_counter()
    table = load_timing(path)
    wall = time.perf_counter() - t0
    numbers = {"wall_s": round(wall, 2), "launches": len(table.kernels),
               "rss_before_mib": round(before / 1024, 1),
               "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if trace_memory:
        numbers["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    print(json.dumps(numbers))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--plain", action="store_true", help="write .json, not .json.gz")
    ap.add_argument("--keep", type=Path, default=None, help="build the trace in this folder")
    ap.add_argument("--read", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.read:  # the child: one reading
        read_once(args.read, args.tracemalloc)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        path = folder / ("bench.json" if args.plain else "bench.json.gz")
        t0 = time.perf_counter()
        counts = write_trace(path, args.events)
        print(f"built {path.name}: {counts['events']:,} events ({counts['kernels']:,} kernels, "
              f"{counts['repetitions']} copies of the capture), {counts['bytes'] / 2**20:,.0f} "
              f"MiB in {time.perf_counter() - t0:.0f} s")
        print(f"python {platform.python_version()}, {platform.machine()}, "
              f"{os.cpu_count()} cores")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for extra in ([], ["--tracemalloc"]):
            run = subprocess.run([sys.executable, __file__, "--read", str(path), *extra],
                                 capture_output=True, text=True, env=env, check=False)
            if run.returncode:
                sys.exit(f"load_timing failed:\n{run.stderr}")
            numbers = json.loads(run.stdout.splitlines()[-1])
            print(("load_timing under tracemalloc: " if extra else "load_timing: ")
                  + ", ".join(f"{k} {v}" for k, v in numbers.items()))


if __name__ == "__main__":
    main()
