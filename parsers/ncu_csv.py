"""Nsight Compute CSV exports: ``--page raw`` (one row per kernel) and ``--page details``.

What the raw page looks like (ncu 2025.3.1): a header row starting ``"ID","Process ID"``, an
optional units row (its ID cell is empty), then one row per kernel; identity columns up to
``"CC"``, then one column per metric. Numbers carry thousands separators ("134,221,568"), or the
European forms ("27.595.520", "65,77") when ncu ran under such a locale; uncollected metrics read
"n/a". ncu's own ``==PROF==``/``==WARNING==`` lines and the program's output may precede the
header (``ncu --csv`` run directly) and are skipped.

The details page has one row per kernel and metric ("Section Name", "Metric Name", "Metric Unit",
"Metric Value"). Rows of ncu's own sections name metrics by label ("Duration"); the few labels
that are roofline quantities are mapped, the rest are ignored.

The push/pop cell holds the thread id, then one quoted entry per stack level, outermost first:
``473  "<default domain>:prefill:none:none:RGB:0xff:REGISTERED:prefill"`` (fields: domain, range,
payload type, payload, colour type, colour, message type, message). Range names may contain ':'.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parsers import Format
from roofprof.derive import RawKernels
from roofprof.errors import InputError, RoofprofWarning
from roofprof.units import detect_locale, parse_number, scale

IDENTITY_HEADER = {
    "ID": "id",
    "Process ID": "process_id",
    "Process Name": "process_name",
    "Host Name": "host",
    "Kernel Name": "kernel",
    "Context": "context",
    "Stream": "stream",
    "Block Size": "block",
    "Grid Size": "grid",
    "Device": "device",
    "CC": "cc",
}
PUSH_POP = "thread Domain:Push/Pop_Range:PL_Type:PL_Value:CLR_Type:Color:Msg_Type:Msg"
START_END = "Id:Domain:Start/Stop_Range:PL_Type:PL_Value:CLR_Type:Color:Msg_Type:Msg"
DETAILS = ("Metric Name", "Metric Unit", "Metric Value")
#: labels of ncu's own sections (details page) that are roofline quantities
LABELS = {
    "Duration": "gpu__time_duration.sum",
    "DRAM Frequency": "dram__cycles_elapsed.avg.per_second",
    "SM Frequency": "sm__cycles_elapsed.avg.per_second",
}
_HEADER_START = re.compile(r'^\ufeff?"ID",')
_PAYLOAD_TYPES = {"none", "INT32", "INT64", "UINT32", "UINT64", "FLOAT", "DOUBLE", "JSON",
                  "UNKNOWN"}


def _sniff(head: bytes) -> bool:
    text = head.decode("utf-8", "replace")
    return any(_HEADER_START.match(line) and '"Kernel Name"' in line
               for line in text.splitlines()[:200])


def _lines(path: Path) -> tuple[list[str], list[list[str]], int]:
    """Header, data rows, and the number of incomplete trailing rows dropped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if _HEADER_START.match(ln)), None)
    if start is None:
        raise InputError(f"{path}: not an Nsight Compute CSV export (no header row starting "
                         '"ID",...); export with: ncu --import R --csv --page raw '
                         "--print-units base")
    # after the header, keep CSV rows only (they are all quoted); ncu's and the program's own
    # lines may be interleaved when ncu --csv ran the program directly
    body = [ln for ln in lines[start + 1:] if ln.startswith('"')]
    rows = list(csv.reader(io.StringIO("\n".join([lines[start], *body]))))
    header = [h.lstrip("\ufeff") for h in rows[0]]
    data = rows[1:]
    dropped = 0
    if data and len(data[-1]) != len(header):
        data = data[:-1]  # a half-written last row: the export was cut short
        dropped = 1
    if all(h in header for h in DETAILS):
        # details rows end early when the rule columns are empty
        data = [r + [""] * (len(header) - len(r)) if len(r) < len(header) else r for r in data]
    bad = [i for i, r in enumerate(data) if len(r) != len(header)]
    if bad:
        raise InputError(f"{path}: row {bad[0] + 2} has {len(data[bad[0]])} fields where the "
                         f"header has {len(header)}; the file is damaged, export it again")
    return header, data, dropped


def read(path: Path) -> RawKernels:
    header, data, dropped = _lines(path)
    if "Kernel Name" not in header:
        raise InputError(f"{path}: a CSV without a \"Kernel Name\" column is not an Nsight "
                         "Compute kernel export; export with --page raw")
    if dropped:
        warnings.warn(f"{path}: the last row is incomplete (the export was cut short); it was "
                      "left out", RoofprofWarning, stacklevel=2)
    units: list[str] | None = None
    if data and data[0][header.index("ID")] == "":
        units, data = data[0], data[1:]
    if not data:
        raise InputError(f"{path}: the export holds no kernels")
    if all(h in header for h in DETAILS):
        return _read_details(path, header, data)
    return _read_raw(path, header, data, units)


def _locale(path: Path, cells: list[str]) -> str:
    loc = detect_locale(cells)
    if loc is None:
        raise InputError(f"{path}: its numbers mix 1,234.5 and 1.234,5 forms; export it again "
                         "with LC_ALL=C ncu --import ... --csv")
    return loc


