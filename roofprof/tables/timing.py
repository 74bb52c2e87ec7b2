"""The timing table: every kernel launch of a run, timed, with the annotation path at launch.

Timing sources (a PyTorch profiler / Kineto trace, an Nsight Systems SQLite export, roofprof's
own CUPTI tracer) each become one timing table: one row per kernel launch, no counters. It is the
other half of the data flow: the kernel table holds counters of (sampled) launches, the timing
table holds the time of every launch; ``roofprof.analysis.join`` joins them.

Columns (pandas dtypes in :data:`COLUMNS`; units in the names; unknown is null, never 0; text
columns dictionary-typed as in the kernel table, ``roofprof.tables.schema.TEXT``):

- identity, as in the kernel table: ``kernel`` (function base name, as ncu names it),
  ``kernel_demangled``, ``process_id``, ``thread_id`` (the launching CPU thread), ``device``,
  ``device_name``, ``cc``, ``context``, ``stream``, ``grid`` and ``block`` ("(x, y, z)")
- time: ``start_ns``, ``end_ns`` (the source's clock, nanoseconds), ``duration_ns``,
  ``duration_from`` (``launch``: the kernel's own record; ``replay``: a CUDA graph replay timed
  as a whole, one row named ``[CUDA graph N replay: nodes not recorded]`` whose kernels are
  unknown; see ``parsers.graph_replays``)
- launch: ``correlation_id`` (of the runtime/driver call that launched it), ``launch_api``
  (cudaLaunchKernel, cuLaunchKernelEx, cudaGraphLaunch, ...), ``graph_id``, ``graph_node_id``
  (null outside CUDA graphs, and where the source does not say)
- attribution: ``nvtx`` (annotation path at launch, outermost first: NVTX push/pop ranges or
  ``record_function`` annotations), ``range`` (joined with "/"), ``nvtx_source`` (where the path
  came from: ``launch`` = the launching thread's ranges at the launch call; ``launch+capture`` =
  a graph replay's launch ranges followed by those active when the kernel's node was captured;
  ``gpu`` = GPU-side annotation spans on the kernel's stream; ``none``),
  ``nvtx_start_ns`` / ``nvtx_end_ns`` (each path level's range instance: when it began and
  ended; for latency), and ``phase``, ``category``, ``op`` by ``roofprof.inputs.attribution``.

Parquet files carry the kernel table's metadata keys plus ``table = "timing"``; loading one with
``roofprof.load`` gives a kernel table whose ``duration_ns`` is the timed one and whose counters
are null (``roofprof join`` fills them). This module holds the table and its Parquet file; the
table is built from a timing source by ``roofprof.inputs.timing``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from roofprof.errors import InputError
from roofprof.tables import stored, timing_checks
from roofprof.tables.checks import Issues, trace_meta
from roofprof.tables.columns import concat as concat_columns
from roofprof.tables.columns import nulls, read_parquet_text, taken, to_arrow, to_frame
from roofprof.tables.schema import SCHEMA_VERSION, TEXT, empty_meta
from roofprof.tables.stored import Table
from roofprof.version import __version__

TABLE = "timing"

#: column -> pandas dtype
COLUMNS: dict[str, str] = {
    "id": "int64",
    "source": TEXT,
    "kernel": TEXT,
    "kernel_demangled": TEXT,
    "process_id": "Int64",
    "thread_id": "Int64",
    "device": "Int64",
    "device_name": TEXT,
    "cc": TEXT,
    "context": "Int64",
    "stream": "Int64",
    "grid": TEXT,
    "block": TEXT,
    "start_ns": "int64",
    "end_ns": "int64",
    "duration_ns": "float64",
    "duration_from": TEXT,
    "correlation_id": "Int64",
    "launch_api": TEXT,
    "graph_id": "Int64",
    "graph_node_id": "Int64",
    "nvtx": "object",
    "range": TEXT,
    "nvtx_source": TEXT,
    "nvtx_start_ns": "object",
    "nvtx_end_ns": "object",
    "phase": TEXT,
    "category": TEXT,
    "op": TEXT,
}
NVTX_SOURCES = ("launch", "launch+capture", "gpu", "none")
#: the timing sources' formats (their names in ``parsers.FORMATS``), as a message names them:
#: ``roofprof convert`` of one writes a kernel table, which keeps no range timings
CONVERTED_FROM = {"kineto": "a Kineto trace", "nsys-sqlite": "an Nsight Systems export",
                  "nsys-rep": "an Nsight Systems report"}
TEXT_COLUMNS = tuple(c for c, dtype in COLUMNS.items() if dtype == TEXT)


@dataclass
class TimingTrace(Table):
    """Every timed kernel launch (``kernels``) and what produced them (``meta``)."""


# ---------------------------------------------------------------------------------- Parquet


def write(trace: TimingTrace, path: str | os.PathLike[str]) -> None:
    """Write a timing table as Parquet (atomically), with roofprof's metadata."""
    meta = {**empty_meta(), **trace.meta, "table": TABLE, "schema_version": SCHEMA_VERSION,
            "roofprof_version": __version__}
    meta["created"] = meta.get("created") or dt.datetime.now(dt.UTC).isoformat(
        timespec="seconds")
    stored.write(to_arrow(trace.kernels), meta, path)


