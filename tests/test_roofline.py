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

from roofprof import roofline as rl
from roofprof.errors import InputError, UsageError
from roofprof.schema import COLUMNS
from roofprof.trace import load
from tests import _synth

GOLDEN = Path(__file__).parent / "golden"
FIXTURES = Path(__file__).parent.parent / "fixtures"
UPDATE = os.environ.get("ROOFPROF_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _synth.h100_table()


# ------------------------------------------------------------------- hand calculations


def test_compute_bound_gemm_matches_hand_calculation(table: pd.DataFrame) -> None:
    k = rl.per_kernel(table)
    row = k.iloc[0]  # 1024x14336x4096 bf16 GEMM at 1.62 GHz, 70% of its roof
    flop = 2 * 1024 * 14336 * 4096 + 1024 * 14336 * 2
    peak = 540672 * 1.62e9
    assert row["precision"] == "tensor_bf16"
    assert row["judged_by"] == "roofline"
    assert row["ai_dram"] == pytest.approx(flop / 1.55e8)
    assert row["ridge_dram"] == pytest.approx(peak / 3.35e12)
    assert row["attainable_dram"] == pytest.approx(peak)  # AI 776 > ridge 261
    achieved = flop / (table["duration_ns"].iloc[0] * 1e-9)
    assert row["work_per_s"] == pytest.approx(achieved)
    assert row["pct_of_roof_dram"] == pytest.approx(achieved / peak)
    assert row["bound_dram"] == "compute"
    assert row["headroom_ns_dram"] == pytest.approx(
        table["duration_ns"].iloc[0] * (1 - achieved / peak))


def test_memory_bound_kernel_uses_bandwidth_roof(table: pd.DataFrame) -> None:
    i = table.index[table["kernel"] == "paged_attention_v2_kernel"][0]
    row = rl.per_kernel(table).loc[i]
    ai = 3.4e7 / 1.7e7
    assert row["precision"] == "fp32"
    assert row["ai_dram"] == pytest.approx(ai)
    assert row["attainable_dram"] == pytest.approx(ai * 3.35e12)
    assert row["pct_of_roof_dram"] == pytest.approx(3.4e7 / 9.1e-6 / (ai * 3.35e12))
    assert row["bound_dram"] == "memory"


def test_kernel_without_flops_is_judged_by_bandwidth(table: pd.DataFrame) -> None:
    i = table.index[table["kernel"] == "CatArrayBatchedCopy"][0]
    row = rl.per_kernel(table).loc[i]
    assert row["judged_by"] == "bandwidth"
    assert pd.isna(row["precision"])
    assert math.isnan(row["ai_dram"])
    assert row["pct_of_roof_dram"] == pytest.approx(4.2e6 / 2.6e-6 / 3.35e12)
    assert row["bound_dram"] == "memory"


def test_null_peak_gives_null_result_not_zero(table: pd.DataFrame) -> None:
    i = table.index[table["kernel"] == "flash_fwd_splitkv_kernel"][0]
    row = rl.per_kernel(table).loc[i]
    assert row["ai_dram"] > 0  # work and bytes are known
    assert math.isnan(row["pct_of_roof_dram"])
    assert math.isnan(row["attainable_dram"])
    assert pd.isna(row["bound_dram"])
    assert math.isnan(row["ai_l1"])  # no L1 counter


def test_int8_is_its_own_precision_counted_in_ops(table: pd.DataFrame) -> None:
    i = table.index[table["kernel"].str.contains("s8s8")][0]
    row = rl.per_kernel(table).loc[i]
    assert row["precision"] == "tensor_int8"
    assert row["flop"] == 0
    assert row["work"] == 2 * 4096**2 * 2048
    assert row["peak_compute_per_s"] == pytest.approx(1081344 * 1.7e9)
    assert row["pct_of_roof_dram"] == pytest.approx(0.55)


def test_per_kernel_peaks_follow_each_kernels_clock(table: pd.DataFrame) -> None:
    k = rl.per_kernel(table)
    gemms = k[k["kernel"] == "nvjet_sm90_tst_128x256_64x4_2x1_v_bz_coopA_NNT"]
    assert list(gemms["peak_compute_per_s"]) == pytest.approx(
        [540672 * 1.62e9, 540672 * 1.59e9])


def test_group_numbers_are_time_weighted(table: pd.DataFrame) -> None:
    s = rl.summarize(table, by="range").set_index("group")
    g = s.loc["prefill/layer0/mlp"]
    rows = table[table["range"] == "prefill/layer0/mlp"]
    assert g["kernels"] == 2
    assert g["flop"] == pytest.approx(rows["flop"].sum())
    assert g["ai_dram"] == pytest.approx(rows["flop"].sum() / rows["dram_bytes"].sum())
    assert g["flop_per_s"] == pytest.approx(rows["flop"].sum() / (rows["duration_ns"].sum() * 1e-9))
    w = rows["duration_ns"]
    peak = (rows["peak_flop_per_s_tensor_bf16"] * w).sum() / w.sum()
    assert g["peak_compute_per_s"] == pytest.approx(peak)
    assert g["roof_flop_per_s"] == pytest.approx(min(peak, g["ai_dram"] * 3.35e12))
    assert g["pct_of_roof"] == pytest.approx(g["flop_per_s"] / g["roof_flop_per_s"])
    k = rl.per_kernel(rows)
    assert g["headroom_ns"] == pytest.approx(k["headroom_ns_dram"].sum())


def test_depth_groups_by_range_prefix(table: pd.DataFrame) -> None:
    s = rl.summarize(table, by="range", depth=1)
    assert set(s["group"]) == {"prefill", "decode", "postprocess", "check", "quant",
                               rl.NO_RANGE}
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
    full = rl.per_kernel(table)["headroom_ns_dram"].max()
    assert top["headroom_ns"].iloc[0] == pytest.approx(full)


def test_levels_change_the_roof(table: pd.DataFrame) -> None:
    dram = rl.summarize(table, level="dram").set_index("group")
    l2 = rl.summarize(table, level="l2").set_index("group")
    g = "decode/layer0/mlp"
    assert dram.loc[g, "level"] == "dram"
    assert l2.loc[g, "peak_bytes_per_s"] == pytest.approx(9024 * 1.6e9)
    assert l2.loc[g, "ai_l2"] < dram.loc[g, "ai_dram"]


# ------------------------------------------------------------------------ rendering


def test_json_records_have_the_documented_keys(table: pd.DataFrame) -> None:
    records = json.loads(rl.to_json(rl.summarize(table)))
    need = {"group", "kernels", "time_ns", "time_share", "flop", "dram_bytes", "ai_dram",
            "flop_per_s", "roof_flop_per_s", "pct_of_roof", "bound"}
    assert all(need <= set(r) for r in records)
    bw = next(r for r in records if r["group"] == "decode/kv_cache")
    assert bw["judged_by"] == "bandwidth"
    assert bw["ai_dram"] is None  # no FLOPs: no AI, and never NaN in JSON


def test_format_table_is_readable(table: pd.DataFrame) -> None:
    text = rl.format_table(rl.summarize(table))
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["group", "kernels", "time", "share"]
    assert "prefill/layer1/mlp" in lines[2]
    assert "(bw)" in text
    assert "POP/s" in text  # INT8 roof is in ops
    assert len({len(line) for line in lines[:2]}) == 1


def test_csv_has_a_header_and_one_row_per_group(table: pd.DataFrame) -> None:
    s = rl.summarize(table)
    lines = rl.to_csv(s).splitlines()
    assert lines[0].startswith("group,kernels,time_ns")
    assert len(lines) == len(s) + 1


@pytest.mark.parametrize(("value", "text"), [
    (989e12, "989 TFLOP/s"), (3.35e12, "3.35 TFLOP/s"), (0.0, "0 FLOP/s"), (None, "-"),
    (1.5e-6, "1.5 µFLOP/s"),
])
def test_si(value: float | None, text: str) -> None:
    assert rl.si(value, "FLOP/s") == text


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
    _check_golden("summary_synthetic_by_range.json", rl.to_json(rl.summarize(table)))


def test_golden_summary_of_synthetic_trace_l2_depth1(table: pd.DataFrame) -> None:
    _check_golden("summary_synthetic_depth1_l2.json",
                  rl.to_json(rl.summarize(table, depth=1, level="l2")))


@pytest.mark.parametrize("name", ["known_work", "llama_small"])
def test_golden_summary_of_real_fixture(name: str) -> None:
    path = FIXTURES / f"{name}.ncu-rep"
    if not path.exists():
        pytest.skip(f"{path} not present")
    try:
        trace = load(path)
    except Exception as exc:  # the reader's own problems are tested in its own suite
        pytest.skip(f"cannot load {path}: {exc}")
    _check_golden(f"summary_{name}_by_range.json", rl.to_json(rl.summarize(trace)))


def test_known_work_fixture_matches_hand_calculation() -> None:
    path = FIXTURES / "known_work.ncu-rep"
    if not path.exists():
        pytest.skip(f"{path} not present")
    try:
        trace = load(path)
    except Exception as exc:
        pytest.skip(f"cannot load {path}: {exc}")
    t = trace.kernels
    s = rl.summarize(trace).set_index("group")
    row = t[t["range"] == "gemm_bf16"].iloc[0]
    g = s.loc["gemm_bf16"]
    assert g["precision"] == "tensor_bf16"
    assert g["ai_dram"] == pytest.approx(row["flop"] / row["dram_bytes"])
    assert g["flop_per_s"] == pytest.approx(row["flop"] / (row["duration_ns"] * 1e-9))
    roof = min(row["peak_flop_per_s_tensor_bf16"], g["ai_dram"] * row["peak_dram_bytes_per_s"])
    assert g["pct_of_roof"] == pytest.approx(row["flop"] / (row["duration_ns"] * 1e-9) / roof)
    assert g["bound"] == "compute"


# ------------------------------------------------------------------------ properties

pos = st.floats(min_value=1e3, max_value=1e13, allow_nan=False)
peak = st.floats(min_value=1e11, max_value=2e15, allow_nan=False)
bw = st.floats(min_value=1e11, max_value=3e13, allow_nan=False)
precision = st.sampled_from(sorted(rl.PRECISIONS))


@st.composite
def kernels(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=12))
    rows = []
    for i in range(n):
        prec = draw(precision)
        work_col, peak_col = rl.PRECISIONS[prec]
        no_flops = draw(st.booleans()) and draw(st.booleans())
        r = _synth.row(f"k{i % 4}", draw(st.sampled_from(["a/x", "a/y", "b", ""])),
                       draw(st.floats(min_value=1e3, max_value=1e7)), dram=draw(pos),
                       l2=draw(pos), l1=draw(pos),
                       **({} if no_flops else {work_col: draw(pos)}))
        r[peak_col] = draw(peak)
        r["peak_dram_bytes_per_s"] = draw(bw)
        rows.append(r)
    return _synth.table(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kernels())
