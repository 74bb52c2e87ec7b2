"""Issue 5 on real recordings (H100, fixtures/capture_llm.sh): phases, operator families and
sweeps from measured data."""

from __future__ import annotations

import pytest

import roofprof
from tests.conftest import load_fixture


def test_annotated_llama_has_the_same_ops_in_each_phase() -> None:
    k = load_fixture("llama_annotated.ncu-rep").kernels
    assert set(k["phase"]) == {"prefill", "decode"}
    ops = k.groupby("phase")["op"].apply(lambda s: set(s.dropna()))
    for phase in ("prefill", "decode"):
        assert {"qkv_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head",
                "attention", "norm", "embed"} <= ops[phase]
    # the module path is the NVTX stack under the phase range
    assert k["nvtx"].map(lambda s: s[0]).isin(["prefill", "decode"]).all()
    assert any("model.layers.0.self_attn.q_proj" in s for s in k["nvtx"].map("/".join))


def test_projections_are_gemms_and_summary_separates_them_by_phase() -> None:
    t = load_fixture("llama_annotated.ncu-rep")
    k = t.kernels
    proj = k[k["op"].isin(["qkv_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                           "lm_head"])]
    assert proj["category"].eq("gemm").all()
    table = roofprof.summary(t, by="op,phase")
    groups = set(table["group"])
    assert {"qkv_proj · prefill", "qkv_proj · decode", "down_proj · decode"} <= groups
    by = table.set_index("group")
    # the same weights do more work per byte when the whole prompt goes through them
    assert by.loc["qkv_proj · prefill", "ai_dram"] > by.loc["qkv_proj · decode", "ai_dram"]


def test_categories_cover_the_llama() -> None:
    k = load_fixture("llama_small.ncu-rep").kernels
    assert {"gemm", "attention", "elementwise"} <= set(k["category"])
    assert not k["category"].isna().any()


def test_decode_moves_toward_the_ridge_as_the_batch_grows() -> None:
    ai = {}
    for b in (1, 16, 64):
        t = roofprof.summary(load_fixture(f"batch_{b}.ncu-rep"), by="phase").set_index("group")
        ai[b] = t.loc["decode", "ai_dram"]
        assert t.loc["decode", "bound"] == "memory"
    # batch 1 and 16 measure the same tensor-core work: cuBLAS pads M up to its 8/16-row
    # tiles, and the counters count what the tensor cores really executed
    assert ai[16] == pytest.approx(ai[1], rel=0.1)
    assert ai[64] > 1.8 * ai[1]


def test_speculative_verification_ranges_are_phase_spec() -> None:
    k = load_fixture("spec_verify.ncu-rep").kernels
    assert set(k["range"].str.split("/").str[0]) == {"spec_verify"}
    assert k["phase"].eq("spec").all()
    flops = k.groupby(k["range"].str.split("/").str[1])["flop"].sum()
    assert flops["16"] < flops["64"] < flops["112"]
