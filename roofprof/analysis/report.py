"""The numbers of the written report that no other analysis gives (``roofprof report``; the
report itself is composed in :mod:`roofprof.views.report`):

* :func:`ceilings`: the GPU's measured peaks (min/max of the ``peak_*`` columns over its
  kernels) beside its catalog entry (:func:`roofprof.analysis.catalog.check_peaks`);
* :func:`latency_table`: :func:`roofprof.analysis.latency.percentiles` of a timing trace's phase
  ranges;
* :func:`model_comparison`: the model timed at the trace's measured roofs beside its kernels;
  :func:`decode_options`: what batching and narrower numbers do to a decode step, by the model.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from roofprof.analysis import latency as lat
from roofprof.analysis import model
from roofprof.analysis.catalog import check_peaks
from roofprof.analysis.model.compare import basis, compare
from roofprof.analysis.roofline import LEVEL_LABELS, PEAK_BW_COLUMNS, PRECISION_LABELS
from roofprof.tables.metrics import PRECISIONS
from roofprof.tables.timing import TimingTrace

#: how many kernels the "most headroom" table lists
TOP_KERNELS = 10
#: the decode options the model quantifies, beside the batch as run: larger batches (factors)
#: and narrower weights / KV cache (dtype, quantization group)
BATCH_FACTORS = (4, 16)
WEIGHT_OPTIONS = (("fp8", None), ("int4", 128))
KV_OPTIONS = ("fp8",)


def model_comparison(kernels: pd.DataFrame, arch: model.Architecture,
                     options: model.Options) -> pd.DataFrame:
    """The model section's table: :func:`roofprof.analysis.model.estimate` of ``arch`` run with
    ``options``, timed at the trace's measured roofs, for the phases the trace has, beside the
    trace's kernels (:func:`roofprof.analysis.model.compare.compare`, by op where the trace has
    op attribution, else by category)."""
    phases = tuple(p for p in model.PHASES if "phase" in kernels
                   and (kernels["phase"] == p).any()) or model.PHASES
    df = model.estimate(arch, options, phases=phases, roofs=model.roofs_of_trace(kernels))
    return compare(kernels, df, by=basis(kernels))


def decode_options(kernels: pd.DataFrame, arch: model.Architecture,
                   options: model.Options) -> pd.DataFrame:
    """What the model says batching and narrower numbers do to a decode step, at the trace's
    measured roofs: one row per variant (as run, each of :data:`BATCH_FACTORS` times the
    batch, each of :data:`WEIGHT_OPTIONS` and :data:`KV_OPTIONS`) with its batch, dtypes,
    weight and KV bytes, intensity, time at the roofs and tokens/s."""
    roofs = model.roofs_of_trace(kernels)
    variants: list[tuple[str, dict[str, Any]]] = [("as run", {})]
    variants += [(f"batch x{f}", {"batch": options.batch * f}) for f in BATCH_FACTORS]
    variants += [(f"{w} weights" + (f" (group {g})" if g else ""),
                  {"weight_dtype": w, "group_size": g}) for w, g in WEIGHT_OPTIONS
                 if w != options.weight_dtype]
    variants += [(f"{kv} KV cache", {"kv_dtype": kv}) for kv in KV_OPTIONS
                 if kv != options.kv_dtype]
    rows = []
    for name, change in variants:
        o = replace(options, **change)
        t = model.totals(model.estimate(arch, o, phases=("decode",), roofs=roofs)).iloc[0]
        rows.append({"variant": name, "batch": o.batch, "weight_dtype": o.weight_dtype,
                     "kv_dtype": o.kv_dtype or o.act_dtype,
                     "weight_bytes": float(t["weight_bytes"]), "kv_bytes": float(t["kv_bytes"]),
                     "intensity": float(t["intensity"]), "time_s": float(t["time_s"]),
                     "tokens_per_s": float(t["tokens_per_s"]), "bound": t["bound"]})
    return pd.DataFrame(rows)


def ceilings(kernels: pd.DataFrame) -> pd.DataFrame:
    """The measured ceilings of the trace's GPU: per quantity the min and max of its kernels'
    peaks (FLOP/s at each kernel's clock, B/s), and the catalog's value and ratio where
    :func:`roofprof.analysis.catalog.check_peaks` knows the GPU."""
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


def latency_table(timing: TimingTrace) -> pd.DataFrame:
    """The percentiles of the phase ranges of ``timing`` (the ranges with the most time where it
    has none)."""
    inst = lat.instances(timing)
    names = lat.default_ranges(inst)
    return lat.percentiles(inst[inst["range"].isin(names)])
