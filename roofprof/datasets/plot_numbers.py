"""What a roofline plot of a dataset needs, out of core on DuckDB, in bounded memory.

:func:`plot_numbers` reads a dataset (its files matching ``--where``) with a few queries, all
built on the per-kernel relation of :func:`roofprof.datasets.sql.kernel_sql` (the one
generated form of ``roofline.kernel_numbers``):

* the groups: :func:`roofprof.datasets.sql.summarize_view`, the query ``roofprof summary``
  runs, at the first level (every aggregate number) and at each further level (its
  intensity ``ai``, where the aggregate sits at that level);
* a tally per (group, kernel name, and for kernels off the plot their range and why): counts
  and time, and the sums that set the roofs and slopes over the drawable kernels
  (``roofline.effective_peaks``: sum W_p and sum W_p / P_p per precision;
  ``roofline.effective_bandwidth``: sum B and sum B / BW per level). The labels (kernel names
  with the most drawable time), the subtitle's counts and the not-drawn table (at most
  :data:`NOT_DRAWN_ROWS` rows) come from it. Its size is the number of distinct names, not of
  kernels;
* the points: the ``k`` longest drawable launches of each kernel name in each group
  (DuckDB's top-N ``max_by``), ``k`` as large as ``max_points`` allows (at least 1), so every
  kind of kernel is seen and memory stays bounded whatever the dataset's size.

A drawable kernel is one the in-memory plot places (``chart.scene.placed_kernels``): work and
bytes above 0, a duration and a known time at the roof. The points come back as rows of the
kernel table, so the plot computes their numbers with ``roofline.kernel_numbers`` itself.
tests/test_dataset_plot.py checks the resulting scene against the in-memory one on every
fixture.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from roofprof.analysis.grouping import GROUP_JOIN, parse_by
from roofprof.analysis.roofline import BYTES_COLUMNS, PEAK_BW_COLUMNS, level_of
from roofprof.datasets.reasons import flag_texts
from roofprof.datasets.sql import (
    DUCKDB,
    Dataset,
    connect,
    group_parts,
    kernel_sql,
    summarize_view,
    view_columns,
)
from roofprof.errors import UsageError
from roofprof.tables.metrics import PRECISIONS

#: rows of the not-drawn table at most (the rest are summed into one row)
NOT_DRAWN_ROWS = 1000
#: the kernel table's columns a drawn point needs (its numbers at every level, its names)
POINT_COLUMNS: tuple[str, ...] = (
    "duration_ns", "flop", "cc", "kernel", "range", "phase", "op", "category",
    *(c for pair in PRECISIONS.values() for c in pair),
    *BYTES_COLUMNS.values(), *PEAK_BW_COLUMNS.values())
#: a kernel's identity in the ``kernels`` view (``dataset_sql.connect(row_ids=True)``)
ROW_ID: tuple[str, ...] = ("filename", "file_row_number")
_PLACED = ("COALESCE(work > 0 AND bytes > 0 AND dur IS NOT NULL AND roof_ns IS NOT NULL, "
           "FALSE)")
_NO_FLOPS = "COALESCE(work = 0, FALSE)"
_UNKNOWN = "(roof_ns IS NULL OR dur IS NULL)"
_NO_FLOPS_WHY = "no FLOPs: judged by bandwidth"


@dataclass
class PlotNumbers:
    """A dataset's plot, as numbers (module doc)."""

    #: ``roofprof summary`` at the first level, its rows in the in-memory group order
    summary: pd.DataFrame
    #: each summary row's group parts (one per column of ``by``)
    parts: list[tuple[str, ...]]
    #: each summary row's intensity at each level
    intensity: dict[str, list[float]]
    kernels: int
    total_ns: float
    #: each precision's roof over the drawable kernels (``roofline.effective_peaks``)
    peaks: dict[str, float]
    #: each level's bandwidth over the drawable kernels (``roofline.effective_bandwidth``)
    bandwidths: dict[str, float | None]
    #: (count, time) of kernels off the plot: without FLOPs, counters missing, other
    off: list[tuple[int, float]]
    drawable: int
    drawable_ns: float
    #: the drawn kernels, in file order: rows of the kernel table with ``group`` (its name)
    points: pd.DataFrame
    #: the longest launches drawn of each kernel name in each group
    per_kernel: int
    #: (group, kernel name) pairs with drawable kernels, and how many of them are drawn
    pairs: int
    pairs_drawn: int
    #: label candidates: index kernel name, ``sum`` (time), ``size`` (launches), ``idxmax``
    #: (the row of ``points`` of its longest launch)
    labels: pd.DataFrame
    # : ``roofprof.views.chart.captions.not_drawn_rows`` input: kernel, range, why, launches,
    # time_ns, roof_ns,
    #: and ``reason``, the kernels' own (``roofline.kernel_numbers``)
    not_drawn: pd.DataFrame
    gpus: list[str] = field(default_factory=list)


