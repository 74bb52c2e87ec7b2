"""Measured roofline analysis: hand calculations, properties, golden summaries, error cases."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roofprof.analysis import labels
from roofprof.analysis import roofline as rl
from roofprof.analysis.grouping import NO_RANGE
from roofprof.errors import InputError, UsageError
from roofprof.inputs.load import load
from roofprof.tables.schema import COLUMNS
from roofprof.views import fmt
from roofprof.views import tables as tb
from tests import _synth

GOLDEN = Path(__file__).parent / "golden"
FIXTURES = Path(__file__).parent.parent / "fixtures"
UPDATE = os.environ.get("ROOFPROF_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _synth.h100_table()


# ------------------------------------------------------------------- hand calculations


def _row(table: pd.DataFrame, kernel: str, level: str = "dram") -> pd.Series:
    i = table.index[table["kernel"].str.contains(kernel, regex=False)][0]
    return rl.kernel_numbers(table, level).loc[i]


def test_compute_bound_gemm_matches_hand_calculation(table: pd.DataFrame) -> None:
    row = rl.kernel_numbers(table).iloc[0]  # 1024x14336x4096 bf16 GEMM at 1.62 GHz, 70% of roof
    bf16 = 2 * 1024 * 14336 * 4096
    fp32 = 1024 * 14336 * 2
    peak = 540672 * 1.62e9
    t = table["duration_ns"].iloc[0]
    assert row["precision"] == "tensor_bf16"
    assert row["work"] == bf16 + fp32
    assert row["ai"] == pytest.approx((bf16 + fp32) / 1.55e8)
    # compute time: the slowest precision at its own peak (bf16 here; fp32 is 2,000x less)
    assert row["compute_ns"] == pytest.approx(bf16 / peak * 1e9)
    assert row["memory_ns"] == pytest.approx(1.55e8 / 3.35e12 * 1e9)
    assert row["roof_ns"] == pytest.approx(row["compute_ns"])
    assert row["pct_of_roof"] == pytest.approx(0.70)
    assert row["pct_of_peak_compute"] == pytest.approx(0.70)
    assert row["pct_of_peak_bandwidth"] == pytest.approx(1.55e8 / 3.35e12 / (t * 1e-9))
    assert row["peak_compute_per_s"] == pytest.approx((bf16 + fp32) / (bf16 / peak))
    assert row["bound"] == "compute"
    assert row["headroom_ns"] == pytest.approx(t * 0.30)


def test_memory_bound_kernel_uses_bandwidth_roof(table: pd.DataFrame) -> None:
    row = _row(table, "paged_attention_v2_kernel")
    assert row["precision"] == "fp32"
    assert row["ai"] == pytest.approx(3.4e7 / 1.7e7)
    assert row["roof_ns"] == pytest.approx(1.7e7 / 3.35e12 * 1e9)
    assert row["pct_of_roof"] == pytest.approx(1.7e7 / 3.35e12 / 9.1e-6)
    assert row["roof_per_s"] == pytest.approx(row["ai"] * 3.35e12)
    assert row["bound"] == "memory"


def test_kernel_without_flops_is_judged_by_bandwidth(table: pd.DataFrame) -> None:
    row = _row(table, "CatArrayBatchedCopy")
    assert row["work"] == 0
    assert pd.isna(row["precision"])
    assert row["ai"] == 0
    assert row["compute_ns"] == 0
    assert row["pct_of_roof"] == pytest.approx(4.2e6 / 2.6e-6 / 3.35e12)
    assert row["bound"] == "latency"  # 4.2 MB at 3.35 TB/s: 1.3 us, under the launch floor


def test_null_peak_gives_unknown_with_the_reason_not_zero(table: pd.DataFrame) -> None:
    row = _row(table, "flash_fwd_splitkv_kernel")
    assert row["ai"] > 0  # work and bytes are known
    assert math.isnan(row["pct_of_roof"])
    assert math.isnan(row["roof_per_s"])
    assert row["bound"] == "unknown"
    assert "no FP32 CUDA-core, BF16 tensor peak" in row["reason"]
    assert "no DRAM bandwidth peak" in row["reason"]
    l1 = _row(table, "flash_fwd_splitkv_kernel", "l1")
    assert math.isnan(l1["ai"])  # no L1 counter
    assert "no L1 bytes counter" in l1["reason"]


def test_a_missing_work_counter_makes_the_verdict_unknown() -> None:
    """--set roofline has no FP8 counter: an FP8 GEMM must not be called memory-bound."""
    t = _synth.table([_synth.row("fp8_gemm", "r", 50_000, dram=1e8, flop_fp32=1e6)])
    t["flop_tensor_fp8"] = np.nan
    row = rl.kernel_numbers(t).iloc[0]
    assert row["bound"] == "unknown"
    assert row["reason"] == "no FP8 tensor work counter"
    assert math.isnan(row["pct_of_roof"])
    assert row["pct_of_peak_bandwidth"] == pytest.approx(1e8 / 3.35e12 / 50e-6)


def test_a_precision_the_gpu_lacks_is_not_missing() -> None:
    """No FP8 unit (peak and counter both absent, as on an A100): its work is 0, not unknown."""
    t = _synth.table([_synth.row("sgemm", "r", 50_000, dram=1e8, flop_fp32=1e11)])
    t["flop_tensor_fp8"] = np.nan
    t["peak_flop_per_s_tensor_fp8"] = np.nan
    assert rl.kernel_numbers(t).iloc[0]["bound"] == "compute"


def test_short_kernels_far_below_both_roofs_are_latency_bound() -> None:
    rows = [_synth.row("tiny_norm", "decode", 3_000, dram=2e5, flop_fp32=1e5),
            _synth.row("big_copy", "decode", 3_000, dram=9e6)]
    k = rl.kernel_numbers(_synth.table(rows))
    assert k["roof_ns"].iloc[0] < rl.LAUNCH_FLOOR_NS
    assert k["bound"].tolist() == ["latency", "memory"]
    # headroom never counts the launch floor: 3 us - max(roof, 2 us)
    assert k["headroom_ns"].iloc[0] == pytest.approx(3_000 - rl.LAUNCH_FLOOR_NS)
    assert k["headroom_ns"].iloc[1] == pytest.approx(3_000 - k["roof_ns"].iloc[1])


def test_l1_point_of_a_tma_kernel_is_not_drawn_on_hopper() -> None:
    rows = [_synth.row("nvjet_gemm", "g", 50_000, dram=1e8, l2=4e8, l1=1e3, flop_tensor_bf16=1e12),
            _synth.row("norm", "n", 50_000, dram=1e8, l2=1e8, l1=2e8, flop_fp32=1e8)]
    k = rl.kernel_numbers(_synth.table(rows), "l1")
    assert math.isnan(k["ai"].iloc[0])
    assert "TMA" in k["reason"].iloc[0]
    assert k["ai"].iloc[1] == pytest.approx(0.5)


def test_int8_is_its_own_precision_counted_in_ops(table: pd.DataFrame) -> None:
    row = _row(table, "s8s8")
    assert row["precision"] == "tensor_int8"
    assert row["flop"] == 0
    assert row["ops_int8"] == 2 * 4096**2 * 2048
    assert row["work"] == 2 * 4096**2 * 2048
    assert row["peak_compute_per_s"] == pytest.approx(1081344 * 1.7e9)
    assert row["pct_of_roof"] == pytest.approx(0.55)


def test_per_kernel_peaks_follow_each_kernels_clock(table: pd.DataFrame) -> None:
    k = rl.kernel_numbers(table)
    gemms = k[(table["kernel"] == "nvjet_sm90_tst_128x256_64x4_2x1_v_bz_coopA_NNT").to_numpy()]
    bf16 = 2 * 1024 * 14336 * 4096
    assert list(gemms["compute_ns"]) == pytest.approx(
        [bf16 / (540672 * 1.62e9) * 1e9, bf16 / (540672 * 1.59e9) * 1e9])


def test_group_numbers_follow_the_documented_definitions(table: pd.DataFrame) -> None:
    s = rl.summarize(table, by="range").set_index("group")
    g = s.loc["prefill/layer1/mlp"]  # a BF16 GEMM and an FP8 GEMM at different clocks
    rows = table[table["range"] == "prefill/layer1/mlp"]
    k = rl.kernel_numbers(rows)
    time = rows["duration_ns"].sum()
    work = rows["flop"].sum()
    assert g["kernels"] == 2
    assert g["work"] == pytest.approx(work)
    assert g["ai"] == pytest.approx(work / rows["dram_bytes"].sum())
    assert g["work_per_s"] == pytest.approx(work / (time * 1e-9))
    assert g["pct_of_roof"] == pytest.approx(k["roof_ns"].sum() / time)
    assert g["pct_of_peak_compute"] == pytest.approx(k["compute_ns"].sum() / time)
    assert g["pct_of_peak_bandwidth"] == pytest.approx(k["memory_ns"].sum() / time)
    assert g["peak_compute_per_s"] == pytest.approx(work / (k["compute_ns"].sum() * 1e-9))
    assert g["headroom_ns"] == pytest.approx(k["headroom_ns"].sum())
    # the mixed group stays under its roof: FP8 work is not measured against the BF16 peak
    assert g["pct_of_roof"] <= 1
    assert g["precision"] == "tensor_bf16"  # the larger compute time


def test_known_work_by_category_never_exceeds_100_percent() -> None:
    """Issue 9: gemm was at 156% of peak compute when its roof came from one precision."""
    from tests.conftest import load_fixture

    trace = load_fixture("known_work.ncu-rep")
    for by in ("category", "device", "range", "kernel"):
        s = rl.summarize(trace, by=by)
        for col in ("pct_of_roof", "pct_of_peak_compute", "pct_of_peak_bandwidth"):
            assert (s[col].dropna() <= 1.0).all(), (by, col)


def test_depth_groups_by_range_prefix(table: pd.DataFrame) -> None:
    s = rl.summarize(table, by="range", depth=1)
    assert set(s["group"]) == {"prefill", "decode", "postprocess", "check", "quant",
                               NO_RANGE}
    assert s["kernels"].sum() == len(table)


def test_depth_keeps_slashes_inside_nvtx_names() -> None:
    t = _synth.table([_synth.row("k", "a/b", 1000, dram=1e6, flop_fp32=1e6)])
    t["nvtx"] = [["a/b", "c"]]
    t["range"] = pd.array(["a/b/c"], dtype="string")
    assert rl.summarize(t, depth=1)["group"].tolist() == ["a/b"]


def test_summary_by_kernel_device_and_any_column(table: pd.DataFrame) -> None:
    by_kernel = rl.summarize(table, by="kernel")
    assert by_kernel["kernels"].sum() == len(table)
    assert rl.summarize(table, by="device")["group"].tolist() == ["0"]
    assert len(rl.summarize(table, by="stream")) == 1


def test_top_groups_and_top_kernels(table: pd.DataFrame) -> None:
    s = rl.summarize(table, top=3)
    assert len(s) == 3
    assert s["time_ns"].is_monotonic_decreasing
    top = rl.top_kernels(table, 4)
    assert len(top) == 4
    assert top["headroom_ns"].is_monotonic_decreasing
    full = rl.kernel_numbers(table)["headroom_ns"].max()
    assert top["headroom_ns"].iloc[0] == pytest.approx(full)


def test_levels_change_the_roof(table: pd.DataFrame) -> None:
    dram = rl.summarize(table, level="dram").set_index("group")
    l2 = rl.summarize(table, level="l2").set_index("group")
    g = "decode/layer0/mlp"
    assert dram.loc[g, "level"] == "dram"
    assert l2.loc[g, "level"] == "l2"
    assert l2.loc[g, "peak_bytes_per_s"] == pytest.approx(9024 * 1.6e9)
    assert l2.loc[g, "ai"] < dram.loc[g, "ai"]


# ------------------------------------------------------------------------ rendering


def test_json_records_have_the_documented_keys(table: pd.DataFrame) -> None:
    records = json.loads(tb.to_json(rl.summarize(table)))
    assert all(set(rl.SUMMARY_COLUMNS) == set(r) for r in records)
    bw = next(r for r in records if r["group"] == "decode/kv_cache")
    assert bw["work"] == 0
    assert bw["ai"] == 0
    unknown = next(r for r in records if r["group"] == "decode/layer1/attn")
    assert unknown["pct_of_roof"] is None  # never NaN in JSON
    assert unknown["bound"] == "unknown"
    assert "peak" in unknown["reason"]


def test_format_table_is_readable_and_fits(table: pd.DataFrame) -> None:
    s = rl.summarize(table)
    wide = tb.format_table(s, wide=True)
    lines = wide.splitlines()
    assert lines[0].split()[:4] == ["group", "kernels", "time", "share"]
    assert "prefill/layer1/mlp" in wide
    assert "POP/s" in wide  # INT8 roof is in ops
    assert "decode/layer1/attn: unknown: 1 of 1 kernels: no FP32 CUDA-core, BF16" in wide
    assert len({len(line) for line in lines[:2]}) == 1
    narrow = tb.format_table(s, width=80)
    table_lines = [ln for ln in narrow.splitlines() if not ln.startswith(("(", "-:", "decode/"))]
    assert max(len(ln) for ln in narrow.splitlines()[:len(s) + 2]) <= 80, table_lines
    assert "--wide shows all" in narrow


def test_csv_has_a_header_and_one_row_per_group(table: pd.DataFrame) -> None:
    s = rl.summarize(table)
    lines = tb.to_csv(s).splitlines()
    assert lines[0].startswith("group,kernels,time_ns")
    assert len(lines) == len(s) + 1


@pytest.mark.parametrize(("value", "text"), [
    (989e12, "989 TFLOP/s"), (3.35e12, "3.35 TFLOP/s"), (0.0, "0 FLOP/s"), (None, "-"),
    (1.5e-6, "1.5 µFLOP/s"),
])
def test_si(value: float | None, text: str) -> None:
    assert fmt.si(value, "FLOP/s") == text


# --------------------------------------------------------------------------- golden


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        if not UPDATE:
            pytest.fail(f"wrote new golden file {path}; check it and commit it")
    want = json.loads(path.read_text())
    got = json.loads(text)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys()
        for key in w:
            if isinstance(w[key], float):
                assert g[key] == pytest.approx(w[key], rel=1e-9), (w["group"], key)
            else:
                assert g[key] == w[key], (w["group"], key)


def test_golden_summary_of_synthetic_trace(table: pd.DataFrame) -> None:
    _check_golden("summary_synthetic_by_range.json", tb.to_json(rl.summarize(table)))


def test_golden_summary_of_synthetic_trace_l2_depth1(table: pd.DataFrame) -> None:
    _check_golden("summary_synthetic_depth1_l2.json",
                  tb.to_json(rl.summarize(table, depth=1, level="l2")))


@pytest.mark.parametrize("name", ["known_work", "llama_small"])
def test_golden_summary_of_real_fixture(name: str) -> None:
    trace = load(FIXTURES / f"{name}.ncu-rep")
    _check_golden(f"summary_{name}_by_range.json", tb.to_json(rl.summarize(trace)))


# ------------------------------------------------------------------------ properties

pos = st.floats(min_value=1e3, max_value=1e13, allow_nan=False)
peak = st.floats(min_value=1e11, max_value=2e15, allow_nan=False)
bw = st.floats(min_value=1e11, max_value=3e13, allow_nan=False)
precision = st.sampled_from(sorted(rl.PRECISIONS))


@st.composite
def kernels(draw: st.DrawFn) -> pd.DataFrame:
    """Random mixed-precision kernels: several precisions per kernel, own clocks and peaks."""
    n = draw(st.integers(min_value=1, max_value=12))
    rows = []
    for i in range(n):
        precs = draw(st.lists(precision, min_size=0, max_size=3, unique=True))
        r = _synth.row(f"k{i % 4}", draw(st.sampled_from(["a/x", "a/y", "b", ""])),
                       draw(st.floats(min_value=1e3, max_value=1e7)), dram=draw(pos),
                       l2=draw(pos), l1=draw(pos),
                       **{rl.PRECISIONS[p][0]: draw(pos) for p in precs})
        for p in precs:
            r[rl.PRECISIONS[p][1]] = draw(peak)
        r["peak_dram_bytes_per_s"] = draw(bw)
        rows.append(r)
    return _synth.table(rows)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kernels(), st.sampled_from(["range", "kernel", "device", "phase"]),
       st.sampled_from(rl.LEVELS))
def test_no_group_number_can_pass_the_roof(t: pd.DataFrame, by: str, level: str) -> None:
    """Every % of roof, of peak compute and of peak bandwidth is at most 100% of what the
    counters allow: time at the roof never exceeds the time taken... unless the kernel ran
    faster than its roof, which the counters then show (we allow it only per kernel)."""
    k = rl.kernel_numbers(t, level)
    # a kernel's achieved rate can never pass its effective compute roof by construction
    ok = k["pct_of_roof"].notna()
    assert (k.loc[ok, "roof_ns"] >= k.loc[ok, "compute_ns"]).all()
    assert (k.loc[ok, "roof_ns"] >= k.loc[ok, "memory_ns"]).all()
    s = rl.summarize(t, by=by, level=level)
    for col in ("pct_of_roof", "pct_of_peak_compute", "pct_of_peak_bandwidth"):
        kernel_max = k[col].max()
        got = s[col].dropna()
        # a group's share is a time-weighted mean of its kernels': never above the largest
        assert (got <= kernel_max * (1 + 1e-9)).all()
    # the group's effective compute roof lies between its kernels' own
    peaks = k["peak_compute_per_s"].dropna()
    if len(peaks):
        roofs = s["peak_compute_per_s"].dropna()
        assert (roofs <= peaks.max() * (1 + 1e-9)).all()
        assert (roofs >= peaks.min() * (1 - 1e-9)).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kernels())
def test_kernels_that_take_longer_than_their_roof_stay_under_100_percent(t: pd.DataFrame,
                                                                        ) -> None:
    """Give every kernel a duration at or above its time at the roof (as real kernels are):
    then every kernel and group number is at most 100%."""
    k = rl.kernel_numbers(t)
    slow = t.copy()
    slow["duration_ns"] = np.fmax(slow["duration_ns"], k["roof_ns"].fillna(0) * 1.0001)
    for by in ("range", "kernel"):
        s = rl.summarize(slow, by=by)
        for col in ("pct_of_roof", "pct_of_peak_compute", "pct_of_peak_bandwidth"):
            assert (s[col].dropna() <= 1.0).all(), (by, col)
    kk = rl.kernel_numbers(slow)
    assert (kk["pct_of_roof"].dropna() <= 1.0).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kernels(), st.sampled_from(["range", "kernel", "device"]), st.sampled_from(rl.LEVELS))
def test_group_sums_equal_kernel_sums(t: pd.DataFrame, by: str, level: str) -> None:
    """Over every member (``min_coverage=1``: no partial group; tests/test_partial_coverage.py
    checks a partial group's sums over its measured members)."""
    s = rl.summarize(t, by=by, level=level, min_coverage=1.0)
    assert s["kernels"].sum() == len(t)
    assert s["time_ns"].sum() == pytest.approx(t["duration_ns"].sum())
    assert s["flop"].sum() == pytest.approx(t["flop"].sum())
    assert s["time_share"].sum() == pytest.approx(1.0)
    k = rl.kernel_numbers(t, level)
    if k["headroom_ns"].notna().all():
        assert s["headroom_ns"].sum() == pytest.approx(k["headroom_ns"].sum())
    known = s["headroom_ns"].notna().to_numpy()
    assert (s["headroom_ns"].to_numpy()[known] <= s["time_ns"].to_numpy()[known] * 1.000001).all()


# ---------------------------------------------------------------------------- errors


def test_empty_table_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no kernels"):
        rl.summarize(_synth.table([]))


def test_missing_group_column_names_the_available_ones(table: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match=r"'phase'.*LLM attribution.*range.*kernel"):
        rl.summarize(table.drop(columns=["phase", "category", "op"]), by="phase")
    with pytest.raises(UsageError, match="no such column"):
        rl.summarize(table, by="nonsense")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"level": "l3"}, "memory level"),
    ({"depth": 0}, "at least 1"),
    ({"by": "kernel", "depth": 2}, "only to grouping by range"),
    ({"top": 0}, "at least 1"),
])
def test_bad_options_are_usage_errors(table: pd.DataFrame, kwargs: dict[str, object],
                                      match: str) -> None:
    with pytest.raises(UsageError, match=match):
        rl.summarize(table, **kwargs)  # type: ignore[arg-type]


