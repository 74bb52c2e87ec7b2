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

import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parsers.format import Format, regular_file
from parsers.json_stream import read_object
from parsers.kernel_names import short_name
from parsers.kineto_checks import MISSING, Findings
from parsers.kineto_events import (
    CallEvent,
    KernelEvent,
    Kernels,
    Launch,
    Names,
    call_event,
    kernel_event,
    read_devices,
    read_kernels,
    read_launches,
    read_ranges,
)
from parsers.raw import RawTiming
from parsers.stacks import EMPTY, Stack, stacks_at, with_capture
from roofprof.errors import InputError

KERNEL_CATS = {"kernel", "Kernel"}
LAUNCH_CATS = {"cuda_runtime", "cuda_driver", "Runtime", "Driver"}
RANGE_CATS = {"user_annotation", "gpu_user_annotation"}
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


class _Kept:
    """The events this reader uses, by kind, collected as the file is read: of each only the
    fields it reads, with its index in ``traceEvents`` (the other events are dropped at once)."""

    def __init__(self, found: Findings) -> None:
        self.found = found
        self.names: Names = {}
        self.kernels: list[KernelEvent] = []
        self.launches: list[CallEvent] = []
        self.ranges: list[CallEvent] = []

    def __call__(self, index: int, event: Any) -> None:
        if type(event) is not dict:
            self.found.not_events.event(index, MISSING, "not an object", {"element": event})
            return
        cat = event.get("cat")
        if event.get("ph") != "X" or type(cat) is not str:
            return
        if cat in KERNEL_CATS:
            self.kernels.append(kernel_event(index, event, self.names))
        elif cat in LAUNCH_CATS:
            self.launches.append(call_event(index, event, self.names))
        elif cat in RANGE_CATS:
            self.ranges.append(call_event(index, event, self.names))


def read_timing(path: Path) -> RawTiming:
    """The kernels of a Kineto trace with their annotation paths (see the module docstring);
    what could not be used is said once per kind (``parsers.kineto_checks.Findings``)."""
    regular_file(path)
    found = Findings(path)
    kept = _Kept(found)
    doc = read_object(path, "traceEvents", kept)
    if doc.fields is None or doc.streamed is None:
        raise InputError(f"{path}: JSON without a traceEvents list: not a PyTorch profiler "
                         "(Kineto) trace; write one with prof.export_chrome_trace(PATH)")
    k = read_kernels(kept.kernels, found)
    if not k.start:
        if found.kernels_out.n:
            raise InputError(f"{path}: a Kineto trace without usable GPU kernel events: all "
                             f"{found.kernels_out.n} lack a usable start time (ts), e.g. "
                             f"{found.kernels_out.listed[0]}; the trace is damaged, export it "
                             "again")
        raise InputError(f"{path}: a Kineto trace without GPU kernel events; profile with "
                         "activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]")
    calls, lost = read_launches(kept.launches, found)
    threads: dict[tuple[Any, Any], int] = {}

    def thread_key(key: tuple[Any, Any]) -> int:
        return threads.setdefault(key, len(threads))

    kept_ranges = read_ranges(kept.ranges, found)
    ranges = pd.DataFrame({
        "thread": np.asarray([thread_key(r[0]) for r in kept_ranges], dtype=np.int64),
        "name": [r[1] for r in kept_ranges],
        "start_ns": np.asarray([r[2] for r in kept_ranges], dtype=np.int64),
        "end_ns": np.asarray([r[3] for r in kept_ranges], dtype=np.int64),
    })
    by_correlation = {c.correlation: c for c in calls}
    launch = [by_correlation.get(c) if c is not None else None for c in k.correlation]
    found.unlaunched = sum(1 for c, lc in zip(k.correlation, launch, strict=True)
                           if lc is None and c in lost)
    devices = read_devices(doc.fields.get("deviceProperties", MISSING), found)
    rows = _rows(k, launch, devices)
    # a kernel's launch thread, else its stream (for gpu_user_annotation spans)
    lthread = np.asarray([thread_key(lc.thread if lc else q) for lc, q in
                          zip(launch, k.queue, strict=True)], dtype=np.int64)
    lwhen = np.asarray([lc.start if lc else s for lc, s in zip(launch, k.start, strict=True)],
                       dtype=np.int64)
    stacks = stacks_at(ranges, lthread, lwhen)
    sources = ["launch" if lc else ("gpu" if s[0] else "none")
               for lc, s in zip(launch, stacks, strict=True)]
    graph = _graph_captures(calls, k.start, launch, ranges, thread_key)
    for i, capture in graph.items():
        stacks[i] = with_capture(stacks[i], capture)
        sources[i] = "launch+capture"
    replays = sum(1 for lc in launch if lc and _GRAPH_LAUNCH.search(lc.name))
    meta = {
        "format": "kineto", "sources": [str(path)], "formats": ["kineto"],
        "gpu": sorted({name for name, _ in devices.values() if name}),
        "timing": {"clock": "Kineto ts (microseconds with nanosecond decimals) x 1000",
                   "graph_replay_kernels": replays,
                   "graph_kernels_with_capture_ranges": len(graph)},
    }
    found.emit()
    return RawTiming(rows=rows, stacks=stacks, nvtx_sources=sources, source=str(path),
                     meta=meta)


