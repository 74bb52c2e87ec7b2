"""The matplotlib renderer: draws a :class:`~roofprof.views.chart.scene.Scene`, computes nothing.

Draws on a fresh ``Figure`` (never pyplot's global state, never ``plt.show()``) or on the
given Axes. Every drawn collection gets an id (``gid``) and :class:`Drawing` says which scene
rows each one holds, so the HTML page can attach every number to the right marker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from roofprof.analysis.roofline import LEVEL_LABELS, PRECISION_LABELS
from roofprof.views.chart.colours import OTHER
from roofprof.views.chart.placement import Obstacles, place, renderer, ring, slide_along
from roofprof.views.chart.scene import MARKERS, Scene
from roofprof.views.fmt import plain, si

LEVEL_STYLE = {"dram": (0.85, False), "l2": (0.45, False), "l1": (0.9, True)}  # alpha, hollow
#: the dashed edge of a partial group's aggregate (part of its time measured)
PARTIAL_EDGE = (0, (2, 1))


@dataclass
class Drawing:
    ax: Axes
    #: gid of a scatter collection -> the scene's kernel rows it holds, in drawing order
    points: dict[str, list[int]] = field(default_factory=dict)
    #: gid of an aggregate marker -> index into scene.aggregates
    aggregates: dict[str, int] = field(default_factory=dict)
    #: gid of a model marker -> index into scene.models
    models: dict[str, int] = field(default_factory=dict)


def new_axes(figsize: tuple[float, float] = (12.0, 6.8)) -> Axes:
    """A figure of its own (no pyplot state), with room on the right for the legends."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    # fixed margins (no layout engine) so label placement is final; legends on the right
    fig.subplots_adjust(left=0.075, right=0.70, bottom=0.1, top=0.88)
    return fig.add_subplot()


def render(scene: Scene, ax: Axes | None = None,
           figsize: tuple[float, float] = (12.0, 6.8)) -> Drawing:
    d = Drawing(ax if ax is not None else new_axes(figsize))
    _axes(d.ax, scene)
    if scene.density:
        _density(d.ax, scene)
    else:
        _points(d, scene)
    _aggregates(d, scene)
    _models(d, scene)
    _legends(d.ax, scene)
    _title(d.ax, scene)
    rend = renderer(d.ax)
    obstacles = _marker_boxes(d.ax, scene)
    _roofs(d.ax, scene, obstacles, rend)
    for row, text in scene.labels:
        k = scene.kernels
        xy = (float(k[f"x_{scene.levels[0]}"].to_numpy(dtype=np.float64)[row]),
              float(k["y"].to_numpy(dtype=np.float64)[row]))
        place(d.ax, plain(text), xy, rend, obstacles, row=row, offsets=ring(), boxed=True)
    for a in scene.aggregates:
        if a.series is not None:
            xy = (a.x[next(iter(a.x))], a.y)
            place(d.ax, plain(a.series), xy, rend, obstacles, row=-1, boxed=False,
                     offsets=[(8, -13), (-8, 5), (8, 5), (-8, -13), (0, 10), (0, -18),
                              (14, -24), (-14, 16)], colour=a.colour, fontsize=7.5)
    return d


