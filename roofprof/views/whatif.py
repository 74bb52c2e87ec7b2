"""A what-if projection (:func:`roofprof.analysis.whatif.whatif`) for the terminal, labelled
as a projection."""

from __future__ import annotations

import pandas as pd

from roofprof.views.fmt import duration
from roofprof.views.tables import records
from roofprof.views.texttable import render


def format_whatif(df: pd.DataFrame, source: str, target: str, peaks: str) -> str:
    """:func:`roofprof.analysis.whatif.whatif`'s table for the terminal, labelled as a
    projection."""
    def x(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}x"

    def err(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:+.1f}%"

    checked = "target_time_ns" in df
    rows = [[str(r["group"]), str(r["kernels"]), duration(r["time_ns"]),
             duration(r["time_at_fraction_ns"]), x(r["speedup_at_fraction"]),
             duration(r["time_at_roof_ns"]), x(r["speedup_at_roof"]),
             "-" if r["compute_bound_share"] is None else f"{100 * r['compute_bound_share']:.0f}%",
             r["bound"] or "-",
             *([duration(r["target_time_ns"]), err(r["error_at_fraction"])] if checked else [])]
            for r in records(df)]
    notes = [f"PROJECTION from {source} to {target} ({peaks} peaks), not a measurement: "
             "'same % of roof' keeps each kernel's measured fraction of its roof, 'at roof' "
             "runs every kernel at 100% of the target's roof"]
    if (df["unprojected"] > 0).any():
        notes.append(f"{int(df['unprojected'].sum())} kernels could not be projected and are "
                     "left out of the projected times")
    head = ["group", "kernels", "measured", "same % of roof", "speedup", "at roof", "speedup",
            "compute-bound", "bound"]
    if checked:
        head += [f"measured on {target}", "error"]
        notes.append("error: the 'same % of roof' projection against the recording on the "
                     "target")
    return render(head, rows, right={1, 2, 3, 4, 5, 6, 7, 9, 10}, notes=notes)
