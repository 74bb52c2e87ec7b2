"""Kineto events, by kind, read through their checks (``parsers.kineto_checks``): the kernels
with their identity and times, the CUDA runtime/driver calls that launched them or began and
ended a graph capture, the annotation ranges, and ``deviceProperties``. What fails a check is
handled by what the field is for: a kernel without a start is left out, a kernel without a
duration keeps its start with its duration unknown, an identity field is null, an annotation
range or a call that cannot be placed in time on a thread is left out; each is counted in
:class:`~parsers.kineto_checks.Findings`, which warns once per kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from parsers.kineto_checks import (
    MISSING,
    Findings,
    duration_ns,
    ident,
    launch_dims,
    name_of,
    shown,
    time_ns,
)

__all__ = ["CallEvent", "KernelEvent", "Kernels", "Launch", "Names", "call_event", "kernel_event",
           "read_devices", "read_kernels", "read_launches", "read_ranges"]

#: the calls that begin and end a CUDA graph capture (``cudaStreamBeginCapture``, ...)
_BEGIN, _END = "StreamBeginCapture", "StreamEndCapture"
#: a kernel's ``args`` fields, each with its check
_KERNEL_ARGS: tuple[tuple[str, Callable[[Any], tuple[Any, str]]], ...] = (
    ("device", ident), ("context", ident), ("stream", ident), ("correlation", ident),
    ("grid", launch_dims), ("block", launch_dims))
#: one shared copy of each name (a trace repeats its kernel and call names thousands of times)
Names = dict[str, str]


class KernelEvent(NamedTuple):
    """The raw fields of a kernel event the reader uses (MISSING where absent), kept in place of
    the event itself while the file is read: a tenth of its memory. ``args``: the values of
    its fields in ``_KERNEL_ARGS``' order, or the raw ``args`` where it is not an object."""

    #: the event's index in traceEvents
    at: int
    name: Any
    ts: Any
    dur: Any
    pid: Any
    tid: Any
    args: Any


class CallEvent(NamedTuple):
    """The raw fields of a runtime/driver call or an annotation range the reader uses."""

    #: the event's index in traceEvents
    at: int
    name: Any
    ts: Any
    dur: Any
    pid: Any
    tid: Any
    correlation: Any


def _shared(value: Any, names: Names) -> Any:
    return names.setdefault(value, value) if type(value) is str else value


def kernel_event(index: int, e: dict[str, Any], names: Names) -> KernelEvent:
    args = e.get("args", MISSING)
    if isinstance(args, dict):
        args = tuple(args.get(key, MISSING) for key, _ in _KERNEL_ARGS)
    return KernelEvent(index, _shared(e.get("name", MISSING), names), e.get("ts", MISSING),
                       e.get("dur", MISSING), e.get("pid", MISSING), e.get("tid", MISSING), args)


def call_event(index: int, e: dict[str, Any], names: Names) -> CallEvent:
    args = e.get("args")
    return CallEvent(index, _shared(e.get("name", MISSING), names), e.get("ts", MISSING),
                     e.get("dur", MISSING), e.get("pid", MISSING), e.get("tid", MISSING),
                     args.get("correlation", MISSING) if isinstance(args, dict) else MISSING)


@dataclass
class Kernels:
    """The kernel events kept (those with a start), as columns; a field that fails its check
    is None. ``queue``: the (device, stream) whose GPU spans give a kernel without a launch
    call its path (the event's ``pid``/``tid`` where ``args`` does not say)."""

    name: list[str | None] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    duration: list[int | None] = field(default_factory=list)
    device: list[int | None] = field(default_factory=list)
    context: list[int | None] = field(default_factory=list)
    stream: list[int | None] = field(default_factory=list)
    correlation: list[int | None] = field(default_factory=list)
    grid: list[str | None] = field(default_factory=list)
    block: list[str | None] = field(default_factory=list)
    queue: list[tuple[int | None, int | None]] = field(default_factory=list)


def read_kernels(events: list[KernelEvent], found: Findings) -> Kernels:
    """Each kernel event's fields, checked: one without a usable start is left out, one without
    a usable duration kept with None, an identity field that fails its check None."""
    out = Kernels()
    for e in events:
        start, why = time_ns(e.ts)
        if start is None:
            found.kernels_out.event(e.at, e.name, f"ts {why}", {"ts": e.ts})
            continue
        name, why = name_of(e.name)
        if name is None:
            found.cell(e.at, e.name, "name", e.name, why)
        duration, why = duration_ns(e.dur, start)
        if duration is None:
            found.durations.event(e.at, e.name, f"dur {why}", {"dur": e.dur})
        raws = e.args if isinstance(e.args, tuple) else (MISSING,) * len(_KERNEL_ARGS)
        if not isinstance(e.args, tuple):
            found.cell(e.at, e.name, "args", e.args, "not an object: device, context, "
                       "stream, correlation, grid and block are null")
        values = {}
        for (key, check), raw in zip(_KERNEL_ARGS, raws, strict=True):
            values[key], why = check(raw)
            if values[key] is None and isinstance(e.args, tuple):
                found.cell(e.at, e.name, f"args.{key}", raw, why)
            getattr(out, key).append(values[key])
        out.name.append(name)
        out.start.append(start)
        out.duration.append(duration)
        out.queue.append((values["device"] if raws[0] is not MISSING else ident(e.pid)[0],
                          values["stream"] if raws[2] is not MISSING else ident(e.tid)[0]))
    return out


