"""What an Nsight Systems export tells about its kernels beyond their own records: their names
(``StringIds``), the calls that launched them (``CUPTI_ACTIVITY_KIND_RUNTIME`` / ``_DRIVER``),
the NVTX ranges open at those calls (``NVTX_EVENTS``), the capture of their CUDA graph node
(``CUDA_GRAPH_NODE_EVENTS``) and their GPU (``TARGET_INFO_GPU``); see ``parsers.nsys_sqlite``
for the schema. Every cell is read by its role (``parsers.nsys_rows``): a row that cannot be
placed (a call without a thread, a range without a start) is left out and counted, a value that
cannot be read is null and counted, in one warning per kind (``parsers.nsys_rows.Findings``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parsers.nsys_rows import (
    BAD,
    CORRELATION,
    DANGLING,
    ID,
    NAME,
    NULL,
    TEXT,
    TIME,
    Findings,
    Rows,
    columns,
    names,
    read_rows,
    shown,
    texts,
)
from parsers.stacks import NEVER_CLOSED_NS, without_unended_library_ranges
from roofprof.errors import InputError

__all__ = ["CALLS", "EXPORT", "PUSH_POP", "Launches", "captures", "devices", "graph_launches",
           "launches", "nvtx_ranges", "read_calls", "read_gpus", "read_strings"]

PUSH_POP = 59
CALLS = ("CUPTI_ACTIVITY_KIND_RUNTIME", "CUPTI_ACTIVITY_KIND_DRIVER")
NODES = "CUDA_GRAPH_NODE_EVENTS"
GPUS = "TARGET_INFO_GPU"
EXPORT = "export the report again with: nsys export --type sqlite REPORT.nsys-rep"
GRAPH_LAUNCHES = ("cudaGraphLaunch", "cuGraphLaunch")


def read_strings(db: sqlite3.Connection, tables: set[str], path: Path,
                 found: Findings) -> dict[int, str]:
    """``StringIds``: id -> text (every name in the export is an id into it)."""
    if "StringIds" not in tables or not {"id", "value"} <= columns(db, "StringIds"):
        raise InputError(f"{path}: no StringIds table (id, value), where an Nsight Systems "
                         f"export keeps every name; kernels cannot be named: {EXPORT}")
    out: dict[int, str] = {}
    tally = found["strings_out"]
    for rowid, i, value, good in db.execute(
            "SELECT rowid, id, value, typeof(id) = 'integer' AND typeof(value) = 'text' "
            "FROM StringIds ORDER BY rowid"):
        if good:
            out[int(i)] = str(value)
        else:
            tally.add(1, [f"row {rowid} (id {_raw(i)}, value {_raw(value)})"] if tally.room()
                      else [])
    return out


def _raw(value: Any) -> str:
    kind = {type(None): "null", int: "integer", float: "real", str: "text"}.get(type(value),
                                                                              "blob")
    return shown(value, kind)


# ---------------------------------------------------------------------------- launch calls


@dataclass
class Launches:
    """Each kernel's launch call, where one matches: its thread (``globalTid``; -1 none), its
    start (0 none) and API name (None unknown); ``found`` where one matched."""

    tid: np.ndarray
    when: np.ndarray
    api: np.ndarray
    found: np.ndarray


def read_calls(db: sqlite3.Connection, tables: set[str], strings: dict[int, str],
               found: Findings) -> pd.DataFrame | None:
    """The launch calls of the runtime and driver tables, in order (pid, corr, tid, start,
    api); None where no table has them (told)."""
    parts = []
    for table in CALLS:
        if table not in tables:
            continue
        have = columns(db, table)
        lacks = {"correlationId", "globalTid", "start"} - have
        if lacks:
            found.note(f"{table} lacks {', '.join(sorted(lacks))}: its calls are not read; "
                       f"{EXPORT}")
            continue
        if "nameId" not in have:
            found.note(f"{table} lacks nameId: launch_api is null; {EXPORT}")
        parts.append(_calls_of(db, table, strings, found))
    if not parts:
        found.note(f"no launch calls ({' or '.join(CALLS)} with correlationId, globalTid and "
                   "start): kernels have no thread, launch API or annotation path; profile "
                   "with nsys profile -t cuda,nvtx")
        return None
    return pd.concat(parts, ignore_index=True)


def _calls_of(db: sqlite3.Connection, table: str, strings: dict[int, str],
              found: Findings) -> pd.DataFrame:
    rows = read_rows(db, table, {"correlationId": CORRELATION, "globalTid": ID, "start": TIME,
                                 "nameId": ID})
    corr, tid, start = rows.get("correlationId"), rows.get("globalTid"), rows.get("start")
    # a call without a correlation id launched nothing that could name it: not a problem
    usable = corr != NULL
    bad = usable & ((corr == BAD) | (tid < 0) | (start < 0))
    rows.left_out(bad, ("correlationId", "globalTid", "start"), found["calls_out"])
    rows = rows.take(usable & ~bad)
    api = rows.references(found.issues, "nameId", strings)
    tid = rows.get("globalTid")
    return pd.DataFrame({"pid": (tid >> 24) & 0xFFFFFF, "corr": rows.get("correlationId"),
                         "tid": tid, "start": rows.get("start"), "api": api})


def launches(calls: pd.DataFrame | None, kernels: Rows, found: Findings) -> Launches:
    """The call that launched each of ``kernels`` (by their globalPid and correlationId): the
    call of that process with that correlation id (the last, as the export lists them), or for
    a kernel without a readable globalPid the first call with that correlation id."""
    n = len(kernels)
    tid, when = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    api = np.full(n, None, dtype=object)
    if calls is None:  # told once, by read_calls()
        return Launches(tid, when, api, np.zeros(n, dtype=bool))
    gpid, corr = kernels.get("globalPid"), kernels.get("correlationId")
    ok = np.zeros(n, dtype=bool)
    if len(calls):
        last = calls.drop_duplicates(["pid", "corr"], keep="last")
        first = calls.drop_duplicates(["corr"], keep="first")
        by_pid = pd.MultiIndex.from_arrays([last["pid"], last["corr"]]).get_indexer(
            pd.MultiIndex.from_arrays([(gpid >> 24) & 0xFFFFFF, corr]))
        by_corr = pd.Index(first["corr"]).get_indexer(corr)
        has_pid = gpid >= 0
        ok = np.where(has_pid, by_pid, by_corr) >= 0
        picked = np.where(has_pid, last.index.to_numpy()[np.maximum(by_pid, 0)],
                          first.index.to_numpy()[np.maximum(by_corr, 0)])[ok]
        tid[ok] = calls["tid"].to_numpy()[picked]
        when[ok] = calls["start"].to_numpy()[picked]
        api[ok] = calls["api"].to_numpy()[picked]
    missing = np.flatnonzero(~ok)
    found["unlaunched"].add(len(missing), [
        f"{kernels.label(p)}, globalPid {_code(gpid[p])}" if corr[p] >= 0 else
        f"{kernels.label(p)}: correlationId {_code(corr[p])}" for p in missing[:5].tolist()])
    return Launches(tid, when, api, ok)


def graph_launches(db: sqlite3.Connection, tables: set[str], strings: dict[int, str]) -> int:
    """How many CUDA graph launch calls the export has."""
    ids = [i for i, s in strings.items() if s.startswith(GRAPH_LAUNCHES)]
    if not ids:
        return 0
    marks = ",".join(map(str, ids))
    return sum(int(db.execute(f"SELECT COUNT(*) FROM {t} WHERE nameId IN ({marks})"
                              ).fetchone()[0])
               for t in CALLS if t in tables and "nameId" in columns(db, t))


def _code(value: int) -> str:
    return "NULL" if value == NULL else "unreadable" if value == BAD else str(value)


# -------------------------------------------------------------------------------- NVTX


def nvtx_ranges(db: sqlite3.Connection, tables: set[str], strings: dict[int, str],
                found: Findings) -> tuple[pd.DataFrame, dict[str, int], dict[str, int]]:
    """The push/pop ranges (thread, name, start, end; one never popped ends at the largest
    time), the NCCL API ranges left out for want of an end
    (``without_unended_library_ranges``), and the other ranges never popped (name: count)."""
    empty = pd.DataFrame({"thread": [], "name": [], "start_ns": [], "end_ns": []})
    if "NVTX_EVENTS" not in tables:  # nsys writes it only where the program used NVTX
        return empty, {}, {}
    have = columns(db, "NVTX_EVENTS")
    lacks = {"start", "end", "eventType", "globalTid"} - have
    if lacks:
        found.note(f"NVTX_EVENTS lacks {', '.join(sorted(lacks))}: no annotation range is "
                   f"read, kernels have no annotation path; {EXPORT}")
        return empty, {}, {}
    if not {"text", "textId"} & have:
        found.note(f"NVTX_EVENTS has neither text nor textId: annotation ranges are unnamed; "
                   f"{EXPORT}")
    # a push/pop range, or a row whose kind cannot be read
    where = f"eventType = {PUSH_POP} OR NOT (typeof(eventType) = 'integer' AND eventType >= 0)"
    rows = read_rows(db, "NVTX_EVENTS", {"eventType": ID, "globalTid": ID, "start": TIME,
                                         "end": TIME, "text": NAME, "textId": ID}, where)
    name = _range_names(rows, where, strings, found)
    start, end = rows.get("start"), rows.get("end")
    kind = rows.get("eventType") != PUSH_POP
    bad = kind | (rows.get("globalTid") < 0) | (start < 0) | (end == BAD) | \
        ((end >= 0) & (end < start))
    _ranges_out(rows, name, bad, found)
    keep = ~bad
    end = np.where(end == NULL, NEVER_CLOSED_NS, end)  # never popped: open to the end
    ranges = list(zip(rows.get("globalTid")[keep].tolist(), name[keep].tolist(),
                      start[keep].tolist(), end[keep].tolist(), strict=True))
    kept, library = without_unended_library_ranges(ranges)
    unended: dict[str, int] = {}
    for r in kept:
        if r[3] == NEVER_CLOSED_NS:
            unended[r[1]] = unended.get(r[1], 0) + 1
    return pd.DataFrame(kept, columns=list(empty.columns)), library, unended


def _range_names(rows: Rows, where: str, strings: dict[int, str],
                 found: Findings) -> np.ndarray:
    """Each range's name: its ``text``, else the string its ``textId`` names, else "" (a range
    pushed without a message); an unreadable text or id is told."""
    name = np.full(len(rows), "", dtype=object)
    has_text = rows.get("text") == TEXT
    if "text" in rows.codes:
        name[has_text] = texts(rows, "text", where)[has_text]
        rows.report(found.issues, np.flatnonzero(rows.codes["text"] == BAD), "text")
    if "textId" in rows.codes:
        by_id, dangling = names(rows.codes["textId"], strings)
        use = ~has_text & (rows.codes["textId"] >= 0) & ~dangling
        name[use] = by_id[use]
        rows.report(found.issues, np.flatnonzero(~has_text & (rows.codes["textId"] == BAD)),
                    "textId")
        rows.report(found.issues, np.flatnonzero(~has_text & dangling), "textId", DANGLING)
    return name


def _ranges_out(rows: Rows, name: np.ndarray, bad: np.ndarray, found: Findings) -> None:
    """Count the ranges ``bad``, describing the first few: name, raw start and end, why."""
    tally = found["ranges_out"]
    where = np.flatnonzero(bad)
    said = []
    for p in where[:tally.room()].tolist():
        start, end = rows.raw(p, "start"), rows.raw(p, "end")
        said.append(f"{shown(name[p], 'text')!r} (row {int(rows.rowid[p])}: start {start}, "
                    f"end {end}: {_range_fault(rows, p)})")
    tally.add(len(where), said)


def _range_fault(rows: Rows, p: int) -> str:
    """Why the range at ``p`` cannot be placed."""
    if rows.get("eventType")[p] != PUSH_POP:
        return f"its kind is unknown ({rows.said(p, 'eventType')})"
    if rows.get("globalTid")[p] < 0:
        return f"no thread ({rows.said(p, 'globalTid')})"
    if rows.get("start")[p] < 0:
        return "the start is not a time"
    if rows.get("end")[p] == BAD:
        return "the end is not a time"
    return "it ends before it starts"


# ----------------------------------------------------------------------- graph node capture


def captures(db: sqlite3.Connection, tables: set[str], nodes: np.ndarray, kernels: Rows,
             found: Findings) -> dict[int, tuple[int, int]]:
    """Kernel position -> (globalTid, time) of its graph node's creation (``nodes``: each
    kernel's graphNodeId code, a value where it is a graph node kernel)."""
    wanted = np.flatnonzero(nodes > 0)
    if not len(wanted):
        return {}
    created: dict[int, tuple[int, int, int]] = {}
    if NODES in tables and {"graphNodeId", "globalTid", "start"} <= columns(db, NODES):
        created = _creations(db, found)
    elif NODES in tables:
        found.note(f"{NODES} lacks graphNodeId, globalTid or start: graph node captures are "
                   f"not read; {EXPORT}")
    ids, inverse = np.unique(nodes[wanted], return_inverse=True)
    at: list[tuple[int, int] | None] = []
    for node in ids.tolist():
        event = created.get(node)
        for _ in range(8):  # an instantiated node -> the node it was cloned from
            if event is None or not event[2] or event[2] not in created:
                break
            event = created[event[2]]
        at.append(None if event is None else (event[0], event[1]))
    out: dict[int, tuple[int, int]] = {}
    missing = []
    for i, j in zip(wanted.tolist(), inverse.tolist(), strict=True):
        if (event := at[j]) is not None:
            out[i] = event
        else:
            missing.append(i)
    found["uncaptured"].add(len(missing), [
        f"{kernels.label(p)}, graphNodeId {int(nodes[p])}" for p in missing[:5]])
    return out


