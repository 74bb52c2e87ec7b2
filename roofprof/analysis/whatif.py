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
projection. A kernel in a precision the target lacks otherwise (FP8 on an A100), or without
counters (null work, DRAM bytes or measured peaks: every launch of a timing trace, the
unmatched launches of a join, values an input could not give), or with a null duration, is not
projected: its projections are null (never a roof of 0), the group counts it as
``unprojected`` (a group with none projected has null projections) and one warning says how
many and their share of the measured time. Where no kernel can be projected at all,
:func:`unprojectable` says why (the use case raises it as an error instead of a table
without numbers).

Only DRAM is projected: the catalog has no L2/L1 bandwidths.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
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


def _known(values: Any) -> Any:
    """Where a measured value can be used: finite (a kernel without counters holds null)."""
    return np.isfinite(values)


@dataclass
class _Roofs:
    """Per kernel: its roof time on the GPU it ran on (``roof``) and on the target
    (``roof_t``, of which ``comp_t`` and ``mem_t``), in seconds; and why it cannot be
    projected: work in a precision the target lacks (``lacking``), counters missing
    (``uncounted``: no DRAM bytes, or work or bytes without their measured peak)."""

    roof: Any
    roof_t: Any
    comp_t: Any
    mem_t: Any
    lacking: Any
    uncounted: Any


