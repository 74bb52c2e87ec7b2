"""Partial coverage (issue 25, "the production recipe shows nothing by default"): a group whose
measured kernels hold at least ``roofline.MIN_COVERAGE`` of its time shows their numbers with
its coverage, marked partial, in the summary (text, JSON, CSV), both dataset engines, the plot
(PNG/SVG/HTML), the report and the rank view; under it, the group is unknown and says how much
is measured.

Checked on the bundled production sample (``fixtures/llama_sample.timing.parquet`` joined to
``fixtures/llama_sample.ncu-rep``: decode 69.1%, prefill 73.3%, other 44.1% of their time with
counters) and the 2-GPU tensor-parallel pair (rank 0's phases 54-89% measured, rank 1's 3%),
against numbers derived by hand from the joined rows; and on mutated copies of the sample
(hypothesis: counters taken from random launches).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import roofprof
from roofprof.analysis import counted
from roofprof.analysis import ranks as rank_views
from roofprof.analysis import roofline as rl
from roofprof.analysis.diff import diff
from roofprof.analysis.grouping import group_kernels
from roofprof.analysis.join import join
from roofprof.analysis.reasons import UNJOINED
from roofprof.cli import main
from roofprof.datasets import sql as dataset_sql
from roofprof.errors import RoofprofWarning, UsageError
from roofprof.inputs.load import read_dataset
from roofprof.inputs.timing import load_timing
from roofprof.tables.kernels import Trace, write_parquet
from roofprof.views import tables as tb
from roofprof.views.chart import build_scene
from roofprof.views.chart.captions import PARTIAL_NOTE as LEGEND_NOTE
from roofprof.views.chart.html import to_html
from roofprof.views.chart.static import PARTIAL_EDGE, render
from roofprof.views.diagnosis import sentences
from roofprof.views.ranks import format_ranks
from roofprof.views.report import build as build_report
from roofprof.views.report_page import verdict_rows
from tests.conftest import FIXTURES, as_datasets
from tests.test_validation_props import BOUNDED

#: the numbers a partial group takes from its measured kernels (the rest: the whole group's)
MEASURED_PART = ("work", "flop", "bytes", "ai", "work_per_s", "precision", "peak_compute_per_s",
                 "peak_bytes_per_s", "ridge", "roof_per_s", "pct_of_roof",
                 "pct_of_peak_compute", "bytes_per_s", "pct_of_peak_bandwidth", "bound",
                 "latency_share", "headroom_ns")


def _quiet_load(path: Path) -> Trace:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        return roofprof.load(path)


@pytest.fixture(scope="module")
def joined() -> Trace:
    """The production recipe's joined table (README "Production runs")."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        return join(load_timing(FIXTURES / "llama_sample.timing.parquet"),
                    roofprof.load(FIXTURES / "llama_sample.ncu-rep"))


