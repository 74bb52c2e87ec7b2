"""Input formats roofprof reads. One module per format; each exposes ``FORMAT``.

A format sniffs the first bytes of a file and reads it into a
:class:`roofprof.inputs.derive.RawKernels` (identity columns + raw metrics in canonical units);
``roofprof.inputs.derive.build_table`` turns that into the kernel table. Timing sources (Kineto,
Nsight Systems) also read into the timing table (``Format.timing``, see ``roofprof.tables.timing``);
as a kernel table they give durations only. Adding a format is adding one module and one entry to
``FORMATS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from roofprof.errors import InputError, UsageError

if TYPE_CHECKING:
    from roofprof.inputs.derive import RawKernels
    from roofprof.tables.timing import TimingTrace

SNIFF_BYTES = 65536


@dataclass(frozen=True)
class Format:
    name: str
    suffixes: tuple[str, ...]
    #: True if the file's first bytes look like this format
    sniff: Callable[[bytes], bool]
    #: read(path, **options): options are the keyword arguments named in ``options``
    read: Callable[..., RawKernels]
    description: str
    #: timing sources (every launch timed, no counters): the timing table
    timing: Callable[[Path], TimingTrace] | None = None
    #: chosen by its suffix when no format recognises the content (an opaque container)
    by_suffix: bool = False
    #: reading options this format accepts (``reader``, ``strict``); others are not passed
    options: tuple[str, ...] = ()


def _formats() -> tuple[Format, ...]:
    from parsers import kineto, ncu_csv, ncu_rep, nsys_sqlite

    return (ncu_rep.FORMAT, ncu_csv.FORMAT, kineto.FORMAT, nsys_sqlite.FORMAT,
            nsys_sqlite.REP_FORMAT)


def names() -> list[str]:
    return [f.name for f in _formats()]


def detect(path: Path, override: str | None = None) -> Format:
    """Pick the format of ``path``: ``override`` if given, else by content (suffix as a hint)."""
    formats = _formats()
    if override:
        for f in formats:
            if f.name == override:
                return f
        raise UsageError(f"unknown format {override!r}; known: {', '.join(names())}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a report or export") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if not head:
        raise InputError(f"{path}: the file is empty; re-export or re-record it")
    matches = [f for f in formats if f.sniff(head)]
    if len(matches) > 1:  # content is ambiguous: let the suffix decide
        by_suffix = [f for f in matches if path.name.endswith(f.suffixes)]
        matches = by_suffix or matches
    if not matches:
        matches = [f for f in formats if f.by_suffix and path.name.endswith(f.suffixes)]
    if not matches:
        hint = ""
        for f in formats:
            if path.name.endswith(f.suffixes):
                hint = f" although its name says {f.description}; it is damaged or of another kind"
        raise InputError(
            f"{path}: not a format roofprof reads{hint}. roofprof reads Nsight Compute reports "
            "(.ncu-rep) and their CSV exports (ncu --import R --csv --page raw "
            "--print-units base), PyTorch profiler traces (.json, .json.gz) and Nsight "
            "Systems reports (.nsys-rep, .sqlite); --format overrides the detection"
        )
    return matches[0]
