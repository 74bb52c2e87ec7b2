"""Static roofline plots (matplotlib): :func:`plot` draws, :func:`save` and :func:`write` write.

Everything drawn is measured: the roofs are the peaks recorded for the kernels in the trace (the
median over the kernels of each precision, since clocks vary per kernel), the points are the
kernels' own FLOP/s and arithmetic intensity. Kernels without FLOPs cannot sit on a roofline;
they are counted in the subtitle (``roofprof summary`` judges them by bandwidth).

This module imports nothing heavy at import time (no pandas, no matplotlib), so ``roofprof``
can re-export :func:`plot` without slowing ``import roofprof``. :func:`plot` never calls
``plt.show()`` and never touches pyplot's global figure list: without ``ax`` it draws on a fresh
``Figure`` (pass ``ax`` to draw into a notebook's or report's own figure).
"""

# Heavy modules (numpy, pandas, matplotlib) are imported inside functions on purpose: `roofprof`
# re-exports `plot` and must stay light to import.

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roofprof.atomic import atomic_output
from roofprof.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

#: above this many points (kernels x levels) the kernels are drawn as a time-weighted density
MAX_POINTS = 20_000
#: groups that get a colour of their own; the rest are drawn grey as "other"
MAX_GROUPS = 9
#: combined groups (op · phase): legend entries at most, and shades of one hue at most
MAX_FAMILY_ENTRIES = 20
MAX_SHADES = 4
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}

MARKERS = {
    "tensor_bf16": "o", "tensor_fp16": "D", "tensor_tf32": "P", "tensor_fp8": "p",
    "tensor_fp64": "X", "tensor_int8": "h", "fp32": "s", "fp16": "d", "fp64": "^",
}
#: how each memory level's points look in hierarchical mode
LEVEL_STYLE = {"dram": {"alpha": 0.85, "hollow": False}, "l2": {"alpha": 0.45, "hollow": False},
               "l1": {"alpha": 0.9, "hollow": True}}
BW_COLOURS = {"dram": "#1f3b73", "l2": "#2a7f62", "l1": "#8a5a00"}
OTHER = "#a0a0a0"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22")


@dataclass
class _Roof:
    precisions: list[str]
    peak: float
    unit: str
    text: str = ""


@dataclass
class _Data:
    """Everything the drawing needs, computed once."""

    kernels: pd.DataFrame                 # roofline-judged kernels with a place on the plot
    levels: tuple[str, ...]
    group_codes: npt.NDArray[np.intp]     # per plotted kernel, index into group_names
    group_names: list[str]
    group_time: npt.NDArray[np.float64]   # total GPU time per group (all kernels)
    colours: list[str]                    # per group
    shown: list[int]                      # groups with a colour of their own, legend order
    roofs: list[_Roof]
    bandwidth: dict[str, float]
    total_ns: float
    n_all: int
    all_kernels: pd.DataFrame             # every kernel's work, time and bytes: aggregates
    all_codes: npt.NDArray[np.intp]       # their groups
    left_out: list[str] = field(default_factory=list)
    not_drawn: pd.DataFrame | None = None  # kernels without FLOPs, bytes or time


def _short(name: str, width: int = 38) -> str:
    """A kernel or group name short enough for a label (templates and arguments cut)."""
    from roofprof.roofline import elide

    base = re.sub(r"\(.*$", "", name) if "(" in name and not name.startswith("(") else name
    if "<" in base and len(base) > width:
        base = base.split("<", 1)[0] + "<…>"
    return _plain(elide(base, width))


def _plain(text: str) -> str:
    """Text drawn as written: matplotlib reads ``$...$`` as math (a --filter regex has them)."""
    return text.replace("$", r"\$")


#: what ``filter`` searches: a kernel is kept when any of these matches
FILTER_COLUMNS: tuple[str, ...] = ("kernel", "range", "phase", "category", "op")


