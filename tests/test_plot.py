"""Static and interactive roofline plots: valid files, sensible sizes, every kernel named."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from roofprof import chart as P
from roofprof.errors import OutputError, UsageError
from roofprof.html import figure
from tests import _synth


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _synth.h100_table()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_is_valid_and_sized(table: pd.DataFrame, tmp_path: Path) -> None:
    out = P.write(table, tmp_path / "r.png")
    w, h = _png_size(out)
    assert 1200 <= w <= 2400
    assert 700 <= h <= 1400
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_svg_and_pdf(table: pd.DataFrame, tmp_path: Path) -> None:
    svg = P.write(table, tmp_path / "r.svg", levels=("dram", "l2", "l1"))
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml")
    assert "<svg" in text
    assert "DRAM 3.35 TB/s" in text or "DRAM" in text
    pdf = P.write(table, tmp_path / "r.pdf", by="kernel")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf.stat().st_size > 5000


def test_plot_returns_axes_with_log_axes_and_measured_roofs(table: pd.DataFrame) -> None:
    ax = P.plot(table)
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "log"
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("BF16 tensor 9") and "TFLOP/s" in t for t in texts)
    assert any(t.startswith("DRAM 3.35 TB/s") for t in texts)
    assert "NVIDIA H100" in ax.get_title(loc="left")
    # every labelled kernel text is inside the axes and no two texts overlap
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()
             and t.get_visible() and "measured roofline" not in t.get_text()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)


def test_plot_into_a_given_axes(table: pd.DataFrame) -> None:
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    assert P.plot(table, ax=ax, label_top=2, title="mine") is ax
    assert ax.get_title(loc="left").startswith("mine")


def test_filter_and_depth(table: pd.DataFrame, tmp_path: Path) -> None:
    ax = P.plot(table, filter="^decode", depth=1)
    assert "filter" in ax.texts[-1].get_text() or any("filter" in t.get_text()
                                                       for t in ax.texts)
    with pytest.raises(UsageError, match="no kernel, range, phase, category or op matches"):
        P.plot(table, filter="nothing-like-this")
    with pytest.raises(UsageError, match="regular expression"):
        P.plot(table, filter="(")


def test_density_mode_for_many_kernels(table: pd.DataFrame, tmp_path: Path) -> None:
    big = _synth.replicate(table, 30_000)
    out = P.write(big, tmp_path / "big.png")
    assert _png_size(out)[0] > 1000


def test_html_is_self_contained_and_names_every_kernel(table: pd.DataFrame,
                                                       tmp_path: Path) -> None:
    out = P.write(table, tmp_path / "r.html", levels=("dram", "l2"))
    text = out.read_text()
    assert "<html" in text
    assert not re.search(r"<script[^>]*\ssrc=", text)  # plotly.js inlined: opens offline
    assert "Plotly.newPlot" in text
    for name in table["kernel"]:
        assert name in text or json.dumps(name)[1:-1] in text, name
    assert "% of roof" in text


def test_html_collapses_large_traces(table: pd.DataFrame, tmp_path: Path) -> None:
    big = _synth.replicate(table, 5_000)
    fig = figure(big, max_points=1_000)
    points = sum(len(t.x) for t in fig.data if t.mode == "markers")
    assert points <= big[["kernel", "range"]].drop_duplicates().shape[0]


@pytest.mark.parametrize("name", ["r.txt", "r"])
def test_unknown_suffix_is_a_usage_error(table: pd.DataFrame, tmp_path: Path,
                                         name: str) -> None:
    with pytest.raises(UsageError, match="suffix"):
        P.write(table, tmp_path / name)


def test_unwritable_output_is_an_output_error(table: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        P.write(table, tmp_path / "missing" / "r.png")
    with pytest.raises(OutputError, match="does not exist"):
        P.write(table, tmp_path / "missing" / "r.html")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if (locked / "probe").exists() or _can_write(locked):
            pytest.skip("running as a user that ignores permissions")
        with pytest.raises(OutputError, match="cannot write"):
            P.write(table, locked / "r.png")
    finally:
        locked.chmod(0o700)


def _can_write(folder: Path) -> bool:
    try:
        (folder / "probe").write_text("")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


def test_empty_trace_and_bad_levels(table: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="no kernels"):
        P.plot(_synth.table([]))
    with pytest.raises(UsageError, match="memory level"):
        P.plot(table, levels=("dram", "hbm"))
    with pytest.raises(UsageError, match="no such column"):
        P.plot(table, by="phase_of_the_moon")


def test_import_roofprof_plot_stays_light() -> None:
    code = ("import sys, roofprof.chart, roofprof.html; "
            "print(sorted(m for m in ('matplotlib', 'plotly', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
