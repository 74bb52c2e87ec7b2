"""Only the launches with counters: the roofline of what was measured, and how much of the run
that is.

A joined trace (``roofprof join``, ``record --sample``) keeps every timed launch; those no
profiled launch stood for (another template instance, a kernel outside ncu's filters, the NCCL
collectives ``record`` leaves out) have null counters. By default a group holding some shows
the numbers of its measured launches, marked partial with its coverage, or is ``unknown``
where they hold under ``roofline.MIN_COVERAGE`` of its time (the module doc of
:mod:`roofprof.analysis.roofline`); its time and share stay the whole group's. On a
tensor-parallel run the all-reduces a rank waits in can be most of each phase's time.
:func:`with_counters` keeps only the launches that have counters and records what it left out
in the trace's sampling facts, so every view says, as for a ``--range`` recording, that the
table is filtered and how much of the run it holds (time and shares too are then of the kept
launches); :func:`time_shares` gives each group's share of its own time that was kept. The
numbers are of the kept launches only: never scaled up to the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from roofprof.analysis import roofline
from roofprof.errors import UsageError, option
from roofprof.tables.kernels import Trace
from roofprof.tables.sampling import sampling

if TYPE_CHECKING:
    import pandas as pd

#: the option that asks for it, as messages name it
OPTION = "--with-counters"


def with_counters(trace: Trace) -> Trace:
    """The launches of a joined ``trace`` whose counters were joined (``counters_from`` other
    than ``none``), its sampling facts marked filtered with the share of time and launches
    kept. A trace without ``counters_from`` (an ncu recording: every row was profiled) is
    refused: the option would change nothing."""
    k = trace.kernels
    if "counters_from" not in k.columns:
        raise UsageError(f"{option('with_counters')} keeps the launches of a joined trace "
                         "(roofprof join, record --sample) that have counters; this trace was "
                         "profiled launch by launch, so every kernel in it has them: leave it "
                         "out")
    keep = (k["counters_from"].astype(object) != "none").to_numpy(dtype=bool)
    time = k["duration_ns"].to_numpy(dtype=np.float64)
    total = float(np.nansum(time))
    kept = float(np.nansum(time[keep]))
    share = kept / total if total > 0 else float("nan")
    facts = dict(sampling(trace.meta))
    reason = (f"only the launches with counters ({OPTION}): {100 * share:.1f}% of the time, "
              f"{int(keep.sum()):,} of {len(k):,} launches")
    options = dict(facts.get("options") or {})
    reasons = [r for r in facts.get("reasons", []) if facts.get("kind") == "filtered"]
    meta: dict[str, Any] = dict(trace.meta)
    meta["sampling"] = {"kind": "filtered", "reasons": [*reasons, reason], "options": options}
    meta["with_counters"] = {"time_share": share, "launches": int(keep.sum()),
                             "of_launches": len(k)}
    return Trace(k.loc[keep].reset_index(drop=True), meta)


def time_shares(full: pd.DataFrame, kept: pd.DataFrame) -> list[float]:
    """For each group of ``kept`` (a summary of :func:`with_counters`'s trace), its time over
    the same group's time in ``full`` (the summary of the whole trace, grouped alike)."""
    whole = dict(zip(full["group"], full["time_ns"], strict=True))
    return [float(t) / whole[g] if whole.get(g) else float("nan")
            for g, t in zip(kept["group"], kept["time_ns"], strict=True)]


def notes(kept: pd.DataFrame, shares: list[float], most: int = 8) -> list[str]:
    """One table note: each group's share of its time that has counters (the ``most`` with
    the most time; the JSON and CSV carry every group's as ``time_with_counters``)."""
    parts = [f"{g} {100 * s:.1f}%" for g, s in list(zip(kept["group"], shares,
                                                        strict=True))[:most]]
    more = len(shares) - most
    return ["time with counters, of each group's: " + ", ".join(parts)
            + (f" (and {more} more groups)" if more > 0 else "")]


def summarize(trace: Trace, by: str = "range", level: str = "dram", depth: int | None = None,
              top: int | None = None, filter: str | None = None
              ) -> tuple[Trace, pd.DataFrame, list[str]]:
    """``roofline.summarize`` of :func:`with_counters`'s trace, with each group's
    ``time_with_counters`` (its share of the same group's time in the whole trace) and the
    table note; returns the kept trace too (its meta says it is filtered)."""
    full = roofline.summarize(trace, by=by, level=level, depth=depth, filter=filter)
    kept = with_counters(trace)
    result = roofline.summarize(kept, by=by, level=level, depth=depth, top=top, filter=filter)
    shares = time_shares(full, result)
    return kept, result.assign(time_with_counters=shares), notes(result, shares)

