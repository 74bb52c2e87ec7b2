"""The Python API's use cases in the shapes users work with (``roofprof.summary`` returns the
summary's table, ``roofprof.plot`` a matplotlib Axes): thin over the application functions the
command line calls, so the two cannot disagree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from roofprof.app.common import Inputs
from roofprof.app.plot import plot as plot_scene
from roofprof.app.summary import summary as summarize
from roofprof.tables.kernels import Trace

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def summary(inputs: Inputs, by: str | None = None, level: str | None = None,
            depth: int | None = None, top: int | None = None, filter: str | None = None,
            **options: Any) -> pd.DataFrame:
    """The measured roofline numbers per group of ``inputs`` (a Trace, a kernel table, or
    paths): :func:`roofprof.app.summary.summary`'s table (``options``: its other keywords)."""
    return summarize(inputs, by=by, level=level, depth=depth, top=top, filter=filter,
                     **options).table


def plot(inputs: Inputs | Sequence[Trace], ax: Axes | None = None, *,
         figsize: tuple[float, float] = (12.0, 6.8), **options: Any) -> Axes:
    """Draw the measured roofline of ``inputs`` on ``ax`` (a new figure where None) and return
    the Axes; never shows it. ``options``: :func:`roofprof.app.plot.plot`'s keywords (``by``,
    ``levels``, ``filter``, ``sweep``, ``model``, ...)."""
    from roofprof.views.chart.static import render  # matplotlib: loaded when a plot is drawn

    return render(plot_scene(inputs, **options), ax, figsize).ax

