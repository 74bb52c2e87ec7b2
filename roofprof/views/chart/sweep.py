"""Several traces (a batch or candidate-count sweep) on one roofline, as a :class:`Scene`.

Each group (``by``: phase by default) is one coloured series; each trace adds one aggregate point
per group, computed by :func:`roofprof.analysis.roofline.group_numbers` over that group's kernels in
that trace (the summary's numbers for the same kernels), labelled with the trace's name and joined
to the next trace's point by an arrow, in the order given. Kernels are drawn faintly behind; roofs
and slopes are measured over the kernels of every trace.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from roofprof.analysis import roofline as rl
from roofprof.analysis.grouping import filter_kernels, group_kernels
from roofprof.analysis.labels import elide, unique_labels
from roofprof.errors import UsageError
from roofprof.tables.partitions import label_of
from roofprof.views.chart.colours import OTHER, assign
from roofprof.views.chart.scene import Aggregate, Scene, build, limits
from roofprof.views.tables import partial, records

SWEEP_COLUMN = "_sweep"


def build_sweep(traces: Sequence[Any], *, labels: Sequence[str] | None = None,
                by: str = "phase", levels: Sequence[str] = ("dram",),
                filter: str | None = None, title: str | None = None,
                depth: int | None = None) -> Scene:
    if len(traces) < 2:
        raise UsageError("a sweep needs at least two traces")
    names = list(labels) if labels is not None else [
        label_of(t) if isinstance(t, (str, os.PathLike))
        else label_of((getattr(t, "meta", {}).get("sources") or ["trace"])[0]) for t in traces]
    if len(names) != len(traces):
        raise UsageError(f"{len(names)} labels for {len(traces)} traces")
    if len(set(names)) != len(names):
        names = [f"{i + 1}:{n}" for i, n in enumerate(names)]
    tables = []
    for name, obj in zip(names, traces, strict=True):
        t = rl.table_of(obj).copy()
        t[SWEEP_COLUMN] = name
        tables.append(t)
    combined = pd.concat(tables, ignore_index=True)
    base = build(combined, by=by, levels=levels, filter=filter, depth=depth, label_top=0,
                    max_points=10**12)
    t = filter_kernels(combined, filter)
    lv = base.levels
    series = group_kernels(t, by, depth)
    per = group_kernels(t, f"{by},{SWEEP_COLUMN}", depth)
    numbers = {lvl: rl.kernel_numbers(t, lvl) for lvl in lv}
    groups = rl.group_numbers(numbers[lv[0]], series, lv[0])
    colours, shown = assign(series.by, series.parts, groups["time_ns"].fillna(0).tolist())
    points = {lvl: rl.group_numbers(numbers[lvl], per, lvl) for lvl in lv}
    rows = records(points[lv[0]])
    index = {p: g for g, p in enumerate(per.parts)}
    aggs: list[Aggregate] = []
    arrows: list[tuple[int, int]] = []
    for g in shown:
        prev = None
        for trace in names:
            p = index.get((*series.parts[g], trace))
            if p is None:
                continue
            y = float(points[lv[0]]["work_per_s"].to_numpy(dtype=np.float64)[p])
            xs = {lvl: float(points[lvl]["ai"].to_numpy(dtype=np.float64)[p]) for lvl in lv}
            xs = {lvl: x for lvl, x in xs.items() if np.isfinite(x) and x > 0}
            if not xs or not np.isfinite(y) or y <= 0:
                continue
            aggs.append(Aggregate(g, series.names[g], colours[g], xs, y, rows[p],
                                     series=trace, partial=partial(rows[p])))
            if prev is not None:
                arrows.append((prev, len(aggs) - 1))
            prev = len(aggs) - 1
    k = base.kernels
    k["colour"] = np.asarray(colours, dtype=object)[
        _remap(k["group_name"].to_numpy(dtype=object), series.names)]
    total = float(np.nansum(numbers[lv[0]]["duration_ns"]))
    legend_names = unique_labels([series.names[g] for g in shown], 32)
    time = groups["time_ns"].to_numpy(dtype=np.float64)
    legend = [(f"{n}  {100 * time[g] / total:.1f}%", colours[g])
              for g, n in zip(shown, legend_names, strict=True)]
    if len(series) > len(shown):
        legend.append((f"{len(series) - len(shown)} other groups (kernels only)", OTHER))
    if title is None:
        gpus = sorted({str(x) for x in t["device_name"].dropna().unique()}) \
            if "device_name" in t.columns else []
        title = f"{', '.join(gpus) or 'unknown GPU'} · sweep of {len(names)} traces"
    base.title = title
    base.aggregates, base.arrows, base.legend = aggs, arrows, legend
    base.group_names, base.group_colours = list(series.names), colours
    base.legend_title = f"{series.label} · % of GPU time (all traces)"
    base.notes = [f"sweep order: {'  →  '.join(names)}",
                  "◆ group aggregate of one trace", "kernels faint; area ∝ GPU time",
                  base.notes[0]] + ([SWEEP_PARTIAL] if any(a.partial for a in aggs) else []) \
        + coincident_note(aggs, arrows, lv[0])
    base.xlim, base.ylim = limits(base)
    return base


#: the legend's note on a partial point of a sweep (drawn hollow, as in any plot)
SWEEP_PARTIAL = ("◇ partial point: the group's measured kernels in that trace only (its "
                 "coverage: the HTML hover)")


#: two points of a group within this factor of each other on both log axes draw as one (a
#: group marker is about a seventh of a decade wide): the move is not visible
COINCIDE = 1.15


def coincident_note(aggs: Sequence[Aggregate], arrows: Sequence[tuple[int, int]],
                    level: str) -> list[str]:
    """A note naming the moves of a group that a reader cannot see (its points in two
    consecutive traces under :data:`COINCIDE` apart in intensity and in achieved rate): an
    arrow of no length reads as a missing point, not as "nothing changed"."""
    def close(a: float, b: float) -> bool:
        return a > 0 and b > 0 and max(a, b) <= COINCIDE * min(a, b)

    same = [f"{elide(aggs[i].name, 32)} {aggs[i].series} → {aggs[j].series}" for i, j in arrows
            if level in aggs[i].x and level in aggs[j].x
            and close(aggs[i].x[level], aggs[j].x[level]) and close(aggs[i].y, aggs[j].y)]
    if not same:
        return []
    more = [f"  and {len(same) - 4} more"] if len(same) > 4 else []
    # a line each: the legend's width is the figure's
    return [f"points coincide (under {100 * (COINCIDE - 1):.0f}% apart, no visible move):",
            *(f"  {m}" for m in same[:4]), *more]


def _remap(group_names: Any, names: list[str]) -> Any:
    index = {n: i for i, n in enumerate(names)}
    return np.asarray([index[str(n)] for n in group_names], dtype=np.intp)