def _axes(ax: Axes, s: Scene) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*s.xlim)
    ax.set_ylim(*s.ylim)
    xunit = "OP" if s.unit == "OP/s" else "FLOP"
    ax.set_xlabel(f"Arithmetic intensity ({xunit}/byte, "
                  f"{' / '.join(LEVEL_LABELS[v] for v in s.levels)} traffic)")
    ax.set_ylabel(f"Performance ({s.unit})")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: si(v, "").strip() or "0"))
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, numticks=20))
        axis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", color="#e4e4e4", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _points(d: Drawing, s: Scene) -> None:
    k = s.kernels
    y = k["y"].to_numpy(dtype=np.float64)
    size = k["size"].to_numpy(dtype=np.float64)
    faint = bool(s.arrows) or any(a.series for a in s.aggregates)
    order = np.argsort(-size, kind="stable")  # heavy points first: light ones stay visible
    if len(s.levels) > 1:
        xs = np.column_stack([k[f"x_{lvl}"].to_numpy(dtype=np.float64) for lvl in s.levels])
        with np.errstate(all="ignore"):
            lo, hi = np.nanmin(xs, axis=1), np.nanmax(xs, axis=1)
        segs = [((a, b), (c, b)) for a, b, c in zip(lo, y, hi, strict=True)]
        d.ax.add_collection(LineCollection(segs, colors="#9a9a9a", linewidths=0.6, zorder=3,
                                           alpha=0.7))
    marker = k["marker"].to_numpy(dtype=object)
    colours = k["colour"].to_numpy(dtype=object)
    for lvl in s.levels:
        x = k[f"x_{lvl}"].to_numpy(dtype=np.float64)
        alpha, hollow = LEVEL_STYLE[lvl] if len(s.levels) > 1 else (0.8, False)
        if faint:
            alpha, size = 0.16, size * 0.5
        ok = np.isfinite(x)
        for m in dict.fromkeys(MARKERS.values()):
            sel = order[(marker[order] == m) & ok[order]]
            if not len(sel):
                continue
            if hollow:
                coll = d.ax.scatter(x[sel], y[sel], s=size[sel], marker=m, facecolors="none",
                                    edgecolors=list(colours[sel]), linewidths=1.1, alpha=alpha,
                                    zorder=4)
            else:
                coll = d.ax.scatter(x[sel], y[sel], s=size[sel], marker=m, c=list(colours[sel]),
                                    edgecolors="white", linewidths=0.5, alpha=alpha, zorder=4)
            gid = f"kernels-{lvl}-{len(d.points)}"
            coll.set_gid(gid)
            d.points[gid] = [int(i) for i in sel]


def _density(ax: Axes, s: Scene) -> None:
    """Kernels as a 2-D histogram of GPU time (first level only), for very large traces."""
    from matplotlib.colors import LogNorm

    k = s.kernels
    x = np.log10(k[f"x_{s.levels[0]}"].to_numpy(dtype=np.float64))
    y = np.log10(k["y"].to_numpy(dtype=np.float64))
    w = k["time_ns"].to_numpy(dtype=np.float64) * 1e-9
    xe = np.linspace(math.log10(s.xlim[0]), math.log10(s.xlim[1]), 161)
    ye = np.linspace(math.log10(s.ylim[0]), math.log10(s.ylim[1]), 101)
    ok = np.isfinite(x) & np.isfinite(y)
    hist, _, _ = np.histogram2d(x[ok], y[ok], bins=(xe, ye), weights=w[ok])
    hist[hist <= 0] = np.nan
    if np.all(np.isnan(hist)):
        return
    mesh = ax.pcolormesh(10 ** xe, 10 ** ye, hist.T, cmap="viridis_r", zorder=3,
                         norm=LogNorm(vmin=float(np.nanmax(hist)) * 1e-5,
                                      vmax=float(np.nanmax(hist))), rasterized=True)
    fig: Any = ax.figure
    cax = ax.inset_axes((0.66, 0.07, 0.3, 0.025))
    bar = fig.colorbar(mesh, cax=cax, orientation="horizontal")
    bar.set_label("GPU time per cell (s)", fontsize=8)
    bar.ax.tick_params(labelsize=7)


def _aggregates(d: Drawing, s: Scene) -> None:
    for i, a in enumerate(s.aggregates):
        for lvl, x in a.x.items():
            hollow = a.partial or (len(s.levels) > 1 and LEVEL_STYLE[lvl][1])
            # a partial group's diamond: hollow, its edge dashed (an L1 one is hollow, solid)
            coll = d.ax.scatter([x], [a.y], s=110 if a.series is None else 90, marker="D",
                                facecolors="white" if hollow else a.colour,
                                edgecolors=a.colour if hollow else "black",
                                linewidths=2.0 if a.partial else 1.4,
                                linestyles=PARTIAL_EDGE if a.partial else "solid", zorder=7)
            gid = f"aggregate-{i}-{lvl}"
            coll.set_gid(gid)
            d.aggregates[gid] = i
        if len(a.x) > 1:
            d.ax.plot([min(a.x.values()), max(a.x.values())], [a.y, a.y], color=a.colour,
                      linewidth=1.4, zorder=6)
    for i, j in s.arrows:
        a, b = s.aggregates[i], s.aggregates[j]
        first = s.levels[0]
        if first in a.x and first in b.x:
            d.ax.annotate("", (b.x[first], b.y), xytext=(a.x[first], a.y), zorder=6,
                          arrowprops={"arrowstyle": "-|>", "color": a.colour, "lw": 1.6,
                                      "shrinkA": 6, "shrinkB": 6, "mutation_scale": 12})


