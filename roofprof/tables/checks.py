"""Validation at the edge of every input: what a cell, a column or a file's metadata may hold.

The parsers (``parsers/``, which parse cells with ``parsers.cells``) and the Parquet readers
(``roofprof.tables.kernels``) hand what they read to these checks, driven by the kernel table's
schema (``roofprof.tables.schema``). The rules:

* A measured value that does not parse (``abc``, ``12x``, ``0x1F``), is not finite (``inf``,
  ``nan``), is negative (every quantity roofprof reads is a count, a time, a rate or a peak), or is
  written with non-ASCII characters (a Unicode minus, fullwidth digits) is **null**, never a guess,
  and one :class:`~roofprof.errors.DataWarning` per file names the kernels, columns and raw texts.
  Empty cells and ncu's ``n/a`` are null without a warning: that is how ncu writes "not collected".
* Rows left out (a half-written last row, exact duplicates, an unreadable ID) are counted in a
  :class:`DataWarning`; nothing is dropped silently.
* Under ``strict`` (``--strict``) every :class:`DataWarning` is an :class:`InputError` instead.
* Metadata read from a file is untrusted: a field of the wrong type is an error naming the field
  and the file where the trace cannot be right without it (``schema_version``), else a warning
  and the field's default.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.types import is_bool_dtype, is_integer_dtype, is_numeric_dtype

from roofprof.errors import DataWarning, InputError, RoofprofWarning
from roofprof.tables.schema import SCHEMA_VERSION, TEXT, empty_meta

OK, NOT_A_NUMBER, NOT_FINITE, NEGATIVE, NOT_ASCII, DIFFERS = range(6)
REASONS = {NOT_A_NUMBER: "not a number", NOT_FINITE: "not finite", NEGATIVE: "negative",
           DIFFERS: "its copies in a repeated column differ",
           NOT_ASCII: "not a plain number (non-ASCII characters: a Unicode minus or "
                      "fullwidth digits?)"}


def check_values(values: np.ndarray, reason: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Null every non-finite or negative value; returns the values and their reason codes."""
    values = np.asarray(values, dtype="float64").copy()
    if reason is None:
        reason = np.full(len(values), OK, dtype="int8")
    with np.errstate(invalid="ignore"):
        reason[np.isinf(values)] = NOT_FINITE
        reason[values < 0] = NEGATIVE
    values[reason != OK] = np.nan
    return values, reason


# ------------------------------------------------------------------------- warnings, once


@dataclass
class Issues:
    """Problems found in one input, reported as one warning per kind when reading ends."""

    path: Path
    #: (kernel, column, raw text, reason)
    cells: list[tuple[str, str, str, str]] = field(default_factory=list)
    ncells: int = 0
    #: other problems, one sentence each
    notes: list[str] = field(default_factory=list)

    SHOWN = 5

    def bad_cell(self, kernel: str, column: str, raw: object, reason: str) -> None:
        """Record one cell read as null: ``raw`` is its text, or the value the file holds
        (shown as :func:`shown_raw` writes it)."""
        self.ncells += 1
        if len(self.cells) < self.SHOWN:
            self.cells.append((kernel, column, shown_raw(raw), reason))

    def bad_cells(self, kernels: Sequence[str], column: str,
                  raws: Sequence[object] | np.ndarray, reasons: np.ndarray) -> None:
        """Record the cells of one column whose reason is not ``OK`` (``raws``: each row's
        text or value; only those of the bad cells are looked at)."""
        for i in np.flatnonzero(reasons != OK).tolist():
            self.bad_cell(kernels[i], column, raws[i], REASONS[int(reasons[i])])

    def note(self, text: str) -> None:
        self.notes.append(text)

    def emit(self, stacklevel: int = 3) -> None:
        for text in self.notes:
            warnings.warn(f"{self.path}: {text}", DataWarning, stacklevel=stacklevel)
        if self.ncells:
            shown = "; ".join(f"{k}, {c} = {_quote(raw)} ({why})"
                              for k, c, raw, why in self.cells)
            more = f"; and {self.ncells - len(self.cells)} more" if self.ncells > self.SHOWN \
                else ""
            warnings.warn(f"{self.path}: {self.ncells} value(s) read as null: {shown}{more}. "
                          "Quantities that need them are null; fix the file or export it "
                          "again (--strict refuses such input)", DataWarning,
                          stacklevel=stacklevel)


def shown_raw(raw: object) -> str:
    """A raw value as the file holds it, for a message: text as it is, a number as Python
    writes it (``-5000.0``, ``nan``). A numpy scalar is made a Python one first: numpy 2
    writes ``np.float64(-5000.0)``, which no file holds."""
    if isinstance(raw, np.generic):
        raw = raw.item()
    return raw if isinstance(raw, str) else repr(raw)


@dataclass
class Tally:
    """Rows or events with one kind of problem, for one sentence of a warning: how many, and
    the first few described (the rest counted: "; and N more"), as :class:`Issues` does for
    cells. The timing parsers keep one per kind of problem."""

    n: int = 0
    listed: list[str] = field(default_factory=list)

    def add(self, count: int, described: Iterable[str] = ()) -> None:
        """``count`` more; ``described``: some of them (only the first few are kept)."""
        self.n += count
        for text in described:
            if len(self.listed) >= Issues.SHOWN:
                break
            self.listed.append(text)

    def room(self) -> int:
        """How many more a message would describe."""
        return max(0, Issues.SHOWN - len(self.listed))

    def text(self) -> str:
        """The first few described, and how many more there are."""
        more = f"; and {self.n - len(self.listed)} more" if self.n > len(self.listed) else ""
        return "; ".join(self.listed) + more


def _quote(raw: str) -> str:
    text = raw if len(raw) <= 40 else raw[:37] + "..."
    return repr(text)


