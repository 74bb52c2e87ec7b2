"""roofprof's own .ncu-rep reader: stream a report, decode only what the kernel table needs.

Contract (``read(path, strict)`` -> :class:`roofprof.inputs.derive.RawKernels`, the same columns and
values as NVIDIA's reader in ``parsers.ncu_rep_nvidia``, plus the process id, name and host
from each block's process record):

* the file is read unit by unit (``parsers.ncu_rep_wire.walk``): memory holds one record at a
  time plus the table being built, never the file; embedded sources are skipped with a seek;
* a format version other than those in ``KNOWN_VERSIONS`` is refused, naming it;
* a report cut short yields every complete kernel before the cut, those of a block the cut
  falls in included (each entry is length-prefixed), and a DataWarning with the kernels kept
  and the bytes (and, where the last block's header says, the kernels) lost; ``strict=True``
  makes it an InputError;
* damage (a length, tag or name id that does not fit) is an InputError naming the byte offset
  and the kernel's position, never a silently different number; a kernel record holding no
  metric at all is a DataWarning naming its position (an error under strict mode).

Decoding is pure Python over the protobuf wire format (no protobuf library, no definitions
copied): ``parsers.ncu_rep_wire`` (framing), ``parsers.ncu_rep_records`` (the fields of a kernel
record and the checks on them), ``parsers.ncu_rep_layouts`` (how repeated records are decoded
quickly).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from parsers.ncu_rep_records import ResultDecoder
from parsers.ncu_rep_wire import (
    KNOWN_VERSIONS,
    Block,
    Cut,
    Damaged,
    UnknownVersion,
    Unsupported,
    fields,
    read_file_header,
    strings_of,
    varint,
    walk,
)
from parsers.raw import RawKernels
from roofprof.errors import DataWarning, InputError, option
from roofprof.tables.metrics import IDENTITY_METRICS as METRIC_IDENTITY
from roofprof.tables.metrics import wanted_metrics

#: identity columns and the metrics that give them (the metric table's)
IDENTITY_METRICS = {k: v for k, v in METRIC_IDENTITY.items()
                    if k not in ("grid_dim", "block_dim", "grid_size")}


class UnknownFormatVersion(InputError):
    """The report's file format version is not one this reader was checked against."""


class UnsupportedContent(InputError):
    """A valid report holding results this reader does not decode (range replay, graphs)."""


def unknown_version_message(path: Path, version: int) -> str:
    known = ", ".join(f"{v} ({who})" for v, who in sorted(KNOWN_VERSIONS.items()))
    return (f"{path}: report file format version {version} is not one roofprof's reader knows "
            f"(known: {known}); read it with --reader ncu-report (NVIDIA's library), or export "
            "it with ncu --import R --csv --page raw --print-units base")


