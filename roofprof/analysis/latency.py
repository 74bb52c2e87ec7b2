"""Per-range latency from a timing trace: how long each instance of a range took, and its
percentiles per range name (a ``decode`` step ~ time per output token, a ``prefill`` ~ time to
first token; per request where request ranges exist).

An instance is one push/pop (or ``record_function``) range on one thread: its name, level and
its own start and end (``nvtx_start_ns`` / ``nvtx_end_ns`` of the timing table). For each:

- ``wall_ns``: end - start of the range itself (what the caller waited: launches, host work and
  any synchronisation inside the range);
- ``gpu_span_ns``: from the first start to the last end of the kernels launched inside it;
- ``kernel_ns``: the sum of those kernels' durations (GPU busy time), and ``kernels``.

Ranges open only at a CUDA graph's capture (times -1 in the timing table) did not run at the
replay and have no instances; a replay's kernels count towards the ranges open at its launch.
A range never closed (its end the largest time, ``parsers.stacks.NEVER_CLOSED_NS``: still
open when the trace ended, as NCCL's ``ncclCommInitRankConfig`` was on 2 H200s) has no wall
time: ``wall_ns`` is null, the percentiles are of the closed instances, and ``open`` counts
the others. What cannot be timed is never a number: a launch's range level without a range's
times (null, negative, an end before the start: a damaged file, which its reader
``roofprof.tables.timing.read`` reports) is in no instance, and an instance holding a launch
without a duration has no GPU span and kernel time; a :class:`~roofprof.errors.DataWarning`
counts each.
Only ranges that launched at least one kernel are seen. Percentiles interpolate linearly between
order statistics (numpy's default); with few instances p99 is close to the maximum.

Analysis is pure (tables in, tables out); :mod:`roofprof.views.latency` prints the percentiles
and draws their histogram and CDF.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from parsers.stacks import NEVER_CLOSED_NS
from roofprof.errors import DataWarning, InputError, option
from roofprof.inputs.attribution import UNKNOWN_PHASE, phase_of
from roofprof.tables.checks import kernel_label

if TYPE_CHECKING:
    from roofprof.tables.timing import TimingTrace

PERCENTILES = (50, 90, 99)
METRICS = ("wall_ns", "gpu_span_ns", "kernel_ns")
#: both times of a range open only at a CUDA graph's capture (``parsers.stacks``)
CAPTURE_ONLY = -1
#: launches named in a warning
SHOWN = 5


def instances(trace: TimingTrace, label: str | None = None) -> pd.DataFrame:
    """One row per range instance: ``range`` (its name), ``path`` (with its parents),
    ``depth``, ``source`` (the trace it is in), ``thread_id``, ``start_ns``, ``end_ns``, and the
    metrics of the module docstring. A level whose times are not a range's (null, negative,
    an end before the start, lists of other lengths than the path) is in no instance, and an
    instance holding a launch without a duration has no GPU span and kernel time: each
    counted in a :class:`~roofprof.errors.DataWarning` naming the input (``label``, else the
    trace's sources)."""
    k = trace.kernels
    sources = label or ", ".join(str(s) for s in trace.meta.get("sources") or ["the trace"])
    if "nvtx_start_ns" not in k or "nvtx_end_ns" not in k:
        raise InputError(f"{sources}: no range times (a counters or joined trace); give the "
                         "timing trace (roofprof trace, Kineto .json/.json.gz or nsys .sqlite)")
    thread = k["thread_id"].astype("Int64").fillna(-1).to_numpy() if "thread_id" in k \
        else np.full(len(k), -1)
    rows, untimed = _levels(k, thread)
    if untimed:
        _warn(sources, "range level(s) of launches have no valid times", k, untimed,
              "latency counts those launches in no instance of those ranges")
    cols = ["row", "depth", "range", "path", "thread_id", "start_ns", "end_ns"]
    ex = pd.DataFrame(rows, columns=cols)
    if ex.empty:
        return pd.DataFrame(columns=[*cols[1:], "source", *METRICS, "kernels"])
    ex["k_start"] = k["start_ns"].to_numpy()[ex["row"]]
    ex["k_end"] = k["end_ns"].to_numpy()[ex["row"]]
    ex["k_dur"] = k["duration_ns"].to_numpy("float64", na_value=np.nan)[ex["row"]]
    ex["k_none"] = np.isnan(ex["k_dur"].to_numpy()).astype(np.int64)
    # several traces (a glob) may share thread ids and clocks: an instance is per source
    ex["source"] = (k["source"].astype("string").fillna("").to_numpy(dtype=object)
                    if "source" in k else np.full(len(k), "", dtype=object))[ex["row"]]
    g = ex.groupby(["source", "thread_id", "depth", "range", "path", "start_ns", "end_ns"],
                   sort=False)
    out = g.agg(first=("k_start", "min"), last=("k_end", "max"), kernel_ns=("k_dur", "sum"),
                kernels=("row", "size"), none=("k_none", "sum")).reset_index()

    wall = (out["end_ns"] - out["start_ns"]).astype("float64")
    out["wall_ns"] = wall.where(out["end_ns"] < NEVER_CLOSED_NS)
    known = out["none"] == 0  # a launch without a duration: its times are in doubt
    out["gpu_span_ns"] = (out["last"] - out["first"]).astype("float64").where(known)
    out["kernel_ns"] = out["kernel_ns"].astype("float64").where(known)
    if not known.all():
        doubtful = ex.loc[ex["k_none"] == 1, "row"].drop_duplicates().tolist()
        _warn(sources, "launch(es) without a duration", k, [(r, None) for r in doubtful],
              f"the {int((~known).sum())} range instance(s) holding them have no GPU span and "
              "kernel time")
    out = out.sort_values(["start_ns", "depth"], kind="stable").reset_index(drop=True)
    return out[["range", "path", "depth", "source", "thread_id", "start_ns", "end_ns",
                *METRICS, "kernels"]]


def _levels(k: pd.DataFrame, thread: np.ndarray
            ) -> tuple[list[tuple[Any, ...]], list[tuple[int, str | None]]]:
    """Each launch's range levels with a range's times (row, depth, name, path, thread, start,
    end), and those without: (row, name). Capture-only levels (-1, -1) are neither."""
    rows: list[tuple[Any, ...]] = []
    untimed: list[tuple[int, str | None]] = []
    for i, cells in enumerate(zip(k["nvtx"], k["nvtx_start_ns"], k["nvtx_end_ns"],
                                  strict=True)):
        names, starts, ends = ([] if c is None else c for c in cells)
        if not len(names) == len(starts) == len(ends):
            untimed += [(i, str(n)) for n in names]
            continue
        for d, (name, s, e) in enumerate(zip(names, starts, ends, strict=True)):
            if s == CAPTURE_ONLY and e == CAPTURE_ONLY:
                continue  # open only at a graph's capture: not at this replay
            if s is None or e is None or not 0 <= s <= e:
                untimed.append((i, str(name)))
                continue
            rows.append((i, d, name, "/".join(names[:d + 1]), int(thread[i]), s, e))
    return rows, untimed


def _warn(sources: str, what: str, k: pd.DataFrame, found: list[tuple[int, str | None]],
          done: str) -> None:
    """One :class:`DataWarning` counting ``found`` (row, range name or None) and naming the
    first few launches (and their ranges)."""
    by_row: dict[int, list[str]] = {}
    for r, name in found:
        by_row.setdefault(r, []).extend([name] if name is not None else [])
    shown = "; ".join(kernel_label(k["id"].iloc[r] if "id" in k else r,
                                   k["kernel"].iloc[r] if "kernel" in k else None)
                      + (f": {', '.join(names)}" if names else "")
                      for r, names in list(by_row.items())[:SHOWN])
    more = f"; and {len(by_row) - SHOWN} more launch(es)" if len(by_row) > SHOWN else ""
    warnings.warn(f"{sources}: {len(found)} {what} ({shown}{more}): {done}", DataWarning,
                  stacklevel=3)


def select(inst: pd.DataFrame, ranges: Sequence[str] = ()) -> pd.DataFrame:
    """Instances whose name matches one of the regular expressions ``ranges`` (all if none)."""
    if not ranges:
        return inst
    try:
        patterns = [re.compile(r) for r in ranges]
    except re.error as exc:
        raise InputError(f"invalid {option('ranges')} regular expression: {exc}") from None
    keep = inst["range"].map(lambda n: any(p.search(str(n)) for p in patterns))
    return inst[keep.astype(bool)]


def percentiles(inst: pd.DataFrame, by: str = "range") -> pd.DataFrame:
    """Per range name (``by="range"``) or path: instances, those never closed (``open``),
    p50/p90/p99/max of each metric (ns) over the instances that have it (null where none
    does), mean kernels per instance; the most total wall time first."""
    records = []
    for key, part in inst.groupby(by, sort=False):
        rec: dict[str, Any] = {by: key, "instances": len(part),
                               "open": int(part["wall_ns"].isna().sum()),
                               "kernels": float(part["kernels"].mean())}
        for m in METRICS:
            v = part[m].to_numpy("float64")
            v = v[~np.isnan(v)]
            for p in PERCENTILES:
                rec[f"{m[:-3]}_p{p}_ns"] = float(np.percentile(v, p)) if len(v) else np.nan
            rec[f"{m[:-3]}_max_ns"] = float(v.max()) if len(v) else np.nan
            rec[f"{m[:-3]}_total_ns"] = float(v.sum()) if len(v) else np.nan
        records.append(rec)
    table = pd.DataFrame(records)
    if table.empty:
        return table
    return table.sort_values("wall_total_ns", ascending=False, kind="stable",
                             na_position="last").reset_index(drop=True)


def default_ranges(inst: pd.DataFrame, top: int = 6) -> list[str]:
    """The ranges to draw when none are named: the phase ranges (prefill, decode, ...) if any,
    else the names with the most total wall time."""
    names = list(dict.fromkeys(inst["range"]))
    phases = [n for n in names if phase_of([n]) != UNKNOWN_PHASE]
    if phases:
        return phases[:top]
    totals = inst.groupby("range")["wall_ns"].sum().sort_values(ascending=False)
    return [str(n) for n in totals.index[:top]]

