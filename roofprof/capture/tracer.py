"""``roofprof trace``: run a Python program with every kernel launch timed by CUPTI, and build
its timing table (``roofprof.tables.timing``).

The program runs unchanged: ``roofprof/capture/tracer_site`` goes first on its ``PYTHONPATH``, so
every Python process it starts traces itself (``roofprof.capture.tracer_hook``) and leaves its raw
records in a temporary folder next to the output; :func:`from_parts` turns them into one timing
table:

- each kernel's launching process and thread are those of the runtime/driver call with its
  correlation id; its annotation path is the NVTX push/pop ranges open on that thread at the
  call (``launch``);
- a CUDA-graph replay's kernels carry the correlation id of their ``cudaGraphLaunch`` (ranges
  open at the replay) and their graph node; an instantiated node leads to the captured node it
  was cloned from, whose creation (time, thread) gives the ranges open at capture
  (``launch+capture``, as in ``parsers.stacks.with_capture``).

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

import numpy as np
import pandas as pd

from parsers.graph_replays import DURATION_FROM, add_replays
from parsers.kernel_names import dims, short_name
from parsers.raw import RawTiming
from parsers.stacks import (
    collector_paused,
    stacks_at,
    with_capture,
    without_unended_library_ranges,
)
from roofprof.capture.marker_ranges import marker_ranges, thread_key
from roofprof.errors import InputError, OutputError, UsageError, option
from roofprof.inputs.timing import build
from roofprof.tables.columns import taken
from roofprof.tables.timing import TimingTrace, write

SITE = Path(__file__).resolve().parent / "tracer_site"
HOOK = Path(__file__).resolve().with_name("tracer_hook.py")


@dataclass
class TraceResult:
    trace: TimingTrace | None
    returncode: int
    interrupted: bool
    #: what went wrong inside traced processes (tracing not started, no NVTX, ...)
    problems: list[str]


def environment(parts: Path, base: dict[str, str] | None = None,
                graph_nodes: str | None = None) -> dict[str, str]:
    """The traced program's environment: our sitecustomize first on PYTHONPATH; the CUDA graph
    replays to record node by node (``roofprof.capture.tracer_hook.ENV_GRAPH_NODES``) if given."""
    env = dict(os.environ if base is None else base)
    if graph_nodes is not None:
        env["ROOFPROF_TRACE_GRAPH_NODES"] = graph_nodes
    path = [str(SITE)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["ROOFPROF_TRACE_DIR"] = str(parts)
    env["ROOFPROF_TRACE_HOOK"] = str(HOOK)
    return env


def run(command: Sequence[str], output: Path, force: bool = False,
        graph_nodes: str | None = None) -> TraceResult:
    """Run ``command`` traced; write the timing table to ``output`` (.parquet). ``graph_nodes``:
    whether to record CUDA graph replays node by node ("all", default) or as a whole ("none")."""
    if not command:
        raise UsageError("give the program to trace after --, e.g. roofprof trace -o run -- "
                         "python serve.py")
    if output.exists() and not force:
        raise OutputError(f"{output} exists; remove it or pass {option('force')} to overwrite")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {output}: folder {folder} does not exist")
    parts = Path(tempfile.mkdtemp(prefix=f".{output.name}.parts.", dir=folder))
    interrupted = False
    try:
        try:
            child = subprocess.Popen(list(command), env=environment(parts,
                                                                    graph_nodes=graph_nodes))
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
        if any(len(r.get("kernels", {}).get("start", ())) for r in records):
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
        why = err.read_text().strip()
        hint = " (pip install roofprof[trace])" if "No module named 'cupti" in why else ""
        problems.append(f"process {err.stem}: tracing did not start: {why}{hint}")
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


@collector_paused
def from_parts(records: Sequence[dict[str, Any]], source: str,
               command: list[str] | None = None) -> TimingTrace:
    """The timing table of the raw records of one run's processes (see the module docstring).

    Each record is one process's, as ``roofprof.capture.tracer_hook`` writes it: column arrays of
    its kernels (``KERNEL_FIELDS`` and ``name``), its launch calls (``CALL_FIELDS`` and ``driver``)
    and its NVTX marker records, and its graph nodes.
    """
    kernels, calls, ranges = [], [], []
    captured: dict[tuple[int, int], tuple[int, int]] = {}  # (pid, node) -> (thread key, ts)
    call_names: dict[tuple[int, int], str] = {}  # (driver, cbid): the same in every process
    kernel_names: dict[str, int] = {}  # each distinct kernel name of the run -> its code
    counted = {"node_by_node": 0, "whole": 0}  # graph replays recorded each way
    gpus: dict[int, dict[str, str]] = {}  # device ordinal -> name and compute capability
    for rec in records:
        if rec.get("format") != 2 or "kernels" not in rec:
            continue  # its problems are reported by read_parts
        pid = int(rec["pid"])
        # kernel names as codes into the run's distinct names: a million Python strings in a
        # DataFrame would become a million Arrow strings (seconds, and a GB for C++ names)
        k = pd.DataFrame({c: v for c, v in rec["kernels"].items() if c != "name"})
        # (by object first: the hook's names are a few hundred objects, and comparing long
        # names a million times costs more than the rest of the column)
        raw = np.asarray(rec["kernels"]["name"], dtype=object)
        _, first, codes = np.unique(np.fromiter(map(id, raw), dtype=np.int64, count=len(raw)),
                                    return_index=True, return_inverse=True)
        ids = [kernel_names.setdefault(str(raw[i]), len(kernel_names)) for i in first.tolist()]
        k["name_id"] = np.asarray(ids, dtype=np.int64)[codes.reshape(-1)]
        graphs = pd.DataFrame(rec.get("graphs") or {})
        k = add_replays(k, graphs, lambda name: kernel_names.setdefault(name, len(kernel_names)))
        counted["whole"] += len(graphs)
        counted["node_by_node"] += int(k.loc[(k["graph_node_id"] != 0), "correlation_id"].nunique())
        k.insert(0, "pid", pid)
        kernels.append(k)
        c = pd.DataFrame(rec["calls"])
        c.insert(0, "pid", pid)
        calls.append(c)
        call_names.update(rec["call_names"])
        gpus.update(rec.get("devices") or {})  # parts written before it carry none
        ranges += marker_ranges(rec["markers"])
        captured.update(_captured(pid, rec["nodes"], rec["clones"],
                                  _capture_windows(c, rec["call_names"])))
    if not kernels or not sum(len(k) for k in kernels):
        raise InputError(f"{source}: the traced run launched no kernels")
    processes = len(kernels)
    k = pd.concat(kernels, ignore_index=True)
    del kernels  # from here on, each column is held once (a million launches: ~10 MB a column)
    # who launched each kernel: its correlation id's runtime call, else its driver call
    c = pd.concat(calls, ignore_index=True).sort_values("driver", kind="stable")
    del calls
    c = c.drop_duplicates(["pid", "correlation_id"], keep="first")
    # (no validate="many_to_one": the line above makes the keys unique; checking them again
    # took 4 s at 10M launches)
    k = k.merge(c.rename(columns={"start": "call_start", "end": "call_end",
                                  "process_id": "call_pid"}),
                on=["pid", "correlation_id"], how="left")
    del c
    found = k["call_start"].notna().to_numpy()
    launch_pid = np.where(found, k["call_pid"].fillna(0), k["pid"]).astype(np.int64)
    tid = k["thread_id"].fillna(0).to_numpy(np.int64)
    # per distinct value, then taken: a run has millions of launches of a few hundred kernels
    name_id = k["name_id"].to_numpy(np.int64)
    unique = list(kernel_names)
    demangled = demangle(unique)
    api_key = (k["driver"].fillna(0).to_numpy(np.int64) << 32) | \
        k["cbid"].fillna(0).to_numpy(np.int64)
    api_names, api_codes = _coded(api_key, lambda key: call_names.get((int(key) >> 32,
                                                                      int(key) & 0xFFFFFFFF)))
    rows: dict[str, Any] = {  # string columns made from their distinct values
        "kernel": taken([short_name(n) for n in unique], name_id),
        "kernel_demangled": taken([demangled[n] for n in unique], name_id),
        "process_id": launch_pid,
        "thread_id": pd.Series(tid, dtype="Int64").where(found),
        # own arrays, not views of k's blocks: k is dropped before the stacks and the table
        "device": k["device_id"].astype("Int64"),
        **_device_columns(k["device_id"].to_numpy(np.int64), gpus),
        "context": k["context_id"].astype("Int64"),
        "stream": k["stream_id"].astype("Int64"),
        "grid": _dims(k, "grid"), "block": _dims(k, "block"),
        "start_ns": k["start"].to_numpy(np.int64), "end_ns": k["end"].to_numpy(np.int64),
        "duration_from": taken(list(DURATION_FROM), k["from_code"].to_numpy(np.int64)),
        "correlation_id": k["correlation_id"].astype("Int64"),
        "launch_api": taken(api_names, np.where(found, api_codes, -1)),
        "graph_id": k["graph_id"].astype("Int64").where(k["graph_id"] != 0),
        "graph_node_id": k["graph_node_id"].astype("Int64").where(k["graph_node_id"] != 0),
    }
    ranges, unended = without_unended_library_ranges(ranges)
    table = pd.DataFrame(ranges, columns=["thread", "name", "start_ns", "end_ns"])
    thread = np.where(found, (launch_pid << 32) | (tid & 0xFFFFFFFF), -1)
    when = np.where(found, k["call_start"].fillna(0), 0).astype(np.int64)
    # graph node kernels: those whose node's capture is known take its ranges too
    node = k["graph_node_id"].to_numpy(np.int64)
    in_graph = np.flatnonzero(node != 0)
    at_capture = [(int(i), captured[(p, n)]) for i, p, n in zip(
        in_graph.tolist(), k["pid"].to_numpy(np.int64)[in_graph].tolist(),
        node[in_graph].tolist(), strict=True) if (p, n) in captured]
    del k
    stacks = stacks_at(table, thread, when)
    sources = ["launch" if ok else "none" for ok in found]
    if at_capture:
        cap = stacks_at(table, np.asarray([a[1][0] for a in at_capture], dtype=np.int64),
                        np.asarray([a[1][1] for a in at_capture], dtype=np.int64))
        for (i, _), at in zip(at_capture, cap, strict=True):
            stacks[i], sources[i] = with_capture(stacks[i], at), "launch+capture"
    meta = {"format": "roofprof-trace", "sources": [source], "formats": ["roofprof-trace"],
            "gpu": sorted({g["name"] for g in gpus.values()}),
            "command": command, "sampling": {"kind": "run", "reasons": ["every launch timed"]},
            "timing": {"clock": "CUPTI timestamps (ns)",
                       "processes": processes, "nvtx_ranges": len(ranges),
                       "nvtx_unended_library_ranges": unended,
                       "cupti_records": _counts(records),
                       "graph_node_kernels": int(rows["graph_node_id"].notna().sum()),
                       "graph_kernels_with_capture_ranges": len(at_capture),
                       "graph_replays": {"nodes": _graph_nodes(records), **counted}}}
    return build(RawTiming(rows=rows, stacks=stacks, nvtx_sources=sources, source=source,
                           meta=meta))


def _dims(k: pd.DataFrame, what: str) -> Any:
    """The "(x, y, z)" strings of the grid or block columns, made once per distinct value;
    null for graph replays timed as a whole (``from_code`` 1: no launch dimensions)."""
    # each axis coded by its distinct values, codes packed pairwise into one key (each product
    # stays under rows squared): hashing keys is much faster than sorting rows of three
    axes = [pd.factorize(k[f"{what}_{axis}"].to_numpy(np.int64)) for axis in "xyz"]
    key = np.zeros(len(k), dtype=np.int64)
    for codes, values in axes:
        key, _ = pd.factorize(key * max(len(values), 1) + codes)
    first = np.unique(key, return_index=True)[1]  # a row of each distinct key, in key order
    x, y, z = (np.asarray(values, dtype=np.int64)[codes[first]] for codes, values in axes)
    return taken([dims(*v) for v in zip(x.tolist(), y.tolist(), z.tolist(), strict=True)],
                 np.where(k["from_code"].to_numpy() == 0, key, -1))


def _distinct(keys: Any, value: Any) -> Any:
    """``value(key)`` for every key of an integer array, computed once per distinct key."""
    values, codes = _coded(keys, value)
    return np.asarray(values, dtype=object)[codes]


def _coded(keys: Any, value: Any) -> tuple[list[Any], Any]:
    """``value(key)`` of each distinct key of an integer array, and each key's index there."""
    unique, inverse = np.unique(keys, return_inverse=True)
    return [value(u) for u in unique], inverse.reshape(-1)


