"""Nsight Systems: its SQLite export (``.sqlite``) and its reports (``.nsys-rep``, exported
with ``nsys export --type sqlite`` where nsys is installed) -> the timing table.

Read according to NVIDIA's documented export schema ("SQLite Export Schema Reference"); tables
are created lazily, so only the kernel table is required:

- ``CUPTI_ACTIVITY_KIND_KERNEL``: ``start``, ``end`` (ns), ``deviceId``, ``contextId``,
  ``streamId``, ``correlationId``, ``globalPid``, ``shortName`` / ``demangledName`` (ids into
  ``StringIds(id, value)``), ``gridX..Z``, ``blockX..Z``, and ``graphNodeId`` / ``graphId``
  where the report has them (``nsys profile --cuda-graph-trace=node``; nsys 2025.3 writes
  ``graphNodeId`` only, so ``graph_id`` is null).
- ``CUPTI_ACTIVITY_KIND_RUNTIME`` (and ``..._DRIVER`` where present): ``correlationId``,
  ``globalTid``, ``start``, ``nameId``: the call that launched each kernel, on which thread.
- ``NVTX_EVENTS``: push/pop ranges are ``eventType`` 59 with ``start``, ``end``, ``globalTid``
  and their name in ``text`` or ``textId``. Start/end ranges (60) are not tied to a thread and
  are not projected.
- ``CUPTI_ACTIVITY_KIND_GRAPH_TRACE`` (``--cuda-graph-trace=graph``, nsys' default):
  ``start``, ``end``, ``deviceId``, ``contextId``, ``streamId``, ``correlationId``,
  ``globalPid``, ``graphId``: a graph replay timed as a whole, without its kernels.
- ``CUDA_GRAPH_NODE_EVENTS`` (``graphNodeId``, ``originalGraphNodeId``, ``globalTid``,
  ``start``): when a graph node was created, on which thread; an instantiated node points to the
  captured one through ``originalGraphNodeId``.

``globalTid`` serialises process and thread: pid = (globalTid >> 24) & 0xFFFFFF, tid =
globalTid & 0xFFFFFF.

Attribution: a kernel takes the NVTX push/pop ranges open on its launching thread at the launch
call (``launch``). With ``--cuda-graph-trace=node`` every replayed kernel carries the
correlation id of its ``cudaGraphLaunch`` (the ranges open at the replay) and its graph node:
where the node's creation event is in the report, the ranges open at its capture follow
(``launch+capture``). With ``--cuda-graph-trace=graph`` (nsys' default) a replay is one graph
record, not kernels: each becomes one row ``[CUDA graph N replay: nodes not recorded]`` with
its measured span and the ranges open at its launch (``duration_from`` = ``replay``, see
``parsers.graph_replays``); its kernels are unknown.

Checked on a real export of a CUDA-graph run (``fixtures/llama_graph_nsys.sqlite``, nsys
2025.3.1 on an H100): the same phases, ops and launches as ``roofprof trace`` of that program.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parsers.format import Format
from parsers.graph_replays import DURATION_FROM, replay_name
from parsers.kernel_names import dims
from parsers.nvidia_tools import find_nsys
from parsers.raw import RawTiming
from parsers.stacks import NEVER_CLOSED_NS, stacks_at, with_capture, without_unended_library_ranges
from roofprof.errors import InputError

SQLITE_MAGIC = b"SQLite format 3\x00"
PUSH_POP = 59
KERNELS = "CUPTI_ACTIVITY_KIND_KERNEL"
GRAPHS = "CUPTI_ACTIVITY_KIND_GRAPH_TRACE"
CALLS = ("CUPTI_ACTIVITY_KIND_RUNTIME", "CUPTI_ACTIVITY_KIND_DRIVER")


def _sniff(head: bytes) -> bool:
    return head.startswith(SQLITE_MAGIC)


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in db.execute(f"PRAGMA table_info({table})")}


def _tables(db: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def read_timing(path: Path) -> RawTiming:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return _read_db(db, path)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a readable SQLite database ({exc}); export the report "
                         "again with: nsys export --type sqlite REPORT.nsys-rep") from None


def _read_db(db: sqlite3.Connection, path: Path) -> RawTiming:
    tables = _tables(db)
    if KERNELS not in tables:
        raise InputError(f"{path}: an SQLite file without the {KERNELS} table: not an Nsight "
                         "Systems export of CUDA kernels; profile with nsys profile -t cuda,nvtx "
                         "and export with nsys export --type sqlite")
    strings: dict[int, str] = {}
    if "StringIds" in tables:
        strings = {int(i): str(v) for i, v in db.execute("SELECT id, value FROM StringIds")}
    cols = _columns(db, KERNELS)
    wanted = ["start", "end", "deviceId", "contextId", "streamId", "correlationId", "globalPid",
              "shortName", "demangledName", "gridX", "gridY", "gridZ", "blockX", "blockY",
              "blockZ", "graphNodeId", "graphId"]
    present = [c for c in wanted if c in cols]
    missing = {"start", "end", "correlationId"} - set(present)
    if missing:
        raise InputError(f"{path}: {KERNELS} lacks {', '.join(sorted(missing))}; not the "
                         "documented Nsight Systems export schema")
    rows = db.execute(f"SELECT {', '.join(present)} FROM {KERNELS}").fetchall()
    replays = _graph_replays(db, tables, present, path)
    if not rows and not replays:
        raise InputError(f"{path}: the report holds no CUDA kernels")
    k = {c: [r[i] for r in rows] + [r.get(c) for r in replays] for i, c in enumerate(present)}
    n = len(rows) + len(replays)
    whole = [False] * len(rows) + [True] * len(replays)
    calls = _calls(db, tables, strings)
    # correlation ids are unique within a process: several processes' kernels are told apart
    # by their globalPid where the export has it
    gpids = k.get("globalPid") or [None] * n
    launch = [calls.get((_pid(g), c)) or (calls.get((None, c)) if g is None else None)
              for g, c in zip(gpids, k["correlationId"], strict=True)]
    nvtx, unended = _nvtx(db, tables, strings)

    def name(col: str) -> list[str | None]:
        return [strings.get(v) if v is not None else None for v in k.get(col, [None] * n)]

    demangled, short = name("demangledName"), name("shortName")
    graph_ids = k["graphId"] if "graphId" in k else \
        [None] * len(rows) + [r["graphId"] for r in replays]
    for i, r in enumerate(replays, start=len(rows)):
        short[i] = demangled[i] = replay_name(r["graphId"])
    gpid = k.get("globalPid", [None] * n)
    data: dict[str, Any] = {
        "kernel": [s or d for s, d in zip(short, demangled, strict=True)],
        "kernel_demangled": [d or s for s, d in zip(short, demangled, strict=True)],
        "process_id": [(lc[0] >> 24) & 0xFFFFFF if lc else
                       ((g >> 24) & 0xFFFFFF if g is not None else None)
                       for lc, g in zip(launch, gpid, strict=True)],
        "thread_id": [lc[0] & 0xFFFFFF if lc else None for lc in launch],
        "device": k.get("deviceId"), "context": k.get("contextId"),
        "stream": k.get("streamId"),
        "start_ns": np.asarray(k["start"], dtype=np.int64),
        "end_ns": np.asarray(k["end"], dtype=np.int64),
        "correlation_id": k["correlationId"],
        "launch_api": [lc[2] if lc else None for lc in launch],
        "graph_node_id": [v or None for v in k.get("graphNodeId", [None] * n)],
        "graph_id": [v or None for v in graph_ids],
        "duration_from": [DURATION_FROM[w] for w in whole],
    }
    for dim in ("grid", "block"):
        if all(f"{dim}{a}" in k for a in "XYZ"):
            data[dim] = [None if w else dims(x, y, z) for x, y, z, w in
                         zip(k[f"{dim}X"], k[f"{dim}Y"], k[f"{dim}Z"], whole, strict=True)]
    data.update(_devices(db, tables, data["device"] or []))
    data = {c: v for c, v in data.items() if v is not None}
    thread = np.asarray([lc[0] if lc else -1 for lc in launch], dtype=np.int64)
    when = np.asarray([lc[1] if lc else 0 for lc in launch], dtype=np.int64)
    stacks = stacks_at(nvtx, thread, when)
    sources = ["launch" if lc else "none" for lc in launch]
    captured = 0
    for i, at in _captures(db, tables, data["graph_node_id"]).items():
        cap = stacks_at(nvtx, np.asarray([at[0]], dtype=np.int64),
                        np.asarray([at[1]], dtype=np.int64))[0]
        stacks[i], sources[i] = with_capture(stacks[i], cap), "launch+capture"
        captured += 1
    nodes = data["graph_node_id"]
    meta = {"format": "nsys-sqlite", "sources": [str(path)], "formats": ["nsys-sqlite"],
            "gpu": sorted({str(v) for v in data.get("device_name") or [] if v is not None}),
            "timing": {"clock": "Nsight Systems session clock (ns)",
                       "graph_node_kernels": sum(v is not None for v in nodes),
                       "graph_replays": {"nodes": "none" if replays else "all",
                                         "node_by_node": _node_replays(data),
                                         "whole": len(replays)},
                       "graph_kernels_with_capture_ranges": captured,
                       "nvtx_unended_library_ranges": unended}}
    return RawTiming(rows=data, stacks=stacks, nvtx_sources=sources, source=str(path),
                     meta=meta)


def _graph_replays(db: sqlite3.Connection, tables: set[str], kernel_columns: list[str],
                   path: Path) -> list[dict[str, Any]]:
    """The graph replays timed as a whole (``GRAPHS``), each as a dict of the kernel table's
    columns it has, and ``graphId`` (None where the export lacks it)."""
    if GRAPHS not in tables:
        return []
    cols = _columns(db, GRAPHS)
    missing = {"start", "end", "correlationId"} - cols
    if missing:
        raise InputError(f"{path}: {GRAPHS} lacks {', '.join(sorted(missing))}; not the "
                         "documented Nsight Systems export schema")
    take = [c for c in dict.fromkeys((*kernel_columns, "graphId"))
            if c in cols and c != "graphNodeId"]
    return [{"graphId": None, **dict(zip(take, r, strict=True))} for r in
            db.execute(f"SELECT {', '.join(take)} FROM {GRAPHS}")]


def _node_replays(data: dict[str, Any]) -> int:
    """Graph replays recorded kernel node by kernel node: distinct launch calls of node kernels."""
    return len({(pid, corr) for pid, corr, node in zip(
        data["process_id"], data["correlation_id"], data["graph_node_id"], strict=True)
        if node is not None})


def _pid(global_id: int | None) -> int | None:
    return None if global_id is None else (int(global_id) >> 24) & 0xFFFFFF


def _calls(db: sqlite3.Connection, tables: set[str], strings: dict[int, str]
           ) -> dict[tuple[int | None, int], tuple[int, int, str | None]]:
    """(pid, correlationId) -> (globalTid, start, API name) of the runtime/driver calls; also
    under (None, correlationId) for kernels without a globalPid."""
    out: dict[tuple[int | None, int], tuple[int, int, str | None]] = {}
    for table in CALLS:
        if table in tables and {"correlationId", "globalTid", "start"} <= _columns(db, table):
            has_name = "nameId" in _columns(db, table)
            sql = f"SELECT correlationId, globalTid, start{', nameId' if has_name else ''} " \
                  f"FROM {table}"
            for r in db.execute(sql):
                call = (int(r[1]), int(r[2]), strings.get(r[3]) if has_name else None)
                out[(_pid(r[1]), int(r[0]))] = call
                out.setdefault((None, int(r[0])), call)
    return out


def _nvtx(db: sqlite3.Connection, tables: set[str], strings: dict[int, str]
          ) -> tuple[Any, dict[str, int]]:
    """The push/pop ranges (thread, name, start, end; never popped: the largest time), and the
    NCCL API ranges left out for want of an end (``without_unended_library_ranges``)."""
    empty = pd.DataFrame({"thread": [], "name": [], "start_ns": [], "end_ns": []})
    if "NVTX_EVENTS" not in tables:
        return empty, {}
    cols = _columns(db, "NVTX_EVENTS")
    if not {"start", "end", "eventType", "globalTid"} <= cols:
        return empty, {}
    text = "text" if "text" in cols else "NULL"
    text_id = "textId" if "textId" in cols else "NULL"
    rows = db.execute(f"SELECT globalTid, {text}, {text_id}, start, end FROM NVTX_EVENTS "
                      f"WHERE eventType = {PUSH_POP}").fetchall()
    ranges = [(int(r[0]), r[1] if r[1] is not None else strings.get(r[2], ""), int(r[3]),
               int(r[4]) if r[4] is not None else NEVER_CLOSED_NS) for r in rows]  # never popped
    kept, unended = without_unended_library_ranges(ranges)
    return pd.DataFrame(kept, columns=list(empty.columns)), unended


def _devices(db: sqlite3.Connection, tables: set[str], devices: list[Any]) -> dict[str, Any]:
    """device_name and cc per kernel from TARGET_INFO_GPU, where the export has it."""
    if "TARGET_INFO_GPU" not in tables:
        return {}
    cols = _columns(db, "TARGET_INFO_GPU")
    key = "cuDevice" if "cuDevice" in cols else "id"
    if not {key, "name"} <= cols:
        return {}
    cc = "computeMajor" in cols and "computeMinor" in cols
    sql = f"SELECT {key}, name{', computeMajor, computeMinor' if cc else ''} FROM TARGET_INFO_GPU"
    info = {r[0]: r for r in db.execute(sql)}
    return {"device_name": [info[d][1] if d in info else None for d in devices],
            "cc": [f"{info[d][2]}.{info[d][3]}" if cc and d in info else None
                   for d in devices]}


def _captures(db: sqlite3.Connection, tables: set[str],
              nodes: list[int | None]) -> dict[int, tuple[int, int]]:
    """Kernel index -> (globalTid, time) of its graph node's capture, where the export says."""
    table = "CUDA_GRAPH_NODE_EVENTS"
    if table not in tables or not any(nodes):
        return {}
    cols = _columns(db, table)
    if not {"graphNodeId", "globalTid", "start"} <= cols:
        return {}
    orig = "originalGraphNodeId" if "originalGraphNodeId" in cols else "NULL"
    created = {int(r[0]): (int(r[1]), int(r[2]), r[3]) for r in db.execute(
        f"SELECT graphNodeId, globalTid, start, {orig} FROM {table}")}
    out: dict[int, tuple[int, int]] = {}
    for i, node in enumerate(nodes):
        event = created.get(node) if node else None
        for _ in range(8):  # an instantiated node -> the node it was cloned from
            if event is None or not event[2] or event[2] not in created:
                break
            event = created[event[2]]
        if event is not None:
            out[i] = (event[0], event[1])
    return out


