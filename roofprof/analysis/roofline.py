"""Measured roofline analysis: the one definition of every kernel and group number.

Pure functions over the kernel table (schema v1): tables in, tables out; no I/O, no drawing.
Every view (tables, JSON, static plots, HTML, sweeps) reads its numbers from here.

Per kernel k, at a memory level (``dram``, ``l2``, ``l1``), with its duration t_k, its work
W_kp in each precision p at its own measured peak P_kp (clocks vary per kernel), and its bytes
B_k at the level's measured peak bandwidth BW_k:

* compute time c_k = max_p W_kp / P_kp (0 for a kernel with no work); memory time
  m_k = B_k / BW_k; time at the roof r_k = max(c_k, m_k).
* % of roof = r_k / t_k, % of peak compute = c_k / t_k, % of peak bandwidth = m_k / t_k.
* work W_k = sum_p W_kp (FLOPs of every floating-point precision plus INT8 tensor ops),
  intensity = W_k / B_k, achieved = W_k / t_k, effective compute roof = W_k / c_k.
* ``precision``: the precision that sets c_k (largest W_kp / P_kp).
* verdict (``bound``): ``unknown`` where r_k cannot be measured (``reason`` says which counter
  is missing); ``latency`` where r_k < :data:`LAUNCH_FLOOR_NS` (at its roofs the kernel would
  finish faster than the shortest kernel a GPU runs, so launch and latency set its time);
  else ``compute`` if c_k >= m_k, ``memory`` otherwise.
* headroom = max(0, t_k - max(r_k, LAUNCH_FLOOR_NS)): time the kernel could give back running
  at its roof, never counting the floor no launch goes below.

A group G (:func:`group_numbers`) sums its kernels: % of roof = sum r / sum t, % of peak
compute = sum c / sum t, % of peak bandwidth = sum m / sum t (none can exceed 100%); intensity
= sum W / sum B; achieved = sum W / sum t; effective compute roof = sum W / sum c (a
work-weighted harmonic mean over precisions and clocks: what the group would reach at peak);
effective bandwidth = sum B / sum m. The group is ``compute``-bound when sum c >= sum m (its
point lies right of its effective ridge), ``latency``-bound when latency-bound kernels hold most
of its time.

Coverage: a kernel is measured when its r_k and t_k are known; a group's ``coverage`` is the
share of its time in measured kernels (1 when every member is; null when a member's time is
unknown). A production run joined to a sample of counters (``roofprof join``) leaves the
launches no sample stood for unmeasured, so its groups are often mostly, not wholly, measured:

* coverage 1: the sums above over every member;
* :data:`MIN_COVERAGE` <= coverage < 1, a *partial* group: the sums above over its measured
  members only: intensity, achieved, % of roof, % of peak compute and bandwidth, effective
  roofs, precision and the verdict are those of the measured part (its work and bytes over its
  own time), and so is the headroom (time the measured part could give back: the rest's is
  unknown, never scaled up). ``work``, ``flop``, ``bytes`` are the measured part's sums;
  ``time_ns`` and ``time_share`` stay the whole group's, and ``latency_share`` is of the
  measured time. Every view shows such a group's coverage beside its numbers;
* coverage under :data:`MIN_COVERAGE`: ``unknown`` (too little is measured to speak for the
  group), its numbers null where a member's are, as for a group of one unmeasured kernel.

``reason`` says why the unmeasured members are (the most common reason, "135 of 306 kernels:
..."), for unknown and partial groups alike. ``--with-counters``
(:mod:`roofprof.analysis.counted`) still keeps only the launches with counters.

Where counters are missing the numbers are null, never a guess: a precision whose peak is known
but whose work counter is absent (``ncu --set roofline`` has no FP8 counter) leaves the work
incomplete; a kernel on a chip with FP16 (cc 7.0+) or BF16 (cc 8.0+) tensor cores whose report
lacks those counters (``ncu --section SpeedOfLight_RooflineChart``) has unknown work W_k, not
zero: it is ``unknown``, never a kernel without FLOPs judged by bandwidth; on Hopper and later,
TMA loads bypass L1TEX, so a kernel whose L1 bytes are fewer than its L2 bytes has no meaningful
L1 point (``l1`` numbers null, reason given).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from roofprof.analysis.grouping import Grouping, filter_kernels, group_kernels
from roofprof.analysis.reasons import UNJOINED, group_reasons, kernel_reasons
from roofprof.errors import InputError, UsageError, option
from roofprof.inputs.derive import uncounted_tensor
from roofprof.tables.metrics import PRECISIONS

LEVELS: tuple[str, ...] = ("dram", "l2", "l1")
BYTES_COLUMNS: dict[str, str] = {lvl: f"{lvl}_bytes" for lvl in LEVELS}
PEAK_BW_COLUMNS: dict[str, str] = {lvl: f"peak_{lvl}_bytes_per_s" for lvl in LEVELS}
LEVEL_LABELS: dict[str, str] = {"dram": "DRAM", "l2": "L2", "l1": "L1"}

#: human names of precisions, for tables and plots
PRECISION_LABELS: dict[str, str] = {
    "fp64": "FP64 CUDA-core", "fp32": "FP32 CUDA-core", "fp16": "FP16 CUDA-core",
    "tensor_fp64": "FP64 tensor", "tensor_tf32": "TF32 tensor", "tensor_fp16": "FP16 tensor",
    "tensor_bf16": "BF16 tensor", "tensor_fp8": "FP8 tensor", "tensor_int8": "INT8 tensor",
}
INT8 = "tensor_int8"

#: the shortest time a kernel launch takes on the GPU, whatever its work (the shortest kernels
#: in every H100 fixture ran 2.18-2.30 us under ncu; an empty kernel): below it, time is latency
LAUNCH_FLOOR_NS = 2000.0

#: on Hopper and later, TMA (bulk tensor) loads go from L2 to shared memory without L1TEX, so
#: ``l1tex__t_bytes`` misses a GEMM's traffic and its L1 "intensity" reaches 1e6-1e7. A kernel
#: (cc >= 9.0) that moved at least this much DRAM traffic but shows fewer than half as many
#: L1 bytes has no meaningful L1 point. In the H100 fixtures this flags the TMA GEMMs, cuDNN's
#: attention and 3 reduce kernels; no unflagged kernel has an L1 intensity above 241.
L1_BLIND_MIN_BYTES = 65536.0

BOUNDS: tuple[str, ...] = ("memory", "compute", "latency", "unknown")

#: a group whose measured kernels hold at least this share of its time shows their numbers,
#: marked partial with its coverage; under it the group is ``unknown`` (module doc). Half: the
#: measured part is then most of the group, so its verdict is the group's unless the rest
#: differs from it in kind (a partial group says how much is measured for the reader to judge)
MIN_COVERAGE = 0.5

#: the columns the analysis reads
REQUIRED: tuple[str, ...] = ("duration_ns",)

#: columns of :func:`summarize`'s result, in order
SUMMARY_COLUMNS: tuple[str, ...] = (
    "group", "kernels", "time_ns", "time_share", "coverage", "work", "flop", "ops_int8", "bytes",
    "level", "ai", "work_per_s", "precision", "peak_compute_per_s", "peak_bytes_per_s", "ridge",
    "roof_per_s", "pct_of_roof", "pct_of_peak_compute", "bytes_per_s", "pct_of_peak_bandwidth",
    "bound", "reason", "latency_share", "headroom_ns", "headroom_share",
)

FloatArray = npt.NDArray[np.float64]


class HasKernels(Protocol):
    """Anything holding a kernel table (a :class:`roofprof.inputs.load.Trace`)."""

    @property
    def kernels(self) -> pd.DataFrame: ...


TableLike = pd.DataFrame | HasKernels


def table_of(obj: Any) -> pd.DataFrame:
    """The kernel table of a DataFrame or a Trace (analysis reads no files: load a path with
    ``roofprof.load``, or give it to ``roofprof.summary``, which reads it)."""
    if isinstance(obj, pd.DataFrame):
        return obj
    kernels = getattr(obj, "kernels", None)
    if isinstance(kernels, pd.DataFrame):
        return kernels
    raise UsageError(f"expected a kernel table or a Trace, got {type(obj).__name__} (read a "
                     "file with roofprof.load first)")


def check(table: pd.DataFrame) -> None:
    """Refuse a table the analysis cannot read (no kernels, no durations)."""
    if len(table) == 0:
        raise InputError("the trace holds no kernels: nothing to analyse "
                         "(check the ncu filters used to record it)")
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(f"the kernel table lacks column(s) {', '.join(missing)}; "
                         "convert the input again with this roofprof version")


def level_of(level: str) -> str:
    if level not in LEVELS:
        raise UsageError(f"unknown memory level {level!r}; choose one of {', '.join(LEVELS)}")
    return level


def _num(table: pd.DataFrame, column: str) -> FloatArray:
    """A numeric column as float64 with nulls as NaN (all NaN when the column is absent)."""
    if column not in table.columns:
        return np.full(len(table), np.nan)
    return table[column].to_numpy(dtype=np.float64, na_value=np.nan)


def div(a: Any, b: Any) -> Any:
    """a / b with x/0 = inf for x > 0, 0/0 = NaN, nulls propagating, and no warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(a, dtype=np.float64) / np.asarray(b, dtype=np.float64)


