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

import numpy as np
import pandas as pd
from pandas.api.types import pandas_dtype

from parsers.raw import RawKernels
from roofprof.tables.columns import nulls, per_value, text
from roofprof.tables.metrics import FLOP_COLUMNS, QUANTITIES, Formula, Quantity, Term
from roofprof.tables.schema import IDENTITY, MEASURED, TEXT


@dataclass
class Derivation:
    #: column -> {formula description: number of kernels it gave}
    used: dict[str, dict[str, int]] = field(default_factory=dict)
    #: columns null for every kernel (nothing in the input could give them)
    missing: list[str] = field(default_factory=list)
    #: columns null for some kernels only
    partial: list[str] = field(default_factory=list)


_NAN = np.nan

#: tensor-core counters every chip has from a compute capability on (fp16 from 7.0, bf16 from
#: 8.0), by work column: where a report lacks them (``ncu --section SpeedOfLight_RooflineChart``
#: collects no tensor counter), a kernel's work is unknown, never zero: an fp16/bf16 GEMM would
#: otherwise read as a kernel without FLOPs
TENSOR_FROM_CC: dict[str, int] = {"flop_tensor_fp16": 70, "flop_tensor_bf16": 80}


def uncounted_tensor(column: str, values: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """Where ``values`` (the work column ``column``) is null although the kernel's chip
    (``cc``: major*10 + minor, 0 unknown) has that tensor precision (:data:`TENSOR_FROM_CC`)."""
    since = TENSOR_FROM_CC.get(column)
    if since is None:
        return np.zeros(len(values), dtype=bool)
    return np.asarray(np.isnan(values) & (cc >= since), dtype=bool)


Columns = dict[str, np.ndarray]


def _term_total(cols: Columns, term: Term, duration_ns: np.ndarray) -> tuple[np.ndarray, str]:
    """A counter's total in whatever form the input holds it: sum, rate x time, per-cycle x cycles.

    Returns the values (NaN where no form is present) and a description of the forms used.
    """
    out = np.full_like(duration_ns, _NAN)
    forms: list[str] = []
    direct = cols.get(term.metric)
    if direct is not None:
        out = direct.copy()
        forms.append(term.metric)
    missing = np.isnan(out)
    rate = cols.get(term.metric + ".per_second")
    if missing.any() and rate is not None:
        alt = rate * duration_ns * 1e-9
        if (missing & ~np.isnan(alt)).any():
            out = np.where(missing, alt, out)
            forms.append(f"{term.metric}.per_second x gpu__time_duration.sum")
            missing = np.isnan(out)
    per_cycle = cols.get(term.metric + ".per_cycle_elapsed")
    if missing.any() and per_cycle is not None:
        cycles = _elapsed_cycles(cols, term.unit, duration_ns)
        if cycles is not None:
            alt = per_cycle * cycles
            if (missing & ~np.isnan(alt)).any():
                out = np.where(missing, alt, out)
                forms.append(f"{term.metric}.per_cycle_elapsed x {term.unit}__cycles_elapsed.avg")
    return out, " | ".join(forms)


def _elapsed_cycles(cols: Columns, unit: str, duration_ns: np.ndarray) -> np.ndarray | None:
    """Elapsed cycles of a unit: counted, or its clock x duration (SMSP runs on the SM clock)."""
    for u in (unit, "sm") if unit == "smsp" else (unit,):
        cycles: np.ndarray | None = cols.get(f"{u}__cycles_elapsed.avg")
        if cycles is not None:
            return cycles
        clock = cols.get(f"{u}__cycles_elapsed.avg.per_second")
        if clock is not None:
            elapsed: np.ndarray = clock * duration_ns * 1e-9
            return elapsed
    return None


def _evaluate(cols: Columns, q: Quantity, formula: Formula, duration_ns: np.ndarray,
              clocks: Columns) -> tuple[np.ndarray, str]:
    total = np.zeros_like(duration_ns)
    how: list[str] = []
    for term in formula.terms:
        if q.kind == "count":
            values, form = _term_total(cols, term, duration_ns)
        else:
            col = cols.get(term.metric)
            values = np.full_like(duration_ns, _NAN) if col is None else col
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


def _applies(formula: Formula, cc: np.ndarray) -> np.ndarray:
    return (cc >= formula.min_cc) & (cc <= formula.max_cc)


def _cc_number(cc: pd.Series) -> pd.Series:
    """"9.0" -> 90; unknown -> 0 (formulas restricted by architecture then do not apply)."""
    def number(cc: pd.Series) -> pd.Series:
        parts = cc.astype("string").str.extract(r"^(\d+)\.(\d+)$")
        major = pd.to_numeric(parts[0], errors="coerce")
        minor = pd.to_numeric(parts[1], errors="coerce")
        return (major * 10 + minor).fillna(0).astype("int64")

    out: pd.Series = per_value(cc, number)
    return out


def build_table(raw: RawKernels) -> tuple[pd.DataFrame, Derivation]:
    """Evaluate the metric table over ``raw``; returns the kernel table (schema v1)."""
    metrics = raw.metrics.reset_index(drop=True)
    ident = raw.identity.reset_index(drop=True)
    n = len(ident)
    cc = _cc_number(ident["cc"]) if "cc" in ident else pd.Series(0, index=ident.index)
    derivation = Derivation()
    cols: Columns = {c: metrics[c].to_numpy(dtype="float64") for c in metrics.columns}
    cc_num = cc.to_numpy()
    out: Columns = {}
    duration = np.full(n, _NAN)
    clocks: Columns = {}
    for q in QUANTITIES:  # the table lists time and clocks before the quantities needing them
        value = np.full(n, _NAN)
        used: Counter[str] = Counter()
        for formula in q.formulas:
            missing = np.isnan(value)
            if not missing.any():
                break
            candidate, desc = _evaluate(cols, q, formula, duration, clocks)
            candidate = np.where(_applies(formula, cc_num), candidate, _NAN)
            fill = missing & ~np.isnan(candidate)
            if fill.any():
                value = np.where(fill, candidate, value)
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
        absent = np.isnan(value)
        if n and absent.all():
            derivation.missing.append(q.column)
        elif absent.any():
            derivation.partial.append(q.column)
    # total FLOPs: the precisions the input measures, summed. Null for a kernel when a precision
    # measured for other kernels is null for it (a bad or missing value), and when the
    # half-precision tensor counters every tensor-core chip has (fp16 from CC 7.0, bf16 from
    # 8.0) are missing: an fp16/bf16 GEMM's work would otherwise read as 0
    parts = np.vstack([out[c] for c in FLOP_COLUMNS])
    measured = ~np.isnan(parts).all(axis=1)
    out["flop"] = np.where(np.isnan(parts).all(axis=0), _NAN, np.nansum(parts, axis=0))
    unknown = np.isnan(parts[measured]).any(axis=0)
    for column in TENSOR_FROM_CC:
        unknown |= uncounted_tensor(column, out[column], cc_num)
    out["flop"][unknown] = _NAN
    if n and np.isnan(out["flop"]).all():
        derivation.missing.append("flop")

    table = pd.DataFrame(index=ident.index)
    for col, dtype in IDENTITY.items():
        if col in ident:
            table[col] = ident[col] if dtype == "object" else \
                pd.Series(text(ident[col]), index=ident.index) if dtype == TEXT else \
                ident[col].astype(pandas_dtype(dtype))
        elif col == "id":
            table[col] = np.arange(n, dtype="int64")
        elif col == "nvtx":
            table[col] = pd.Series([[] for _ in range(n)], dtype="object")
        elif dtype == TEXT:
            table[col] = pd.Series(nulls(n), index=ident.index)
        else:
            table[col] = pd.Series([None] * n, dtype=pandas_dtype(dtype))
    for col in (*MEASURED, "flop"):
        table[col] = out[col]
    return table, derivation