def _prepare(obj: Any, by: str, levels: Sequence[str], filter: str | None,
             depth: int | None) -> tuple[_Data, pd.DataFrame]:
    import numpy as np
    import pandas as pd

    from roofprof import roofline as rl

    t = rl.table_of(obj)
    if len(t) == 0:
        raise UsageError("the trace holds no kernels: nothing to plot")
    levels = tuple(levels)
    if not levels:
        raise UsageError("give at least one memory level (dram, l2, l1)")
    for lvl in levels:
        if lvl not in rl.LEVELS:
            raise UsageError(f"unknown memory level {lvl!r}; choose from "
                             f"{', '.join(rl.LEVELS)}")
    if filter:
        try:
            rx = re.compile(filter)
        except re.error as exc:
            raise UsageError(f"--filter {filter!r} is not a valid regular expression: "
                             f"{exc}") from None
        keep = np.zeros(len(t), dtype=bool)
        for col in FILTER_COLUMNS:
            if col in t.columns:
                codes, uniques = pd.factorize(t[col].astype(object), use_na_sentinel=True)
                hit = np.asarray([rx.search(str(u)) is not None for u in uniques] + [False])
                keep |= hit[codes]  # code -1 (null) picks the trailing False
        t = t[keep]
        if len(t) == 0:
            raise UsageError(f"no kernel, range, phase, category or op matches --filter "
                             f"{filter!r}")
    rl._check(t)
    codes, group_names = rl._group_codes(t, by, depth)
    k = rl.per_kernel(t, levels)
    dur = k["duration_ns"].to_numpy(dtype=np.float64, na_value=np.nan)
    group_time = np.bincount(codes, weights=np.nan_to_num(dur), minlength=len(group_names))
    colours, shown = _group_colours(group_names, group_time.astype(np.float64),
                                    combined="," in by)

    work = k["work_per_s"].to_numpy(dtype=np.float64, na_value=np.nan)
    placed = (k["judged_by"] == "roofline").to_numpy() & (work > 0) & (dur > 0)
    # a kernel is placed by its first level; other levels are drawn where they are known
    ai = k[f"ai_{levels[0]}"].to_numpy(dtype=np.float64, na_value=np.nan)
    placed &= np.isfinite(ai) & (ai > 0)
    total = float(np.nansum(dur))
    left_out: list[str] = []
    no_flop = (k["judged_by"] == "bandwidth").to_numpy()
    if no_flop.any():
        share = np.nansum(dur[no_flop]) / total if total else 0.0
        left_out.append(f"{int(no_flop.sum())} without FLOPs ({100 * share:.1f}% of time) "
                        "not drawn")
    other = ~placed & ~no_flop
    if other.any():
        left_out.append(f"{int(other.sum())} without {_level_name(levels[0])} bytes or time "
                        "not drawn")
    kp = k[placed]
    gcodes = codes[placed]

    roofs: list[_Roof] = []
    present = kp["precision"].astype(object)
    peaks: dict[str, float] = {}
    for prec in rl.PRECISION_LABELS:
        sel = (present == prec).to_numpy()
        vals = kp["peak_compute_per_s"].to_numpy(dtype=np.float64, na_value=np.nan)[sel]
        vals = vals[np.isfinite(vals)]
        if len(vals):
            peaks[prec] = float(np.median(vals))
    for prec, peak in sorted(peaks.items(), key=lambda kv: -kv[1]):
        unit = "OP/s" if prec == rl.INT8 else "FLOP/s"
        for roof in roofs:  # precisions with the same ceiling share one line
            if roof.unit == unit and abs(roof.peak / peak - 1) < 0.06:
                roof.precisions.append(prec)
                break
        else:
            roofs.append(_Roof([prec], peak, unit))
    for roof in roofs:
        roof.text = _roof_peak_text(roof, peaks)
    bandwidth: dict[str, float] = {}
    for lvl in levels:
        vals = kp[f"peak_bytes_per_s_{lvl}"].to_numpy(dtype=np.float64, na_value=np.nan)
        vals = vals[np.isfinite(vals)]
        if len(vals):
            bandwidth[lvl] = float(np.median(vals))
    data = _Data(kp, levels, gcodes, group_names, group_time.astype(np.float64), colours, shown,
                 roofs, bandwidth, total, len(t),
                 k[["work", "duration_ns", *(f"{lvl}_bytes" for lvl in levels)]], codes,
                 left_out, k[~placed])
    return data, t