# ------------------------------------------------------------------------------ .nsys-rep


@contextlib.contextmanager
def exported(report: Path) -> Iterator[Path]:
    """The SQLite export of an .nsys-rep, made by ``nsys export`` in a temporary folder."""
    nsys = find_nsys()
    if nsys is None:
        raise InputError(f"{report}: reading .nsys-rep needs Nsight Systems (nsys), which is not "
                         "installed here; export it where nsys is: nsys export --type sqlite "
                         f"-o {report.with_suffix('.sqlite').name} {report.name}")
    with tempfile.TemporaryDirectory(prefix="roofprof-nsys-") as tmp:
        out = Path(tmp) / (report.stem + ".sqlite")
        argv = [nsys, "export", "--type", "sqlite", "--force-overwrite", "true", "-o", str(out),
                str(report)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise InputError(f"{report}: nsys export failed (exit {done.returncode}): "
                             f"{' | '.join(tail) or 'no output'}")
        yield out


def read_rep_timing(path: Path) -> RawTiming:
    with exported(path) as sqlite_file:
        raw = read_timing(sqlite_file)
    raw.source = str(path)
    raw.meta.update(format="nsys-rep", sources=[str(path)], formats=["nsys-rep"])
    return raw


FORMAT = Format(
    name="nsys-sqlite",
    suffixes=(".sqlite", ".db"),
    sniff=_sniff,
    description="an Nsight Systems SQLite export",
    timing=read_timing,
)

REP_FORMAT = Format(
    name="nsys-rep",
    suffixes=(".nsys-rep", ".qdrep"),
    sniff=lambda head: False,
    description="an Nsight Systems report",
    timing=read_rep_timing,
    by_suffix=True,
)
