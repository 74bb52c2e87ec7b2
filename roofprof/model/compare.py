"""Measured beside modelled: a trace's kernels against :func:`~roofprof.model.estimate`.

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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roofprof.errors import UsageError
from roofprof.model.estimate import GEMM_OPS

if TYPE_CHECKING:
    import pandas as pd

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
    return m.groupby(["phase", "op"], sort=False)[list(_SUMS)].sum(min_count=1).reset_index()


def compare(kernels: pd.DataFrame, model: pd.DataFrame, by: str = "op",
            level: str = "dram") -> pd.DataFrame:
    """Per (phase, op or category) present in both: measured and model FLOPs, bytes at
    ``level`` (the model's bytes are DRAM bytes), time, and their ratios (measured / model)."""
    import numpy as np

    if by not in ("op", "category"):
        raise UsageError(f"compare by 'op' or 'category', not {by!r}")
    if by == "op" and kernels["op"].isna().all():
        raise UsageError("the trace has no op attribution (no module ranges): compare with "
                         "by='category', or record with roofprof.torch.annotate")
    t = kernels.dropna(subset=["phase", by])
    work = t["flop"].fillna(0) + t["ops_tensor_int8"].fillna(0)
    measured = (t.assign(_work=work, _time=t["duration_ns"] * 1e-9)
                .groupby(["phase", by], sort=False)
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
