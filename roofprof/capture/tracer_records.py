"""CUPTI's activity buffers, decoded at a traced process's exit into column arrays.

:mod:`roofprof.capture.tracer_hook` only copies the buffers CUPTI fills while the program runs;
at exit it hands them here. Each buffer is read with the record layouts cupti-python publishes
(``activity_kernel10_dtype``, ...; the layouts of the CUPTI it loaded), and the fields roofprof
keeps become plain arrays, names resolved from their C strings
(``roofprof.capture.tracer.from_parts`` reads them). Loaded inside the traced program: imports
nothing heavy at import time.
"""

from __future__ import annotations

import ctypes
import re
import struct
from collections.abc import Iterable
from typing import Any

from roofprof.capture.tracer_process import devices

#: CUPTI_ACTIVITY_FLAG_MARKER_START / _END (cupti_activity.h)
MARKER_START, MARKER_END = 1 << 1, 1 << 2
#: the record fields kept, per record family (names as in cupti-python's dtypes)
KERNEL_FIELDS = ("start", "end", "device_id", "context_id", "stream_id", "correlation_id",
                 "grid_x", "grid_y", "grid_z", "block_x", "block_y", "block_z", "graph_id",
                 "graph_node_id")
CALL_FIELDS = ("correlation_id", "start", "end", "process_id", "thread_id", "cbid")
MARKER_FIELDS = ("id", "flags_", "timestamp")
GRAPH_FIELDS = ("start", "end", "device_id", "context_id", "stream_id", "correlation_id",
                "graph_id")


def layouts(cupti: Any) -> dict[int, tuple[str, Any]]:
    """Record kind -> (family, numpy dtype) for the kinds the hook enables, from cupti-python."""
    k = cupti.ActivityKind
    return {int(k.CONCURRENT_KERNEL): ("kernel", cupti.activity_kernel10_dtype),
            int(k.RUNTIME): ("runtime", cupti.activity_api_dtype),
            int(k.DRIVER): ("driver", cupti.activity_api_dtype),
            int(k.MARKER): ("marker", cupti.activity_marker2_dtype),
            int(k.GRAPH_TRACE): ("graph", cupti.activity_graph_trace2_dtype)}


def decode(buffers: Iterable[bytes], kinds: dict[int, tuple[str, Any]]
           ) -> tuple[dict[str, Any], list[str]]:
    """Raw activity buffers -> one structured array per record family, and problems.

    Records follow each other in a buffer, each as long as its kind's struct (all of them
    multiples of CUPTI's 8-byte record alignment). A kind we did not enable means the layouts
    are not this CUPTI's: that buffer's remaining records are dropped and the problem said.
    """
    import numpy as np

    found: dict[str, list[Any]] = {family: [] for family, _ in kinds.values()}
    problems: list[str] = []
    unpack = struct.Struct("<i").unpack_from
    for buf in buffers:
        offsets: dict[int, list[int]] = {kind: [] for kind in kinds}
        at, end = 0, len(buf)
        while at + 4 <= end:
            kind = unpack(buf, at)[0]
            entry = kinds.get(kind)
            if entry is None or at + entry[1].itemsize > end:
                problems.append(f"activity record of kind {kind} at byte {at} of a "
                                f"{end}-byte buffer: not a kind this tracer reads; "
                                "the rest of that buffer is lost")
                break
            offsets[kind].append(at)
            at += entry[1].itemsize
        raw = np.frombuffer(buf, dtype=np.uint8)
        for kind, offs in offsets.items():
            if offs:
                family, dtype = kinds[kind]
                rows = raw[np.asarray(offs)[:, None] + np.arange(dtype.itemsize)]
                found[family].append(np.ascontiguousarray(rows).view(dtype).reshape(-1))
    dtypes = dict(kinds.values())  # family -> its record layout
    out = {family: np.concatenate(parts) if parts else np.zeros(0, dtypes[family])
           for family, parts in found.items()}
    return out, problems


def columns(records: Any, fields: Iterable[str]) -> dict[str, Any]:
    """Plain column arrays of a structured record array (unions and padding left behind)."""
    import numpy as np

    return {f: np.array(records[f]) for f in fields}


def call_name(cupti: Any, driver: int, cbid: int) -> str:
    """An API call's name from cupti-python's callback-id enums, without the version suffix
    CUPTI adds (``cudaLaunchKernel_v7000`` -> ``cudaLaunchKernel``; ``..._v2`` is the API's)."""
    enum = cupti.driver_api_trace_cbid if driver else cupti.runtime_api_trace_cbid
    try:
        name = str(enum(cbid).name)
    except ValueError:
        return f"cbid {cbid}"
    return re.sub(r"_v[0-9]{4,}$", "", name)


def strings(pointers: Any, read: Any) -> dict[int, str]:
    """The C strings at ``pointers`` (each read once), "" for NULL."""
    out: dict[int, str] = {}
    for p in {int(p) for p in pointers}:
        out[p] = read(p).decode("utf-8", "replace") if p else ""
    return out


def records(cupti: Any, buffers: Iterable[bytes], errors: list[str]) -> dict[str, Any]:
    """A process's activity buffers -> its kernels, launch calls, NVTX markers and graph-level
    replays as column arrays, with the record counts, the calls' names and the devices' (the
    problems found are added to ``errors``)."""
    import numpy as np

    found, problems = decode(buffers, layouts(cupti))
    errors += problems
    kernels, markers = found["kernel"], found["marker"]
    calls = np.concatenate([found["runtime"], found["driver"]])
    names = strings(kernels["name"], ctypes.string_at)
    marker_names = strings(markers["name"], ctypes.string_at)
    driver = np.r_[np.zeros(len(found["runtime"]), np.int8),
                   np.ones(len(found["driver"]), np.int8)]
    call_names = {(d, b): call_name(cupti, d, b) for d, b in
                  {(int(d), int(b)) for d, b in zip(driver, calls["cbid"], strict=True)}}
    pt = markers["object_id"]["pt"]
    return {
        "kernels": {**columns(kernels, KERNEL_FIELDS),
                    "name": np.array([names[int(p)] for p in kernels["name"]], object)},
        "calls": {**columns(calls, CALL_FIELDS), "driver": driver},
        "markers": {**columns(markers, MARKER_FIELDS),
                    "process_id": np.array(pt["process_id"]),
                    "thread_id": np.array(pt["thread_id"]),
                    "name": np.array([marker_names[int(p)] for p in markers["name"]], object)},
        "graphs": columns(found["graph"], GRAPH_FIELDS),
        "counts": {family: len(found[family]) for family in found},
        "call_names": call_names,
        "devices": devices(np.unique(kernels["device_id"]).tolist(), errors)}