def read(path: str | os.PathLike[str], skip: Sequence[str] = (),
         only: Sequence[str] | None = None) -> TimingTrace:
    """A timing table from Parquet written by :func:`write` (``roofprof trace``), every column
    checked (:mod:`roofprof.tables.timing_checks`: what cannot be read is null or left out, and
    said in one warning per kind); the columns in ``skip`` are not read (null: an ``object``
    column of None); with ``only``, just those columns (the table then has no others:
    ``roofprof.app.join.write_joined_file``). The columns the checks need are read whatever
    ``skip`` and ``only`` say, and dropped after."""
    p = Path(path)
    meta, schema = header(p)
    issues = Issues(p)
    wanted = {c for c in COLUMNS if c not in skip and (only is None or c in only)}
    timing_checks.columns(schema, p, COLUMNS, wanted, issues)
    with _reading(p):  # the table's own columns (the checks' whatever the caller reads)
        table = read_parquet_text(p, TEXT_COLUMNS, timing_checks.LISTS, (),
                                  [c for c in COLUMNS if c in wanted
                                   or c in timing_checks.CHECKED])
        table, fixes = _checked(table, p, issues)
        held = [table.drop_columns([c for c in table.column_names if c not in wanted])]
        del table  # to_frame frees each column as it is converted
        df = _frame(held, fixes)
    issues.emit()
    for col in skip:
        if COLUMNS.get(col) == "object":  # one shared None, not a list per row
            df[col] = pd.Series(np.full(len(df), None, dtype=object), index=df.index)
    for col, dtype in COLUMNS.items():
        if only is not None and col not in only:
            continue
        if col == "duration_from" and col not in df:  # written before graph-level records
            df[col] = taken(["launch"], np.zeros(len(df), dtype=np.int64))
        elif col not in df:
            df[col] = nulls(len(df)) if dtype == TEXT else \
                pd.Series([None] * len(df), dtype=dtype if dtype != "object" else object)
    return TimingTrace(kernels=df[[c for c in COLUMNS if c in df]], meta=meta)


