"""``latency``: per-range duration percentiles of a timing trace, or per request
(``roofprof latency``).

Each instance of a range (a push/pop or ``record_function`` range on one thread) is timed
(:mod:`roofprof.analysis.latency`); the percentiles are per range name (``by`` path: per full
path). With ``per_request`` each instance of a range matching it is one request, whose time to
first token, time per output token and end to end come from the phase ranges inside it
(:mod:`roofprof.analysis.requests`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from roofprof.analysis import latency as lat
from roofprof.analysis import requests
from roofprof.app import defaults
from roofprof.errors import InputError, UsageError, option, strict_mode
from roofprof.inputs.timing import load_timing
from roofprof.tables import partitions
from roofprof.tables.timing import is_timing_parquet

#: what latency reads, for messages
TIMING_FILES = ("the Parquet file `roofprof trace` wrote, a Kineto .json/.json.gz or an nsys "
                ".sqlite / .nsys-rep")


@dataclass
class Latency:
    """The percentiles (``table``) and what they are of: the range instances (``instances``),
    or with ``per_request`` the requests (``requests``); ``by`` and ``metric`` say what a plot
    of them draws."""

    table: pd.DataFrame
    instances: pd.DataFrame
    requests: pd.DataFrame | None
    by: str
    metric: str
    ranges: tuple[str, ...]


def latency(trace: str | os.PathLike[str], *, ranges: Sequence[str] = (), by: str | None = None,
            metric: str | None = None, top: int | None = None,
            per_request: str | None = None, strict: bool = False) -> Latency:
    """The latency of the ranges of ``trace`` (a timing trace: roofprof trace, Kineto, nsys, or
    a glob of them) whose names match one of ``ranges`` (all if none), the ``top`` with the most
    total time; or per request. ``metric`` (wall, gpu_span, kernel) is what a plot draws.
    ``strict``: refuse a trace with values read as null, launches left out or range instances
    that cannot be timed, instead of warning."""
    if per_request is not None:
        given = [option(name) for name, value in (("ranges", tuple(ranges) or None),
                                                  ("top", top), ("by", by), ("metric", metric))
                 if value is not None]
        if given:  # options of the per-range view: never silently ignored
            raise UsageError(f"{option('per_request')} reads the steps inside each request; "
                             "drop " + ", ".join(given))
    by = by or defaults.LATENCY_BY
    metric = metric or defaults.LATENCY_METRIC
    for path in partitions.expand(trace):
        refuse_folder(path)
    with strict_mode(strict):
        inst = lat.instances(load_timing(trace, strict=strict), label=os.fspath(trace))
    if per_request is not None:
        req = requests.per_request(inst, per_request)
        return Latency(requests.percentiles(req), inst, req, by, metric, ())
    inst = lat.select(inst, ranges)
    table = lat.percentiles(inst, by=by)
    if top:
        table = table.head(top)
    return Latency(table, inst, None, by, metric, tuple(ranges))


def refuse_folder(path: Path) -> None:
    """An :class:`InputError` for a folder given as the trace, saying what latency reads
    instead: a dataset folder's files are kernel tables (no range timings: they cannot be
    timed), or timing tables, which a glob of its files reads."""
    if not path.is_dir():
        return
    if not partitions.is_dataset(path):
        raise InputError(f"{path}: a folder, not a timing trace; latency reads a timing trace "
                         f"file: {TIMING_FILES}")
    files = [part.path for part in partitions.parts(path)]
    if files and all(is_timing_parquet(f) for f in files):
        raise InputError(f"{path}: a dataset folder; latency reads timing trace files, not a "
                         f"folder: give its files as a quoted glob, '{path}/**/*.parquet', or "
                         "the trace the dataset was made from")
    raise InputError(f"{path}: a dataset folder of kernel tables: they hold no range timings, "
                     f"so no latency can be computed from them; latency reads a timing trace "
                     f"file: {TIMING_FILES}")
