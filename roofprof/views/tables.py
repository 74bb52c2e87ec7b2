"""Summaries as text: a terminal table that fits the terminal, JSON and CSV.

Renderers only: every number comes from :func:`roofprof.analysis.roofline.summarize`; this module
formats, orders and drops columns, never computes.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from roofprof.analysis.labels import unique_labels
from roofprof.analysis.roofline import (
    INT8,
    LAUNCH_FLOOR_NS,
    LEVEL_LABELS,
    MIN_COVERAGE,
    PRECISION_LABELS,
)
from roofprof.views.fmt import duration, intensity, pct, si


def _plain(v: Any) -> Any:
    """A JSON-safe Python value: NaN, inf and pandas nulls become None."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts (JSON-safe: nulls and infinities are None)."""
    cols = [str(c) for c in df.columns]
    return [dict(zip(cols, (_plain(v) for v in row), strict=True))
            for row in df.itertuples(index=False, name=None)]


def to_json(df: pd.DataFrame) -> str:
    """The summary as a JSON list of groups, stable and diff-friendly."""
    return json.dumps(records(df), indent=1) + "\n"


def to_csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


@dataclass(frozen=True)
class _Column:
    head: str
    right: bool
    #: the lower, the longer the column stays when the terminal is narrow (0: always)
    keep: int


def _columns(level: str) -> list[_Column]:
    lvl = LEVEL_LABELS.get(level, level)
    return [
        _Column("group", False, 0), _Column("kernels", True, 6), _Column("time", True, 0),
        _Column("share", True, 1), _Column(f"AI {lvl}", True, 2),
        _Column("achieved", True, 3), _Column("% peak compute", True, 4),
        _Column(f"{lvl} BW", True, 7), _Column("% peak BW", True, 4),
        _Column("compute roof", True, 8), _Column("% roof", True, 1),
        _Column("bound", False, 0), _Column("precision", False, 5),
        _Column("headroom", True, 2),
    ]


def partial(r: Mapping[Any, Any]) -> bool:
    """Whether a summary row (:func:`records`) has the numbers of part of its group: known,
    with its coverage below 1 (``roofprof.analysis.roofline``'s module doc)."""
    cover = r.get("coverage")
    return r.get("bound") not in (None, "unknown") and cover is not None and cover < 1


def measured(cover: float) -> str:
    """A coverage as a reader sees it, ``69% measured``: whole percents, rounded down (99.6%
    is not all of it)."""
    return f"{min(math.floor(100 * cover), 99)}% measured"


def bound_text(r: dict[str, Any]) -> str:
    """The verdict of a summary row, with its coverage where it is of part of the group:
    ``latency (69% measured)``."""
    bound = str(r["bound"] or "-")
    return f"{bound} ({measured(r['coverage'])})" if partial(r) else bound


def _cells(r: dict[str, Any], name: str) -> list[str]:
    unit = "OP/s" if r["precision"] == INT8 else "FLOP/s"
    has_work = bool(r["work"]) and r["work"] is not None
    return [
        name, str(r["kernels"]), duration(r["time_ns"]), pct(r["time_share"]),
        intensity(r["ai"]) if has_work else "-",
        si(r["work_per_s"], unit) if has_work else "-",
        pct(r["pct_of_peak_compute"]) if has_work else "-",
        si(r["bytes_per_s"], "B/s"), pct(r["pct_of_peak_bandwidth"]),
        si(r["peak_compute_per_s"], unit) if has_work else "-",
        pct(r["pct_of_roof"]), bound_text(r),
        PRECISION_LABELS.get(r["precision"] or "", "-"), duration(r["headroom_ns"]),
    ]


