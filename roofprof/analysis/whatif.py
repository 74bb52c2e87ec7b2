"""What-if: a trace's measured kernels projected onto another GPU's roofs.

Each kernel keeps its measured work per precision and its measured DRAM bytes; only the
ceilings change. Its time at the roof on the GPU it ran on is
``r = max(max_p W_p / P_p, B / BW)`` with the peaks measured for that kernel; on the target it
is ``r'`` with the target's ceilings. Two projections, both labelled as such:

* ``time_at_fraction_ns`` = f + (duration - f) x r' / r with f = min(duration, the launch
  floor of :data:`roofprof.analysis.roofline.LAUNCH_FLOOR_NS`): the kernel keeps the fraction of its
  roof it reached on the measured GPU, except for the launch floor, which no GPU's roofs
  change (a 3 us decode kernel does not get 1.4x faster on 1.4x the bandwidth: measured
  H100 -> H200 in BENCHMARKS.md).
* ``time_at_roof_ns`` = max(r', f): every kernel at 100% of the target's roof, never below
  the launch floor (nor below its own time where that is shorter still).

Target ceilings (``peaks``): ``"ratio"`` (default where the trace's GPU is in the catalog)
scales each kernel's measured peaks by the datasheet ratio target / source, so the clock the
kernel ran at and the measured-vs-datasheet gap carry over (an H100 kernel's BF16 peak at its
own 1.75 GHz becomes the H200's at the same clock); ``"datasheet"`` uses the target's
datasheet peaks as they are. Where the target's datasheet lacks a precision: FP16 on CUDA
cores (elementwise kernels on half-precision tensors; rarely stated) scales like FP32, and BF16
tensor work is projected at the FP16 tensor peak (a T4 has no BF16). Kernels with neither
work nor bytes (r = 0: launch- or latency-bound) keep their measured time in the fraction
projection. A kernel in a precision the target lacks otherwise (FP8 on an A100), or whose
measured peaks or duration are null, is not projected: its projections are null, the group
counts it as ``unprojected`` and one warning says so.

Only DRAM is projected: the catalog has no L2/L1 bandwidths.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from roofprof.analysis.catalog import Gpu, find
from roofprof.analysis.roofline import LAUNCH_FLOOR_NS
from roofprof.errors import RoofprofWarning, UsageError
from roofprof.tables.metrics import PRECISIONS

if TYPE_CHECKING:
    import pandas as pd

KERNEL_COLUMNS: tuple[str, ...] = (
    "roof_ns", "target_roof_ns", "target_bound", "time_at_fraction_ns", "time_at_roof_ns",
)
GROUP_COLUMNS: tuple[str, ...] = (
    "group", "kernels", "unprojected", "time_ns", "time_at_fraction_ns", "time_at_roof_ns",
    "speedup_at_fraction", "speedup_at_roof", "compute_bound_share", "bound",
)


def source_gpu(kernels: pd.DataFrame) -> Gpu | None:
    """The catalog entry of the GPU the trace ran on (its one device name), or None."""
    names: list[Any] = (list(kernels["device_name"].dropna().unique())
                        if "device_name" in kernels else [])
    return find(str(names[0])) if len(names) == 1 else None


#: a precision the target's datasheet lacks -> the one its work is projected at: FP16 on CUDA
#: cores (rarely stated) scales like FP32; BF16 tensor work runs as FP16 on GPUs without BF16
_FALLBACK = {"fp16": "fp32", "tensor_bf16": "tensor_fp16"}


def _target_peak(p: str, num: Callable[[str], Any], target: Gpu, source: Gpu | None,
                 peaks: str) -> Any:
    """Per-kernel peaks of precision ``p`` on the target, or None where it has none."""
    measured = num(PRECISIONS[p][1])
    dst = target.peak(p)
    src = source.peak(p) if source is not None else None
    if peaks == "ratio" and dst is not None and src is not None:
        return measured * dst / src
    if peaks == "datasheet" and dst is not None:
        return dst
    base = _FALLBACK.get(p)
    if base is None or target.peak(base) is None:
        return None
    if peaks == "ratio":
        src_rate = (src or source.peak(base)) if source is not None else None
        return None if src_rate is None else measured * target.peak(base) / src_rate
    return target.peak(base) * measured / num(PRECISIONS[base][1])  # measured p:base kept


def project(kernels: pd.DataFrame, target: Gpu, peaks: str | None = None) -> pd.DataFrame:
    """The kernel table with :data:`KERNEL_COLUMNS` added: times on ``target``."""
    source = source_gpu(kernels)
    peaks = peaks or ("ratio" if source is not None else "datasheet")
    if peaks not in ("ratio", "datasheet"):
        raise UsageError(f"peaks must be 'ratio' or 'datasheet', not {peaks!r}")
    if peaks == "ratio" and source is None:
        raise UsageError("peaks='ratio' needs the trace's GPU in the catalog (one device "
                         "whose name `roofprof gpus` knows); use peaks='datasheet'")

    def num(column: str) -> Any:
        return kernels[column].to_numpy(dtype=np.float64, na_value=np.nan)

    n = len(kernels)
    nbytes, bw = num("dram_bytes"), num("peak_dram_bytes_per_s")
    if source is not None and peaks == "ratio":
        bw_target = bw * target.dram_bytes_per_s / source.dram_bytes_per_s
    else:
        bw_target = np.full(n, target.dram_bytes_per_s)
    mem, mem_t = nbytes / bw, nbytes / bw_target
    comp, comp_t = np.zeros(n), np.zeros(n)
    lacking = np.zeros(n, dtype=bool)
    for p, (work_col, peak_col) in PRECISIONS.items():
        w = np.nan_to_num(num(work_col))
        used = w > 0
        comp = np.where(used, np.fmax(comp, w / num(peak_col)), comp)
        peak_t = _target_peak(p, num, target, source, peaks)
        if peak_t is None:
            lacking |= used
            continue
        comp_t = np.where(used, np.fmax(comp_t, w / peak_t), comp_t)
    roof = np.fmax(comp, mem)
    roof_t = np.where(lacking, np.nan, np.fmax(comp_t, mem_t))
    duration = num("duration_ns")
    roof_ns, roof_t_ns = roof * 1e9, roof_t * 1e9
    # the launch floor (the shortest any kernel runs) does not scale with the GPU's roofs:
    # only the time above it does
    fixed = np.fmin(duration, LAUNCH_FLOOR_NS)
    with np.errstate(divide="ignore", invalid="ignore"):
        at_fraction = np.where(roof > 0, fixed + (duration - fixed) * roof_t / roof, duration)
    at_fraction = np.where(np.isnan(roof_t) | np.isnan(roof), np.nan, at_fraction)
    out = kernels.copy()
    out["roof_ns"] = roof_ns
    out["target_roof_ns"] = roof_t_ns
    bound = np.where(comp_t >= mem_t, "compute", "memory").astype(object)
    bound[np.isnan(roof_t_ns)] = None
    out["target_bound"] = bound
    out["time_at_fraction_ns"] = at_fraction
    out["time_at_roof_ns"] = np.where(np.isnan(roof_t_ns), np.nan, np.fmax(roof_t_ns, fixed))
    skipped = int(np.isnan(at_fraction).sum())
    if skipped:
        why = (f"{int(lacking.sum())} use a precision {target.name} has no peak for"
               if lacking.any() else "their measured peaks, bytes or duration are null")
        warnings.warn(f"{skipped} of {n} kernels could not be projected onto {target.name} "
                      f"({why}); group totals leave them out", RoofprofWarning, stacklevel=2)
    return out


def whatif(kernels: pd.DataFrame, target: Gpu, by: str = "phase",
           peaks: str | None = None) -> pd.DataFrame:
    """Per group (``by``: any kernel-table column, e.g. phase, op, range, kernel): measured
    time, both projected times on ``target`` and the speed-ups, the time share of kernels
    compute-bound on the target, and the group's bound there (the larger share)."""
    if by not in kernels:
        raise UsageError(f"cannot group by {by!r}: the trace has no such column")
    k = project(kernels, target, peaks)
    key = k[by].astype("string").fillna("(none)")
    done = k["time_at_fraction_ns"].notna()
    compute = k["time_at_roof_ns"].where(k["target_bound"] == "compute", 0.0)
    frame = k.assign(_key=key, _done=done, _t=k["duration_ns"].where(done),
                     _compute=compute.where(done))
    g = frame.groupby("_key", sort=False)
    out = g.agg(kernels=("_key", "size"), projected=("_done", "sum"),
                time_ns=("duration_ns", "sum"), projected_time_ns=("_t", "sum"),
                time_at_fraction_ns=("time_at_fraction_ns", "sum"),
                time_at_roof_ns=("time_at_roof_ns", "sum"), compute_ns=("_compute", "sum"))
    out["unprojected"] = out["kernels"] - out["projected"]
    out["speedup_at_fraction"] = out["projected_time_ns"] / out["time_at_fraction_ns"]
    out["speedup_at_roof"] = out["projected_time_ns"] / out["time_at_roof_ns"]
    out["compute_bound_share"] = out["compute_ns"] / out["time_at_roof_ns"]
    out["bound"] = np.where(out["compute_bound_share"] >= 0.5, "compute", "memory")
    out = out.reset_index().rename(columns={"_key": "group"})
    return out.sort_values("time_ns", ascending=False, kind="stable")[
        list(GROUP_COLUMNS)].reset_index(drop=True)


def validate(kernels: pd.DataFrame, target: Gpu, measured: pd.DataFrame, by: str = "phase",
             peaks: str | None = None) -> pd.DataFrame:
    """:func:`whatif` of ``kernels`` onto ``target`` beside ``measured``, a recording of the
    same workload on the target: per group its measured time there (``target_time_ns``) and
    the error of each projection (projected / measured - 1)."""
    if by not in measured:
        raise UsageError(f"cannot group by {by!r}: the target trace has no such column")
    out = whatif(kernels, target, by=by, peaks=peaks)
    key = measured[by].astype("string").fillna("(none)")
    there = measured.assign(_key=key).groupby("_key", sort=False)["duration_ns"].sum()
    out["target_time_ns"] = out["group"].map(there)
    out["error_at_fraction"] = out["time_at_fraction_ns"] / out["target_time_ns"] - 1
    out["error_at_roof"] = out["time_at_roof_ns"] / out["target_time_ns"] - 1
    return out

