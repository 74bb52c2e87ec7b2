"""Synthetic but realistic kernel tables (H100 SXM numbers) for analysis and plot tests.

Every table carries every column of ``roofprof.tables.schema.COLUMNS`` with its dtype; quantities a
kernel has no value for are null. Peaks follow each kernel's own clocks, as ncu measures them:
per-cycle peaks (NCU_FACTS.md) x the clock the kernel ran at.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from roofprof.inputs.attribution import attribute
from roofprof.tables.metrics import FLOP_COLUMNS
from roofprof.tables.schema import COLUMNS, dtype_of

GPU = "NVIDIA H100 80GB HBM3"

#: per-cycle peaks (whole GPU, dense) of an H100 SXM (132 SMs)
PER_CYCLE = {
    "peak_flop_per_s_fp64": 2 * 8448,
    "peak_flop_per_s_fp32": 2 * 16896,
    "peak_flop_per_s_fp16": 4 * 16896,
    "peak_flop_per_s_tensor_fp64": 33792,
    "peak_flop_per_s_tensor_tf32": 270336,
    "peak_flop_per_s_tensor_fp16": 540672,
    "peak_flop_per_s_tensor_bf16": 540672,
    "peak_flop_per_s_tensor_fp8": 1081344,
    "peak_ops_per_s_tensor_int8": 1081344,
}
DRAM_PEAK = 3.35e12            # B/s (HBM3, 5 stacks)
L2_PER_CYCLE = 9024            # lts__t_bytes B/cycle
L1_PER_CYCLE = 128 * 132       # l1tex__t_bytes B/cycle


def row(kernel: str, rng: str, duration_ns: float, *, sm_clock: float = 1.755e9,
        l2_clock: float = 1.6e9, dram: float | None = None, l2: float | None = None,
        l1: float | None = None, peaks: bool = True, **work: float) -> dict[str, Any]:
    """One kernel. ``work`` maps work columns (``flop_tensor_bf16=...``) to counts."""
    r: dict[str, Any] = dict.fromkeys(COLUMNS)
    nvtx = rng.split("/") if rng else []
    r.update(kernel=kernel, kernel_demangled=kernel, range=rng, nvtx=nvtx,
             duration_ns=float(duration_ns), device=0, device_name=GPU, cc="9.0",
             process_id=4242, process_name="python", host="gpu-host", context=1, stream=7,
             grid="(132, 1, 1)", block="(384, 1, 1)", source="synthetic.ncu-rep",
             sm_clock_hz=sm_clock, l2_clock_hz=l2_clock, l1_clock_hz=sm_clock,
             dram_clock_hz=2.619e9)
    for col in FLOP_COLUMNS:
        r[col] = 0.0
    r["ops_tensor_int8"] = 0.0
    for col, value in work.items():
        if col not in r:
            raise KeyError(col)
        r[col] = float(value)
    r["flop"] = float(sum(r[c] for c in FLOP_COLUMNS))
    if dram is not None:
        r["dram_bytes"] = float(dram)
        r["dram_read_bytes"] = float(round(dram * 0.8))
        r["dram_write_bytes"] = float(dram) - r["dram_read_bytes"]
    r["l2_bytes"] = None if l2 is None else float(l2)
    r["l1_bytes"] = None if l1 is None else float(l1)
    if peaks:
        r["peak_dram_bytes_per_s"] = DRAM_PEAK
        r["peak_l2_bytes_per_s"] = L2_PER_CYCLE * l2_clock
        r["peak_l1_bytes_per_s"] = L1_PER_CYCLE * sm_clock
        for col, per_cycle in PER_CYCLE.items():
            r[col] = per_cycle * sm_clock
    return r


def table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> a kernel table with every schema column and its dtype, attributed by the
    built-in rules (phase, category, op)."""
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["id"] = np.arange(len(df), dtype=np.int64)
    for col in COLUMNS:
        dtype = dtype_of(col)
        if dtype == "object":
            continue
        df[col] = df[col].astype(dtype)  # type: ignore[call-overload]
    return attribute(df)


def _at(pct: float, work: float, peak: float) -> float:
    """Duration (ns) of a kernel doing ``work`` at ``pct`` of ``peak``."""
    return work / (pct * peak) * 1e9


