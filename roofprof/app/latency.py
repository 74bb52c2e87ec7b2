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

import pandas as pd

from roofprof.analysis import latency as lat
from roofprof.analysis import requests
from roofprof.app import defaults
from roofprof.errors import UsageError, option, strict_mode
from roofprof.inputs.timing import load_timing


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