def _group_colours(names: list[str], time: npt.NDArray[np.float64],
                   combined: bool) -> tuple[list[str], list[int]]:
    """A colour per group and the groups shown in the legend, in legend order.

    Single groups: the :data:`MAX_GROUPS` with the most GPU time get a palette colour. Combined
    groups (``op · phase``) are drawn as families: one hue per first part (by GPU time), one
    shade per second part (darkest first, in order of appearance), so ``qkv_proj · prefill`` and
    ``qkv_proj · decode`` are two shades of one colour, for as many families as fit
    :data:`MAX_FAMILY_ENTRIES` legend entries. The rest are grey ("other").
    """
    import numpy as np

    colours = [OTHER] * len(names)
    parts = [n.split(" · ", 1) for n in names]
    if combined and all(len(p) == 2 for p in parts):
        family_time: dict[str, float] = {}
        for (first, _), t in zip(parts, time, strict=True):
            family_time[first] = family_time.get(first, 0.0) + float(t)
        seconds = list(dict.fromkeys(p[1] for p in parts))  # groups are in order of appearance
        if 1 < len(seconds) <= MAX_SHADES:
            families = sorted(family_time, key=lambda f: -family_time[f])
            families = families[:min(len(PALETTE), MAX_FAMILY_ENTRIES // len(seconds))]
            index = {n: i for i, n in enumerate(names)}
            shown = []
            for hue, family in enumerate(families):
                for shade, second in enumerate(seconds):
                    g = index.get(f"{family} · {second}")
                    if g is not None:
                        colours[g] = _lighter(PALETTE[hue], 0.6 * shade / (len(seconds) - 1))
                        shown.append(g)
            return colours, shown
    order = [int(g) for g in np.argsort(-time, kind="stable")[:MAX_GROUPS]]
    for rank, g in enumerate(order):
        colours[g] = PALETTE[rank]
    return colours, order


def _lighter(colour: str, amount: float) -> str:
    """``colour`` mixed with white (amount 0: unchanged, 1: white)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in rgb)


def _roof_label(roof: _Roof) -> str:
    from roofprof.roofline import PRECISION_LABELS, si

    names = [PRECISION_LABELS.get(p, p) for p in roof.precisions]
    if len(names) > 1 and all(n.endswith(" tensor") for n in names):
        names = ["/".join(n.removesuffix(" tensor") for n in names) + " tensor"]
    return f"{' / '.join(names)} {si(roof.peak, roof.unit)}"


def _roof_peak_text(roof: _Roof, peaks: dict[str, float]) -> str:
    """A merged roof names each precision's own peak: ``FP32 CUDA-core 59.3 / FP64 ... 57.4``."""
    from roofprof.roofline import PRECISION_LABELS, si

    if len(roof.precisions) == 1 or all(abs(peaks[p] / roof.peak - 1) < 0.005
                                        for p in roof.precisions):
        return _roof_label(roof)
    parts = [f"{PRECISION_LABELS.get(p, p)} {si(peaks[p], roof.unit)}" for p in roof.precisions]
    return " / ".join(parts)


def _limits(d: _Data) -> tuple[tuple[float, float], tuple[float, float]]:
    import numpy as np

    xs: list[float] = []
    ys: list[float] = []
    for lvl in d.levels:
        ai = d.kernels[f"ai_{lvl}"].to_numpy(dtype=np.float64)
        ai = ai[np.isfinite(ai) & (ai > 0)]
        if len(ai):
            xs += [float(np.percentile(ai, 0.1)), float(np.percentile(ai, 99.9))]
    y = d.kernels["work_per_s"].to_numpy(dtype=np.float64)
    y = y[np.isfinite(y) & (y > 0)]
    if len(y):
        ys += [float(np.percentile(y, 0.1)), float(np.max(y))]
    for roof in d.roofs:
        ys.append(roof.peak)
        xs += [roof.peak / bw for bw in d.bandwidth.values()]
    xs = [x for x in xs if math.isfinite(x) and x > 0] or [0.1, 1000.0]
    ys = [y for y in ys if math.isfinite(y) and y > 0] or [1e9, 1e15]
    # a little room around the data, more at the top for the roofs' labels
    x0, x1 = min(xs) / 3, max(xs) * 4
    y0, y1 = min(ys) / 3, max(ys) * 4
    return (max(x0, 1e-4), x1), (y0, y1)


def plot(table_or_trace: Any, ax: Axes | None = None, *, by: str = "range",
         levels: Sequence[str] = ("dram",), filter: str | None = None, title: str | None = None,
         label_top: int = 5, depth: int | None = None, max_points: int = MAX_POINTS,
         figsize: tuple[float, float] = (12.0, 6.8)) -> Axes:
    """Draw the measured roofline of a trace (or kernel table, or path) and return the Axes.

    ``by`` colours kernels by group (see :func:`roofprof.roofline.summarize`); ``levels``
    ``("dram", "l2", "l1")`` draws each kernel at each level, joined by a thin line;
    ``filter`` keeps kernels whose name, range, phase, category or op matches the regex;
    ``label_top`` labels the heaviest kernel names. With more than ``max_points`` points the
    kernels are drawn as a 2-D histogram weighted by GPU time.
    """
    import numpy as np

    d, table = _prepare(table_or_trace, by, levels, filter, depth)
    ax = _roofline_axes(ax, d, figsize)
    fig_any: Any = ax.figure
    density = len(d.kernels) * len(d.levels) > max_points
    if density:
        _draw_density(ax, d)
    else:
        _draw_points(ax, d)
    groups = _draw_groups(ax, d)
    _legends(ax, d, by, density)
    _title(ax, d, table_or_trace, table, title, filter=filter)
    # text goes last and avoids heavy points, aggregates and earlier text
    points = _point_boxes(ax, d, groups, density)
    obstacles: list[Bbox] = []
    _draw_roofs(ax, d, obstacles, points)
    if label_top > 0 and len(d.kernels):
        _label_heaviest(ax, d, label_top, obstacles, points)
    del np, fig_any
    return ax


def _point_boxes(ax: Axes, d: _Data, groups: list[tuple[float, float]],
                 density: bool) -> list[tuple[int, Bbox]]:
    """Screen boxes of the heaviest markers (kernel row or -1 for aggregates)."""
    import numpy as np
    from matplotlib.transforms import Bbox

    out: list[tuple[int, Bbox]] = []
    scale = ax.figure.dpi / 72.0
    if not density and len(d.kernels):
        s = _sizes(d.kernels["duration_ns"].to_numpy(dtype=np.float64), d.total_ns)
        y = d.kernels["work_per_s"].to_numpy(dtype=np.float64)
        big = np.argsort(-s, kind="stable")[:300]
        for lvl in d.levels:
            x = d.kernels[f"ai_{lvl}"].to_numpy(dtype=np.float64)
            pts = ax.transData.transform(np.column_stack([x[big], y[big]]))
            for row, (px, py), r in zip(big, pts, np.sqrt(s[big]) / 2 * scale, strict=True):
                out.append((int(row), Bbox.from_bounds(px - r, py - r, 2 * r, 2 * r)))
    r = 6 * scale
    for gx, gy in groups:
        px, py = ax.transData.transform((gx, gy))
        out.append((-1, Bbox.from_bounds(px - r, py - r, 2 * r, 2 * r)))
    return out


def _axes_style(ax: Axes, d: _Data) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from roofprof.roofline import si

    unit = "OP/s" if d.roofs and all(r.unit == "OP/s" for r in d.roofs) else "FLOP/s"
    xunit = "OP" if unit == "OP/s" else "FLOP"
    lvl = " / ".join(_level_name(v) for v in d.levels)
    ax.set_xlabel(f"Arithmetic intensity ({xunit}/byte, {lvl} traffic)")
    ax.set_ylabel(f"Performance ({unit})")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: si(v, "").strip() or "0"))
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, numticks=20))
        axis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", color="#e4e4e4", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _level_name(level: str) -> str:
    from roofprof.roofline import LEVEL_LABELS

    return LEVEL_LABELS.get(level, level)