def test_attainable_is_min_of_peak_and_ai_times_bandwidth(t: pd.DataFrame) -> None:
    k = rl.per_kernel(t)
    roof = k["judged_by"] == "roofline"
    want = np.minimum(k["peak_compute_per_s"], k["ai_dram"] * t["peak_dram_bytes_per_s"])
    assert np.allclose(k.loc[roof, "attainable_dram"], want[roof], rtol=1e-12)
    assert (k.loc[roof, "attainable_dram"] <= k.loc[roof, "peak_compute_per_s"] * (1 + 1e-12)).all()
    memory = k.loc[roof, "bound_dram"] == "memory"
    assert (k.loc[roof][memory]["ai_dram"] < k.loc[roof][memory]["ridge_dram"]).all()


@settings(max_examples=60, deadline=None)
@given(peak, bw, st.lists(st.floats(min_value=1e-3, max_value=1e5), min_size=2, max_size=20))
def test_attainable_is_monotonic_in_ai(p: float, b: float, ais: list[float]) -> None:
    ais = sorted(ais)
    rows = [_synth.row("k", "r", 1000, dram=1e9 / ai, flop_tensor_bf16=1e9) for ai in ais]
    t = _synth.table(rows)
    t["peak_flop_per_s_tensor_bf16"] = p
    t["peak_dram_bytes_per_s"] = b
    att = rl.per_kernel(t)["attainable_dram"].to_numpy()
    assert (np.diff(att) >= -1e-9 * att[:-1]).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kernels(), st.sampled_from(["range", "kernel", "device"]), st.sampled_from(rl.LEVELS))
