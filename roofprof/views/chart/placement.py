"""Where text goes on a drawn roofline: labels take the first spot, from a list of candidates,
that stays inside the axes and covers no other text, no heavy marker, no aggregate and no line
(roofs, bandwidth slopes, sweep arrows). Works in screen coordinates on a matplotlib Axes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.axes import Axes
from matplotlib.transforms import Bbox

#: covering text is never acceptable for a kernel label: one is left out rather than overlap
TEXT_COST = 25


@dataclass
class Obstacles:
    """Screen boxes nothing else may cover: text, markers (with the kernel row they belong
    to, -1 for aggregates) and thin boxes along lines."""

    text: list[Bbox] = field(default_factory=list)
    markers: list[tuple[int, Bbox]] = field(default_factory=list)
    #: one list of small boxes per line
    lines: list[list[Bbox]] = field(default_factory=list)

    def cost(self, box: Bbox, own_row: int | None = None, lines: bool = True) -> int:
        """How much ``box`` covers: text counts most, then aggregates, lines, markers."""
        return (TEXT_COST * sum(box.overlaps(o) for o in self.text)
                + sum((5 if row == -1 else 1) for row, b in self.markers
                      if row != own_row and box.overlaps(b))
                + (2 * sum(any(box.overlaps(b) for b in line) for line in self.lines)
                   if lines else 0))

    def clear(self, box: Bbox, own_row: int | None = None, lines: bool = True) -> bool:
        return self.cost(box, own_row, lines) == 0

    def add_line(self, ax: Axes, xs: Sequence[float], ys: Sequence[float], steps: int = 40,
                 ) -> None:
        """Boxes along a polyline drawn in data coordinates (log axes: sampled in log)."""
        pts = ax.transData.transform(list(zip(xs, ys, strict=True)))
        boxes = []
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            for i in range(steps + 1):
                f = i / steps
                x, y = x0 + (x1 - x0) * f, y0 + (y1 - y0) * f
                boxes.append(Bbox.from_bounds(x - 1.5, y - 1.5, 3, 3))
        self.lines.append(boxes)


def renderer(ax: Axes) -> Any:
    fig: Any = ax.figure
    get = getattr(fig.canvas, "get_renderer", None)
    return get() if get is not None else fig._get_renderer()


def inside(ax: Axes, box: Bbox, rend: Any) -> bool:
    a = ax.get_window_extent(rend)
    return bool(box.x0 >= a.x0 and box.x1 <= a.x1 and box.y0 >= a.y0 and box.y1 <= a.y1)


def slide_along(label: Any, rend: Any, obstacles: Obstacles, start: float) -> None:
    """Slide a roof or slope label along its line (then below it) until it covers nothing."""
    x, y = label.xy
    horizontal = label.get_rotation() == 0
    spots: list[tuple[tuple[float, float], tuple[float, float], str]] = []
    for step in range(12):
        f = 1.5 ** step
        if horizontal:
            if x / f < start * 1.5 and step:
                break
            spots.append(((x / f, y), (-4, 3), "bottom"))
        else:
            spots.append(((x * f, y * f), (0, 4), "bottom"))
    if horizontal:
        spots += [(xy, (-4, -3), "top") for xy, _o, _v in spots]
    best: tuple[int, int] | None = None
    for i, (xy, offset, va) in enumerate(spots):
        label.xy, label.xyann = xy, offset
        label.set_va(va)
        cost = obstacles.cost(label.get_window_extent(rend), lines=False)
        if best is None or cost < best[0]:
            best = (cost, i)
        if cost == 0:
            break
    xy, offset, va = spots[best[1] if best else 0]  # nowhere clear: the least covered spot
    label.xy, label.xyann = xy, offset
    label.set_va(va)
    obstacles.text.append(label.get_window_extent(rend))


def ring(radii: Iterable[float] = (14, 24, 36, 52, 72, 96, 124)) -> list[tuple[float, float]]:
    """Offsets (points) around a marker, nearest first."""
    out = []
    for r in radii:
        for deg in range(45, 405, 30):
            a = math.radians(deg)
            out.append((r * 1.4 * math.cos(a), r * math.sin(a)))
    return out


def place(ax: Axes, text: str, xy: tuple[float, float], rend: Any, obstacles: Obstacles, *,
          row: int | None, offsets: Sequence[tuple[float, float]], boxed: bool,
          colour: str = "#222222", fontsize: float = 8.0) -> Any:
    """Annotate ``xy`` with ``text`` at the first clear offset, else the least covered one
    inside the axes that covers no text; None when every spot covers text."""
    fallback: tuple[int, Any] | None = None
    chosen = None
    style: dict[str, Any] = {}
    if boxed:
        style = {"bbox": {"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#bbbbbb",
                          "alpha": 0.9, "lw": 0.5},
                 "arrowprops": {"arrowstyle": "-", "color": "#666666", "lw": 0.7,
                                "shrinkA": 0, "shrinkB": 2}}
    for dx, dy in offsets:
        ann = ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points",
                          ha="left" if dx > 1 else ("right" if dx < -1 else "center"),
                          va="bottom" if dy > 1 else ("top" if dy < -1 else "center"),
                          fontsize=fontsize, color=colour, zorder=8, **style)
        box = ann.get_window_extent(rend)
        cost = obstacles.cost(box, own_row=row) if inside(ax, box, rend) else None
        if cost == 0:
            chosen = ann
            break
        if cost is not None and cost < TEXT_COST and (fallback is None or cost < fallback[0]):
            if fallback is not None:
                fallback[1].remove()
            fallback = (cost, ann)
        else:
            ann.remove()
    if chosen is None:
        chosen = fallback[1] if fallback else None
    elif fallback is not None:
        fallback[1].remove()
    if chosen is not None:
        obstacles.text.append(chosen.get_window_extent(rend))
    return chosen
