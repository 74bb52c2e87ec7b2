"""NVTX ranges from CUPTI's marker records (what ``roofprof trace`` records in each process):
a start record paired with the end record of the same id, per thread. A range never closed
ends at :data:`parsers.stacks.NEVER_CLOSED_NS` (NCCL's API-call ranges without an end are then
left out: :func:`parsers.stacks.without_unended_library_ranges`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from parsers.stacks import NEVER_CLOSED_NS
from roofprof.capture.tracer_records import MARKER_END, MARKER_START


def thread_key(pid: Any, tid: Any) -> int:
    return (int(pid) << 32) | (int(tid) & 0xFFFFFFFF)


def marker_ranges(markers: dict[str, Any]) -> list[tuple[int, str, int, int]]:
    """NVTX ranges (thread key, name, start, end) from CUPTI marker records: a start record
    and the end record of the same id; a range never closed lasts to the end of the run.

    In time order, ended ranges as they end, then those never closed as they began. Where each
    id starts at most once and ends at most once (as CUPTI reports push/pop and start/end
    ranges) records are paired by array; otherwise :func:`marker_ranges_walk` replays them."""
    stamp = np.asarray(markers["timestamp"], dtype=np.int64)
    order = np.argsort(stamp, kind="stable")
    stamp = stamp[order]
    ids = np.asarray(markers["id"], dtype=np.int64)[order]
    flags = np.asarray(markers["flags_"], dtype=np.int64)[order]
    pid = np.asarray(markers["process_id"], dtype=np.int64)[order]
    tid = np.asarray(markers["thread_id"], dtype=np.int64)[order]
    opens = np.flatnonzero(flags & MARKER_START)
    ends = np.flatnonzero(((flags & MARKER_START) == 0) & ((flags & MARKER_END) != 0))
    sid, eid = ids[opens], ids[ends]
    if not len(opens):
        return []  # an end without its start is no range
    by_id = np.argsort(sid, kind="stable")
    sorted_eid = np.sort(eid)
    if (sid[by_id][1:] == sid[by_id][:-1]).any() or (sorted_eid[1:] == sorted_eid[:-1]).any() \
            or pid.min() < 0 or pid.max() >= 2**31:  # an id started or ended twice
        return marker_ranges_walk(markers)
    at = by_id[np.minimum(np.searchsorted(sid, eid, sorter=by_id), len(sid) - 1)]
    paired = (sid[at] == eid) & (opens[at] < ends)  # its start came first: it closes it
    closed, ended = at[paired], ends[paired]  # start index (in opens), end record; by end
    never = np.ones(len(opens), dtype=bool)
    never[closed] = False
    first = opens[np.concatenate([closed, np.flatnonzero(never)])]
    end_ns = np.concatenate([stamp[ended],
                             np.full(int(never.sum()), NEVER_CLOSED_NS, dtype=np.int64)])
    keys = (pid[first] << 32) | (tid[first] & 0xFFFFFFFF)
    names = [str(n) for n in np.asarray(markers["name"], dtype=object)[order][first]]
    return list(zip(keys.tolist(), names, stamp[first].tolist(), end_ns.tolist(), strict=True))


def marker_ranges_walk(markers: dict[str, Any]) -> list[tuple[int, str, int, int]]:
    """:func:`marker_ranges` record by record: an id started again before it ended restarts it."""
    out: list[tuple[int, str, int, int]] = []
    opened: dict[int, tuple[str, int, int, int]] = {}
    order = sorted(range(len(markers["id"])), key=lambda i: int(markers["timestamp"][i]))
    for i in order:
        mid, flags, ts = int(markers["id"][i]), int(markers["flags_"][i]), \
            int(markers["timestamp"][i])
        if flags & MARKER_START:
            opened[mid] = (str(markers["name"][i]), ts, int(markers["process_id"][i]),
                           int(markers["thread_id"][i]))
        elif flags & MARKER_END and mid in opened:
            n, s, p, t = opened.pop(mid)
            out.append((thread_key(p, t), n, s, ts))
    out += [(thread_key(p, t), n, s, NEVER_CLOSED_NS) for n, s, p, t in opened.values()]
    return out
