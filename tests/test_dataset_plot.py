"""The out-of-core plot of a dataset (DuckDB) is the in-memory plot of the same kernels: on every
fixture as a dataset, the same aggregates (the summary's numbers), roofs, slopes, legend,
subtitle, labels, not-drawn table and, when every kernel fits, the same points. With fewer
points allowed, each group keeps its longest kernels and the plot says how many of how many."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from roofprof.cli import main
from roofprof.errors import InputError, RoofprofWarning
from roofprof.inputs.load import read_dataset
from roofprof.views.chart.dataset_scene import build_dataset
from roofprof.views.chart.scene import Scene, build

from .conftest import FIXTURES, as_datasets

INPUTS = sorted([*FIXTURES.glob("*.ncu-rep"), *FIXTURES.glob("*_raw.csv"),
                 *FIXTURES.glob("*.json.gz")])
CASES = [("phase", ("dram",)), ("category", ("dram",)), ("op,phase", ("dram",)),
         ("range", ("dram",)), ("phase", ("dram", "l2", "l1"))]
POINT_COLUMNS = ("y", "time_ns", "work", "pct_of_roof", "size")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each fixture as a dataset of two ranks (the same rows twice)."""
    return as_datasets(tmp_path_factory, INPUTS)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a if a is not None else math.nan), float(b if b is not None else math.nan)
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9)
    return bool(a == b)


def _points(s: Scene) -> pd.DataFrame:
    cols = ["group_name", "kernel", "precision", "bound", "colour", "marker", *POINT_COLUMNS,
            *(f"x_{lvl}" for lvl in s.levels)]
    k = s.kernels[[c for c in cols if c in s.kernels.columns]].copy()
    k["bound"] = k["bound"].astype(str)
    return k.sort_values(["group_name", "time_ns", "y"], kind="stable").reset_index(drop=True)