def _creations(db: sqlite3.Connection, found: Findings) -> dict[int, tuple[int, int, int]]:
    """graphNodeId -> (globalTid, start, originalGraphNodeId or 0) of each node creation."""
    rows = read_rows(db, NODES, {"graphNodeId": ID, "globalTid": ID, "start": TIME,
                                 "originalGraphNodeId": ID})
    node, orig = rows.get("graphNodeId"), rows.get("originalGraphNodeId")
    bad = (node < 0) | (rows.get("globalTid") < 0) | (rows.get("start") < 0) | (orig == BAD)
    rows.left_out(bad, ("graphNodeId", "globalTid", "start", "originalGraphNodeId"),
                  found["nodes_out"], nullable=("originalGraphNodeId",))
    keep = ~bad
    return {n: (t, s, max(o, 0)) for n, t, s, o in zip(
        node[keep].tolist(), rows.get("globalTid")[keep].tolist(),
        rows.get("start")[keep].tolist(), orig[keep].tolist(), strict=True)}


# ---------------------------------------------------------------------------------- GPUs


def read_gpus(db: sqlite3.Connection, tables: set[str],
         found: Findings) -> dict[int, tuple[str | None, str | None]] | None:
    """Device id -> (name, compute capability) from TARGET_INFO_GPU (the last row of each
    device); None where the export lacks it (told)."""
    if GPUS not in tables:
        found.note(f"no {GPUS} table: device_name and cc are null; {EXPORT}")
        return None
    have = columns(db, GPUS)
    key = "cuDevice" if "cuDevice" in have else "id"
    if not {key, "name"} <= have:
        found.note(f"{GPUS} lacks {key} or name: device_name and cc are null; {EXPORT}")
        return None
    rows = read_rows(db, GPUS, {key: ID, "name": NAME, "computeMajor": ID, "computeMinor": ID})
    bad = rows.get(key) < 0
    rows.left_out(bad, (key,), found["gpus_out"])
    rows = rows.take(~bad)
    name = texts(rows, "name")
    rows.report(found.issues, np.flatnonzero(rows.get("name") < 0), "name")
    major, minor = rows.get("computeMajor"), rows.get("computeMinor")
    has_cc = {"computeMajor", "computeMinor"} <= have
    if has_cc:
        for col in ("computeMajor", "computeMinor"):
            rows.report(found.issues, np.flatnonzero(rows.codes[col] < 0), col)
    return {d: (n, f"{a}.{b}" if has_cc and a >= 0 and b >= 0 else None) for d, n, a, b in zip(
        rows.get(key).tolist(), name.tolist(), major.tolist(), minor.tolist(), strict=True)}


def devices(info: dict[int, tuple[str | None, str | None]] | None, kernels: Rows,
            found: Findings) -> dict[str, list[str | None]]:
    """device_name and cc of each of ``kernels`` (by deviceId); {} where the export lacks
    TARGET_INFO_GPU or the kernels their deviceId."""
    if info is None or "deviceId" not in kernels.codes:
        return {}
    device = kernels.codes["deviceId"]
    unknown = np.flatnonzero((device >= 0) & ~np.isin(device, list(info)))
    found["no_gpu"].add(len(unknown), [f"{kernels.label(p)}, deviceId {int(device[p])}"
                                       for p in unknown[:5].tolist()])
    looked = [info.get(d, (None, None)) for d in device.tolist()]
    return {"device_name": [v[0] for v in looked], "cc": [v[1] for v in looked]}
