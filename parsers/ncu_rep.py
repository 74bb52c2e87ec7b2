"""Nsight Compute reports (.ncu-rep): the format entry, and the choice of reader.

Two readers give the same kernel table (``tests/test_ncu_rep_reader.py`` compares them on every
fixture, every column and row):

* ``reader="roofprof"`` (the default): roofprof's own streaming decoder of the report format
  (``parsers.ncu_rep_reader``): ~10-30x faster than NVIDIA's library, memory flat in the number
  of kernels, recovers the complete kernels of a cut report (a warning, or an error with
  ``strict=True``), refuses a file format version it does not know, and never hands damaged
  bytes to native code;
* ``reader="ncu-report"``: NVIDIA's ``ncu_report`` library (``parsers.ncu_rep_nvidia``), the
  reference, and the way to read a report whose format version roofprof's reader does not know.
  Reports of a known version are checked by roofprof's decoder first (a damaged block header
  makes NVIDIA's library abort the process).
"""

from __future__ import annotations

from pathlib import Path

from parsers.format import Format
from parsers.ncu_rep_nvidia import ncu_version as nvidia_ncu_version
from parsers.ncu_rep_nvidia import read as read_with_nvidia
from parsers.ncu_rep_reader import read as read_with_roofprof
from parsers.ncu_rep_wire import MAGIC
from parsers.raw import RawKernels
from roofprof.errors import UsageError

READERS = ("roofprof", "ncu-report")


def _sniff(head: bytes) -> bool:
    return head.startswith(MAGIC)


def read(path: Path, reader: str | None = None, strict: bool = False) -> RawKernels:
    """Read a report with ``reader`` ("roofprof", the default, or "ncu-report")."""
    reader = reader or "roofprof"
    if reader == "roofprof":
        return read_with_roofprof(path, strict=strict)
    if reader == "ncu-report":
        return read_with_nvidia(path, strict=strict)
    raise UsageError(f"unknown report reader {reader!r}; known: {', '.join(READERS)}")


def ncu_version(path: Path) -> str | None:
    return nvidia_ncu_version(path)


FORMAT = Format(name="ncu-rep", suffixes=(".ncu-rep",), sniff=_sniff, read=read,
                description="an Nsight Compute report (.ncu-rep)", options=("reader", "strict"))
