"""``roofprof trace``: run a Python program with every kernel launch timed by CUPTI, and build
its timing table (``roofprof.timing``).

The program runs unchanged: ``roofprof/tracer_site`` goes first on its ``PYTHONPATH``, so every
Python process it starts traces itself (``roofprof.tracer_hook``) and leaves its raw records in
a temporary folder next to the output; :func:`from_parts` turns them into one timing table:

- each kernel's launching process and thread are those of the runtime/driver call with its
  correlation id; its annotation path is the NVTX push/pop ranges open on that thread at the
  call (``launch``);
- a CUDA-graph replay's kernels carry the correlation id of their ``cudaGraphLaunch`` (ranges
  open at the replay) and their graph node; an instantiated node leads to the captured node it
  was cloned from, whose creation (time, thread) gives the ranges open at capture
  (``launch+capture``, as in ``roofprof.timing.with_capture``).

Kernel names are CUPTI's mangled names; ``c++filt`` (binutils) demangles them where installed,
and ``kernel`` is the base name either way. Needs the optional ``cupti-python`` package in the
traced program's environment (``pip install roofprof[trace]``).
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roofprof.errors import InputError, OutputError, UsageError
from roofprof.timing import TimingTrace, build, dims, short_name, stacks_at, with_capture

SITE = Path(__file__).resolve().parent / "tracer_site"
HOOK = Path(__file__).resolve().with_name("tracer_hook.py")
_NEVER = 2**63 - 1


@dataclass
class TraceResult:
    trace: TimingTrace | None
    returncode: int
    interrupted: bool
    #: what went wrong inside traced processes (tracing not started, no NVTX, ...)
    problems: list[str]


def environment(parts: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The traced program's environment: our sitecustomize first on PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    path = [str(SITE)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["ROOFPROF_TRACE_DIR"] = str(parts)
    env["ROOFPROF_TRACE_HOOK"] = str(HOOK)
    return env


def run(command: Sequence[str], output: Path, force: bool = False) -> TraceResult:
    """Run ``command`` traced; write the timing table to ``output`` (.parquet)."""
    from roofprof.timing import write

    if not command:
        raise UsageError("give the program to trace after --, e.g. roofprof trace -o run -- "
                         "python serve.py")
    if output.exists() and not force:
        raise OutputError(f"{output} exists; remove it or pass -f to overwrite")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {output}: folder {folder} does not exist")
    parts = Path(tempfile.mkdtemp(prefix=f".{output.name}.parts.", dir=folder))
    interrupted = False
    try:
        try:
            child = subprocess.Popen(list(command), env=environment(parts))
        except OSError as exc:
            raise UsageError(f"cannot start {command[0]!r}: {exc.strerror or exc}") from None
        try:
            returncode = child.wait()
        except KeyboardInterrupt:
            interrupted = True
            child.send_signal(signal.SIGINT)
            returncode = child.wait()
        records, problems = read_parts(parts)
        trace = None
        if any(r["kernels"] for r in records):
            trace = from_parts(records, source=str(output), command=list(command))
            write(trace, output)
        elif not problems:
            problems.append("no kernel was launched (or the program is not Python: roofprof "
                            "trace follows Python processes)")
        return TraceResult(trace, returncode, interrupted, problems)
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def read_parts(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Each traced process's raw records, and the problems they reported."""
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for err in sorted(folder.glob("*.error")):
        problems.append(f"process {err.stem}: tracing did not start: "
                        f"{err.read_text().strip()} (pip install roofprof[trace])")
    for part in sorted(folder.glob("*.pickle")):
        with open(part, "rb") as fh:  # written by our own hook in the traced program
            rec = pickle.load(fh)
        records.append(rec)
        problems += [f"process {rec['pid']}: {e}" for e in rec.get("errors", [])]
    return records, problems


def demangle(names: Sequence[str]) -> dict[str, str]:
    """Mangled -> demangled through one ``c++filt`` process; unchanged where it is missing."""
    unique = sorted({n for n in names if n.startswith("_Z")})
    out = {n: n for n in names}
    tool = shutil.which("c++filt")
    if unique and tool:
        done = subprocess.run([tool], input="\n".join(unique) + "\n", capture_output=True,
                              text=True, check=False)
        lines = done.stdout.splitlines()
        if done.returncode == 0 and len(lines) == len(unique):
            out.update(zip(unique, lines, strict=True))
    return out


