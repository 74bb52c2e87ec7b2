"""Plots a reader can read (issue 25, "Pictures"): measured on the rendered matplotlib figure,
in screen coordinates. No kernel label's box covers a group marker, and no roof line strikes
through another roof's label."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

import roofprof
from roofprof.errors import RoofprofWarning
from roofprof.views import chart as P
from roofprof.views.chart.static import Drawing, render
from tests.conftest import FIXTURES

#: (fixture, grouping, levels): plots with group markers and several compute roofs
PLOTS = [
    ("llama_annotated.ncu-rep", "phase", ("dram",)),
    ("llama_annotated.ncu-rep", "category", ("dram",)),
    ("llama_eager.ncu-rep", "range", ("dram",)),
    ("h200_llama_annotated.ncu-rep", "category", ("dram",)),
    ("spec_verify.ncu-rep", "range", ("dram",)),
    ("batch_16.ncu-rep", "category", ("dram", "l2", "l1")),
]


def _drawn(name: str, by: str, levels: tuple[str, ...]) -> tuple[Any, Drawing]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        trace = roofprof.load(FIXTURES / name)
    scene = P.build_scene(trace, by=by, levels=levels)
    d = render(scene)
    d.ax.figure.canvas.draw()  # final positions, as saved
    return scene, d


def _label_boxes(d: Drawing) -> list[tuple[str, Bbox]]:
    """The framed kernel labels: their frame's screen box, as drawn."""
    out = []
    for t in d.ax.texts:
        patch = t.get_bbox_patch()
        if isinstance(t, Annotation) and patch is not None and t.get_visible():
            out.append((t.get_text(), patch.get_window_extent()))
    return out


def _group_markers(d: Drawing) -> list[tuple[str, float, float]]:
    """The screen centre of every group marker (aggregate diamond)."""
    out = []
    for coll in d.ax.collections:
        gid = coll.get_gid()
        if gid in d.aggregates:
            for px, py in d.ax.transData.transform(coll.get_offsets()):
                out.append((gid, float(px), float(py)))
    return out


@pytest.mark.parametrize(("name", "by", "levels"), PLOTS)
def test_no_kernel_label_covers_a_group_marker(name: str, by: str,
                                               levels: tuple[str, ...]) -> None:
    scene, d = _drawn(name, by, levels)
    labels, markers = _label_boxes(d), _group_markers(d)
    assert markers, "every plot here has group markers"
    assert len(labels) >= min(3, len(scene.labels)), "the heaviest kernels are labelled"
    radius = 5 * d.ax.figure.dpi / 72.0  # the diamond's half-width, about
    for text, box in labels:
        for gid, px, py in markers:
            hit = box.overlaps(Bbox.from_bounds(px - radius, py - radius, 2 * radius,
                                                2 * radius))
            assert not hit, f"label {text!r} covers group marker {gid} in {name} by {by}"


def _ceilings(d: Drawing, scene: Any) -> list[tuple[float, np.ndarray]]:
    """Each roof and bandwidth slope as drawn: (its roof's peak, or 0 for a slope; points
    along it in screen coordinates)."""
    peaks = {r.peak for r in scene.roofs}
    bandwidths = [sl.bandwidth for sl in scene.slopes]
    out = []
    for line in d.ax.lines:
        xs = np.asarray(line.get_xdata(), dtype=np.float64)
        ys = np.asarray(line.get_ydata(), dtype=np.float64)
        if len(xs) != 2 or xs[0] == xs[1]:
            continue
        roof = ys[0] == ys[1] and ys[0] in peaks
        slope = any(ys[0] / xs[0] == pytest.approx(bw) for bw in bandwidths)
        if roof or slope:
            f = np.linspace(0.0, 1.0, 400)
            lx = np.exp(np.log(xs[0]) + (np.log(xs[1]) - np.log(xs[0])) * f)
            ly = np.exp(np.log(ys[0]) + (np.log(ys[1]) - np.log(ys[0])) * f)
            out.append((float(ys[0]) if roof else 0.0,
                        d.ax.transData.transform(np.column_stack([lx, ly]))))
    return out


@pytest.mark.parametrize(("name", "by", "levels"), PLOTS)
def test_no_roof_or_slope_strikes_through_a_roof_label(name: str, by: str,
                                                       levels: tuple[str, ...]) -> None:
    scene, d = _drawn(name, by, levels)
    assert len(scene.roofs) >= 2, "these plots have several compute roofs"
    lines = _ceilings(d, scene)
    assert len(lines) == len(scene.roofs) + len(scene.slopes)
    rend = d.ax.figure.canvas.get_renderer()
    gap = 2 * d.ax.figure.dpi / 72.0  # a line touching the letters strikes them too
    for roof in scene.roofs:
        label = next(t for t in d.ax.texts if t.get_text().startswith(roof.label))
        box = label.get_window_extent(rend).padded(gap)
        for peak, pts in lines:
            if peak == roof.peak:
                continue
            inside = (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) \
                & (pts[:, 1] < box.y1)
            assert not inside.any(), f"a line strikes through {label.get_text()!r} in {name}"