def _roofs(kernels: pd.DataFrame, target: Gpu, source: Gpu | None, peaks: str) -> _Roofs:
    """Each kernel's roofs on the GPU it ran on and on ``target``, and why some have none."""
    def num(column: str) -> Any:
        return kernels[column].to_numpy(dtype=np.float64, na_value=np.nan)

    n = len(kernels)
    nbytes, bw = num("dram_bytes"), num("peak_dram_bytes_per_s")
    if source is not None and peaks == "ratio":
        bw_target = bw * target.dram_bytes_per_s / source.dram_bytes_per_s
    else:
        bw_target = np.full(n, target.dram_bytes_per_s)
    moved = _known(nbytes) & (nbytes > 0)
    # no DRAM bytes: no memory roof; bytes at an unknown measured bandwidth: no roof either
    uncounted = ~_known(nbytes) | (moved & ~(_known(bw) & (bw > 0)))
    comp, comp_t = np.zeros(n), np.zeros(n)
    lacking = np.zeros(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        mem = np.where(moved, nbytes / bw, 0.0)
        mem_t = np.where(moved, nbytes / bw_target, 0.0)
        for p, (work_col, peak_col) in PRECISIONS.items():
            w = num(work_col)
            if not _known(w).any():     # a precision the input does not measure: no work
                w = np.zeros(n)
            used = _known(w) & (w > 0)
            term = w / num(peak_col)
            uncounted |= ~_known(w) | (used & ~_known(term))
            comp = np.where(used, np.fmax(comp, term), comp)
            peak_t = _target_peak(p, num, target, source, peaks)
            if peak_t is None:
                lacking |= used
                continue
            term_t = w / peak_t
            uncounted |= used & ~_known(term_t)
            comp_t = np.where(used, np.fmax(comp_t, term_t), comp_t)
    return _Roofs(np.fmax(comp, mem), np.fmax(comp_t, mem_t), comp_t, mem_t, lacking,
                  uncounted)


def _chosen(kernels: pd.DataFrame, peaks: str | None) -> tuple[Gpu | None, str]:
    """The trace's GPU in the catalog, and the target ceilings: ``peaks``, by default ratio
    where that GPU is known."""
    source = source_gpu(kernels)
    peaks = peaks or ("ratio" if source is not None else "datasheet")
    if peaks not in ("ratio", "datasheet"):
        raise UsageError(f"peaks must be 'ratio' or 'datasheet', not {peaks!r}")
    if peaks == "ratio" and source is None:
        raise UsageError("peaks='ratio' needs the trace's GPU in the catalog (one device "
                         "whose name `roofprof gpus` knows); use peaks='datasheet'")
    return source, peaks


@dataclass
class _Skipped:
    """The kernels a projection left out: how many of how many, why (one clause per reason)
    and their share of the measured time (%, None where no time was measured)."""

    count: int
    of: int
    why: list[str]
    share: float | None

    def warning(self, target: Gpu) -> str:
        share = "" if self.share is None else (
            f"; their {self.share:.1f}% of the measured time is left out of the projected "
            "times")
        return (f"{self.count} of {self.of} kernels could not be projected onto {target.name}: "
                f"{'; '.join(self.why)}{share}")

    def error(self, target: Gpu) -> str:
        fix = ("a timing trace times launches only: project an Nsight Compute report, or the "
               "timing joined with one (`roofprof join TIMING COUNTERS`)"
               if any("no counters" in w for w in self.why) else
               "pick a target GPU with peaks for the precisions the kernels use")
        return (f"none of the {self.of} kernels can be projected onto {target.name}: "
                f"{'; '.join(self.why)}; {fix}")


def _skipped(duration: Any, target: Gpu, r: _Roofs, skipped: Any) -> _Skipped:
    """What :class:`_Skipped` says of the kernels ``skipped``."""
    why = []
    if r.uncounted.any():
        why.append(f"{int(r.uncounted.sum())} have no counters (null work, DRAM bytes or "
                   "measured peaks)")
    lacking = r.lacking & ~r.uncounted
    if lacking.any():
        why.append(f"{int(lacking.sum())} use a precision {target.name} has no peak for")
    rest = int((skipped & ~r.lacking & ~r.uncounted).sum())
    if rest:
        why.append(f"{rest} have a null duration")
    total = np.nansum(duration)
    share = float(100 * np.nansum(duration[skipped]) / total) if total > 0 else None
    return _Skipped(int(skipped.sum()), len(duration), why, share)


def _project(kernels: pd.DataFrame, target: Gpu, peaks: str | None
             ) -> tuple[pd.DataFrame, _Skipped | None]:
    """:func:`project`'s table, and the kernels it could not project (None: none)."""
    source, peaks = _chosen(kernels, peaks)
    r = _roofs(kernels, target, source, peaks)
    duration = kernels["duration_ns"].to_numpy(dtype=np.float64, na_value=np.nan)
    skipped = r.lacking | r.uncounted | ~_known(duration)
    roof_ns = np.where(skipped, np.nan, r.roof * 1e9)
    roof_t_ns = np.where(skipped, np.nan, r.roof_t * 1e9)
    # the launch floor (the shortest any kernel runs) does not scale with the GPU's roofs:
    # only the time above it does
    fixed = np.fmin(duration, LAUNCH_FLOOR_NS)
    with np.errstate(divide="ignore", invalid="ignore"):
        at_fraction = np.where(r.roof > 0, fixed + (duration - fixed) * r.roof_t / r.roof,
                               duration)
    out = kernels.copy()
    out["roof_ns"] = roof_ns
    out["target_roof_ns"] = roof_t_ns
    bound = np.where(r.comp_t >= r.mem_t, "compute", "memory").astype(object)
    bound[skipped] = None
    out["target_bound"] = bound
    out["time_at_fraction_ns"] = np.where(skipped, np.nan, at_fraction)
    out["time_at_roof_ns"] = np.where(skipped, np.nan, np.fmax(roof_t_ns, fixed))
    return out, (_skipped(duration, target, r, skipped) if skipped.any() else None)


def project(kernels: pd.DataFrame, target: Gpu, peaks: str | None = None) -> pd.DataFrame:
    """The kernel table with :data:`KERNEL_COLUMNS` added: times on ``target``; null for a
    kernel that cannot be projected (one warning counts them, says why, and gives their
    share of the measured time)."""
    out, skipped = _project(kernels, target, peaks)
    if skipped is not None:
        warnings.warn(skipped.warning(target), RoofprofWarning, stacklevel=2)
    return out


def whatif(kernels: pd.DataFrame, target: Gpu, by: str = "phase",
           peaks: str | None = None) -> pd.DataFrame:
    """Per group (``by``: any kernel-table column, e.g. phase, op, range, kernel): measured
    time, both projected times on ``target`` and the speed-ups, the time share of kernels
    compute-bound on the target, and the group's bound there (the larger share). A group none
    of whose kernels could be projected has null projections (:func:`unprojectable` says
    when that is every group)."""
    if by not in kernels:
        raise UsageError(f"cannot group by {by!r}: the trace has no such column")
    k, skipped = _project(kernels, target, peaks)
    if skipped is not None:
        warnings.warn(skipped.warning(target), RoofprofWarning, stacklevel=2)
    return _groups(k, by, k["time_at_fraction_ns"].notna())


def unprojectable(kernels: pd.DataFrame, target: Gpu, peaks: str | None = None) -> str | None:
    """Why no kernel of ``kernels`` can be projected onto ``target`` (a timing trace: no
    counters), or None where some can: what a use case says instead of a table without one
    projected number."""
    _, skipped = _project(kernels, target, peaks)
    if skipped is None or skipped.count < skipped.of:
        return None
    return skipped.error(target)


def _groups(k: pd.DataFrame, by: str, done: pd.Series) -> pd.DataFrame:
    """:func:`whatif`'s table from the projected kernels ``k`` (``done``: projected)."""
    key = k[by].astype("string").fillna("(none)")
    compute = k["time_at_roof_ns"].where(k["target_bound"] == "compute", 0.0)
    frame = k.assign(_key=key, _done=done, _t=k["duration_ns"].where(done),
                     _compute=compute.where(done))
    g = frame.groupby("_key", sort=False)
    out = g.agg(kernels=("_key", "size"), projected=("_done", "sum"),
                time_ns=("duration_ns", "sum"), projected_time_ns=("_t", "sum"),
                time_at_fraction_ns=("time_at_fraction_ns", "sum"),
                time_at_roof_ns=("time_at_roof_ns", "sum"), compute_ns=("_compute", "sum"))
    # a group without one projected kernel has no projected time: null, not 0
    none = out["projected"] == 0
    for column in ("projected_time_ns", "time_at_fraction_ns", "time_at_roof_ns",
                   "compute_ns"):
        out[column] = out[column].where(~none)
    out["unprojected"] = out["kernels"] - out["projected"]
    out["speedup_at_fraction"] = out["projected_time_ns"] / out["time_at_fraction_ns"]
    out["speedup_at_roof"] = out["projected_time_ns"] / out["time_at_roof_ns"]
    out["compute_bound_share"] = out["compute_ns"] / out["time_at_roof_ns"]
    bound = np.where(out["compute_bound_share"] >= 0.5, "compute", "memory").astype(object)
    bound[none.to_numpy()] = None
    out["bound"] = bound
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

