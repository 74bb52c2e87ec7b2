"""The ranks of a dataset side by side: per rank and group, the group math's numbers, the share
of communication kernels, and how far the rank is from the others.

:func:`per_rank` has one row per group (``--by``: phase, op, ...) and rank. Its numbers are
the rows of one summary by ``GROUP,rank`` (``roofprof.dataset_sql.summarize`` out of core on
DuckDB, or ``roofprof.roofline.summarize`` in memory): time, kernels, % of roof, intensity,
bound (the verdict) and precision are that summary's own columns, never computed again here.
The communication share is the time of the group's kernels on that rank whose ``category``
is ``communication`` (the NCCL and collectives rule of roofprof/rules/categories.toml) over
the rank's time in the group, both ``time_ns`` of the same summaries (a second one by
``GROUP,rank,category``). ``vs_median`` and ``straggler`` come from
:func:`across_ranks` (the straggler rule of ``roofprof ranks --view
spread``): the rank's time over the group's median over ranks, and whether it is the rank
with the most time (the lowest such rank on a tie).
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from roofprof.errors import UsageError
from roofprof.grouping import GROUP_JOIN, parse_by

#: the category of communication kernels (roofprof/rules/categories.toml)
COMMUNICATION = "communication"
#: columns of :func:`per_rank`'s result
PER_RANK_COLUMNS: tuple[str, ...] = (
    "group", "rank", "kernels", "time_ns", "pct_of_roof", "ai", "work_per_s", "bytes_per_s",
    "bound", "precision", "reason", "communication_ns", "communication_share", "vs_median",
    "straggler", "level")
#: columns of :func:`spread`'s result
SPREAD_COLUMNS: tuple[str, ...] = ("group", "ranks", "min_ns", "median_ns", "max_ns", "spread",
                                   "straggler", "straggler_excess_ns")
ENGINES = ("duckdb", "spark", "pandas")


def summaries(directory: str | os.PathLike[str], by: str, level: str = "dram",
              where: str | None = None, engine: str = "duckdb") -> Any:
    """``summarize(by)`` of the dataset's files matching ``where`` on ``engine``: the generated
    query on DuckDB or Spark, or ``roofline.summarize`` of the files read into memory."""
    if engine == "duckdb":
        from roofprof import dataset_sql

        return dataset_sql.summarize(directory, by=by, level=level, where=where)
    if engine == "spark":
        from roofprof import dataset_spark

        return dataset_spark.summarize(directory, by=by, level=level, where=where)
    if engine == "pandas":
        from roofprof import roofline
        from roofprof.trace import read_dataset

        return roofline.summarize(read_dataset(directory, where), by=by, level=level)
    raise UsageError(f"--engine {engine}: the rank views run on {', '.join(ENGINES)}")


def _split(df: pd.DataFrame, parts: int) -> pd.DataFrame:
    """The group names of a ``...,rank[,category]`` summary cut into ``g``, ``rank`` (and
    ``category``): the trailing parts, split at the last separators."""
    cut = df["group"].str.rsplit(GROUP_JOIN, n=parts - 1)
    out = df.assign(g=cut.str[0], rank=cut.str[1].astype("int64"))
    return out.assign(category=cut.str[2]) if parts == 3 else out


def per_rank(directory: str | os.PathLike[str], by: str = "phase", level: str = "dram",
             where: str | None = None, engine: str = "duckdb") -> pd.DataFrame:
    """One row per group and rank (columns :data:`PER_RANK_COLUMNS`), groups with the most time
    over all ranks first, ranks in order within each."""
    import numpy as np

    cols = parse_by(by)
    if "rank" in cols:
        raise UsageError("--by: the rank views group by rank themselves; give other columns "
                         "(--by run: each rank's totals)")
    per = _split(summaries(directory, ",".join([*cols, "rank"]), level, where, engine), 2)
    cats = _split(summaries(directory, ",".join([*cols, "rank", "category"]), level, where,
                            engine), 3)
    comm = cats[cats["category"] == COMMUNICATION].set_index(["g", "rank"])["time_ns"]
    key = pd.MultiIndex.from_frame(per[["g", "rank"]])
    # a rank without communication kernels in the group spent none of its time on them
    comm_ns = comm.reindex(key).to_numpy(dtype=np.float64)
    has_comm = key.isin(comm.index)
    comm_ns = np.where(has_comm, comm_ns, 0.0)
    time = per["time_ns"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(time > 0, comm_ns / time, np.nan)
    spread = across_ranks(per).set_index("group")
    median = spread.loc[per["g"], "median_ns"].to_numpy(dtype=np.float64)
    straggler = spread.loc[per["g"], "straggler"].to_numpy(dtype=object)
    with np.errstate(invalid="ignore", divide="ignore"):
        vs_median = np.where(median > 0, time / median, np.nan)
    out = per.assign(group=per["g"], communication_ns=comm_ns, communication_share=share,
                     vs_median=vs_median,
                     straggler=[bool(pd.notna(s) and int(s) == r)
                                for s, r in zip(straggler, per["rank"], strict=True)])
    order = {g: i for i, g in enumerate(spread.index)}  # across_ranks: most time first
    out = out.assign(_order=out["g"].map(order))
    out = out.sort_values(["_order", "rank"], kind="stable")
    return out[list(PER_RANK_COLUMNS)].reset_index(drop=True)


def spread(directory: str | os.PathLike[str], by: str = "phase", where: str | None = None,
           engine: str = "duckdb") -> pd.DataFrame:
    """Per group across ranks: min, median and max time, spread and straggler
    (:func:`across_ranks` of the per-rank times of ``engine``)."""
    cols = parse_by(by)
    if "rank" in cols:
        raise UsageError("--by: the rank views group by rank themselves; give other columns "
                         "(--by run: each rank's totals)")
    return across_ranks(_split(summaries(directory, ",".join([*cols, "rank"]), where=where,
                                         engine=engine), 2))


def across_ranks(per: pd.DataFrame) -> pd.DataFrame:
    """:func:`spread`'s columns from per-rank times: ``per`` has a row per group ``g`` and
    ``rank`` with its ``time_ns``: min, median and max over the ranks that ran the group,
    ``spread`` = max / median, the ``straggler`` (the rank with the most time; the lowest such
    rank on a tie) and its excess over the median; groups with the most time first. A rank's
    time is null where one of its kernels' durations is."""
    import numpy as np

    rows = []
    for g, part in per.groupby("g", sort=False):
        t = part["time_ns"].to_numpy(dtype=np.float64)
        if np.isnan(t).any():
            med = mx = mn = excess = float("nan")
            straggler = None
        else:
            order = np.lexsort((part["rank"].to_numpy(), -t))
            mn, med, mx = float(t.min()), float(np.median(t)), float(t.max())
            straggler = int(part["rank"].to_numpy()[order[0]])
            excess = mx - med
        rows.append({"group": g, "ranks": len(part), "min_ns": mn, "median_ns": med,
                     "max_ns": mx, "spread": mx / med if med > 0 else float("nan"),
                     "straggler": straggler, "straggler_excess_ns": excess,
                     "_total": float(np.nansum(t))})
    out = pd.DataFrame(rows)
    out = out.sort_values(["_total", "group"], ascending=[False, True], kind="stable")
    return out[list(SPREAD_COLUMNS)].reset_index(drop=True)