def _identity(header: list[str], data: list[list[str]]) -> pd.DataFrame:
    cols: dict[str, Any] = {}
    for src, dst in IDENTITY_HEADER.items():
        if src in header:
            j = header.index(src)
            cols[dst] = [r[j] for r in data]
    ident = pd.DataFrame(cols)
    for c in ("id", "process_id", "context", "stream", "device"):
        if c in ident:
            ident[c] = pd.to_numeric(ident[c].str.replace(",", "").str.replace(".", ""),
                                     errors="coerce").astype("Int64")
    if PUSH_POP in header:
        j = header.index(PUSH_POP)
        stacks = [parse_push_pop(r[j]) for r in data]
    else:
        stacks = [[] for _ in data]
    ident["nvtx"] = stacks
    ident["range"] = ["/".join(s) for s in stacks]
    # the export names kernels by their demangled signature; the report by function name
    ident["kernel_demangled"] = ident["kernel"]
    ident["kernel"] = ident["kernel"].map(function_name)
    return ident


def function_name(demangled: str) -> str:
    """``void ns::k<T>(int)`` -> ``k``: the function name ncu shows by default."""
    text = demangled.strip()
    if text.endswith(")"):
        text = text[: _open_of_last_group(text, "(", ")")]
    depth = 0
    out = []
    for ch in text:  # drop template arguments
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    text = "".join(out).strip()
    text = text.rsplit(" ", 1)[-1]  # drop the return type
    return text.rsplit("::", 1)[-1] or demangled


def _open_of_last_group(text: str, open_ch: str, close_ch: str) -> int:
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i] == close_ch:
            depth += 1
        elif text[i] == open_ch:
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def parse_push_pop(cell: str) -> list[str]:
    """The push/pop stack of one kernel, outermost first (see the module docstring)."""
    entries = re.findall(r'"((?:[^"]|"")*)"', cell)
    return [name for e in entries if (name := _range_name(e.replace('""', '"')))]


def _range_name(entry: str) -> str:
    parts = entry.split(":")
    if len(parts) < 8:
        return entry
    domain = parts[0]
    # the name may contain ':'; six fields follow it, the last (message) usually repeats it
    candidates = []
    for k in range(2, len(parts) - 5):
        name = ":".join(parts[1:k])
        rest = parts[k:]
        message = ":".join(rest[5:])
        if rest[0] in _PAYLOAD_TYPES:
            candidates.append((message == name, name))
    if not candidates:
        name = ":".join(parts[1:-6])
    else:
        exact = [n for ok, n in candidates if ok]
        name = exact[0] if exact else candidates[-1][1]
    return name if domain == "<default domain>" else f"{domain}@{name}"


def _read_raw(path: Path, header: list[str], data: list[list[str]],
              units: list[str] | None) -> RawKernels:
    first_metric = header.index("CC") + 1 if "CC" in header else len(IDENTITY_HEADER)
    metric_cols = [(j, h) for j, h in enumerate(header[first_metric:], first_metric)
                   if "__" in h]
    if not metric_cols:
        raise InputError(f"{path}: the export has no metric columns; export a report that has "
                         "metrics with --page raw")
    loc = _locale(path, [r[j] for r in data[:50] for j, _ in metric_cols])
    values: dict[str, np.ndarray] = {}
    for j, name in metric_cols:
        factor = 1.0
        if units is not None:
            f = scale(units[j])
            if f is None:
                continue  # a unit outside roofprof's interest ("%/register")
            factor = f
        col = np.array([_num(r[j], loc) for r in data], dtype="float64")
        values[name] = col * factor
    if units is None:
        warnings.warn(f"{path}: no units row; values are taken to be in ncu's base units "
                      "(export with --print-units base to be sure)", RoofprofWarning,
                      stacklevel=3)
    metrics = pd.DataFrame(values)
    identity = _identity(header, data)
    identity["device_name"] = _column_text(header, data, "device__attribute_display_name")
    return RawKernels(identity=identity, metrics=metrics, meta={"format": "ncu-csv-raw"})


def _column_text(header: list[str], data: list[list[str]], name: str) -> pd.Series:
    if name not in header:
        return pd.Series([None] * len(data), dtype="string")
    j = header.index(name)
    return pd.Series([r[j] or None for r in data], dtype="string")


def _num(text: str, loc: str) -> float:
    v = parse_number(text, loc)
    return np.nan if v is None else v


def _read_details(path: Path, header: list[str], data: list[list[str]]) -> RawKernels:
    i_id = header.index("ID")
    j_name, j_unit, j_value = (header.index(h) for h in DETAILS)
    loc = _locale(path, [r[j_value] for r in data[:2000]])
    order: list[str] = []
    first_row: dict[str, list[str]] = {}
    per_kernel: dict[str, dict[str, float]] = {}
    names: dict[str, None] = {}
    device_names: dict[str, str] = {}
    for r in data:
        kid = r[i_id]
        if kid not in first_row:
            first_row[kid] = r
            order.append(kid)
            per_kernel[kid] = {}
        name = LABELS.get(r[j_name], r[j_name])
        if name == "device__attribute_display_name":
            device_names[kid] = r[j_value]
        if "__" not in name:
            continue
        f = scale(r[j_unit])
        v = parse_number(r[j_value], loc)
        if f is None or v is None:
            continue
        per_kernel[kid][name] = v * f
        names[name] = None
    if not names:
        raise InputError(f"{path}: the details export has no metric rows roofprof can use; "
                         "export with --page raw instead")
    rows = [first_row[k] for k in order]
    identity = _identity(header, rows)
    identity["device_name"] = pd.Series([device_names.get(k) for k in order], dtype="string")
    metrics = pd.DataFrame([[per_kernel[k].get(n, np.nan) for n in names] for k in order],
                           columns=list(names))
    return RawKernels(identity=identity, metrics=metrics, meta={"format": "ncu-csv-details"})


FORMAT = Format(name="ncu-csv", suffixes=(".csv",), sniff=_sniff, read=read,
                description="an Nsight Compute CSV export")
