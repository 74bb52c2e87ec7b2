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
from matplotlib.text import Text
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

    def cost(self, box: Bbox, own_row: int | None = None, lines: bool = True,
             own_line: int | None = None) -> int:
        """How much ``box`` covers: text and aggregates (group markers) count most (a kernel
        label never hides one), then lines (all but ``own_line``, the index of the line the
        text labels), then kernel markers."""
        return (TEXT_COST * sum(box.overlaps(o) for o in self.text)
                + sum((TEXT_COST if row == -1 else 1) for row, b in self.markers
                      if row != own_row and box.overlaps(b))
                + (2 * sum(any(box.overlaps(b) for b in line)
                           for i, line in enumerate(self.lines) if i != own_line)
                   if lines else 0))

    def clear(self, box: Bbox, own_row: int | None = None, lines: bool = True) -> bool:
        return self.cost(box, own_row, lines) == 0

    def add_line(self, ax: Axes, xs: Sequence[float], ys: Sequence[float], steps: int = 40,
                 ) -> int:
        """Boxes along a polyline drawn in data coordinates (log axes: sampled in log); its
        index in :attr:`lines` (the ``own_line`` of its label)."""
        pts = ax.transData.transform(list(zip(xs, ys, strict=True)))
        boxes = []
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            n = max(steps, int(math.hypot(x1 - x0, y1 - y0) / 4))  # boxes touch: no holes
            for i in range(n + 1):
                f = i / n
                x, y = x0 + (x1 - x0) * f, y0 + (y1 - y0) * f
                boxes.append(Bbox.from_bounds(x - 3, y - 3, 6, 6))  # line + a gap
        self.lines.append(boxes)
        return len(self.lines) - 1


def renderer(ax: Axes) -> Any:
    fig: Any = ax.figure
    get = getattr(fig.canvas, "get_renderer", None)
    return get() if get is not None else fig._get_renderer()


def inside(ax: Axes, box: Bbox, rend: Any) -> bool:
    """Whether ``box`` lies inside the axes, clear of their edges (and so of the tick labels
    beside them) by a few points."""
    a = ax.get_window_extent(rend).padded(-4 * ax.figure.dpi / 72.0)
    return bool(box.x0 >= a.x0 and box.x1 <= a.x1 and box.y0 >= a.y0 and box.y1 <= a.y1)


#: a roof label's parts: split over two lines where the one-line label finds no clear spot
PARTS = "  ·  "


def slide_along(label: Any, rend: Any, obstacles: Obstacles, start: float,
                own_line: int | None = None) -> None:
    """Slide a roof or slope label along its line (then below it) until it covers nothing:
    no text, no marker and no line but its own (``own_line``, an index into
    ``obstacles.lines``), so no other roof or slope strikes it through. A roof label that
    finds no clear spot on one line tries again on two (narrower: it fits between lines)."""
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
    if horizontal:  # then left of where the roof meets the steepest slope, then below
        spots += [((start, y), (-6, 3), "bottom")] + [(xy, (-4, -3), "top")
                                                       for xy, _o, _v in spots]
    text = label.get_text()
    texts = [text, text.replace(PARTS, "\n")] if horizontal and PARTS in text else [text]
    best: tuple[int, int, int] | None = None
    for j, i in itertools.product(range(len(texts)), range(len(spots))):
        xy, offset, va = spots[i]
        label.set_text(texts[j])
        label.xy, label.xyann = xy, offset
        label.set_va(va)
        cost = obstacles.cost(label.get_window_extent(rend), own_line=own_line)
        if best is None or cost < best[0]:
            best = (cost, j, i)
        if cost == 0:
            break
    _cost, j, i = best if best else (0, 0, 0)  # nowhere clear: the least covered spot
    xy, offset, va = spots[i]
    label.set_text(texts[j])
    label.xy, label.xyann = xy, offset
    label.set_va(va)
    obstacles.text.append(label.get_window_extent(rend))


def text_box(ann: Any, rend: Any) -> Bbox:
    """The screen box of an annotation's text and its frame, without its leader line (the
    box a reader sees: what must not cover a marker)."""
    ann.get_window_extent(rend)  # places the text for this renderer
    box = Text.get_window_extent(ann, rend)
    patch = ann.get_bbox_patch()
    if patch is None:
        return box
    pad = patch.get_boxstyle().pad * ann.get_fontsize() + patch.get_linewidth()
    return box.padded(pad * ann.figure.dpi / 72.0)


def leader_cost(obstacles: Obstacles, box: Bbox, xy: Any, steps: int = 24) -> int:
    """How much the leader from ``box`` to the point ``xy`` (screen) crosses: each group
    marker and each other text it passes through (a leader through a word is hard to read)."""
    cx, cy = min(max(xy[0], box.x0), box.x1), min(max(xy[1], box.y0), box.y1)
    pts = [(cx + (xy[0] - cx) * i / steps, cy + (xy[1] - cy) * i / steps)
           for i in range(1, steps)]
    crossed = [b for row, b in obstacles.markers if row == -1 and not b.contains(*xy)]
    crossed += obstacles.text
    return 3 * sum(any(b.contains(x, y) for x, y in pts) for b in crossed)


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
    inside the axes that covers no text and no group marker; None when every spot does."""
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
        box = text_box(ann, rend)
        cost = (obstacles.cost(box, own_row=row)
                + (leader_cost(obstacles, box, ax.transData.transform(xy)) if boxed else 0)
                if inside(ax, box, rend) else None)
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
    if chosen is not None:  # its text box: leaders are kept off text by leader_cost
        obstacles.text.append(text_box(chosen, rend))
    return chosen