def _draw_roofs(ax: Axes, d: _Data, obstacles: list[Bbox],
                points: list[tuple[int, Bbox]]) -> None:
    from roofprof.roofline import si

    (x0, x1), (_y0, y1) = ax.get_xlim(), ax.get_ylim()
    renderer = _renderer(ax)
    top = max((r.peak for r in d.roofs), default=y1 / 10)
    max_bw = max(d.bandwidth.values(), default=0.0)
    first = d.levels[0]
    for i, roof in enumerate(d.roofs):
        start = roof.peak / max_bw if max_bw else x0
        style = "-" if i == 0 else (0, (6, 2))
        ax.plot([start, x1], [roof.peak, roof.peak], color="#333333", linewidth=1.6 - 0.2 * i,
                linestyle=style, zorder=2)
        bw = d.bandwidth.get(first)
        text = roof.text
        if bw:
            ridge = roof.peak / bw
            ax.plot([ridge], [roof.peak], marker="o", markersize=4.5, color="#333333", zorder=3)
            name = "ridge" if len(d.levels) == 1 else f"{_level_name(first)} ridge"
            unit = "OP/B" if roof.unit == "OP/s" else "FLOP/B"
            text += f"  ·  {name} {ridge:,.0f} {unit}" if ridge >= 10 else \
                f"  ·  {name} {ridge:.2g} {unit}"
        label = ax.annotate(text, (x1, roof.peak), xytext=(-4, 3), textcoords="offset points",
                            ha="right", va="bottom", fontsize=8.5, color="#222222", zorder=6)
        _nudge(label, renderer, obstacles, points, start)
    for lvl, bw in d.bandwidth.items():
        end = min(top / bw, x1)
        colour = BW_COLOURS.get(lvl, "#333333")
        ax.plot([x0, end], [x0 * bw, end * bw], color=colour, linewidth=1.5, zorder=2)
        # label along the diagonal near its lower end, rotated to the line's on-screen angle
        lx = x0 * 2.2
        p0 = ax.transData.transform((lx, lx * bw))
        p1 = ax.transData.transform((lx * 10, lx * 10 * bw))
        angle = math.degrees(math.atan2(p1[1] - p0[1], p1[0] - p0[0]))
        label = ax.annotate(f"{_level_name(lvl)} {si(bw, 'B/s')}", (lx, lx * bw), xytext=(0, 4),
                            textcoords="offset points", rotation=angle, rotation_mode="anchor",
                            ha="left", va="bottom", fontsize=8.5, color=colour, zorder=6)
        if lx * bw < _y0 or lx * bw > y1:  # diagonal enters the plot later: label where it does
            lx = _y0 * 1.6 / bw
            label.xy = (lx, lx * bw)
        _nudge(label, renderer, obstacles, points, x0)


def _renderer(ax: Axes) -> Any:
    fig: Any = ax.figure
    get = getattr(fig.canvas, "get_renderer", None)
    return get() if get is not None else fig._get_renderer()


def _nudge(label: Any, renderer: Any, obstacles: list[Bbox], points: list[tuple[int, Bbox]],
           start: float) -> None:
    """Slide a roof label along its line (then below it) until it covers no text or marker."""
    x, y = label.xy
    horizontal = label.get_rotation() == 0
    spots: list[tuple[tuple[float, float], tuple[float, float], str]] = []
    for step in range(10):
        f = 1.6 ** step
        if horizontal:
            if x / f < start * 1.5 and step:
                break
            spots.append(((x / f, y), (-4, 3), "bottom"))
        else:
            spots.append(((x * f, y * f), (0, 4), "bottom"))
    if horizontal:
        spots += [(xy, (-4, -3), "top") for xy, _o, _v in spots]
    first = None
    for xy, offset, va in spots:
        label.xy = xy
        label.xyann = offset
        label.set_va(va)
        box = label.get_window_extent(renderer)
        if first is None:
            first = (xy, offset, va)
        if not any(box.overlaps(o) for o in obstacles) and not any(
                box.overlaps(b) for _i, b in points):
            break
    else:
        if first is not None:  # nowhere clear: stay at the end of the line, over markers
            label.xy, label.xyann = first[0], first[1]
            label.set_va(first[2])
    obstacles.append(label.get_window_extent(renderer))


def _sizes(dur: npt.NDArray[np.float64], total: float) -> npt.NDArray[np.float64]:
    """Marker area in pt^2 proportional to GPU time (a kernel with 10% of the time: 150)."""
    import numpy as np

    share = dur / total if total else np.zeros_like(dur)
    return np.clip(share * 1500.0, 8.0, 600.0)


def _draw_points(ax: Axes, d: _Data) -> None:
    import numpy as np
    from matplotlib.collections import LineCollection

    k = d.kernels
    y = k["work_per_s"].to_numpy(dtype=np.float64)
    s = _sizes(k["duration_ns"].to_numpy(dtype=np.float64), d.total_ns)
    colours = np.asarray(d.colours, dtype=object)[d.group_codes]
    # draw heavy points first so light ones stay visible on top
    order = np.argsort(-s, kind="stable")
    if len(d.levels) > 1:
        xs = np.column_stack([k[f"ai_{lvl}"].to_numpy(dtype=np.float64) for lvl in d.levels])
        xs[~np.isfinite(xs) | (xs <= 0)] = np.nan
        segs = [((lo, yy), (hi, yy)) for lo, hi, yy in
                zip(np.nanmin(xs, axis=1), np.nanmax(xs, axis=1), y, strict=True)]
        ax.add_collection(LineCollection(segs, colors="#9a9a9a", linewidths=0.6, zorder=3,
                                         alpha=0.7))
    precision = k["precision"].astype(object).to_numpy()
    for lvl in d.levels:
        x = k[f"ai_{lvl}"].to_numpy(dtype=np.float64)
        style = LEVEL_STYLE[lvl] if len(d.levels) > 1 else {"alpha": 0.8, "hollow": False}
        ok = np.isfinite(x) & (x > 0)
        for prec, marker in MARKERS.items():
            sel = order[(precision[order] == prec) & ok[order]]
            if not len(sel):
                continue
            c = list(colours[sel])
            if style["hollow"]:
                ax.scatter(x[sel], y[sel], s=s[sel], marker=marker, facecolors="none",
                           edgecolors=c, linewidths=1.1, alpha=float(style["alpha"]), zorder=4)
            else:
                ax.scatter(x[sel], y[sel], s=s[sel], marker=marker, c=c, edgecolors="white",
                           linewidths=0.5, alpha=float(style["alpha"]), zorder=4)


