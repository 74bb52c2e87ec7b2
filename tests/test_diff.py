"""Diff of two runs: sums a person can check, kernel matching, noise from repeats, CI gate."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from roofprof.analysis.diff import TOTAL, diff, match_kernels, slower_than
from roofprof.cli import main
from tests import _readme, _synth
from tests.conftest import FIXTURES, load_fixture


def run(times: dict[str, float], extra: tuple[str, float] | None = None) -> pd.DataFrame:
    """A synthetic run: per phase one GEMM at the given time (ns), two launches of a copy."""
    rows = []
    for phase, t in times.items():
        rows.append(_synth.row("gemm", phase, t, dram=1e6, flop_tensor_bf16=1e9))
        rows.append(_synth.row("copy", phase, 1000.0, dram=1e5))
        rows.append(_synth.row("copy", phase, 1000.0, dram=1e5))
    if extra:
        rows.append(_synth.row("copy", extra[0], extra[1], dram=1e5))
    return _synth.table(rows)


def test_a_run_against_itself_changes_nothing() -> None:
    k = load_fixture("llama_annotated.ncu-rep").kernels
    d = diff([k], [k], by="op")
    assert (d["status"] == "both").all()
    assert (d["time_delta"] == 0).all()
    assert not d["significant"].any()
    assert slower_than(d, 0.0).empty
    assert d["group"].iloc[-1] == TOTAL


def test_batch1_against_batch4_decode() -> None:
    a, b = load_fixture("batch_1.ncu-rep").kernels, load_fixture("batch_4.ncu-rep").kernels
    d = diff([a], [b]).set_index("group")
    dec = d.loc["decode"]
    assert dec["time_ns_a"] == a["duration_ns"].sum()
    assert dec["time_delta"] == pytest.approx(b["duration_ns"].sum() / a["duration_ns"].sum() - 1)
    assert dec["work_delta"] == pytest.approx(b["flop"].sum() / a["flop"].sum() - 1)
    assert dec["bytes_delta"] == pytest.approx(b["dram_bytes"].sum() / a["dram_bytes"].sum() - 1)
    assert dec["ai_b"] == pytest.approx(b["flop"].sum() / b["dram_bytes"].sum())
    assert d.loc[TOTAL, "time_ns_b"] == dec["time_ns_b"]
    assert list(slower_than(d.reset_index(), 5)["group"]) == ["decode", TOTAL]
    assert slower_than(d.reset_index(), 10).empty


@pytest.mark.parametrize(("x", "y"), [("batch_1", "batch_4"), ("batch_4", "batch_16"),
                                      ("batch_1", "batch_64")])
def test_a_diff_and_its_reverse_undo_each_other(x: str, y: str) -> None:
    a, b = (load_fixture(f"{n}.ncu-rep").kernels for n in (x, y))
    ab = diff([a], [b], by="category").set_index("group")
    ba = diff([b], [a], by="category").set_index("group")
    both = ab.index[ab["status"] == "both"]
    for col in ("time_delta", "bytes_delta"):
        product = (1 + ab.loc[both, col]) * (1 + ba.loc[both, col])
        assert product.to_numpy() == pytest.approx(1.0)


def test_groups_only_one_run_has_and_kernels_matched_by_occurrence() -> None:
    a = run({"prefill": 5000.0, "decode": 2000.0})
    b = run({"prefill": 5000.0, "decode": 2000.0}, extra=("spec", 3000.0))
    b.loc[(b["phase"] == "decode") & (b["kernel"] == "copy"), "duration_ns"] = [1000.0, 1500.0]
    d = diff([a], [b]).set_index("group")
    assert d.loc["spec", "status"] == "only in B"
    assert pd.isna(d.loc["spec", "time_ns_a"])
    assert d.loc["decode", "time_delta"] == pytest.approx(4500 / 4000 - 1)
    k = match_kernels(a, b)
    top = k.iloc[0]
    # the spec copy exists only in B (no change to rank by); the slowed copy is the 2nd launch
    assert (top["group"], top["kernel"], top["occurrence"]) == ("decode", "copy", 1)
    assert top["delta_ns"] == 500.0
    assert k["duration_ns_a"].isna().sum() == 1


def test_repeat_runs_make_small_changes_noise() -> None:
    a = [run({"decode": 100_000.0}), run({"decode": 110_000.0})]
    d = diff(a, [run({"decode": 112_000.0})]).set_index("group")
    # median A time 105 + 2 µs of copies; spread (112 - 102) / 107 µs: a 6.5% change is noise
    assert d.loc["decode", "time_ns_a"] == 107_000.0
    assert d.loc["decode", "spread"] == pytest.approx(10 / 107)
    assert d.loc["decode", "time_delta"] == pytest.approx(114 / 107 - 1)
    assert not d.loc["decode", "significant"]
    d2 = diff(a, [run({"decode": 130_000.0})]).set_index("group")
    assert d2.loc["decode", "significant"]
    floor = diff([a[0]], [run({"decode": 103_000.0})], noise=0.05).set_index("group")
    assert not floor.loc["decode", "significant"]


def test_cli_diff_gates_ci() -> None:
    runner = CliRunner()
    a, b = str(FIXTURES / "batch_1.ncu-rep"), str(FIXTURES / "batch_4.ncu-rep")
    slow = runner.invoke(main, ["diff", a, b, "--fail-if-slower", "5%"])
    assert slow.exit_code == 1
    assert "slower than" in slow.output
    assert "(total) +6.5%" in slow.output
    ok = runner.invoke(main, ["diff", a, b, "--fail-if-slower", "10"])
    assert ok.exit_code == 0
    assert "decode" in ok.output
    assert "elementwise_kernel" in ok.output          # the kernels that changed most
    noisy = runner.invoke(main, ["diff", a, b, "--fail-if-slower", "5", "--noise", "8%"])
    assert noisy.exit_code == 0
    bad = runner.invoke(main, ["diff", a, b, "--fail-if-slower", "five"])
    assert bad.exit_code == 2
    assert "percentage" in bad.output
    js = runner.invoke(main, ["diff", a, a, "--format", "json"])
    assert js.exit_code == 0
    assert '"time_delta": 0.0' in js.output


def test_the_readme_shows_real_output() -> None:
    assert _readme.check("diff") >= 1


def test_diff_draws_each_groups_move_from_a_to_b(tmp_path: Path) -> None:
    """Issue 12: arrows from A to B on the roofline, one per group in both runs, at the
    summary's own numbers for each run."""
    from roofprof.analysis.roofline import summarize
    from roofprof.views.chart.sweep import build_sweep

    a, b = load_fixture("batch_1.ncu-rep"), load_fixture("batch_64.ncu-rep")
    out = tmp_path / "moves.png"
    res = CliRunner().invoke(main, ["diff", str(FIXTURES / "batch_1.ncu-rep"),
                                    str(FIXTURES / "batch_64.ncu-rep"), "--by", "category",
                                    "--kernels", "0", "--plot", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scene = build_sweep([a, b], labels=["A", "B"], by="category")
    gemm = [g for g in scene.aggregates if g.name == "gemm"]
    assert [g.series for g in gemm] == ["A", "B"]
    for agg, trace in zip(gemm, (a, b), strict=True):
        row = summarize(trace, by="category").set_index("group").loc["gemm"]
        assert agg.y == pytest.approx(row["work_per_s"], rel=1e-12)
    assert any(scene.aggregates[i].name == "gemm" for i, _j in scene.arrows)
