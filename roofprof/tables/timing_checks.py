"""What a timing table's Parquet file may hold (:func:`roofprof.tables.timing.read` applies it,
as the kernel table's reader applies :mod:`roofprof.tables.checks`).

A timing file is untrusted input like any other: problems are reported through
:class:`roofprof.tables.checks.Issues` (one :class:`~roofprof.errors.DataWarning` per file and
kind; ``--strict`` makes it an error). The rules:

* A column of the wrong type (text in ``start_ns``, floats in ``device``, a struct in ``nvtx``,
  text in the range times), or no ``id``, ``start_ns``, ``end_ns`` or ``duration_ns`` at all: the
  file is not a timing table roofprof wrote; one :class:`~roofprof.errors.InputError`.
* Another column of the table missing (but ``duration_from``, which files written before
  graph-level records lack): read as null, and named in a warning.
* A launch whose time cannot stand (no id, no start or end, a negative one, an end before its
  start) is left out, and counted.
* ``duration_ns`` is ``end_ns - start_ns`` in every table roofprof builds: a duration that is
  null, not finite, negative or another number is null (which of the three is wrong is
  unknown; latency gives the GPU span of its range instances no number).
* A launch's range path (``nvtx``) and its instances' times (``nvtx_start_ns``,
  ``nvtx_end_ns``) are lists of one length, and each level's times are a start >= 0 with an end
  no earlier, or -1 and -1 (a range open only at a CUDA graph's capture). Lists of other
  lengths: every level's times are null; a level that is neither: its two times are null.
  Latency counts the instances it cannot time so.

The row checks (:func:`rows`) are row-local, so that ``roofprof join`` can apply them to each
chunk of its second pass over a file and keep the rows its first pass kept.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import is_integer_dtype

from roofprof.errors import DataWarning, InputError
from roofprof.tables.checks import Issues, kernel_label
from roofprof.tables.schema import TEXT

#: columns every timing file holds: without them no launch has a time
REQUIRED = ("id", "start_ns", "end_ns", "duration_ns")
#: columns read for the checks whatever a caller reads (for the messages: ``kernel``)
CHECKED = (*REQUIRED, "kernel")
#: columns a file may lack without a word (written before they existed)
OPTIONAL = ("duration_from",)
LISTS = ("nvtx", "nvtx_start_ns", "nvtx_end_ns")
TIMES = ("nvtx_start_ns", "nvtx_end_ns")
#: the -1 of both times of a range open only at a CUDA graph's capture
CAPTURE_ONLY = -1

_FIX = "it is not a timing table roofprof wrote: trace the run again (roofprof trace)"


# ------------------------------------------------------------------------------ columns


def columns(schema: Any, path: Path, dtypes: dict[str, str], wanted: set[str],
            issues: Issues) -> None:
    """Each column of ``schema`` holds what ``dtypes`` (the timing table's pandas dtypes) says;
    the required ones are there; a ``wanted`` one absent is noted (it reads as null)."""
    absent = [c for c in REQUIRED if c not in schema.names]
    if absent:
        raise InputError(f"{path}: the timing table has no {', '.join(absent)} column, so its "
                         f"launches have no time; {_FIX}")
    for name in schema.names:
        if name in dtypes:
            _column_type(name, schema.field(name).type, dtypes[name], path)
    gone = [c for c in dtypes if c in wanted and c not in schema.names and c not in OPTIONAL]
    if gone:
        issues.note(f"column(s) {', '.join(gone)} are not in the timing table; read as null "
                    "(trace the run again to fill them)")


def _column_type(name: str, t: Any, dtype: str, path: Path) -> None:
    if name in LISTS:
        inner = t.value_type if pa.types.is_list(t) or pa.types.is_large_list(t) else None
        if inner is not None and pa.types.is_dictionary(inner):
            inner = inner.value_type
        kind = _is_text if name == "nvtx" else pa.types.is_integer
        ok = pa.types.is_null(t) or (inner is not None and (kind(inner)
                                                            or pa.types.is_null(inner)))
        want = "lists of range names" if name == "nvtx" else "lists of integer times"
    else:
        if pa.types.is_dictionary(t):
            t = t.value_type
        if dtype == TEXT:
            ok, want = _is_text(t) or pa.types.is_null(t), "text"
        elif name == "duration_ns":
            ok = pa.types.is_floating(t) or pa.types.is_integer(t)
            want = "numbers"
        else:
            ok = pa.types.is_integer(t) or (name not in REQUIRED and pa.types.is_null(t))
            want = "integers"
    if not ok:
        raise InputError(f"{path}: column {name} holds {t} values, not {want}; {_FIX}")


def _is_text(t: Any) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


# --------------------------------------------------------------------------------- rows


def _ints(column: Any, path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """An integer column's values (int64; 0 where null) and where it is null."""
    try:
        col = column if column.type == pa.int64() else pc.cast(column, pa.int64())
    except pa.ArrowInvalid:
        raise InputError(f"{path}: column {name} holds integers beyond 64 bits; "
                         f"{_FIX}") from None
    if not col.null_count:  # as written by roofprof: no copy but Arrow's own
        return np.asarray(col, dtype=np.int64), np.zeros(len(col), dtype=bool)
    null = np.asarray(pc.is_null(col), dtype=bool)
    return np.asarray(pc.fill_null(col, 0), dtype=np.int64), null


def _labels(table: Any, rows: np.ndarray) -> list[str]:
    """How the launches at ``rows`` of ``table`` are named in messages."""
    ids = table.column("id").take(pa.array(rows, type=pa.int64())).to_pylist()
    names = table.column("kernel").take(pa.array(rows, type=pa.int64())).to_pylist() \
        if "kernel" in table.column_names else [None] * len(rows)
    return [kernel_label(f"null (row {r})" if i is None else i, n)
            for r, i, n in zip(rows.tolist(), ids, names, strict=True)]


def rows(table: Any, path: Path, issues: Issues) -> Any:
    """``table`` (an Arrow table holding :data:`REQUIRED`) without the launches whose time
    cannot stand, and with ``duration_ns`` (float64) null where it is not ``end_ns -
    start_ns``; both counted in ``issues``."""
    _, no_id = _ints(table.column("id"), path, "id")
    start, no_start = _ints(table.column("start_ns"), path, "start_ns")
    end, no_end = _ints(table.column("end_ns"), path, "end_ns")
    why = np.zeros(table.num_rows, dtype=np.int8)  # 0: stands, else 1 + its first reason
    for code, bad in reversed(list(enumerate((no_id, no_start, no_end, start < 0, end < 0,
                                               end < start), start=1))):
        why[bad] = code
    out = np.flatnonzero(why)
    if len(out):
        shown = "; ".join(f"{label}: {_LEFT_OUT[code - 1]}" for label, code in zip(
            _labels(table, out[:Issues.SHOWN]), why[out[:Issues.SHOWN]].tolist(), strict=True))
        more = f"; and {len(out) - Issues.SHOWN} more" if len(out) > Issues.SHOWN else ""
        issues.note(f"{len(out)} launch(es) left out, their time cannot stand ({shown}{more}); "
                    "the run's totals are without them")
        keep = why == 0
        table = table.filter(pa.array(keep))
        start, end = start[keep], end[keep]
    return _durations(table, start, end, issues)


_LEFT_OUT = ("no id", "no start_ns", "no end_ns", "start_ns negative", "end_ns negative",
             "end_ns before start_ns")


def _durations(table: Any, start: np.ndarray, end: np.ndarray, issues: Issues) -> Any:
    """``table`` with ``duration_ns`` as float64, null where it is not ``end - start``."""
    i = table.schema.get_field_index("duration_ns")
    raw = pc.cast(table.column(i), pa.float64()).to_numpy(zero_copy_only=False)
    spans = (end - start).astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~(raw == spans)
    if bad.any():
        at = np.flatnonzero(bad)
        for label, r in zip(_labels(table, at[:Issues.SHOWN]), at[:Issues.SHOWN].tolist(),
                            strict=True):
            issues.bad_cell(label, "duration_ns", repr(float(raw[r])), _reason(raw[r], spans[r]))
        issues.ncells += max(0, len(at) - Issues.SHOWN)
    return table.set_column(i, "duration_ns", pa.array(np.where(bad, np.nan, raw), mask=bad))


def _reason(value: float, span: float) -> str:
    if np.isnan(value):
        return "null: a timing table times every launch"
    if np.isinf(value):
        return "not finite"
    if value < 0:
        return "negative"
    return f"not end_ns - start_ns = {span:.0f}"


# ----------------------------------------------------------------------- range instances


def range_times(table: Any, path: Path, issues: Issues) -> dict[str, dict[int, list[Any]]]:
    """The range times to replace, per column and row of ``table``: null where a launch's
    lists differ in length (every level) or a level's times are not a range's; noted in
    ``issues``. Empty where ``table`` holds neither time list."""
    held = [c for c in LISTS if c in table.column_names]
    if not any(c in held for c in TIMES):
        return {}
    lengths = {c: _lengths(table.column(c)) for c in held}
    first = lengths[held[0]]
    uneven = np.zeros(table.num_rows, dtype=bool)
    for c in held[1:]:
        uneven |= lengths[c] != first
    fixes: dict[str, dict[int, list[Any]]] = {c: {} for c in TIMES if c in held}
    size = lengths.get("nvtx", first)
    for r in np.flatnonzero(uneven).tolist():
        for fix in fixes.values():
            fix[r] = [None] * int(size[r])
    _record(issues, table, np.flatnonzero(uneven), "nvtx/nvtx_start_ns/nvtx_end_ns",
            lambda r: ", ".join(f"{int(lengths[c][r])} {c}" for c in held),
            "lists of different lengths: no level has times")
    if len(fixes) == 2:
        _levels(table, path, uneven, fixes, issues)
    return fixes


def _lengths(column: Any) -> np.ndarray:
    """Each list's length (a null cell, or a column of nulls: 0)."""
    if pa.types.is_null(column.type):
        return np.zeros(len(column), dtype=np.int64)
    found = pc.fill_null(pc.list_value_length(column), 0)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _levels(table: Any, path: Path, uneven: np.ndarray,
            fixes: dict[str, dict[int, list[Any]]], issues: Issues) -> None:
    """Null the times of each level (of the launches whose lists agree in length) that is not
    a range's: a start >= 0 with an end no earlier, or :data:`CAPTURE_ONLY` twice."""
    even = np.flatnonzero(~uneven)
    if pa.types.is_null(table.column("nvtx_start_ns").type) or not len(even):
        return
    cells = {c: table.column(c) if len(even) == table.num_rows else
             table.column(c).take(pa.array(even, type=pa.int64())) for c in TIMES}
    flat = {c: pc.list_flatten(cells[c]) for c in TIMES}
    if not len(flat["nvtx_start_ns"]):
        return
    (s, no_s), (e, no_e) = (_ints(flat[c], path, c) for c in TIMES)
    good = ~no_s & ~no_e & (((s >= 0) & (e >= s)) | ((s == CAPTURE_ONLY) & (e == CAPTURE_ONLY)))
    if good.all():
        return
    counts = _lengths(cells["nvtx_start_ns"])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    bad_rows = even[np.unique(np.searchsorted(offsets, np.flatnonzero(~good), "right") - 1)]
    names = table.column("nvtx") if "nvtx" in table.column_names else None
    shown = 0
    for r in bad_rows.tolist():
        k = int(np.searchsorted(even, r))
        level = good[offsets[k]:offsets[k + 1]].tolist()
        times = [table.column(c)[r].as_py() for c in TIMES]
        for c, values in zip(TIMES, times, strict=True):
            fixes[c][r] = [v if ok else None for v, ok in zip(values, level, strict=True)]
        if shown < Issues.SHOWN:  # the row's first bad level, named
            d = level.index(False)
            start, end = times[0][d], times[1][d]
            name = names[r].as_py()[d] if names is not None else f"level {d}"
            issues.bad_cell(_labels(table, np.asarray([r]))[0],
                            f"nvtx_start_ns/nvtx_end_ns of {name}", f"{start}..{end}",
                            _level_reason(start, end) + ": its times are null")
            shown += 1
        else:
            issues.ncells += 1


def _level_reason(start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return "null"
    if start < 0 or end < 0:
        return "negative"
    return "ends before it starts"


def _record(issues: Issues, table: Any, at: np.ndarray, column: str, raw: Any,
            reason: str) -> None:
    """Bad cells at the rows ``at`` (their raw text by ``raw(row)``), the first few named."""
    if not len(at):
        return
    for label, r in zip(_labels(table, at[:Issues.SHOWN]), at[:Issues.SHOWN].tolist(),
                        strict=True):
        issues.bad_cell(label, column, raw(r), reason)
    issues.ncells += max(0, len(at) - Issues.SHOWN)


def replace(values: Any, fixes: dict[int, list[Any]]) -> Any:
    """An object array of list cells with the cells of ``fixes`` (row -> list) replaced; the
    others still shared as they were."""
    out = np.asarray(values, dtype=object).copy()
    for r, cell in fixes.items():
        out[r] = cell
    return out


# --------------------------------------------------------------- read as a kernel table


def durations(kernels: Any, path: Path) -> Any:
    """``kernels``, a timing file read as a kernel table (``roofprof.load``, ``summary``), with
    ``duration_ns`` null where it is not ``end_ns - start_ns``, named in one warning. The kernel
    table's reader takes a null duration for "not measured" and any other number for the
    file's word; a timing table times every launch, each as its end - start. Launches whose
    ends are unknown, or read through floats (a column with nulls), are left as they are."""
    d = kernels["duration_ns"].to_numpy("float64", na_value=np.nan)
    spans = np.full(len(d), np.nan)
    if all(c in kernels and is_integer_dtype(kernels[c].dtype) for c in ("start_ns", "end_ns")):
        known = (kernels["start_ns"].notna() & kernels["end_ns"].notna()).to_numpy()
        start, end = (kernels[c].to_numpy("int64", na_value=0) for c in ("start_ns", "end_ns"))
        spans[known] = (end - start)[known].astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = np.isnan(d) | (~np.isnan(spans) & (d != spans))
    if not bad.any():
        return kernels
    at = np.flatnonzero(bad)
    shown = "; ".join(
        kernel_label(kernels["id"].iloc[r] if "id" in kernels else r,
                     kernels["kernel"].iloc[r] if "kernel" in kernels else None)
        + (": null" if np.isnan(d[r]) else
           f": {float(d[r])!r}, not end_ns - start_ns = {spans[r]:.0f}")
        for r in at[:Issues.SHOWN].tolist())
    more = f"; and {len(at) - Issues.SHOWN} more" if len(at) > Issues.SHOWN else ""
    warnings.warn(f"{path}: {len(at)} launch(es) of the timing table have no duration "
                  f"({shown}{more}): a timing table times every launch as its end - start; "
                  "their time, and every total holding it, is null", DataWarning, stacklevel=3)
    kernels = kernels.copy(deep=False)
    kernels["duration_ns"] = pd.Series(np.where(bad, np.nan, d), index=kernels.index)
    return kernels
