"""The written report of a trace, as data: what ``roofprof report`` renders to HTML or Markdown.

:func:`build` is pure (tables in, a :class:`Report` out; no I/O, no drawing). It reads every
number from the existing analysis and computes none of its own group numbers:

* ``phases`` / ``ops``: :func:`roofprof.roofline.summarize` by ``phase`` and ``op,phase``;
* ``top``: :func:`roofprof.roofline.top_kernels` (the kernels with the most headroom);
* ``ceilings``: the GPU's measured peaks (min/max of the ``peak_*`` columns over its kernels)
  beside its catalog entry (:func:`roofprof.catalog.check_peaks`);
* ``latency``: :func:`roofprof.latency.percentiles` of a timing trace's phase ranges, when one
  is given; ``comparison``: :func:`roofprof.model.compare.compare`, when a model is given;
* ``scenes``: the roofline figures (:func:`roofprof.chart.build_scene`) by phase and by
  op x phase.

The ``diagnosis`` is a list of :class:`Sentence`: each is a template filled from one summary
row (its ``values`` are the numbers it was filled with, ``source`` names the row), so every
sentence is derived from the trace and none is written for a fixture. The rules:

* one verdict per phase (compute / memory / latency / unknown, with its % of roof, its % of
  peak compute and bandwidth, its headroom; for memory- and latency-bound phases the intensity
  against the ridge, i.e. how far batching can take it);
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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roofprof.fmt import duration, intensity, pct, si
from roofprof.roofline import LAUNCH_FLOOR_NS, LEVEL_LABELS, PRECISION_LABELS

if TYPE_CHECKING:
    import pandas as pd

    from roofprof.chart.scene import Scene

#: an op group is a fusion candidate when it holds at least this share of its phase's time ...
FUSION_MIN_PHASE_SHARE = 0.10
#: ... while reaching at most this fraction of peak compute (it moves data, it does not compute)
FUSION_MAX_PEAK_COMPUTE = 0.02
#: executed / model FLOPs at or above this: the GPU did padded work (tiles larger than the batch)
PADDING_MIN_RATIO = 1.25
#: how many kernels the "most headroom" table lists
TOP_KERNELS = 10
#: the decode options the model quantifies, beside the batch as run: larger batches (factors)
#: and narrower weights / KV cache (dtype, quantization group)
BATCH_FACTORS = (4, 16)
WEIGHT_OPTIONS = (("fp8", None), ("int4", 128))
KV_OPTIONS = ("fp8",)


@dataclass(frozen=True)
class Sentence:
    """One diagnosis sentence: ``text`` is ``template`` filled with ``values`` (formatted);
    ``source`` names the summary row it came from (``phase prefill``, ``op norm · prefill``)."""

    kind: str
    source: str
    text: str
    values: dict[str, float]


@dataclass
class Report:
    """The content of a report: every table is a DataFrame, every figure a Scene."""

    title: str
    gpu: str
    level: str
    phases: pd.DataFrame
    ops: pd.DataFrame
    top: pd.DataFrame
    ceilings: pd.DataFrame
    diagnosis: list[Sentence]
    scenes: list[tuple[str, Scene]]
    latency: pd.DataFrame | None = None
    comparison: pd.DataFrame | None = None
    options: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def build(trace: Any, *, timing: Any = None, comparison: pd.DataFrame | None = None,
          options: pd.DataFrame | None = None, level: str = "dram", title: str | None = None,
          top: int = TOP_KERNELS) -> Report:
    """The report of ``trace`` (a Trace, kernel table or path). ``timing``: a
    :class:`~roofprof.timing.TimingTrace` for the latency section; ``comparison``: the result of
    :func:`model_comparison` (or :func:`roofprof.model.compare.compare`), ``options``: of
    :func:`decode_options`, for the model section."""
    from roofprof import chart
    from roofprof import roofline as rl
    from roofprof.errors import InputError

    kernels = rl.table_of(trace)
    rl.check(kernels)
    phases = rl.summarize(kernels, by="phase", level=level)
    ops = rl.summarize(kernels, by="op,phase", level=level)
    heads = rl.top_kernels(kernels, top, level=level)
    notes: list[str] = []
    scenes: list[tuple[str, Scene]] = []
    gpu = ", ".join(str(g) for g in kernels["device_name"].dropna().unique()) \
        if "device_name" in kernels else ""
    # the trace, not its table: a figure of a sampled or filtered trace says so, as the tables
    drawn = trace if isinstance(getattr(trace, "meta", None), dict) else kernels
    for caption, by in (("by phase", "phase"), ("by op × phase", "op,phase")):
        try:
            scenes.append((caption, chart.build_scene(drawn, by=by, levels=(level,),
                                                      title=_figure_title(trace, gpu))))
        except InputError as exc:  # nothing drawable: the report says why instead
            notes.append(f"no roofline figure {caption}: {exc}")
    lat = _latency(timing) if timing is not None else None
    if timing is None:
        notes.append("no latency percentiles: the trace has no range timing (give --timing "
                     "with a roofprof trace, Kineto or nsys timing trace of the same run)")
    if comparison is None:
        notes.append("no model comparison (and no padded-FLOP count): give --model")
    diagnosis = (_phase_sentences(phases) + _fusion_sentences(ops, phases)
                 + _headroom_sentences(heads, phases)
                 + (_model_sentences(comparison, phases) if comparison is not None else [])
                 + (_option_sentences(options) if options is not None and len(options)
                    else [])
                 + (_latency_sentences(lat) if lat is not None else []))
    return Report(title=title or _title(trace), gpu=gpu or "unknown GPU", level=level,
                  phases=phases, ops=ops, top=heads, ceilings=ceilings(kernels),
                  diagnosis=diagnosis, scenes=scenes, latency=lat, comparison=comparison,
                  options=options, notes=notes)


def model_comparison(trace: Any, spec: Any, **options: Any) -> pd.DataFrame:
    """The model section's table: :func:`roofprof.model.estimate` of ``spec`` (a preset name,
    a config.json path or an :class:`~roofprof.model.Architecture`) with ``options`` (fields
    of :class:`~roofprof.model.Options`), timed at the trace's measured roofs, beside the
    trace's kernels (:func:`roofprof.model.compare.compare`, by op where the trace has op
    attribution, else by category)."""
    from roofprof import model
    from roofprof import roofline as rl
    from roofprof.model.compare import compare

    kernels = rl.table_of(trace)
    arch, options = _arch_and_options(spec, options)
    phases = tuple(p for p in model.PHASES if "phase" in kernels
                   and (kernels["phase"] == p).any()) or model.PHASES
    df = model.estimate(arch, model.Options(), phases=phases,
                        roofs=model.roofs_of_trace(kernels), **options)
    by = "op" if "op" in kernels and kernels["op"].notna().any() else "category"
    return compare(kernels, df, by=by)


def timing_of(path: Any) -> Any:
    """The timing trace ``path`` holds (a roofprof timing trace, Kineto or nsys), or None
    where it holds counters only: the latency section of a timing trace comes by itself."""
    from roofprof.errors import RoofprofError
    from roofprof.timing import load_timing

    try:
        return load_timing(path)
    except RoofprofError:
        return None


def _arch_and_options(spec: Any, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from roofprof import model

    arch = spec if isinstance(spec, model.Architecture) else model.architecture(spec)
    o = dict(options)
    if o.get("weight_dtype") is None:
        o["weight_dtype"] = arch.quant_dtype or "bf16"
        o.setdefault("group_size", arch.quant_group_size)
    return arch, o


def decode_options(trace: Any, spec: Any, **options: Any) -> pd.DataFrame:
    """What the model says batching and narrower numbers do to a decode step, at the trace's
    measured roofs: one row per variant (as run, each of :data:`BATCH_FACTORS` times the
    batch, each of :data:`WEIGHT_OPTIONS` and :data:`KV_OPTIONS`) with its batch, dtypes,
    weight and KV bytes, intensity, time at the roofs and tokens/s."""
    import pandas as pd

    from roofprof import model
    from roofprof import roofline as rl

    kernels = rl.table_of(trace)
    arch, base = _arch_and_options(spec, options)
    roofs = model.roofs_of_trace(kernels)
    batch = int(base.get("batch") or 1)
    variants: list[tuple[str, dict[str, Any]]] = [("as run", {})]
    variants += [(f"batch x{f}", {"batch": batch * f}) for f in BATCH_FACTORS]
    variants += [(f"{w} weights" + (f" (group {g})" if g else ""),
                  {"weight_dtype": w, "group_size": g}) for w, g in WEIGHT_OPTIONS
                 if w != base["weight_dtype"]]
    variants += [(f"{kv} KV cache", {"kv_dtype": kv}) for kv in KV_OPTIONS
                 if kv != base.get("kv_dtype")]
    rows = []
    for name, change in variants:
        o = {**base, **change}
        t = model.totals(model.estimate(arch, model.Options(), phases=("decode",),
                                        roofs=roofs, **o)).iloc[0]
        rows.append({"variant": name, "batch": int(o.get("batch") or 1),
                     "weight_dtype": o["weight_dtype"],
                     "kv_dtype": o.get("kv_dtype") or o.get("act_dtype") or "bf16",
                     "weight_bytes": float(t["weight_bytes"]), "kv_bytes": float(t["kv_bytes"]),
                     "intensity": float(t["intensity"]), "time_s": float(t["time_s"]),
                     "tokens_per_s": float(t["tokens_per_s"]), "bound": t["bound"]})
    return pd.DataFrame(rows)


def _figure_title(trace: Any, gpu: str) -> str | None:
    """A dataset selection's figures name it, as the report's title does; else None (the
    figure's own title: the GPU and the source files)."""
    data = (getattr(trace, "meta", None) or {}).get("dataset")
    if not (isinstance(data, dict) and data.get("path")):
        return None
    where = f" where {data['where']}" if data.get("where") else ""
    return f"{gpu or 'unknown GPU'} · dataset {data['path']}{where}"


def _title(trace: Any) -> str:
    """The report's title: its inputs (a dataset folder and its --where, else the sources)."""
    meta = getattr(trace, "meta", None) or {}
    data = meta.get("dataset")
    if isinstance(data, dict) and data.get("path"):
        where = f" where {data['where']}" if data.get("where") else ""
        return f"roofprof report: dataset {data['path']}{where}"
    sources = meta.get("sources") or []
    return f"roofprof report: {', '.join(map(str, sources))}" if sources else "roofprof report"


def ceilings(kernels: pd.DataFrame) -> pd.DataFrame:
    """The measured ceilings of the trace's GPU: per quantity the min and max of its kernels'
    peaks (FLOP/s at each kernel's clock, B/s), and the catalog's value and ratio where
    :func:`roofprof.catalog.check_peaks` knows the GPU."""
    import numpy as np
    import pandas as pd

    from roofprof.catalog import check_peaks
    from roofprof.metrics import PRECISIONS
    from roofprof.roofline import PEAK_BW_COLUMNS

    columns = {f"{LEVEL_LABELS[lvl]} bandwidth": (col, "B/s", "dram" if lvl == "dram" else None)
               for lvl, col in PEAK_BW_COLUMNS.items()}
    columns.update({PRECISION_LABELS[p]: (cols[1], "OP/s" if p == "tensor_int8" else "FLOP/s", p)
                    for p, cols in PRECISIONS.items()})
    check = check_peaks(kernels, warn=False) if "device_name" in kernels else None
    catalog = ({} if check is None or check.empty
               else {r["quantity"]: r for r in check.to_dict("records")})
    rows = []
    for name, (col, unit, key) in columns.items():
        if col not in kernels:
            continue
        v = kernels[col].to_numpy(dtype=np.float64, na_value=np.nan)
        v = v[np.isfinite(v) & (v > 0)]
        if not len(v):
            continue
        c = catalog.get(key or "")
        rows.append({"quantity": name, "unit": unit, "measured_min": float(v.min()),
                     "measured_max": float(v.max()),
                     "catalog": c["catalog"] if c else math.nan,
                     "ratio": c["ratio"] if c else math.nan})
    return pd.DataFrame(rows, columns=["quantity", "unit", "measured_min", "measured_max",
                                       "catalog", "ratio"])


def _latency(timing: Any) -> pd.DataFrame:
    from roofprof import latency as lat

    inst = lat.instances(timing)
    names = lat.default_ranges(inst)
    table = lat.percentiles(inst[inst["range"].isin(names)])
    return table


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
        v = {k: r[k] for k in ("time_share", "pct_of_roof", "pct_of_peak_compute",
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
        if bound == "compute":
            t = ("{phase} takes {share} of GPU time and is compute-bound: {compute} of peak "
                 "{prec} compute ({peak} effective roof), {roof} of its roof; at the roof it "
                 "would give back {headroom} ({hshare} of GPU time).")
        elif bound == "memory":
            t = ("{phase} takes {share} of GPU time and is memory-bound at {bw} of peak {level} "
                 "bandwidth ({roof} of its roof): its intensity {ai} FLOP/B is below its ridge "
                 "{ridge}, so batching more tokens per weight read or narrower weights/KV cut "
                 "its time at the roof; at the roof it would give back {headroom} ({hshare}).")
        elif bound == "latency":
            t = ("{phase} takes {share} of GPU time and is latency-bound: {lat} of its time is "
                 "in kernels that at their roofs would finish under the {floor} launch floor, "
                 "so launches, not the GPU's ceilings, set its time ({roof} of its roof, "
                 "{compute} of peak compute, {bw} of peak {level} bandwidth); fewer, larger "
                 "launches (CUDA graphs, fusion, batching: intensity {ai} FLOP/B against a "
                 "ridge of {ridge}) raise it.")
        else:
            s["reason"] = str(r["reason"] or "counters missing")
            t = "{phase} takes {share} of GPU time and has no verdict: {reason}."
        out.append(_sentence(f"verdict:{bound}", f"phase {name}", t, v, s))
    return out


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
                 r["headroom_ns"])}
        t = ("{op} takes {share} of {phase} at {compute} of peak compute ({n} kernels, "
             "{bound}-bound, intensity {ai} FLOP/B, {bw} of peak bandwidth): a fusion "
             "candidate; folded into its neighbours it stops paying its own launches and "
             "round trips to memory ({headroom} of headroom at its roof).")
        out.append(_sentence("fusion", f"op {r['group']}", t, v, s))
    return out


def _headroom_sentences(top: pd.DataFrame, phases: pd.DataFrame) -> list[Sentence]:
    from roofprof.fmt import elide, short_kernel

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
    from roofprof.model.estimate import GEMM_OPS

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
    per = cmp.groupby("phase")[["measured_time_s", "model_time_s"]].sum(min_count=1)
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