def _draw_density(ax: Axes, d: _Data) -> None:
    """Kernels as a 2-D histogram of GPU time (first level only), for very large traces."""
    import numpy as np
    from matplotlib.colors import LogNorm

    k = d.kernels
    lvl = d.levels[0]
    x = np.log10(k[f"ai_{lvl}"].to_numpy(dtype=np.float64))
    y = np.log10(k["work_per_s"].to_numpy(dtype=np.float64))
    w = k["duration_ns"].to_numpy(dtype=np.float64) * 1e-9
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    xe = np.linspace(math.log10(x0), math.log10(x1), 161)
    ye = np.linspace(math.log10(y0), math.log10(y1), 101)
    hist, _, _ = np.histogram2d(x, y, bins=(xe, ye), weights=w)
    hist[hist <= 0] = np.nan
    if np.all(np.isnan(hist)):
        return
    mesh = ax.pcolormesh(10 ** xe, 10 ** ye, hist.T, cmap="viridis_r", zorder=3,
                         norm=LogNorm(vmin=float(np.nanmax(hist)) * 1e-5,
                                      vmax=float(np.nanmax(hist))), rasterized=True)
    # a small horizontal colour bar in the bottom-right corner (high AI, low FLOP/s: empty on a
    # roofline), so the legends on the right keep their place
    fig: Any = ax.figure
    cax = ax.inset_axes((0.66, 0.07, 0.3, 0.025))
    bar = fig.colorbar(mesh, cax=cax, orientation="horizontal")
    bar.set_label("GPU time per cell (s)", fontsize=8)
    bar.ax.tick_params(labelsize=7)


def _group_points(d: _Data, lvl: str, split: Any = None,
                  parts: int = 1) -> tuple[Any, Any, Any]:
    """Aggregate point of each group, as :func:`roofprof.roofline.summarize` computes it:
    AI = sum(work) / sum(bytes) and y = sum(work) / sum(time) over ALL the group's kernels,
    those without FLOPs included (their bytes and time are the group's too).

    With ``split`` (an integer per kernel of ``d.all_kernels``, < ``parts``) the result has one
    column per part: a sweep's traces.
    """
    import numpy as np

    n = len(d.group_names)
    key = d.all_codes if split is None else d.all_codes * parts + split

    def total(col: str) -> Any:
        sums = np.bincount(key, weights=np.nan_to_num(d.all_kernels[col].to_numpy(np.float64)),
                           minlength=n * parts)
        return sums if split is None else sums.reshape(n, parts)

    work, nbytes, time_s = total("work"), total(f"{lvl}_bytes"), total("duration_ns") * 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        return work / nbytes, work / time_s, time_s


def _draw_groups(ax: Axes, d: _Data) -> list[tuple[float, float]]:
    """Aggregate points of the coloured groups of more than one kernel (a group of one kernel
    is that kernel's own point)."""
    import numpy as np

    drawn: list[tuple[float, float]] = []
    if len(d.group_names) < 2:
        return drawn
    members = np.bincount(d.group_codes, minlength=len(d.group_names))
    shown = [g for g, c in enumerate(d.colours) if c != OTHER and members[g] > 1]
    ys: dict[int, float] = {}
    xs: dict[int, list[float]] = {g: [] for g in shown}
    for lvl in d.levels:
        ai, y, _t = _group_points(d, lvl)
        for g in shown:
            if np.isfinite(ai[g]) and np.isfinite(y[g]) and ai[g] > 0 and y[g] > 0:
                hollow = len(d.levels) > 1 and LEVEL_STYLE[lvl]["hollow"]
                ax.scatter([ai[g]], [y[g]], s=110, marker="D",
                           facecolors="white" if hollow else d.colours[g],
                           edgecolors="black" if not hollow else d.colours[g],
                           linewidths=1.4, zorder=7)
                ys[g] = float(y[g])
                xs[g].append(float(ai[g]))
                drawn.append((float(ai[g]), float(y[g])))
    if len(d.levels) > 1:
        for g, pts in xs.items():
            if len(pts) > 1:
                ax.plot([min(pts), max(pts)], [ys[g], ys[g]], color=d.colours[g], linewidth=1.4,
                        zorder=6)
    return drawn