def kernel_numbers(table: TableLike, level: str = "dram") -> pd.DataFrame:
    """Every kernel's roofline numbers at ``level`` (same index as the table; module doc).

    Columns: ``duration_ns``, ``work``, ``flop``, ``ops_int8``, ``bytes``, ``compute_ns``,
    ``memory_ns``, ``roof_ns``, ``ai``, ``work_per_s``, ``peak_compute_per_s``,
    ``peak_bytes_per_s``, ``ridge``, ``roof_per_s``, ``pct_of_roof``,
    ``pct_of_peak_compute``, ``bytes_per_s``, ``pct_of_peak_bandwidth``, ``precision``,
    ``bound``, ``reason``, ``headroom_ns``.
    """
    t = table_of(table)
    check(t)
    level_of(level)
    labels = list(PRECISIONS)
    work = np.column_stack([_num(t, PRECISIONS[p][0]) for p in labels])
    peaks = np.column_stack([_num(t, PRECISIONS[p][1]) for p in labels])
    # a precision whose unit exists (peak known, or a tensor precision every chip of the
    # kernel's compute capability has) but whose work counter is absent: incomplete
    cc = _cc(t)
    expected = np.column_stack([uncounted_tensor(PRECISIONS[p][0], work[:, i], cc)
                                for i, p in enumerate(labels)])
    uncounted = (np.isnan(work) & ~np.isnan(peaks)) | expected
    no_counters: npt.NDArray[np.bool_] = np.asarray(np.isnan(work).all(axis=1), dtype=bool)
    w0 = np.where(np.isnan(work), 0.0, work)
    per_p = np.where(w0 > 0, div(w0, peaks) * 1e9, 0.0)  # ns at peak, NaN if the peak is unknown
    compute_ns = per_p.max(axis=1, initial=0.0)
    compute_ns[np.isnan(per_p).any(axis=1)] = np.nan
    incomplete = uncounted.any(axis=1) | no_counters
    compute_ns[incomplete] = np.nan
    dominant = np.argmax(np.nan_to_num(per_p, nan=np.inf), axis=1)
    has_work = (w0 > 0).any(axis=1)
    total = w0.sum(axis=1)
    total[no_counters | expected.any(axis=1)] = np.nan  # unknown, not "no FLOPs"

    dur = _num(t, "duration_ns")
    dur = np.where(dur > 0, dur, np.nan)
    nbytes, bw, memory_ns, tma = _traffic(t, level)
    roof_ns = np.maximum(compute_ns, memory_ns)
    roof_ns[np.isnan(compute_ns) | np.isnan(memory_ns)] = np.nan

    reason = kernel_reasons([PRECISION_LABELS[p] for p in labels], uncounted, no_counters,
                            per_p, dur, nbytes, bw, tma, LEVEL_LABELS[level])
    if "counters_from" in t.columns:  # a joined trace: say why a launch has no counters
        unjoined = (t["counters_from"].astype("string") == "none").fillna(False).to_numpy(bool)
        reason[unjoined] = UNJOINED
    bound = np.where(compute_ns >= memory_ns, "compute", "memory").astype(object)
    bound[roof_ns < LAUNCH_FLOOR_NS] = "latency"
    bound[np.isnan(roof_ns) | np.isnan(dur)] = "unknown"
    precision = np.asarray(labels, dtype=object)[dominant]
    precision[~has_work | np.isnan(compute_ns)] = None
    int8 = labels.index(INT8)
    out: dict[str, Any] = {
        "duration_ns": dur,
        "work": total,
        "flop": _num(t, "flop"),
        "ops_int8": work[:, int8],
        "bytes": np.where(tma, np.nan, nbytes),
        "compute_ns": compute_ns,
        "memory_ns": memory_ns,
        "roof_ns": roof_ns,
    }
    out.update(_rates(out["work"], out["bytes"], dur, compute_ns, memory_ns, roof_ns))
    out["precision"] = precision
    out["bound"] = bound
    out["reason"] = reason
    floor = np.maximum(roof_ns, LAUNCH_FLOOR_NS)
    out["headroom_ns"] = np.maximum(dur - floor, 0.0)
    df = pd.DataFrame(out, index=t.index)
    df["bound"] = pd.Categorical(df["bound"], categories=list(BOUNDS))
    return df


