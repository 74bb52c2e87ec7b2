"""The ranks of a dataset side by side: per rank and group, the group math's numbers, the share
of communication kernels, and how far the rank is from the others.

:func:`per_rank` has one row per group (``by``: phase, op, ...) and rank. Its numbers are the
rows of one summary by ``GROUP,rank`` (given as a function: ``roofprof.datasets.sql.summarize``
out of core on DuckDB, or ``roofprof.analysis.roofline.summarize`` in memory, as
``roofprof.app.engine.summarizer`` chooses): time, kernels, % of roof, intensity, bound (the
verdict), precision and coverage (the share of the time measured: a partial group's numbers
are of that part) are that summary's own columns, never computed again here.
The communication share is the time of the group's kernels on that rank whose ``category``
is ``communication`` (the NCCL and collectives rule of roofprof/rules/categories.toml) over
the rank's time in the group, both ``time_ns`` of the same summaries (a second one by
``GROUP,rank,category``). ``vs_median`` and ``straggler`` come from
:func:`across_ranks` (the straggler rule of ``roofprof ranks --view spread``): the rank's
time over the group's median over ranks, and whether it is the group's straggler.

The straggler is the rank the others wait for. A rank that reaches a collective early waits
inside it: its NCCL kernel runs until the last peer arrives, so its communication time grows
by the wait, and its total time with it. On 2 H200s (examples/tp_llama.py, traced) both ranks
ran 308 µs of other kernels in decode, but rank 1 spent 9.6 ms in all-reduces and rank 0 0.04
ms: rank 0 was late (its host launched later), rank 1 waited. So where every rank of a group
ran communication kernels, the straggler is the rank with the least communication time, and
``wait_ns`` of a rank is its communication time over that least one: how long it waited for
the straggler (summed over the group's collectives; with more than 2 ranks, the late rank of
each collective may differ, and the group's sums blur that). Where some rank ran none, it is
the rank with the most time. ``straggler_by`` says which rule named it. Either way the lowest
rank wins a tie. A group run by one rank, or whose ranks all took the same time (all
communicated as long, where every rank communicated), has no straggler: nobody waited.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from roofprof.analysis.grouping import GROUP_JOIN, parse_by
from roofprof.errors import UsageError, option

#: the category of communication kernels (roofprof/rules/categories.toml)
COMMUNICATION = "communication"
#: columns of :func:`per_rank`'s result
PER_RANK_COLUMNS: tuple[str, ...] = (
    "group", "rank", "kernels", "time_ns", "pct_of_roof", "ai", "work_per_s", "bytes_per_s",
    "bound", "precision", "reason", "coverage", "communication_ns", "communication_share",
    "wait_ns", "vs_median", "straggler", "level")
#: columns of :func:`spread`'s result
SPREAD_COLUMNS: tuple[str, ...] = ("group", "ranks", "min_ns", "median_ns", "max_ns", "spread",
                                   "straggler", "straggler_excess_ns", "straggler_by")
#: ``straggler_by``: the rank with the least communication time (the others waited for it), or
#: the rank with the most time (where some rank of the group ran no communication kernel)
BY_WAIT, BY_TIME = "collective wait", "time"
#: a summary of the dataset by a grouping (``summarize(by)``), on whatever engine reads it
Summarize = Callable[[str], pd.DataFrame]


def _split(df: pd.DataFrame, parts: int) -> pd.DataFrame:
    """The group names of a ``...,rank[,category]`` summary cut into ``g``, ``rank`` (and
    ``category``): the trailing parts, split at the last separators."""
    cut = df["group"].str.rsplit(GROUP_JOIN, n=parts - 1)
    out = df.assign(g=cut.str[0], rank=cut.str[1].astype("int64"))
    return out.assign(category=cut.str[2]) if parts == 3 else out


def per_rank(summarize: Summarize, by: str = "phase") -> pd.DataFrame:
    """One row per group and rank (columns :data:`PER_RANK_COLUMNS`), groups with the most time
    over all ranks first, ranks in order within each; ``summarize`` summarises the dataset by a
    grouping (at the memory level the numbers are wanted at)."""
    per = _with_communication(summarize, by)
    comm_ns = per["communication_ns"].to_numpy(dtype=np.float64)
    time = per["time_ns"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(time > 0, comm_ns / time, np.nan)
    spread = across_ranks(per).set_index("group")
    median = spread.loc[per["g"], "median_ns"].to_numpy(dtype=np.float64)
    straggler = spread.loc[per["g"], "straggler"].to_numpy(dtype=object)
    by_wait = (spread.loc[per["g"], "straggler_by"] == BY_WAIT).to_numpy(dtype=bool)
    least = per.groupby("g")["communication_ns"].transform("min").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        vs_median = np.where(median > 0, time / median, np.nan)
    out = per.assign(group=per["g"], communication_share=share,
                     wait_ns=np.where(by_wait, comm_ns - least, np.nan),
                     vs_median=vs_median,
                     straggler=[bool(pd.notna(s) and int(s) == r)
                                for s, r in zip(straggler, per["rank"], strict=True)])
    order = {g: i for i, g in enumerate(spread.index)}  # across_ranks: most time first
    out = out.assign(_order=out["g"].map(order))
    out = out.sort_values(["_order", "rank"], kind="stable")
    return out[list(PER_RANK_COLUMNS)].reset_index(drop=True)


def spread(summarize: Summarize, by: str = "phase") -> pd.DataFrame:
    """Per group across ranks: min, median and max time, spread and straggler
    (:func:`across_ranks` of the per-rank times)."""
    return across_ranks(_with_communication(summarize, by))


def _with_communication(summarize: Summarize, by: str) -> pd.DataFrame:
    """The summary by ``GROUP,rank`` cut into ``g`` and ``rank``, with ``communication_ns``:
    the time of its communication kernels (from a second summary by ``GROUP,rank,category``;
    0 where it ran none)."""
    cols = parse_by(by)
    if "rank" in cols:
        raise UsageError(f"{option('by')}: the rank views group by rank themselves; give other "
                         f"columns ({option('by')} run: each rank's totals)")
    per = _split(summarize(",".join([*cols, "rank"])), 2)
    cats = _split(summarize(",".join([*cols, "rank", "category"])), 3)
    comm = cats[cats["category"] == COMMUNICATION].set_index(["g", "rank"])["time_ns"]
    key = pd.MultiIndex.from_frame(per[["g", "rank"]])
    # a rank without communication kernels in the group spent none of its time on them
    comm_ns = np.where(key.isin(comm.index), comm.reindex(key).to_numpy(dtype=np.float64), 0.0)
    return per.assign(communication_ns=comm_ns)


def across_ranks(per: pd.DataFrame) -> pd.DataFrame:
    """:func:`spread`'s columns from per-rank times: ``per`` has a row per group ``g`` and
    ``rank`` with its ``time_ns`` and ``communication_ns``: min, median and max time over the
    ranks that ran the group, ``spread`` = max / median, the ``straggler`` (module docstring:
    the least communication time where every rank communicated, else the most time; the
    lowest such rank on a tie) and its excess: the longest wait of another rank for it
    (communication time over the straggler's), or its time over the median; groups with the
    most time first. A rank's time is null where one of its kernels' durations is."""
    rows = []
    for g, part in per.groupby("g", sort=False):
        t = part["time_ns"].to_numpy(dtype=np.float64)
        c = part["communication_ns"].to_numpy(dtype=np.float64)
        rank = part["rank"].to_numpy()
        by: str | None = None
        if np.isnan(t).any():
            med = mx = mn = excess = float("nan")
            straggler = None
        else:
            mn, med, mx = float(t.min()), float(np.median(t)), float(t.max())
            if len(part) > 1 and (c > 0).all():
                straggler, by = int(rank[np.lexsort((rank, c))[0]]), BY_WAIT
                excess = float(c.max() - c.min())
            else:
                straggler, by = int(rank[np.lexsort((rank, -t))[0]]), BY_TIME
                excess = mx - med
            # one rank, or every rank as fast (as much communication): nobody waited
            if len(part) < 2 or (c.max() == c.min() if by == BY_WAIT else mx == mn):
                straggler, by = None, None
        rows.append({"group": g, "ranks": len(part), "min_ns": mn, "median_ns": med,
                     "max_ns": mx, "spread": mx / med if med > 0 else float("nan"),
                     "straggler": straggler, "straggler_excess_ns": excess,
                     "straggler_by": by, "_total": float(np.nansum(t))})
    out = pd.DataFrame(rows)
    out = out.sort_values(["_total", "group"], ascending=[False, True], kind="stable")
    return out[list(SPREAD_COLUMNS)].reset_index(drop=True)