def read(path: Path, strict: bool = False, checking: bool = False) -> RawKernels:
    """Read ``path``; ``checking``: a check before NVIDIA's reader (messages say so)."""
    wanted, slot_of, identity_slots = _wanted()
    decoder = ResultDecoder(slot_of, numeric=len(wanted))
    decoder.identity_slots = identity_slots
    size = path.stat().st_size
    table = _Rows(len(wanted))
    columns: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
    processes: dict[bytes, dict[str, Any]] = {}
    texts: dict[Any, str | None] = {}
    empty: list[str] = []
    process: dict[str, Any] = {}
    ncu_version = None
    ncu_command = None
    cut: Cut | None = None
    with open(path, "rb") as fh:
        try:
            read_file_header(fh, size)
        except UnknownVersion as exc:
            raise UnknownFormatVersion(unknown_version_message(path, exc.version)) from None
        except Damaged as exc:
            raise InputError(f"{path}: {exc.what}; it is damaged or not a report") from None
        try:
            for unit in walk(fh, size):
                if isinstance(unit, Block):
                    decoder.add_strings(unit.strings)
                    if unit.process:
                        process = processes.get(unit.process) or processes.setdefault(
                            unit.process, _process(unit.process, unit.offset))
                    ncu_version = ncu_version or _ncu_version(unit.session)
                    ncu_command = ncu_command or _ncu_command(unit.session)
                elif isinstance(unit, Cut):
                    cut = unit
                else:
                    offset, record = unit
                    if record is None:
                        continue
                    try:
                        got = decoder.decode(record, offset + 4, table.next())
                    except Damaged as exc:
                        raise InputError(
                            f"{path}: kernel {table.count + 1} (the record at byte {offset:,}) is "
                            f"damaged at byte {exc.offset:,}: {exc.what}; record or copy the "
                            "report again") from None
                    if not got.metrics:
                        empty.append(f"{table.count + 1} (byte {offset:,})")
                    _identity(columns, got, decoder, process, texts)
                    table.keep()
        except Unsupported as exc:
            raise UnsupportedContent(
                f"{path}: {exc.what} at byte {exc.offset:,}, which roofprof's reader does not "
                f"decode; read it with {option('reader')} ncu-report (NVIDIA's library)") from None
        except Damaged as exc:
            raise InputError(f"{path}: damaged at byte {exc.offset:,}: {exc.what} (after "
                             f"{table.count} complete kernels); record or copy it again") from None
    if cut is not None:
        _report_cut(path, cut, table.count, strict or not table.count, checking)
    if empty:
        more = f", and {len(empty) - 10} more" if len(empty) > 10 else ""
        warnings.warn(f"{path}: kernel(s) {', '.join(empty[:10])}{more} hold no metric values; "
                      "their numbers are null", DataWarning, stacklevel=3)
    if not table.count:
        raise InputError(f"{path}: the report holds no profiled kernel; record it again")
    columns["id"] = list(range(table.count))
    # plain Python values, typed once by the kernel table: inferring pandas' string type for
    # each column here cost ~0.3 ms a report, and the kernel table converts them again
    identity = pd.DataFrame(columns, dtype=object)
    values, present = table.values()
    names = pd.Index([w for w, k in zip(wanted, present, strict=True) if k], dtype=object)
    metrics = pd.DataFrame(values, columns=names)
    return RawKernels(identity=identity, metrics=metrics,
                      meta={"format": "ncu-rep", "ncu_version": ncu_version,
                            "ncu_command": ncu_command})


@functools.cache
def _wanted() -> tuple[tuple[str, ...], Mapping[str, int], tuple[int, ...]]:
    """The metric names the kernel table can use (the float slots, in order), the slot of
    every name decoded (theirs, then the identity metrics'), and the identity slots: the same
    for every report, so built once per process."""
    wanted = wanted_metrics()
    slots = wanted + list(IDENTITY_METRICS.values())
    slot_of = {name: i for i, name in enumerate(slots)}
    identity = tuple(slot_of[m] for m in IDENTITY_METRICS.values())
    return tuple(wanted), MappingProxyType(slot_of), identity


class _Rows:
    """The metric values, in chunks of up to CHUNK kernels (no per-kernel array)."""

    CHUNK = 4096

    def __init__(self, width: int) -> None:
        self.width = width
        self.chunks: list[Any] = []
        self.count = 0
        self._used = 0  # rows used in the last chunk
        self._np = np

    def next(self) -> Any:
        """The (NaN) row for the next kernel; counted once :meth:`keep` is called."""
        if not self.chunks or self._used == len(self.chunks[-1]):
            # small reports stay small: 32 rows, then as many as there are, up to CHUNK
            rows = min(self.CHUNK, max(32, self.count))
            self.chunks.append(self._np.full((rows, self.width), self._np.nan))
            self._used = 0
        return self.chunks[-1][self._used]

    def keep(self) -> None:
        self.count += 1
        self._used += 1

    def values(self) -> tuple[Any, Any]:
        """(kernels x present columns array, which columns are present: not NaN everywhere),
        without a full-width copy of the table."""
        np = self._np
        if not self.chunks:
            return np.empty((0, 0)), np.zeros(self.width, dtype=bool)
        self.chunks[-1] = self.chunks[-1][:self._used]
        present = np.zeros(self.width, dtype=bool)
        for chunk in self.chunks:
            present |= ~np.isnan(chunk).all(axis=0)
        parts = []
        while self.chunks:  # free each full-width chunk once its columns are copied
            parts.append(self.chunks.pop(0)[:, present])
        return np.concatenate(parts), present


_COLUMNS = ("kernel", "kernel_demangled", "device", "context", "stream", "device_name", "cc",
            "grid", "block", "nvtx", "range", "process_id", "process_name", "host")


