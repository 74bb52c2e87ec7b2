"""Timing sources into the timing table (:mod:`roofprof.tables.timing`).

A timing format's parser returns plain columns (:class:`parsers.raw.RawTiming`); :func:`build`
makes the table of them: text columns dictionary-typed, each launch's annotation path shared by
the launches that have it, rows in start order, and ``phase``, ``category`` and ``op`` by the
attribution rules. :func:`load_timing` reads any timing source (a ``roofprof trace`` Parquet
file, a Kineto trace, an Nsight Systems export, or a glob of them); :func:`to_raw` gives a
timing table as the kernel table's input (durations, no counters).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import pandas_dtype

import parsers
from parsers.raw import RawKernels, RawTiming
from parsers.stacks import Stack, collector_paused
from roofprof.errors import InputError, RoofprofError, strict_mode
from roofprof.inputs.attribution import attribute
from roofprof.tables.columns import nulls, take, taken, text
from roofprof.tables.kernels import is_parquet
from roofprof.tables.metrics import DURATION_METRIC
from roofprof.tables.partitions import expand, is_pattern
from roofprof.tables.schema import IDENTITY, TEXT
from roofprof.tables.timing import (
    COLUMNS,
    TimingTrace,
    concat,
    header,
    is_timing_parquet,
    read,
)


def build(raw: RawTiming) -> TimingTrace:
    """The timing table of what a timing source read; its metadata's ``timing`` entry says
    how many launches it holds and where their annotation paths came from."""
    table = _table(raw.rows, raw.stacks, raw.nvtx_sources, raw.source)
    meta = dict(raw.meta)
    timing = dict(meta.get("timing") or {})
    timing["launches"] = len(table)
    timing["nvtx_source"] = {str(a): int(b) for a, b in
                             table["nvtx_source"].value_counts().items() if b}
    meta["timing"] = timing
    return TimingTrace(kernels=table, meta=meta)


def load_timing(path: str | os.PathLike[str], format: str | None = None,
                skip: Sequence[str] = (), strict: bool = False) -> TimingTrace:
    """A timing table from any timing source: a ``roofprof trace`` Parquet file, a Kineto
    ``.json``/``.json.gz`` trace, an Nsight Systems ``.sqlite`` export or ``.nsys-rep``; or a
    glob pattern of these: the launches of every match, each keeping its ``source``. ``skip``:
    ``object`` columns a caller does not need (``nvtx_start_ns``, ``nvtx_end_ns``: ``join``),
    not read from Parquet (None in every row); other sources build them anyway. ``strict``:
    refuse an input with values read as null or launches left out, instead of warning."""
    with strict_mode(strict):
        return _load(path, format, skip)


def _load(path: str | os.PathLike[str], format: str | None, skip: Sequence[str]
          ) -> TimingTrace:
    if is_pattern(path):
        return concat([_load(f, format, skip) for f in expand(path)])
    p = Path(path)
    if format in (None, "parquet") and is_parquet(p):  # a damaged or counters one: read says
        return read(p, skip)
    return build(_timing_reader(p, format)(p))


def _timing_reader(p: Path, format: str | None) -> Callable[[Path], RawTiming]:
    """The parser of the timing source ``p``; an error where it holds counters."""
    fmt = parsers.detect(p, format)
    if fmt.timing is None:
        raise InputError(f"{p}: {fmt.description} holds counters, not a timing of every launch; "
                         "give a timing trace (roofprof trace, a Kineto .json/.json.gz or an "
                         "nsys .sqlite / .nsys-rep)")
    return fmt.timing


def require_timing(path: str | os.PathLike[str]) -> None:
    """The error :func:`load_timing` would give where ``path`` is no timing source (a counters
    report, a missing file, ...), found without reading it; nothing where it is one."""
    for p in expand(path):
        if is_parquet(p):  # a kernel table (converted, joined) or damaged: read says which
            if not is_timing_parquet(p):
                header(p)
        else:
            _timing_reader(p, None)


def is_timing_source(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a timing source :func:`load_timing` reads (a glob pattern: each of
    its matches is), by its content; never raises: anything else is not."""
    try:
        files = expand(path)
    except RoofprofError:
        return False
    return bool(files) and all(_is_timing_file(f) for f in files)


def _is_timing_file(p: Path) -> bool:
    if is_timing_parquet(p):
        return True
    try:
        return p.is_file() and parsers.detect(p).timing is not None
    except RoofprofError:  # not a format roofprof reads: not a timing source
        return False


def to_raw(trace: TimingTrace) -> RawKernels:
    """A timing table as a parser's output: identity columns and the timed duration, no counters
    (what ``roofprof.load`` of a timing source gives)."""
    k = trace.kernels
    ident = k[[c for c in IDENTITY if c in k.columns and c != "source"]].copy()
    metrics = pd.DataFrame({DURATION_METRIC: k["duration_ns"].to_numpy("float64")})
    whole = int((k["duration_from"] == "replay").sum()) if "duration_from" in k else 0
    timing = trace.meta.get("timing")
    unended = timing.get("nvtx_unended_library_ranges") if isinstance(timing, dict) else None
    return RawKernels(identity=ident, metrics=metrics,
                      meta={**trace.meta, "timing": True, "graph_replays_whole": whole,
                            "nvtx_unended_library_ranges": unended or {},
                            "nvtx_unended_ranges": (timing.get("nvtx_unended_ranges") or {})
                            if isinstance(timing, dict) else {}})


@collector_paused
def _table(rows: dict[str, Any], stacks: Sequence[Stack], sources: Sequence[str],
           source: str) -> pd.DataFrame:
    """The timing table from column arrays (any subset of :data:`COLUMNS`) and per-launch
    annotation stacks and their ``nvtx_source``; rows sorted by start time, ``id`` in order."""
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
