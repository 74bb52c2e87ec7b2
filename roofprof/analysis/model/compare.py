"""Measured beside modelled: a trace's kernels against :func:`~roofprof.analysis.model.estimate`.

:func:`compare` sums the kernel table per (phase, op) and puts the model's row of the same
name beside it, with measured/model ratios:

* ``flop_ratio``: work the GPU executed over the useful work of the model. Above 1 it is
  padding (a batch-1 decode GEMM runs on cuBLAS tiles of 8-64 rows, and the tensor cores do the
  padded rows too; causal attention runs whole 128x128 tiles along the diagonal).
* ``bytes_ratio``: DRAM bytes moved over the ideal bytes (extra traffic, or less where caches
  kept data).
* ``time_ratio``: measured time over the model's time at the roofs (how far from the roof).

Measured ops the model names differently are matched: ``gate_up_proj`` (one fused GEMM) against
gate_proj + up_proj; a measured fused ``attention`` against the eager model rows summed, and
the other way round. Traces without module attribution (``op`` null) are compared by
``category`` (``by="category"``): ``gemm`` against the six projections, ``attention`` against
the attention rows. Ops the model does not describe (attention_other, layer, mlp, model) are
left out.

Views beside the model (``summary --model``, ``plot --model``) group by op (or category) and
phase (:func:`grouping_for`), model the phases the trace has at its measured roofs
(:func:`against`), and name each comparison row as the summary names its group
(:func:`group_names`); :func:`attach` and :func:`summarize_beside` put the ratios on the
summary's groups.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from roofprof.analysis import roofline as rl
from roofprof.analysis.grouping import GROUP_JOIN, filter_kernels, parse_by
from roofprof.analysis.model.estimate import GEMM_OPS, PHASES, estimate, roofs_of_trace
from roofprof.errors import UsageError, option

if TYPE_CHECKING:
    import pandas as pd

    from roofprof.analysis.model.arch import Architecture
    from roofprof.analysis.model.estimate import Options

_ATTENTION = ("attention_qk", "attention_softmax", "attention_pv")
_SUMS = ("flop", "bytes", "time_s")

COLUMNS: tuple[str, ...] = (
    "phase", "op", "kernels", "measured_flop", "model_flop", "flop_ratio", "measured_bytes",
    "model_bytes", "bytes_ratio", "measured_time_s", "model_time_s", "time_ratio",
)


def _model_rows(model: pd.DataFrame, ops: set[str], by: str) -> pd.DataFrame:
    """The model's rows renamed to the measured ops/categories and summed."""
    m = model.copy()
    if by == "category":
        m["op"] = m["op"].map(lambda op: "gemm" if op in GEMM_OPS
                              else "attention" if op == "attention" or op in _ATTENTION
                              else None)
    else:
        if "gate_up_proj" in ops:
            m["op"] = m["op"].replace({"gate_proj": "gate_up_proj", "up_proj": "gate_up_proj"})
        if "attention" in ops and not ops & set(_ATTENTION):
            m["op"] = m["op"].replace(dict.fromkeys(_ATTENTION, "attention"))
        elif ops & set(_ATTENTION) and "attention" not in ops:
            m = m[m["op"] != "attention"]   # an eager trace against a fused model: no match
    m = m.dropna(subset=["op"])
    return m.groupby(["phase", "op"], sort=False, observed=True)[list(_SUMS)].sum(
        min_count=1).reset_index()


def compare(kernels: pd.DataFrame, model: pd.DataFrame, by: str = "op",
            level: str = "dram") -> pd.DataFrame:
    """Per (phase, op or category) present in both: measured and model FLOPs, bytes at
    ``level`` (the model's bytes are DRAM bytes), time, and their ratios (measured / model)."""
    if by not in ("op", "category"):
        raise UsageError(f"compare by 'op' or 'category', not {by!r}")
    if by == "op" and kernels["op"].isna().all():
        raise UsageError("the trace has no op attribution (no module ranges): compare with "
                         "by='category', or record with roofprof.torch.annotate")
    t = kernels.dropna(subset=["phase", by])
    work = t["flop"].fillna(0) + t["ops_tensor_int8"].fillna(0)
    measured = (t.assign(_work=work, _time=t["duration_ns"] * 1e-9)
                .groupby(["phase", by], sort=False, observed=True)
                .agg(kernels=("_work", "size"), measured_flop=("_work", "sum"),
                     measured_bytes=(f"{level}_bytes", "sum"),
                     measured_time_s=("_time", "sum"))
                .reset_index().rename(columns={by: "op"}))
    modelled = _model_rows(model, set(measured["op"]), by).rename(
        columns={"flop": "model_flop", "bytes": "model_bytes", "time_s": "model_time_s"})
    out = measured.merge(modelled, on=["phase", "op"], how="inner")
    for name in ("flop", "bytes", "time_s"):
        m = out[f"model_{name}"].astype(float)
        out[f"{name.removesuffix('_s')}_ratio"] = (
            out[f"measured_{name}"].astype(float) / m.where(m > 0, np.nan))
    return out[list(COLUMNS)]