def format_table(df: pd.DataFrame, width: int | None = None, wide: bool = False,
                 notes: Sequence[str] = ()) -> str:
    """A terminal table of :func:`roofprof.analysis.roofline.summarize`'s result.

    Fits ``width`` characters (the terminal's by default): group names are shortened (never
    two alike) and the least needed columns dropped, in a fixed order; ``wide`` keeps every
    column and whole names. Groups whose numbers are unknown, latency-bound groups and the
    given ``notes`` are explained under the table.
    """
    level = str(df["level"].iloc[0]) if len(df) and "level" in df.columns else "dram"
    cols = _columns(level)
    rows_in = records(df)
    if width is None:
        width = shutil.get_terminal_size((120, 20)).columns
    names = [str(r["group"]) for r in rows_in]
    longest = max((len(n) for n in names), default=5)
    every = list(range(len(cols)))
    # names shrink first (never below 32), then the least needed columns go
    for name_width in ([longest] if wide else [min(longest, w) for w in (60, 48, 40, 32)]):
        shown = unique_labels(names, name_width)
        rows = [_cells(r, n) for r, n in zip(rows_in, shown, strict=True)]
        keep = every if wide else _fit(cols, rows, width)
        if len(keep) == len(cols) and _width(cols, rows, keep) <= width:
            break
    lines = _lines(cols, rows, keep)
    lines += _explain(rows_in, shown, keep, cols)
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _fit(cols: list[_Column], rows: list[list[str]], width: int) -> list[int]:
    keep = list(range(len(cols)))
    for rank in (8, 7, 6, 5, 4, 3):
        if _width(cols, rows, keep) <= width:
            break
        keep = [i for i in keep if cols[i].keep != rank]
    return keep


def _width(cols: list[_Column], rows: list[list[str]], keep: list[int]) -> int:
    return sum(max(len(cols[i].head), *(len(r[i]) for r in rows)) if rows else len(cols[i].head)
               for i in keep) + 2 * (len(keep) - 1)


def _lines(cols: list[_Column], rows: list[list[str]], keep: list[int]) -> list[str]:
    widths = {i: max(len(cols[i].head), *(len(r[i]) for r in rows)) if rows else
              len(cols[i].head) for i in keep}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cells[i].rjust(widths[i]) if cols[i].right else cells[i].ljust(widths[i])
                         for i in keep).rstrip()

    return [line([c.head for c in cols]), line(["-" * widths.get(i, 0) for i in
                                                range(len(cols))]), *(line(r) for r in rows)]


#: what a partial group's numbers are, under every table that has one
PARTIAL_NOTE = ("partial (N% measured): the numbers of the group's measured kernels (their work "
                "and bytes over their own time: % of roof, bound, headroom of that part); time "
                f"and share are the whole group's; under {100 * MIN_COVERAGE:.0f}% measured a "
                "group is unknown")


def _scant(r: dict[str, Any]) -> str:
    """An unknown group that is partly measured says how much (too little to speak for it)."""
    cover = r.get("coverage")
    if cover is None or not 0 < cover < MIN_COVERAGE:
        return ""
    return f"only {pct(cover)} of its time measured; "


def _explain(rows: list[dict[str, Any]], shown: list[str], keep: list[int],
             cols: list[_Column]) -> list[str]:
    out: list[str] = []
    whole = [re.fullmatch(r"(\d+) of (\d+) kernels: (.*)", str(r.get("reason") or ""))
             for r in rows]
    if len(rows) > 1 and all(m and m[1] == m[2] for m in whole) and \
            len({m[3] for m in whole if m}) == 1:  # a timing trace: one line, not one a group
        out.append(f"every group: unknown: {whole[0][3] if whole[0] else ''}")
    else:
        out += [f"{name}: unknown: {_scant(r)}{r['reason']}"
                for r, name in zip(rows, shown, strict=True)
                if r["bound"] == "unknown" and r.get("reason")]
    out += [f"{name}: partial: {pct(r['coverage'])} of its time measured; the rest: "
            f"{r['reason'] or 'unknown'}" for r, name in zip(rows, shown, strict=True)
            if partial(r)]
    if any(partial(r) for r in rows):
        out.append(PARTIAL_NOTE)
    if any(r["bound"] == "latency" for r in rows):
        out.append(f"latency: most of the group's time is in kernels that would finish in under "
                   f"{duration(LAUNCH_FLOOR_NS)} at their roofs (launch and latency set their "
                   "time); headroom never counts that floor")
    if any(r["work"] == 0 for r in rows):
        out.append("-: no FLOPs (copies, gathers): judged by bandwidth, % roof = % peak BW")
    hidden = [cols[i].head for i in range(len(cols)) if i not in keep]
    if hidden:
        out.append(f"({', '.join(hidden)} left out to fit the terminal; --wide shows all)")
    return out


# ------------------------------------------------------------------------- ranks (datasets)

