"""The kernel table: :class:`Trace` (the table and its metadata) and its Parquet file.

One row per profiled kernel launch, the columns of :mod:`roofprof.tables.schema`. A trace is
written atomically (:func:`write_parquet`: the file appears complete or not at all, also on
Ctrl-C) with its metadata as JSON under the ``roofprof`` key, and read back with every column
checked (:func:`read_parquet`, by :mod:`roofprof.tables.checks`). :func:`concat` and
:func:`combine` put several traces together (their metadata merged). Reading other formats into
a trace is ``roofprof.inputs``'s work.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from roofprof.errors import InputError, OutputError, RoofprofWarning
from roofprof.tables import checks, stored
from roofprof.tables.columns import concat as concat_columns
from roofprof.tables.columns import nulls, read_frame, taken, to_arrow
from roofprof.tables.partitions import INTEGER_PARTITIONS, PARTITIONS, label_of
from roofprof.tables.sampling import decisive, sampling
from roofprof.tables.schema import (
    ATTRIBUTION,
    COLUMNS,
    IDENTITY,
    MEASURED,
    SCHEMA_VERSION,
    TEXT,
    dtype_of,
    empty_meta,
    upgrade,
)
from roofprof.tables.stored import Table, with_meta
from roofprof.tables.timing import COLUMNS as TIMING_COLUMNS
from roofprof.version import __version__

PARQUET_MAGIC = b"PAR1"
#: the kernel table's text columns, and those a dataset or a combination adds
TEXT_COLUMNS = (*(c for c in COLUMNS if dtype_of(c) == TEXT), "run", "trace")
#: the columns a kernel table's file may hold besides the schema's: those of a timing table (a
#: timing file read as a kernel table, a join's timing columns), a join's provenance
#: (``roofprof.analysis.join.PROVENANCE``), a combination's ``trace`` label and a dataset's
#: partitions. They are read and kept (``convert`` writes them again); a column of any other
#: name is not read: nothing roofprof computes comes from it.
EXTRA: tuple[str, ...] = (
    *(c for c in TIMING_COLUMNS if c not in COLUMNS),
    "counters_from", "counters_key", "counters_samples", "counters_spread", "trace",
    *(c for c in PARTITIONS if c not in COLUMNS))
_TEXT_EXTRA = {"counters_from", "counters_key", "trace",
               *(c for c in PARTITIONS if c not in INTEGER_PARTITIONS)}
#: what each of :data:`EXTRA` holds, checked as the schema's columns are: text, lists (not
#: checked), or numbers (not integers alone: an integer column with nulls reads as floats, and
#: ``convert`` writes it so)
_EXTRA_TYPES = {c: TEXT if c in _TEXT_EXTRA or TIMING_COLUMNS.get(c) == TEXT else
                "object" if TIMING_COLUMNS.get(c) == "object" else "float64" for c in EXTRA}


@dataclass
class Trace(Table):
    """Measured kernels (``kernels``, one row per launch) and what produced them (``meta``)."""

    meta: dict[str, Any] = field(default_factory=empty_meta)

    def __repr__(self) -> str:
        k = self.kernels
        gpus = ", ".join(str(g) for g in self.meta.get("gpu") or []) or "unknown GPU"
        sources = [os.path.basename(str(s)) for s in self.meta.get("sources") or []]
        where = sources[0] if len(sources) == 1 else f"{len(sources)} sources"
        total = float(k["duration_ns"].sum()) if "duration_ns" in k.columns else float("nan")
        return (f"<Trace: {len(k):,} kernels, {total / 1e6:.3f} ms GPU time, {gpus}, "
                f"from {where}>")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the trace as a Parquet file (atomically) and return its path."""
        out = Path(path)
        if out.suffix != ".parquet":
            raise OutputError(f"{out}: a trace is saved as .parquet")
        write_parquet(self, out)
        return out


def is_parquet(path: Path) -> bool:
    """Whether ``path`` starts as a Parquet file does (never raises, never waits: a named
    pipe or a device is not opened, and not Parquet)."""
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == PARQUET_MAGIC
    except OSError:
        return False


def arrow_table(trace: Trace) -> Any:
    """The trace as an Arrow table with its roofprof metadata (what a Parquet file holds)."""
    df = trace.kernels.copy(deep=False)
    cells = df["nvtx"].to_numpy()
    first = np.unique(np.fromiter(map(id, cells), dtype=np.int64, count=len(cells)),
                      return_index=True)[1]
    if not all(type(v) is list for v in cells[first]):  # each distinct cell object once
        df["nvtx"] = df["nvtx"].map(lambda v: list(v) if v is not None else [])
    for col in df.columns:  # an all-null column held as objects: its schema type, not null
        if col in COLUMNS and col != "nvtx" and dtype_of(col) != TEXT \
                and df[col].dtype == object and df[col].isna().all():
            df[col] = null_column(col, len(df), df.index)
    table = to_arrow(df)
    return table.replace_schema_metadata(with_meta(table.schema, trace.meta).metadata)


def null_column(column: str, n: int, index: Any = None) -> pd.Series:
    """A column of ``n`` nulls of the schema's type for a numeric ``column`` (NaN for a
    measured one; the integer ``id`` as a nullable integer), never objects: a Parquet file
    stores it as numbers, so every reader takes it back."""
    dtype = dtype_of(column)
    if dtype == "float64":
        return pd.Series(np.full(n, np.nan), index=index)
    return pd.Series(pd.array([pd.NA] * n, dtype="Int64"), index=index)