def _legends(ax: Axes, d: _Data, by: str, density: bool) -> None:
    from matplotlib.lines import Line2D

    from roofprof.roofline import PRECISION_LABELS

    shown = d.shown
    handles: list[Any] = []
    for g in shown:
        share = d.group_time[g] / d.total_ns if d.total_ns else 0.0
        handles.append(Line2D([], [], marker="s", linestyle="", markersize=8,
                              color=d.colours[g],
                              label=f"{_short(d.group_names[g], 30)}  {100 * share:.1f}%"))
    rest = len(d.group_names) - len(shown)
    if rest > 0:
        share = 1 - sum(d.group_time[g] for g in shown) / d.total_ns if d.total_ns else 0.0
        handles.append(Line2D([], [], marker="s", linestyle="", markersize=8, color=OTHER,
                              label=f"{rest} other groups  {100 * share:.1f}%"))
    title = {"range": "NVTX range", "kernel": "kernel"}.get(by, by.replace(",", " × "))
    first = ax.legend(handles=handles, title=f"{title} · % of GPU time", loc="upper left",
                      bbox_to_anchor=(1.02, 1.0), fontsize=8, title_fontsize=8.5,
                      frameon=False, borderaxespad=0.0, handletextpad=0.4)
    first._legend_box.align = "left"  # type: ignore[attr-defined]
    ax.add_artist(first)
    keys: list[Any] = []
    if not density:
        present = set(d.kernels["precision"].astype(object).dropna())
        for prec, marker in MARKERS.items():
            if prec in present:
                keys.append(Line2D([], [], marker=marker, linestyle="", markersize=7,
                                   markerfacecolor="#777777", markeredgecolor="white",
                                   label=PRECISION_LABELS.get(prec, prec)))
        if len(d.levels) > 1:
            for lvl in d.levels:
                hollow = LEVEL_STYLE[lvl]["hollow"]
                keys.append(Line2D([], [], marker="o", linestyle="", markersize=7,
                                   markerfacecolor="none" if hollow else "#555555",
                                   markeredgecolor="#555555",
                                   alpha=float(LEVEL_STYLE[lvl]["alpha"]),
                                   label=f"at {_level_name(lvl)} traffic"))
        keys.append(Line2D([], [], linestyle="", label="marker area ∝ GPU time"))
    else:
        keys.append(Line2D([], [], linestyle="", label=f"{len(d.kernels):,} kernels: density "
                           f"at {_level_name(d.levels[0])}"))
    if len(d.group_names) > 1:
        keys.append(Line2D([], [], marker="D", linestyle="", markersize=7, color=OTHER,
                           markeredgecolor="black", label="group aggregate"))
    ax.legend(handles=keys, loc="lower left", bbox_to_anchor=(1.02, 0.0), fontsize=8,
              frameon=False, borderaxespad=0.0, handletextpad=0.4)


def _title(ax: Axes, d: _Data, obj: Any, table: pd.DataFrame, title: str | None, *,
           filter: str | None) -> None:
    from roofprof.roofline import duration

    if title is None:
        meta = getattr(obj, "meta", None) or {}
        gpus = [str(g) for g in meta.get("gpu") or [] if g]
        if not gpus and "device_name" in table.columns:
            gpus = [str(g) for g in table["device_name"].dropna().unique()[:3]]
        sources = [os.path.basename(str(s)) for s in meta.get("sources") or [] if s]
        if not sources and "source" in table.columns:
            sources = [os.path.basename(str(s)) for s in table["source"].dropna().unique()[:3]]
        if not sources and isinstance(obj, (str, os.PathLike)):
            sources = [os.path.basename(os.fspath(obj))]
        title = " · ".join(x for x in (", ".join(gpus) or "unknown GPU", ", ".join(sources)) if x)
    sub = [f"measured roofline, {' / '.join(_level_name(v) for v in d.levels)}",
           f"{d.n_all:,} kernels, {duration(d.total_ns)} GPU time"]
    if filter:
        sub.append(f"filter {filter!r}")
    sub += d.left_out
    ax.set_title(f"{_plain(title)}\n", loc="left", fontsize=12, fontweight="bold")
    ax.text(0.0, 1.015, _plain(" · ".join(sub)), transform=ax.transAxes, fontsize=8.5,
            color="#555555", ha="left", va="bottom")


def _label_heaviest(ax: Axes, d: _Data, n: int, obstacles: list[Bbox],
                    points: list[tuple[int, Bbox]]) -> None:
    """Name the ``n`` kernel names with the most GPU time, at their heaviest launch.

    Each label takes the first of a ring of spots around its point (growing outwards) that
    stays inside the axes and covers no other text and no other heavy marker.
    """
    import numpy as np

    k = d.kernels
    if "kernel" not in k.columns:
        return
    dur = k["duration_ns"].to_numpy(dtype=np.float64)
    names = k["kernel"].astype(object).fillna("?").to_numpy()
    codes, uniques = _factorize(names)
    per_name = np.bincount(codes, weights=dur, minlength=len(uniques))
    heaviest = np.argsort(-per_name, kind="stable")[:n]
    renderer = _renderer(ax)
    x = k[f"ai_{d.levels[0]}"].to_numpy(dtype=np.float64)
    y = k["work_per_s"].to_numpy(dtype=np.float64)
    axbox = ax.get_window_extent(renderer)
    angles = np.radians(np.arange(0, 360, 30) + 45)
    offsets = [(float(r * 1.4 * math.cos(a)), float(r * math.sin(a)))
               for r in (14, 24, 36, 52, 72) for a in angles]
    for code in heaviest:
        members = np.flatnonzero(codes == code)
        i = int(members[np.argmax(dur[members])])
        share = per_name[code] / d.total_ns if d.total_ns else 0.0
        count = f" ×{len(members)}" if len(members) > 1 else ""
        text = f"{_short(str(uniques[code]))}{count} ({100 * share:.0f}%)"
        fallback: Any = None
        placed: Any = None
        for dx, dy in offsets:
            ann = ax.annotate(
                text, (x[i], y[i]), xytext=(dx, dy), textcoords="offset points",
                ha="left" if dx > 1 else ("right" if dx < -1 else "center"),
                va="bottom" if dy > 1 else ("top" if dy < -1 else "center"), fontsize=8,
                zorder=8, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#bbbbbb",
                                "alpha": 0.9, "lw": 0.5},
                arrowprops={"arrowstyle": "-", "color": "#666666", "lw": 0.7, "shrinkA": 0,
                            "shrinkB": 2})
            box = ann.get_window_extent(renderer)
            inside = (box.x0 >= axbox.x0 and box.x1 <= axbox.x1 and box.y0 >= axbox.y0
                      and box.y1 <= axbox.y1)
            free = inside and not any(box.overlaps(o) for o in obstacles)
            if free and not any(box.overlaps(b) for row, b in points if row != i):
                placed = ann
                break
            if free and fallback is None:
                fallback = ann
            elif ann is not fallback:
                ann.remove()
        if placed is None:
            placed = fallback
        elif fallback is not None:
            fallback.remove()
        if placed is not None:
            obstacles.append(placed.get_window_extent(renderer))