def test_missing_peaks_are_unknown_not_an_error(table: pd.DataFrame) -> None:
    s = rl.summarize(table.drop(columns=["peak_dram_bytes_per_s"]))
    assert (s["bound"] == "unknown").all()
    assert s["reason"].str.contains("no DRAM bandwidth peak").all()


def test_a_table_without_durations_is_an_input_error(table: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="duration_ns"):
        rl.summarize(table.drop(columns=["duration_ns"]))


def test_synthetic_tables_carry_every_schema_column(table: pd.DataFrame) -> None:
    assert list(table.columns) == list(COLUMNS)


def test_summary_by_range_matches_hand_calculations_on_the_real_fixture() -> None:
    """known_work: each range holds one kernel of known work (2*M*N*K, one FMUL per element)."""
    from tests.conftest import load_fixture

    trace = load_fixture("known_work.ncu-rep")
    by = rl.summarize(trace, by="range").set_index("group")
    k = trace.kernels.set_index("range")

    gemm = 2 * 1024 * 2048 * 4096
    row = k.loc["gemm_bf16"]
    achieved = gemm / (row["duration_ns"] * 1e-9)
    compute_s = gemm / row["peak_flop_per_s_tensor_bf16"]
    g = by.loc["gemm_bf16"]
    assert g["flop"] == gemm
    assert g["ai"] == pytest.approx(gemm / row["dram_bytes"])
    assert g["work_per_s"] == pytest.approx(achieved)
    assert g["peak_compute_per_s"] == pytest.approx(row["peak_flop_per_s_tensor_bf16"])
    assert g["pct_of_roof"] == pytest.approx(compute_s / (row["duration_ns"] * 1e-9))
    assert g["bound"] == "compute"  # AI ~650 FLOP/B, past the ~275 FLOP/B BF16 ridge

    row = k.loc["mul_fp32"]
    g = by.loc["mul_fp32"]
    assert g["ai"] == pytest.approx(2**26 / row["dram_bytes"])  # ~0.13 FLOP/B
    assert g["bound"] == "memory"
    # a streaming kernel: % of roof is achieved bandwidth over peak bandwidth
    assert g["pct_of_roof"] == pytest.approx(
        row["dram_bytes"] / (row["duration_ns"] * 1e-9) / row["peak_dram_bytes_per_s"])
    assert 0.7 < g["pct_of_roof"] <= 1.0