def _traffic(t: pd.DataFrame, level: str) -> tuple[FloatArray, FloatArray, FloatArray,
                                                   npt.NDArray[np.bool_]]:
    """Bytes, peak bandwidth and time at that peak (ns) at ``level``, and which kernels' L1
    counter misses their traffic (TMA, see :data:`L1_BLIND_MIN_BYTES`)."""
    nbytes = _num(t, BYTES_COLUMNS[level])
    bw = _num(t, PEAK_BW_COLUMNS[level])
    memory_ns: FloatArray = div(nbytes, bw) * 1e9
    tma = np.zeros(len(t), dtype=bool)
    if level == "l1":  # L1TEX does not see TMA traffic (Hopper+)
        dram = _num(t, BYTES_COLUMNS["dram"])
        tma = (_cc(t) >= 90) & (dram >= L1_BLIND_MIN_BYTES) & (nbytes < dram / 2)
        memory_ns[tma] = np.nan
    return nbytes, bw, memory_ns, tma


def level_numbers(table: TableLike, work: Any, level: str) -> pd.DataFrame:
    """What places kernels at another memory level: ``work`` (from :func:`kernel_numbers`),
    ``bytes``, ``ai`` and ``memory_ns`` at ``level``, as :func:`kernel_numbers` gives them,
    without the rest (a million kernels at three levels stay small)."""
    t = table_of(table)
    level_of(level)
    nbytes, _bw, memory_ns, tma = _traffic(t, level)
    w = np.asarray(work, dtype=np.float64)
    nb = np.where(tma, np.nan, nbytes)
    return pd.DataFrame({"work": w, "bytes": nb, "ai": div(w, nb), "memory_ns": memory_ns},
                        index=t.index)


