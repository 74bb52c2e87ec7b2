"""Cells of a text export read as numbers, by the rules of ``roofprof.tables.checks``: the
metric names a parser keeps (every form the metric table accepts), the number forms ncu writes
(1,234.5 or 1.234,5: :class:`NumberForm` decides which, from cells only one form could have
written, and refuses a file whose numbers could be read either way), and each cell's value or
the reason it is null."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow
import pyarrow.compute

from roofprof.errors import InputError
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
#: cells that only one of the two forms can have written: several thousands groups, a group
#: and a decimal mark, a decimal part of other than 3 digits, 4 or more digits before the
#: mark (the other form groups them by 3), a leading 0 (never a thousands group), an exponent
_EVIDENCE = {
    "C": r"^-?\d{1,3}(?:,\d{3}){2,}(?:\.\d+)?$|^-?\d{1,3}(?:,\d{3})+\.\d+$|"
         r"^-?\d+\.(?:\d{1,2}|\d{4,})$|^-?(?:\d{4,}|0)\.\d+$|^-?\d+\.\d*[eE][-+]?\d+$",
    "eu": r"^-?\d{1,3}(?:\.\d{3}){2,}(?:,\d+)?$|^-?\d{1,3}(?:\.\d{3})+,\d+$|"
          r"^-?\d+,(?:\d{1,2}|\d{4,})$|^-?(?:\d{4,}|0),\d+$|^-?\d+,\d*[eE][-+]?\d+$",
}
#: cells both forms can have written, with values 1000x apart: ``25.376`` is 25.376 in the
#: 1,234.5 form and 25376 in the 1.234,5 form (``25,376`` the other way round)
_AMBIGUOUS = {"C": r"^-?[1-9]\d{0,2},\d{3}$", "eu": r"^-?[1-9]\d{0,2}\.\d{3}$"}
_NON_FINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "-nan",
               "+nan"}


def _trimmed(cells: Sequence[str]) -> Any:
    return pc.ascii_trim_whitespace(pa.array(cells, pa.string()))


def number_evidence(cells: Sequence[str]) -> set[str]:
    """Which number forms ("C", "eu") ``cells`` hold unambiguous evidence of."""
    arr = _trimmed(cells)
    return {loc for loc, rx in _EVIDENCE.items()
            if pc.any(pc.match_substring_regex(arr, rx)).as_py()}


def whole_evidence(cells: Sequence[str]) -> set[str]:
    """The forms that cells holding whole numbers in base units (a duration in ns, a count)
    leave possible where the cells are ambiguous: ``25.376`` cannot be 25.376 ns, so it is
    25,376 ns written in the 1.234,5 form ("eu"); ``25,376`` is the 1,234.5 form ("C")."""
    arr = _trimmed(cells)
    return {loc for loc, rx in _AMBIGUOUS.items()
            if pc.any(pc.match_substring_regex(arr, rx)).as_py()}


def first_ambiguous(cells: Sequence[str]) -> int | None:
    """The index of the first cell either form reads, 1000x apart (``25.376``), or None."""
    arr = _trimmed(cells)
    hit = pc.fill_null(pc.or_(*(pc.match_substring_regex(arr, rx)
                                for rx in _AMBIGUOUS.values())), False)
    found = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
    return int(found[0]) if len(found) else None


class NumberForm:
    """A file's number form ("C": 1,234.5; "eu": 1.234,5), decided from the evidence, never
    guessed.

    Cells are given a part at a time (a chunk of rows), by column. A part with evidence
    (:data:`_EVIDENCE`, or an ambiguous cell in a column of whole numbers in base units:
    :func:`whole_evidence`) decides the form; evidence of both forms, in one part or across
    parts, refuses the file rather than read it two ways. A part without evidence is read as
    "C" only while its cells read alike in both forms; an ambiguous cell there (``25.376``)
    refuses the file: its numbers could be 1000x off either way.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.form = "C"
        self.known = False

    def update(self, columns: Mapping[str, Sequence[str]],
               whole: Mapping[str, Sequence[str]]) -> str:
        """The form to read ``columns`` (metric name -> cells) with; ``whole`` holds the cells
        of the columns that are whole numbers in base units."""
        evidence = number_evidence([c for cells in columns.values() for c in cells])
        evidence |= whole_evidence([c for cells in whole.values() for c in cells])
        if len(evidence) == 2 or (evidence and self.known and evidence != {self.form}):
            raise InputError(f"{self.path}: its numbers mix 1,234.5 and 1.234,5 forms; export "
                             "it again with LC_ALL=C ncu --import ... --csv")
        if evidence:
            self.form = evidence.pop()
            self.known = True
        elif not self.known:
            self._refuse_ambiguous(columns)
        return self.form

    def _refuse_ambiguous(self, columns: Mapping[str, Sequence[str]]) -> None:
        for name, cells in columns.items():
            i = first_ambiguous(cells)
            if i is None:
                continue
            cell = cells[i].strip()
            c, eu = (parse_numbers([cell], form)[0][0] for form in ("C", "eu"))
            raise InputError(
                f"{self.path}: its numbers are ambiguous: {name} reads {cell!r}, which is "
                f"{c:g} in the 1,234.5 form and {eu:g} in the 1.234,5 form, and no cell of the "
                "file tells which form ncu wrote. Export it again in the C locale with base "
                "units: LC_ALL=C ncu --import REPORT.ncu-rep --csv --page raw "
                "--print-units base")


def parse_numbers(cells: Sequence[str], locale: str) -> tuple[np.ndarray, np.ndarray]:
    """Values (NaN where null) and a reason code per cell (``OK`` or one of
    ``roofprof.tables.checks.REASONS``)."""
    arr = _trimmed(cells)
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
