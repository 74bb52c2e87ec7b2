"""A SCHEMA TEST, NOT A CAPTURE: an SQLite file laid out as Nsight Systems' documented export
(CUPTI_ACTIVITY_KIND_KERNEL, CUPTI_ACTIVITY_KIND_RUNTIME, NVTX_EVENTS, StringIds,
TARGET_INFO_GPU, CUDA_GRAPH_NODE_EVENTS), filled with the kernels, launch calls and annotations
of a real Kineto capture (fixtures/llama*_kineto.json.gz).

No nsys export of these runs exists yet (fixtures/MANIFEST.md says why); this checks that the
parser reads the documented schema and projects ranges the same way the Kineto parser does.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INT NOT NULL, end INT NOT NULL,
  deviceId INT NOT NULL, contextId INT NOT NULL, streamId INT NOT NULL,
  correlationId INT, globalPid INT, demangledName INT NOT NULL, shortName INT NOT NULL,
  mangledName INT, launchType INT, cacheConfig INT, registersPerThread INT NOT NULL,
  gridX INT NOT NULL, gridY INT NOT NULL, gridZ INT NOT NULL,
  blockX INT NOT NULL, blockY INT NOT NULL, blockZ INT NOT NULL,
  staticSharedMemory INT NOT NULL, dynamicSharedMemory INT NOT NULL,
  localMemoryPerThread INT NOT NULL, localMemoryTotal INT NOT NULL, gridId INT NOT NULL,
  sharedMemoryExecuted INT, graphNodeId INT, sharedMemoryLimitConfig INT);
CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INT NOT NULL, end INT NOT NULL,
  eventClass INT NOT NULL, globalTid INT, correlationId INT, nameId INT NOT NULL,
  returnValue INT NOT NULL, callchainId INT);
CREATE TABLE NVTX_EVENTS (start INT NOT NULL, end INT, eventType INT NOT NULL, rangeId INT,
  category INT, color INT, text TEXT, globalTid INT, endGlobalTid INT, textId INT,
  domainId INT, uint64Value INT, int64Value INT, doubleValue REAL, uint32Value INT,
  int32Value INT, floatValue REAL, jsonTextId INT, jsonText TEXT);
CREATE TABLE TARGET_INFO_GPU (vmId INT NOT NULL, id INT NOT NULL, name TEXT,
  busLocation TEXT, isDiscrete INT, l2CacheSize INT, totalMemory INT, memoryBandwidth INT,
  clockRate INT, smCount INT, pwGpuId INT, uuid TEXT, luid INT, chipName TEXT, cuDevice INT,
  ctxId INT, computeMajor INT, computeMinor INT);
CREATE TABLE CUDA_GRAPH_NODE_EVENTS (start INT NOT NULL, end INT NOT NULL, nameId INT NOT NULL,
  globalTid INT, correlationId INT, graphNodeId INT NOT NULL, originalGraphNodeId INT);
"""


def _ns(us: Any) -> int:
    return round(float(us) * 1000.0)


def _short(name: str) -> str:
    from parsers.kernel_names import short_name

    return short_name(name)


