"""The metric table against Nsight Compute's own metric lists for each chip
(roofprof/data/ncu_metrics/<chip>.txt: base names from `ncu --query-metrics --chip <chip>`,
ncu 2025.3.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from roofprof.tables.metrics import BY_COLUMN, QUANTITIES, record_metrics

DATA = Path(__file__).parent.parent / "roofprof" / "data" / "ncu_metrics"
CHIPS = sorted(p.stem for p in DATA.glob("*.txt"))


def names(chip: str) -> set[str]:
    return set((DATA / f"{chip}.txt").read_text().split())


def test_chip_lists_are_present() -> None:
    assert {"tu102", "ga100", "ad102", "gh100", "gb100", "gb202"} <= set(CHIPS)


@pytest.mark.parametrize("chip", CHIPS)
def test_record_asks_only_for_metrics_the_chip_has(chip: str) -> None:
    have = names(chip)
    for metric in record_metrics(have):
        assert metric.split(".")[0] in have, metric


#: what the hardware (or ncu's counters for it) does not have: these stay null
GAPS = {
    "ga100": {"flop_tensor_fp8", "peak_flop_per_s_tensor_fp8"},  # Ampere has no FP8 tensor cores
    "ga102": {"flop_tensor_fp8", "peak_flop_per_s_tensor_fp8"},
    "gb202": {"dram_read_bytes", "dram_write_bytes"},  # only dram__bytes, no read/write split
}


@pytest.mark.parametrize("chip", [c for c in CHIPS if c != "tu102"])
def test_every_roofline_quantity_is_collectable_from_ampere_on(chip: str) -> None:
    have = names(chip)
    collected = {m.split(".")[0] for m in record_metrics(have)}
    missing = {q.column for q in QUANTITIES
               if not any(all(t.base in collected for t in f.terms) for f in q.formulas)}
    assert missing == GAPS.get(chip, set())


@pytest.mark.parametrize("chip", ["ga100", "ad102", "gh100", "gb100", "gb202"])
def test_dense_tensor_peaks_are_asked_for_not_the_sparse_aggregate(chip: str) -> None:
    metrics = record_metrics(names(chip))
    peak = next(m for m in metrics if "bf16" in m and m.endswith("peak_sustained"))
    assert "sparsity_off" in peak
    assert "sm__ops_path_tensor_src_bf16_dst_fp32.sum.peak_sustained" not in metrics


def test_hopper_prefers_the_warpgroup_path() -> None:
    metrics = record_metrics(names("gh100"))
    assert "sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32_sparsity_off.sum.peak_sustained" \
        in metrics
    assert not any("op_hmma" in m for m in metrics)  # mma.sync peak is 2/3 of hgmma's


def test_tensor_flops_use_one_family_with_no_multiplier() -> None:
    for col in ("flop_tensor_bf16", "flop_tensor_fp16", "flop_tensor_tf32", "flop_tensor_fp64",
                "flop_tensor_fp8", "ops_tensor_int8"):
        for f in BY_COLUMN[col].formulas:
            assert all(t.weight == 1 for t in f.terms)
            assert all("sparsity" not in t.metric and "_op_" not in t.metric for t in f.terms)


def test_cuda_core_weights_match_ncus_charts() -> None:
    f32 = BY_COLUMN["flop_fp32"].formulas[0]
    assert sorted(t.weight for t in f32.terms) == [1, 1, 2]
    f16 = BY_COLUMN["flop_fp16"].formulas[0]
    assert sorted(t.weight for t in f16.terms) == [2, 2, 4]  # packed half2 pairs
