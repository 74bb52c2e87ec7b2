"""``--with-counters``: the roofline of a joined trace's launches that have counters, on the
2-H200 tensor-parallel fixtures (every phase holds all-reduces, which `record` leaves out)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import roofprof
from roofprof.analysis import counted, roofline
from roofprof.analysis.join import join
from roofprof.cli import main
from roofprof.errors import UsageError
from roofprof.inputs.timing import load_timing
from roofprof.tables.sampling import time_shares_of
from tests.conftest import FIXTURES

RECORD, TIMING = FIXTURES / "tp2_record.parquet", FIXTURES / "tp2_timing.parquet"


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("counted") / "tp_joined.parquet"
    join(load_timing(TIMING), roofprof.load(RECORD)).save(out)
    return out


def test_without_it_rank_1s_phases_are_unknown_and_rank_0s_partial(joined: Path) -> None:
    """Without it, rank 1's phases (about 3% of their time with counters) are unknown; rank 0's
    (54-89%) show their measured part, partial (tests/test_partial_coverage.py)."""
    result = roofline.summarize(roofprof.load(joined), by="device,phase").set_index("group")
    assert set(result.loc[["1 · decode", "1 · other", "1 · prefill"], "bound"]) == {"unknown"}
    assert (result.loc[["0 · decode", "0 · other", "0 · prefill"], "coverage"] < 1).all()
    assert set(result.loc[["0 · decode", "0 · other", "0 · prefill"], "bound"]) == {"latency"}


def test_it_keeps_the_launches_with_counters_and_says_how_much_of_the_time(joined: Path) -> None:
    trace = roofprof.load(joined)
    kept = counted.with_counters(trace)
    k = trace.kernels
    mask = k["counters_from"] != "none"
    assert len(kept.kernels) == int(mask.sum())
    assert (kept.kernels["counters_from"] != "none").all()
    share = k.loc[mask, "duration_ns"].sum() / k["duration_ns"].sum()
    assert kept.meta["with_counters"]["time_share"] == pytest.approx(share, rel=1e-12)
    assert time_shares_of(kept.meta) == "filtered"
    # the numbers are the kept launches' own: the same as summarising them by hand
    by_hand = roofline.summarize(roofprof.Trace(k[mask].reset_index(drop=True), trace.meta),
                                 by="device,phase")
    ours = roofline.summarize(kept, by="device,phase")
    assert ours["pct_of_roof"].tolist() == by_hand["pct_of_roof"].tolist()
    assert "unknown" not in set(ours["bound"])


def test_each_groups_share_is_its_time_with_counters_over_its_time(joined: Path) -> None:
    trace = roofprof.load(joined)
    full = roofline.summarize(trace, by="device,phase")
    kept = roofline.summarize(counted.with_counters(trace), by="device,phase")
    shares = dict(zip(kept["group"], counted.time_shares(full, kept), strict=True))
    k = trace.kernels
    for (device, phase), part in k.groupby(["device", "phase"]):
        with_c = part.loc[part["counters_from"] != "none", "duration_ns"].sum()
        assert shares[f"{device} · {phase}"] == pytest.approx(
            with_c / part["duration_ns"].sum(), rel=1e-12)
    # rank 1 waited in its all-reduces: little of its time has counters
    assert shares["1 · decode"] < 0.05
    assert shares["0 · decode"] > 0.8


def test_the_cli_table_json_and_plot_say_it(joined: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(main, ["summary", str(joined), "--by", "device,phase",
                                "--with-counters"])
    assert text.exit_code == 0, text.output
    assert "only the launches with counters (--with-counters)" in text.stdout
    assert "time with counters, of each group's: " in text.stdout
    done = runner.invoke(main, ["summary", str(joined), "--by", "phase", "--with-counters",
                                "--format", "json"])
    assert done.exit_code == 0, done.output
    rows = json.loads(done.stdout)
    assert all(0 < r["time_with_counters"] <= 1 for r in rows)
    assert "only the launches with counters" in done.stderr  # the warning JSON readers get
    png = tmp_path / "tp.png"
    drawn = runner.invoke(main, ["plot", str(joined), "--by", "phase", "--with-counters",
                                 "-o", str(png)])
    assert drawn.exit_code == 0, drawn.output
    assert png.stat().st_size > 10_000


def test_a_recording_is_refused_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="every kernel in it has them"):
        counted.with_counters(roofprof.load(RECORD))
    done = CliRunner().invoke(main, ["summary", str(RECORD), "--with-counters"])
    assert done.exit_code == 2
    assert "--with-counters" in done.output
    assert "Traceback" not in done.output
    sweep = CliRunner().invoke(main, ["plot", "--sweep", str(RECORD), str(RECORD),
                                      "--with-counters", "-o", str(tmp_path / "s.png")])
    assert sweep.exit_code == 2
    assert "leave out --sweep" in sweep.output


def test_a_long_subtitle_wraps_instead_of_running_off_the_figure() -> None:
    from roofprof.views.chart.static import subtitle_lines

    parts = ["measured roofline, DRAM", "980 kernels, 1.72 ms GPU time",
             "132 without FLOPs (11.9% of time) not drawn",
             "filtered: only the launches with counters (--with-counters): 6.2% of the time, "
             "980 of 1,056 launches"]
    lines = subtitle_lines(parts, width=150)
    assert lines == [" · ".join(parts[:3]), parts[3]]
    assert " · ".join(lines) == " · ".join(parts)  # nothing lost
    assert subtitle_lines(["x" * 200]) == ["x" * 200]
    assert subtitle_lines([]) == []


def test_the_ranks_of_a_joined_dataset_say_how_to_see_the_compute_kernels(
        joined: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(main, ["convert", str(joined), "--dataset", str(tmp_path / "ds"),
                                "--run", "tp", "--rank-by", "device"])
    assert done.exit_code == 0, done.output
    text = runner.invoke(main, ["ranks", str(tmp_path / "ds"), "--by", "phase"]).stdout
    assert "collectives have no counters" in text
    assert "--by phase,category" in text
    by_cat = runner.invoke(main, ["ranks", str(tmp_path / "ds"), "--by", "phase,category",
                                  "--format", "json"]).stdout
    rows = json.loads(by_cat)
    gemm = [r for r in rows if r["group"] == "decode · gemm"]
    assert len(gemm) == 2
    assert all(r["bound"] != "unknown" for r in gemm)  # the compute kernels have numbers
