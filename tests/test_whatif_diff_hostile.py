"""whatif and the diff gate on what production hands them (issue 24): kernels without
counters are not projected (null, counted with their share of the time; a trace none of whose
kernels can be projected is an error, not a table of roofs of 0), and every percentage option
is a finite, non-negative number or one UsageError naming it (``--fail-if-slower nan`` no
longer passes a run twice as slow)."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from roofprof.analysis import catalog
from roofprof.analysis import whatif as wi
from roofprof.app.diff import diff
from roofprof.app.whatif import whatif
from roofprof.cli import main
from roofprof.errors import InputError, RoofprofWarning, UsageError
from tests import _synth
from tests.conftest import FIXTURES, load_fixture

TIMING = FIXTURES / "llama_sample.timing.parquet"
KINETO = FIXTURES / "llama_kineto.json.gz"
H200 = catalog.get("H200")
NO_COUNTERS = "have no counters (null work, DRAM bytes or measured peaks)"
JOIN_FIX = ("a timing trace times launches only: project an Nsight Compute report, or the "
            "timing joined with one (`roofprof join TIMING COUNTERS`)")


def annotated() -> pd.DataFrame:
    """A copy of the H100 recording's kernels (every counter measured)."""
    return load_fixture("llama_annotated.ncu-rep").kernels.copy()


