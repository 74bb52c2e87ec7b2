"""PyTorch profiler (Kineto) traces: ``.json`` and ``.json.gz``, as torch.profiler's
``export_chrome_trace``, vLLM's and SGLang's profiler options write them -> the timing table.

What a Kineto trace holds (torch 2.11, CUPTI 13): ``traceEvents``, Chrome-trace events with
microsecond ``ts``/``dur`` (three decimals: nanoseconds). Kernels are ``cat: "kernel"`` events
(``pid`` = device, ``tid`` = stream) whose ``args`` carry device, stream, context, grid, block
and the ``correlation`` id of the ``cuda_runtime``/``cuda_driver`` event that launched them (on
the launching process and thread). ``record_function`` scopes (module paths, engine step names)
are ``user_annotation`` events on CPU threads, and their GPU-side spans ``gpu_user_annotation``
events on a stream. ``deviceProperties`` names each GPU.

How each kernel gets its annotation path (``nvtx``, outermost first; ``nvtx_source`` says which):

- ``launch``: the ``user_annotation`` scopes open on the launching thread at the launch call,
  found through the kernel's correlation id. This is also what a CUDA-graph replay gets: every
  kernel of a graph carries the correlation id of its ``cudaGraphLaunch``, so it takes the
  ranges open at the replay (``decode``), never the module scopes (they ran at capture only).
- ``launch+capture``: for a graph replay, the launch path followed by the scopes open when the
  kernel's node was captured, where the capture can be told: the kernel launches between
  ``cudaStreamBeginCapture`` and ``cudaStreamEndCapture`` on one thread, matched to the replay's
  kernels in order when exactly one capture launched as many kernels as the replay ran. Exact for
  graphs captured on one stream (kernels replay in capture order); a replay with no such capture
  keeps its launch path. Capture levels' ``nvtx_start_ns``/``nvtx_end_ns`` are -1 (they did not
  run at the replay).
- ``gpu``: no launch event (a trace with CPU activity off): the ``gpu_user_annotation`` spans on
  the kernel's stream that contain its start.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parsers.format import Format
from parsers.kernel_names import dims, short_name
from parsers.raw import RawTiming
from parsers.stacks import EMPTY, Stack, stacks_at, with_capture
from roofprof.errors import InputError

KERNEL_CATS = {"kernel", "Kernel"}
LAUNCH_CATS = {"cuda_runtime", "cuda_driver", "Runtime", "Driver"}
_KERNEL_LAUNCH = re.compile(r"^cu(da)?Launch(?!HostFunc)")
_GRAPH_LAUNCH = re.compile(r"GraphLaunch")
_BEGIN = re.compile(r"StreamBeginCapture")
_END = re.compile(r"StreamEndCapture")


def _sniff(head: bytes) -> bool:
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 65536)
        except zlib.error:
            return False
    text = head.lstrip()[:65536]
    return text[:1] == b"{" and (b'"traceEvents"' in text or b'"deviceProperties"' in text)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        if path.name.endswith(".gz") or path.read_bytes()[:2] == b"\x1f\x8b":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                data = json.load(fh)
        else:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{path}: the gzip stream is truncated or damaged ({exc}); copy or "
                         "export the trace again") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno} "
                         f"({exc.msg}); the trace is truncated or damaged, export it again"
                         ) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason}); not a Kineto trace") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
        raise InputError(f"{path}: JSON without a traceEvents list: not a PyTorch profiler "
                         "(Kineto) trace; write one with prof.export_chrome_trace(PATH)")
    return data


def _ns(us: Any) -> int:
    return round(float(us) * 1000.0)


def read_timing(path: Path) -> RawTiming:
    data = _load_json(path)
    events = [e for e in data["traceEvents"] if isinstance(e, dict) and e.get("ph") == "X"]
    kernels = [e for e in events if e.get("cat") in KERNEL_CATS and isinstance(e.get("args"), dict)]
    if not kernels:
        raise InputError(f"{path}: a Kineto trace without GPU kernel events; profile with "
                         "activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]")
    threads: dict[tuple[Any, Any], int] = {}

    def thread_key(e: dict[str, Any]) -> int:
        return threads.setdefault((e.get("pid"), e.get("tid")), len(threads))

    launches = {e["args"]["correlation"]: e for e in events if e.get("cat") in LAUNCH_CATS
                and isinstance(e.get("args"), dict) and "correlation" in e["args"]}
    cpu = [e for e in events if e.get("cat") == "user_annotation"]
    gpu = [e for e in events if e.get("cat") == "gpu_user_annotation"]
    ranges = _ranges(cpu + gpu, thread_key)
    rows: dict[str, Any]
    try:
        start = np.asarray([_ns(k["ts"]) for k in kernels], dtype=np.int64)
        end = start + np.asarray([_ns(k.get("dur", 0)) for k in kernels], dtype=np.int64)
        args = [k["args"] for k in kernels]
        launch = [launches.get(a.get("correlation")) for a in args]
        # a kernel's launch thread, else its stream (for gpu_user_annotation spans)
        lthread = np.asarray([thread_key(lc) if lc else thread_key(
            {"pid": a.get("device", k.get("pid")), "tid": a.get("stream", k.get("tid"))})
            for lc, a, k in zip(launch, args, kernels, strict=True)], dtype=np.int64)
        lwhen = np.asarray([_ns(lc["ts"]) if lc else s for lc, s in zip(launch, start,
                                                                         strict=True)],
                           dtype=np.int64)
        rows = {
            "kernel": [short_name(str(k.get("name", ""))) for k in kernels],
            "kernel_demangled": [str(k.get("name", "")) for k in kernels],
            "process_id": [_int(lc.get("pid")) if lc else None for lc in launch],
            "thread_id": [_int(lc.get("tid")) if lc else None for lc in launch],
            "device": [_int(a.get("device")) for a in args],
            "context": [_int(a.get("context")) for a in args],
            "stream": [_int(a.get("stream")) for a in args],
            "grid": [dims(*a["grid"]) if _is_dim(a.get("grid")) else None for a in args],
            "block": [dims(*a["block"]) if _is_dim(a.get("block")) else None for a in args],
            "start_ns": start, "end_ns": end,
            "correlation_id": [_int(a.get("correlation")) for a in args],
            "launch_api": [str(lc.get("name")) if lc else None for lc in launch],
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: a kernel event is malformed ({exc!r}); not a trace "
                         "roofprof understands") from None
    devices = {d.get("id"): d for d in data.get("deviceProperties") or []
               if isinstance(d, dict)}
    device_ids: list[int | None] = rows["device"]
    rows["device_name"] = [devices.get(d, {}).get("name") for d in device_ids]
    rows["cc"] = [f"{devices[d]['computeMajor']}.{devices[d]['computeMinor']}"
                  if d in devices and "computeMajor" in devices[d] else None
                  for d in device_ids]
    stacks = stacks_at(ranges, lthread, lwhen)
    sources = ["launch" if lc else ("gpu" if s[0] else "none")
               for lc, s in zip(launch, stacks, strict=True)]
    graph = _graph_captures(events, kernels, launch, ranges, thread_key)
    for i, capture in graph.items():
        stacks[i] = with_capture(stacks[i], capture)
        sources[i] = "launch+capture"
    replays = sum(1 for lc in launch if lc and _GRAPH_LAUNCH.search(str(lc.get("name"))))
    meta = {
        "format": "kineto", "sources": [str(path)], "formats": ["kineto"],
        "gpu": sorted({str(d.get("name")) for d in devices.values() if d.get("name")}),
        "timing": {"clock": "Kineto ts (microseconds with nanosecond decimals) x 1000",
                   "graph_replay_kernels": replays,
                   "graph_kernels_with_capture_ranges": len(graph)},
    }
    return RawTiming(rows=rows, stacks=stacks, nvtx_sources=sources, source=str(path),
                     meta=meta)


def _is_dim(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 3


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _ranges(annotations: list[dict[str, Any]], thread_key: Any) -> Any:
    return pd.DataFrame({
        "thread": [thread_key(e) for e in annotations],
        "name": [str(e.get("name", "")) for e in annotations],
        "start_ns": [_ns(e["ts"]) for e in annotations],
        "end_ns": [_ns(e["ts"]) + _ns(e.get("dur", 0)) for e in annotations],
    })


def _graph_captures(events: list[dict[str, Any]], kernels: list[dict[str, Any]],
                    launch: list[dict[str, Any] | None], ranges: Any,
                    thread_key: Any) -> dict[int, Stack]:
    """Kernel index -> the annotation stack at its node's capture, for graph replays whose
    capture is unambiguous (see the module docstring)."""
    calls = sorted((e for e in events if e.get("cat") in LAUNCH_CATS),
                   key=lambda e: (str(e.get("pid")), str(e.get("tid")), float(e["ts"])))
    captures: list[list[dict[str, Any]]] = []
    open_by_thread: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for e in calls:
        key, name = (e.get("pid"), e.get("tid")), str(e.get("name", ""))
        if _BEGIN.search(name):
            open_by_thread[key] = []
        elif _END.search(name) and key in open_by_thread:
            captures.append(open_by_thread.pop(key))
        elif key in open_by_thread and _KERNEL_LAUNCH.search(name):
            open_by_thread[key].append(e)
    by_replay: dict[int, list[int]] = {}
    for i, lc in enumerate(launch):
        if lc is not None and _GRAPH_LAUNCH.search(str(lc.get("name"))):
            by_replay.setdefault(id(lc), []).append(i)
    out: dict[int, Stack] = {}
    for members in by_replay.values():
        fits = [c for c in captures if len(c) == len(members)]
        if len(fits) != 1:
            continue  # no capture, or several of this size: keep the launch path
        members.sort(key=lambda i: float(kernels[i]["ts"]))
        cap = fits[0]
        stacks = stacks_at(ranges, np.asarray([thread_key(c) for c in cap], dtype=np.int64),
                           np.asarray([_ns(c["ts"]) for c in cap], dtype=np.int64))
        for i, s in zip(members, stacks, strict=True):
            out[i] = s if s else EMPTY
    return out


FORMAT = Format(
    name="kineto",
    suffixes=(".json", ".json.gz", ".pt.trace.json", ".pt.trace.json.gz"),
    sniff=_sniff,
    description="a PyTorch profiler (Kineto) trace",
    timing=read_timing,
)
