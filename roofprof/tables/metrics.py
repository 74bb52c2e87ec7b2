"""The metric table: the single source of truth for which Nsight Compute metrics roofprof reads.

Each :class:`Quantity` is one column of the kernel table and lists alternative :class:`Formula`s,
best first. A formula is a weighted sum of Nsight Compute metrics. ``roofprof record`` asks ncu
for the first formula of each quantity whose metrics exist on the GPU; the parsers evaluate the
formulas against whatever a report holds, row by row, first complete formula wins.

A counter such as ``dram__bytes_read.sum`` may be present in a report in several forms, all of
which give the same total (see ``derive.py``): the sum itself, ``<metric>.per_second`` x the
kernel's duration, or ``<metric>.per_cycle_elapsed`` x the elapsed cycles of its unit. Reports
made with ncu's own sets (``--set roofline``, ``--set full``) usually hold only the rates.

Facts behind the choices (checked on an H200 with Nsight Compute 2025.3.1, see NCU_FACTS.md and
fixtures/MANIFEST.md):

* tensor-core counters ``sm__ops_path_tensor_src_*`` count FLOPs (2 per multiply-add) with no
  multiplier; the aggregate already contains the hgmma/hmma and sparsity breakdowns, so only the
  aggregate is summed;
* the aggregate tensor *peaks* of precisions with 2:4 sparsity are the sparse peaks (2x dense);
  dense peaks come from the ``_sparsity_off`` breakdown, or are derived as half the aggregate;
* CUDA-core FLOPs are add + mul + 2*fma; half precision counts packed pairs (hadd/hmul x2,
  hfma x4), as ncu's own roofline charts do.

Formulas marked ``verified=False`` come from Nsight Compute's metric lists for other chips and
have not yet been checked against a capture of known work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["time", "clock", "count", "peak"]


@dataclass(frozen=True)
class Term:
    """One metric in a formula, with its weight."""

    metric: str
    weight: float = 1.0

    @property
    def base(self) -> str:
        """The metric's base name as ``ncu --query-metrics`` lists it (``dram__bytes``)."""
        return self.metric.split(".", 1)[0]

    @property
    def unit(self) -> str:
        """The hardware unit the metric belongs to (``dram``, ``lts``, ``sm``, ``smsp``...)."""
        return self.metric.split("__", 1)[0]


@dataclass(frozen=True)
class Formula:
    terms: tuple[Term, ...]
    #: multiplies the weighted sum (0.5 turns a sparse tensor peak into the dense one)
    scale: float = 1.0
    #: checked against a capture of known work on real hardware
    verified: bool = True
    #: set when the value is derived rather than read; recorded in the trace's metadata
    derived: str = ""
    #: compute capabilities (major*10 + minor) the formula applies to, inclusive
    min_cc: int = 0
    max_cc: int = 999

    def describe(self) -> str:
        parts = [t.metric if t.weight == 1 else f"{t.weight:g}*{t.metric}" for t in self.terms]
        text = " + ".join(parts)
        if self.scale != 1:
            text = f"{self.scale:g}*({text})"
        return text


@dataclass(frozen=True)
class Quantity:
    column: str
    kind: Kind
    formulas: tuple[Formula, ...]
    description: str
    #: for peaks: the clock column (Hz) that turns a per-cycle peak into a per-second one
    clock: str = ""
    #: precision label for FLOP and peak columns (``tensor_bf16``, ``fp32``...)
    precision: str = ""
    unit: str = ""


def _f(*metrics: str | tuple[str, float], scale: float = 1.0, verified: bool = True,
       derived: str = "", min_cc: int = 0) -> Formula:
    terms = tuple(Term(m) if isinstance(m, str) else Term(m[0], m[1]) for m in metrics)
    return Formula(terms, scale=scale, verified=verified, derived=derived, min_cc=min_cc)


def _sass(prefix: str, op: str) -> str:
    return f"{prefix}__sass_thread_inst_executed_op_{op}_pred_on.sum"


def _cuda_core(p: str, add: float, mul: float, fma: float) -> tuple[Formula, ...]:
    """CUDA-core FLOPs of one precision; sm__ and smsp__ sums are the same total."""
    return tuple(
        _f((_sass(prefix, f"{p}add"), add), (_sass(prefix, f"{p}mul"), mul),
           (_sass(prefix, f"{p}fma"), fma))
        for prefix in ("sm", "smsp")
    )


