"""Benchmark (issue 11): the overhead of `roofprof trace` on a decode loop; target < 5%.

Run on a GPU host from the repository root (cupti-python installed: pip install -e '.[trace]'):

    python bench/bench_trace_overhead.py [--steps 200] [--rounds 3] [--graph] [--kineto]
                                         [--graph-nodes none] [--pin 2-9] [--json out.json]
                                         [--arm LABEL:VAR=VALUE[,VAR=VALUE]] ...
                                         [--layers 4] [--hidden 2048 --heads 16 --kv-heads 4]

Runs bench/decode_loop.py plainly and under `roofprof trace`, --rounds times each, every run in
a fresh process, in ABBA order (plain first in even rounds, traced first in odd ones) so that a
host that drifts slower or faster weighs on both alike. Each round gives a pair: the traced
run's time over the plain run's next to it. Printed: every run, the median of the pairs'
overheads and their spread, how many pairs the traced run lost, and the overhead between the
fastest runs (a busy host only ever adds time). Two times per run: the mean step (what the run
paid) and the median step (leaves out the host's hiccups; a tracer's periodic stalls would
show in the mean only).

`--pin CPUS` runs every process under `taskset -c CPUS` (the same cores for all).
`--arm LABEL:VAR=VALUE` adds a traced run with that environment to each round (e.g.
`--arm zeroed:ROOFPROF_TRACE_TUNING=zeroed`), `--kineto` a run under torch.profiler (CUDA
activities only: the same CUPTI records, taken by Kineto's C++).
The default model (4 layers, hidden 2048, batch 1) is launch-bound: the worst case for a
tracer, whose cost is per launch.
`--layers 32 --hidden 4096 --heads 32 --kv-heads 8` is the 7B-shaped model of the issue.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMES = ("ms_per_step", "median_step_ms")
SAID: set[str] = set()


def timed(argv: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    done = subprocess.run(argv, check=False, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})})
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("{"))
    got = json.loads(line)
    if "trace" in argv:  # a tracer that failed to start costs nothing: check it recorded
        import pyarrow.parquet as pq

        out = Path(argv[argv.index("-o") + 1])
        rows = pq.ParquetFile(out).metadata.num_rows if out.exists() else 0
        if not rows:
            sys.exit(f"{' '.join(argv)} recorded nothing:\n{done.stderr[-3000:]}")
        said = [ln for ln in done.stderr.splitlines() if ln.strip()]
        if said and said[-1] not in SAID:
            SAID.add(said[-1])
            print(f"  [{rows} rows; roofprof trace said: {said[-1][:300]}]", flush=True)
    return {k: float(got[k]) for k in TIMES}


def arm(spec: str) -> tuple[str, dict[str, str]]:
    label, _, assignments = spec.partition(":")
    env = dict(a.split("=", 1) for a in assignments.split(",") if a)
    return label, env


def overheads(plain: list[float], other: list[float]) -> dict[str, float]:
    pairs = sorted(100 * (o - p) / p for p, o in zip(plain, other, strict=True))
    return {"median": statistics.median(pairs), "min": pairs[0], "max": pairs[-1],
            "lost": sum(x > 0 for x in pairs), "pairs": len(pairs),
            "fastest": 100 * (min(other) - min(plain)) / min(plain)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--graph", action="store_true")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--annotate", action="store_true",
                    help="an NVTX range per module call (decode_loop.py --annotate)")
    ap.add_argument("--graph-nodes", default=None,
                    help="roofprof trace --graph-nodes: all (default) or none")
    ap.add_argument("--kineto", action="store_true",
                    help="also time the loop under torch.profiler (CUDA activities only)")
    ap.add_argument("--arm", action="append", default=[], type=arm,
                    help="LABEL:VAR=VALUE[,VAR=VALUE]: also a traced run with this environment")
    ap.add_argument("--pin", default=None, help="run every process under taskset -c PIN")
    ap.add_argument("--json", type=Path, default=None, help="also write the runs here")
    args = ap.parse_args()
    pin = []
    if args.pin:
        if shutil.which("taskset") is None:
            sys.exit("--pin: no taskset on this machine")
        pin = ["taskset", "-c", args.pin]
    loop = [*pin, sys.executable, str(ROOT / "bench" / "decode_loop.py"), "--steps",
            str(args.steps), "--layers", str(args.layers), "--hidden", str(args.hidden), "--heads",
            str(args.heads), "--kv-heads", str(args.kv_heads)]
    loop += (["--graph"] if args.graph else []) + (["--annotate"] if args.annotate else [])
    nodes = ["--graph-nodes", args.graph_nodes] if args.graph_nodes else []
    arms: list[tuple[str, dict[str, str]]] = [("traced", {}), *args.arm]
    runs: dict[str, list[dict[str, float]]] = {"plain": [], **{a: [] for a, _ in arms}}
    if args.kineto:
        runs["torch.profiler"] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            todo = [("plain", loop, None)]
            for label, env in arms:
                traced = [*pin, sys.executable, "-m", "roofprof", "trace", *nodes, "-o",
                          str(Path(tmp) / f"{label}{r}.parquet"), "--", *loop[len(pin):]]
                todo.append((label, traced, env))
            if args.kineto:
                todo.append(("torch.profiler", [*loop, "--kineto"], None))
            for label, argv, env in (todo if r % 2 == 0 else todo[::-1]):
                runs[label].append(timed(argv, env))
    mode = "graph" if args.graph else "eager"
    ranges = "a range per module" if args.annotate else "one range per step"
    print(f"decode loop ({args.layers} layers, hidden {args.hidden}, {mode}, {ranges}, "
          f"{args.steps} steps, {args.rounds} rounds in ABBA order"
          f"{', --graph-nodes ' + args.graph_nodes if args.graph_nodes else ''}"
          f"{', pinned to CPUs ' + args.pin if args.pin else ''})")
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for key in TIMES:
        print(f"-- {'mean step (what the run paid)' if key == TIMES[0] else 'median step'}")
        plain = [x[key] for x in runs["plain"]]
        print(f"  plain    {statistics.median(plain):.3f} ms  "
              f"[{', '.join(f'{x:.3f}' for x in plain)}]")
        for label, got in runs.items():
            if label == "plain":
                continue
            times = [x[key] for x in got]
            o = overheads(plain, times)
            summary.setdefault(label, {})[key] = o
            print(f"  {label:8} {statistics.median(times):.3f} ms  "
                  f"[{', '.join(f'{x:.3f}' for x in times)}]")
            print(f"           overhead, median of {o['pairs']} pairs {o['median']:+.1f}% "
                  f"(pairs {o['min']:+.1f}% to {o['max']:+.1f}%, slower in {o['lost']}); "
                  f"fastest runs {o['fastest']:+.1f}%  (target < 5%)")
    if args.json:
        args.json.write_text(json.dumps({"argv": sys.argv, "runs": runs, "overhead": summary},
                                        indent=1))


if __name__ == "__main__":
    main()