def _models(d: Drawing, s: Scene) -> None:
    """The model's points: hollow circles in the group's colour, dotted to the measured."""
    for i, m in enumerate(s.models):
        if m.measured is not None:
            d.ax.plot([m.x, m.measured[0]], [m.y, m.measured[1]], color=m.colour,
                      linestyle=(0, (1, 2)), linewidth=1.1, zorder=6)
        coll = d.ax.scatter([m.x], [m.y], s=95, marker="o", facecolors="none",
                            edgecolors=m.colour, linewidths=1.8, zorder=8)
        gid = f"model-{i}"
        coll.set_gid(gid)
        d.models[gid] = i


def _marker_boxes(ax: Axes, s: Scene) -> Obstacles:
    from matplotlib.transforms import Bbox

    obs = Obstacles()
    scale = ax.figure.dpi / 72.0
    k = s.kernels
    if not s.density and len(k):
        big = np.argsort(-k["size"].to_numpy(dtype=np.float64), kind="stable")[:300]
        y = k["y"].to_numpy(dtype=np.float64)[big]
        r = np.sqrt(k["size"].to_numpy(dtype=np.float64)[big]) / 2 * scale
        for lvl in s.levels:
            x = k[f"x_{lvl}"].to_numpy(dtype=np.float64)[big]
            ok = np.isfinite(x)
            pts = ax.transData.transform(np.column_stack([x[ok], y[ok]]))
            for row, (px, py), rr in zip(big[ok], pts, r[ok], strict=True):
                obs.markers.append((int(row), Bbox.from_bounds(px - rr, py - rr, 2 * rr, 2 * rr)))
    ra = 7 * scale
    for a in s.aggregates:
        for xv in a.x.values():
            ax_, ay_ = ax.transData.transform(np.array([[xv, a.y]]))[0]
            obs.markers.append((-1, Bbox.from_bounds(ax_ - ra, ay_ - ra, 2 * ra, 2 * ra)))
    for m in s.models:
        mx_, my_ = ax.transData.transform(np.array([[m.x, m.y]]))[0]
        obs.markers.append((-1, Bbox.from_bounds(mx_ - ra, my_ - ra, 2 * ra, 2 * ra)))
    first = s.levels[0]
    for i, j in s.arrows:
        a, b = s.aggregates[i], s.aggregates[j]
        if first in a.x and first in b.x:
            obs.add_line(ax, [a.x[first], b.x[first]], [a.y, b.y], steps=20)
    return obs


def _roofs(ax: Axes, s: Scene, obs: Obstacles, rend: Any) -> None:
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    top = max((r.peak for r in s.roofs), default=y1 / 10)
    max_bw = max((sl.bandwidth for sl in s.slopes), default=0.0)
    first_bw = s.slopes[0].bandwidth if s.slopes and s.slopes[0].level == s.levels[0] else None
    slope_lines, roof_lines = [], []
    for sl in s.slopes:  # lines first: every label then avoids every other line
        end = min(top / sl.bandwidth, x1)
        ax.plot([x0, end], [x0 * sl.bandwidth, end * sl.bandwidth], color=sl.colour,
                linewidth=1.5, zorder=2)
        slope_lines.append(obs.add_line(ax, [x0, end], [x0 * sl.bandwidth, end * sl.bandwidth]))
    for i, roof in enumerate(s.roofs):
        start = roof.peak / max_bw if max_bw else x0
        ax.plot([start, x1], [roof.peak, roof.peak], color="#333333", linewidth=1.6 - 0.2 * i,
                linestyle="-" if i == 0 else (0, (6, 2)), zorder=2)
        roof_lines.append(obs.add_line(ax, [start, x1], [roof.peak, roof.peak]))
    for roof, own in zip(s.roofs, roof_lines, strict=True):
        text = roof.label
        start = roof.peak / max_bw if max_bw else x0
        if first_bw:
            ridge = roof.peak / first_bw
            ax.plot([ridge], [roof.peak], marker="o", markersize=4.5, color="#333333", zorder=3)
            name = "ridge" if len(s.levels) == 1 else f"{LEVEL_LABELS[s.levels[0]]} ridge"
            unit = "OP/B" if roof.unit == "OP/s" else "FLOP/B"
            text += f"  ·  {name} {ridge:,.0f} {unit}" if ridge >= 10 else \
                f"  ·  {name} {ridge:.2g} {unit}"
        label = ax.annotate(plain(text), (x1, roof.peak), xytext=(-4, 3),
                            textcoords="offset points", ha="right", va="bottom", fontsize=8.5,
                            color="#222222", zorder=6)
        slide_along(label, rend, obs, start, own)
    for sl, own in zip(s.slopes, slope_lines, strict=True):
        lx = x0 * 2.2
        if lx * sl.bandwidth < y0 or lx * sl.bandwidth > y1:  # enters the plot later
            lx = y0 * 1.6 / sl.bandwidth
        p0 = ax.transData.transform((lx, lx * sl.bandwidth))
        p1 = ax.transData.transform((lx * 10, lx * 10 * sl.bandwidth))
        angle = math.degrees(math.atan2(p1[1] - p0[1], p1[0] - p0[0]))
        label = ax.annotate(plain(sl.label), (lx, lx * sl.bandwidth), xytext=(0, 4),
                            textcoords="offset points", rotation=angle, rotation_mode="anchor",
                            ha="left", va="bottom", fontsize=8.5, color=sl.colour, zorder=6)
        slide_along(label, rend, obs, x0, own)


