"""The roofline scene of a dataset, out of core: :func:`build_dataset`.

The numbers come from :func:`roofprof.datasets.plot_numbers.plot_numbers` (DuckDB; the summary's own
query for every group number) and are laid out by the helpers of :mod:`.scene`, so a dataset
plot and the in-memory plot of the same kernels are the same scene. Only the points differ
when a dataset is large: at most ``max_points`` are drawn, the longest launches of each kernel
name in each group, and a note on the plot says how many of how many (never silently); marker
areas are then shares of the drawn points' time. Roofs, slopes, aggregates, legend, labels,
subtitle and the not-drawn table count every kernel.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from roofprof.analysis import roofline as rl
from roofprof.analysis.grouping import Grouping, parse_by
from roofprof.datasets.plot_numbers import plot_numbers
from roofprof.datasets.sql import sampling_meta
from roofprof.errors import InputError, UsageError
from roofprof.tables.partitions import parts
from roofprof.views.chart.captions import not_drawn_rows, notes_of, sampled_note, subtitle_lines
from roofprof.views.chart.colours import assign
from roofprof.views.chart.scene import (
    MAX_POINTS,
    Scene,
    aggregate_points,
    heaviest_labels,
    kernel_frame,
    legend,
    limits,
    nothing_drawable,
    placed_kernels,
    roofs_of,
    slopes_of,
    unit_of,
)


def build_dataset(directory: str | os.PathLike[str], *, by: str = "range",
                  levels: Sequence[str] = ("dram",), where: str | None = None,
                  title: str | None = None, label_top: int = 5,
                  max_points: int = MAX_POINTS) -> Scene:
    """The scene of the dataset at ``directory`` (its files matching ``where``), as
    :func:`roofprof.views.chart.scene.build` makes it of the same kernels in memory, with at most
    ``max_points`` points (at least one per group)."""
    lv = tuple(levels)
    if not lv:
        raise UsageError("give at least one memory level (dram, l2, l1)")
    for lvl in lv:
        rl.level_of(lvl)
    files = parts(directory, where)
    pn = plot_numbers(directory, by, lv, where, max_points=max_points, label_top=label_top)
    if pn.drawable == 0:
        nd = pn.not_drawn
        reasons = nd.dropna(subset=["reason"]).groupby("reason")["launches"].sum()
        raise InputError(nothing_drawable(reasons.sort_values(ascending=False, kind="stable"),
                                          pn.kernels, lv[0]))
    groups = pn.summary
    names = [str(g) for g in groups["group"]]
    index = {n: i for i, n in enumerate(names)}
    t = pn.points
    grouping = Grouping(parse_by(by), np.asarray([index[str(g)] for g in t["group"]],
                                                 dtype=np.intp), pn.parts, names)
    colours, shown = assign(grouping.by, grouping.parts, groups["time_ns"].fillna(0).tolist())
    # the drawn kernels' numbers: roofline.kernel_numbers itself, on their rows
    numbers = {lv[0]: rl.kernel_numbers(t, lv[0])}
    for lvl in lv[1:]:
        numbers[lvl] = rl.level_numbers(t, numbers[lv[0]]["work"], lvl)
    sampled = len(t) < pn.drawable
    drawn_ns = float(np.nansum(numbers[lv[0]]["duration_ns"]))
    # marker areas: shares of the plot's time; of the drawn points' where they are a sample
    kernels = kernel_frame(t, numbers, lv, placed_kernels(numbers[lv[0]]), grouping, colours,
                           drawn_ns if sampled else pn.total_ns)
    # a sample is small by construction: points, as the in-memory plot draws that many
    density = not sampled and len(kernels) * len(lv) > max_points
    roofs = roofs_of(pn.peaks)
    aggs = aggregate_points({lvl: np.asarray(pn.intensity[lvl], dtype=np.float64)
                             for lvl in lv}, grouping, groups, colours, shown)
    notes = notes_of(bool(aggs), any(a.partial for a in aggs))
    if sampled:  # say what is drawn: never silently fewer points
        notes[0] = notes[0].replace("over the drawn kernels", "over every drawable kernel")
        notes[:0] = _sample_note(pn.drawable, pn.drawable_ns, len(kernels), drawn_ns,
                                 pn.per_kernel, pn.pairs, pn.pairs_drawn)
    meta = sampling_meta(directory, where)
    scene = Scene(
        title=title or _title(pn.gpus, directory, len(files)),
        subtitle=subtitle_lines(pn.kernels, lv, pn.total_ns, None, pn.off)
        + sampled_note(SimpleNamespace(meta=meta)),
        levels=lv, unit=unit_of(roofs), xlim=(0, 0), ylim=(0, 0), kernels=kernels,
        density=density, roofs=roofs, slopes=slopes_of(pn.bandwidths), aggregates=aggs,
        labels=[] if density or "idxmax" not in pn.labels.columns
        else heaviest_labels(pn.labels, pn.total_ns),
        legend_title=f"{grouping.label} · % of GPU time",
        legend=legend(grouping, groups, colours, shown, pn.total_ns), notes=notes,
        not_drawn=not_drawn_rows(pn.not_drawn), summary=groups, group_names=names,
        group_colours=colours)
    scene.xlim, scene.ylim = limits(scene)
    return scene


def _title(gpus: list[str], directory: str | os.PathLike[str], files: int) -> str:
    shown = ", ".join(gpus[:3]) + (", …" if len(gpus) > 3 else "")
    name = Path(directory).resolve().name
    return f"{shown or 'unknown GPU'} · dataset {name} ({files:,} file{'s' * (files != 1)})"


def _sample_note(drawable: int, drawable_ns: float, drawn: int, drawn_ns: float, k: int,
                 pairs: int, pairs_drawn: int) -> list[str]:
    """Two legend lines: how many kernels are drawn of how many, and which."""
    share = 100 * drawn_ns / drawable_ns if drawable_ns else 0.0
    which = (f"the {k:,} longest launches of each kernel in each group" if pairs_drawn == pairs
             else f"the longest launch of the {pairs_drawn:,} of {pairs:,} kernels × groups "
                  "with the most time")
    return [f"points: {drawn:,} of {drawable:,} drawable kernels ({share:.2g}% of their time):",
            which]
