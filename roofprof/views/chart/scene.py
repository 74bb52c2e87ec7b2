"""What a roofline plot shows, as data: points, roofs, aggregates, labels, legend, notes.

:func:`build` and :func:`.sweep.build_sweep` turn a trace into a :class:`Scene` using only the
analysis (:mod:`roofprof.analysis.roofline`, :mod:`roofprof.analysis.grouping`): every number drawn
is a number the summary prints for the same kernels and groups. Renderers (:mod:`.static`,
:mod:`.html`) only draw a scene; tests assert on scenes, not on pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from roofprof.analysis import roofline as rl
from roofprof.analysis.grouping import Grouping, filter_kernels, group_kernels
from roofprof.analysis.labels import short_kernel, unique_labels
from roofprof.errors import InputError, UsageError
from roofprof.views.chart.captions import (
    not_drawn_rows,
    notes_of,
    sampled_note,
    subtitle_lines,
    title_of,
)
from roofprof.views.chart.colours import OTHER, assign
from roofprof.views.chart.overlay import NOTE, ModelPoint, model_points
from roofprof.views.fmt import si
from roofprof.views.tables import measured, partial, records

#: above this many points (kernels x levels) the kernels are drawn as a time-weighted density
MAX_POINTS = 20_000
#: precisions whose roofs lie within this ratio share one line
MERGE_ROOFS = 0.06
MARKERS = {
    "tensor_bf16": "o", "tensor_fp16": "D", "tensor_tf32": "P", "tensor_fp8": "p",
    "tensor_fp64": "X", "tensor_int8": "h", "fp32": "s", "fp16": "d", "fp64": "^",
}
BW_COLOURS = {"dram": "#1f3b73", "l2": "#2a7f62", "l1": "#8a5a00"}


@dataclass
class Roof:
    """A compute ceiling: sum W / sum (W / P) over the drawn kernels of its precisions."""

    precisions: list[str]
    peak: float
    unit: str
    label: str


@dataclass
class Slope:
    """A bandwidth ceiling of one memory level: sum B / sum (B / BW) over the drawn kernels."""

    level: str
    bandwidth: float
    label: str
    colour: str


@dataclass
class Aggregate:
    """A group's aggregate point: x (intensity) per level, y (achieved), the summary's row."""

    group: int
    name: str
    colour: str
    x: dict[str, float]
    y: float
    numbers: dict[str, Any]
    #: in a sweep: which trace this point belongs to
    series: str | None = None
    #: the numbers are of the group's measured kernels only (its coverage is below 1)
    partial: bool = False


@dataclass
class Scene:
    title: str
    subtitle: list[str]
    levels: tuple[str, ...]
    unit: str
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    #: drawn kernels: x_<level>, y, time_ns, size (pt^2), colour, marker, group, hover fields
    kernels: pd.DataFrame
    density: bool
    roofs: list[Roof]
    slopes: list[Slope]
    aggregates: list[Aggregate]
    #: (row in ``kernels``, text) for the heaviest kernel names
    labels: list[tuple[int, str]]
    legend_title: str
    #: (label, colour) in legend order
    legend: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)
    #: a sweep's arrows between consecutive aggregates: (from, to) indices into aggregates
    arrows: list[tuple[int, int]] = field(default_factory=list)
    #: kernels that are not on the plot, one row per (kernel, range), with why
    not_drawn: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    #: every group's name and colour (grey: "other"), in the summary's group order
    group_names: list[str] = field(default_factory=list)
    group_colours: list[str] = field(default_factory=list)
    #: ``plot --model``: the analytic model's point of each measured group it describes
    models: list[ModelPoint] = field(default_factory=list)


def build(obj: Any, *, by: str = "range", levels: Sequence[str] = ("dram",),
          filter: str | None = None, title: str | None = None, depth: int | None = None,
          label_top: int = 5, max_points: int = MAX_POINTS, model: pd.DataFrame | None = None,
          model_label: str = "") -> Scene:
    """The scene of one trace (a Trace or a kernel table); with ``model`` (the table of
    :func:`roofprof.analysis.model.estimate`, timed at roofs) its point beside each op · phase group
    (:mod:`.overlay`; ``model_label`` names the modelled run in the legend)."""
    t, lv = _prepared(obj, levels, filter)
    grouping = group_kernels(t, by, depth)
    # every number at the first level; further levels only place points (memory stays low)
    numbers = {lv[0]: rl.kernel_numbers(t, lv[0])}
    for lvl in lv[1:]:
        numbers[lvl] = rl.level_numbers(t, numbers[lv[0]]["work"], lvl)
    groups = rl.group_numbers(numbers[lv[0]], grouping, lv[0])
    colours, shown = assign(grouping.by, grouping.parts, groups["time_ns"].fillna(0).tolist())
    placed = placed_kernels(numbers[lv[0]])
    if not placed.any():
        raise InputError(_nothing_drawable(numbers[lv[0]], lv[0]))
    total = float(np.nansum(numbers[lv[0]]["duration_ns"]))
    kernels = kernel_frame(t, numbers, lv, placed, grouping, colours, total)
    density = len(kernels) * len(lv) > max_points
    roofs = roofs_of(rl.effective_peaks(t[placed]))
    slopes = _slopes(numbers, lv, placed)
    aggs = _aggregates(t, numbers, lv, grouping, groups, colours, shown)
    models = [] if model is None else model_points(t, model, grouping, groups, numbers, colours)
    notes = notes_of(bool(aggs), any(a.partial for a in aggs)) + (
        [f"{NOTE}: {model_label}" if model_label else NOTE] if model is not None else [])
    scene = Scene(
        title=title or title_of(obj, t),
        subtitle=_subtitle(t, lv, total, filter, numbers, placed) + sampled_note(obj),
        levels=lv, unit=unit_of(roofs), xlim=(0, 0), ylim=(0, 0), kernels=kernels,
        density=density, roofs=roofs, slopes=slopes, aggregates=aggs,
        labels=[] if density else _heaviest(kernels, label_top, total),
        legend_title=f"{grouping.label} · % of GPU time",
        legend=legend(grouping, groups, colours, shown, total), notes=notes,
        not_drawn=_not_drawn(t, numbers[lv[0]], placed), summary=groups,
        group_names=list(grouping.names), group_colours=colours, models=models)
    scene.xlim, scene.ylim = limits(scene)
    return scene


def _prepared(obj: Any, levels: Sequence[str], filter: str | None,
              ) -> tuple[pd.DataFrame, tuple[str, ...]]:
    t = rl.table_of(obj)
    rl.check(t)
    lv = tuple(levels)
    if not lv:
        raise UsageError("give at least one memory level (dram, l2, l1)")
    for lvl in lv:
        rl.level_of(lvl)
    return filter_kernels(t, filter), lv


def placed_kernels(k: pd.DataFrame) -> Any:
    """Which kernels are on the plot: a finite positive intensity and achieved rate, and a
    known verdict."""
    ai = k["ai"].to_numpy(dtype=np.float64)
    y = k["work_per_s"].to_numpy(dtype=np.float64)
    return np.isfinite(ai) & (ai > 0) & np.isfinite(y) & (y > 0) & (k["bound"] != "unknown"
                                                                     ).to_numpy()


def _nothing_drawable(k: pd.DataFrame, level: str) -> str:
    return nothing_drawable(k["reason"].dropna().value_counts(), len(k), level)


def nothing_drawable(reasons: pd.Series, kernels: int, level: str) -> str:
    """Why no kernel is on the plot: ``reasons`` counts the kernels per reason their numbers
    are unknown (most first), of ``kernels`` in all."""
    if len(reasons):
        n, common = int(reasons.sum()), reasons.index[0]
        return (f"nothing to draw: {n} of {kernels} kernels lack counters ({common}); "
                "record with `roofprof record` to collect every roofline metric")
    return (f"nothing to draw: none of the {kernels} kernels did floating-point work with "
            f"{rl.LEVEL_LABELS[level]} traffic (see `roofprof summary`: they are judged by "
            "bandwidth)")


def kernel_frame(t: pd.DataFrame, numbers: dict[str, pd.DataFrame], lv: tuple[str, ...],
                 placed: Any, grouping: Grouping, colours: list[str],
                 total: float) -> pd.DataFrame:
    """The drawn kernels (``placed`` rows of ``t``); marker areas are shares of ``total``,
    the GPU time of every kernel of the plot."""
    k0 = numbers[lv[0]]
    sel = np.flatnonzero(placed)
    out = pd.DataFrame({
        "y": k0["work_per_s"].to_numpy(dtype=np.float64)[sel],
        "time_ns": k0["duration_ns"].to_numpy(dtype=np.float64)[sel],
        "work": k0["work"].to_numpy(dtype=np.float64)[sel],
        "precision": k0["precision"].to_numpy(dtype=object)[sel],
        "pct_of_roof": k0["pct_of_roof"].to_numpy(dtype=np.float64)[sel],
        "bound": k0["bound"].astype(object).to_numpy()[sel],
        "group": grouping.codes[sel],
    })
    for lvl in lv:
        x = numbers[lvl]["ai"].to_numpy(dtype=np.float64)[sel]
        out[f"x_{lvl}"] = np.where(np.isfinite(x) & (x > 0), x, np.nan)
        out[f"bytes_{lvl}"] = numbers[lvl]["bytes"].to_numpy(dtype=np.float64)[sel]
    out["size"] = np.clip(out["time_ns"] / total * 1500.0 if total else 8.0, 8.0, 600.0)
    out["colour"] = np.asarray(colours, dtype=object)[out["group"].to_numpy()]
    out["marker"] = [MARKERS.get(str(p), "o") for p in out["precision"]]
    for col in ("kernel", "range", "phase", "op", "category"):
        if col in t.columns:
            out[col] = t[col].astype(object).to_numpy()[sel]
    out["group_name"] = np.asarray(grouping.names, dtype=object)[out["group"].to_numpy()]
    return out


def roofs_of(peaks: dict[str, float]) -> list[Roof]:
    """The roof lines of each precision's peak over the drawn kernels
    (``roofline.effective_peaks``), precisions with nearly the same peak on one line."""
    roofs: list[Roof] = []
    for prec, peak in sorted(peaks.items(), key=lambda kv: -kv[1]):
        unit = "OP/s" if prec == rl.INT8 else "FLOP/s"
        for roof in roofs:  # precisions with (nearly) the same ceiling share one line
            if roof.unit == unit and abs(roof.peak / peak - 1) < MERGE_ROOFS:
                roof.precisions.append(prec)
                break
        else:
            roofs.append(Roof([prec], peak, unit, ""))
    for roof in roofs:
        roof.peak = max(peaks[p] for p in roof.precisions)
        roof.label = " / ".join(f"{rl.PRECISION_LABELS[p]} {si(peaks[p], roof.unit)}"
                                for p in roof.precisions)
    return roofs


def _slopes(numbers: dict[str, pd.DataFrame], lv: tuple[str, ...], placed: Any) -> list[Slope]:
    return slopes_of({lvl: rl.effective_bandwidth(numbers[lvl][placed]) for lvl in lv})


def slopes_of(bandwidths: dict[str, float | None]) -> list[Slope]:
    """The bandwidth lines of each level's bandwidth over the drawn kernels
    (``roofline.effective_bandwidth``), in the given order."""
    out = []
    for lvl, bw in bandwidths.items():
        if bw:
            out.append(Slope(lvl, bw, f"{rl.LEVEL_LABELS[lvl]} {si(bw, 'B/s')}",
                             BW_COLOURS[lvl]))
    return out


def _aggregates(t: pd.DataFrame, numbers: dict[str, pd.DataFrame], lv: tuple[str, ...],
                grouping: Grouping, groups: pd.DataFrame, colours: list[str],
                shown: list[int]) -> list[Aggregate]:
    if len(grouping) < 2:
        return []
    # at a further level, its own bytes with the first level's durations and compute times
    per_level = {lvl: rl.group_intensity(numbers[lvl], grouping,
                                         base=None if lvl == lv[0] else numbers[lv[0]])
                 for lvl in lv}
    return aggregate_points(per_level, grouping, groups, colours, shown)


def aggregate_points(per_level: dict[str, Any], grouping: Grouping, groups: pd.DataFrame,
                     colours: list[str], shown: list[int]) -> list[Aggregate]:
    """The aggregate point of each shown group of two kernels or more: x its intensity at
    each level (``per_level``, in ``grouping`` order), y and the numbers its summary row;
    marked partial where that row is of part of the group."""
    if len(grouping) < 2:
        return []

    rows = records(groups)
    members = groups["kernels"].to_numpy()
    ys = groups["work_per_s"].to_numpy(dtype=np.float64)
    out = []
    for g in shown:
        if int(members[g]) < 2 or colours[g] == OTHER:
            continue
        y = float(ys[g])
        xs = {lvl: float(per_level[lvl][g]) for lvl in per_level}
        xs = {lvl: x for lvl, x in xs.items() if np.isfinite(x) and x > 0}
        if xs and np.isfinite(y) and y > 0:
            out.append(Aggregate(g, grouping.names[g], colours[g], xs, float(y), rows[g],
                                 partial=partial(rows[g])))
    return out


def _heaviest(k: pd.DataFrame, n: int, total: float) -> list[tuple[int, str]]:
    """The ``n`` kernel names with the most GPU time, each at its heaviest drawn launch."""
    if n <= 0 or "kernel" not in k.columns or not len(k):
        return []
    names = k["kernel"].fillna("?").map(str)
    per = k.groupby(names, sort=False)["time_ns"].agg(["sum", "size", "idxmax"])
    per = per.sort_values("sum", ascending=False, kind="stable").head(n)
    return heaviest_labels(per, total)


def heaviest_labels(per: pd.DataFrame, total: float) -> list[tuple[int, str]]:
    """Label texts of kernel names (index of ``per``; columns ``sum`` of time, ``size``
    launches, ``idxmax`` the row in the kernel frame to put the label at)."""
    texts = unique_labels([short_kernel(str(s)) for s in per.index], 38)
    out = []
    for (name, row), text in zip(per.iterrows(), texts, strict=True):
        del name
        count = f" ×{int(row['size']):,}" if row["size"] > 1 else ""
        share = row["sum"] / total if total else 0.0
        out.append((int(row["idxmax"]), f"{text}{count} ({100 * share:.0f}%)"))
    return out


def legend(grouping: Grouping, groups: pd.DataFrame, colours: list[str], shown: list[int],
           total: float) -> list[tuple[str, str]]:
    """(label, colour) of each shown group, then the other groups together; a partial group
    says how much of its time is measured."""
    names = unique_labels([grouping.names[g] for g in shown], 32)
    out = []
    rows = records(groups)
    time = groups["time_ns"].to_numpy(dtype=np.float64)
    roofs = groups["peak_compute_per_s"].to_numpy(dtype=np.float64)
    precision = groups["precision"].to_numpy(dtype=object)
    for g, name in zip(shown, names, strict=True):
        share = time[g] / total if total else 0.0
        roof = float(roofs[g])
        unit = "OP/s" if precision[g] == rl.INT8 else "FLOP/s"
        extra = f" · roof {si(roof, unit)}" if np.isfinite(roof) else ""
        if partial(rows[g]):
            extra += f" · {measured(rows[g]['coverage'])}"
        out.append((f"{name}  {100 * share:.1f}%{extra}", colours[g]))
    rest = len(grouping) - len(shown)
    if rest > 0:
        share = 1 - float(np.nansum(time[shown])) / total if total else 0.0
        out.append((f"{rest} other groups  {100 * share:.1f}%", OTHER))
    return out


def unit_of(roofs: list[Roof]) -> str:
    return "OP/s" if roofs and all(r.unit == "OP/s" for r in roofs) else "FLOP/s"


def _subtitle(t: pd.DataFrame, lv: tuple[str, ...], total: float, filter: str | None,
              numbers: dict[str, pd.DataFrame], placed: Any) -> list[str]:
    k0 = numbers[lv[0]]
    dur = k0["duration_ns"].to_numpy(dtype=np.float64)
    no_work = (k0["work"] == 0).to_numpy() & ~placed
    unknown = (k0["bound"] == "unknown").to_numpy()
    other = ~placed & ~no_work & ~unknown
    off = [(int(m.sum()), float(np.nansum(dur[m]))) for m in (no_work, unknown, other)]
    return subtitle_lines(len(t), lv, total, filter, off)


def _not_drawn(t: pd.DataFrame, k0: pd.DataFrame, placed: Any) -> pd.DataFrame:
    """One row per (kernel, range) of the kernels off the plot, with the reason."""
    sel = ~placed
    why = np.where((k0["work"] == 0).to_numpy(), "no FLOPs: judged by bandwidth",
                   k0["reason"].fillna("no bytes or time counted").to_numpy(dtype=object))
    df = pd.DataFrame({
        "kernel": t["kernel"].astype(object).fillna("?").to_numpy()[sel]
        if "kernel" in t.columns else "?",
        "range": t["range"].astype(object).fillna("").to_numpy()[sel]
        if "range" in t.columns else "",
        "why": why[sel],
        "time_ns": k0["duration_ns"].to_numpy(dtype=np.float64)[sel],
        "roof_ns": k0["roof_ns"].to_numpy(dtype=np.float64)[sel],
    })
    df["launches"] = 1
    return not_drawn_rows(df)


def limits(s: Scene) -> tuple[tuple[float, float], tuple[float, float]]:
    xs: list[float] = []
    ys: list[float] = []
    for lvl in s.levels:
        ai = s.kernels[f"x_{lvl}"].to_numpy(dtype=np.float64)
        ai = ai[np.isfinite(ai) & (ai > 0)]
        if len(ai):
            xs += [float(np.percentile(ai, 0.1)), float(np.percentile(ai, 99.9))]
    y = s.kernels["y"].to_numpy(dtype=np.float64)
    y = y[np.isfinite(y) & (y > 0)]
    if len(y):
        ys += [float(np.percentile(y, 0.1)), float(np.max(y))]
    for a in s.aggregates:
        xs += list(a.x.values())
        ys.append(a.y)
    for m in s.models:
        xs.append(m.x)
        ys.append(m.y)
    for roof in s.roofs:
        ys.append(roof.peak)
        xs += [roof.peak / sl.bandwidth for sl in s.slopes]
    xs = [x for x in xs if np.isfinite(x) and x > 0] or [0.1, 1000.0]
    ys = [y for y in ys if np.isfinite(y) and y > 0] or [1e9, 1e15]
    return (max(min(xs) / 3, 1e-4), max(xs) * 4), (min(ys) / 3, max(ys) * 8)