def _tensor_peak(dense: tuple[tuple[str, bool], ...], aggregate: str | None) -> tuple[Formula, ...]:
    """Dense tensor peak: the best ``_sparsity_off`` path the chip names, else derived.

    ``dense`` lists (metric, verified) pairs, fastest path first: on Hopper the warpgroup
    (hgmma/igmma) path, on datacenter Blackwell the tcgen05 (utc*) path, on Ampere/Ada the
    aggregate ``_sparsity_off``; the legacy mma.sync (hmma/imma) path is slower where a newer one
    exists, so it comes last. ``aggregate`` is the sparse aggregate peak, halved when nothing
    better is in the report.
    """
    out = [_f(f"{m}.sum.peak_sustained", verified=v) for m, v in dense]
    if aggregate:
        out.append(_f(f"{aggregate}.sum.peak_sustained", scale=0.5, min_cc=80,
                      verified=aggregate.endswith(("bf16_dst_fp32", "fp16", "fp8", "int8",
                                                   "tf32_dst_fp32")),
                      derived="dense peak derived as half the aggregate (sparse) tensor peak"))
    return tuple(out)


_T = "sm__ops_path_tensor"

QUANTITIES: tuple[Quantity, ...] = (
    Quantity("duration_ns", "time", (_f("gpu__time_duration.sum"),),
             "GPU time of the kernel", unit="ns"),
    # clocks measured during the kernel: per-cycle peaks become per-second peaks with them
    Quantity("sm_clock_hz", "clock", (_f("sm__cycles_elapsed.avg.per_second"),
                                      _f("smsp__cycles_elapsed.avg.per_second")),
             "SM clock during the kernel", unit="Hz"),
    Quantity("dram_clock_hz", "clock", (_f("dram__cycles_elapsed.avg.per_second"),),
             "DRAM clock during the kernel", unit="Hz"),
    Quantity("l2_clock_hz", "clock", (_f("lts__cycles_elapsed.avg.per_second"),),
             "L2 (LTS) clock during the kernel", unit="Hz"),
    Quantity("l1_clock_hz", "clock", (_f("l1tex__cycles_elapsed.avg.per_second"),),
             "L1 (L1TEX) clock during the kernel", unit="Hz"),
    # traffic
    Quantity("dram_read_bytes", "count", (_f("dram__bytes_read.sum"),),
             "bytes read from device memory", unit="B"),
    Quantity("dram_write_bytes", "count", (_f("dram__bytes_write.sum"),),
             "bytes written to device memory", unit="B"),
    Quantity("dram_bytes", "count",
             (_f("dram__bytes_read.sum", "dram__bytes_write.sum"), _f("dram__bytes.sum")),
             "bytes moved to and from device memory", unit="B"),
    Quantity("l2_bytes", "count", (_f("lts__t_bytes.sum"),),
             "bytes requested from L2 (all LTS tag lookups)", unit="B"),
    Quantity("l1_bytes", "count", (_f("l1tex__t_bytes.sum"),),
             "bytes requested from L1TEX", unit="B"),
    # CUDA-core FLOPs
    Quantity("flop_fp64", "count", _cuda_core("d", 1, 1, 2),
             "FP64 FLOPs on CUDA cores (dadd + dmul + 2*dfma)", precision="fp64"),
    Quantity("flop_fp32", "count", _cuda_core("f", 1, 1, 2),
             "FP32 FLOPs on CUDA cores (fadd + fmul + 2*ffma)", precision="fp32"),
    Quantity("flop_fp16", "count", _cuda_core("h", 2, 2, 4),
             "FP16 FLOPs on CUDA cores, packed pairs (2*hadd + 2*hmul + 4*hfma)",
             precision="fp16"),
    # tensor-core FLOPs: the aggregates count FLOPs directly (no multiplier)
    Quantity("flop_tensor_fp64", "count", (_f(f"{_T}_src_fp64.sum"),),
             "FP64 tensor-core FLOPs (DMMA)", precision="tensor_fp64"),
    Quantity("flop_tensor_tf32", "count", (_f(f"{_T}_src_tf32_dst_fp32.sum"),),
             "TF32 tensor-core FLOPs", precision="tensor_tf32"),
    Quantity("flop_tensor_fp16", "count",
             (_f(f"{_T}_src_fp16.sum"),
              _f(f"{_T}_src_fp16_dst_fp16.sum", f"{_T}_src_fp16_dst_fp32.sum", verified=False)),
             "FP16 tensor-core FLOPs", precision="tensor_fp16"),
    Quantity("flop_tensor_bf16", "count", (_f(f"{_T}_src_bf16_dst_fp32.sum"),),
             "BF16 tensor-core FLOPs", precision="tensor_bf16"),
    Quantity("flop_tensor_fp8", "count",
             (_f(f"{_T}_src_fp8.sum"),
              _f(f"{_T}_src_fp8_dst_fp16.sum", f"{_T}_src_fp8_dst_fp32.sum", verified=False),
              _f(f"{_T}_src_fp4_fp6_fp8_dst_fp16.sum", f"{_T}_src_fp4_fp6_fp8_dst_fp32.sum",
                 verified=False, derived="datacenter Blackwell counts fp8 with fp6/fp4")),
             "FP8 tensor-core FLOPs", precision="tensor_fp8"),
    Quantity("ops_tensor_int8", "count", (_f(f"{_T}_src_int8.sum"),),
             "INT8 tensor-core operations (not FLOPs; kept out of `flop`)",
             precision="tensor_int8"),
    # ceilings, from each kernel's own measured clocks
    Quantity("peak_dram_bytes_per_s", "peak", (_f("dram__bytes.sum.peak_sustained"),),
             "device-memory bandwidth ceiling", clock="dram_clock_hz", unit="B/s"),
    Quantity("peak_l2_bytes_per_s", "peak", (_f("lts__t_bytes.sum.peak_sustained"),),
             "L2 bandwidth ceiling", clock="l2_clock_hz", unit="B/s"),
    Quantity("peak_l1_bytes_per_s", "peak", (_f("l1tex__t_bytes.sum.peak_sustained"),),
             "L1 bandwidth ceiling", clock="l1_clock_hz", unit="B/s"),
    Quantity("peak_flop_per_s_fp64", "peak",
             (_f((f"{_sass('sm', 'dfma')}.peak_sustained", 2)),
              _f((f"{_sass('smsp', 'dfma')}.peak_sustained", 2))),
             "FP64 CUDA-core ceiling (2 FLOPs per DFMA)", clock="sm_clock_hz", precision="fp64"),
    Quantity("peak_flop_per_s_fp32", "peak",
             (_f((f"{_sass('sm', 'ffma')}.peak_sustained", 2)),
              _f((f"{_sass('smsp', 'ffma')}.peak_sustained", 2))),
             "FP32 CUDA-core ceiling (2 FLOPs per FFMA)", clock="sm_clock_hz", precision="fp32"),
    Quantity("peak_flop_per_s_fp16", "peak",
             (_f((f"{_sass('sm', 'hfma')}.peak_sustained", 4)),
              _f((f"{_sass('smsp', 'hfma')}.peak_sustained", 4))),
             "FP16 CUDA-core ceiling (4 FLOPs per packed HFMA2)", clock="sm_clock_hz",
             precision="fp16"),
    Quantity("peak_flop_per_s_tensor_fp64", "peak", (_f(f"{_T}_src_fp64.sum.peak_sustained"),),
             "FP64 tensor-core ceiling (no sparsity for fp64)", clock="sm_clock_hz",
             precision="tensor_fp64"),
    Quantity("peak_flop_per_s_tensor_tf32", "peak", _tensor_peak(
        ((f"{_T}_op_hgmma_src_tf32_dst_fp32_sparsity_off", True),
         (f"{_T}_op_utchmma_src_tf32_dst_fp32_sparsity_off", False),
         (f"{_T}_src_tf32_dst_fp32_sparsity_off", False),
         (f"{_T}_op_hmma_src_tf32_dst_fp32_sparsity_off", False)),
        f"{_T}_src_tf32_dst_fp32"),
        "TF32 tensor-core dense ceiling", clock="sm_clock_hz", precision="tensor_tf32"),
    Quantity("peak_flop_per_s_tensor_fp16", "peak", _tensor_peak(
        ((f"{_T}_op_hgmma_src_fp16_sparsity_off", True),
         (f"{_T}_op_utchmma_src_fp16_dst_fp32_sparsity_off", False),
         (f"{_T}_src_fp16_dst_fp32_sparsity_off", False),
         (f"{_T}_op_hmma_src_fp16_dst_fp32_sparsity_off", False)),
        f"{_T}_src_fp16"),
        "FP16 tensor-core dense ceiling", clock="sm_clock_hz", precision="tensor_fp16"),
    Quantity("peak_flop_per_s_tensor_bf16", "peak", _tensor_peak(
        ((f"{_T}_op_hgmma_src_bf16_dst_fp32_sparsity_off", True),
         (f"{_T}_op_utchmma_src_bf16_dst_fp32_sparsity_off", False),
         (f"{_T}_src_bf16_dst_fp32_sparsity_off", False),
         (f"{_T}_op_hmma_src_bf16_dst_fp32_sparsity_off", False)),
        f"{_T}_src_bf16_dst_fp32"),
        "BF16 tensor-core dense ceiling", clock="sm_clock_hz", precision="tensor_bf16"),
    Quantity("peak_flop_per_s_tensor_fp8", "peak", _tensor_peak(
        ((f"{_T}_src_fp8_sparsity_off", True),
         (f"{_T}_op_utcqmma_src_fp4_fp6_fp8_dst_fp32_sparsity_off", False),
         (f"{_T}_src_fp8_dst_fp32_sparsity_off", False)),
        f"{_T}_src_fp8"),
        "FP8 tensor-core dense ceiling", clock="sm_clock_hz", precision="tensor_fp8"),
    Quantity("peak_ops_per_s_tensor_int8", "peak", _tensor_peak(
        ((f"{_T}_op_igmma_src_int8_sparsity_off", True),
         (f"{_T}_op_utcimma_src_int8_sparsity_off", False),
         (f"{_T}_src_int8_sparsity_off", False),
         (f"{_T}_op_imma_src_int8_sparsity_off", False)),
        f"{_T}_src_int8"),
        "INT8 tensor-core dense ceiling (ops/s)", clock="sm_clock_hz",
        precision="tensor_int8"),
)