def plot_numbers(directory: str | os.PathLike[str], by: str = "range",
                 levels: tuple[str, ...] = ("dram",), where: str | None = None,
                 max_points: int = 20_000, label_top: int = 5,
                 threads: int | None = None, memory_limit: str | None = None) -> PlotNumbers:
    """The numbers of the roofline plot of the dataset at ``directory`` (module doc): at most
    ``max_points`` points over all levels (or one per kernel name and group, where there are
    more such pairs than that: then the pairs with the most time)."""
    if not levels:
        raise UsageError("give at least one memory level (dram, l2, l1)")
    for lvl in levels:
        level_of(lvl)
    cols = parse_by(by)
    con = connect(directory, where, threads, memory_limit, row_ids=True)
    files = con.files
    try:
        columns = view_columns(con)
        summary, parts = _groups(con, cols, columns, files,
                                 summarize_view(con, by, levels[0]))
        names = [str(g) for g in summary["group"]]
        intensity = {levels[0]: summary["ai"].tolist()}
        for lvl in levels[1:]:
            ai = summarize_view(con, by, lvl).set_index("group")["ai"]
            intensity[lvl] = [float(ai.get(g, float("nan"))) for g in names]
        carry = tuple(c for c in (*POINT_COLUMNS, *ROW_ID) if c in columns)
        ctes = kernel_sql("kernels", cols, levels[0], columns, DUCKDB, levels, carry)
        kname = "COALESCE(CAST(c_kernel AS VARCHAR), '?')" if "kernel" in carry else "'?'"
        ctes += f",\nkp AS (SELECT *, {_PLACED} AS placed, {kname} AS kname FROM k4)"
        tally = _tally(con, ctes, levels, "range" in carry)
        drawable = tally[tally["placed"]]
        pairs = drawable.groupby(["g", "kernel"], sort=False)["time_ns"].sum()
        budget = max(1, max_points // len(levels))
        per_kernel = max(1, budget // max(len(pairs), 1))
        points = _points(con, ctes, carry, per_kernel) if len(pairs) else pd.DataFrame()
        gpus = [str(r[0]) for r in con.rows(
            "SELECT DISTINCT device_name FROM kernels WHERE device_name IS NOT NULL "
            "ORDER BY 1 LIMIT 4")] if "device_name" in columns else []
    finally:
        con.close()
    labels = drawable.groupby("kernel", sort=False).agg(sum=("time_ns", "sum"),
                                                        size=("n", "sum"))
    labels = labels.reset_index().sort_values(["sum", "kernel"], ascending=[False, True],
                                              kind="stable").head(max(label_top, 0))
    labels = labels.set_index("kernel")
    points, kept = _bounded(points, pairs, budget, list(labels.index), files)
    if len(points):
        at = points.groupby(points["kernel"].fillna("?").map(str) if "kernel" in points
                            else pd.Series("?", index=points.index))["duration_ns"].idxmax()
        labels["idxmax"] = [int(at[n]) for n in labels.index]
    sums = tally.sum(numeric_only=True, min_count=1)
    peaks = {}
    for i, p in enumerate(PRECISIONS):
        w, t = _zero(sums.get(f"rw{i}")), _zero(sums.get(f"rt{i}"))
        if t > 0:
            peaks[p] = w / t
    bandwidths: dict[str, float | None] = {}
    for lvl in levels:
        b, m = _zero(sums.get(f"sb_{lvl}")), _zero(sums.get(f"sm_{lvl}"))
        bandwidths[lvl] = b / (m * 1e-9) if m > 0 else None
    off_rows = tally[~tally["placed"]]
    masks = (off_rows["no_flops"], off_rows["unknown"],
             ~off_rows["no_flops"] & ~off_rows["unknown"])
    off = [(int(off_rows.loc[m, "n"].sum()), float(off_rows.loc[m, "time_ns"].sum()))
           for m in masks]
    return PlotNumbers(
        summary=summary, parts=parts, intensity=intensity, kernels=int(tally["n"].sum()),
        total_ns=float(tally["time_ns"].sum()), peaks=peaks, bandwidths=bandwidths, off=off,
        drawable=int(drawable["n"].sum()), drawable_ns=float(drawable["time_ns"].sum()),
        points=points, per_kernel=per_kernel, pairs=len(pairs), pairs_drawn=kept,
        labels=labels, not_drawn=_not_drawn(off_rows, levels[0]), gpus=gpus)


def _zero(x: Any) -> float:
    return 0.0 if x is None or pd.isna(x) else float(x)


def _tally(con: Dataset, ctes: str, levels: tuple[str, ...], has_range: bool) -> pd.DataFrame:
    """One pass: per group, drawable or not, kernel name (and for kernels off the plot their
    range and why): counts, time, time at the roof, and the roof and slope sums."""
    def when(cond: str, x: str) -> str:
        return f"SUM(CASE WHEN {cond} THEN {x} END)"

    rng = "COALESCE(CAST(c_range AS VARCHAR), '')" if has_range else "''"
    out = ["g", "placed", "kname AS kernel", f"CASE WHEN placed THEN '' ELSE {rng} END AS range",
           f"{_NO_FLOPS} AS no_flops", f"{_UNKNOWN} AS unknown",
           "CASE WHEN placed THEN 0 ELSE flags END AS flags",
           "COUNT(*) AS n", "COALESCE(SUM(dur), 0.0) AS time_ns",
           "CASE WHEN COUNT(roof_ns) < COUNT(*) THEN NULL ELSE SUM(roof_ns) END AS roof_ns"]
    for i in range(len(PRECISIONS)):  # roofline.effective_peaks over the drawable kernels
        ok = f"placed AND w{i} > 0 AND pk{i} > 0"
        out += [f"{when(ok, f'w{i}')} AS rw{i}", f"{when(ok, f'w{i} / pk{i}')} AS rt{i}"]
    for lvl in levels:  # roofline.effective_bandwidth over the drawable kernels
        ok = f"placed AND xb_{lvl} IS NOT NULL AND xm_{lvl} > 0"
        out += [f"{when(ok, f'xb_{lvl}')} AS sb_{lvl}", f"{when(ok, f'xm_{lvl}')} AS sm_{lvl}"]
    df = con.df(f"{ctes}\nSELECT {', '.join(out)} FROM kp GROUP BY ALL")
    for col in ("placed", "no_flops", "unknown"):
        df[col] = df[col].astype(bool)
    return df


def _points(con: Dataset, ctes: str, carry: tuple[str, ...], k: int) -> pd.DataFrame:
    """The ``k`` longest drawable launches of each kernel name in each group, as rows of the
    kernel table with their group's name."""
    point = "{" + ", ".join(f"'{c}': {DUCKDB.q('c_' + c)}" for c in carry) + "}"
    return con.df(
        f"{ctes},\ntop AS (SELECT g, max_by({point}, dur, {int(k)}) AS top FROM kp "
        "WHERE placed GROUP BY g, kname)\n"
        "SELECT g AS \"group\", unnest(top, recursive := true) FROM top")


def _bounded(points: pd.DataFrame, pairs: pd.Series, budget: int, label_names: list[str],
             files: list[str]) -> tuple[pd.DataFrame, int]:
    """The points in file order, and how many (group, kernel name) pairs they show: all, or
    where there are more pairs than ``budget`` points, the pairs with the most time and the
    labelled names' longest launches."""
    if not len(points):
        return points, 0
    kept = len(pairs)
    if len(pairs) > budget:
        top = pairs.sort_values(ascending=False, kind="stable").head(budget)
        name = points["kernel"].fillna("?").map(str) if "kernel" in points \
            else pd.Series("?", index=points.index)
        keep = pd.MultiIndex.from_arrays([points["group"], name]).isin(top.index)
        for label in label_names:
            mine = points.index[name == label]
            if len(mine):
                keep[points.index.get_loc(points.loc[mine, "duration_ns"].idxmax())] = True
        points = points[keep]
        kept = len(top)
    order = {f: i for i, f in enumerate(files)}
    if set(ROW_ID) <= set(points.columns):
        points = points.assign(_file=points["filename"].map(order))
        points = points.sort_values(["_file", "file_row_number"], kind="stable")
        points = points.drop(columns="_file")
    return points.reset_index(drop=True), kept


def _not_drawn(off: pd.DataFrame, level: str) -> pd.DataFrame:
    """The kernels off the plot per (kernel, range, why, reason); beyond
    :data:`NOT_DRAWN_ROWS` rows, the rest summed as one."""
    df = off.copy()
    texts = flag_texts(df["flags"], level) if len(df) else []
    df["reason"] = pd.Series(texts, index=df.index, dtype=object)
    df["why"] = [_NO_FLOPS_WHY if nf else (t or "no bytes or time counted")
                 for nf, t in zip(df["no_flops"], texts, strict=True)]
    df = df.rename(columns={"n": "launches"})
    df = df.groupby(["kernel", "range", "why", "reason"], sort=False, dropna=False).agg(
        launches=("launches", "sum"), time_ns=("time_ns", "sum"),
        roof_ns=("roof_ns", lambda s: s.sum(min_count=len(s)))).reset_index()
    df = df.sort_values(["time_ns", "kernel", "range"], ascending=[False, True, True],
                        kind="stable").reset_index(drop=True)
    if len(df) > NOT_DRAWN_ROWS:
        rest = df.iloc[NOT_DRAWN_ROWS:]
        df = pd.concat([df.head(NOT_DRAWN_ROWS), pd.DataFrame([{
            "kernel": f"({len(rest):,} more kernel names and ranges)", "range": "",
            "why": "each with less time than the rows above", "reason": None,
            "launches": int(rest["launches"].sum()), "time_ns": float(rest["time_ns"].sum()),
            "roof_ns": float("nan")}])], ignore_index=True)
    return df[["kernel", "range", "why", "launches", "time_ns", "roof_ns", "reason"]]


def _groups(con: Dataset, by: tuple[str, ...], columns: dict[str, str], files: list[str],
            summary: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, ...]]]:
    """The summary's rows in the order ``roofprof.analysis.grouping`` numbers groups in memory
    (first kernel in file order, then row order: colours of groups with equal time follow it), and
    each group's parts (from the name columns: a name may hold the joiner)."""
    exprs = group_parts(by, columns, DUCKDB)
    names = ", ".join(f"p{i}" for i in range(len(exprs)))
    rows = con.rows(
        f"SELECT {names}, filename, MIN(file_row_number) FROM (SELECT "
        + ", ".join(f"{e} AS p{i}" for i, e in enumerate(exprs))
        + f", filename, file_row_number FROM kernels) GROUP BY {names}, filename")
    order = {f: i for i, f in enumerate(files)}
    first: dict[tuple[str, ...], tuple[int, int]] = {}
    for r in rows:
        key, at = tuple(str(x) for x in r[:len(exprs)]), (order.get(r[-2], len(order)), r[-1])
        first[key] = min(first.get(key, at), at)
    by_name = {GROUP_JOIN.join(k): k for k in sorted(first, key=lambda k: first[k])}
    index = {n: i for i, n in enumerate(by_name)}
    ranked = summary.assign(_at=[index.get(str(g), len(index)) for g in summary["group"]])
    ranked = ranked.sort_values("_at", kind="stable").drop(columns="_at").reset_index(drop=True)
    return ranked, [by_name.get(str(g)) or (str(g),) for g in ranked["group"]]