def _rows(k: Kernels, launch: list[Launch | None],
          devices: dict[int, tuple[str | None, str | None]]) -> dict[str, Any]:
    """The timing table's columns of the kernels: a duration that is unknown is NaN, its
    end the kernel's start (``end_ns`` has no nulls)."""
    start = np.asarray(k.start, dtype=np.int64)
    known = np.asarray([d is not None for d in k.duration], dtype=bool)
    end = start + np.asarray([d or 0 for d in k.duration], dtype=np.int64)
    duration = (end - start).astype("float64")
    duration[~known] = np.nan
    unknown: tuple[str | None, str | None] = (None, None)
    return {
        "kernel": [short_name(n) if n is not None else None for n in k.name],
        "kernel_demangled": k.name,
        "process_id": [lc.thread[0] if lc else None for lc in launch],
        "thread_id": [lc.thread[1] if lc else None for lc in launch],
        "device": k.device, "context": k.context, "stream": k.stream,
        "grid": k.grid, "block": k.block,
        "start_ns": start, "end_ns": end, "duration_ns": duration,
        "correlation_id": k.correlation,
        "launch_api": [lc.name if lc else None for lc in launch],
        "device_name": [devices.get(d, unknown)[0] if d is not None else None
                        for d in k.device],
        "cc": [devices.get(d, unknown)[1] if d is not None else None for d in k.device],
    }


def _graph_captures(calls: list[Launch], starts: list[int], launch: list[Launch | None],
                    ranges: Any, thread_key: Any) -> dict[int, Stack]:
    """Kernel index -> the annotation stack at its node's capture, for graph replays whose
    capture is unambiguous (see the module docstring)."""
    ordered = sorted(calls, key=lambda c: (str(c.thread[0]), str(c.thread[1]), c.start))
    captures: list[list[Launch]] = []
    open_by_thread: dict[tuple[int, int], list[Launch]] = {}
    for c in ordered:
        if _BEGIN.search(c.name):
            open_by_thread[c.thread] = []
        elif _END.search(c.name) and c.thread in open_by_thread:
            captures.append(open_by_thread.pop(c.thread))
        elif c.thread in open_by_thread and _KERNEL_LAUNCH.search(c.name):
            open_by_thread[c.thread].append(c)
    by_replay: dict[int, list[int]] = {}
    for i, lc in enumerate(launch):
        if lc is not None and _GRAPH_LAUNCH.search(lc.name):
            by_replay.setdefault(id(lc), []).append(i)
    out: dict[int, Stack] = {}
    for members in by_replay.values():
        fits = [c for c in captures if len(c) == len(members)]
        if len(fits) != 1:
            continue  # no capture, or several of this size: keep the launch path
        members.sort(key=lambda i: starts[i])
        cap = fits[0]
        stacks = stacks_at(ranges, np.asarray([thread_key(c.thread) for c in cap],
                                              dtype=np.int64),
                           np.asarray([c.start for c in cap], dtype=np.int64))
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