def kernel_label(kid: Any, name: Any) -> str:
    """How a kernel is named in messages: ``kernel ID 4 (nvjet_sm90_...)``."""
    name = "?" if name is None or isinstance(name, float) else str(name)
    if len(name) > 48:
        name = name[:45] + "..."
    return f"kernel ID {kid} ({name})"


# ----------------------------------------------------------------------- Parquet metadata

_LIST_FIELDS = ("sources", "formats", "gpu", "missing", "attribution_rules")
_TEXT_FIELDS = ("roofprof_version", "ncu_version", "clock_control", "cache_control", "created")


def trace_meta(raw: bytes, path: Path) -> dict[str, Any]:
    """The roofprof metadata of a Parquet trace, checked field by field."""
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: its roofprof metadata is not valid JSON ({exc}); the file "
                         "is damaged: convert the report again") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: its roofprof metadata is a JSON {type(meta).__name__}, not "
                         "an object; the file is damaged: convert the report again")
    version = meta.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError(f"{path}: metadata field schema_version is {version!r}, not an "
                         "integer; the file is damaged: convert the report again")
    if version > SCHEMA_VERSION:
        raise InputError(f"{path}: written with trace schema v{version}, newer than this "
                         f"roofprof reads (v{SCHEMA_VERSION}); upgrade roofprof")
    defaults = empty_meta()
    fixed: list[str] = []
    for key in _LIST_FIELDS:
        value = meta.get(key, defaults[key])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fixed.append(key)
            meta[key] = defaults[key]
    for key in _TEXT_FIELDS:
        value = meta.get(key)
        if value is not None and not isinstance(value, str):
            fixed.append(key)
            meta[key] = defaults[key]
    for key in ("command", "record_argv"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value)):
            fixed.append(key)
            meta[key] = None
    derivations = meta.get("derivations", {})
    if not isinstance(derivations, dict) or not all(
            isinstance(v, dict) and all(isinstance(n, int) for n in v.values())
            for v in derivations.values()):
        fixed.append("derivations")
        meta["derivations"] = {}
    if fixed:
        warnings.warn(f"{path}: metadata field(s) {', '.join(fixed)} have the wrong type; "
                      "ignored (the kernel table itself is read)", DataWarning, stacklevel=3)
    return meta


def column_types(schema: Any, path: Path, dtypes: dict[str, str]) -> None:
    """A Parquet trace's identity, attribution and other known columns hold what the kernel
    table says: text, integers or numbers (``dtypes``: column -> pandas dtype of
    ``roofprof.tables.schema``; ``object`` columns other than ``nvtx`` are not checked)."""
    if "nvtx" in schema.names:  # a list of range names per kernel
        t = schema.field("nvtx").type
        names = t.value_type if pa.types.is_list(t) or pa.types.is_large_list(t) else None
        if names is not None and pa.types.is_dictionary(names):  # read as codes
            names = names.value_type
        if not (pa.types.is_null(t) or (names is not None and (
                pa.types.is_string(names) or pa.types.is_large_string(names)
                or pa.types.is_null(names)))):
            raise InputError(f"{path}: column nvtx holds {t} values, not lists of range names; "
                             "the file was not written by roofprof: convert the report again")
    for name, dtype in dtypes.items():
        if name not in schema.names or dtype == "object":
            continue
        t = schema.field(name).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if dtype == TEXT:
            ok, want = pa.types.is_string(t) or pa.types.is_large_string(t), "text"
        elif dtype == "float64":
            ok, want = pa.types.is_floating(t) or pa.types.is_integer(t), "numbers"
        else:
            ok, want = pa.types.is_integer(t), "integers"
        if not (ok or pa.types.is_null(t)):
            raise InputError(f"{path}: column {name} holds {t} values, not {want}; the file "
                             "was not written by roofprof: convert the report again")


def trace_columns(df: pd.DataFrame, path: Path, measured: Sequence[str],
                  missing: Sequence[str] = ()) -> pd.DataFrame:
    """Check a Parquet trace's kernel table: required columns, types, values of measured ones.

    ``missing``: the columns the trace's metadata says no metric gave; any other measured column
    absent from the file is named in a warning (it reads as null).
    """
    if "duration_ns" not in df:
        raise InputError(f"{path}: the trace has no duration_ns column, so no time or rate "
                         "can be computed; it was not written by roofprof: convert the report "
                         "again")
    if "id" in df and not is_integer_dtype(df["id"].dtype):
        raise InputError(f"{path}: column id holds {df['id'].dtype} values, not integers; the "
                         "file was not written by roofprof: convert the report again")
    absent = [c for c in measured if c not in df and c not in missing]
    if absent:
        warnings.warn(f"{path}: column(s) {', '.join(absent)} are not in the trace; read as "
                      "null (convert the report again with this roofprof to fill them)",
                      RoofprofWarning, stacklevel=4)
    issues = Issues(path)
    labels: list[str] | None = None
    for col in measured:
        if col not in df:
            continue
        if is_bool_dtype(df[col].dtype) or not is_numeric_dtype(df[col].dtype):
            raise InputError(f"{path}: column {col} holds {df[col].dtype} values, not "
                             "numbers; the file was not written by roofprof: convert the "
                             "report again")
        raw = df[col].to_numpy(dtype="float64", na_value=np.nan)
        values, reason = check_values(raw)
        if (reason != OK).any():
            if labels is None:
                labels = [kernel_label(i, k) for i, k in zip(
                    df["id"] if "id" in df else range(len(df)),
                    df["kernel"] if "kernel" in df else [None] * len(df), strict=True)]
            issues.bad_cells(labels, col, raw, reason)
            df[col] = pd.Series(values, index=df.index)
    issues.emit(stacklevel=4)
    return df
