"""Roofline plots: a pure scene builder, a matplotlib renderer and an HTML page over it.

* :mod:`.scene` (what is shown, as data; numbers from :mod:`roofprof.analysis.roofline` only),
  :mod:`.sweep` (several traces on one roofline), :mod:`.colours` (fixed colours),
* :mod:`.static` (matplotlib) with :mod:`.placement` (labels), :mod:`.html` (the page).

:func:`plot` returns a matplotlib Axes and never calls ``plt.show()``; :func:`write_scene` picks
PNG, SVG, PDF or HTML by the suffix and writes atomically. This module imports nothing heavy at
import time (matplotlib loads when a figure is drawn).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from roofprof.errors import UsageError
from roofprof.tables.files import atomic_output, check_destination
from roofprof.views.chart.scene import MAX_POINTS, Scene, build
from roofprof.views.chart.sweep import build_sweep

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
HTML = (".html", ".htm")


def build_scene(table_or_trace: Any, **options: Any) -> Scene:
    """The :class:`~roofprof.views.chart.scene.Scene` :func:`plot` draws (options as for plot)."""
    return build(table_or_trace, **options)


def plot(table_or_trace: Any, ax: Axes | None = None, *, by: str = "range",
         levels: Sequence[str] = ("dram",), filter: str | None = None, title: str | None = None,
         label_top: int = 5, depth: int | None = None, max_points: int | None = None,
         figsize: tuple[float, float] = (12.0, 6.8)) -> Axes:
    """Draw the measured roofline of a trace (or kernel table) and return the Axes.

    ``by`` colours kernels by group (see :func:`roofprof.analysis.roofline.summarize`); ``levels``
    ``("dram", "l2", "l1")`` draws each kernel at each level, joined by a thin line;
    ``filter`` keeps kernels whose name, range, phase, category or op matches the regex;
    ``label_top`` labels the heaviest kernel names. With more than ``max_points`` points the
    kernels are drawn as a 2-D histogram weighted by GPU time.
    """
    from roofprof.views.chart.static import render  # matplotlib: loaded to draw

    s = build(table_or_trace, by=by, levels=levels, filter=filter, title=title,
              label_top=label_top, depth=depth, max_points=max_points or MAX_POINTS)
    return render(s, ax, figsize).ax


def plot_sweep(traces: Sequence[Any], ax: Axes | None = None, *,
               labels: Sequence[str] | None = None, by: str = "phase",
               levels: Sequence[str] = ("dram",), filter: str | None = None,
               title: str | None = None, depth: int | None = None,
               figsize: tuple[float, float] = (12.0, 6.8)) -> Axes:
    """Several traces (a batch or candidate-count sweep) on one measured roofline
    (see :mod:`roofprof.views.chart.sweep`)."""
    from roofprof.views.chart.static import render  # matplotlib: loaded to draw

    s = build_sweep(traces, labels=labels, by=by, levels=levels, filter=filter, title=title,
                    depth=depth)
    return render(s, ax, figsize).ax


def save(fig_or_ax: Any, path: str | os.PathLike[str], dpi: int = 150) -> Path:
    """Write a figure (or an Axes' figure) as PNG, SVG or PDF, chosen by the suffix.

    The file appears complete or not at all (written to a temporary file, then renamed).
    """
    out = Path(path)
    fmt = image_format(out)
    with atomic_output(out) as fh:
        save_into(fig_or_ax, fh, fmt, dpi)
    return out


def image_format(path: Path) -> str:
    """``png``, ``svg`` or ``pdf`` by the suffix of ``path`` (a :class:`UsageError` for
    others)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot tell the image format of {path}: use a .png, .svg, .pdf or "
                         ".html suffix")
    return fmt


def save_into(fig_or_ax: Any, fh: BinaryIO, fmt: str, dpi: int = 150) -> None:
    """Write a figure (or an Axes' figure) into the open file ``fh`` as ``fmt`` (png, svg,
    pdf), without the date or the software version that would make its bytes differ."""
    fig: Any = fig_or_ax if hasattr(fig_or_ax, "savefig") else fig_or_ax.figure
    metas: dict[str, dict[str, Any]] = {"png": {"Software": "roofprof"}, "svg": {"Date": None},
                                         "pdf": {"CreationDate": None}}
    # legends placed outside the axes: make the tight box include every one of them
    extra = [a for axes in fig.axes for a in [*axes.artists, axes.get_legend()] if a is not None]
    fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metas[fmt],
                bbox_extra_artists=extra)


def check_output(path: str | os.PathLike[str]) -> None:
    """Refuse, before the work, an output whose suffix names no format a plot is written in
    (a :class:`UsageError`), or that cannot be written: a folder, or in a folder that does not
    exist (an :class:`~roofprof.errors.OutputError`, as writing it would give)."""
    out = Path(path)
    if out.suffix.lower() not in (*FORMATS, *HTML):
        raise UsageError(f"cannot tell the output format of {out}: use a .png, .svg, .pdf or "
                         ".html suffix")
    check_destination(out)


def write(table_or_trace: Any, path: str | os.PathLike[str], **options: Any) -> Path:
    """Build the scene of a trace (options as for :func:`plot`) and write it; the suffix picks
    PNG, SVG, PDF or interactive HTML."""
    check_output(path)
    return write_scene(build_scene(table_or_trace, **options), path)


def write_scene(scene: Scene, path: str | os.PathLike[str]) -> Path:
    """Draw a built scene (e.g. :func:`roofprof.views.chart.dataset_scene.build_dataset`'s) as PNG,
    SVG, PDF or interactive HTML, chosen by the suffix (atomically)."""
    out = Path(path)
    if out.suffix.lower() not in HTML:
        image_format(out)  # a wrong suffix fails before anything is written
    with atomic_output(out) as fh:
        draw(scene, fh, out)
    return out


def draw(scene: Scene, fh: BinaryIO, path: str | os.PathLike[str]) -> None:
    """Draw ``scene`` into the open file ``fh`` in the format of ``path``'s suffix (PNG, SVG,
    PDF or interactive HTML): the drawing of :func:`write_scene`, for a file written with
    others as one set (:func:`roofprof.tables.files.atomic_outputs`)."""
    out = Path(path)
    if out.suffix.lower() in HTML:
        from roofprof.views.chart.html import to_html

        fh.write(to_html(scene).encode("utf-8"))
        return
    fmt = image_format(out)
    from roofprof.views.chart.static import render

    save_into(render(scene).ax, fh, fmt)
