"""Raw Nsight Compute metrics -> the kernel table's measured columns, by the metric table.

Every parser produces a :class:`RawKernels`: identity columns, and one float column per metric
name found in the input, in canonical units (``units.py``). :func:`build_table` evaluates the
metric table's formulas against it, row by row (first complete formula wins), so traces that mix
reports recorded with different metric sets still come out right. It records which formula gave
each column and which columns no input could give (null, never 0).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import pandas_dtype

from roofprof.metrics import FLOP_COLUMNS, QUANTITIES, Formula, Quantity, Term
from roofprof.schema import COLUMNS, IDENTITY


@dataclass
class RawKernels:
    """What a parser read: identity columns plus metric columns (canonical units)."""

    identity: pd.DataFrame
    metrics: pd.DataFrame
    #: facts about the input for the trace's metadata (ncu version, format, ...)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Derivation:
    #: column -> {formula description: number of kernels it gave}
    used: dict[str, dict[str, int]] = field(default_factory=dict)
    #: columns null for every kernel (nothing in the input could give them)
    missing: list[str] = field(default_factory=list)
    #: columns null for some kernels only
    partial: list[str] = field(default_factory=list)


_NAN = np.nan


def _column(metrics: pd.DataFrame, name: str) -> pd.Series | None:
    return metrics[name] if name in metrics.columns else None


def _term_total(metrics: pd.DataFrame, term: Term,
                duration_ns: pd.Series) -> tuple[pd.Series, str]:
    """A counter's total in whatever form the input holds it: sum, rate x time, per-cycle x cycles.

    Returns the values (NaN where no form is present) and a description of the forms used.
    """
    out = pd.Series(_NAN, index=metrics.index, dtype="float64")
    forms: list[str] = []
    direct = _column(metrics, term.metric)
    if direct is not None:
        out = direct.astype("float64")
        forms.append(term.metric)
    if out.isna().any():
        rate = _column(metrics, term.metric + ".per_second")
        if rate is not None:
            alt = rate * duration_ns * 1e-9
            if alt.notna().any():
                out = out.fillna(alt)
                forms.append(f"{term.metric}.per_second x gpu__time_duration.sum")
    if out.isna().any():
        per_cycle = _column(metrics, term.metric + ".per_cycle_elapsed")
        if per_cycle is not None:
            unit = term.unit
            cycles = _elapsed_cycles(metrics, unit, duration_ns)
            if cycles is not None:
                alt = per_cycle * cycles
                if alt.notna().any():
                    out = out.fillna(alt)
                    forms.append(f"{term.metric}.per_cycle_elapsed x {unit}__cycles_elapsed.avg")
    return out, " | ".join(forms)


def _elapsed_cycles(metrics: pd.DataFrame, unit: str,
                    duration_ns: pd.Series) -> pd.Series | None:
    """Elapsed cycles of a unit: counted, or its clock x duration (SMSP runs on the SM clock)."""
    for u in (unit, "sm") if unit == "smsp" else (unit,):
        cycles = _column(metrics, f"{u}__cycles_elapsed.avg")
        if cycles is not None:
            return cycles
        clock = _column(metrics, f"{u}__cycles_elapsed.avg.per_second")
        if clock is not None:
            return clock * duration_ns * 1e-9
    return None


def _evaluate(metrics: pd.DataFrame, q: Quantity, formula: Formula, duration_ns: pd.Series,
              clocks: dict[str, pd.Series]) -> tuple[pd.Series, str]:
    total = pd.Series(0.0, index=metrics.index)
    how: list[str] = []
    for term in formula.terms:
        if q.kind in ("count",):
            values, form = _term_total(metrics, term, duration_ns)
        else:
            col = _column(metrics, term.metric)
            values = (pd.Series(_NAN, index=metrics.index) if col is None
                      else col.astype("float64"))
            form = term.metric if col is not None else ""
        total = total + term.weight * values  # NaN if any term is missing: formula incomplete
        how.append(form)
    total = total * formula.scale
    if q.kind == "peak":
        total = total * clocks[q.clock]
    desc = formula.describe()
    if any(h and h != t.metric for h, t in zip(how, formula.terms, strict=True)):
        desc += "  [from " + "; ".join(h for h in how if h) + "]"
    return total, desc


def _applies(formula: Formula, cc: pd.Series) -> pd.Series:
    return (cc >= formula.min_cc) & (cc <= formula.max_cc)


def _cc_number(cc: pd.Series) -> pd.Series:
    """"9.0" -> 90; unknown -> 0 (formulas restricted by architecture then do not apply)."""
    parts = cc.astype("string").str.extract(r"^(\d+)\.(\d+)$")
    major = pd.to_numeric(parts[0], errors="coerce")
    minor = pd.to_numeric(parts[1], errors="coerce")
    return (major * 10 + minor).fillna(0).astype("int64")


def build_table(raw: RawKernels) -> tuple[pd.DataFrame, Derivation]:
    """Evaluate the metric table over ``raw``; returns the kernel table (schema v1)."""
    metrics = raw.metrics.reset_index(drop=True)
    ident = raw.identity.reset_index(drop=True)
    n = len(ident)
    cc = _cc_number(ident["cc"]) if "cc" in ident else pd.Series(0, index=ident.index)
    derivation = Derivation()
    out: dict[str, pd.Series] = {}
    duration = pd.Series(_NAN, index=metrics.index, dtype="float64")
    clocks: dict[str, pd.Series] = {}
    for q in QUANTITIES:  # the table lists time and clocks before the quantities needing them
        value = pd.Series(_NAN, index=metrics.index, dtype="float64")
        used: Counter[str] = Counter()
        for formula in q.formulas:
            if not value.isna().any():
                break
            candidate, desc = _evaluate(metrics, q, formula, duration, clocks)
            candidate = candidate.where(_applies(formula, cc))
            fill = value.isna() & candidate.notna()
            if fill.any():
                value = value.where(~fill, candidate)
                label = desc + (f"  ({formula.derived})" if formula.derived else "")
                label += "" if formula.verified else "  (unverified)"
                used[label] += int(fill.sum())
        out[q.column] = value
        if q.column == "duration_ns":
            duration = value
        if q.kind == "clock":
            clocks[q.column] = value
        if used:
            derivation.used[q.column] = dict(used)
        if n and value.isna().all():
            derivation.missing.append(q.column)
        elif value.isna().any():
            derivation.partial.append(q.column)
    flop_parts = pd.DataFrame({c: out[c] for c in FLOP_COLUMNS})
    # total FLOPs: null only when no precision could be measured at all
    out["flop"] = flop_parts.sum(axis=1, min_count=1)
    table = pd.DataFrame(index=ident.index)
    for col, dtype in IDENTITY.items():
        if col in ident:
            table[col] = ident[col] if dtype == "object" else ident[col].astype(pandas_dtype(dtype))
        elif col == "id":
            table[col] = np.arange(n, dtype="int64")
        elif col == "nvtx":
            table[col] = pd.Series([[] for _ in range(n)], dtype="object")
        else:
            table[col] = pd.Series([None] * n, dtype=pandas_dtype(dtype))
    for col in COLUMNS[len(IDENTITY):]:
        table[col] = out[col].astype("float64")
    return table, derivation
