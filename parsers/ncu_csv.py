"""Nsight Compute CSV exports: ``--page raw`` (one row per kernel) and ``--page details``.

What the raw page looks like (ncu 2025.3.1): a header row starting ``"ID","Process ID"``, an
optional units row (its ID cell is empty), then one row per kernel; identity columns, then one
column per metric. Columns are found by name, in any order. Numbers carry thousands separators
("134,221,568"), or the European forms ("27.595.520", "65,77") when ncu ran under such a locale;
uncollected metrics read "n/a". The form is decided by cells only one form could have written,
or by what can be true (under a units row of base units, ``25.376`` nanoseconds cannot be a
fraction, so it is 25,376); a file that could be read either way is refused
(``parsers.cells.NumberForm``), never guessed. Display units ("Mbyte", "usecond", "Ghz") are
converted by the units row; without one, a fraction in a duration or a byte count (``25.37`` ns)
means display units and the file is refused rather than read 1000x off.

The details page has one row per kernel and metric ("Section Name", "Metric Name", "Metric Unit",
"Metric Value"). Rows of ncu's own sections name metrics by label ("Duration"); the few labels
that are roofline quantities are mapped, the rest are ignored.

Only the columns roofprof uses are kept (``parsers.cells.needed_metrics``), a chunk of rows
at a time (``parsers.csv_rows`` streams the file), so memory does not grow with the number of other
columns. Cell values follow ``roofprof.tables.checks``: what cannot be a measured value is null and
named in one warning per file; rows left out are counted in a warning.

Kernel and NVTX range names are read by ``parsers.ncu_names``.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parsers.cells import NumberForm, needed_metrics, parse_numbers, whole_number_metrics
from parsers.csv_rows import Rows
from parsers.format import Format
from parsers.ncu_names import function_name, parse_push_pop
from parsers.raw import RawKernels
from parsers.units import scale
from roofprof.errors import InputError, RoofprofWarning
from roofprof.tables.checks import DIFFERS, OK, REASONS, Issues, kernel_label
from roofprof.tables.metrics import IDENTITY_METRICS, SECTION_LABELS

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
DEVICE_NAME = IDENTITY_METRICS["device_name"]
DETAILS = ("Metric Name", "Metric Unit", "Metric Value")
#: labels of ncu's own sections (details page) that are roofline quantities
LABELS = SECTION_LABELS
_HEADER_ID = re.compile(r'(^\ufeff?|,)"ID"(,|$)')
_INTEGER_COLUMNS = ("process_id", "context", "stream", "device")
_DIGITS = re.compile(r"^\d+$", re.ASCII)
_CC = re.compile(r"^\d+[.,]\d+$", re.ASCII)  # "9,0" where ncu ran under a European locale
#: rows parsed at a time: bounds memory (only the kept cells of a chunk are held)
CHUNK = 8192


def _sniff(head: bytes) -> bool:
    text = head.decode("utf-8", "replace")
    return any(_HEADER_ID.search(line) and '"Kernel Name"' in line
               for line in text.splitlines()[:200])


def read(path: Path) -> RawKernels:
    issues = Issues(path)
    rows = Rows(path, issues)
    try:
        if "Kernel Name" not in rows.header:
            raise InputError(f"{path}: a CSV without a \"Kernel Name\" column is not an Nsight "
                             "Compute kernel export; export with --page raw")
        _refuse_duplicate_identity(path, rows.header)
        if all(h in rows.header for h in DETAILS):
            rows.pad_from = rows.header.index("Metric Value")
            raw = _Details(path, rows, issues).read()
        else:
            raw = _Raw(path, rows, issues).read()
    finally:
        rows.close()
    issues.emit()
    return raw


def _refuse_duplicate_identity(path: Path, header: list[str]) -> None:
    names = [*IDENTITY_HEADER, PUSH_POP, *DETAILS]
    twice = [h for h, n in Counter(header).items() if n > 1 and h in names]
    if twice:
        raise InputError(f"{path}: column {twice[0]!r} appears {header.count(twice[0])} times; "
                         "roofprof cannot tell which is right: remove the extra copies")


def _integer(cell: str) -> int | None:
    """An integer identity cell ("1,024" or "1.024" too); None if it is not one."""
    text = cell.strip().replace(",", "").replace(".", "")
    return int(text) if _DIGITS.match(text) else None


class _Raw:
    """The raw page: identity columns and the metric columns roofprof uses, a chunk at a time."""

    def __init__(self, path: Path, rows: Rows, issues: Issues) -> None:
        self.path, self.rows, self.issues = path, rows, issues
        header = rows.header
        needed = needed_metrics()
        copies: dict[str, list[int]] = {}
        for j, h in enumerate(header):
            if h in needed:
                copies.setdefault(h, []).append(j)
        if not copies and not any("__" in h for h in header):
            raise InputError(f"{path}: the export has no metric columns; export a report that "
                             "has metrics with --page raw")
        for name, js in copies.items():
            if len(js) > 1:
                issues.note(f"column {name} appears {len(js)} times (columns "
                            f"{', '.join(str(j + 1) for j in js)}); where the copies differ "
                            "the value is null")
        text_cols = {dst: src for src, dst in IDENTITY_HEADER.items()}
        text_cols |= {"push_pop": PUSH_POP, "device_name": DEVICE_NAME}
        self.text_at = {dst: header.index(src) for dst, src in text_cols.items() if src in header}
        # cells kept per row: identity text first, then every copy of every metric
        self.keep = list(self.text_at.values())
        self.copies_at: dict[str, list[int]] = {}
        for name, js in copies.items():
            self.copies_at[name] = list(range(len(self.keep), len(self.keep) + len(js)))
            self.keep += js
        self.text: dict[str, list[str]] = {dst: [] for dst in self.text_at}
        self.values: dict[str, list[np.ndarray]] = {name: [] for name in copies}
        self.factors: dict[str, float | None] | None = None
        self.locale = NumberForm(path)
        self.whole = whole_number_metrics()
        self.notes: list[str] = []

    def read(self) -> RawKernels:
        seen_rows: set[int] = set()
        seen_ids: set[int] = set()
        exact: list[str] = []
        repeated: list[int] = []
        bad_ids: list[str] = []
        i_id = self.rows.header.index("ID") if "ID" in self.rows.header else None
        chunk: list[list[str]] = []
        for where, fields in self.rows:
            key = hash(tuple(fields))
            if key in seen_rows:
                exact.append(fields[i_id] if i_id is not None else where)
                continue
            seen_rows.add(key)
            if i_id is not None:
                kid = _integer(fields[i_id])
                if kid is None:
                    bad_ids.append(f"{where}: {fields[i_id][:40]!r}")
                    continue
                if kid in seen_ids:
                    repeated.append(kid)
                seen_ids.add(kid)
            chunk.append([fields[j] for j in self.keep])
            if len(chunk) == CHUNK:
                self._add(chunk)
                chunk = []
        if chunk or self.factors is None:
            self._add(chunk)
        _row_notes(self.issues, exact, repeated, bad_ids)
        if not self.text["kernel"]:
            raise InputError(f"{self.path}: the export holds no kernels")
        if self.rows.units is None:
            warnings.warn(f"{self.path}: no units row; values are taken to be in ncu's base "
                          "units (export with --print-units base to be sure)", RoofprofWarning,
                          stacklevel=4)
        metrics = pd.DataFrame({name: np.concatenate(parts) for name, parts in
                                self.values.items()})
        identity = _identity(self.text, self.issues)
        fmt = "ncu-csv-raw" + _describe([self.locale.form == "eu" and "numbers 1.234,5",
                                         *self.notes])
        return RawKernels(identity=identity, metrics=metrics, meta={"format": fmt})

    def _units(self) -> dict[str, float | None]:
        units = self.rows.units
        factors: dict[str, float | None] = {}
        unknown: list[str] = []
        display: set[str] = set()
        for name, ks in self.copies_at.items():
            if units is None:
                factors[name] = 1.0
                continue
            written = {units[self.keep[k]].strip() for k in ks}
            if len(written) > 1:
                raise InputError(f"{self.path}: the copies of column {name} have different "
                                 f"units ({', '.join(sorted(written))}); remove the extra copy")
            unit = written.pop()
            factors[name] = scale(unit)
            if factors[name] is None:
                unknown.append(f"{name} ({unit!r})")
            elif factors[name] != 1.0:
                display.add(unit)
        if unknown:
            self.issues.note(f"unit(s) roofprof does not know: {', '.join(unknown)}; those "
                             "columns are null (export with --print-units base)")
        if display:
            self.notes.append(f"display units {', '.join(sorted(display))} converted")
        return factors

    def _add(self, chunk: list[list[str]]) -> None:
        if self.factors is None:
            self.factors = self._units()
        columns = {name: [[r[k] for r in chunk] for k in ks]
                   for name, ks in self.copies_at.items()}
        base = self.rows.units is not None  # else the cells' units are not known
        form = self.locale.update({name: copies[0] for name, copies in columns.items()},
                                  {name: copies[0] for name, copies in columns.items()
                                   if base and name in self.whole and self.factors[name] == 1})
        labels: list[str] | None = None
        for name, copies in columns.items():
            values, reason = parse_numbers(copies[0], form)
            for other in copies[1:]:
                v2, r2 = parse_numbers(other, form)
                differ = ~((values == v2) | (np.isnan(values) & np.isnan(v2))) & (r2 == OK)
                values[differ] = np.nan
                reason[differ] = DIFFERS
            factor = self.factors[name]
            values = values * (np.nan if factor is None else factor)
            if self.rows.units is None and name in self.whole:
                self._refuse_fractions(name, values, copies[0])
            if (reason != OK).any():
                if labels is None:
                    order = list(self.text_at)
                i_id, i_kernel = order.index("id") if "id" in order else None, \
                    order.index("kernel")
                labels = [kernel_label("?" if i_id is None else r[i_id],
                                       function_name(r[i_kernel])) for r in chunk]
                self.issues.bad_cells(labels, name, copies[0], reason)
            self.values[name].append(values)
        for i, dst in enumerate(self.text_at):
            self.text[dst].extend(r[i] for r in chunk)

    def _refuse_fractions(self, name: str, values: np.ndarray, cells: list[str]) -> None:
        frac = np.abs(values - np.round(values)) > 1e-6 * np.maximum(1.0, np.abs(values))
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise InputError(f"{self.path}: {name} reads {cells[i]!r}, a fraction where ncu's "
                             "base units give a whole number: the export is in display units "
                             "(us, Mbyte) without its units row. Export it again with "
                             "--print-units base")


def _describe(notes: Iterable[Any]) -> str:
    kept = [n for n in notes if n]
    return f" ({'; '.join(kept)})" if kept else ""


def _same_metrics(issues: Issues, found: list[tuple[int, str, bool, str, str]]) -> None:
    """Every kernel of a details export has the same metric rows; a kernel missing some (a
    renamed row, or an export cut between two lines) is named: its values are null."""
    names: dict[int, set[str]] = {}
    for kid, name, *_ in found:
        names.setdefault(kid, set()).add(name)
    everything = set().union(*names.values()) if names else set()
    short = {kid: sorted(everything - got) for kid, got in names.items() if got != everything}
    if short:
        shown = "; ".join(f"ID {kid}: {', '.join(gone[:3])}{', ...' if len(gone) > 3 else ''}"
                          for kid, gone in list(short.items())[:3])
        issues.note(f"{len(short)} kernel(s) lack metric rows the others have ({shown}"
                    f"{'; ...' if len(short) > 3 else ''}); those values are null (a row "
                    "renamed, or the export cut short?)")


def _row_notes(issues: Issues, exact: list[str], repeated: list[int], bad_ids: list[str]) -> None:
    if exact:
        issues.note(f"{len(exact)} row(s) repeat an earlier row exactly (ID "
                    f"{', '.join(exact[:5])}{', ...' if len(exact) > 5 else ''}); each was "
                    "read once")
    if repeated:
        shown = ", ".join(map(str, repeated[:5])) + (", ..." if len(repeated) > 5 else "")
        issues.note(f"{len(repeated)} row(s) reuse the ID of an earlier, different row (ID "
                    f"{shown}); all were read: are two exports mixed?")
    if bad_ids:
        issues.note(f"{len(bad_ids)} row(s) have an ID that is not a number and were left "
                    f"out: {'; '.join(bad_ids[:3])}{'; ...' if len(bad_ids) > 3 else ''}")


def _identity(text: dict[str, list[str]], issues: Issues) -> pd.DataFrame:
    n = len(text["kernel"])
    ident = pd.DataFrame({dst: pd.Series(cells, dtype="object") for dst, cells in text.items()
                          if dst not in ("push_pop", "device_name")})

    def label(i: int) -> str:
        return kernel_label(text["id"][i] if "id" in text else "?",
                            function_name(text["kernel"][i]))

    for col in ("id", *_INTEGER_COLUMNS):
        if col not in ident:
            continue
        parsed = [_integer(c) for c in text[col]]
        for i, (cell, v) in enumerate(zip(text[col], parsed, strict=True)):
            if v is None and cell.strip() not in ("", "n/a"):
                issues.bad_cell(label(i), col, cell, "not a whole number")
        ident[col] = pd.array(parsed, dtype="Int64")
    if "cc" in text:  # formulas restricted by architecture apply only to a known CC
        for i, cell in enumerate(text["cc"]):
            if not _CC.match(cell):
                issues.bad_cell(label(i), "CC", cell, "not a compute capability such as 9.0")
        ident["cc"] = [c.replace(",", ".") if _CC.match(c) else None for c in text["cc"]]
    stacks = [parse_push_pop(c) for c in text["push_pop"]] if "push_pop" in text \
        else [[] for _ in range(n)]
    ident["nvtx"] = stacks
    ident["range"] = ["/".join(s) for s in stacks]
    # the export names kernels by their demangled signature; the report by function name
    ident["kernel_demangled"] = ident["kernel"]
    ident["kernel"] = ident["kernel"].map(function_name)
    ident["device_name"] = pd.Series([c or None for c in text["device_name"]], dtype="string") \
        if "device_name" in text else pd.Series([None] * n, dtype="string")
    return ident


class _Details:
    """The details page: one row per kernel and metric; only rows of needed metrics are kept."""

    def __init__(self, path: Path, rows: Rows, issues: Issues) -> None:
        self.path, self.rows, self.issues = path, rows, issues

    def read(self) -> RawKernels:
        header = self.rows.header
        if "ID" not in header:
            raise InputError(f"{self.path}: a details export without an ID column cannot tell "
                             "its kernels apart; export with --page raw")
        i_id = header.index("ID")
        j_name, j_unit, j_value = (header.index(h) for h in DETAILS)
        text_at = {dst: header.index(src) for src, dst in
                   [*IDENTITY_HEADER.items(), (PUSH_POP, "push_pop")] if src in header}
        needed = needed_metrics()
        first: dict[int, list[str]] = {}
        device_names: dict[int, str] = {}
        # candidates: (kernel, metric, from a section label, unit, value)
        found: list[tuple[int, str, bool, str, str]] = []
        seen_rows: set[int] = set()
        exact: list[str] = []
        bad_ids: list[str] = []
        for where, fields in self.rows:
            key = hash(tuple(fields))
            if key in seen_rows:
                exact.append(fields[i_id])
                continue
            seen_rows.add(key)
            kid = _integer(fields[i_id])
            if kid is None:
                bad_ids.append(f"{where}: {fields[i_id][:40]!r}")
                continue
            if kid not in first:
                first[kid] = [fields[j] for j in text_at.values()]
            label = fields[j_name].strip()
            name = LABELS.get(label, label)
            if name == DEVICE_NAME:
                device_names[kid] = fields[j_value]
            elif name in needed:
                found.append((kid, name, label != name, fields[j_unit].strip(),
                              fields[j_value]))
        _row_notes(self.issues, exact, [], bad_ids)
        _same_metrics(self.issues, found)
        if not first:
            raise InputError(f"{self.path}: the export holds no kernels")
        if not found:
            raise InputError(f"{self.path}: the details export has no metric rows roofprof can "
                             "use; export with --page raw instead")
        locale = NumberForm(self.path)
        cells = [f[4] for f in found]
        factors = {u: scale(u) for u in {f[3] for f in found}}
        whole = whole_number_metrics()
        columns: dict[str, list[str]] = {}
        base: dict[str, list[str]] = {}
        for _kid, name, _label, unit, value in found:
            columns.setdefault(name, []).append(value)
            if name in whole and factors[unit] == 1:
                base.setdefault(name, []).append(value)
        values, reason = parse_numbers(cells, locale.update(columns, base))
        unknown = sorted(u for u, f in factors.items() if f is None)
        if unknown:
            self.issues.note(f"unit(s) roofprof does not know: {', '.join(map(repr, unknown))}; "
                             "those values are null")
        values = values * np.array([factors[f[3]] or np.nan for f in found])
        order = list(first)
        kernel_at = list(text_at).index("kernel")
        labels = {k: kernel_label(k, function_name(first[k][kernel_at])) for k in order}
        chosen: dict[tuple[int, str], int] = {}
        for i, (kid, name, from_label, _unit, _value) in enumerate(found):
            if reason[i] != OK:
                self.issues.bad_cell(labels[kid], name, cells[i], REASONS[int(reason[i])])
                continue
            prev = chosen.get((kid, name))
            if prev is None or (found[prev][2] and not from_label):  # a raw name beats a label
                chosen[(kid, name)] = i
            elif found[prev][2] == from_label and not np.isclose(values[prev], values[i],
                                                                 rtol=1e-9, equal_nan=True):
                self.issues.bad_cell(labels[kid], name, f"{cells[prev]} / {cells[i]}",
                                     "given twice with different values")
                values[prev] = np.nan
        names = list(dict.fromkeys(f[1] for f in found))
        table = np.full((len(order), len(names)), np.nan)
        row_of = {k: r for r, k in enumerate(order)}
        col_of = {n: c for c, n in enumerate(names)}
        for (kid, name), i in chosen.items():
            table[row_of[kid], col_of[name]] = values[i]
        text = {dst: [first[k][c] for k in order] for c, dst in enumerate(text_at)}
        text["device_name"] = [device_names.get(k, "") for k in order]
        identity = _identity(text, self.issues)
        fmt = "ncu-csv-details" + _describe([locale.form == "eu" and "numbers 1.234,5"])
        return RawKernels(identity=identity, metrics=pd.DataFrame(table, columns=names),
                          meta={"format": fmt})


FORMAT = Format(name="ncu-csv", suffixes=(".csv",), sniff=_sniff, read=read,
                description="an Nsight Compute CSV export")
