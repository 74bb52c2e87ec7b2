"""Input formats roofprof reads. One module per format; each exposes ``FORMAT``.

A format sniffs the first bytes of a file and reads it into plain columns (``parsers.raw``):
a counters format (Nsight Compute report or CSV export) into :class:`~parsers.raw.RawKernels`,
a timing format (Kineto, Nsight Systems) into :class:`~parsers.raw.RawTiming`. Loading them
into roofprof's tables is ``roofprof.inputs``'s work: parsers import nothing of the table types,
loading or capture, only the error root (``roofprof.errors``) and the contracts every format is
read against (the metric table, ``roofprof.tables.metrics``, and the value checks,
``roofprof.tables.checks``). Adding a format is adding one module and one entry to
:data:`FORMATS`.
"""

from __future__ import annotations

from pathlib import Path

from parsers import kineto, ncu_csv, ncu_rep, nsys_sqlite
from parsers.format import Format, regular_file
from roofprof.errors import InputError, UsageError, option

__all__ = ["FORMATS", "SNIFF_BYTES", "Format", "detect", "names"]

SNIFF_BYTES = 65536


#: every format, in the order detection tries them
FORMATS: tuple[Format, ...] = (ncu_rep.FORMAT, ncu_csv.FORMAT, kineto.FORMAT, nsys_sqlite.FORMAT,
                               nsys_sqlite.REP_FORMAT)


def names() -> list[str]:
    return [f.name for f in FORMATS]


def detect(path: Path, override: str | None = None) -> Format:
    """Pick the format of ``path``: ``override`` if given, else by content (suffix as a hint).
    Either way ``path`` must be a regular file (:func:`~parsers.format.regular_file`): a named
    pipe, a socket or a device is refused before it is opened, never waited on."""
    if override:
        for f in FORMATS:
            if f.name == override:
                regular_file(path)
                return f
        raise UsageError(f"unknown format {override!r}; known: {', '.join(names())}")
    regular_file(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise InputError(f"{path}: the file is empty; re-export or re-record it")
    matches = [f for f in FORMATS if f.sniff(head)]
    if len(matches) > 1:  # content is ambiguous: let the suffix decide
        by_suffix = [f for f in matches if path.name.endswith(f.suffixes)]
        matches = by_suffix or matches
    if not matches:
        matches = [f for f in FORMATS if f.by_suffix and path.name.endswith(f.suffixes)]
    if not matches:
        hint = ""
        for f in FORMATS:
            if path.name.endswith(f.suffixes):
                hint = f" although its name says {f.description}; it is damaged or of another kind"
        raise InputError(
            f"{path}: not a format roofprof reads{hint}. roofprof reads Nsight Compute reports "
            "(.ncu-rep) and their CSV exports (ncu --import R --csv --page raw "
            "--print-units base), PyTorch profiler traces (.json, .json.gz) and Nsight "
            "Systems reports (.nsys-rep, .sqlite), and its own Parquet tables (.parquet, "
            f"from roofprof convert, trace, join or record); {option('input_format')} "
            "overrides the detection"
        )
    return matches[0]