def assert_same_scene(mem: Scene, ooc: Scene) -> None:
    assert ooc.subtitle == mem.subtitle
    assert ooc.legend == mem.legend
    assert ooc.legend_title == mem.legend_title
    assert ooc.notes == mem.notes
    assert ooc.unit == mem.unit
    assert ooc.density == mem.density
    assert [(r.precisions, r.label) for r in ooc.roofs] == \
        [(r.precisions, r.label) for r in mem.roofs]
    for a, b in zip(ooc.roofs, mem.roofs, strict=True):
        assert a.peak == pytest.approx(b.peak, rel=1e-9)
    assert [(s.level, s.label, s.colour) for s in ooc.slopes] == \
        [(s.level, s.label, s.colour) for s in mem.slopes]
    for a, b in zip(ooc.slopes, mem.slopes, strict=True):
        assert a.bandwidth == pytest.approx(b.bandwidth, rel=1e-9)
    # the aggregates: the summary's rows, drawn at each level's intensity
    assert [(a.name, a.colour, sorted(a.x)) for a in ooc.aggregates] == \
        [(a.name, a.colour, sorted(a.x)) for a in mem.aggregates]
    for a, b in zip(ooc.aggregates, mem.aggregates, strict=True):
        assert a.y == pytest.approx(b.y, rel=1e-9)
        for lvl in a.x:
            assert a.x[lvl] == pytest.approx(b.x[lvl], rel=1e-9)
        assert a.numbers.keys() == b.numbers.keys()
        for key in a.numbers:
            assert _close(a.numbers[key], b.numbers[key]), (a.name, key)
    assert [t for _i, t in ooc.labels] == [t for _i, t in mem.labels]
    for (i, _t), (j, _u) in zip(ooc.labels, mem.labels, strict=True):  # at the same point
        assert ooc.kernels["y"].iat[i] == pytest.approx(mem.kernels["y"].iat[j], rel=1e-9)
        assert ooc.kernels["kernel"].iat[i] == mem.kernels["kernel"].iat[j]
    assert ooc.not_drawn is not None
    assert mem.not_drawn is not None
    cols = ["kernel", "range", "why", "launches", "time_ns", "roof_ns", "pct_of_roof"]
    a = ooc.not_drawn[cols].sort_values(["kernel", "range", "why"]).reset_index(drop=True)
    b = mem.not_drawn[cols].sort_values(["kernel", "range", "why"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9)
    assert ooc.xlim == pytest.approx(mem.xlim, rel=1e-9)
    assert ooc.ylim == pytest.approx(mem.ylim, rel=1e-9)


def _mem(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        return read_dataset(path)


@pytest.mark.parametrize("name", [f.name for f in INPUTS])
def test_the_dataset_scene_is_the_in_memory_scene(datasets: dict[str, Path],
                                                  name: str) -> None:
    trace = _mem(datasets[name])
    for by, levels in CASES:
        try:
            mem = build(trace, by=by, levels=levels)
        except InputError as exc:  # nothing drawable: the dataset plot says the same
            said = str(exc)
            with pytest.raises(InputError) as caught:
                build_dataset(datasets[name], by=by, levels=levels)
        else:
            said = ""
        if said:
            assert str(caught.value) == said
            continue
        ooc = build_dataset(datasets[name], by=by, levels=levels)
        assert_same_scene(mem, ooc)
        # every drawable kernel fits: the same points, every one of their numbers
        pd.testing.assert_frame_equal(_points(ooc), _points(mem), check_dtype=False,
                                      rtol=1e-9)


def test_a_large_dataset_draws_each_kernels_longest_launches_and_says_so(
        datasets: dict[str, Path]) -> None:
    path = datasets["llama_annotated.ncu-rep"]
    mem = build(_mem(path), by="phase")
    pairs = mem.kernels.groupby(["group_name", "kernel"])
    k = 3
    ooc = build_dataset(path, by="phase", max_points=k * len(pairs))
    # the k longest launches of every kernel name in every group
    assert len(ooc.kernels) == sum(min(k, len(p)) for _n, p in pairs)
    for (g, name), part in pairs:
        want = np.sort(part["time_ns"].to_numpy())[::-1][:k]
        mine = ooc.kernels[(ooc.kernels["group_name"] == g) & (ooc.kernels["kernel"] == name)]
        np.testing.assert_allclose(np.sort(mine["time_ns"].to_numpy())[::-1], want,
                                   rtol=1e-12)
    assert ooc.notes[0].startswith(f"points: {len(ooc.kernels):,} of {len(mem.kernels):,} "
                                   "drawable kernels")
    assert ooc.notes[1] == f"the {k} longest launches of each kernel in each group"
    assert "over every drawable kernel" in ooc.notes[2]
    # fewer points than kernel names: the names with the most time, each its longest launch
    few = build_dataset(path, by="phase", max_points=4)
    assert few.notes[1].startswith("the longest launch of the 4 of")
    assert len(few.kernels) <= 4 + len(few.labels)
    # each label at its name's longest launch, drawn
    longest = mem.kernels.groupby("kernel")["time_ns"].max()
    for s in (ooc, few):
        assert len(s.labels) == len(mem.labels)
        for i, _text in s.labels:
            assert s.kernels["time_ns"].iat[i] == longest[s.kernels["kernel"].iat[i]]
    # everything but the points (and so the axis limits) is the full plot's
    for s in (ooc, few):
        s.notes = s.notes[2:]
        s.notes[0] = mem.notes[0]
        s.kernels, s.xlim, s.ylim = mem.kernels, mem.xlim, mem.ylim
        s.labels = [(j, t) for (_i, t), (j, _u) in zip(s.labels, mem.labels, strict=True)]
        assert_same_scene(mem, s)


def test_cli_plots_a_dataset_out_of_core(datasets: dict[str, Path], tmp_path: Path) -> None:
    path = datasets["llama_annotated.ncu-rep"]
    runner = CliRunner()
    for engine, out in (("duckdb", tmp_path / "a.png"), ("auto", tmp_path / "b.html")):
        res = runner.invoke(main, ["plot", str(path), "--by", "phase", "--where", "rank = 1",
                                   "--engine", engine, "-o", str(out)])
        assert res.exit_code == 0, res.output
        assert out.stat().st_size > 10_000
    assert "dataset" in (tmp_path / "b.html").read_text(encoding="utf-8")
    res = runner.invoke(main, ["plot", str(path), "--engine", "duckdb", "--filter", "gemm",
                               "-o", str(tmp_path / "c.png")])
    assert res.exit_code != 0
    assert "--engine duckdb does not take --filter" in res.output
    res = runner.invoke(main, ["plot", str(FIXTURES / "llama_small.ncu-rep"), "--engine",
                               "duckdb", "-o", str(tmp_path / "d.png")])
    assert res.exit_code != 0
    assert "one dataset folder" in res.output
