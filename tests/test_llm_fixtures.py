"""Issue 5 on real recordings (H100, fixtures/capture_llm.sh): phases, operator families and
sweeps from measured data, checked against the work a GEMM of known shape must do."""

from __future__ import annotations

import pandas as pd
import pytest

import roofprof
from roofprof.analysis import roofline as rl
from roofprof.views import tables as tb
from tests.conftest import load_fixture
from tests.test_roofline import _check_golden

#: llama_annotated: 1 layer, hidden 2048, 16 heads, 4 KV heads (head dim 128), MLP 5440,
#: vocab 8000; prefill of 2 sequences x 1024 tokens, then one decode step
HIDDEN, KV, MLP, VOCAB, TOKENS = 2048, 4 * 128, 5440, 8000, 2 * 1024
PROJECTIONS = ["qkv_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


@pytest.fixture(scope="module")
def annotated() -> roofprof.Trace:
    return load_fixture("llama_annotated.ncu-rep")


def test_prefill_is_compute_bound_and_decode_memory_bound(annotated: roofprof.Trace) -> None:
    """The issue's "done when": measured AI on each side of the ridge."""
    s = roofprof.summary(annotated, by="phase").set_index("group")
    pre, dec = s.loc["prefill"], s.loc["decode"]
    assert pre["bound"] == "compute"
    assert pre["precision"] == dec["precision"] == "tensor_bf16"
    assert pre["ai"] > pre["ridge"] > 250          # BF16 dense ridge of an H100 SXM
    assert dec["bound"] in ("memory", "latency")
    assert dec["ai"] < pre["ridge"] / 10
    assert pre["time_share"] + dec["time_share"] == pytest.approx(1.0)
    # the phase table's columns are the roofline's own numbers
    assert pre["pct_of_peak_compute"] == pytest.approx(
        pre["work_per_s"] / pre["peak_compute_per_s"])
    assert dec["pct_of_peak_bandwidth"] == pytest.approx(
        dec["bytes_per_s"] / dec["peak_bytes_per_s"])


def test_prefill_projection_flops_are_2mnk(annotated: roofprof.Trace) -> None:
    k = annotated.kernels
    gemm = k[(k["phase"] == "prefill") & (k["category"] == "gemm") & k["op"].isin(PROJECTIONS)]
    flop = gemm.groupby("op")["flop"].sum()
    assert flop["qkv_proj"] == 2 * TOKENS * HIDDEN * (HIDDEN + 2 * KV)
    assert flop["o_proj"] == 2 * TOKENS * HIDDEN * HIDDEN
    assert flop["down_proj"] == 2 * TOKENS * MLP * HIDDEN
    # N = 5440 and 8000 are no multiple of cuBLAS's tile width (168, 256): the tensor cores
    # execute the padded tiles, and the counters count them
    assert flop["gate_proj"] == 2 * TOKENS * HIDDEN * (33 * 168)
    assert flop["lm_head"] == 2 * TOKENS * HIDDEN * (32 * 256)
    assert (gemm["flop"] == gemm["flop_tensor_bf16"]).all()


def test_ops_separate_the_families_in_each_phase(annotated: roofprof.Trace) -> None:
    k = annotated.kernels
    assert set(k["phase"]) == {"prefill", "decode"}
    ops = k.groupby("phase")["op"].apply(lambda s: set(s.dropna()))
    for phase in ("prefill", "decode"):
        assert {*PROJECTIONS, "attention", "attention_other", "norm", "rope", "embed",
                "model"} <= ops[phase]
    assert not k["op"].isna().any()
    # the module path is the NVTX stack under the phase range
    assert k["nvtx"].map(lambda s: s[0]).isin(["prefill", "decode"]).all()
    assert any("model.layers.0.self_attn.q_proj" in s for s in k["nvtx"].map("/".join))
    proj = k[k["op"].isin(PROJECTIONS)]
    assert proj["category"].isin(["gemm"]).all()
    # "attention" is the fused kernel (and cuDNN's split-KV combine at decode), not the rope
    # and KV-cache kernels that run in the same module
    attn = k[k["op"] == "attention"]
    assert attn["category"].eq("attention").all()
    assert attn.groupby("phase").size().to_dict() == {"prefill": 1, "decode": 2}
    table = roofprof.summary(annotated, by="op,phase").set_index("group")
    for op in ("qkv_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "attention"):
        assert table.loc[f"{op} · prefill", "bound"] == "compute", op
        assert table.loc[f"{op} · decode", "bound"] in ("memory", "latency"), op
        # the same weights do far more work per byte when the whole prompt goes through them
        assert table.loc[f"{op} · prefill", "ai"] > 20 * table.loc[f"{op} · decode",
                                                                          "ai"]


def test_categories_separate_gemm_attention_elementwise(annotated: roofprof.Trace) -> None:
    s = roofprof.summary(annotated, by="category").set_index("group")
    assert {"gemm", "attention", "elementwise", "copy", "reduce", "activation",
            "embedding"} <= set(s.index)
    assert "other" not in s.index
    assert s.loc["gemm", "time_share"] > s.loc["attention", "time_share"]
    assert s.loc["gemm", "ai"] > 100 * s.loc["elementwise", "ai"]


@pytest.mark.parametrize("by", ["phase", "category", "op,phase"])
def test_golden_summary_of_annotated_llama(annotated: roofprof.Trace, by: str) -> None:
    name = by.replace(",", "_")
    _check_golden(f"summary_llama_annotated_by_{name}.json",
                  tb.to_json(rl.summarize(annotated, by=by)))


def test_eager_attention_splits_qk_softmax_pv_with_exact_flops() -> None:
    """llama_eager: hidden 512, 8 heads (head dim 64), batch 4 x 128 tokens, eager attention."""
    t = load_fixture("llama_eager.ncu-rep")
    k = t.kernels
    by_op = k.groupby("op")
    counts = by_op.size()
    assert counts["attention_qk"] == counts["attention_pv"] == counts["attention_softmax"] == 1
    batch, heads, seq, dim = 4, 8, 128, 64
    qk = k.loc[k["op"] == "attention_qk", "flop"].item()
    pv = k.loc[k["op"] == "attention_pv", "flop"].item()
    assert qk == pv == 2 * batch * heads * seq * seq * dim
    qk_row = k[k["op"] == "attention_qk"].index.item()
    pv_row = k[k["op"] == "attention_pv"].index.item()
    softmax_row = k[k["op"] == "attention_softmax"].index.item()
    assert qk_row < softmax_row < pv_row  # launch order
    _check_golden("summary_llama_eager_by_op.json", tb.to_json(rl.summarize(t, by="op")))


def test_decode_moves_toward_the_ridge_as_the_batch_grows() -> None:
    ai = {}
    for b in (1, 4, 16, 64):
        t = roofprof.summary(load_fixture(f"batch_{b}.ncu-rep"), by="phase").set_index("group")
        ai[b] = t.loc["decode", "ai"]
        assert t.loc["decode", "bound"] in ("memory", "latency")
    # batch 1, 4 and 16 measure the same tensor-core work: cuBLAS pads M up to its 8/16-row
    # tiles, and the counters count what the tensor cores really executed
    assert ai[4] == pytest.approx(ai[1], rel=0.1)
    assert ai[16] == pytest.approx(ai[1], rel=0.1)
    assert ai[64] > 1.8 * ai[1]


def _spec_kernels() -> pd.DataFrame:
    k = load_fixture("spec_verify.ncu-rep").kernels
    return k.assign(count=k["range"].str.split("/").str[1].astype(int))


def test_speculative_verification_ranges_are_phase_spec() -> None:
    k = _spec_kernels()
    assert set(k["range"].str.split("/").str[0]) == {"spec_verify"}
    assert k["phase"].eq("spec").all()
    assert sorted(set(k["count"])) == [16, 64, 112]
    q = k[k["nvtx"].map(lambda s: s[-1].endswith("self_attn.q_proj"))]
    assert dict(zip(q["count"], q["flop"], strict=True)) == {
        n: 2 * n * HIDDEN * HIDDEN for n in (16, 64, 112)}


def test_speculative_candidates_move_the_gemms_toward_the_ridge() -> None:
    s = roofprof.summary(load_fixture("spec_verify.ncu-rep"), by="op,range",
                         depth=2).set_index("group")
    for op in ("qkv_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        ai = [s.loc[f"{op} · spec_verify/{n}", "ai"] for n in (16, 64, 112)]
        assert ai[0] < ai[1] < ai[2], op
        assert ai[2] > 5 * ai[0], op
    # cuDNN's attention kernel runs 128-query tiles: 16, 64 and 112 candidates execute the
    # same tensor-core work over the 1024-token context
    k = _spec_kernels()
    attn = k[k["op"] == "attention"].set_index("count")["flop_tensor_bf16"]
    assert attn[16] == attn[64] == attn[112] == 4 * 16 * 128 * (9 * 128) * 128


def test_plot_by_op_and_phase_draws_families_as_shades_of_one_hue(
        annotated: roofprof.Trace) -> None:
    import colorsys

    from matplotlib.colors import to_rgb

    from roofprof.views import chart

    classic = "^(qkv|o|gate|up|down)_proj$|^attention$|^lm_head$"
    sc = chart.build_scene(annotated, by="op,phase", filter=classic)
    assert set(sc.kernels["op"]) == {*PROJECTIONS, "attention"}
    names, colours = sc.group_names, sc.group_colours
    shown = [lab.split("  ")[0] for lab, _c in sc.legend]
    assert len(shown) == 14  # 7 families x 2 phases, every one with a colour of its own
    for family in (*PROJECTIONS, "attention"):
        pre, dec = (names.index(f"{family} · {p}") for p in ("prefill", "decode"))
        assert shown.index(f"{family} · decode") == shown.index(f"{family} · prefill") + 1
        h_pre = colorsys.rgb_to_hls(*to_rgb(colours[pre]))[0]
        h_dec = colorsys.rgb_to_hls(*to_rgb(colours[dec]))[0]
        assert min(abs(h_pre - h_dec), 1 - abs(h_pre - h_dec)) < 0.02  # one hue per family
        assert colours[pre] != colours[dec]           # a shade per phase
    assert any("filter '^(qkv|o|gate|up|down)_proj$" in t for t in sc.subtitle)
    ax = chart.plot(annotated, by="op,phase", filter=classic)
    assert any("filter '^(qkv|o|gate|up|down)_proj\\$" in t.get_text() for t in ax.texts)


def test_sweep_plot_of_the_batch_fixtures_moves_decode_right() -> None:
    from roofprof.views import chart

    batches = (1, 4, 16, 64)
    traces = [load_fixture(f"batch_{b}.ncu-rep") for b in batches]
    from roofprof.views.chart.sweep import build_sweep

    sc = build_sweep(traces, by="phase", labels=[f"batch {b}" for b in batches])
    assert [a.series for a in sc.aggregates] == [f"batch {b}" for b in batches]
    assert {a.name for a in sc.aggregates} == {"decode"}  # one point per trace, in order
    assert sc.arrows == [(0, 1), (1, 2), (2, 3)]
    x = [a.x["dram"] for a in sc.aggregates]
    for a, t in zip(sc.aggregates, traces, strict=True):  # the summary's numbers, exactly
        row = roofprof.summary(t, by="phase").set_index("group").loc["decode"]
        assert a.y == pytest.approx(row["work_per_s"], rel=1e-12)
        assert a.numbers["pct_of_roof"] == pytest.approx(row["pct_of_roof"], rel=1e-12)
    ax = chart.plot_sweep(traces, by="phase", labels=[f"batch {b}" for b in batches])
    want = [roofprof.summary(t, by="phase").set_index("group").loc["decode", "ai"]
            for t in traces]
    assert x == pytest.approx(want)
    assert x[-1] > 1.8 * x[0]
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("batch ")] == [
        f"batch {b}" for b in batches]


def test_a_sweep_says_where_its_points_coincide() -> None:
    """Issue 25: a move too small to see (one recording given twice; batch 1 -> 4 -> 16) is
    said in the notes; a move the plot shows (16 -> 64) is not."""
    from roofprof.views.chart.sweep import build_sweep

    one = load_fixture("batch_1.ncu-rep")
    same = build_sweep([one, one], by="phase", labels=["a", "b"])
    head = "points coincide (under 15% apart, no visible move):"
    assert same.notes[same.notes.index(head):] == [head, "  decode a → b"]
    # decode: batch 1 -> 4 moves 2.9% in intensity, 4 -> 16 8.5% in FLOP/s (one marker's
    # width on the plot); 16 -> 64 doubles the intensity
    batches = [load_fixture(f"batch_{b}.ncu-rep") for b in (1, 4, 16, 64)]
    sweep = build_sweep(batches, by="phase", labels=["1", "4", "16", "64"])
    assert sweep.notes[sweep.notes.index(head):] == [head, "  decode 1 → 4", "  decode 4 → 16"]