def _rates(work: FloatArray, nbytes: FloatArray, time_ns: FloatArray, compute_ns: FloatArray,
           memory_ns: FloatArray, roof_ns: FloatArray) -> dict[str, FloatArray]:
    """The ratios of the module doc, for kernels and groups alike."""
    peak_c = div(work, compute_ns * 1e-9)
    peak_b = div(nbytes, memory_ns * 1e-9)
    return {
        "ai": div(work, nbytes),
        "work_per_s": div(work, time_ns * 1e-9),
        "peak_compute_per_s": np.where(compute_ns > 0, peak_c, np.nan),
        "peak_bytes_per_s": np.where(memory_ns > 0, peak_b, np.nan),
        "ridge": div(np.where(compute_ns > 0, peak_c, np.nan),
                     np.where(memory_ns > 0, peak_b, np.nan)),
        "roof_per_s": np.where(work > 0, div(work, roof_ns * 1e-9), np.nan),
        "pct_of_roof": div(roof_ns, time_ns),
        "pct_of_peak_compute": div(compute_ns, time_ns),
        "bytes_per_s": div(nbytes, time_ns * 1e-9),
        "pct_of_peak_bandwidth": div(memory_ns, time_ns),
    }


def _cc(t: pd.DataFrame) -> npt.NDArray[np.int64]:
    if "cc" not in t.columns:
        return np.zeros(len(t), dtype=np.int64)
    parts = t["cc"].astype("string").str.extract(r"^(\d+)\.(\d+)$")
    major = pd.to_numeric(parts[0], errors="coerce")
    minor = pd.to_numeric(parts[1], errors="coerce")
    return np.asarray((major * 10 + minor).fillna(0).astype("int64").to_numpy(), dtype=np.int64)


