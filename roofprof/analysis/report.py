"""The written report of a trace, as data: what ``roofprof report`` renders to HTML or Markdown.

:func:`build` is pure (tables in, a :class:`Report` out; no I/O, no drawing). It reads every
number from the existing analysis and computes none of its own group numbers:

* ``phases`` / ``ops``: :func:`roofprof.analysis.roofline.summarize` by ``phase`` and ``op,phase``;
* ``top``: :func:`roofprof.analysis.roofline.top_kernels` (the kernels with the most headroom);
* ``ceilings``: the GPU's measured peaks (min/max of the ``peak_*`` columns over its kernels)
  beside its catalog entry (:func:`roofprof.analysis.catalog.check_peaks`);
* ``latency``: :func:`roofprof.analysis.latency.percentiles` of a timing trace's phase ranges, when
  one is given; ``comparison``: :func:`roofprof.analysis.model.compare.compare`, when a model is
  given;
* ``scenes``: the roofline figures (:func:`roofprof.views.chart.build_scene`) by phase and by
  op x phase.

The ``diagnosis`` is a list of :class:`~roofprof.views.diagnosis.Sentence`, each filled from one
summary row (``roofprof.views.diagnosis`` holds the rules).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roofprof.analysis.roofline import LEVEL_LABELS, PRECISION_LABELS
from roofprof.views.diagnosis import Sentence, sentences

if TYPE_CHECKING:
    import pandas as pd

    from roofprof.views.chart.scene import Scene

#: how many kernels the "most headroom" table lists
TOP_KERNELS = 10
#: the decode options the model quantifies, beside the batch as run: larger batches (factors)
#: and narrower weights / KV cache (dtype, quantization group)
BATCH_FACTORS = (4, 16)
WEIGHT_OPTIONS = (("fp8", None), ("int4", 128))
KV_OPTIONS = ("fp8",)


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
    :class:`~roofprof.tables.timing.TimingTrace` for the latency section; ``comparison``: the result
    of :func:`model_comparison` (or :func:`roofprof.analysis.model.compare.compare`), ``options``:
    of :func:`decode_options`, for the model section."""
    from roofprof.analysis import roofline as rl
    from roofprof.errors import InputError
    from roofprof.views import chart

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
    diagnosis = sentences(phases, ops, heads, comparison, options, lat)
    return Report(title=title or _title(trace), gpu=gpu or "unknown GPU", level=level,
                  phases=phases, ops=ops, top=heads, ceilings=ceilings(kernels),
                  diagnosis=diagnosis, scenes=scenes, latency=lat, comparison=comparison,
                  options=options, notes=notes)


def model_comparison(trace: Any, spec: Any, **options: Any) -> pd.DataFrame:
    """The model section's table: :func:`roofprof.analysis.model.estimate` of ``spec`` (a preset
    name, a config.json path or an :class:`~roofprof.analysis.model.Architecture`) with ``options``
    (fields of :class:`~roofprof.analysis.model.Options`), timed at the trace's measured roofs,
    beside the trace's kernels (:func:`roofprof.analysis.model.compare.compare`, by op where the
    trace has op attribution, else by category)."""
    from roofprof.analysis import model
    from roofprof.analysis import roofline as rl
    from roofprof.analysis.model.compare import compare

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
    from roofprof.inputs.timing import load_timing

    try:
        return load_timing(path)
    except RoofprofError:
        return None


def _arch_and_options(spec: Any, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from roofprof.analysis import model

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

    from roofprof.analysis import model
    from roofprof.analysis import roofline as rl

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
    :func:`roofprof.analysis.catalog.check_peaks` knows the GPU."""
    import numpy as np
    import pandas as pd

    from roofprof.analysis.catalog import check_peaks
    from roofprof.analysis.roofline import PEAK_BW_COLUMNS
    from roofprof.tables.metrics import PRECISIONS

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
    from roofprof.analysis import latency as lat

    inst = lat.instances(timing)
    names = lat.default_ranges(inst)
    table = lat.percentiles(inst[inst["range"].isin(names)])
    return table
