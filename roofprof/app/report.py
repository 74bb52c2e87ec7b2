"""``report``: the written report of a trace (``roofprof report``).

The trace's verdict per phase, diagnosis, rooflines, measured ceilings, summaries and the
kernels with the most headroom (:mod:`roofprof.views.report` composes them); a timing trace of
the same run (``timing``, or the trace itself where it is one) adds latency percentiles, and a
model (``model`` with the run's options, as ``summary --model`` takes them) the measured/model
comparison and what batching and narrower numbers would do to a decode step.

The options that choose the kernels mean what they mean for ``summary``: ``filter`` keeps the
kernels whose name, range, phase, category or op matches, ``with_counters`` the launches of a
joined trace that have counters, ``rules`` adds attribution rules. A report of part of a run
says so on its first screen (the report's ``scope``) and in its figures.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from roofprof.analysis import counted
from roofprof.analysis.grouping import filter_kernels
from roofprof.analysis.model import Architecture
from roofprof.analysis.report import decode_options, model_comparison
from roofprof.app import defaults
from roofprof.app.common import model_of
from roofprof.errors import strict_mode
from roofprof.inputs.load import RulesArg, load
from roofprof.inputs.timing import is_timing_source, load_timing
from roofprof.tables.kernels import Trace
from roofprof.tables.sampling import label, sampling
from roofprof.tables.timing import TimingTrace
from roofprof.views.report import Report, build


def report(trace: str | os.PathLike[str], *, timing: str | os.PathLike[str] | None = None,
           model: str | os.PathLike[str] | Architecture | None = None,
           level: str | None = None, filter: str | None = None, with_counters: bool = False,
           rules: RulesArg = None, where: str | None = None, strict: bool = False,
           **run: Any) -> Report:
    """The report of ``trace`` (any input; ``where`` selects a dataset's partitions), titled
    with ``trace`` as given (never the paths a stored trace recorded on its capture machine).
    ``filter``, ``with_counters``, ``rules``: as for :func:`roofprof.app.summary.summary`.
    ``run``: the modelled run's options (batch, prompt, weight_dtype, ...), with ``model``.
    ``strict``: refuse a trace or timing trace with values read as null, rows left out or
    range instances that cannot be timed, instead of warning."""
    level = level or defaults.LEVEL
    modelled = model_of(model, run)  # a run option without a model: said before any reading
    with strict_mode(strict):  # the latency section's instances too
        t = load(trace, rules=rules, where=where, strict=strict)
        timed = load_timing(timing, strict=strict) if timing is not None else \
            timing_of(trace, strict=strict)
        t, scope = chosen(t, filter, with_counters, level)
        comparison = options = None
        if modelled is not None:
            comparison = model_comparison(t.kernels, *modelled)
            if "phase" in t.kernels and (t.kernels["phase"] == "decode").any():
                options = decode_options(t.kernels, *modelled)
        return build(t, timing=timed, comparison=comparison, options=options, level=level,
                     source=os.fspath(trace), scope=scope)


def chosen(trace: Trace, pattern: str | None, with_counters: bool, level: str
           ) -> tuple[Trace, list[str]]:
    """The kernels the report is of: those matching ``pattern`` (:func:`filtered`), then, with
    ``with_counters``, the launches with counters (:func:`roofprof.analysis.counted.
    with_counters`); and what the report's first screen says of them (nothing where both are
    off: the whole trace)."""
    if not pattern and not with_counters:
        return trace, []
    notes: list[str] = []
    if pattern:
        trace = filtered(trace, pattern)
    if with_counters:
        trace, _kept, notes = counted.summarize(trace, by="phase", level=level)
    return trace, [label(trace.meta), *notes]


def filtered(trace: Trace, pattern: str) -> Trace:
    """The kernels of ``trace`` whose name, range, phase, category or op matches ``pattern``
    (a :class:`~roofprof.errors.UsageError` where none does), its sampling facts saying so
    with the share of time and kernels kept: a sampled trace stays a sample (its shares are
    still of the profiled launches), any other becomes a filtered one."""
    k = trace.kernels
    kept = filter_kernels(k, pattern)
    time = k["duration_ns"].to_numpy(dtype=np.float64, na_value=np.nan)
    total = float(np.nansum(time))
    share = float(np.nansum(kept["duration_ns"].to_numpy(dtype=np.float64, na_value=np.nan))
                  ) / total if total > 0 else float("nan")
    reason = (f"only the kernels matching --filter {pattern!r}: {100 * share:.1f}% of the "
              f"time, {len(kept):,} of {len(k):,} kernels")
    facts = sampling(trace.meta)
    kind = facts["kind"] if facts["kind"] in ("sample", "filtered") else "filtered"
    reasons = list(facts.get("reasons") or []) if kind == facts["kind"] else []
    meta: dict[str, Any] = dict(trace.meta)
    meta["sampling"] = {"kind": kind, "reasons": [*reasons, reason],
                        "options": dict(facts.get("options") or {})}
    return Trace(kept.reset_index(drop=True), meta)


def timing_of(path: str | os.PathLike[str], strict: bool = False) -> TimingTrace | None:
    """The timing trace ``path`` holds (a roofprof trace, Kineto or nsys), or None where it
    holds counters only: the latency section of a timing trace comes by itself (a timing
    trace that cannot be read is an error, never a report without it)."""
    return load_timing(path, strict=strict) if is_timing_source(path) else None