@dataclass(frozen=True, slots=True)
class Launch:
    """A CUDA runtime/driver call with every field the reader uses."""

    index: int
    name: str
    thread: tuple[int, int]
    start: int
    correlation: int


Placed = tuple[str, tuple[int, int], int]


def _placed(e: CallEvent) -> tuple[Placed | None, str, dict[str, Any]]:
    """An annotation's or a call's name, thread (pid, tid) and start, checked; or None, the
    first field that fails and why, and the raw values a message shows (ts, dur, and the
    failing pid or tid)."""
    raw = {"ts": e.ts, "dur": e.dur}
    name, why = name_of(e.name)
    if name is None:
        return None, f"name {why}", raw
    pid, why = ident(e.pid)
    if pid is None:
        raw["pid"] = e.pid
        return None, f"pid {why}", raw
    tid, why = ident(e.tid)
    if tid is None:
        raw["tid"] = e.tid
        return None, f"tid {why}", raw
    start, why = time_ns(e.ts)
    if start is None:
        return None, f"ts {why}", raw
    return (name, (pid, tid), start), "", raw


def read_launches(events: list[CallEvent], found: Findings) -> tuple[list[Launch], set[int]]:
    """The runtime/driver calls that can be placed (name, thread, start, correlation id), in
    trace order; and the correlation ids of those left out (their kernels lose their launch)."""
    kept: list[Launch] = []
    lost: set[int] = set()
    for e in events:
        placed, why, raw = _placed(e)
        correlation, why_c = ident(e.correlation)
        if placed is not None and correlation is not None:
            kept.append(Launch(e.at, placed[0], placed[1], placed[2], correlation))
            continue
        if placed is not None:
            why = f"args.correlation {why_c}"
            raw["args.correlation"] = e.correlation
        found.launches.event(e.at, e.name, why, raw)
        if correlation is not None:
            lost.add(correlation)
        if isinstance(e.name, str) and (_BEGIN in e.name or _END in e.name):
            found.capture_calls = True
    return kept, lost


def read_ranges(events: list[CallEvent], found: Findings
                ) -> list[tuple[tuple[int, int], str, int, int]]:
    """The annotation ranges that can be placed (thread, name, start, end), in trace order;
    the others are counted in ``found``."""
    kept = []
    for e in events:
        placed, why, raw = _placed(e)
        if placed is not None:
            name, thread, start = placed
            duration, why_d = duration_ns(e.dur, start)
            if duration is not None:
                kept.append((thread, name, start, start + duration))
                continue
            why = f"dur {why_d}"
        found.ranges.event(e.at, e.name, why, raw)
    return kept


def read_devices(value: Any, found: Findings) -> dict[int, tuple[str | None, str | None]]:
    """``deviceProperties``: each device's name and compute capability ("9.0"), None where its
    entry does not say; what cannot be used is counted in ``found``."""
    if value is MISSING:
        return {}
    if not isinstance(value, list):
        found.devices.note(f"it is {shown(value)}, not a list")
        return {}
    devices: dict[int, tuple[str | None, str | None]] = {}
    for i, d in enumerate(value):
        if not isinstance(d, dict):
            found.devices.note(f"entry {i} = {shown(d)} (not an object)")
            continue
        device, why = ident(d.get("id", MISSING))
        if device is None:
            found.devices.note(f"entry {i}: id = {shown(d.get('id', MISSING))} ({why})")
            continue
        name, why = name_of(d.get("name", MISSING))
        if name is None:
            found.devices.note(f"entry {i}: name = {shown(d.get('name', MISSING))} ({why})")
        major, why_major = ident(d.get("computeMajor", MISSING))
        minor, why_minor = ident(d.get("computeMinor", MISSING))
        cc = f"{major}.{minor}" if major is not None and minor is not None else None
        for key, why in (("computeMajor", why_major), ("computeMinor", why_minor)):
            if why:
                found.devices.note(f"entry {i}: {key} = {shown(d.get(key, MISSING))} "
                                       f"({why})")
        devices[device] = (name, cc)
    return devices