def test_group_sums_equal_kernel_sums(t: pd.DataFrame, by: str, level: str) -> None:
    s = rl.summarize(t, by=by, level=level)
    assert s["kernels"].sum() == len(t)
    assert s["time_ns"].sum() == pytest.approx(t["duration_ns"].sum())
    assert s["flop"].sum() == pytest.approx(t["flop"].sum())
    assert s["dram_bytes"].sum() == pytest.approx(t["dram_bytes"].sum())
    assert s["time_share"].sum() == pytest.approx(1.0)
    k = rl.per_kernel(t)
    assert s["headroom_ns"].sum() == pytest.approx(k[f"headroom_ns_{level}"].sum())
    assert (s["headroom_ns"] <= s["time_ns"] * (1 + 1e-12)).all()


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


def test_missing_columns_are_an_input_error(table: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="peak_dram_bytes_per_s"):
        rl.summarize(table.drop(columns=["peak_dram_bytes_per_s"]))


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
    ai = gemm / row["dram_bytes"]
    achieved = gemm / (row["duration_ns"] * 1e-9)
    roof = min(row["peak_flop_per_s_tensor_bf16"], ai * row["peak_dram_bytes_per_s"])
    g = by.loc["gemm_bf16"]
    assert g["flop"] == gemm
    assert g["ai_dram"] == pytest.approx(ai)
    assert g["flop_per_s"] == pytest.approx(achieved)
    assert g["roof_flop_per_s"] == pytest.approx(roof)
    assert g["pct_of_roof"] == pytest.approx(achieved / roof)
    assert g["bound"] == "compute"  # AI ~650 FLOP/B, past the ~275 FLOP/B BF16 ridge

    row = k.loc["mul_fp32"]
    ai = 2**26 / row["dram_bytes"]  # ~0.13 FLOP/B
    g = by.loc["mul_fp32"]
    assert g["ai_dram"] == pytest.approx(ai)
    assert g["bound"] == "memory"
    bw_roof = ai * row["peak_dram_bytes_per_s"]
    assert g["roof_flop_per_s"] == pytest.approx(bw_roof)
    # a streaming kernel: % of roof is achieved bandwidth over peak bandwidth
    assert g["pct_of_roof"] == pytest.approx(
        row["dram_bytes"] / (row["duration_ns"] * 1e-9) / row["peak_dram_bytes_per_s"])
    assert 0.7 < g["pct_of_roof"] <= 1.0


@pytest.mark.parametrize(("text", "want"), [
    ("prefill/LlamaForCausalLM/model/model.layers.0/model.layers.0.mlp/"
     "model.layers.0.mlp.gate_proj", "prefill/…/model.layers.0.mlp.gate_proj"),
    ("prefill/LlamaForCausalLM/model/model.layers.0/"
     "model.layers.0.post_attention_layernorm", "…/model.layers.0.post_attention_layernorm"),
    ("decode/a/b", "decode/a/b"),
    ("prefill/" + "y" * 60, "…" + "y" * 43),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>",
     "void at::native::vectorized_elementwise_ker…"),
])
def test_elide_keeps_the_leaf_of_nvtx_paths_and_the_start_of_names(text: str,
                                                                   want: str) -> None:
    got = rl.elide(text, 44)
    assert got == want
    assert len(got) <= 44