def h100_table() -> pd.DataFrame:
    """A small LLM-serving-like trace: prefill and decode of a 2-layer model, plus odd kernels."""
    bf16 = PER_CYCLE["peak_flop_per_s_tensor_bf16"]
    gemm_flop = 2 * 1024 * 14336 * 4096
    rows = [
        # compute-bound prefill GEMMs (cuBLAS nvjet), clocks differ per kernel
        row("nvjet_sm90_tst_128x256_64x4_2x1_v_bz_coopA_NNT", "prefill/layer0/mlp",
            _at(0.70, gemm_flop, bf16 * 1.62e9), sm_clock=1.62e9, dram=1.55e8, l2=6.1e8,
            l1=2.3e8, flop_tensor_bf16=gemm_flop, flop_fp32=1024 * 14336 * 2),
        row("nvjet_sm90_tst_128x256_64x4_2x1_v_bz_coopA_NNT", "prefill/layer1/mlp",
            _at(0.66, gemm_flop, bf16 * 1.59e9), sm_clock=1.59e9, dram=1.56e8, l2=6.2e8,
            l1=2.3e8, flop_tensor_bf16=gemm_flop, flop_fp32=1024 * 14336 * 2),
        # flash attention in prefill: tensor work but memory bound at 256 tokens
        row("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_7_64x128x128",
            "prefill/layer0/attn", 12_400, dram=3.36e7, l2=5.1e7, l1=1.4e8,
            flop_tensor_bf16=2.15e9, flop_fp32=3.4e7),
        row("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_7_64x128x128",
            "prefill/layer1/attn", 12_900, dram=3.36e7, l2=5.2e7, l1=1.4e8,
            flop_tensor_bf16=2.15e9, flop_fp32=3.4e7),
        # decode GEMV-like GEMMs: batch 4, weight streaming
        row("nvjet_sm90_tst_64x8_64x16_4x1_v_bz_splitK_TNT", "decode/layer0/mlp",
            39_600, dram=1.18e8, l2=1.25e8, l1=1.3e8, flop_tensor_bf16=2 * 4 * 14336 * 4096),
        row("nvjet_sm90_tst_64x8_64x16_4x1_v_bz_splitK_TNT", "decode/layer1/mlp",
            41_100, dram=1.18e8, l2=1.25e8, l1=1.3e8, flop_tensor_bf16=2 * 4 * 14336 * 4096),
        row("paged_attention_v2_kernel", "decode/layer0/attn", 9_100, dram=1.7e7, l2=2.2e7,
            l1=6.8e7, flop_fp32=3.4e7),
        # a kernel from an input without peaks and L1 counters: its roof is unknown
        row("flash_fwd_splitkv_kernel", "decode/layer1/attn", 8_800, dram=1.7e7, l2=2.1e7,
            peaks=False, flop_tensor_bf16=1.1e8, flop_fp32=4.0e6),
        # CUDA-core elementwise work
        row("rms_norm_kernel", "prefill/layer0/norm", 7_300, dram=1.68e7, l2=1.7e7, l1=3.4e7,
            flop_fp32=2.1e7),
        row("triton_poi_fused_mul_silu_0", "prefill/layer0/mlp", 32_500, dram=8.8e7,
            l2=8.9e7, l1=1.8e8, flop_fp32=5.9e7),
        # no FLOPs: judged by bandwidth only
        row("CatArrayBatchedCopy", "decode/kv_cache", 2_600, dram=4.2e6, l2=4.4e6, l1=8.4e6),
        row("vectorized_elementwise_kernel", "", 5_200, dram=1.6e7, l2=1.6e7, l1=3.2e7),
        # other precisions
        row("Kernel2", "postprocess", _at(0.8, 2 * 2048**3, 2 * 16896 * 1.97e9),
            sm_clock=1.97e9, dram=5.0e7, l2=2.4e9, l1=1.9e10, flop_fp32=2 * 2048**3),
        row("sm90_xmma_gemm_e4m3bf16_e4m3f32_f32_tn_n_tilesize128x128x128_cublas",
            "prefill/layer1/mlp", _at(0.5, gemm_flop, 1081344 * 1.65e9), sm_clock=1.65e9,
            dram=9.0e7, l2=4.0e8, l1=1.5e8, flop_tensor_fp8=gemm_flop),
        row("sm90_xmma_gemm_f64f64_f64f64_f64_nn_n_tilesize64x64x16", "check",
            _at(0.6, 2 * 1024**3, 33792 * 1.7e9), sm_clock=1.7e9, dram=2.6e7, l2=3.0e8,
            l1=1.1e9, flop_tensor_fp64=2 * 1024**3),
        row("sm90_xmma_gemm_s8s8_s32_tn_n_tilesize128x256x128_cublas", "quant",
            _at(0.55, 2 * 4096**2 * 2048, 1081344 * 1.7e9), sm_clock=1.7e9, dram=5.0e7,
            l2=2.1e8, l1=9.0e7, ops_tensor_int8=2 * 4096**2 * 2048),
    ]
    return table(rows)


def replicate(base: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` kernels drawn from ``base``'s rows, spread over 32 layers, with jittered time,
    bytes and work (``flop`` stays the sum of the per-precision columns)."""
    gen = np.random.default_rng(seed)
    idx = gen.integers(0, len(base), n)
    out = base.iloc[idx].reset_index(drop=True)
    scale = gen.lognormal(0.0, 0.35, n)
    work = scale * gen.lognormal(0.0, 0.1, n)
    traffic = scale * gen.lognormal(0.0, 0.1, n)
    out["duration_ns"] = out["duration_ns"].to_numpy() * scale
    for col in ("dram_bytes", "dram_read_bytes", "dram_write_bytes", "l2_bytes", "l1_bytes"):
        out[col] = out[col].to_numpy(dtype=np.float64, na_value=np.nan) * traffic
    for col in (*FLOP_COLUMNS, "ops_tensor_int8"):
        out[col] = out[col].to_numpy(dtype=np.float64, na_value=np.nan) * work
    out["flop"] = out[list(FLOP_COLUMNS)].sum(axis=1, min_count=1)
    out["id"] = np.arange(n, dtype=np.int64)
    # one distinct range string per (base range, layer); map them, not every row
    layer = gen.integers(0, 32, n)
    key = pd.Series(idx * 32 + layer)
    base_ranges = base["range"].astype(object).fillna("").tolist()
    names = {k: re.sub(r"layer\d+", f"layer{k % 32}", base_ranges[k // 32])
             for k in key.unique()}
    stacks = {k: v.split("/") if v else [] for k, v in names.items()}
    out["range"] = key.map(names).astype("string")
    out["nvtx"] = key.map(stacks)
    return out
