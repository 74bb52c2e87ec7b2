"""Cells of a text export read as numbers, by the rules of ``roofprof.tables.checks``: the
metric names a parser keeps (every form the metric table accepts), the number forms ncu writes
(1,234.5 or 1.234,5), and each cell's value or the reason it is null."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow
import pyarrow.compute

from roofprof.tables.checks import NOT_A_NUMBER, NOT_ASCII, NOT_FINITE, OK, check_values
from roofprof.tables.metrics import DURATION_METRIC, QUANTITIES

#: pyarrow and its compute functions, typed loosely (their stubs do not cover this use)
pa: Any = pyarrow
pc: Any = pyarrow.compute


def needed_metrics() -> frozenset[str]:
    """Every Nsight Compute metric name ``roofprof.inputs.derive`` may read, in every form it
    accepts.

    A counter may be present as its sum, as ``.per_second`` (x duration) or as
    ``.per_cycle_elapsed`` (x the elapsed cycles of its unit, counted or clock x duration);
    see ``derive._term_total``. Parsers read only these columns.
    """
    names: set[str] = set()
    for q in QUANTITIES:
        for formula in q.formulas:
            for term in formula.terms:
                names.add(term.metric)
                if q.kind == "count":
                    names.update({term.metric + ".per_second",
                                  term.metric + ".per_cycle_elapsed"})
                    for unit in (term.unit, "sm") if term.unit == "smsp" else (term.unit,):
                        names.update({f"{unit}__cycles_elapsed.avg",
                                      f"{unit}__cycles_elapsed.avg.per_second"})
    return frozenset(names)


def whole_number_metrics() -> frozenset[str]:
    """Metrics that are whole numbers in base units: durations in ns and counted sums.

    A fraction there (``25.376`` ns) means the file is in display units (us, Mbyte) and lost
    the units row that says so.
    """
    out = {DURATION_METRIC}
    for q in QUANTITIES:
        if q.kind == "count":
            out.update(t.metric for f in q.formulas for t in f.terms if t.metric.endswith(".sum"))
    return frozenset(out)


# ------------------------------------------------------------------------------ cell values

#: numbers as ncu prints them: 1,234,567.5 ("C") or 1.234.567,5 ("eu"); a sign is allowed so
#: that a negative number is reported as negative, not as unreadable
_NUMBER = {
    "C": r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?$",
    "eu": r"^-?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?(?:[eE][-+]?\d+)?$",
}
#: cells that only one of the two forms can have written
_EVIDENCE = {
    "C": r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$|^-?\d+\.(?:\d{1,2}|\d{4,})$",
    "eu": r"^-?\d{1,3}(?:\.\d{3}){2,}(?:,\d+)?$|^-?\d{1,3}(?:\.\d{3})+,\d+$|"
          r"^-?\d+,(?:\d{1,2}|\d{4,})$",
}
_NON_FINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "-nan",
               "+nan"}


def number_evidence(cells: Sequence[str]) -> set[str]:
    """Which number forms ("C", "eu") ``cells`` hold unambiguous evidence of."""
    arr = pc.ascii_trim_whitespace(pa.array(cells, pa.string()))
    return {loc for loc, rx in _EVIDENCE.items()
            if pc.any(pc.match_substring_regex(arr, rx)).as_py()}


def parse_numbers(cells: Sequence[str], locale: str) -> tuple[np.ndarray, np.ndarray]:
    """Values (NaN where null) and a reason code per cell (``OK`` or one of
    ``roofprof.tables.checks.REASONS``)."""
    arr = pc.ascii_trim_whitespace(pa.array(cells, pa.string()))
    valid = pc.fill_null(pc.match_substring_regex(arr, _NUMBER[locale]), False)
    if locale == "C":
        clean = pc.replace_substring(arr, ",", "")
    else:
        clean = pc.replace_substring(pc.replace_substring(arr, ".", ""), ",", ".")
    clean = pc.if_else(valid, clean, pa.scalar(None, pa.string()))
    values = pc.cast(clean, pa.float64()).to_numpy(zero_copy_only=False).astype("float64")
    lower = pc.utf8_lower(arr)
    absent = pc.fill_null(pc.or_(pc.equal(arr, ""), pc.equal(lower, "n/a")), True)
    reason = np.full(len(values), OK, dtype="int8")
    unread = ~valid.to_numpy(zero_copy_only=False) & ~absent.to_numpy(zero_copy_only=False)
    if unread.any():
        ascii_ = pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False)
        non_finite = pc.is_in(lower, pa.array(sorted(_NON_FINITE))).to_numpy(
            zero_copy_only=False)
        reason[unread] = NOT_A_NUMBER
        reason[unread & ~ascii_] = NOT_ASCII
        reason[unread & non_finite] = NOT_FINITE
    return check_values(values, reason)
