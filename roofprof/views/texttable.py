"""Plain-text tables for the terminal: a pure function from rows of strings to text.

Used by the catalog, model, what-if and diff views; the numbers are formatted by their callers
(the analysis owns every number, this only aligns columns).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def render(head: Sequence[str], rows: Sequence[Sequence[str]], right: set[int] | None = None,
           notes: Sequence[str] = ()) -> str:
    """``head`` and ``rows`` aligned in columns (``right``: indices aligned right), a rule under
    the head, then ``notes`` one per line."""
    right = right or set()
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    lines = [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows), *notes]
    return "\n".join(lines) + "\n"


def number(value: float | None, digits: int = 3) -> str:
    """A plain number with ``digits`` significant digits and thousands separators; null '-'."""
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}"