def chunks(path: str | os.PathLike[str], skip: Sequence[str] = (),
           rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
    """The rows of a timing file that :func:`read` keeps, in pieces of at most ``rows`` (a row
    group at a time), checked as it checks them and reported by it alone (``roofprof join``
    reads a file with :func:`read` first: the same rows, the same nulls)."""
    p = Path(path)
    quiet = Issues(p)  # what read said already
    with _reading(p):
        timing_checks.columns(pq.read_schema(p), p, COLUMNS, set(), quiet)
        for batch in read_parquet_text(p, TEXT_COLUMNS, timing_checks.LISTS, skip,
                                       [c for c in COLUMNS if c not in skip], rows):
            table, fixes = _checked(batch, p, quiet)
            del batch
            yield _frame([table], fixes)


def header(p: Path) -> tuple[dict[str, Any], Any]:
    """The metadata (checked field by field) and the Arrow schema of a timing file."""
    raw, schema = stored.header(
        p, "it is damaged (cut short?): trace the run again (roofprof trace)",
        "give a timing trace (roofprof trace, a Kineto .json/.json.gz or an nsys .sqlite)")
    meta = trace_meta(raw, p)
    if meta.get("table") != TABLE:
        raise InputError(_not_timing(p, meta))
    return meta, schema


def _not_timing(p: Path, meta: dict[str, Any]) -> str:
    """Why a roofprof kernel table is no timing table, and what to give instead: a kernel
    table converted from a timing source has its launches' durations (``summary`` reads it)
    but not the launch and range times latency is computed from."""
    converted = [CONVERTED_FROM[f] for f in meta.get("formats") or [] if f in CONVERTED_FROM]
    if not converted:
        return (f"{p}: a roofprof trace of counters, not a timing table; give a timing trace "
                "(roofprof trace, a Kineto .json/.json.gz or an nsys .sqlite)")
    sources = meta.get("sources") or []
    source = f" ({sources[0]})" if len(sources) == 1 else ""
    return (f"{p}: a kernel table converted from {converted[0]} (roofprof convert), not a "
            "timing table: it keeps each launch's duration but not the launch and range times "
            "(start_ns, end_ns, nvtx_start_ns, nvtx_end_ns) that range latencies are computed "
            f"from; give the trace it was converted from{source}, or the Parquet file "
            "`roofprof trace` wrote")


@contextlib.contextmanager
def _reading(p: Path) -> Iterator[None]:
    """Reading a timing file's columns: what Arrow or pandas cannot read is one error."""
    try:
        yield
    except (OSError, TypeError, ValueError, NotImplementedError, pa.ArrowException) as exc:
        raise InputError(f"{p}: its columns cannot be read ({exc}); trace the run again "
                         "(roofprof trace)") from None


def _checked(table: Any, p: Path, issues: Issues) -> tuple[Any, dict[str, dict[int, Any]]]:
    """The launches of ``table`` whose time stands, and the range times to null
    (:mod:`roofprof.tables.timing_checks`)."""
    table = timing_checks.rows(table, p, issues)
    return table, timing_checks.range_times(table, p, issues)


def _frame(held: list[Any], fixes: dict[str, dict[int, Any]]) -> pd.DataFrame:
    """The Arrow table in ``held`` (emptied, :func:`~roofprof.tables.columns.to_frame`) as the
    timing table's frame: text coded, list cells shared per distinct cell (as the tracer makes
    them), a column of nulls as empty lists, the range times of ``fixes`` null."""
    table = held[0]
    empty = [c for c in timing_checks.LISTS if c in table.column_names
             and pa.types.is_null(table.schema.field(c).type)]
    del table
    df: pd.DataFrame = to_frame(held, TEXT_COLUMNS, timing_checks.LISTS)
    for col in empty:
        df[col] = pd.Series([[] for _ in range(len(df))], index=df.index, dtype=object)
    for col, fix in fixes.items():
        if fix and col in df:
            df[col] = pd.Series(timing_checks.replace(df[col].to_numpy(), fix), index=df.index)
    return df


def check_columns(path: Path) -> None:
    """The column checks of :func:`read` alone (a column of the wrong type: an error; one
    missing: a warning), for a timing file about to be read as a kernel table
    (``roofprof.load``: ``summary`` and the commands of counters), whose reader checks only
    the kernel table's identity and measured columns."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return  # not Parquet after all: the kernel table's reader says what it is
    issues = Issues(path)
    timing_checks.columns(schema, path, COLUMNS, set(COLUMNS), issues)
    issues.emit()


def is_timing_parquet(path: Path) -> bool:
    """Whether ``path`` is a timing table's Parquet file (never raises: anything else is not)."""
    try:
        return bool(stored.meta_of(path).get("table") == TABLE)
    except Exception:  # not Parquet, or not ours: the caller decides
        return False


def concat(parts: Sequence[TimingTrace]) -> TimingTrace:
    """Several timing tables as one (ids renumbered; sources listed in order)."""
    if len(parts) == 1:
        return parts[0]
    kernels = concat_columns([t.kernels for t in parts], ignore_index=True)
    kernels["id"] = range(len(kernels))
    meta = dict(parts[0].meta)
    meta["sources"] = [s for t in parts for s in t.meta.get("sources") or []]
    return TimingTrace(kernels=kernels, meta=meta)