def group_numbers(numbers: pd.DataFrame, grouping: Grouping, level: str = "dram",
                  min_coverage: float = MIN_COVERAGE) -> pd.DataFrame:
    """The group math of the module doc over :func:`kernel_numbers`, one row per group of
    ``grouping`` (in its order; see :func:`summarize` for the sorted, shared form); a group
    whose measured kernels hold at least ``min_coverage`` of its time and not all of it has the
    numbers of those kernels (partial, its ``coverage`` below 1)."""
    codes, n = grouping.codes, len(grouping)
    coverage, used, partial = counted_kernels(numbers, grouping, min_coverage)
    every = np.ones(len(codes), dtype=bool)

    def strict(col: str, over: npt.NDArray[np.bool_] = used) -> FloatArray:
        """The sum over the kernels ``over`` of each group, null if any of them is null."""
        x = numbers[col].to_numpy(dtype=np.float64, na_value=np.nan)
        s = np.bincount(codes, weights=np.where(over, np.nan_to_num(x), 0.0), minlength=n)
        bad = np.bincount(codes, weights=(np.isnan(x) & over).astype(np.float64), minlength=n)
        return np.where(bad > 0, np.nan, s)

    time_ns, used_ns = strict("duration_ns", every), strict("duration_ns")
    work, nbytes = strict("work"), strict("bytes")
    compute_ns, memory_ns, roof_ns = strict("compute_ns"), strict("memory_ns"), strict("roof_ns")
    total_time = float(np.nansum(numbers["duration_ns"].to_numpy(dtype=np.float64)))
    dur = numbers["duration_ns"].to_numpy(dtype=np.float64, na_value=np.nan)
    bound_k = numbers["bound"].astype(object).to_numpy()
    latency = np.bincount(codes, weights=np.where(bound_k == "latency", np.nan_to_num(dur), 0.0),
                          minlength=n)
    out: dict[str, Any] = {
        "group": np.asarray(grouping.names, dtype=object),
        "kernels": np.bincount(codes, minlength=n).astype(np.int64),
        "time_ns": time_ns,
        "time_share": div(time_ns, total_time),
        "coverage": coverage,
        "work": work,
        "flop": strict("flop"),
        "ops_int8": strict("ops_int8"),
        "bytes": nbytes,
        "level": np.full(n, level, dtype=object),
        **_rates(work, nbytes, used_ns, compute_ns, memory_ns, roof_ns),
    }
    out["precision"] = _group_precision(numbers, codes, n, compute_ns, used)
    bound = np.where(compute_ns >= memory_ns, "compute", "memory").astype(object)
    latency_share = div(latency, used_ns)
    bound[latency_share > 0.5] = "latency"
    unknown = np.isnan(roof_ns) | np.isnan(time_ns)
    bound[unknown] = "unknown"
    out["bound"] = bound
    out["reason"] = group_reasons(numbers["reason"].to_numpy(dtype=object), codes, n,
                                  unknown | partial)
    out["latency_share"] = latency_share
    out["headroom_ns"] = strict("headroom_ns")
    out["headroom_share"] = div(out["headroom_ns"], total_time)
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))


