"""What a roofline plot says in words: its title, subtitle and notes, and the table of kernels
it does not draw (in-memory and dataset scenes alike: :mod:`.scene`, :mod:`.dataset_scene`)."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from roofprof.analysis import roofline as rl
from roofprof.tables.sampling import sampling, time_shares_of
from roofprof.views.fmt import duration


def title_of(obj: Any, t: pd.DataFrame) -> str:
    """The GPUs and the source files of a trace (``obj``) and its kernel table ``t``."""
    meta = getattr(obj, "meta", None) or {}
    gpus = [str(g) for g in meta.get("gpu") or [] if g]
    if not gpus and "device_name" in t.columns:
        gpus = [str(g) for g in t["device_name"].dropna().unique()[:3]]
    sources = [os.path.basename(str(s)) for s in meta.get("sources") or [] if s]
    if not sources and "source" in t.columns:
        sources = [os.path.basename(str(s)) for s in t["source"].dropna().unique()[:3]]
    if not sources and isinstance(obj, (str, os.PathLike)):
        sources = [os.path.basename(os.fspath(obj))]
    return " · ".join(x for x in (", ".join(gpus) or "unknown GPU", ", ".join(sources)) if x)


def subtitle_lines(kernels: int, lv: tuple[str, ...], total: float, filter: str | None,
                   off: list[tuple[int, float]]) -> list[str]:
    """The subtitle: levels, kernels and GPU time, and the (count, time) of kernels not drawn
    for want of FLOPs, of counters, of bytes or time (in that order)."""
    sub = [f"measured roofline, {' / '.join(rl.LEVEL_LABELS[v] for v in lv)}",
           f"{kernels:,} kernels, {duration(total)} GPU time"]
    if filter:
        sub.append(f"filter {filter!r}")
    whats = ("without FLOPs", "with counters missing",
             f"without {rl.LEVEL_LABELS[lv[0]]} bytes or time")
    for (count, time), what in zip(off, whats, strict=True):
        if count:
            share = time / total if total else 0.0
            sub.append(f"{count:,} {what} ({100 * share:.1f}% of time) not drawn")
    return sub


def sampled_note(obj: Any) -> list[str]:
    """A sampled trace says so: its time shares are of the profiled launches, not the run; a
    filtered one says which kernels it holds (as the text summary does)."""
    meta = getattr(obj, "meta", None)
    if not isinstance(meta, dict):
        return []
    shares = time_shares_of(meta)
    if shares == "samples":
        return ["SAMPLED: time shares are of the profiled launches, not of the run"]
    if shares == "filtered":  # one subtitle line: a long list of ranges is cut short
        text = "filtered: " + "; ".join(sampling(meta)["reasons"])
        return [text if len(text) <= 100 else text[:99] + "…"]
    return []


#: the legend's note on a partial group's aggregate (drawn hollow: ``static.render``)
PARTIAL_NOTE = "◇ partial group: its measured kernels only (% measured: its legend entry)"


def notes_of(aggregates: bool, partial: bool = False) -> list[str]:
    """The legend's notes: how the roofs are made, and (where drawn) what an aggregate is and,
    where one is of part of its group (``partial``), what a hollow one is."""
    notes = ["roofs: each precision's peak over the drawn kernels, Σwork / Σ(work / peak)"]
    if aggregates:
        notes.append("◆ group aggregate: Σwork / Σbytes, Σwork / Σtime")
    if partial:
        notes.append(PARTIAL_NOTE)
    return notes


def not_drawn_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of kernels off the plot (``kernel``, ``range``, ``why``, ``launches``,
    ``time_ns``, ``roof_ns``; null roof: unknown) summed per (kernel, range, why), with their
    % of roof, the most time first."""
    g = df.groupby(["kernel", "range", "why"], sort=False, dropna=False,
                   observed=True)
    out = g.agg(launches=("launches", "sum"), time_ns=("time_ns", "sum"),
                roof_ns=("roof_ns", lambda s: s.sum(min_count=len(s)))).reset_index()
    out["pct_of_roof"] = rl.div(out["roof_ns"], out["time_ns"])
    return out.sort_values("time_ns", ascending=False, kind="stable").reset_index(drop=True)
