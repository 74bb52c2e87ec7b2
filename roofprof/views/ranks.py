"""The rank views (:mod:`roofprof.analysis.ranks`) for the terminal: a row per group and rank,
or per group across ranks."""

from __future__ import annotations

import pandas as pd

from roofprof.analysis.reasons import UNJOINED
from roofprof.analysis.roofline import LEVEL_LABELS
from roofprof.views.fmt import duration, intensity, pct
from roofprof.views.tables import PARTIAL_NOTE, bound_text, partial, records
from roofprof.views.texttable import render


def format_ranks(df: pd.DataFrame) -> str:
    """A terminal table of :func:`roofprof.analysis.ranks.per_rank`: per group and rank, time, % of
    roof, intensity, bound, communication share and time over the group's median, the
    straggler marked."""
    level = str(df["level"].iloc[0]) if len(df) else "dram"
    head = ["group", "rank", "kernels", "time", "% roof", f"AI {LEVEL_LABELS.get(level, level)}",
            "bound", "communication", "waited", "vs median", "straggler"]
    rows = [[str(r["group"]), str(r["rank"]), str(r["kernels"]), duration(r["time_ns"]),
             pct(r["pct_of_roof"]), intensity(r["ai"]), bound_text(r),
             pct(r["communication_share"]), duration(r["wait_ns"]),
             "-" if r["vs_median"] is None else f"{r['vs_median']:.3f}x",
             "<- straggler" if r["straggler"] else ""]
            for r in records(df)]
    unknown = [r for r in records(df) if r["bound"] == "unknown" and r.get("reason")]
    reasons = {_counts_cut(str(r["reason"])) for r in unknown}
    if len(unknown) == len(df) > 1 and len(reasons) == 1:  # a timing-only dataset: say it once
        notes = [f"every group on every rank: unknown: {reasons.pop()}"]
    else:
        notes = [f"{r['group']} on rank {r['rank']}: unknown: {r['reason']}" for r in unknown]
    if any(UNJOINED in str(r["reason"]) for r in unknown) and \
            any((r["communication_share"] or 0) > 0 for r in unknown):
        notes.append("a joined rank's collectives have no counters (roofprof record leaves "
                     "NCCL out): add category to --by (--by phase,category) for the other "
                     "kernels' numbers")
    if any(partial(r) for r in records(df)):
        notes.append(PARTIAL_NOTE)
    notes += ["communication: the share of the rank's time in kernels of category "
              "communication (NCCL, other collectives)",
              "waited: the rank's communication time over the least of any rank's: time its "
              "collectives waited for a late peer (where every rank communicated)",
              "straggler: the rank the others waited for (the least communication time), or "
              "where some rank did not communicate, the rank with the most time",
              "vs median: the rank's time over the median over ranks"]
    return render(head, rows, right={1, 2, 3, 4, 5, 7, 8, 9}, notes=notes)


def _counts_cut(reason: str) -> str:
    """A group's reason without its leading "N of N kernels: " (all of them); else as it is."""
    head, sep, rest = reason.partition(" kernels: ")
    n, of, m = head.partition(" of ")
    return rest if sep and of and n.isdigit() and n == m else reason


def format_spread(df: pd.DataFrame) -> str:
    """A terminal table of :func:`roofprof.analysis.ranks.spread`: per group, time over ranks (min,
    median, max), spread (max / median) and the straggler with its excess over the median."""
    head = ["group", "ranks", "min", "median", "max", "spread", "straggler", "by", "excess"]
    rows = [[str(r["group"]), str(r["ranks"]), duration(r["min_ns"]), duration(r["median_ns"]),
             duration(r["max_ns"]), "-" if r["spread"] is None else f"{r['spread']:.3f}",
             "-" if r["straggler"] is None else str(int(r["straggler"])),
             str(r["straggler_by"] or "-"), duration(r["straggler_excess_ns"])]
            for r in records(df)]
    notes = ["straggler by collective wait: the rank with the least communication time (the "
             "others' collectives waited for it); excess: the longest such wait",
             "straggler by time: the rank with the most time (some rank did not communicate); "
             "excess: its time over the median"]
    return render(head, rows, right={1, 2, 3, 4, 5, 6, 8}, notes=notes)