@pytest.fixture(scope="module")
def joined_file(joined: Trace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("partial") / "joined.parquet"
    write_parquet(joined, path)
    return path


def by_hand(trace: Trace, by: str) -> pd.DataFrame:
    """Per group: its time, and the time of its launches that took counters (which, on these
    fixtures, are exactly the launches whose roofline numbers are known: checked)."""
    k = trace.kernels
    has = (k["counters_from"].astype(object) != "none").to_numpy()
    known = rl.kernel_numbers(trace)["roof_ns"].notna().to_numpy()
    assert (has == known).all()
    grouping = group_kernels(k, by)
    dur = k["duration_ns"].to_numpy(dtype=np.float64)
    time = np.bincount(grouping.codes, weights=dur)
    kept = np.bincount(grouping.codes, weights=np.where(has, dur, 0.0))
    return pd.DataFrame({"time_ns": time, "kept_ns": kept, "coverage": kept / time},
                        index=grouping.names)


def measured_only(trace: Trace, by: str) -> pd.DataFrame:
    """The summary of the launches that took counters alone (what ``--with-counters`` gives)."""
    return rl.summarize(counted.with_counters(trace), by=by).set_index("group")


# ---------------------------------------------------------------------- the group math


def test_a_mostly_measured_phase_has_its_measured_parts_numbers(joined: Trace) -> None:
    got = rl.summarize(joined, by="phase").set_index("group")
    hand = by_hand(joined, "phase")
    own = measured_only(joined, "phase")
    whole = rl.summarize(joined, by="phase", min_coverage=1.0).set_index("group")
    assert got["coverage"].round(3).to_dict() == {"other": 0.441, "decode": 0.691,
                                                  "prefill": 0.733}
    for phase in ("decode", "prefill"):
        assert got.loc[phase, "coverage"] == pytest.approx(hand.loc[phase, "coverage"],
                                                           rel=1e-12)
        # time, share and launches stay the whole phase's ...
        assert got.loc[phase, "time_ns"] == hand.loc[phase, "time_ns"]
        for col in ("time_ns", "time_share", "kernels"):
            assert got.loc[phase, col] == whole.loc[phase, col]
        # ... every other number is the measured launches' own, as --with-counters gives it
        for col in MEASURED_PART:
            a, b = got.loc[phase, col], own.loc[phase, col]
            assert a == pytest.approx(b, rel=1e-12) if isinstance(b, float) else a == b, col
        assert got.loc[phase, "bound"] == "latency"
        assert whole.loc[phase, "bound"] == "unknown"
        assert got.loc[phase, "reason"].endswith(UNJOINED)
    # the headroom is the measured part's: over the whole run's time, not scaled up
    assert got.loc["decode", "headroom_share"] == pytest.approx(
        own.loc["decode", "headroom_ns"] / hand["time_ns"].sum(), rel=1e-12)


def test_a_phase_under_half_measured_stays_unknown(joined: Trace) -> None:
    got = rl.summarize(joined, by="phase").set_index("group")
    hand = by_hand(joined, "phase")
    assert got.loc["other", "coverage"] == pytest.approx(hand.loc["other", "coverage"],
                                                         rel=1e-12)
    assert got.loc["other", "bound"] == "unknown"
    assert got.loc[["other"], list(MEASURED_PART[:4])].isna().all(axis=None)
    assert got.loc["other", "reason"] == f"168 of 289 kernels: {UNJOINED}"


def test_the_threshold_decides_and_one_means_every_member(joined: Trace) -> None:
    at = {c: rl.summarize(joined, by="phase", min_coverage=c).set_index("group")["bound"]
          for c in (0.4, 0.7, 1.0)}
    assert at[0.4].to_dict() == {"other": "latency", "decode": "latency", "prefill": "latency"}
    assert at[0.7].to_dict() == {"other": "unknown", "decode": "unknown", "prefill": "latency"}
    assert set(at[1.0]) == {"unknown"}
    assert rl.MIN_COVERAGE == 0.5
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(UsageError, match="min_coverage must be a fraction above 0"):
            rl.summarize(joined, by="phase", min_coverage=bad)


def test_a_wholly_measured_trace_keeps_its_numbers_exactly() -> None:
    """An ncu recording (every launch profiled): coverage 1 everywhere, the numbers those of
    the rule of every member, bit for bit."""
    t = _quiet_load(FIXTURES / "llama_annotated.ncu-rep")
    for by in ("phase", "op,phase", "kernel"):
        new = rl.summarize(t, by=by)
        old = rl.summarize(t, by=by, min_coverage=1.0)
        assert (new["coverage"] == 1.0).all()
        pd.testing.assert_frame_equal(new, old)


def test_the_tensor_parallel_pair_rank_0_partial_rank_1_unknown() -> None:
    j = join(load_timing(FIXTURES / "tp2_timing.parquet"),
             _quiet_load(FIXTURES / "tp2_record.parquet"))
    got = rl.summarize(j, by="device,phase").set_index("group")
    hand = by_hand(j, "device,phase")
    np.testing.assert_allclose(got["coverage"], hand.loc[got.index, "coverage"], rtol=1e-12)
    rank0 = ["0 · decode", "0 · other", "0 · prefill"]
    assert got.loc[rank0, "coverage"].round(3).tolist() == [0.886, 0.541, 0.890]
    assert (got.loc[rank0, "bound"] == "latency").all()
    assert (got.loc[["1 · decode", "1 · other", "1 · prefill"], "bound"] == "unknown").all()


@BOUNDED
@given(st.lists(st.integers(min_value=0, max_value=696), max_size=300),
       st.sampled_from(["phase", "op,phase", "op"]))
def test_mutated_samples_follow_the_rule(joined: Trace, lost: list[int], by: str) -> None:
    """Counters taken from random launches of the joined sample (as a smaller sample would
    leave them): every group's coverage is its measured time over its time; a group with at
    least half measured has exactly the numbers of its measured launches summarised alone;
    under half, it is unknown; wholly measured, it has every member's numbers."""
    k = joined.kernels.copy()
    rows = sorted(set(lost))
    k.loc[rows, "counters_from"] = "none"
    measured_cols = [c for c in k.columns if c.startswith(("flop", "ops_", "peak_"))
                     or c.endswith("_bytes")]
    k.loc[rows, measured_cols] = np.nan
    trace = Trace(k, joined.meta)
    got = rl.summarize(trace, by=by).set_index("group")
    hand = by_hand(trace, by)
    np.testing.assert_allclose(got["coverage"], hand.loc[got.index, "coverage"], rtol=1e-12)
    has = (k["counters_from"].astype(object) != "none").to_numpy()
    alone = (rl.summarize(Trace(k[has].reset_index(drop=True), joined.meta), by=by)
             .set_index("group") if has.any() else None)
    whole = rl.summarize(trace, by=by, min_coverage=1.0).set_index("group")
    for g, row in got.iterrows():
        cover = row["coverage"]
        if cover == 1.0:
            pd.testing.assert_series_equal(row, whole.loc[g])
        elif cover < rl.MIN_COVERAGE:
            assert row["bound"] == "unknown"
        else:
            assert alone is not None
            for col in MEASURED_PART:
                a, b = row[col], alone.loc[g, col]
                assert a == pytest.approx(b, rel=1e-9, nan_ok=True) \
                    if isinstance(b, float) else a == b, (g, col)
            assert row["time_ns"] == whole.loc[g, "time_ns"]


# ---------------------------------------------------------------------- summary views


def test_the_table_marks_partial_groups_and_says_what_their_numbers_are(
        joined: Trace) -> None:
    text = tb.format_table(rl.summarize(joined, by="phase"), wide=True)
    lines = text.splitlines()
    row = {ln.split()[0]: ln for ln in lines[2:5]}
    assert "latency (69% measured)" in row["decode"]
    assert "latency (73% measured)" in row["prefill"]
    assert row["other"].split()[-3:] == ["unknown", "-", "-"]
    assert f"decode: partial: 69.1% of its time measured; the rest: 135 of 306 kernels: " \
           f"{UNJOINED}" in lines
    assert f"other: unknown: only 44.1% of its time measured; 168 of 289 kernels: " \
           f"{UNJOINED}" in lines
    assert tb.PARTIAL_NOTE in lines
    assert tb.PARTIAL_NOTE.endswith("under 50% measured a group is unknown")
    # a wholly measured table has neither
    full = tb.format_table(rl.summarize(_quiet_load(FIXTURES / "llama_annotated.ncu-rep"),
                                        by="phase"), wide=True)
    assert "measured" not in full


@pytest.mark.parametrize(("cover", "text"), [(0.6908, "69% measured"), (0.999, "99% measured"),
                                             (0.5, "50% measured"), (0.0001, "0% measured")])
def test_coverage_is_rounded_down(cover: float, text: str) -> None:
    assert tb.measured(cover) == text


def test_json_and_csv_carry_the_coverage(joined_file: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["summary", str(joined_file), "--by", "phase", "--format",
                               "json"])
    assert out.exit_code == 0, out.output
    rows = {r["group"]: r for r in json.loads(out.stdout)}
    hand = by_hand(_quiet_load(joined_file), "phase")
    for g in ("other", "decode", "prefill"):
        assert rows[g]["coverage"] == pytest.approx(hand.loc[g, "coverage"], rel=1e-12)
    assert rows["decode"]["bound"] == "latency"
    assert rows["other"]["bound"] == "unknown"
    assert rows["decode"]["ai"] == pytest.approx(19.5128854, rel=1e-7)
    out = runner.invoke(main, ["summary", str(joined_file), "--by", "phase", "--format", "csv"])
    assert out.exit_code == 0, out.output
    header = out.stdout.splitlines()[0].split(",")
    assert header[:6] == ["group", "kernels", "time_ns", "time_share", "coverage", "work"]


# ---------------------------------------------------------------------- dataset engines


@pytest.fixture(scope="module")
def joined_dataset(joined_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return as_datasets(tmp_path_factory, [joined_file])["joined.parquet"]


@pytest.mark.parametrize("cover", [0.5, 0.7, 1.0])
def test_duckdb_gives_the_same_partial_numbers(joined_dataset: Path, cover: float) -> None:
    from tests.test_dataset_sql import assert_same

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        mem_trace = read_dataset(joined_dataset)
    for by in ("phase", "op,phase", "rank,phase"):
        for level in ("dram", "l1"):
            mem = rl.summarize(mem_trace, by=by, level=level, min_coverage=cover)
            sql = dataset_sql.summarize(joined_dataset, by=by, level=level,
                                        min_coverage=cover)
            assert_same(mem, sql)
            assert [r if isinstance(r, str) else None for r in mem["reason"]] == \
                list(sql["reason"])
    assert "coverage" in dataset_sql.explain()
    with pytest.raises(UsageError, match="min_coverage must be a fraction"):
        dataset_sql.summarize(joined_dataset, min_coverage=0)


def test_the_rank_view_marks_partial_ranks(tmp_path: Path) -> None:
    """The tensor-parallel pair joined, one rank per GPU: rank 0's phases partial (their
    coverage beside the verdict), rank 1's unknown."""
    j = join(load_timing(FIXTURES / "tp2_timing.parquet"),
             _quiet_load(FIXTURES / "tp2_record.parquet"))
    write_parquet(j, tmp_path / "tp.parquet")
    out = CliRunner().invoke(main, ["convert", str(tmp_path / "tp.parquet"), "--dataset",
                                    str(tmp_path / "ds"), "--run", "tp", "--rank-by", "device"])
    assert out.exit_code == 0, out.output
    per = rank_views.per_rank(lambda by: dataset_sql.summarize(tmp_path / "ds", by=by),
                              "phase").set_index(["group", "rank"])
    assert per.loc[("decode", 0), "coverage"] == pytest.approx(0.8857, abs=1e-4)
    assert per.loc[("decode", 1), "bound"] == "unknown"
    text = format_ranks(per.reset_index())
    decode0 = next(ln for ln in text.splitlines() if ln.split()[:2] == ["decode", "0"])
    assert "latency (88% measured)" in decode0
    assert tb.PARTIAL_NOTE in text.splitlines()


def test_diff_compares_whole_groups_only(joined: Trace) -> None:
    """A diff matches each group's work and time on both sides: a partial group's numbers
    (another part on each side) are not compared; its row stays unknown."""
    d = diff([joined.kernels], [joined.kernels], by="phase")
    row = d.set_index("group").loc["decode"]
    assert row["bound_a"] == row["bound_b"] == "unknown"


# ---------------------------------------------------------------------- plots


def test_the_plot_draws_a_partial_groups_point_hollow_and_says_its_coverage(
        joined: Trace) -> None:
    scene = build_scene(joined, by="phase", levels=("dram", "l2"))
    summary = {lvl: rl.summarize(joined, by="phase", level=lvl).set_index("group")
               for lvl in ("dram", "l2")}
    aggs = {a.name: a for a in scene.aggregates}
    assert set(aggs) == {"decode", "prefill"}  # other: unknown, no point
    for name, a in aggs.items():
        assert a.partial
        assert a.y == pytest.approx(summary["dram"].loc[name, "work_per_s"], rel=1e-12)
        for lvl in ("dram", "l2"):  # the table's intensity at each level, never another
            assert a.x[lvl] == pytest.approx(summary[lvl].loc[name, "ai"], rel=1e-12)
    legend = dict(scene.legend)
    assert [lab for lab in legend if lab.startswith("decode")] == \
        ["decode  37.2% · roof 999 TFLOP/s · 69% measured"]
    assert [lab for lab in legend if lab.startswith("other")] == ["other  47.1%"]
    assert LEGEND_NOTE in scene.notes
    d = render(scene)
    drawn = {c.get_gid(): c for c in d.ax.collections}
    for gid, i in d.aggregates.items():
        coll = drawn[gid]
        assert scene.aggregates[i].partial
        assert tuple(coll.get_facecolor()[0]) == (1.0, 1.0, 1.0, 1.0)  # hollow
        _offset, dashes = coll.get_linestyle()[0]
        assert dashes is not None
        assert len(dashes) == 2
    assert PARTIAL_EDGE == (0, (2, 1))


def test_a_dataset_plot_marks_the_same_groups_partial(joined: Trace,
                                                       joined_dataset: Path) -> None:
    """Out of core (the summary query at each level) as in memory: the same partial points,
    legend and notes."""
    from roofprof.views.chart.dataset_scene import build_dataset

    mem = build_scene(joined, by="phase", levels=("dram", "l1"))
    out = build_dataset(joined_dataset, by="phase", levels=("dram", "l1"), where="rank = 0")
    assert [(a.name, a.partial) for a in out.aggregates] == [("decode", True),
                                                               ("prefill", True)]
    for a, b in zip(mem.aggregates, out.aggregates, strict=True):
        assert b.x == pytest.approx(a.x, rel=1e-9)
        assert b.y == pytest.approx(a.y, rel=1e-9)
    assert out.legend == mem.legend
    assert LEGEND_NOTE in out.notes


def test_a_sweeps_partial_points_are_hollow_and_said_so(joined: Trace) -> None:
    from roofprof.views.chart.sweep import SWEEP_PARTIAL, build_sweep

    scene = build_sweep([joined, joined], labels=["a", "b"], by="phase")
    assert [(a.name, a.series, a.partial) for a in scene.aggregates] == [
        ("decode", "a", True), ("decode", "b", True), ("prefill", "a", True),
        ("prefill", "b", True)]
    assert SWEEP_PARTIAL in scene.notes
    assert scene.aggregates[0].numbers["coverage"] == pytest.approx(0.6908017, rel=1e-6)


def test_a_wholly_measured_plot_is_unchanged() -> None:
    scene = build_scene(_quiet_load(FIXTURES / "llama_annotated.ncu-rep"), by="phase")
    assert scene.aggregates
    assert not any(a.partial for a in scene.aggregates)
    assert LEGEND_NOTE not in scene.notes
    assert not any("measured" in lab for lab, _c in scene.legend)
    d = render(scene)
    drawn = {c.get_gid(): c for c in d.ax.collections}
    for gid in d.aggregates:
        assert tuple(drawn[gid].get_facecolor()[0]) != (1.0, 1.0, 1.0, 1.0)


def test_the_html_page_says_the_coverage(joined: Trace) -> None:
    page = to_html(build_scene(joined, by="phase"))
    data = json.loads(page.split("id='roofprof-data'>", 1)[1].split("</script>", 1)[0])
    assert len(data["groups"]) == 2
    assert any("partial: 69.1% of its time measured" in tip for tip in data["groups"])
    assert any("partial: 73.3% of its time measured" in tip for tip in data["groups"])
    table = page.split("<table id='groups'>", 1)[1].split("</table>", 1)[0]
    assert "<td>latency (69% measured)</td>" in table
    assert "<td>unknown</td>" in table
    assert "id='partial-note'" in page


# ---------------------------------------------------------------------- report


def test_the_report_judges_each_phase_by_its_measured_part(joined: Trace) -> None:
    report = build_report(joined)
    verdicts = {s.source: s for s in report.diagnosis if s.kind.startswith("verdict")}
    decode = verdicts["phase decode"]
    assert decode.kind == "verdict:latency"
    assert decode.text.startswith("decode takes 37.2% of GPU time and, over the 69.1% of its "
                                  "time that was measured, is latency-bound: 97.0% of its "
                                  "measured time is in kernels")
    assert decode.text.endswith(f"The other 30.9% of its time is not measured: 135 of 306 "
                                f"kernels: {UNJOINED}.")
    assert decode.values["coverage"] == pytest.approx(0.6908017, rel=1e-6)
    other = verdicts["phase other"]
    assert other.kind == "verdict:unknown"
    assert other.text == (f"other takes 47.1% of GPU time and has no verdict: only 44.1% of "
                          f"its time is measured (a verdict needs 50%); 168 of 289 kernels: "
                          f"{UNJOINED}.")
    _head, rows = verdict_rows(report)
    assert [r[3] for r in rows] == ["unknown", "latency (69% measured)",
                                    "latency (73% measured)"]
    # a fusion candidate found on a partial op group says so
    fusion = [s for s in report.diagnosis if s.kind == "fusion"]
    assert fusion
    assert all("of its time measured" in s.text for s in fusion
                          if s.values["coverage"] < 1)


def test_a_wholly_measured_reports_sentences_do_not_change() -> None:
    t = _quiet_load(FIXTURES / "llama_annotated.ncu-rep")
    phases = rl.summarize(t, by="phase")
    ops = rl.summarize(t, by="op,phase")
    top = rl.top_kernels(t)
    new = sentences(phases, ops, top)
    old = sentences(rl.summarize(t, by="phase", min_coverage=1.0),
                    rl.summarize(t, by="op,phase", min_coverage=1.0), top)
    assert [s.text for s in new] == [s.text for s in old]
    assert not any("measured" in s.text for s in new)
