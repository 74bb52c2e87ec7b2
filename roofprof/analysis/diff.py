"""Diff of two measured runs: per group and per kernel, what changed from A to B.

:func:`diff` summarises each run with the one group math
(:func:`roofprof.analysis.roofline.summarize`) and matches groups by name (``by``: phase, op, range,
category, kernel, any column), plus a ``(total)`` row over every kernel. Per group: time, work,
bytes, intensity and % of roof in A and B, and the relative change of each (``*_delta`` = B / A -
1). A group only one run has is kept with the other side null (``status`` says which).

Noise: each side may be several repeat runs of the same workload. A group's time is then the
median over the runs, and ``spread`` the larger of the two sides' (max - min) / median; a time
change is ``significant`` when it exceeds ``max(spread, noise)`` (``noise``: a floor, default
0). With one run per side the spread is 0 and the floor decides.

:func:`match_kernels` pairs kernels of A and B by (group, kernel name, occurrence: the n-th
launch of that kernel in that group) and gives each pair's time change: where a slowdown is.

:func:`slower_than` is the CI gate: the groups (``(total)`` included) whose time grew by at
least ``pct`` percent, significantly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from roofprof.analysis.grouping import NO_VALUE, group_kernels
from roofprof.analysis.roofline import summarize
from roofprof.errors import UsageError

TOTAL = "(total)"
_TAKEN = ("kernels", "time_ns", "work", "flop", "ops_int8", "ai", "work_per_s", "pct_of_roof",
          "bound", "bytes")
COLUMNS: tuple[str, ...] = (
    "group", "status", "kernels_a", "kernels_b", "time_ns_a", "time_ns_b", "time_delta",
    "spread", "significant", "work_a", "work_b", "work_delta", "bytes_a", "bytes_b",
    "bytes_delta", "ai_a", "ai_b", "work_per_s_a", "work_per_s_b", "pct_of_roof_a",
    "pct_of_roof_b", "bound_a", "bound_b",
)


def _side(runs: Sequence[pd.DataFrame], by: str, level: str) -> pd.DataFrame:
    """One side's groups: the first run's numbers, the median time over the runs and the
    relative spread of the time."""
    if not runs:
        raise UsageError("a diff needs at least one run on each side")
    frames = []
    for kernels in runs:
        if by not in kernels:
            raise UsageError(f"cannot group by {by!r}: a trace has no such column")
        # every member or unknown (min_coverage 1): the work and bytes of part of a group,
        # another part on each side, would not compare
        groups = summarize(kernels, by=by, level=level, min_coverage=1.0)
        total = summarize(kernels.assign(_all=TOTAL), by="_all", level=level, min_coverage=1.0)
        s = pd.concat([groups, total], ignore_index=True)
        frames.append(s.set_index("group"))
    first = frames[0][list(_TAKEN)].copy()
    times = pd.concat([f["time_ns"] for f in frames], axis=1)
    first["time_ns"] = times.median(axis=1)
    first["spread"] = ((times.max(axis=1) - times.min(axis=1)) / first["time_ns"]).fillna(0.0)
    return first


def diff(a: Sequence[pd.DataFrame], b: Sequence[pd.DataFrame], by: str = "phase",
         level: str = "dram", noise: float = 0.0) -> pd.DataFrame:
    """Groups of runs ``a`` (the baseline) and ``b`` side by side; ``(total)`` last."""
    left, right = _side(a, by, level), _side(b, by, level)
    m = left.merge(right, how="outer", left_index=True, right_index=True, suffixes=("_a", "_b"))
    m["status"] = np.where(m["time_ns_a"].isna(), "only in B",
                           np.where(m["time_ns_b"].isna(), "only in A", "both"))
    for name in ("time_ns", "work", "bytes"):
        a_, b_ = m[f"{name}_a"].astype(float), m[f"{name}_b"].astype(float)
        m[f"{name.removesuffix('_ns')}_delta"] = b_ / a_.where(a_ > 0) - 1
    m["spread"] = np.fmax(m["spread_a"].fillna(0), m["spread_b"].fillna(0))
    m["significant"] = m["time_delta"].abs() > np.fmax(m["spread"], noise)
    m = m.reset_index().rename(columns={"index": "group"})
    order = m["group"].eq(TOTAL).astype(int) * 2 ** 62 - m["time_ns_a"].fillna(0)
    return m.assign(_o=order).sort_values("_o", kind="stable")[list(COLUMNS)].reset_index(
        drop=True)


def match_kernels(a: pd.DataFrame, b: pd.DataFrame, by: str = "phase") -> pd.DataFrame:
    """Kernels of one run of A and one of B paired by (group, kernel, occurrence), largest
    absolute time change first; unpaired launches have the other side null."""
    def keyed(t: pd.DataFrame) -> pd.DataFrame:
        g = group_kernels(t, by)  # the groups of the diff's own table, named alike
        k = pd.DataFrame({"group": np.asarray(g.names, dtype=object)[g.codes],
                          "kernel": t["kernel"].astype("string").fillna(NO_VALUE).to_numpy(),
                          "duration_ns": t["duration_ns"].to_numpy(dtype=np.float64)})
        k["occurrence"] = k.groupby(["group", "kernel"], sort=False).cumcount()
        return k.set_index(["group", "kernel", "occurrence"])

    m = keyed(a).merge(keyed(b), how="outer", left_index=True, right_index=True,
                       suffixes=("_a", "_b"))
    m["delta_ns"] = m["duration_ns_b"] - m["duration_ns_a"]
    m["delta"] = m["duration_ns_b"] / m["duration_ns_a"] - 1
    m = m.reset_index()
    return m.reindex(m["delta_ns"].abs().sort_values(ascending=False,
                                                     na_position="last").index).reset_index(
        drop=True)


def slower_than(df: pd.DataFrame, pct: float) -> pd.DataFrame:
    """Rows of :func:`diff` whose time grew by ``pct`` percent or more, significantly."""
    return df[(df["time_delta"] >= pct / 100) & df["significant"]]

