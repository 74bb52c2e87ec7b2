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
are null (``roofprof join`` fills them).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parsers.stacks import EMPTY, Stack, collector_paused, stacks_at, with_capture
from roofprof.errors import InputError
from roofprof.tables.schema import TEXT

if TYPE_CHECKING:
    import pandas as pd

    from roofprof.inputs.derive import RawKernels

__all__ = ["COLUMNS", "EMPTY", "NVTX_SOURCES", "TABLE", "Stack", "TimingTrace", "build",
           "collector_paused", "concat_unique", "dims", "is_timing_parquet", "load_timing",
           "read", "short_name", "stacks_at", "template_key", "to_raw", "with_capture", "write"]

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
class TimingTrace:
    """Every timed kernel launch (``kernels``) and what produced them (``meta``)."""

    kernels: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.kernels)


# ------------------------------------------------------------------------------ kernel names

_ANON = re.compile(r"\((?:anonymous namespace)\)|<unnamed>")


def short_name(name: str) -> str:
    """The function base name ncu shows (``kernel``) from a demangled or mangled name.

    ``void at::native::vectorized_elementwise_kernel<4, ...>(int, T2, T3)`` ->
    ``vectorized_elementwise_kernel``; ``_ZN7cutlass7Kernel2I...`` -> ``Kernel2``; a plain C name
    (``nvjet_sm90_tst_...``) is its own base name.
    """
    if name.startswith("_Z"):
        mangled = _mangled_base(name)
        if mangled:
            return mangled
    text = _ANON.sub("anon", name)
    depth, out = 0, []
    for ch in text:
        if ch in "<([{":
            if ch == "(" and depth == 0:  # the parameter list: the name is complete
                break
            depth += 1
        elif ch in ">)]}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    head = "".join(out).strip()
    if not head:
        return name
    last = head.split()[-1]
    return last.rsplit("::", 1)[-1] or name


def _mangled_base(name: str) -> str | None:
    """Base name of an Itanium-mangled function: the last identifier of its (nested) name."""
    i = 2
    nested = name[i:i + 1] == "N"
    i += 1 if nested else 0
    last = None
    while i < len(name):
        if name.startswith("St", i):
            i += 2
            continue
        if name[i] in "rVKL":  # cv-qualifiers of a nested name
            i += 1
            continue
        m = re.match(r"\d+", name[i:])
        if not m:
            break
        n = int(m.group())
        i += len(m.group())
        last = name[i:i + n]
        i += n
        if not nested:
            break
    if last and last.startswith("_GLOBAL__N"):
        return None
    return last


#: ncu writes a bool template argument as ``(bool)1``, c++filt as ``true``
_BOOL = re.compile(r"\(bool\)([01])\b")
_CAST = re.compile(r"\((?:unsigned |signed )?(?:int|long|long long|short|char|bool)\)(?=-?\d)")
_LAMBDA = re.compile(r"\{lambda\([^)]*\)#(\d+)\}|\[lambda\([^)]*\) \(instance (\d+)\)\]")
_SUFFIX = re.compile(r"\b(\d+)(?:ull|ul|ll|u|l)\b")
_NOISE = re.compile(r"\b(?:void|const|static)\b|\s+")


def template_key(demangled: str | None) -> str:
    """A kernel's demangled name in a form ncu's and the C++ demangler's spellings share.

    ncu writes ``vectorized_elementwise_kernel<(int)4, ..., std::array<char *, (unsigned
    long)2>>(int, T2, T3)``, c++filt ``vectorized_elementwise_kernel<4, ..., std::array<char*,
    2ul> >(int, ...)``; both become ``vectorized_elementwise_kernel<4,...,std::array<char*,2>>()``
    (casts, literal suffixes, lambda spellings, parameter lists, void/const and spaces dropped;
    ncu's ``(bool)1`` read as c++filt's ``true``: cuBLAS's ``splitKreduce_kernel<..., true,
    false, false>`` instances went unmatched on a 32-layer run without it),
    so template instances of one function base name can be told apart across sources.
    """
    if not demangled:
        return ""
    text = _ANON.sub("anon", demangled)
    text = _BOOL.sub(lambda m: "true" if m.group(1) == "1" else "false", text)
    text = _CAST.sub("", text)
    text = _LAMBDA.sub(lambda m: f"lambda{m.group(1) or m.group(2)}", text)
    text = _SUFFIX.sub(r"\1", text)
    out, depth = [], 0
    for ch in text:  # empty every parameter list: "f(at::TensorIteratorBase&, T1&)" -> "f()"
        if ch == "(":
            if depth == 0:
                out.append(ch)
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
            if depth == 0:
                out.append(ch)
        elif depth == 0:
            out.append(ch)
    return _NOISE.sub("", "".join(out))