def _factorize(values: Any) -> tuple[Any, Any]:
    import pandas as pd

    codes, uniques = pd.factorize(values)
    return codes, uniques


def sweep_label(source: str | os.PathLike[str]) -> str:
    """A trace's label in a sweep: its file name without the suffix (``batch_16``)."""
    name = os.path.basename(os.fspath(source))
    for suffix in (".parquet", ".ncu-rep", ".csv"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def plot_sweep(traces: Sequence[Any], ax: Axes | None = None, *,
               labels: Sequence[str] | None = None, by: str = "phase",
               levels: Sequence[str] = ("dram",), filter: str | None = None,
               title: str | None = None, depth: int | None = None,
               figsize: tuple[float, float] = (12.0, 6.8)) -> Axes:
    """Several traces (a batch or candidate-count sweep) on one measured roofline.

    Each group (``by``: phase by default) is one coloured series; each trace adds one aggregate
    point to every series (AI = sum(work) / sum(bytes), y = sum(work) / sum(time) of that
    group's kernels in that trace), labelled with the trace's name and joined to the next
    trace's point by an arrow, in the order given, so the movement toward the ridge shows. The
    kernels themselves are drawn faintly behind. Roofs are the measured peaks over all traces.
    """
    import numpy as np
    import pandas as pd
    from matplotlib.lines import Line2D
    from matplotlib.transforms import Bbox

    from roofprof import roofline as rl

    if len(traces) < 2:
        raise UsageError("a sweep needs at least two traces")
    names = list(labels) if labels is not None else [
        sweep_label(getattr(t, "meta", {}).get("sources", ["trace"])[0])
        if not isinstance(t, (str, os.PathLike)) else sweep_label(t) for t in traces]
    if len(names) != len(traces):
        raise UsageError(f"{len(names)} labels for {len(traces)} traces")
    if len(set(names)) != len(names):
        names = [f"{i + 1}:{n}" for i, n in enumerate(names)]
    tables = []
    for name, obj in zip(names, traces, strict=True):
        t = rl.table_of(obj).copy()
        t["_sweep"] = name
        tables.append(t)
    combined = pd.concat(tables, ignore_index=True)
    d, table = _prepare(combined, by, levels, filter, depth)
    ax = _roofline_axes(ax, d, figsize)
    k = d.kernels
    lvl = d.levels[0]
    x = k[f"ai_{lvl}"].to_numpy(dtype=np.float64)
    y = k["work_per_s"].to_numpy(dtype=np.float64)
    colours = np.asarray(d.colours, dtype=object)[d.group_codes]
    ax.scatter(x, y, s=_sizes(k["duration_ns"].to_numpy(dtype=np.float64), d.total_ns) * 0.5,
               c=list(colours), alpha=0.16, linewidths=0, zorder=3)
    obstacles: list[Bbox] = []
    points: list[tuple[int, Bbox]] = []
    renderer = _renderer(ax)
    n_groups = len(d.group_names)
    trace_of = table.loc[d.all_kernels.index, "_sweep"].to_numpy(dtype=object)
    split = np.asarray([names.index(s) for s in trace_of], dtype=np.int64)
    gx, gy, _ = _group_points(d, lvl, split, len(names))
    shown = d.shown
    scale = ax.figure.dpi / 72.0
    for g in shown:
        ok = [i for i in range(len(names)) if np.isfinite(gx[g, i]) and np.isfinite(gy[g, i])
              and gx[g, i] > 0 and gy[g, i] > 0]
        pts = [(float(gx[g, i]), float(gy[g, i])) for i in ok]
        for (ax0, ay0), (ax1, ay1) in itertools.pairwise(pts):
            ax.annotate("", (ax1, ay1), xytext=(ax0, ay0), zorder=6,
                        arrowprops={"arrowstyle": "-|>", "color": d.colours[g], "lw": 1.6,
                                    "shrinkA": 6, "shrinkB": 6, "mutation_scale": 12})
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=90, marker="D",
                       c=d.colours[g], edgecolors="black", linewidths=1.2, zorder=7)
        for (px, py) in pts:
            sx, sy = ax.transData.transform((px, py))
            r = 6 * scale
            points.append((-1, Bbox.from_bounds(sx - r, sy - r, 2 * r, 2 * r)))
        for i, (px, py) in zip(ok, pts, strict=True):
            _place_text(ax, _plain(names[i]), (px, py), d.colours[g], renderer, obstacles, points)
    _draw_roofs(ax, d, obstacles, points)
    handles = [Line2D([], [], marker="D", linestyle="-", markersize=7, color=d.colours[g],
                      markeredgecolor="black",
                      label=f"{_short(d.group_names[g], 30)}  "
                            f"{100 * d.group_time[g] / d.total_ns:.1f}%")
               for g in shown]
    rest = n_groups - len(shown)
    if rest > 0:
        handles.append(Line2D([], [], marker="s", linestyle="", color=OTHER,
                              label=f"{rest} other groups (kernels only)"))
    legend_title = {"range": "NVTX range", "kernel": "kernel"}.get(by, by.replace(",", " × "))
    first = ax.legend(handles=handles, title=f"{legend_title} · % of GPU time (all traces)",
                      loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8,
                      title_fontsize=8.5, frameon=False, borderaxespad=0.0)
    first._legend_box.align = "left"  # type: ignore[attr-defined]
    ax.add_artist(first)
    order = "  →  ".join(names)
    notes = [Line2D([], [], linestyle="", label=_plain(f"sweep order: {order}")),
             Line2D([], [], marker="D", linestyle="", markersize=7, color=OTHER,
                    markeredgecolor="black", label="group aggregate of one trace"),
             Line2D([], [], marker="o", linestyle="", markersize=6, color=OTHER, alpha=0.4,
                    label="kernels (faint; area ∝ GPU time)")]
    ax.legend(handles=notes, loc="lower left", bbox_to_anchor=(1.02, 0.0), fontsize=8,
              frameon=False, borderaxespad=0.0)
    if title is None:
        gpus = sorted({str(g) for g in table["device_name"].dropna().unique()}) \
            if "device_name" in table.columns else []
        title = f"{', '.join(gpus) or 'unknown GPU'} · sweep of {len(names)} traces"
    _title(ax, d, None, table, title, filter=filter)
    return ax