def _graph_nodes(records: Sequence[dict[str, Any]]) -> str:
    """How the hook recorded CUDA graph replays: "all" (node by node; parts written before it
    said) or "none" (each as a whole)."""
    hooks = [rec["graph_replays"] for rec in records if rec.get("graph_replays")]
    return str(hooks[0]["nodes"]) if hooks else "all"


def _counts(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """CUPTI records of each family over all processes (kernel, runtime, driver, marker)."""
    out: dict[str, int] = {}
    for rec in records:
        for family, n in rec.get("counts", {}).items():
            out[family] = out.get(family, 0) + int(n)
    return out


def _device_columns(device: np.ndarray, gpus: dict[int, dict[str, str]]) -> dict[str, Any]:
    """``device_name`` and ``cc`` of each launch from its device ordinal (null where the hook
    could not name the device)."""
    ordinals = list(gpus)
    distinct, inverse = np.unique(device, return_inverse=True)
    index = {o: i for i, o in enumerate(ordinals)}
    codes = np.asarray([index.get(int(d), -1) for d in distinct], dtype=np.int64)[inverse]
    return {"device_name": taken([gpus[o]["name"] for o in ordinals], codes),
            "cc": taken([gpus[o]["cc"] for o in ordinals], codes)}


Window = tuple[int, int, list[tuple[int, int]]]  # begin, end, kernel launches (thread, time)


def _capture_windows(calls: pd.DataFrame, names: dict[tuple[int, int], str]) -> list[Window]:
    """Each stream capture of one process: from its ``...BeginCapture`` call's start to its
    ``...EndCapture`` call's end on one thread, with the kernel launch calls in between (thread
    key, start), in order: the kernels that became the captured graph's nodes."""
    out: list[Window] = []
    opened: dict[int, tuple[int, list[tuple[int, int]]]] = {}
    # only begin, end and kernel launch calls on threads that begin a capture can matter: pick
    # them per distinct call name, then walk them in time order
    api = (calls["driver"].to_numpy(np.int64) << 32) | calls["cbid"].to_numpy(np.int64)
    role = _distinct(api, lambda key: _capture_role(names.get((int(key) >> 32,
                                                                int(key) & 0xFFFFFFFF), "")))
    threads = pd.MultiIndex.from_arrays([calls["process_id"], calls["thread_id"]])
    begins = role == "begin"
    if not begins.any():
        return out
    keep = (role != "") & threads.isin(threads[begins])
    rows = calls[keep].sort_values("start", kind="stable")
    for pid, tid, start, end, cbid, driver in zip(
            rows["process_id"], rows["thread_id"], rows["start"], rows["end"], rows["cbid"],
            rows["driver"], strict=True):
        name = names.get((int(driver), int(cbid)), "")
        key = thread_key(pid, tid)
        if "BeginCapture" in name:
            opened[key] = (int(start), [])
        elif "EndCapture" in name and key in opened:
            begin, launches = opened.pop(key)
            out.append((begin, int(end), launches))
        elif key in opened and "Launch" in name and "GraphLaunch" not in name:
            opened[key][1].append((key, int(start)))
    return out


def _capture_role(name: str) -> str:
    """What a call does in ``_capture_windows``: begin or end a capture, launch a kernel."""
    if "BeginCapture" in name:
        return "begin"
    if "EndCapture" in name:
        return "end"
    return "launch" if "Launch" in name and "GraphLaunch" not in name else ""


def _captured(pid: int, nodes: dict[int, tuple[int, int, int]], clones: dict[int, int],
              windows: list[Window]) -> dict[tuple[int, int], tuple[int, int]]:
    """(pid, node) -> (thread key, time) of the launch that each graph node was captured from;
    an instantiated node leads to the node it was cloned from (clones of clones too).

    A capture's kernel nodes (node type 0, in creation order) are its kernel launches, in order,
    where the counts agree: that holds whether CUPTI reports a node's creation at its launch or
    at the end of the capture. Otherwise a node's capture is where and when it was created.
    """
    where = {n: (thread_key(pid, tid), int(ts)) for n, (ts, tid, _type) in nodes.items()}
    members: list[list[int]] = [[] for _ in windows]
    for n, (ts, _tid, node_type) in nodes.items():  # in creation order
        inside = [i for i, (a, z, _) in enumerate(windows) if a <= ts <= z]
        if node_type == 0 and len(inside) == 1:
            members[inside[0]].append(n)
    for (_, _, launches), found in zip(windows, members, strict=True):
        if len(found) == len(launches):
            where.update(zip(found, launches, strict=True))
    out = {}
    for node in set(nodes) | set(clones):
        original = node  # an instantiated node is created too (seen on an H100): follow clones
        for _ in range(8):
            if original not in clones:
                break
            original = clones[original]
        if original in where:
            out[(pid, int(node))] = where[original]
    return out

