"""Numbers checked against truths derived by hand (fixtures/workloads/known_work.py).

The captures are from an H100 80GB HBM3 (fixtures/MANIFEST.md). FLOPs and bytes are exact or
explained to the last operation; bandwidth and compute ceilings match the datasheet.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.conftest import load_fixture

M, N, K = 1024, 2048, 4096
GEMM = 2 * M * N * K  # 17,179,869,184
FP64_GEMM = 2 * 512 * 1024 * 2048

SOURCES = ["known_work.ncu-rep", "known_work_raw.csv", "known_work_raw_display_units.csv",
           "known_work_details.csv"]


def by_range(name: str) -> pd.DataFrame:
    k = load_fixture(name).kernels
    return k.set_index("range")


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("rng", "column", "truth"), [
    ("gemm_bf16", "flop_tensor_bf16", GEMM),
    ("gemm_fp16", "flop_tensor_fp16", GEMM),
    ("gemm_tf32", "flop_tensor_tf32", GEMM),
    ("gemm_fp8", "flop_tensor_fp8", GEMM),
    ("gemm_int8", "ops_tensor_int8", GEMM),
    ("gemm_fp64", "flop_tensor_fp64", FP64_GEMM),
])
def test_tensor_gemm_flops_are_exactly_2mnk(source: str, rng: str, column: str,
                                            truth: int) -> None:
    assert by_range(source).loc[rng, column] == truth


@pytest.mark.parametrize("source", SOURCES)
def test_tensor_gemms_use_no_other_tensor_precision(source: str) -> None:
    k = by_range(source)
    tensor = ["flop_tensor_bf16", "flop_tensor_fp16", "flop_tensor_tf32", "flop_tensor_fp8",
              "flop_tensor_fp64"]
    assert (k.loc["gemm_bf16", tensor].drop("flop_tensor_bf16") == 0).all()
    assert k.loc["gemm_int8", "flop"] == 0  # INT8 ops are not FLOPs


@pytest.mark.parametrize("source", SOURCES)
def test_simt_fp32_gemm_counts_every_executed_fma(source: str) -> None:
    """cuBLAS ran this fp32 GEMM (TF32 off) as a split-K SIMT kernel, grid z = 6: K = 4096 is cut
    into 6 slices of 688 (a multiple of the 8-deep tile), 4128 in all, so the last slice runs
    32 predicated-on FFMAs per output on padding; one more FFMA per output applies alpha/beta and
    5 FADDs per output reduce the 6 partial sums. The counters give exactly that: 0.87% over
    2*M*N*K, all of it real executed work."""
    k = by_range(source).loc["gemm_fp32"]
    assert k["grid"] == "(4, 16, 6)"
    expected = 2 * M * N * (6 * 688 + 1) + (6 - 1) * M * N
    assert k["flop_fp32"] == expected
    assert k["flop_fp32"] / GEMM - 1 == pytest.approx(0.0087, abs=0.0002)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("rng", "elements", "streams", "flop_per_element"), [
    ("mul_fp32", 2**26, 2, 1),  # y * 2: one FMUL
    ("add_fp32", 2**25, 3, 2),  # torch.add computes a + alpha * b: one FFMA, 2 FLOPs
])
def test_elementwise_flops_and_dram_bytes(source: str, rng: str, elements: int, streams: int,
                                          flop_per_element: int) -> None:
    k = by_range(source).loc[rng]
    assert k["flop_fp32"] == elements * flop_per_element
    ideal_read = 4 * elements * (streams - 1)
    ideal = 4 * elements * streams
    # reads are within 0.01% of the ideal; writes fall short because L2 (50 MB on H100)
    # still holds dirty lines when the kernel ends, which is real and what ncu measures
    assert k["dram_read_bytes"] == pytest.approx(ideal_read, rel=1e-4)
    assert k["dram_bytes"] == pytest.approx(ideal, rel=0.05)
    assert ideal - k["dram_bytes"] < 52428800  # the shortfall is less than the L2 size


@pytest.mark.parametrize("source", SOURCES)
def test_dram_peak_is_the_gpus_bandwidth(source: str) -> None:
    peaks = by_range(source)["peak_dram_bytes_per_s"]
    # H100 80GB HBM3: 1280 B/cycle x 2.619 GHz = 3.35 TB/s (datasheet 3.35 TB/s)
    assert peaks.between(3.35e12 * 0.97, 3.35e12 * 1.03).all()


@pytest.mark.parametrize("source", SOURCES)
def test_tensor_peaks_are_dense_not_sparse(source: str) -> None:
    k = load_fixture(source).kernels
    clock = k["sm_clock_hz"]
    # Hopper dense per-cycle peaks (the sparse aggregates are twice these)
    assert (k["peak_flop_per_s_tensor_bf16"] / clock).round().eq(540672).all()
    assert (k["peak_flop_per_s_tensor_fp16"] / clock).round().eq(540672).all()
    assert (k["peak_flop_per_s_tensor_tf32"] / clock).round().eq(270336).all()
    assert (k["peak_flop_per_s_tensor_fp8"] / clock).round().eq(1081344).all()
    assert (k["peak_ops_per_s_tensor_int8"] / clock).round().eq(1081344).all()
    assert (k["peak_flop_per_s_tensor_fp64"] / clock).round().eq(33792).all()
    # at a 1.83 GHz boost clock that is H100 SXM's datasheet 989 TFLOP/s dense BF16
    assert pytest.approx(989e12, rel=0.01) == 540672 * 1.83e9


def test_the_bf16_gemm_runs_near_its_measured_roof() -> None:
    k = by_range("known_work.ncu-rep").loc["gemm_bf16"]
    achieved = k["flop"] / (k["duration_ns"] * 1e-9)
    pct = achieved / k["peak_flop_per_s_tensor_bf16"]
    assert 0.5 < pct < 1.0


def test_compute_peaks_use_each_kernels_own_clock() -> None:
    k = load_fixture("known_work.ncu-rep").kernels
    assert k["sm_clock_hz"].nunique() > 1  # --clock-control none: clocks vary per kernel
    ratio = k["peak_flop_per_s_fp32"] / k["sm_clock_hz"]
    assert ratio.round().eq(2 * 16896).all()
    assert not math.isclose(k["peak_flop_per_s_fp32"].min(), k["peak_flop_per_s_fp32"].max())


@pytest.mark.parametrize("source", SOURCES)
def test_simt_fp32_square_gemm_within_a_tenth_of_a_percent(source: str) -> None:
    """2048^3 fp32 with TF32 off ran as cuBLAS's SIMT `Kernel2` (no split-K): 2*N^3 FLOPs of
    FFMAs plus one FMUL per output for alpha, 0.024% over 2*N^3."""
    k = by_range(source).loc["gemm_fp32_square"]
    n = 2048
    assert k["kernel"] == "Kernel2"
    assert k["flop_fp32"] == pytest.approx(2 * n**3, rel=1e-3)
    assert k["flop_fp32"] == 2 * n**3 + n**2
    assert k["flop_tensor_tf32"] == 0
