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

Nothing in the file is trusted (SQLite lets any cell hold anything): every cell is read by its
column's role (``parsers.nsys_rows``, ``parsers.nsys_links``). A kernel record without a usable
start is left out; one without a usable end (missing, not a time, not after its start) keeps
its start with its duration unknown (``duration_ns`` null, ``end_ns`` its start); an unreadable
id, name or launch dimension, or an id that names nothing, is null. Launch calls, NVTX ranges
(one ending before it starts included) and graph node creations that cannot be placed are left
out. Each kind is counted in one DataWarning per file, naming table, row, column and raw value
(an error under ``--strict``). A range never popped stays open to the end of the trace, as it
always did (the program was inside it when profiling stopped), and is counted by name in
``meta["timing"]["nvtx_unended_ranges"]``. A table or column the reader needs is one
InputError where it is missing; an optional one is null, and told. An export cut short is
refused (SQLite would read its missing pages as zeros).

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
from parsers.nsys_links import (
    EXPORT,
    captures,
    devices,
    graph_launches,
    launches,
    nvtx_ranges,
    read_calls,
    read_gpus,
    read_strings,
)
from parsers.nsys_rows import (
    BAD,
    CORRELATION,
    DIM,
    ID,
    NULL,
    TIME,
    Findings,
    Role,
    Rows,
    columns,
    read_rows,
)
from parsers.nvidia_tools import find_nsys
from parsers.raw import RawTiming
from parsers.stacks import Stack, stacks_at, with_capture
from roofprof.errors import InputError
from roofprof.tables.checks import Issues

SQLITE_MAGIC = b"SQLite format 3\x00"
KERNELS = "CUPTI_ACTIVITY_KIND_KERNEL"
GRAPHS = "CUPTI_ACTIVITY_KIND_GRAPH_TRACE"
#: what each column of a kernel record holds
ROLES: dict[str, Role] = {
    "start": TIME, "end": TIME, "deviceId": ID, "contextId": ID, "streamId": ID,
    "correlationId": CORRELATION, "globalPid": ID, "graphId": ID, "shortName": ID,
    "demangledName": ID, "gridX": DIM, "gridY": DIM, "gridZ": DIM, "blockX": DIM,
    "blockY": DIM, "blockZ": DIM, "graphNodeId": ID}
#: the columns of a graph replay timed as a whole that the reader takes
REPLAY_COLUMNS = ("start", "end", "deviceId", "contextId", "streamId", "correlationId",
                  "globalPid", "graphId")
#: the columns nsys' schema lets be NULL (no launch call, process, graph node or graph; a graph
#: replay's graphId is never NULL)
NULLABLE = frozenset({"correlationId", "globalPid", "graphNodeId", "graphId"})
REQUIRED = ("start", "end", "correlationId")
#: the kernel columns whose absence is told (graphNodeId and graphId come with graph tracing;
#: nsys 2025.3 writes no graphId)
EXPECTED = ("deviceId", "contextId", "streamId", "globalPid", "shortName", "demangledName",
            "gridX", "gridY", "gridZ", "blockX", "blockY", "blockZ")


def _sniff(head: bytes) -> bool:
    return head.startswith(SQLITE_MAGIC)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def read_timing(path: Path) -> RawTiming:
    return _read_export(path, path)


def _read_export(path: Path, name: Path) -> RawTiming:
    """The export ``path``; its messages name ``name`` (the report it was exported from)."""
    _whole(path, name)
    try:  # read-only; as_uri() escapes what a URI would read in a name ("#", "?", "%")
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return _read_db(db, name)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{name}: not a readable SQLite database ({exc}); export the report "
                         "again with: nsys export --type sqlite REPORT.nsys-rep") from None