def dims(x: Any, y: Any, z: Any) -> str:
    """The kernel table's "(x, y, z)" form of a grid or block."""
    return f"({int(x)}, {int(y)}, {int(z)})"


# ---------------------------------------------------------------------------- table building


@collector_paused
def build(rows: dict[str, Any], stacks: Sequence[Stack], sources: Sequence[str],
          source: str) -> pd.DataFrame:
    """The timing table from column arrays (any subset of :data:`COLUMNS`) and per-launch
    annotation stacks and their ``nvtx_source``; rows sorted by start time, ``id`` in order."""
    import numpy as np
    import pandas as pd
    from pandas.api.types import pandas_dtype

    from roofprof.inputs.attribution import attribute
    from roofprof.tables.columns import nulls, take, taken, text

    n = len(stacks)
    df = pd.DataFrame(index=pd.RangeIndex(n))
    for col, dtype in COLUMNS.items():
        if col in rows:
            values = rows[col]
            df[col] = text(values) if dtype == TEXT else \
                pd.Series(list(values), dtype=object) if dtype == "object" else \
                pd.array(values, dtype=pandas_dtype(dtype))
        elif col == "duration_from":  # sources without graph-level records: every row its own
            df[col] = taken(["launch"], np.zeros(n, dtype=np.int64))
        elif dtype == TEXT:
            df[col] = nulls(n)
        elif col not in ("id", "duration_ns") and dtype != "object":
            df[col] = pd.Series([None] * n, dtype=pandas_dtype(dtype))
    df["source"] = taken([source], np.zeros(n, dtype=np.int64))
    # lists shared by launches (cells are never changed in place): the times' lists once per
    # distinct stack, the names' once per distinct name path (a run's stacks differ by their
    # ranges' times, its paths are few); stacks coded by identity (equal stacks are one tuple)
    codes, _ = pd.factorize(np.fromiter(map(id, stacks), dtype=np.int64, count=n))
    first = np.unique(codes, return_index=True)[1]
    distinct = [stacks[i] for i in first.tolist()]
    for i, col in ((1, "nvtx_start_ns"), (2, "nvtx_end_ns")):
        cells = np.fromiter((list(s[i]) for s in distinct), dtype=object, count=len(distinct))
        df[col] = pd.Series(cells[codes], dtype=object)
    paths: dict[tuple[str, ...], int] = {}
    path_of = np.fromiter((paths.setdefault(s[0], len(paths)) for s in distinct),
                          dtype=np.int64, count=len(distinct))
    lists = np.fromiter((list(p) for p in paths), dtype=object, count=len(paths))
    df["nvtx"] = pd.Series(lists[path_of[codes]], dtype=object)
    df["range"] = taken(["/".join(p) for p in paths], path_of[codes])
    df["nvtx_source"] = text(sources)
    if "duration_ns" not in rows:
        df["duration_ns"] = (df["end_ns"] - df["start_ns"]).astype("float64")
    attribute(df)
    start = df["start_ns"].to_numpy()
    if n and not (start[1:] >= start[:-1]).all():  # in start order, one column at a time
        order = np.argsort(start, kind="stable")
        by_start = pd.DataFrame(index=pd.RangeIndex(n))
        for col in list(df.columns):
            by_start[col] = take(df[col].array, order)
            del df[col]  # a copy of one column at a time, not of the table
        df = by_start
    df["id"] = np.arange(n, dtype="int64")
    return df[list(COLUMNS)]


