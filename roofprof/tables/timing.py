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

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from roofprof.errors import InputError
from roofprof.tables import stored
from roofprof.tables.columns import concat as concat_columns
from roofprof.tables.columns import nulls, read_frame, taken, to_arrow
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
    """A timing table from Parquet written by :func:`write` (``roofprof trace``); the columns
    in ``skip`` are not read (null: an ``object`` column of None); with ``only``, just those
    columns (the table then has no others: ``roofprof.app.join.write_joined_file``)."""
    p = Path(path)
    text_columns = [c for c, dtype in COLUMNS.items() if dtype == TEXT]
    try:
        meta = stored.meta_of(p)
        if meta.get("table") == TABLE:
            # text columns coded (files written before hold plain strings); list cells one
            # list per distinct cell, shared by its rows (as the tracer makes them)
            df = read_frame(p, text_columns, ("nvtx", "nvtx_start_ns", "nvtx_end_ns"), skip,
                            only)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{p}: not a readable Parquet file ({exc})") from None
    if meta.get("table") != TABLE:
        raise InputError(f"{p}: a roofprof trace of counters, not a timing table; give a timing "
                         "trace (roofprof trace, a Kineto .json/.json.gz or an nsys .sqlite)")
    for col in skip:
        if COLUMNS.get(col) == "object":  # one shared None, not a list per row
            df[col] = pd.Series(np.full(len(df), None, dtype=object), index=df.index)
    for col in ("nvtx", "nvtx_start_ns", "nvtx_end_ns"):
        # an all-null column: empty lists
        if col in df and col not in skip and df[col].dtype != object:
            df[col] = df[col].map(lambda v: [] if v is None else list(v))
    for col, dtype in COLUMNS.items():
        if only is not None and col not in only:
            continue
        if col == "duration_from" and col not in df:  # written before graph-level records
            df[col] = taken(["launch"], np.zeros(len(df), dtype=np.int64))
        elif col not in df:
            df[col] = nulls(len(df)) if dtype == TEXT else \
                pd.Series([None] * len(df), dtype=dtype if dtype != "object" else object)
    return TimingTrace(kernels=df[[c for c in COLUMNS if c in df]], meta=meta)


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

