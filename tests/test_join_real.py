"""The join on a real `record --sample 1` of the 2-layer Llama on an H100 (fixtures/MANIFEST.md),
against a full recording of the same program: what sampled counters can and cannot stand for."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import roofprof
from roofprof.analysis.join import join
from roofprof.errors import RoofprofWarning
from roofprof.inputs.timing import load_timing
from roofprof.tables.kernels import Trace
from tests.conftest import FIXTURES


def _load(name: str) -> Trace:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        return roofprof.load(FIXTURES / name)


@pytest.fixture(scope="module")
def joined() -> tuple[Trace, Trace]:
    timing = load_timing(FIXTURES / "llama_sample.timing.parquet")
    return join(timing, _load("llama_sample.ncu-rep")), join(timing, _load(
        "llama_full_record.parquet"))


def test_ncu_samples_one_template_instance_per_function_and_configuration() -> None:
    sample, full = _load("llama_sample.ncu-rep").kernels, _load(
        "llama_full_record.parquet").kernels
    config = ["kernel", "grid", "block"]
    assert sample.groupby(config).ngroups == len(sample) == 37
    assert full.groupby(config).ngroups == 37
    assert full.groupby(["kernel_demangled", "grid", "block"]).ngroups == 57
    assert roofprof.load(FIXTURES / "llama_sample.ncu-rep").meta["sampling"]["kind"] == "sample"


def test_unsampled_instances_get_no_counters_and_the_report_says_so(
        joined: tuple[Trace, Trace]) -> None:
    sampled, _ = joined
    facts = sampled.meta["join"]
    other = facts["unmatched_other_instance"]
    assert other["launches"] > 0
    k = sampled.kernels
    none = k["counters_from"] == "none"
    assert k.loc[none, "flop"].isna().all()
    # every launch that has counters took them from its own template instance
    assert k.loc[~none, "counters_key"].astype(str).str.contains("template").all()
    from roofprof.views.join import format_report

    assert "another template instance was profiled" in format_report(facts)


def test_deterministic_kernels_take_the_full_recordings_counters(
        joined: tuple[Trace, Trace]) -> None:
    """Where every launch of a template instance, grid and block does the same work (within
    1%) in the full recording, one sample stands for all: the joined FLOPs and DRAM bytes equal
    the full recording's, launch by launch."""
    sampled, truth = joined
    s, t = sampled.kernels, truth.kernels
    full = _load("llama_full_record.parquet").kernels
    both = ((t["counters_from"] == "launch") & (s["counters_from"] != "none")).to_numpy()
    key = ["kernel_demangled", "grid", "block"]
    checked = 0
    for col in ("flop", "dram_bytes"):
        g = full.groupby(key, dropna=False)[col]
        steady = full.loc[np.isclose(g.transform("min"), g.transform("max"), rtol=0.01), key]
        det = s[key].merge(steady.drop_duplicates().assign(_d=True), on=key, how="left")["_d"]
        rows = both & det.fillna(False).to_numpy(bool)
        x, y = s.loc[rows, col].to_numpy(), t.loc[rows, col].to_numpy()
        assert np.allclose(x, y, rtol=0.01), col
        checked += int(rows.sum())
    assert checked >= 60
    # and the phase time shares are the timing's, whatever the counters
    timing = load_timing(FIXTURES / "llama_sample.timing.parquet").kernels
    a = s.groupby("phase")["duration_ns"].sum()
    b = timing.groupby("phase")["duration_ns"].sum()
    assert (a == b).all()


def test_coverage_inside_what_ncu_could_profile(joined: tuple[Trace, Trace]) -> None:
    """ncu was asked for the prefill and decode ranges only: the warm-up, the model's set-up
    and everything else outside them could never get counters, and the report says how much
    of the time inside the ranges has them."""
    sampled, _ = joined
    facts = sampled.meta["join"]
    k = sampled.kernels
    inside = k["range"].str.startswith(("prefill", "decode")).to_numpy()
    t = k["duration_ns"].to_numpy()
    assert facts["in_scope"]["time"] == pytest.approx(t[inside].sum() / t.sum())
    got = facts["in_scope"]["coverage_by_time"]
    none = (k["counters_from"] == "none").to_numpy()
    assert got["none"] == pytest.approx(t[inside & none].sum() / t[inside].sum())
    assert sum(got.values()) == pytest.approx(1.0)
    from roofprof.views.join import format_report

    assert "of the launches ncu could profile (inside its filters" in format_report(facts)