def to_raw(trace: TimingTrace) -> RawKernels:
    """A timing table as a parser's output: identity columns and the timed duration, no counters
    (what ``roofprof.load`` of a timing source gives)."""
    import pandas as pd

    from roofprof.inputs.derive import RawKernels
    from roofprof.tables.schema import IDENTITY

    k = trace.kernels
    ident = k[[c for c in IDENTITY if c in k.columns and c != "source"]].copy()
    from roofprof.tables.metrics import DURATION_METRIC

    metrics = pd.DataFrame({DURATION_METRIC: k["duration_ns"].to_numpy("float64")})
    whole = int((k["duration_from"] == "replay").sum()) if "duration_from" in k else 0
    timing = trace.meta.get("timing")
    unended = timing.get("nvtx_unended_library_ranges") if isinstance(timing, dict) else None
    return RawKernels(identity=ident, metrics=metrics,
                      meta={**trace.meta, "timing": True, "graph_replays_whole": whole,
                            "nvtx_unended_library_ranges": unended or {}})


# ---------------------------------------------------------------------------------- Parquet


def write(trace: TimingTrace, path: str | os.PathLike[str]) -> None:
    """Write a timing table as Parquet (atomically), with roofprof's metadata."""
    import datetime as dt

    import pyarrow.parquet as pq

    from roofprof import __version__
    from roofprof.tables.columns import to_arrow
    from roofprof.tables.files import atomic_output
    from roofprof.tables.schema import SCHEMA_VERSION, empty_meta

    meta = {**empty_meta(), **trace.meta, "table": TABLE, "schema_version": SCHEMA_VERSION,
            "roofprof_version": __version__}
    meta["created"] = meta.get("created") or dt.datetime.now(dt.UTC).isoformat(
        timespec="seconds")
    table = to_arrow(trace.kernels)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"roofprof": json.dumps(meta).encode()})
    with atomic_output(path) as fh:
        pq.write_table(table, fh, compression="zstd")


def read(path: str | os.PathLike[str], skip: Sequence[str] = (),
         only: Sequence[str] | None = None) -> TimingTrace:
    """A timing table from Parquet written by :func:`write` (``roofprof trace``); the columns
    in ``skip`` are not read (null: an ``object`` column of None); with ``only``, just those
    columns (the table then has no others: ``roofprof.analysis.join_file.write_joined_file``)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from roofprof.tables.columns import nulls, read_frame, taken

    p = Path(path)
    text_columns = [c for c, dtype in COLUMNS.items() if dtype == TEXT]
    try:
        meta = json.loads((pq.read_schema(p).metadata or {}).get(b"roofprof", b"{}"))
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
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        return bool(json.loads(meta.get(b"roofprof", b"{}")).get("table") == TABLE)
    except Exception:  # not Parquet, or not ours: the caller decides
        return False


def load_timing(path: str | os.PathLike[str], format: str | None = None,
                skip: Sequence[str] = ()) -> TimingTrace:
    """A timing table from any timing source: a ``roofprof trace`` Parquet file, a Kineto
    ``.json``/``.json.gz`` trace, an Nsight Systems ``.sqlite`` export or ``.nsys-rep``; or a
    glob pattern of these: the launches of every match, each keeping its ``source``. ``skip``:
    ``object`` columns a caller does not need (``nvtx_start_ns``, ``nvtx_end_ns``: ``join``),
    not read from Parquet (None in every row); other sources build them anyway."""
    import parsers
    from roofprof.tables.partitions import expand, is_pattern

    if is_pattern(path):
        return _concat([load_timing(f, format, skip) for f in expand(path)])
    p = Path(path)
    if format in (None, "parquet") and p.is_file() and is_timing_parquet(p):
        return read(p, skip)
    fmt = parsers.detect(p, format)
    if fmt.timing is None:
        raise InputError(f"{p}: {fmt.description} holds counters, not a timing of every launch; "
                         "give a timing trace (roofprof trace, a Kineto .json/.json.gz or an "
                         "nsys .sqlite / .nsys-rep)")
    return fmt.timing(p)


def _concat(parts: list[TimingTrace]) -> TimingTrace:
    """Several timing tables as one (ids renumbered; sources listed in order)."""
    if len(parts) == 1:
        return parts[0]
    from roofprof.tables.columns import concat

    kernels = concat([t.kernels for t in parts], ignore_index=True)
    kernels["id"] = range(len(kernels))
    meta = dict(parts[0].meta)
    meta["sources"] = [s for t in parts for s in t.meta.get("sources") or []]
    return TimingTrace(kernels=kernels, meta=meta)


def concat_unique(values: Iterable[str]) -> list[str]:
    return sorted({str(v) for v in values if v is not None and str(v) != "<NA>"})