def build_from_kineto(kineto: Path, out: Path, text_ids: bool = False) -> Path:
    """Write ``out`` with the documented schema from a Kineto trace's events.

    Graph replays (kernels launched by cudaGraphLaunch) get node ids: the i-th kernel of each
    replay node 1000+i, created as a clone of node 2000+i, whose creation event is the i-th
    kernel launch of the capture (as --cuda-graph-trace=node exports them).
    ``text_ids``: NVTX names in StringIds (textId) instead of inline (text).
    """
    with gzip.open(kineto) as fh:
        data = json.load(fh)
    ev = [e for e in data["traceEvents"] if e.get("ph") == "X"]
    strings: dict[str, int] = {}

    def sid(s: str) -> int:
        return strings.setdefault(s, len(strings) + 1)

    def gtid(pid: int, tid: int) -> int:
        return (pid << 24) | (tid & 0xFFFFFF)

    db = sqlite3.connect(out)
    db.executescript(SCHEMA)
    calls = {e["args"]["correlation"]: e for e in ev
             if e.get("cat") in ("cuda_runtime", "cuda_driver") and "correlation" in e["args"]}
    replay_pos: dict[int, int] = {}
    kernels = sorted((e for e in ev if e.get("cat") == "kernel"), key=lambda e: e["ts"])
    for k in kernels:
        a = k["args"]
        call = calls.get(a["correlation"])
        node = None
        if call is not None and call["name"] == "cudaGraphLaunch":
            pos = replay_pos.get(a["correlation"], 0)
            replay_pos[a["correlation"]] = pos + 1
            node = 1000 + pos
        db.execute("INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (?,?,?,?,?,?,?,?,?,NULL,NULL,"
                   "0,?,?,?,?,?,?,?,0,0,0,0,0,0,?,0)",
                   (_ns(k["ts"]), _ns(k["ts"]) + _ns(k["dur"]), a["device"], a["context"],
                    a["stream"], a["correlation"], gtid(call["pid"] if call else 0, 0),
                    sid(k["name"]), sid(_short(k["name"])), a["registers per thread"],
                    *a["grid"], *a["block"], node))
    for c in calls.values():
        db.execute("INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (?,?,0,?,?,?,0,NULL)",
                   (_ns(c["ts"]), _ns(c["ts"]) + _ns(c["dur"]), gtid(c["pid"], c["tid"]),
                    c["args"]["correlation"], sid(c["name"])))
    for a in (e for e in ev if e.get("cat") == "user_annotation"):
        text, tid_ = (None, sid(a["name"])) if text_ids else (a["name"], None)
        db.execute("INSERT INTO NVTX_EVENTS (start, end, eventType, text, globalTid, textId) "
                   "VALUES (?,?,59,?,?,?)", (_ns(a["ts"]), _ns(a["ts"]) + _ns(a["dur"]), text,
                                              gtid(a["pid"], a["tid"]), tid_))
    _graph_nodes(db, ev, sid, gtid)
    for d in data.get("deviceProperties", []):
        db.execute("INSERT INTO TARGET_INFO_GPU (vmId, id, name, cuDevice, computeMajor, "
                   "computeMinor) VALUES (0,?,?,?,?,?)",
                   (d["id"], d["name"], d["id"], d["computeMajor"], d["computeMinor"]))
    db.executemany("INSERT INTO StringIds VALUES (?, ?)", [(i, s) for s, i in strings.items()])
    db.commit()
    db.close()
    return out


def _graph_nodes(db: sqlite3.Connection, ev: list[dict[str, Any]], sid: Any, gtid: Any) -> None:
    calls = sorted((e for e in ev if e.get("cat") in ("cuda_runtime", "cuda_driver")),
                   key=lambda e: e["ts"])
    inside, pos = False, 0
    for c in calls:
        if c["name"] == "cudaStreamBeginCapture":
            inside = True
        elif c["name"] == "cudaStreamEndCapture":
            inside = False
        elif inside and re.match(r"^cu(da)?Launch", c["name"]):
            # the captured node (2000+i) and its instantiated clone (1000+i)
            db.execute("INSERT INTO CUDA_GRAPH_NODE_EVENTS VALUES (?,?,?,?,?,?,NULL)",
                       (_ns(c["ts"]), _ns(c["ts"]) + _ns(c["dur"]), sid(c["name"]),
                        gtid(c["pid"], c["tid"]), c["args"]["correlation"], 2000 + pos))
            db.execute("INSERT INTO CUDA_GRAPH_NODE_EVENTS VALUES (?,?,?,?,NULL,?,?)",
                       (_ns(c["ts"]), _ns(c["ts"]), sid("cudaGraphInstantiate"),
                        gtid(c["pid"], c["tid"]), 1000 + pos, 2000 + pos))
            pos += 1