@pytest.mark.parametrize(("text", "want"), [
    ("prefill/LlamaForCausalLM/model/model.layers.0/model.layers.0.mlp/"
     "model.layers.0.mlp.gate_proj", "prefill/…/model.layers.0.mlp.gate_proj"),
    ("prefill/LlamaForCausalLM/model/model.layers.0/"
     "model.layers.0.post_attention_layernorm", "prefill/…l.layers.0.post_attention_layernorm"),
    ("decode/a/b", "decode/a/b"),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>",
     "void at::native::vectorized_elementwise_ker…"),
    ("qkv_proj · prefill/LlamaForCausalLM/model/model.layers.0/model.layers.0.self_attn",
     "qkv_proj · prefill/…model.layers.0.self_attn"),
])
def test_elide_keeps_the_phase_and_the_leaf(text: str, want: str) -> None:
    got = labels.elide(text, 44)
    assert got == want
    assert len(got) <= 44


def test_unique_labels_never_merge_two_groups() -> None:
    names = ["prefill/LlamaForCausalLM/model/model.layers.0/model.layers.0.post_attention_"
             "layernorm", "decode/LlamaForCausalLM/model/model.layers.0/model.layers.0.post_"
             "attention_layernorm", "Kernel2", "Kernel2"]
    longer = [None, None, "void cutlass::Kernel2<cutlass_80_simt_sgemm_256x128_8x4_nn_align1>"
              "(Params)", "void cutlass::Kernel2<cutlass_80_wmma_tensorop_i161616gemm_s8>(P)"]
    got = labels.unique_labels(names, 30, longer)
    assert len(set(got)) == 4
    assert got[0].startswith("prefill/")
    assert got[1].startswith("decode/")
    assert "simt" in got[2]
    assert "wmma" in got[3]


