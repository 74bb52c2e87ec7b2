"""The checks a Kineto event's fields pass before ``parsers.kineto`` uses them, and what it tells
the user about those it could not use (``parsers.kineto_events`` applies them, event by event).

A field is read by one of the checks below, which give the value or None and why not: a time
(``ts``, microseconds with nanosecond decimals, as nanoseconds), a duration (``dur``: a
positive time whose end still fits in 64-bit nanoseconds), an identifier (device, stream,
context, correlation, process, thread: a non-negative integer that fits in 64 bits), a launch
dimension (a list of three positive integers) or a name (a string). A boolean is never a
number. What fails a check is handled by what the field is for (``parsers.kineto_events``):
left out, or kept with the value null. :class:`Findings` collects them and warns once per kind
per file (:class:`~roofprof.errors.DataWarning`: an error under ``--strict``), naming the first
few events by their index in ``traceEvents`` with the field and its raw value.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parsers.kernel_names import dims
from roofprof.tables.checks import Issues
from roofprof.tables.checks import Tally as _Tally

__all__ = ["MISSING", "Findings", "Tally", "duration_ns", "ident", "label", "launch_dims",
           "name_of", "shown", "time_ns"]

INT64_MAX = 2**63 - 1
#: microseconds beyond which nanoseconds cannot fit in 64 bits (checked before multiplying, so
#: that 1e300 never overflows a float)
_MAX_US = 1e16


class _Missing:
    """The value of a field an event does not have."""

    def __repr__(self) -> str:
        return "missing"


MISSING: Any = _Missing()

def time_ns(value: Any) -> tuple[int | None, str]:
    """A Kineto time in microseconds as nanoseconds (rounded as the clean parse always did),
    or None and why not."""
    if value is MISSING:
        return None, "missing"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, "not a number"
    if isinstance(value, float) and not math.isfinite(value):
        return None, "not finite"
    if value < 0:
        return None, "negative"
    ns = round(float(value) * 1000.0) if value <= _MAX_US else INT64_MAX
    if ns >= INT64_MAX:
        return None, "too large for 64-bit nanoseconds"
    return ns, ""


def duration_ns(value: Any, start: int) -> tuple[int | None, str]:
    """A duration in microseconds as nanoseconds: positive (nothing a trace times takes 0 ns)
    and ending, from ``start``, within 64-bit nanoseconds; or None and why not."""
    ns, why = time_ns(value)
    if ns is None:
        return None, why
    if ns == 0:
        return None, "zero"
    if start + ns >= INT64_MAX:
        return None, "ends beyond 64-bit nanoseconds"
    return ns, ""


def ident(value: Any) -> tuple[int | None, str]:
    """An identifier (device, stream, context, correlation, process, thread): a non-negative
    integer within 64 bits (a float only if it is a whole number), or None and why not."""
    if value is MISSING:
        return None, "missing"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, "not an integer"
    if isinstance(value, float) and not math.isfinite(value):
        return None, "not finite"
    if isinstance(value, float) and not value.is_integer():
        return None, "not an integer"
    if value < 0:
        return None, "negative"
    if value > INT64_MAX:
        return None, "too large for 64 bits"
    return int(value), ""


def launch_dims(value: Any) -> tuple[str | None, str]:
    """A grid or block: three positive integers, as the kernel table writes them."""
    if value is MISSING:
        return None, "missing"
    if not isinstance(value, list) or len(value) != 3:
        return None, "not a list of 3 integers"
    parts = [ident(v)[0] for v in value]
    if any(p is None or p == 0 for p in parts):
        return None, "not 3 positive integers"
    return dims(*parts), ""


def name_of(value: Any) -> tuple[str | None, str]:
    if value is MISSING:
        return None, "missing"
    if not isinstance(value, str):
        return None, "not a string"
    return value, ""


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 4, 4
_REPR.maxstring, _REPR.maxlong, _REPR.maxother = 40, 40, 40


def shown(value: Any) -> str:
    """A raw value for a message: short, whatever it holds (a list nested a thousand deep is
    shown to two levels; repr() of it would recurse)."""
    return _REPR.repr(value)


def label(index: int, name: Any) -> str:
    """How an event is named in messages: ``event 17 (ampere_sgemm_128x64_nn)``, by its
    index in ``traceEvents``."""
    if name is MISSING:
        return f"event {index}"
    if not isinstance(name, str):
        return f"event {index} (name {shown(name)})"
    return f"event {index} ({name if len(name) <= 48 else name[:45] + '...'})"


class Tally(_Tally):
    """:class:`roofprof.tables.checks.Tally` of events, each described by its index in
    ``traceEvents``, its name, why it failed and the raw values that say so."""

    def event(self, index: int, name: Any, why: str, raw: dict[str, Any]) -> None:
        values = ", ".join(f"{k} = {shown(v)}" for k, v in raw.items())
        self.add(1, [f"{label(index, name)}: {values} ({why})"] if self.room() else [])

    def note(self, text: str) -> None:
        self.add(1, [text])


@dataclass
class Findings:
    """What one Kineto trace's events held that could not be used, by kind: null identity
    values (``cells``, warned as every input's null values are), kernels left out, kernels
    whose duration is unknown, annotation ranges and launch calls left out, elements of
    ``traceEvents`` that are not events, unusable ``deviceProperties``."""

    path: Path
    cells: Issues = field(init=False)
    kernels_out: Tally = field(default_factory=Tally)
    durations: Tally = field(default_factory=Tally)
    ranges: Tally = field(default_factory=Tally)
    launches: Tally = field(default_factory=Tally)
    #: kernels whose launch call was left out (they take no launch path)
    unlaunched: int = 0
    #: a left-out launch call began or ended a CUDA graph capture
    capture_calls: bool = False
    not_events: Tally = field(default_factory=Tally)
    devices: Tally = field(default_factory=Tally)

    def __post_init__(self) -> None:
        self.cells = Issues(self.path)

    def cell(self, index: int, name: Any, column: str, raw: Any, why: str) -> None:
        """A kernel's field read as null."""
        self.cells.bad_cell(f"kernel {label(index, name)}", column, shown(raw), why)

    def emit(self) -> None:
        """One :class:`~roofprof.errors.DataWarning` per kind found (an error under strict)."""
        for text in self._notes():
            self.cells.note(text)
        self.cells.emit(stacklevel=4)

    def _notes(self) -> list[str]:
        notes = []
        if self.kernels_out.n:
            notes.append(f"{self.kernels_out.n} kernel event(s) left out, for want of a usable "
                         f"start time (ts): {self.kernels_out.text()}. Fix the trace or "
                         "export it again (--strict refuses such input)")
        if self.durations.n:
            notes.append(f"{self.durations.n} kernel event(s) without a usable duration (dur): "
                         f"{self.durations.text()}. Kept with duration unknown: duration_ns "
                         "is null and end_ns is the start (--strict refuses such input)")
        if self.ranges.n:
            notes.append(f"{self.ranges.n} annotation range(s) (user_annotation, "
                         "gpu_user_annotation) left out of the annotation paths, for want of "
                         f"a usable name, thread, start or duration: {self.ranges.text()}. "
                         "Kernels they enclosed lack those levels: phases, ranges and ops may "
                         "be incomplete (--strict refuses such input)")
        if self.launches.n:
            lost = (f" {self.unlaunched} kernel(s) they launched have no launch call: their "
                    "annotation path comes from the GPU spans on their stream, if any."
                    if self.unlaunched else "")
            capture = (" A CUDA graph capture they began or ended is not matched to its "
                       "replays: their kernels keep their launch path."
                       if self.capture_calls else "")
            notes.append(f"{self.launches.n} CUDA runtime/driver call(s) left out, for want of "
                         "a usable name, thread, start or correlation id: "
                         f"{self.launches.text()}.{lost}{capture} (--strict refuses such "
                         "input)")
        if self.not_events.n:
            notes.append(f"{self.not_events.n} element(s) of traceEvents are not JSON objects: "
                         f"{self.not_events.text()}; ignored (--strict refuses such input)")
        if self.devices.n:
            notes.append(f"deviceProperties cannot be used: {self.devices.text()}; device "
                         "names and compute capabilities (device_name, cc) of those devices "
                         "are null (--strict refuses such input)")
        return notes