BY_COLUMN: dict[str, Quantity] = {q.column: q for q in QUANTITIES}

#: FLOP columns summed into ``flop`` (INT8 ops are not floating point and stay out)
FLOP_COLUMNS: tuple[str, ...] = tuple(
    q.column for q in QUANTITIES if q.kind == "count" and q.column.startswith("flop_")
)

#: precision label -> (work column, peak column)
PRECISIONS: dict[str, tuple[str, str]] = {
    q.precision: (q.column, f"peak_{'ops' if 'int8' in q.precision else 'flop'}_per_s_"
                  f"{q.precision}")
    for q in QUANTITIES
    if q.kind == "count" and q.precision
}

#: the metric that gives every kernel's duration (the time base of every rate)
DURATION_METRIC = "gpu__time_duration.sum"

#: identity columns of the kernel table and the metrics a report holds them in (``launch__*``
#: metrics cost no replay pass); ``cc_*`` and the grid/block dimensions are combined into
#: ``cc``, ``grid`` and ``block``
IDENTITY_METRICS: dict[str, str] = {
    "device": "launch__device_id",
    "context": "launch__context_id",
    "stream": "launch__stream_id",
    "device_name": "device__attribute_display_name",
    "cc_major": "device__attribute_compute_capability_major",
    "cc_minor": "device__attribute_compute_capability_minor",
    **{f"{g}_{a}": f"launch__{g}_dim_{a}" for g in ("grid", "block") for a in "xyz"},
    "grid_dim": "launch__grid_dim",
    "block_dim": "launch__block_dim",
    "grid_size": "launch__grid_size",
}

