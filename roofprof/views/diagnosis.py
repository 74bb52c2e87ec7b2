"""The written diagnosis of a report (``roofprof.analysis.report``): a list of :class:`Sentence`,
each a template filled from one summary row (its ``values`` are the numbers it was filled with,
``source`` names the row), so every sentence is derived from the trace and none is written for a
fixture. The rules:

* one verdict per phase (compute / memory / latency / unknown, with its % of roof, its % of
  peak compute and bandwidth, its headroom; for memory- and latency-bound phases the intensity
  against the ridge, i.e. how far batching can take it); a partial phase (part of its time
  measured: ``roofprof.analysis.roofline``'s coverage) is judged by its measured part, and the
  sentence says how much that is and why the rest is not measured; an unknown phase that is
  partly measured says how much;
* a fusion candidate per op group holding at least :data:`FUSION_MIN_PHASE_SHARE` of its
  phase's time below :data:`FUSION_MAX_PEAK_COMPUTE` of peak compute and not compute-bound;
* the kernel with the most headroom;
* with a model: padding per (phase, op) of the tiled ops (GEMMs and attention; an
  elementwise op's FLOPs count differently in the model) whose executed FLOPs are at least
  :data:`PADDING_MIN_RATIO` times the model's useful FLOPs, and each phase's measured time
  against its time at the roofs;
* with a timing trace: each phase range's p50/p99 wall time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roofprof.analysis.labels import elide, short_kernel
from roofprof.analysis.model.estimate import GEMM_OPS
from roofprof.analysis.roofline import (
    LAUNCH_FLOOR_NS,
    LEVEL_LABELS,
    MIN_COVERAGE,
    PRECISION_LABELS,
)
from roofprof.views.fmt import duration, intensity, pct, si
from roofprof.views.tables import partial

if TYPE_CHECKING:
    import pandas as pd

#: an op group is a fusion candidate when it holds at least this share of its phase's time ...
FUSION_MIN_PHASE_SHARE = 0.10
#: ... while reaching at most this fraction of peak compute (it moves data, it does not compute)
FUSION_MAX_PEAK_COMPUTE = 0.02
#: executed / model FLOPs at or above this: the GPU did padded work (tiles larger than the batch)
PADDING_MIN_RATIO = 1.25


@dataclass(frozen=True)
class Sentence:
    """One diagnosis sentence: ``text`` is ``template`` filled with ``values`` (formatted);
    ``source`` names the summary row it came from (``phase prefill``, ``op norm · prefill``)."""

    kind: str
    source: str
    text: str
    values: dict[str, float]


def sentences(phases: pd.DataFrame, ops: pd.DataFrame, top: pd.DataFrame,
              comparison: pd.DataFrame | None = None, options: pd.DataFrame | None = None,
              latency: pd.DataFrame | None = None) -> list[Sentence]:
    """The diagnosis of a report's tables (the module doc's rules, in that order)."""
    return (_phase_sentences(phases) + _fusion_sentences(ops, phases)
            + _headroom_sentences(top, phases)
            + (_model_sentences(comparison, phases) if comparison is not None else [])
            + (_option_sentences(options) if options is not None and len(options) else [])
            + (_latency_sentences(latency) if latency is not None else []))


def small_pct(v: Any) -> str:
    """A percentage that stays readable below 1% (``0.0021%``, not ``0.0%``)."""
    f = _num(v)
    if math.isfinite(f) and 0 < f < 0.01:
        return f"{100 * f:.2g}%"
    return pct(f)


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _sentence(kind: str, source: str, template: str, values: dict[str, Any],
              shown: dict[str, str]) -> Sentence:
    return Sentence(kind, source, template.format(**shown),
                    {k: _num(v) for k, v in values.items()})


def _phase_sentences(phases: pd.DataFrame) -> list[Sentence]:
    out = []
    for r in phases.to_dict("records"):
        name, bound = str(r["group"]), str(r["bound"])
        v = {k: r[k] for k in ("time_share", "coverage", "pct_of_roof", "pct_of_peak_compute",
                               "pct_of_peak_bandwidth", "headroom_ns", "headroom_share", "ai",
                               "ridge", "latency_share", "peak_compute_per_s")}
        s = {"phase": name, "share": pct(r["time_share"]), "roof": pct(r["pct_of_roof"]),
             "compute": small_pct(r["pct_of_peak_compute"]),
             "bw": small_pct(r["pct_of_peak_bandwidth"]),
             "headroom": duration(r["headroom_ns"]), "hshare": pct(r["headroom_share"]),
             "ai": intensity(r["ai"]), "ridge": intensity(r["ridge"]),
             "lat": pct(r["latency_share"]), "floor": duration(LAUNCH_FLOOR_NS),
             "level": LEVEL_LABELS[str(r["level"])],
             "prec": PRECISION_LABELS.get(str(r["precision"]), "its precision"),
             "peak": si(r["peak_compute_per_s"], "FLOP/s")}
        s.update(_coverage_words(r))
        if bound == "compute":
            t = ("{phase} takes {share} of GPU time and{part} is compute-bound: {compute} of "
                 "peak {prec} compute ({peak} effective roof), {roof} of its roof; at the roof "
                 "it{would} would give back {headroom} ({hshare} of GPU time).{rest}")
        elif bound == "memory":
            t = ("{phase} takes {share} of GPU time and{part} is memory-bound at {bw} of peak "
                 "{level} bandwidth ({roof} of its roof): its intensity {ai} FLOP/B is below "
                 "its ridge {ridge}, so batching more tokens per weight read or narrower "
                 "weights/KV cut its time at the roof; at the roof it{would} would give back "
                 "{headroom} ({hshare}).{rest}")
        elif bound == "latency":
            t = ("{phase} takes {share} of GPU time and{part} is latency-bound: {lat} of "
                 "its{measured} time is in kernels that at their roofs would finish under the "
                 "{floor} launch floor, so launches, not the GPU's ceilings, set its time "
                 "({roof} of its roof, {compute} of peak compute, {bw} of peak {level} "
                 "bandwidth); fewer, larger launches (CUDA graphs, fusion, batching: intensity "
                 "{ai} FLOP/B against a ridge of {ridge}) raise it.{rest}")
        else:
            s["reason"] = str(r["reason"] or "counters missing")
            t = "{phase} takes {share} of GPU time and has no verdict: {scant}{reason}."
        out.append(_sentence(f"verdict:{bound}", f"phase {name}", t, v, s))
    return out


def _coverage_words(r: Mapping[Any, Any]) -> dict[str, str]:
    """The words a verdict sentence of a partial phase adds (empty for a wholly measured
    one): which part the verdict is of, and why the rest is not measured; for an unknown
    phase that is partly measured, how much is (too little for a verdict)."""
    words = dict.fromkeys(("part", "would", "measured", "rest", "scant"), "")
    cover = _num(r.get("coverage"))
    if partial(r):
        words.update(part=f", over the {pct(cover)} of its time that was measured,",
                     would=" (that part)", measured=" measured",
                     rest=(f" The other {pct(1 - cover)} of its time is not measured: "
                           f"{r['reason'] or 'counters missing'}."))
    elif 0 < cover < MIN_COVERAGE:
        words["scant"] = (f"only {pct(cover)} of its time is measured (a verdict needs "
                          f"{100 * MIN_COVERAGE:.0f}%); ")
    return words


def _phase_of(group: str) -> tuple[str, str]:
    op, _, phase = group.rpartition(" · ")
    return op, phase


def _fusion_sentences(ops: pd.DataFrame, phases: pd.DataFrame) -> list[Sentence]:
    phase_time = dict(zip(phases["group"], phases["time_ns"], strict=True))
    out = []
    for r in ops.to_dict("records"):
        op, phase = _phase_of(str(r["group"]))
        total = _num(phase_time.get(phase))
        share = _num(r["time_ns"]) / total if total > 0 else math.nan
        peak = _num(r["pct_of_peak_compute"])
        if not (share >= FUSION_MIN_PHASE_SHARE and peak <= FUSION_MAX_PEAK_COMPUTE
                and r["bound"] in ("memory", "latency")):
            continue
        v = {"phase_share": share, "pct_of_peak_compute": peak, "ai": r["ai"],
             "pct_of_peak_bandwidth": r["pct_of_peak_bandwidth"], "kernels": r["kernels"],
             "headroom_ns": r["headroom_ns"]}
        s = {"op": op, "phase": phase, "share": pct(share), "compute": small_pct(peak),
             "ai": intensity(r["ai"]), "bw": small_pct(r["pct_of_peak_bandwidth"]),
             "n": str(r["kernels"]), "bound": str(r["bound"]), "headroom": duration(
                 r["headroom_ns"]),
             "part": (f"; numbers of the {pct(r['coverage'])} of its time measured"
                      if partial(r) else "")}
        v["coverage"] = r["coverage"]
        t = ("{op} takes {share} of {phase} at {compute} of peak compute ({n} kernels, "
             "{bound}-bound, intensity {ai} FLOP/B, {bw} of peak bandwidth{part}): a fusion "
             "candidate; folded into its neighbours it stops paying its own launches and "
             "round trips to memory ({headroom} of headroom at its roof).")
        out.append(_sentence("fusion", f"op {r['group']}", t, v, s))
    return out


def _headroom_sentences(top: pd.DataFrame, phases: pd.DataFrame) -> list[Sentence]:
    if not len(top) or not _num(top["headroom_ns"].iloc[0]) > 0:
        return []
    r = top.iloc[0].to_dict()
    total = float(phases["time_ns"].sum())
    share = _num(r["headroom_ns"]) / total if total > 0 else math.nan
    where = " · ".join(str(r[c]) for c in ("op", "phase") if c in r and isinstance(r[c], str))
    v = {"headroom_ns": r["headroom_ns"], "headroom_share": share,
         "duration_ns": r["duration_ns"], "pct_of_roof": r["pct_of_roof"]}
    s = {"kernel": elide(short_kernel(str(r["kernel"])), 60),
         "where": f" ({where})" if where else "",
         "headroom": duration(r["headroom_ns"]), "share": pct(share),
         "time": duration(r["duration_ns"]), "roof": pct(r["pct_of_roof"])}
    t = ("The kernel with the most headroom is {kernel}{where}: {time} at {roof} of its roof, "
         "{headroom} ({share} of GPU time) below it.")
    return [_sentence("headroom", f"kernel {r.get('id', '')}", t, v, s)]


def _model_sentences(cmp: pd.DataFrame, phases: pd.DataFrame) -> list[Sentence]:
    tiled = {*GEMM_OPS, "attention", "attention_qk", "attention_pv", "gemm"}
    out = []
    for r in cmp.to_dict("records"):
        ratio = _num(r["flop_ratio"])
        if ratio >= PADDING_MIN_RATIO and r["op"] in tiled:
            v = {"flop_ratio": ratio, "measured_flop": r["measured_flop"],
                 "model_flop": r["model_flop"]}
            s = {"op": str(r["op"]), "phase": str(r["phase"]), "ratio": f"{ratio:.2f}",
                 "measured": si(r["measured_flop"], "FLOP"), "model": si(r["model_flop"], "FLOP")}
            t = ("In {phase}, {op} executes {ratio}× the model's useful FLOPs ({measured} against "
                 "{model}): padded work (tiles larger than the rows of the batch), free to fill "
                 "with more sequences.")
            out.append(_sentence("padding", f"model {r['phase']} · {r['op']}", t, v, s))
    per = cmp.groupby("phase", observed=True)[["measured_time_s", "model_time_s"]].sum(min_count=1)
    for phase, row in per.iterrows():
        m, mod = _num(row["measured_time_s"]), _num(row["model_time_s"])
        if not (m > 0 and mod > 0):
            continue
        v = {"measured_time_s": m, "model_time_s": mod, "time_ratio": m / mod}
        s = {"phase": str(phase), "measured": duration(m * 1e9), "model": duration(mod * 1e9),
             "ratio": f"{m / mod:.1f}"}
        t = ("The ops the model describes take {measured} in {phase}, {ratio}× the model's "
             "{model} at the measured roofs.")
        out.append(_sentence("model", f"model {phase}", t, v, s))
    return out


def _option_sentences(options: pd.DataFrame) -> list[Sentence]:
    rows = options.to_dict("records")
    base = rows[0]
    out = []
    v = {k: base[k] for k in ("batch", "weight_bytes", "kv_bytes", "intensity", "time_s",
                              "tokens_per_s")}
    s = {"batch": str(base["batch"]), "w": si(base["weight_bytes"], "B"),
         "kv": si(base["kv_bytes"], "B"), "ai": intensity(base["intensity"]),
         "time": duration(base["time_s"] * 1e9), "tps": si(base["tokens_per_s"], "tokens/s")}
    t = ("The model's decode step at batch {batch} reads {w} of weights and {kv} of KV cache "
         "(intensity {ai} FLOP/B): {time} at the measured roofs, {tps}.")
    out.append(_sentence("option", "model decode as run", t, v, s))
    for r in rows[1:]:
        gain = _num(r["tokens_per_s"]) / _num(base["tokens_per_s"])
        v = {"batch": r["batch"], "intensity": r["intensity"], "time_s": r["time_s"],
             "tokens_per_s": r["tokens_per_s"], "gain": gain}
        s = {"variant": str(r["variant"]), "batch": str(r["batch"]),
             "ai": intensity(r["intensity"]), "time": duration(r["time_s"] * 1e9),
             "tps": si(r["tokens_per_s"], "tokens/s"), "gain": f"{gain:.2f}"}
        t = ("{variant} (batch {batch}): intensity {ai} FLOP/B, {time} per step, {tps}: "
             "{gain}× the tokens/s at the roofs.")
        out.append(_sentence("option", f"model decode {r['variant']}", t, v, s))
    return out


def _latency_sentences(table: pd.DataFrame) -> list[Sentence]:
    out = []
    for r in table.to_dict("records"):
        v = {"instances": r["instances"], "wall_p50_ns": r["wall_p50_ns"],
             "wall_p99_ns": r["wall_p99_ns"], "gpu_span_p50_ns": r["gpu_span_p50_ns"]}
        s = {"range": str(r["range"]), "n": str(r["instances"]),
             "p50": duration(r["wall_p50_ns"]), "p99": duration(r["wall_p99_ns"]),
             "gpu": duration(r["gpu_span_p50_ns"])}
        t = ("{range}: p50 {p50}, p99 {p99} wall time over {n} instances (GPU span p50 {gpu}).")
        out.append(_sentence("latency", f"range {r['range']}", t, v, s))
    return out