def _whole(path: Path, name: Path) -> None:
    """Refuse an export cut short: SQLite reads a missing page as zeros, which can pass for
    data, so the file must be as long as its header says (page size x page count, where the
    header's count is valid: its version number matches its change counter)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return  # sqlite3 says why
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC) or head[24:28] != head[92:96]:
        return
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    want = page * int.from_bytes(head[28:32], "big")
    have = path.stat().st_size
    if have < want:
        raise InputError(f"{name}: not a readable SQLite database (cut short: {have} of its "
                         f"{want} bytes); copy it again, or export the report again with: nsys "
                         "export --type sqlite REPORT.nsys-rep")


def _read_db(db: sqlite3.Connection, path: Path) -> RawTiming:
    tables = _tables(db)
    if KERNELS not in tables:
        raise InputError(f"{path}: an SQLite file without the {KERNELS} table: not an Nsight "
                         "Systems export of CUDA kernels; profile with nsys profile -t cuda,nvtx "
                         "and export with nsys export --type sqlite")
    found = Findings(Issues(path))
    strings = read_strings(db, tables, path, found)
    kernels = _records(db, KERNELS, path, found)
    replays = _records(db, GRAPHS, path, found) if GRAPHS in tables else None
    both = [kernels] if replays is None else [kernels, replays]
    if not sum(len(r.rows) for r in both):
        left = found["kernels_out"].n
        raise InputError(f"{path}: the report holds no CUDA kernels" + (
            f" with a usable start time ({left} left out: {found['kernels_out'].text()})"
            if left else ""))
    calls = read_calls(db, tables, strings, found)
    launch = [launches(calls, r.rows, found) for r in both]
    nvtx, unended, never_popped = nvtx_ranges(db, tables, strings, found)
    data = _columns(kernels, replays, strings, found)
    info = read_gpus(db, tables, found) if "deviceId" in kernels.rows.codes else None
    data.update(_devices(info, both, found))
    thread = np.concatenate([lc.tid for lc in launch])
    when = np.concatenate([lc.when for lc in launch])
    has_launch = np.concatenate([lc.found for lc in launch])
    data["launch_api"] = np.concatenate([lc.api for lc in launch]).tolist()
    data["process_id"], data["thread_id"] = _process_thread(
        thread, has_launch, np.concatenate([r.rows.get("globalPid") for r in both]))
    stacks: list[Stack] = stacks_at(nvtx, thread, when)
    sources = np.where(has_launch, "launch", "none").astype(object)
    nodes = kernels.rows.get("graphNodeId")
    cap = captures(db, tables, nodes, kernels.rows, found)
    if cap:
        _with_captures(stacks, nvtx, cap)
        sources[list(cap)] = "launch+capture"
    n_replays = 0 if replays is None else len(replays.rows)
    if graph_launches(db, tables, strings) and not (nodes > 0).any() and not n_replays:
        found.note("the export has CUDA graph launches but no record of their replays (no "
                   f"graph node kernels, no {GRAPHS} rows): the replays' GPU time is missing; "
                   f"{EXPORT}")
    found.emit()
    timing: dict[str, Any] = {
        "clock": "Nsight Systems session clock (ns)",
        "graph_node_kernels": int((nodes > 0).sum()),
        "graph_replays": {"nodes": "none" if n_replays else "all",
                          "node_by_node": _node_replays(data), "whole": n_replays},
        "graph_kernels_with_capture_ranges": len(cap),
        "nvtx_unended_library_ranges": unended}
    if never_popped:  # the program's own ranges open at the end: they enclose what follows
        timing["nvtx_unended_ranges"] = never_popped
    meta = {"format": "nsys-sqlite", "sources": [str(path)], "formats": ["nsys-sqlite"],
            "gpu": sorted({str(v) for v in data.get("device_name") or [] if v is not None}),
            "timing": timing}
    return RawTiming(rows=data, stacks=stacks, nvtx_sources=sources.tolist(), source=str(path),
                     meta=meta)


def _with_captures(stacks: list[Stack], nvtx: pd.DataFrame,
                   captured: dict[int, tuple[int, int]]) -> None:
    """Each stack of a graph node kernel (``captured``: its position -> the thread and time of
    its node's capture) followed by the ranges open at the capture."""
    at = np.asarray(list(captured.values()), dtype=np.int64).reshape(-1, 2)
    # stacks are shared: each pair joined once (the pair held, so that its ids stay its)
    joined: dict[tuple[int, int], tuple[Stack, Stack, Stack]] = {}
    for i, s in zip(captured, stacks_at(nvtx, at[:, 0], at[:, 1]), strict=True):
        pair = (id(stacks[i]), id(s))
        if pair not in joined:
            joined[pair] = (stacks[i], s, with_capture(stacks[i], s))
        stacks[i] = joined[pair][2]


class _Records:
    """One table's kernel records that can stand (a usable start), with each one's end (its
    start where the duration is unknown) and duration (NaN unknown)."""

    def __init__(self, rows: Rows, end: np.ndarray, duration: np.ndarray) -> None:
        self.rows, self.end, self.duration = rows, end, duration


def _records(db: sqlite3.Connection, table: str, path: Path, found: Findings) -> _Records:
    """The kernel records of ``table`` (kernels, or graph replays timed as a whole): those
    without a usable start left out, those without a usable duration kept with it unknown,
    unreadable values null; each counted."""
    have = columns(db, table)
    missing = set(REQUIRED) - have
    if missing:
        raise InputError(f"{path}: {table} lacks {', '.join(sorted(missing))}; not the "
                         "documented Nsight Systems export schema")
    if table == KERNELS:
        if not {"shortName", "demangledName"} & have:
            raise InputError(f"{path}: {table} has neither shortName nor demangledName: its "
                             f"kernels cannot be named; {EXPORT}")
        absent = [c for c in EXPECTED if c not in have]
        if absent:
            found.note(f"{table} lacks {', '.join(absent)}: read as null; {EXPORT}")
    roles = ROLES if table == KERNELS else {c: ROLES[c] for c in REPLAY_COLUMNS}
    rows = read_rows(db, table, roles)
    start = rows.codes["start"]
    rows.left_out(start < 0, ("start",), found["kernels_out"])
    rows = rows.take(start >= 0)
    start, end = rows.codes["start"], rows.codes["end"]
    unknown = (end < 0) | (end <= start)
    where = np.flatnonzero(unknown)
    found["durations"].add(len(where), [
        f"{rows.label(p)}: {rows.said(p, 'end')}" if end[p] < 0 else
        f"{rows.label(p)}: end {int(end[p])} not after start {int(start[p])}"
        for p in where[:found["durations"].room()].tolist()])
    for col, codes in rows.codes.items():
        if col not in ("start", "end", "shortName", "demangledName"):
            nullable = col in NULLABLE and not (table == GRAPHS and col == "graphId")
            bad = (codes == BAD) | ((codes == NULL) & ~nullable)
            rows.report(found.issues, np.flatnonzero(bad), col)
    duration = np.where(unknown, np.nan, (end - np.where(unknown, 0, start)).astype(np.float64))
    return _Records(rows, np.where(unknown, start, end), duration)


def _columns(kernels: _Records, replays: _Records | None, strings: dict[int, str],
             found: Findings) -> dict[str, Any]:
    """The timing table's columns of the kernel records then the replays: the columns the
    kernel table has (a replay's where its table has them too)."""
    k = kernels.rows
    r = replays.rows if replays is not None else None
    both = [kernels] if replays is None else [kernels, replays]

    def codes(col: str) -> np.ndarray:
        return k.get(col) if r is None else np.concatenate([k.get(col), r.get(col)])

    kernel, demangled = _kernel_names(k, strings, found)
    if r is not None:
        graph = r.get("graphId")
        named: list[str | None] = [replay_name(g if g >= 0 else None) for g in graph.tolist()]
        kernel, demangled = kernel + named, demangled + named
    whole = np.r_[np.zeros(len(k), dtype=np.int64),
                  np.ones(len(r) if r is not None else 0, dtype=np.int64)]
    data: dict[str, Any] = {
        "kernel": kernel, "kernel_demangled": demangled,
        "start_ns": np.concatenate([x.rows.codes["start"] for x in both]),
        "end_ns": np.concatenate([x.end for x in both]),
        "duration_ns": np.concatenate([x.duration for x in both]),
        "correlation_id": _ints(codes("correlationId")),
        "graph_node_id": _ints(codes("graphNodeId"), low=1),
        "graph_id": _ints(np.concatenate([k.get("graphId"), r.get("graphId")])
                          if r is not None else k.get("graphId"), low=1),
        "duration_from": [DURATION_FROM[w] for w in whole.tolist()],
    }
    for col, name in (("deviceId", "device"), ("contextId", "context"), ("streamId", "stream")):
        if col in k.codes:
            data[name] = _ints(codes(col))
    for dim in ("grid", "block"):
        if all(f"{dim}{a}" in k.codes for a in "XYZ"):
            data[dim] = _dims(k, dim) + [None] * (len(r) if r is not None else 0)
    return data


def _kernel_names(rows: Rows, strings: dict[int, str], found: Findings
                  ) -> tuple[list[str | None], list[str | None]]:
    """Each kernel's short and demangled name, each the other where one is unknown."""
    short = rows.references(found.issues, "shortName", strings).tolist()
    demangled = rows.references(found.issues, "demangledName", strings).tolist()
    return ([s or d for s, d in zip(short, demangled, strict=True)],
            [d or s for s, d in zip(short, demangled, strict=True)])


def _dims(rows: Rows, dim: str) -> list[str | None]:
    """A grid or block as "(x, y, z)", None where an extent is unreadable (told)."""
    xyz = [rows.codes[f"{dim}{a}"] for a in "XYZ"]
    key = np.zeros(len(rows), dtype=np.int64)
    for extent in xyz:  # one code per distinct (x, y, z), in order of first appearance
        codes, distinct = pd.factorize(extent)
        key = pd.factorize(key * len(distinct) + codes)[0]
    first = np.zeros(int(key.max()) + 1 if len(key) else 0, dtype=np.int64)
    first[key[::-1]] = np.arange(len(key) - 1, -1, -1)
    text = [dims(*t) if min(t) > 0 else None
            for t in zip(*(e[first].tolist() for e in xyz), strict=True)]
    return [text[i] for i in key.tolist()]


def _ints(codes: np.ndarray, low: int = 0) -> Any:
    """Codes as a nullable integer column: null where not a value (or below ``low``: a graph
    node or graph id 0 is none)."""
    return pd.arrays.IntegerArray(np.maximum(codes, 0), codes < low)


def _process_thread(tid: np.ndarray, has_launch: np.ndarray, gpid: np.ndarray
                    ) -> tuple[Any, Any]:
    """Each launch's process (of its launch call's thread, else of its globalPid) and thread
    (of its launch call)."""
    pid = np.where(has_launch, (tid >> 24) & 0xFFFFFF, (gpid >> 24) & 0xFFFFFF)
    return (pd.arrays.IntegerArray(pid, ~has_launch & (gpid < 0)),
            pd.arrays.IntegerArray(tid & 0xFFFFFF, ~has_launch))


def _devices(info: Any, both: list[_Records], found: Findings) -> dict[str, Any]:
    """device_name and cc of every record, where TARGET_INFO_GPU describes its device."""
    if info is None:
        return {}
    out: dict[str, list[Any]] = {"device_name": [], "cc": []}
    for r in both:
        got = devices(info, r.rows, found)
        for col in out:
            out[col] += got.get(col, [None] * len(r.rows))
    return out


def _node_replays(data: dict[str, Any]) -> int:
    """Graph replays recorded kernel node by kernel node: distinct launch calls of node kernels."""
    node = ~np.asarray(data["graph_node_id"].isna())
    pid = data["process_id"][node].to_numpy(dtype=object, na_value=None)
    corr = data["correlation_id"][node].to_numpy(dtype=object, na_value=None)
    return len(set(zip(pid.tolist(), corr.tolist(), strict=True)))


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
        raw = _read_export(sqlite_file, path)
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