def min_coverage_of(value: float) -> float:
    """``value`` as a coverage threshold: a fraction above 0, at most 1 (1: a group is either
    wholly measured or unknown)."""
    if not 0 < value <= 1:
        raise UsageError(f"{option('min_coverage')} must be a fraction above 0 and at most 1 "
                         f"(0.5: half of a group's time measured), got {value!r}")
    return float(value)


def counted_kernels(numbers: pd.DataFrame, grouping: Grouping,
                    min_coverage: float = MIN_COVERAGE,
                    ) -> tuple[FloatArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Each group's coverage (module doc), which kernels its numbers are of (a partial group's
    measured kernels, every kernel of any other group) and which groups are partial.
    ``numbers``: :func:`kernel_numbers` (its ``duration_ns`` and ``roof_ns``)."""
    codes, n = grouping.codes, len(grouping)
    threshold = min_coverage_of(min_coverage)
    dur = numbers["duration_ns"].to_numpy(dtype=np.float64, na_value=np.nan)
    measured = np.isfinite(dur) & np.isfinite(
        numbers["roof_ns"].to_numpy(dtype=np.float64, na_value=np.nan))
    time_ns = np.bincount(codes, weights=dur, minlength=n)  # NaN where a member's is
    kept = np.bincount(codes, weights=np.where(measured, dur, 0.0), minlength=n)
    missing = np.bincount(codes, weights=(~measured).astype(np.float64), minlength=n)
    coverage: FloatArray = np.where(missing > 0, div(kept, time_ns), 1.0)
    partial = (missing > 0) & (kept > 0) & (coverage >= threshold)
    return coverage, measured | ~partial[codes], partial


def group_intensity(numbers: pd.DataFrame, grouping: Grouping, base: pd.DataFrame | None = None,
                    min_coverage: float = MIN_COVERAGE) -> FloatArray:
    """Each group's intensity, sum W / sum B over the kernels :func:`group_numbers` counts at
    this level (null where one of their work or bytes is): the ``ai`` of
    :func:`group_numbers` over :func:`kernel_numbers` at the level, alone. ``numbers``:
    :func:`kernel_numbers` at the level, or :func:`level_numbers` with ``base``, the
    :func:`kernel_numbers` of another level (durations and compute times)."""
    codes, n = grouping.codes, len(grouping)
    if base is not None:  # r_k at this level: its compute time, this level's memory time
        c = base["compute_ns"].to_numpy(dtype=np.float64, na_value=np.nan)
        m = numbers["memory_ns"].to_numpy(dtype=np.float64, na_value=np.nan)
        roof = np.where(np.isnan(c) | np.isnan(m), np.nan, np.maximum(c, m))
        numbers = numbers.assign(duration_ns=base["duration_ns"].to_numpy(), roof_ns=roof)
    _coverage, used, _partial = counted_kernels(numbers, grouping, min_coverage)
    out = []
    for col in ("work", "bytes"):
        x = numbers[col].to_numpy(dtype=np.float64, na_value=np.nan)
        s = np.bincount(codes, weights=np.where(used, np.nan_to_num(x), 0.0), minlength=n)
        bad = np.bincount(codes, weights=(np.isnan(x) & used).astype(np.float64), minlength=n)
        out.append(np.where(bad > 0, np.nan, s))
    result: FloatArray = div(out[0], out[1])
    return result


def _group_precision(numbers: pd.DataFrame, codes: npt.NDArray[np.intp], n: int,
                     compute_ns: FloatArray, used: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    """The precision whose kernels (by the precision that sets each one's compute time) hold
    most of the compute time of the group's ``used`` kernels; null where the group has no
    known compute time."""
    labels = list(PRECISIONS)
    kp = numbers["precision"].to_numpy(dtype=object)
    idx = pd.Categorical(kp, categories=labels).codes.astype(np.int64)
    c = np.nan_to_num(numbers["compute_ns"].to_numpy(dtype=np.float64, na_value=np.nan))
    ok = (idx >= 0) & used
    per = np.bincount(codes[ok] * len(labels) + idx[ok], weights=c[ok],
                      minlength=n * len(labels)).reshape(n, len(labels))
    out: npt.NDArray[Any] = np.asarray(labels, dtype=object)[np.argmax(per, axis=1)]
    out[(per.max(axis=1) <= 0) | np.isnan(compute_ns)] = None
    return out


def summarize(table: TableLike, by: str = "range", level: str = "dram", depth: int | None = None,
              top: int | None = None, filter: str | None = None,
              min_coverage: float = MIN_COVERAGE) -> pd.DataFrame:
    """Roofline numbers per group (module doc), the group with the most GPU time first.

    ``by`` is ``range`` (the full NVTX path, or its first ``depth`` levels), ``kernel``,
    ``device``, ``trace``, ``phase``/``category``/``op`` (LLM attribution), any column, or
    several joined by commas (``op,phase``). ``filter`` keeps kernels whose name, range,
    phase, category or op matches the regex; ``top`` keeps the ``top`` heaviest groups;
    ``min_coverage``: the share of a group's time its measured kernels need to speak for it
    (module doc).
    """
    t = table_of(table)
    check(t)
    if top is not None and top < 1:
        raise UsageError(f"{option('top')} must be at least 1, got {top}")
    t = filter_kernels(t, filter)
    grouping = group_kernels(t, by, depth)
    df = group_numbers(kernel_numbers(t, level), grouping, level, min_coverage)
    df = df.sort_values(["time_ns", "group"], ascending=[False, True], kind="stable",
                        na_position="last")
    if top is not None:
        df = df.head(top)
    return df.reset_index(drop=True)


def top_kernels(table: TableLike, n: int = 10, level: str = "dram") -> pd.DataFrame:
    """The ``n`` kernels with the most headroom at ``level`` (time lost below their roof)."""
    if n < 1:
        raise UsageError(f"the number of kernels must be at least 1, got {n}")
    t = table_of(table)
    k = kernel_numbers(t, level)
    ident = t[[c for c in ("id", "kernel", "range", "phase", "op", "device") if c in t.columns]]
    out = pd.concat([ident, k[["duration_ns", "precision", "ai", "work_per_s", "roof_per_s",
                               "pct_of_roof", "bound", "headroom_ns"]]], axis=1)
    out = out.sort_values("headroom_ns", ascending=False, kind="stable", na_position="last")
    return out.head(n).reset_index(drop=True)


def effective_peaks(table: TableLike, precisions: Sequence[str] | None = None,
                    ) -> dict[str, float]:
    """Each precision's compute roof over the kernels of ``table``, by the group definition:
    sum W_p / sum (W_p / P_p), the work-weighted harmonic mean of their own peaks (kernels
    whose peak of that precision is unknown are left out)."""
    t = table_of(table)
    out: dict[str, float] = {}
    for p in precisions or list(PRECISIONS):
        w = _num(t, PRECISIONS[p][0])
        peak = _num(t, PRECISIONS[p][1])
        ok = (w > 0) & np.isfinite(peak) & (peak > 0)
        if ok.any():
            out[p] = float(w[ok].sum() / (w[ok] / peak[ok]).sum())
    return out


def effective_bandwidth(numbers: pd.DataFrame) -> float | None:
    """The level's bandwidth roof over the given kernels: sum B / sum (B / BW)."""
    b = numbers["bytes"].to_numpy(dtype=np.float64)
    m = numbers["memory_ns"].to_numpy(dtype=np.float64)
    ok = np.isfinite(b) & np.isfinite(m) & (m > 0)
    return float(b[ok].sum() / (m[ok].sum() * 1e-9)) if ok.any() else None


#: the name ``roofprof.summary`` re-exports (the Python API mirrors ``roofprof summary``)
summary = summarize