def write_parquet(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write atomically: a temporary file in the same folder, renamed over ``path`` when done."""
    trace.meta["schema_version"] = SCHEMA_VERSION
    trace.meta["created"] = trace.meta.get("created") or dt.datetime.now(
        dt.UTC).isoformat(timespec="seconds")
    stored.write(arrow_table(trace), trace.meta, path)


def read_parquet(path: Path, attribute: Callable[[Trace], None] | None = None) -> Trace:
    """A trace from its Parquet file, every column and metadata field checked (a column of
    the schema or of :data:`EXTRA` of another type: one error naming it; a column of any other
    name is not read). ``attribute`` fills the attribution columns of a file written before
    they existed (else they are null)."""
    raw_meta, schema = stored.header(
        path, "convert the report again",
        "make traces with `roofprof convert` or `roofprof record`")
    meta = upgrade(checks.trace_meta(raw_meta, path))
    checks.column_types(schema, path, {**IDENTITY, **ATTRIBUTION, **_EXTRA_TYPES})
    known = [name for name in schema.names if name in COLUMNS or name in EXTRA]
    unknown = [name for name in schema.names if name not in known
               and not name.startswith("__index_level_")]
    if unknown:  # no number comes from them, but a column is never dropped without a word
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5
                                          else "")
        warnings.warn(f"{path}: column(s) {shown} are not roofprof's and were not read "
                      "(no number roofprof computes comes from them; convert does not keep "
                      "them)", RoofprofWarning, stacklevel=2)
    try:  # text columns coded (files written before hold plain strings); nvtx shared by path
        df = read_frame(path, TEXT_COLUMNS, ["nvtx"], only=known)
    except (OSError, TypeError, ValueError, NotImplementedError, pa.ArrowException) as exc:
        # NotImplementedError: pandas' metadata naming a type Arrow cannot convert the column
        # to (a struct stored under an Int64 column's metadata)
        raise InputError(f"{path}: its columns do not match their stored types ({exc}); "
                         "convert the report again") from None
    # an all-null column stored with Arrow's null type (files written before roofprof typed
    # a timing table's counter columns): null numbers, as a file of this version holds them
    for name in schema.names:
        if pa.types.is_null(schema.field(name).type) and name in COLUMNS \
                and name != "nvtx" and dtype_of(name) != TEXT:
            df[name] = null_column(name, len(df), df.index)
    # a timing table (roofprof trace, Kineto, nsys) has no counters by design: nothing missing
    timing_only = meta.get("table") == "timing"
    df = checks.trace_columns(df, path, (*MEASURED, "flop"),
                              [*MEASURED, "flop"] if timing_only else meta["missing"])
    if df.empty:
        raise InputError(f"{path}: the trace holds no kernels; record or convert it again")
    unattributed = any(c not in df for c in ATTRIBUTION)
    for col in COLUMNS:
        if col not in df:
            df[col] = nulls(len(df)) if dtype_of(col) == TEXT else \
                [[] for _ in range(len(df))] if col == "nvtx" else \
                null_column(col, len(df), df.index)
    if df["nvtx"].dtype != object or not all(  # not a list column (an all-null one)
            isinstance(v, list) for v in df["nvtx"].iloc[:1]):
        df["nvtx"] = df["nvtx"].map(lambda v: [] if v is None else list(v))
    extra = [c for c in df.columns if c not in COLUMNS]  # EXTRA: a join's provenance, ...
    trace = Trace(kernels=df[[*COLUMNS, *extra]], meta=meta)
    if unattributed and attribute is not None:
        attribute(trace)
    return trace


def concat(traces: Sequence[Trace]) -> Trace:
    """Several traces as one: their kernels in order, their metadata merged (sources, formats,
    derivations; a column is missing where every trace misses it; the sampling facts of the
    trace that decides what the shares are of)."""
    meta = empty_meta()
    for t in traces:
        meta["sources"] += t.meta["sources"]
        meta["formats"] += t.meta["formats"]
        meta["ncu_version"] = meta["ncu_version"] or t.meta.get("ncu_version")
        for col, used in t.meta.get("derivations", {}).items():
            merged = meta["derivations"].setdefault(col, {})
            for desc, n in used.items():
                merged[desc] = merged.get(desc, 0) + n
    meta["missing"] = [c for c in COLUMNS if all(c in t.meta.get("missing", []) for t in traces)]
    meta["sampling"] = sampling(decisive(t.meta for t in traces))
    kernels = concat_columns([t.kernels for t in traces], ignore_index=True)
    meta["gpu"] = sorted({str(g) for g in kernels["device_name"].dropna().unique()})
    meta["roofprof_version"] = __version__
    return Trace(kernels=kernels, meta=meta)


def combine(traces: Sequence[Trace], labels: Sequence[str] | None = None) -> Trace:
    """Several traces as one, each kernel keeping its trace's label in a ``trace`` column
    (``--by trace`` groups by it). Labels default to the file names without suffixes."""
    if len(traces) == 1 and labels is None:
        return traces[0]
    names = list(labels) if labels is not None else [
        label_of((t.meta.get("sources") or [f"trace {i + 1}"])[0]) for i, t in enumerate(traces)]
    if len(set(names)) != len(names):
        names = [f"{i + 1}:{n}" for i, n in enumerate(names)]
    parts = []
    for name, t in zip(names, traces, strict=True):
        k = t.kernels.copy()
        k["trace"] = pd.Series(taken([name], np.zeros(len(k), dtype=np.int64)), index=k.index)
        parts.append(Trace(k, t.meta))
    return concat(parts)