def test_l1_summary_of_a_hopper_trace_names_the_tma_kernels() -> None:
    """`summary --level l1` on the H100 Llama: no group is called compute-bound on a 1e7 FLOP/B
    L1 point; each says how many of its kernels L1TEX did not see."""
    from tests.conftest import load_fixture

    s = rl.summarize(load_fixture("llama_annotated.ncu-rep"), by="phase",
                     level="l1").set_index("group")
    # the kernels L1TEX saw hold 55% and 67% of the time: partial groups, never compute-bound
    assert (s["bound"] == "latency").all()
    assert s["coverage"].round(3).tolist() == [0.550, 0.667]
    assert s.loc["prefill", "reason"].startswith("9 of 62 kernels: L1TEX did not see")
    assert s.loc["decode", "reason"].startswith("11 of 64 kernels: L1TEX did not see")


def test_a_timing_trace_says_once_why_every_group_is_unknown() -> None:
    """Without counters every group is unknown for the same reason: one line says so, not one
    line per group (a 40-row table would end in 40 copies)."""
    from roofprof.inputs.timing import load_timing
    from tests.conftest import FIXTURES

    timing = load_timing(FIXTURES / "llama_kineto.json.gz")
    text = tb.format_table(rl.summarize(timing, by="op"), wide=True)
    notes = [ln for ln in text.splitlines() if "unknown:" in ln]
    assert notes == ["every group: unknown: no FLOP counters; no DRAM bytes counter; "
                     "no DRAM bandwidth peak"]
    # with counters, an unknown group is still named with its own reason
    mixed = tb.format_table(rl.summarize(_synth.h100_table()), wide=True)
    assert "decode/layer1/attn: unknown:" in mixed


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from([None, "a", "b", "c"])),
                min_size=1, max_size=40),
       st.lists(st.booleans(), min_size=5, max_size=5))
def test_group_reasons_are_the_most_common_member_reason(
        rows: list[tuple[int, str | None]], unknown: list[bool]) -> None:
    """One pass over the kernels gives, per unknown group, what counting each group's members
    gives: how many have a reason, of how many, and the most common (ties: alphabetical)."""
    from roofprof.analysis.reasons import group_reasons

    codes = np.asarray([g for g, _ in rows], dtype=np.intp)
    reason = np.asarray([r for _, r in rows], dtype=object)
    got = group_reasons(reason, codes, 5, np.asarray(unknown))
    for g in range(5):
        whys = [r for c, r in rows if c == g and r]
        if not unknown[g] or not whys:
            assert got[g] is None
            continue
        common = max(sorted(set(whys)), key=whys.count)
        assert got[g] == f"{len(whys)} of {int((codes == g).sum())} kernels: {common}"