def _place_text(ax: Axes, text: str, xy: tuple[float, float], colour: str, renderer: Any,
                obstacles: list[Bbox], points: list[tuple[int, Bbox]]) -> None:
    """A small label next to a point, at the first nearby spot covering nothing else."""
    axbox = ax.get_window_extent(renderer)
    fallback = None
    for dx, dy in ((8, -13), (-8, 5), (8, 5), (-8, -13), (0, 10), (0, -18), (14, -24),
                   (-14, 16)):
        ann = ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points",
                          ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                          fontsize=7.5, color=colour, zorder=8, fontweight="bold")
        box = ann.get_window_extent(renderer)
        inside = axbox.x0 <= box.x0 and box.x1 <= axbox.x1 and axbox.y0 <= box.y0 and \
            box.y1 <= axbox.y1
        if inside and not any(box.overlaps(o) for o in obstacles) and not any(
                box.overlaps(b) for _i, b in points):
            obstacles.append(box)
            if fallback is not None:
                fallback.remove()
            return
        if fallback is None:
            fallback = ann
        else:
            ann.remove()
    if fallback is not None:
        obstacles.append(fallback.get_window_extent(renderer))


def write_sweep(traces: Sequence[Any], path: str | os.PathLike[str], **options: Any) -> Path:
    """:func:`plot_sweep` written as PNG, SVG or PDF (chosen by the suffix)."""
    out = Path(path)
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"cannot write a sweep plot as {out.name}: use a .png, .svg or .pdf "
                         "suffix (sweep plots are static)")
    return save(plot_sweep(traces, **options), out)


def _roofline_axes(ax: Axes | None, d: _Data, figsize: tuple[float, float]) -> Axes:
    """Log-log axes with limits that hold every point and roof, styled; new ones if None."""
    if ax is None:
        ax = _new_axes(figsize)
    ax.set_xscale("log")
    ax.set_yscale("log")
    (x0, x1), (y0, y1) = _limits(d)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    _axes_style(ax, d)
    return ax


def _new_axes(figsize: tuple[float, float]) -> Axes:
    """A figure of its own (no pyplot state), with room on the right for the legends."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    # fixed margins (no layout engine) so label placement is final; legends on the right
    fig.subplots_adjust(left=0.075, right=0.70, bottom=0.1, top=0.88)
    return fig.add_subplot()


def save(fig_or_ax: Any, path: str | os.PathLike[str], dpi: int = 150) -> Path:
    """Write a figure (or an Axes' figure) as PNG, SVG or PDF, chosen by the suffix.

    The file appears complete or not at all (written to a temporary file, then renamed).
    """
    out = Path(path)
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot tell the image format of {out}: use a .png, .svg, .pdf or "
                         ".html suffix")
    fig: Figure = fig_or_ax if hasattr(fig_or_ax, "savefig") else fig_or_ax.figure
    with atomic_output(out) as fh:
        meta: dict[str, Any] = {"Software": "roofprof"} if fmt == "png" else {}
        if fmt == "svg":
            meta = {"Date": None}
        elif fmt == "pdf":
            meta = {"CreationDate": None}
        # legends placed outside the axes: make the tight box include every one of them
        extra = [a for axes in fig.axes for a in [*axes.artists, axes.get_legend()]
                 if a is not None]
        fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta,
                    bbox_extra_artists=extra)
    return out


def write(table_or_trace: Any, path: str | os.PathLike[str], **options: Any) -> Path:
    """Plot and write in one call; the suffix picks PNG, SVG, PDF or interactive HTML."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix in (".html", ".htm"):
        from roofprof.html import write_html

        return write_html(table_or_trace, out, **options)
    if suffix not in FORMATS:
        raise UsageError(f"cannot tell the output format of {out}: use a .png, .svg, .pdf or "
                         ".html suffix")
    ax = plot(table_or_trace, **options)
    return save(ax, out)