def quietly(kernels: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    """:func:`whatif` of ``kernels`` onto the H200, where every kernel is projected."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return wi.whatif(kernels, H200, **kw)


# ------------------------------------------------------------------ whatif: no counters


@pytest.mark.parametrize(("path", "n"), [(TIMING, 697), (KINETO, 413)])
def test_a_timing_trace_is_not_projected(path: Path, n: int) -> None:
    message = (f"{path}: none of the {n} kernels can be projected onto H200: {n} {NO_COUNTERS}; "
               f"{JOIN_FIX}")
    with pytest.warns(RoofprofWarning, match="a timing trace"), \
            pytest.raises(InputError) as caught:
        whatif(path, "H200")
    assert str(caught.value) == message
    out = CliRunner().invoke(main, ["whatif", str(path), "--gpu", "H200"])
    assert out.exit_code == 2
    assert out.stdout == ""
    assert out.stderr.splitlines()[-1] == f"roofprof: error: {message}"
    assert "at roof" not in out.output


def test_kernels_without_counters_have_null_projections_never_roofs_of_zero() -> None:
    with pytest.warns(RoofprofWarning, match="a timing trace"):
        kernels = load_fixture("llama_sample.timing.parquet").kernels
    with pytest.warns(RoofprofWarning) as caught:
        p = wi.project(kernels, H200)
    assert [str(w.message) for w in caught] == [
        f"697 of 697 kernels could not be projected onto H200: 697 {NO_COUNTERS}; their "
        "100.0% of the measured time is left out of the projected times"]
    for column in ("roof_ns", "target_roof_ns", "time_at_fraction_ns", "time_at_roof_ns"):
        assert p[column].isna().all(), column
    assert p["target_bound"].isna().all()
    with pytest.warns(RoofprofWarning, match="697 of 697 kernels could not be projected"):
        g = wi.whatif(kernels, H200).set_index("group")
    assert g["kernels"].to_dict() == {"other": 289, "decode": 306, "prefill": 102}
    assert (g["unprojected"] == g["kernels"]).all()
    assert g[["time_at_fraction_ns", "time_at_roof_ns", "speedup_at_fraction",
              "speedup_at_roof", "compute_bound_share"]].isna().all().all()
    assert g["bound"].isna().all()
    assert g["time_ns"].sum() == kernels["duration_ns"].sum()
    assert wi.unprojectable(kernels, H200) == (
        f"none of the 697 kernels can be projected onto H200: 697 {NO_COUNTERS}; {JOIN_FIX}")


def test_a_group_without_counters_is_null_and_the_others_keep_their_numbers() -> None:
    clean = quietly(annotated()).set_index("group")
    k = annotated()
    decode = (k["phase"] == "decode").to_numpy()
    k.loc[decode, "dram_bytes"] = np.nan
    share = 100 * k.loc[decode, "duration_ns"].sum() / k["duration_ns"].sum()
    assert f"{share:.1f}" == "24.4"
    with pytest.warns(RoofprofWarning) as caught:
        g = wi.whatif(k, H200).set_index("group")
    assert [str(w.message) for w in caught] == [
        f"64 of 126 kernels could not be projected onto H200: 64 {NO_COUNTERS}; their 24.4% of "
        "the measured time is left out of the projected times"]
    pd.testing.assert_series_equal(g.loc["prefill"], clean.loc["prefill"])
    assert g.loc["decode", "unprojected"] == 64
    assert g.loc["decode", "time_ns"] == clean.loc["decode", "time_ns"]
    assert math.isnan(g.loc["decode", "time_at_roof_ns"])
    assert pd.isna(g.loc["decode", "bound"])
    assert wi.unprojectable(k, H200) is None


@pytest.mark.parametrize(("column", "peaks"), [
    ("peak_flop_per_s_tensor_bf16", "ratio"),     # work without its measured peak
    ("peak_dram_bytes_per_s", "ratio"),           # bytes without the measured bandwidth
    ("peak_dram_bytes_per_s", "datasheet"),       # ... and the measured roof needs it too
    ("flop_tensor_bf16", "datasheet"),            # a work counter the input could not give
    ("dram_bytes", "datasheet"),
])
def test_one_kernel_with_a_null_counter_is_left_out_not_half_projected(column: str,
                                                                       peaks: str) -> None:
    k = annotated()
    gemm = int(k["flop_tensor_bf16"].to_numpy().argmax())   # the largest bf16 GEMM: prefill
    clean = quietly(k, peaks=peaks).set_index("group")
    k.loc[gemm, column] = np.nan
    with pytest.warns(RoofprofWarning, match="^1 of 126 kernels could not be projected onto "
                                             "H200: 1 have no counters"):
        p = wi.project(k, H200, peaks=peaks)
    assert p["time_at_fraction_ns"].isna().sum() == 1
    assert math.isnan(p.loc[gemm, "time_at_roof_ns"])
    assert pd.isna(p.loc[gemm, "target_bound"])
    with pytest.warns(RoofprofWarning, match="1 of 126 kernels"):
        g = wi.whatif(k, H200, peaks=peaks).set_index("group")
    assert g.loc["prefill", "unprojected"] == 1
    without = clean.loc["prefill", "time_at_fraction_ns"] - quietly(
        annotated().iloc[[gemm]], peaks=peaks)["time_at_fraction_ns"].iloc[0]
    assert g.loc["prefill", "time_at_fraction_ns"] == pytest.approx(without, rel=1e-12)
    pd.testing.assert_series_equal(g.loc["decode"], clean.loc["decode"])


def test_a_null_duration_is_said_too() -> None:
    k = annotated()
    k.loc[0, "duration_ns"] = np.nan
    with pytest.warns(RoofprofWarning) as caught:
        wi.project(k, H200)
    assert str(caught[0].message).startswith(
        "1 of 126 kernels could not be projected onto H200: 1 have a null duration; their ")


def test_a_precision_the_target_lacks_everywhere_is_said_so() -> None:
    fp8 = _synth.table([_synth.row("fp8_gemm", "prefill", 1e5, dram=1e6,
                                   flop_tensor_fp8=2 * 4096**3)])
    a100 = catalog.get("A100-SXM4-80GB")
    assert wi.unprojectable(fp8, a100) == (
        "none of the 1 kernels can be projected onto A100-SXM4-80GB: 1 use a precision "
        "A100-SXM4-80GB has no peak for; pick a target GPU with peaks for the precisions the "
        "kernels use")


def test_a_join_with_unmatched_launches_projects_the_matched_ones(tmp_path: Path) -> None:
    joined = tmp_path / "joined.parquet"
    done = CliRunner().invoke(main, ["join", str(TIMING), str(FIXTURES / "llama_sample.ncu-rep"),
                                     "-o", str(joined)])
    assert done.exit_code == 0, done.output
    warning = (f"roofprof: warning: 341 of 697 kernels could not be projected onto H200: 341 "
               f"{NO_COUNTERS}; their 42.0% of the measured time is left out of the projected "
               "times")
    out = CliRunner().invoke(main, ["whatif", str(joined), "--gpu", "H200"])
    assert out.exit_code == 0, out.output
    assert out.stderr.splitlines() == [warning]
    assert out.stdout.splitlines()[-1] == ("341 kernels could not be projected and are left "
                                           "out of the projected times")
    js = CliRunner().invoke(main, ["whatif", str(joined), "--gpu", "H200", "--format", "json"])
    rows = json.loads(js.stdout)
    assert {r["group"]: r["unprojected"] for r in rows} == {"other": 168, "decode": 135,
                                                          "prefill": 38}
    assert all(r["time_at_roof_ns"] > 0 for r in rows)


# ----------------------------------------------------------------------- percent options

BAD_PERCENT = [
    ("nan", "takes a percentage like 5 or 5%, not 'nan'"),
    ("inf", "takes a percentage like 5 or 5%, not 'inf'"),
    ("-inf", "takes a percentage like 5 or 5%, not '-inf'"),
    ("-5", "must not be negative, got '-5'"),
    ("abc", "takes a percentage like 5 or 5%, not 'abc'"),
    ("5%%", "takes a percentage like 5 or 5%, not '5%%'"),
    ("", "takes a percentage like 5 or 5%, not ''"),
    ("1e999", "must be a finite percentage, got '1e999'"),
    ("\uff15", "takes a percentage like 5 or 5%, not '\uff15'"),
    ("1_000", "takes a percentage like 5 or 5%, not '1_000'"),
]


@pytest.mark.parametrize("name", ["fail_if_slower", "noise"])
@pytest.mark.parametrize(("value", "message"), BAD_PERCENT)
def test_every_bad_percentage_is_one_usage_error_naming_the_option(
        name: str, value: str, message: str) -> None:
    a, b = FIXTURES / "batch_1.ncu-rep", FIXTURES / "batch_4.ncu-rep"
    with pytest.raises(UsageError) as caught:
        diff(a, b, **{name: value})
    assert str(caught.value) == f"{name} {message}"
    flag = "--" + name.replace("_", "-")
    out = CliRunner().invoke(main, ["diff", str(a), str(b), flag, value])
    assert (out.exit_code, out.stdout, out.stderr) == (2, "", f"roofprof: error: {flag} "
                                                              f"{message}\n")


@pytest.mark.parametrize(("kw", "message"), [
    ({"fail_if_slower": math.nan}, "fail_if_slower takes a percentage like 5 or 5%, not nan"),
    ({"fail_if_slower": math.inf}, "fail_if_slower takes a percentage like 5 or 5%, not inf"),
    ({"fail_if_slower": True}, "fail_if_slower takes a percentage like 5 or 5%, not True"),
    ({"noise": -0.5}, "noise must not be negative, got -0.5"),
    ({"kernels": -1}, "kernels must be a whole number of at least 0, got -1"),
    ({"kernels": 1.5}, "kernels must be a whole number of at least 0, got 1.5"),
    ({"kernels": True}, "kernels must be a whole number of at least 0, got True"),
    ({"gate": "bogus"}, "gate is 'total' or 'group', not 'bogus'"),
])
def test_the_api_checks_what_the_command_line_cannot_pass(kw: dict[str, Any],
                                                          message: str) -> None:
    with pytest.raises(UsageError) as caught:
        diff(FIXTURES / "batch_1.ncu-rep", FIXTURES / "batch_4.ncu-rep", **kw)
    assert str(caught.value) == message


def test_the_gate_fires_on_a_run_twice_as_slow(tmp_path: Path) -> None:
    base = load_fixture("batch_1.ncu-rep")
    slow = replace(base, kernels=base.kernels.assign(duration_ns=base.kernels["duration_ns"] * 2))
    a, b = FIXTURES / "batch_1.ncu-rep", slow.save(tmp_path / "slow.parquet")
    failure = diff(a, b, fail_if_slower="50%").failure
    assert failure == f"{b} is slower than {a} by 50% or more: (total) +100.0%"
    assert diff(a, b, fail_if_slower=" 50 ").failure == failure
    assert diff(a, b, fail_if_slower="-0").failure == failure.replace("by 50%", "by 0%")
    assert diff(a, b, fail_if_slower="101").failure is None
    for value in ("nan", "inf", "abc", ""):
        out = CliRunner().invoke(main, ["diff", str(a), str(b), "--fail-if-slower", value])
        assert out.exit_code == 2, value        # never 0: the gate cannot be switched off
    out = CliRunner().invoke(main, ["diff", str(a), str(b), "--fail-if-slower", "50"])
    assert (out.exit_code, out.stderr.splitlines()[-1]) == (1, f"roofprof: error: {failure}")
