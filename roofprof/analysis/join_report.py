"""What a join (``roofprof.analysis.join``) found, and its text: :class:`Match` (where each timed
launch takes its counters from) and its facts: coverage by time (of the run, and of the launches ncu
could have profiled: inside its NVTX ranges and kernel-name filter), the kernels no sample matched,
whose only profiled launch was another template instance, and the signatures whose samples
disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Match:
    """Where each timed launch's counters come from (arrays over the timing rows)."""

    #: 0 none, 1 same launch, 2.. signatures (``join.LEVEL_KEYS``)
    level: np.ndarray
    #: row of the counters (level 1) or of the level's group table (signature levels)
    index: np.ndarray
    #: the counters' measured values (rows of the counters table) and per-group means
    values: list[np.ndarray]
    samples: list[np.ndarray]
    spread: list[np.ndarray]
    #: the key of each level as the rows name it (``join.KEYS``, less ``template`` where
    #: unknown)
    keys: tuple[str, ...] = ()
    #: unmatched launches whose function base name, grid, block and device were profiled, as
    #: another template instance (None: not looked for)
    other_instance: np.ndarray | None = None


def report(m: Match, timing: pd.DataFrame, threshold: float, top: int = 20,
           scope: np.ndarray | None = None) -> dict[str, Any]:
    """The join's facts: coverage by time and launches (also of the launches in ``scope``,
    those ncu could have profiled), unmatched kernels, disagreeing signatures."""
    t = timing["duration_ns"].to_numpy("float64")
    total = float(np.nansum(t)) or 1.0
    signature_levels = list(range(2, len(m.keys) + 1))  # level 1 is the same launch
    kinds = (("launch", [1]), ("signature", signature_levels), ("none", [0]))
    cover = {name: float(np.nansum(t[np.isin(m.level, lv)]) / total) for name, lv in kinds}
    launches = {name: int(np.isin(m.level, lv).sum()) for name, lv in kinds}
    inside: dict[str, Any] | None = None
    if scope is not None:
        within = float(np.nansum(t[scope])) or 1.0
        inside = {"time": float(np.nansum(t[scope])) / total,
                  "coverage_by_time": {name: float(np.nansum(t[scope & np.isin(m.level, lv)]))
                                       / within for name, lv in kinds}}
    miss = m.level == 0
    unmatched: list[dict[str, Any]] = []
    other = m.other_instance if m.other_instance is not None else np.zeros(len(t), dtype=bool)
    if miss.any():
        # the text columns' codes, not a string per row (4M unmatched rows at 10M launches)
        part = timing.loc[miss, ["kernel", "grid", "block"]].reset_index(drop=True)
        part["time_ns"] = t[miss]
        part["other_instance"] = other[miss]
        part["replay"] = (timing["duration_from"].to_numpy()[miss] == "replay") \
            if "duration_from" in timing else False
        g = part.groupby(["kernel", "grid", "block"], observed=True, dropna=False)
        agg = g.agg(size=("time_ns", "size"), sum=("time_ns", "sum"),
                    other=("other_instance", "sum"), replay=("replay", "any"))
        agg = agg.sort_values("sum", ascending=False).head(top)
        unmatched = [{"kernel": str(kern), "grid": None if pd.isna(grid) else str(grid),
                      "block": None if pd.isna(block) else str(block),
                      "launches": int(size), "time_ns": float(total_ns),
                      "other_instance_profiled": int(n_other), "graph_replay": bool(whole)}
                     for (kern, grid, block), size, total_ns, n_other, whole in zip(
                         agg.index, agg["size"], agg["sum"], agg["other"], agg["replay"],
                         strict=True)]
    disagree: list[dict[str, Any]] = []
    for lv in signature_levels:
        rows = np.flatnonzero(m.level == lv)
        if not len(rows):
            continue
        bad = m.spread[lv - 1][m.index[rows]] > threshold
        for g in np.unique(m.index[rows][bad]):
            r = rows[m.index[rows] == g][0]
            disagree.append({"key": m.keys[lv - 1], "kernel": str(timing["kernel"].iloc[r]),
                             "grid": str(timing["grid"].iloc[r]),
                             "block": str(timing["block"].iloc[r]),
                             "device": _plain(timing["device"].iloc[r]),
                             "samples": int(m.samples[lv - 1][g]),
                             "spread": float(m.spread[lv - 1][g]),
                             "launches": int((m.index[rows] == g).sum())})
    disagree.sort(key=lambda d: -d["spread"])
    return {"coverage_by_time": cover, "launches": launches, "in_scope": inside,
            "unmatched": unmatched,
            "unmatched_other_instance": {"launches": int(other.sum()),
                                         "time": float(np.nansum(t[other]) / total)},
            "template_instances": "template" in m.keys[0],
            "disagreeing": disagree[:top], "disagreeing_count": len(disagree),
            "spread_threshold": threshold}


def _plain(value: Any) -> int | None:
    """A device number as JSON writes it (null where unknown)."""
    return None if pd.isna(value) else int(value)
