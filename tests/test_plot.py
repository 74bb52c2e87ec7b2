"""Roofline plots: the scene holds the summary's numbers; PNG/SVG/PDF/HTML draw it."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

import roofprof
from roofprof.analysis import roofline as rl
from roofprof.errors import InputError, OutputError, RoofprofWarning, UsageError
from roofprof.views import chart as P
from roofprof.views import tables as tb
from roofprof.views.chart.colours import PHASES
from roofprof.views.chart.html import to_html
from roofprof.views.chart.placement import text_box
from tests import _browser, _synth
from tests.conftest import load_fixture

FIXTURES = Path(__file__).parent.parent / "fixtures"


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
    assert any(t.startswith("BF16 tensor 8") and "TFLOP/s" in t for t in texts)
    assert any(t.startswith("DRAM 3.35 TB/s") for t in texts)
    assert "NVIDIA H100" in ax.get_title(loc="left")
    # every labelled kernel text is inside the axes and no two texts (as read: the words
    # and their frame, not the box around a leader line) overlap
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [text_box(t, renderer) for t in ax.texts if t.get_text()
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


def test_html_is_self_contained_small_and_escaped(table: pd.DataFrame,
                                                  tmp_path: Path) -> None:
    evil = table.copy()
    evil["range"] = evil["range"].astype(object).where(evil.index != 0,
                                                        "<img src=x onerror=alert(1)>")
    out = P.write(evil, tmp_path / "r.html", levels=("dram", "l2"), by="range")
    text = out.read_text()
    assert "<html" in text
    assert not re.search(r"<script[^>]*\ssrc=", text)  # nothing from elsewhere: opens offline
    assert "<img src=x" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert out.stat().st_size < 1_000_000


EVERY_FIXTURE = sorted(p.name for p in (*FIXTURES.glob("*.ncu-rep"),
                                          *FIXTURES.glob("*_raw.csv")))


def _quiet(name: str) -> roofprof.Trace:
    with warnings.catch_warnings():  # reports of ncu's own sets lack some counters: they say so
        warnings.simplefilter("ignore", RoofprofWarning)
        return roofprof.load(FIXTURES / name)


@pytest.mark.parametrize("name", EVERY_FIXTURE)
def test_the_scene_holds_the_summarys_numbers_for_every_fixture(name: str) -> None:
    """Issue 9: the compute roof summary prints is the one the PNG legend and HTML show, and no
    two legend entries or summary rows share a name."""
    trace = _quiet(name)
    for by in ("phase", "category", "range", "kernel"):
        summary = rl.summarize(trace, by=by).set_index("group")
        if (summary["bound"] == "unknown").all():  # nothing drawable: it says why
            with pytest.raises(InputError, match="nothing to draw"):
                P.build_scene(trace, by=by)
            continue
        sc = P.build_scene(trace, by=by)
        for a in sc.aggregates:
            row = summary.loc[a.name]
            for col in ("peak_compute_per_s", "pct_of_roof", "work_per_s", "ai"):
                assert a.numbers[col] == pytest.approx(row[col], rel=1e-12, nan_ok=True), \
                    (name, by, col)
        for label, _colour in sc.legend:
            group = label.split("  ")[0]
            if group in summary.index and "roof" in label:
                roof = summary.loc[group, "peak_compute_per_s"]
                assert roofprof.views.fmt.si(roof, "FLOP/s") in label or \
                    roofprof.views.fmt.si(roof, "OP/s") in label
        names = [lab.split("  ")[0] for lab, _c in sc.legend]
        assert len(names) == len(set(names)), (name, by)
        rows = tb.format_table(rl.summarize(trace, by=by), width=100).splitlines()
        cells = [r.split("  ")[0].strip() for r in rows[2:2 + len(summary)]]
        assert len(cells) == len(set(cells)), (name, by)


def test_the_drawn_roofs_follow_the_group_definition() -> None:
    """A roof line is sum W / sum (W / P) over the drawn kernels of its precision: with one
    precision per group, it is that group's compute roof."""
    trace = load_fixture("llama_annotated.ncu-rep")
    gemms = trace.kernels[trace.kernels["category"] == "gemm"]
    sc = P.build_scene(gemms, by="category")
    bf16 = next(r for r in sc.roofs if "tensor_bf16" in r.precisions)
    s = rl.summarize(gemms, by="category").set_index("group")
    # the group's roof also counts the GEMMs' few FP32 FLOPs (alpha scaling): 1e-4 apart
    assert bf16.peak == pytest.approx(s.loc["gemm", "peak_compute_per_s"], rel=1e-4)


def test_phase_colours_are_the_same_in_every_plot() -> None:
    trace = load_fixture("llama_annotated.ncu-rep")
    for kwargs in ({}, {"filter": "decode"}, {"filter": "lm_head"}):
        sc = P.build_scene(trace, by="phase", **kwargs)
        for name, colour in zip(sc.group_names, sc.group_colours, strict=True):
            assert colour == PHASES[name]


def test_nothing_drawable_names_the_missing_counters() -> None:
    with pytest.warns(RoofprofWarning, match="flop_tensor_fp8"):
        trace = roofprof.load(FIXTURES / "known_work_roofline.ncu-rep")
    with pytest.raises(InputError, match="nothing to draw: 10 of 10 kernels lack counters"):
        P.build_scene(trace)


def test_html_in_headless_chromium_shows_every_point_and_aggregate(tmp_path: Path) -> None:
    """The page as a reader's browser builds it: every kernel marker and both phase
    aggregates carry their numbers once the script has run."""
    _browser.chromium()
    trace = load_fixture("llama_annotated.ncu-rep")
    sc = P.build_scene(trace, by="phase")
    page = tmp_path / "phase.html"
    page.write_text(to_html(sc))
    assert page.stat().st_size < 1_000_000
    dom, err = _browser.dump_dom(page, tmp_path / "profile")
    assert 'data-ready="1"' in dom, err[-2000:]
    kernels = {int(k) for k in re.findall(r'data-k="(\d+)"', dom)}
    assert kernels == set(range(len(sc.kernels)))
    assert sorted(set(re.findall(r'data-agg="(\d+)"', dom))) == ["0", "1"]
    assert [a.name for a in sc.aggregates] == ["prefill", "decode"]
    for roof in sc.roofs:  # the roofs are labelled in the drawing itself
        assert roof.label.split(" ")[0] in dom


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
    with pytest.raises(InputError, match="no kernels"):
        P.plot(_synth.table([]))
    with pytest.raises(UsageError, match="memory level"):
        P.plot(table, levels=("dram", "hbm"))
    with pytest.raises(UsageError, match="no such column"):
        P.plot(table, by="phase_of_the_moon")


def test_building_a_scene_loads_no_matplotlib() -> None:
    """The scene is data; matplotlib loads only where a figure is drawn."""
    code = ("import sys, roofprof.views.chart, roofprof.app.plot; "
            "print(sorted(m for m in ('matplotlib',) if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
