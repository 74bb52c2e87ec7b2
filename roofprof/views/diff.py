"""The diff of two runs (:func:`roofprof.analysis.diff.diff`) for the terminal."""

from __future__ import annotations

import pandas as pd

from roofprof.views.fmt import duration
from roofprof.views.tables import records
from roofprof.views.texttable import render


def format_diff(df: pd.DataFrame, kernels: pd.DataFrame | None = None) -> str:
    """:func:`roofprof.analysis.diff.diff`'s table (and the kernel changes given, from
    :func:`~roofprof.analysis.diff.match_kernels`) for the terminal."""
    def pct(v: float | None, sign: bool = True) -> str:
        return "-" if v is None else f"{100 * v:+.1f}%" if sign else f"{100 * v:.1f}%"

    def ai(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.3g}"

    rows = [[str(r["group"]), duration(r["time_ns_a"]), duration(r["time_ns_b"]),
             pct(r["time_delta"]) + ("" if r["significant"] or r["status"] != "both"
                                     else " (noise)"),
             pct(r["work_delta"]), pct(r["bytes_delta"]), f"{ai(r['ai_a'])} -> {ai(r['ai_b'])}",
             f"{pct(r['pct_of_roof_a'], False)} -> {pct(r['pct_of_roof_b'], False)}",
             f"{r['bound_a'] or '-'} -> {r['bound_b'] or '-'}",
             "" if r["status"] == "both" else r["status"]] for r in records(df)]
    text = render(["group", "time A", "time B", "time", "work", "bytes", "AI", "% of roof",
                   "bound", ""], rows, right={1, 2, 3, 4, 5},
                  notes=["changes are B relative to A; (noise): within the spread of repeat "
                         "runs or the --noise floor"])
    if kernels is not None and len(kernels):
        krows = [[str(r["group"]), str(r["kernel"])[:60], str(r["occurrence"]),
                  duration(r["duration_ns_a"]), duration(r["duration_ns_b"]),
                  pct(r["delta"])] for r in records(kernels)]
        text += "\n" + render(["group", "kernel", "#", "time A", "time B", "change"], krows,
                              right={2, 3, 4, 5})
    return text