#: labels of ncu's own sections (a CSV export's details page) that are roofline quantities
SECTION_LABELS: dict[str, str] = {
    "Duration": DURATION_METRIC,
    "DRAM Frequency": "dram__cycles_elapsed.avg.per_second",
    "SM Frequency": "sm__cycles_elapsed.avg.per_second",
}

#: launch metrics read for identity columns when present (always cheap: no replay pass)
LAUNCH_METRICS: tuple[str, ...] = (
    "launch__grid_size",
    "launch__block_size",
)


def record_metrics(available: set[str] | None) -> list[str]:
    """The ``--metrics`` list for ``ncu``: per quantity, the first formula the GPU supports.

    ``available`` holds base metric names from ``ncu --query-metrics`` for the target GPU;
    ``None`` means unknown, and takes every quantity's first formula. Quantities none of whose
    formulas are available are left out (they read as null, and the parsers say so).
    """
    out: list[str] = []
    for q in QUANTITIES:
        for formula in q.formulas:
            if available is None or all(t.base in available for t in formula.terms):
                out.extend(t.metric for t in formula.terms)
                break
    return list(dict.fromkeys(out))


#: the forms a counter may take in a report (see ``derive.py``): the sum, a rate, per cycle
FORMS: tuple[str, ...] = ("", ".per_second", ".per_cycle_elapsed")
#: units whose elapsed cycles turn a per-cycle form into a total
CLOCK_UNITS: tuple[str, ...] = ("sm", "smsp", "dram", "lts", "l1tex")


def wanted_metrics() -> list[str]:
    """Every metric name, in every form, the metric table could use (what a reader keeps)."""
    names: list[str] = []
    for q in QUANTITIES:
        for f in q.formulas:
            for t in f.terms:
                if q.kind == "count":
                    names += [t.metric + s for s in FORMS]
                else:
                    names.append(t.metric)
    for u in CLOCK_UNITS:
        names += [f"{u}__cycles_elapsed.avg", f"{u}__cycles_elapsed.avg.per_second"]
    return list(dict.fromkeys(names))