def from_parts(records: Sequence[dict[str, Any]], source: str,
               command: list[str] | None = None) -> TimingTrace:
    """The timing table of the raw records of one run's processes (see the module docstring)."""
    import numpy as np
    import pandas as pd

    def thread_key(pid: int, tid: int) -> int:
        return (int(pid) << 32) | (int(tid) & 0xFFFFFFFF)

    kernels: list[tuple[Any, ...]] = []
    calls: dict[tuple[int, int], tuple[int, int, int, str]] = {}
    ranges: list[tuple[int, str, int, int]] = []
    captured: dict[tuple[int, int], tuple[int, int]] = {}  # (pid, node) -> (thread key, ts)
    for rec in records:
        pid = int(rec["pid"])
        kernels += [(pid, *k) for k in rec["kernels"]]
        names = rec["call_names"]
        for corr, start, cpid, tid, cbid, driver in rec["calls"]:
            key = (pid, int(corr))
            if key not in calls or not driver:  # a runtime call wins over its driver call
                calls[key] = (int(cpid), int(tid), int(start), names.get((driver, cbid), ""))
        opened: dict[int, tuple[str, int, int, int]] = {}
        for mid, flags, ts, name, _domain, mpid, tid in sorted(rec["markers"],
                                                              key=lambda m: m[2]):
            if flags & 2:  # MARKER_START
                opened[mid] = (name, int(ts), int(mpid), int(tid))
            elif flags & 4 and mid in opened:  # MARKER_END
                n, s, p, t = opened.pop(mid)
                ranges.append((thread_key(p, t), n, s, int(ts)))
        ranges += [(thread_key(p, t), n, s, _NEVER) for n, s, p, t in opened.values()]
        nodes, clones = rec["nodes"], rec["clones"]
        for node in set(nodes) | set(clones):
            original = node
            for _ in range(8):
                if original in nodes or original not in clones:
                    break
                original = clones[original]
            if original in nodes:
                ts, tid = nodes[original]
                captured[(pid, int(node))] = (thread_key(pid, tid), int(ts))
    if not kernels:
        raise InputError(f"{source}: the traced run launched no kernels")
    col = list(zip(*kernels, strict=True))
    pid_c = col[0]
    launch = [calls.get((int(p), int(c))) for p, c in zip(pid_c, col[6], strict=True)]
    demangled = demangle([str(n) for n in col[15]])
    rows: dict[str, Any] = {
        "kernel": [short_name(str(n)) for n in col[15]],
        "kernel_demangled": [demangled[str(n)] for n in col[15]],
        "process_id": [lc[0] if lc else p for lc, p in zip(launch, pid_c, strict=True)],
        "thread_id": [lc[1] if lc else None for lc in launch],
        "device": col[3], "context": col[4], "stream": col[5],
        "grid": [dims(*g) for g in zip(col[7], col[8], col[9], strict=True)],
        "block": [dims(*b) for b in zip(col[10], col[11], col[12], strict=True)],
        "start_ns": np.asarray(col[1], dtype=np.int64),
        "end_ns": np.asarray(col[2], dtype=np.int64),
        "correlation_id": col[6],
        "launch_api": [lc[3] if lc else None for lc in launch],
        "graph_id": [g or None for g in col[13]],
        "graph_node_id": [g or None for g in col[14]],
    }
    table = pd.DataFrame(ranges, columns=["thread", "name", "start_ns", "end_ns"])
    thread = np.asarray([thread_key(lc[0], lc[1]) if lc else -1 for lc in launch],
                        dtype=np.int64)
    when = np.asarray([lc[2] if lc else 0 for lc in launch], dtype=np.int64)
    stacks = stacks_at(table, thread, when)
    sources = ["launch" if lc else "none" for lc in launch]
    at_capture = [(i, captured[(int(p), int(n))]) for i, (p, n) in enumerate(
        zip(pid_c, col[14], strict=True)) if n and (int(p), int(n)) in captured]
    if at_capture:
        cap = stacks_at(table, np.asarray([a[1][0] for a in at_capture], dtype=np.int64),
                        np.asarray([a[1][1] for a in at_capture], dtype=np.int64))
        for (i, _), at in zip(at_capture, cap, strict=True):
            stacks[i], sources[i] = with_capture(stacks[i], at), "launch+capture"
    df = build(rows, stacks, sources, source)
    meta = {"format": "roofprof-trace", "sources": [source], "formats": ["roofprof-trace"],
            "command": command, "sampling": {"kind": "run", "reasons": ["every launch timed"]},
            "timing": {"clock": "CUPTI timestamps (ns)", "launches": len(df),
                       "processes": len(records), "nvtx_ranges": len(ranges),
                       "graph_node_kernels": int(df["graph_node_id"].notna().sum()),
                       "graph_kernels_with_capture_ranges": len(at_capture),
                       "nvtx_source": {str(a): int(b) for a, b in
                                       df["nvtx_source"].value_counts().items()}}}
    return TimingTrace(kernels=df, meta=meta)


@dataclass
class TimedJoin:
    timing: Path
    joined: Path
    facts: dict[str, Any]
    problems: list[str]


def timed_join(command: Sequence[str], counters_path: Path, counters: Any,
               force: bool = False) -> TimedJoin:
    """``record --sample``'s second half: time every launch of ``command`` (NAME.timing.parquet
    beside the counters' NAME.parquet), join with ``counters`` (NAME.joined.parquet)."""
    from roofprof.errors import RoofprofError
    from roofprof.join import write_joined

    stem = counters_path.with_suffix("")
    timing_path = stem.with_name(stem.name + ".timing.parquet")
    joined_path = stem.with_name(stem.name + ".joined.parquet")
    timed = run(command, timing_path, force=force)
    if timed.trace is None or timed.returncode:
        why = "; ".join(timed.problems)
        raise RoofprofError(f"the timing pass failed (exit {timed.returncode}"
                            f"{': ' + why if why else ''}); the sampled counters are in "
                            f"{counters_path}")
    facts = write_joined(timed.trace, counters, joined_path)
    return TimedJoin(timing_path, joined_path, facts, timed.problems)
