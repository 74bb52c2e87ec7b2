"""Text views of the model's tables (pure: DataFrame in, text out)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from roofprof.analysis.roofline import PRECISION_LABELS
from roofprof.views.fmt import si
from roofprof.views.tables import records
from roofprof.views.texttable import render

if TYPE_CHECKING:
    import pandas as pd


def _si(value: Any, unit: str = "") -> str:
    return si(None if value is None or (isinstance(value, float) and math.isnan(value))
              else float(value), unit)


def _ai(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def format_estimate(df: pd.DataFrame, totals: pd.DataFrame, title: str = "") -> str:
    """Per phase: a row per op and the phase total (FLOPs, bytes by kind, intensity, time at
    the roofs, bound)."""
    head = ["phase", "op", "n", "FLOPs", "precision", "weights", "KV", "activations",
            "intensity", "time at roof", "bound"]
    rows: list[list[str]] = []
    tot = {r["phase"]: r for r in records(totals)}
    for phase in dict.fromkeys(df["phase"]):
        for r in records(df[df["phase"] == phase]):
            rows.append([phase, r["op"], str(r["count"]), _si(r["flop"] + r["ops_tensor_int8"]),
                         PRECISION_LABELS.get(r["precision"] or "", "-"),
                         _si(r["weight_bytes"], "B"), _si(r["kv_bytes"], "B"),
                         _si(r["act_bytes"], "B"), _ai(r["intensity"]),
                         _si(r["time_s"], "s"), r["bound"] or "-"])
        t = tot[phase]
        rate = "" if t["tokens_per_s"] is None else f" ({_si(t['tokens_per_s'])} tok/s)"
        rows.append([phase, "total", "", _si(t["flop"] + t["ops_tensor_int8"]), "",
                     _si(t["weight_bytes"], "B"), _si(t["kv_bytes"], "B"),
                     _si(t["act_bytes"], "B"), _ai(t["intensity"]),
                     _si(t["time_s"], "s") + rate, t["bound"] or "-"])
    notes = ["MODEL ESTIMATE (analytic, not measured): ideal DRAM bytes; FLOPs of the useful "
             "problem; time = each op at its roof, summed"]
    text = render(head, rows, right={2, 3, 5, 6, 7, 8, 9}, notes=notes)
    return (title + "\n" if title else "") + text


def format_compare(df: pd.DataFrame) -> str:
    """:func:`roofprof.analysis.model.compare.compare`'s table for the terminal."""
    def ratio(v: Any) -> str:
        return "-" if v is None else f"{v:.2f}x"

    rows = [[r["phase"], r["op"], str(r["kernels"]), _si(r["measured_flop"]),
             _si(r["model_flop"]), ratio(r["flop_ratio"]), _si(r["measured_bytes"], "B"),
             _si(r["model_bytes"], "B"), ratio(r["bytes_ratio"]),
             _si(r["measured_time_s"], "s"), _si(r["model_time_s"], "s"),
             ratio(r["time_ratio"])] for r in records(df)]
    head = ["phase", "op", "kernels", "FLOPs", "model", "ratio", "bytes", "model", "ratio",
            "time", "model at roof", "ratio"]
    return render(head, rows, right=set(range(2, 12)),
                  notes=["ratios are measured / model: FLOPs > 1 is padding, bytes > 1 is "
                         "extra traffic, time > 1 is distance from the roof"])


def describe(arch: Any, o: Any) -> str:
    """One line naming the modelled run (an :class:`~roofprof.analysis.model.arch.Architecture` and
    its :class:`~roofprof.analysis.model.estimate.Options`)."""
    context = o.prompt if o.context is None else o.context
    group = f" (group {o.group_size})" if o.group_size else ""
    return (f"{arch.name}: batch {o.batch}, prompt {o.prompt}, context {context}, weights "
            f"{o.weight_dtype}{group}, KV {o.kv_dtype or o.act_dtype}, TP {o.tp}, attention "
            f"{o.attention}, logits {o.logits}")


def format_beside(df: pd.DataFrame, arch: Any, options: Any) -> str:
    """``summary --model``'s second table: the measured/model ratios per op and phase."""
    title = ("Measured / model per op and phase (MODEL ESTIMATE, timed at the trace's "
             f"measured roofs)\nmodel: {describe(arch, options)}")
    if not len(df):
        return title + "\n(no op of the trace has a row in the model)\n"
    return title + "\n" + format_compare(df).rstrip("\n") + "\n"


def estimate_title(arch: Any, options: Any, roofs: str) -> str:
    """The estimate table's title: the run modelled and whose roofs time it (``roofs``)."""
    return (f"{arch.name}: batch {options.batch}, prompt {options.prompt}, weights "
            f"{options.weight_dtype}"
            f"{f' (group {options.group_size})' if options.group_size else ''}, "
            f"KV {options.kv_dtype or options.act_dtype}, TP {options.tp}"
            f"{'; ' + roofs if roofs else '; no GPU given: no times (--gpu NAME)'}")