def _identity(columns: dict[str, list[Any]], got: Any, decoder: ResultDecoder,
              process: dict[str, Any], texts: dict[Any, str | None]) -> None:
    """Append one kernel's identity; ``texts`` shares the strings kernels repeat."""
    ident = got.ident
    v = tuple(ident.get(slot) for slot in decoder.identity_slots)
    device, context, stream, name, major, minor = v[:6]
    columns["kernel"].append(got.function)
    columns["kernel_demangled"].append(got.demangled or got.function)
    columns["device"].append(device)
    columns["context"].append(context)
    columns["stream"].append(stream)
    columns["device_name"].append(name)
    columns["cc"].append(_text(texts, ("cc", major, minor)))
    columns["grid"].append(_text(texts, ("dims", *v[6:9])))
    columns["block"].append(_text(texts, ("dims", *v[9:12])))
    columns["nvtx"].append(got.nvtx)
    columns["range"].append(_text(texts, ("nvtx", *got.nvtx)))
    columns["process_id"].append(process.get("process_id"))
    columns["process_name"].append(process.get("process_name"))
    columns["host"].append(process.get("host"))


def _text(texts: dict[Any, str | None], key: tuple[Any, ...]) -> str | None:
    """("cc", 9, 0) -> "9.0"; ("dims", x, y, z) -> "(x, y, z)"; ("nvtx", a, b) -> "a/b";
    None where a part is unknown. Each distinct text is made once."""
    text = texts.get(key, "")
    if text == "":
        kind, parts = key[0], key[1:]
        if kind == "nvtx":
            text = "/".join(parts)
        elif any(p is None for p in parts):
            text = None
        elif kind == "cc":
            text = f"{parts[0]}.{parts[1]}"
        else:
            text = "(" + ", ".join(str(int(d)) for d in parts) + ")"
        texts[key] = text
    return text


def _process(buf: bytes, offset: int) -> dict[str, Any]:
    """ProcessInfo: 1 process id, 2 host name, 3 process (executable) name."""
    out: dict[str, Any] = {}
    for f, w, a, b in fields(buf, offset):
        if f == 1 and w == 0:
            out["process_id"] = varint(buf, a)[0]
        elif f == 2 and w == 2:
            out["host"] = buf[a:b].decode("utf-8", "replace")
        elif f == 3 and w == 2:  # the executable's path; ncu's CSV export shows its name
            path = buf[a:b].decode("utf-8", "replace")
            out["process_name"] = path.replace("\\", "/").rsplit("/", 1)[-1]
    return out


def _ncu_version(session: bytes) -> str | None:
    """"2025.3.1.0" from the session's version info (8: 1 provider, 2 version)."""
    if not session:
        return None
    for f, w, a, b in fields(session):
        if f == 8 and w == 2:
            info = session[a:b]
            if strings_of(info, 1) == ["Nsight Compute Target"]:
                text = (strings_of(info, 2) or [""])[0]
                return text.split(" (")[0] or None
    return None


def _ncu_command(session: bytes) -> str | None:
    """The ncu command line that made the report (session field 11, as ncu 2025.3 writes it):
    how its kernels were chosen (``--filter-mode per-launch-config``, ``--nvtx-include``...)."""
    if not session:
        return None
    found = strings_of(session, 11)
    return found[0] if found and found[0] else None


def _report_cut(path: Path, cut: Cut, kernels: int, strict: bool, checking: bool) -> None:
    lost = cut.size - cut.offset
    what = (f"{path}: the report is truncated at byte {cut.size:,}: it ends inside a record that "
            f"starts at byte {cut.offset:,} and needed {cut.missing_bytes:,} more bytes")
    if cut.lost_results:
        what += f"; its block announced {cut.lost_results} more kernel(s), lost"
    if strict:
        keep = (f"roofprof's own reader ({option('reader')} roofprof) keeps them" if checking
                else f"read without {option('strict')} to keep them")
        if not kernels:
            raise InputError(f"{what} (a copy or recording cut short) and holds no complete "
                             "kernel; record or copy it again")
        raise InputError(f"{what} (a copy or recording cut short); {kernels} complete kernel(s) "
                         f"precede it: {keep}, or record it again")
    warnings.warn(f"{what}; kept the {kernels} complete kernel(s) before it, dropped the last "
                  f"{lost:,} bytes (and anything ncu would have written after them)",
                  DataWarning, stacklevel=3)