#: what :func:`attach` adds to each group of a summary (null where the model has no row)
MODEL_COLUMNS: tuple[str, ...] = ("model_flop", "flop_ratio", "model_bytes", "bytes_ratio",
                                  "model_time_s", "time_ratio")


def basis(kernels: pd.DataFrame) -> str:
    """What a trace is compared by: ``op`` where it has module attribution, else ``category``."""
    return "op" if "op" in kernels and kernels["op"].notna().any() else "category"


def grouping_for(kernels: pd.DataFrame, by: str | None) -> str:
    """The ``--by`` of a view beside the model: the model is per op (or category) and phase,
    so the groups must be too (``op,phase`` by default, either order)."""
    base = basis(kernels)
    if by is None:
        return f"{base},phase"
    if sorted(parse_by(by)) != sorted((base, "phase")):
        raise UsageError(f"the model is per {base} and phase: with {option('model')}, group by "
                         f"{base},phase (or leave {option('by')} out), not {by!r}")
    return by


def fitted(kernels: pd.DataFrame, options: Options) -> Options:
    """``options`` with eager attention where the trace ran it eagerly (``attention_qk`` /
    ``attention_pv`` ops): a fused model has no row to put beside them."""
    ops = set(kernels["op"].dropna()) if "op" in kernels else set()
    if options.attention == "fused" and ops & {"attention_qk", "attention_pv"}:
        return replace(options, attention="eager")
    return options


def against(kernels: pd.DataFrame, arch: Architecture, options: Options) -> pd.DataFrame:
    """:func:`~roofprof.analysis.model.estimate` of the run a trace recorded: the phases the trace
    has, timed at its measured roofs (:func:`~roofprof.analysis.model.roofs_of_trace`)."""
    present = set(kernels["phase"].dropna()) if "phase" in kernels else set()
    phases = tuple(p for p in PHASES if p in present)
    if not phases:
        raise UsageError("the trace has no prefill, decode or spec phase to compare with the "
                         "model: mark the phases (roofprof.phase) or record with NVTX ranges "
                         "named after them")
    return estimate(arch, options, phases=phases, roofs=roofs_of_trace(kernels))


def group_names(comparison: pd.DataFrame, by: str) -> list[str]:
    """The summary's group name of each row of :func:`compare` under ``by`` (``op,phase``,
    ``phase,op``, ``category,phase``, ...)."""
    columns = ["phase" if b == "phase" else "op" for b in parse_by(by)]
    return [GROUP_JOIN.join(str(v) for v in row)
            for row in comparison[columns].itertuples(index=False, name=None)]


def attach(groups: pd.DataFrame, comparison: pd.DataFrame, by: str) -> pd.DataFrame:
    """A summary's groups with the model's columns (:data:`MODEL_COLUMNS`) of the same op and
    phase; null where the model has none (layer, mlp, attention_other, ...)."""
    right = comparison.assign(group=group_names(comparison, by))[["group", *MODEL_COLUMNS]]
    return groups.merge(right, on="group", how="left", validate="one_to_one")


def summarize_beside(trace: Any, arch: Architecture, options: Options, by: str | None = None,
                     level: str = "dram", depth: int | None = None, top: int | None = None,
                     filter: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`roofprof.analysis.roofline.summarize` per op (or category) and phase with the model's
    columns attached (:func:`attach`), and the :func:`compare` rows of the groups shown, in
    the summary's order. The model is timed at the trace's measured roofs; bytes are compared
    at DRAM (the model's level) whatever ``level`` the roofline numbers use."""
    kernels = rl.table_of(trace)
    by = grouping_for(kernels, by)
    modelled = against(kernels, arch, options)
    groups = rl.summarize(kernels, by=by, level=level, depth=depth, top=top, filter=filter)
    cmp = compare(filter_kernels(kernels, filter), modelled, by=basis(kernels))
    order = {name: i for i, name in enumerate(groups["group"])}
    rank = [float(order.get(name, "nan")) for name in group_names(cmp, by)]
    cmp = cmp.assign(_rank=rank).dropna(subset=["_rank"]).sort_values("_rank", kind="stable")
    return attach(groups, cmp, by), cmp.drop(columns="_rank").reset_index(drop=True)