def _legends(ax: Axes, s: Scene) -> None:
    handles = [Line2D([], [], marker="s", linestyle="", markersize=8, color=c, label=plain(lab))
               for lab, c in s.legend]
    first = ax.legend(handles=handles, title=s.legend_title, loc="upper left",
                      bbox_to_anchor=(1.02, 1.0), fontsize=8, title_fontsize=8.5,
                      frameon=False, borderaxespad=0.0, handletextpad=0.4)
    first._legend_box.align = "left"  # type: ignore[attr-defined]
    ax.add_artist(first)
    keys: list[Any] = []
    if not s.density:
        present = set(s.kernels["precision"].dropna())
        for prec, marker in MARKERS.items():
            if prec in present:
                keys.append(Line2D([], [], marker=marker, linestyle="", markersize=7,
                                   markerfacecolor="#777777", markeredgecolor="white",
                                   label=PRECISION_LABELS[prec]))
        if len(s.levels) > 1:
            for lvl in s.levels:
                alpha, hollow = LEVEL_STYLE[lvl]
                keys.append(Line2D([], [], marker="o", linestyle="", markersize=7,
                                   markerfacecolor="none" if hollow else "#555555",
                                   markeredgecolor="#555555", alpha=alpha,
                                   label=f"at {LEVEL_LABELS[lvl]} traffic"))
        keys.append(Line2D([], [], linestyle="", label="marker area ∝ GPU time"))
    else:
        keys.append(Line2D([], [], linestyle="", label=f"{len(s.kernels):,} kernels: density "
                           f"at {LEVEL_LABELS[s.levels[0]]}"))
    for note in s.notes:
        mark = note.startswith("◆")
        if note.startswith("◇"):   # a partial group's aggregate: hollow, dashed, as drawn
            keys.append(ax.scatter([], [], s=50, marker="D", facecolors="white",
                                   edgecolors="#555555", linewidths=1.6,
                                   linestyles=PARTIAL_EDGE, label=plain(note.lstrip("◇ "))))
            continue
        if note.startswith("○"):   # the model's points: a hollow circle
            keys.append(Line2D([], [], marker="o", linestyle="", markersize=8,
                               markerfacecolor="none", markeredgecolor="#555555",
                               markeredgewidth=1.6, label=plain(note.lstrip("○ "))))
            continue
        keys.append(Line2D([], [], marker="D" if mark else None, linestyle="", markersize=7,
                           color=OTHER, markeredgecolor="black",
                           label=plain(note.lstrip("◆ ") if mark else note)))
    ax.legend(handles=keys, loc="lower left", bbox_to_anchor=(1.02, 0.0), fontsize=8,
              frameon=False, borderaxespad=0.0, handletextpad=0.4)


#: the subtitle's parts are packed into lines of at most this many characters (the figure's
#: width at its font size: a longer line ran off the right edge)
SUBTITLE_CHARS = 150


def subtitle_lines(parts: list[str], width: int = SUBTITLE_CHARS) -> list[str]:
    """``parts`` joined by " · " into lines of at most ``width`` characters (a longer part
    stands on a line of its own)."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return lines


def _title(ax: Axes, s: Scene) -> None:
    lines = subtitle_lines([plain(p) for p in s.subtitle])
    ax.set_title(f"{plain(s.title)}" + "\n" * max(1, len(lines)), loc="left", fontsize=12,
                 fontweight="bold")
    ax.text(0.0, 1.015, "\n".join(lines), transform=ax.transAxes, fontsize=8.5,
            color="#555555", ha="left", va="bottom")
