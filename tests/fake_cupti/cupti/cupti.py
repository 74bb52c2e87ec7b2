"""See the package docstring. Records file: {"kernels": [...], "calls": [...], "markers": [...],
"nodes": [[node, original_or_null, ts, tid], ...]} with the attribute names of cupti.pyi."""

from __future__ import annotations

import enum
import json
import os
from types import SimpleNamespace
from typing import Any


class ActivityKind(enum.IntEnum):
    KERNEL = 3
    DRIVER = 5
    RUNTIME = 6
    MARKER = 12
    CONCURRENT_KERNEL = 10


class ActivityThreadIdType(enum.IntEnum):
    DEFAULT = 0
    SYSTEM = 1


class CallbackDomain(enum.IntEnum):
    DRIVER_API = 1
    RUNTIME_API = 2
    RESOURCE = 3


class CallbackIdResource(enum.IntEnum):
    GRAPHNODE_CREATED = 13
    GRAPHNODE_CLONED = 16


_state: dict[str, Any] = {"enabled": set(), "callbacks": None, "subscriber": None,
                          "resource_cbids": set(), "names": {}}


def set_thread_id_type(kind: int) -> None:
    _state["thread_id_type"] = kind


def activity_register_callbacks(requested: Any, completed: Any) -> None:
    _state["callbacks"] = (requested, completed)


def activity_enable(kind: int) -> None:
    _state["enabled"].add(ActivityKind(kind))


def subscribe(callback: Any, userdata: Any) -> int:
    _state["subscriber"] = (callback, userdata)
    _replay_graph_nodes()
    return 1


def enable_callback(enable: int, subscriber: int, domain: int, cbid: int) -> None:
    if enable and domain == CallbackDomain.RESOURCE:
        _state["resource_cbids"].add(CallbackIdResource(cbid))


class GraphData:
    def __init__(self, node: int, original: int | None) -> None:
        self.node, self.original_node = node, original or 0

    @staticmethod
    def from_ptr(ptr: Any) -> GraphData:
        return ptr  # type: ignore[no-any-return]


class ResourceData:
    def __init__(self, graph: GraphData) -> None:
        self.resource_descriptor = graph


_clock = {"now": 0}


def get_timestamp() -> int:
    return _clock["now"]


def get_graph_node_id(node: int) -> int:
    return node


def get_callback_name(domain: int, cbid: int) -> str:
    return str(_state["names"].get(f"{int(domain == CallbackDomain.DRIVER_API)}:{cbid}",
                                   f"cbid{cbid}"))


def _records() -> dict[str, Any]:
    with open(os.environ["FAKE_CUPTI_RECORDS"]) as fh:
        data: dict[str, Any] = json.load(fh)
    _state["names"] = data["call_names"]
    return data


def _replay_graph_nodes() -> None:
    """Node creation (at capture) and cloning (at instantiation), as the resource callbacks
    would report them, on the thread and at the time the records say."""
    import threading

    data = _records()
    callback, userdata = _state["subscriber"]
    real_tid = threading.get_native_id
    for node, original, ts, tid in data["nodes"]:
        _clock["now"] = ts
        threading.get_native_id = lambda t=tid: t  # type: ignore[misc]
        cbid = CallbackIdResource.GRAPHNODE_CLONED if original else \
            CallbackIdResource.GRAPHNODE_CREATED
        callback(userdata, CallbackDomain.RESOURCE, cbid,
                 ResourceData(GraphData(node, original)))
    threading.get_native_id = real_tid  # type: ignore[misc]


def activity_flush_all(flag: int) -> None:
    data = _records()
    out: list[Any] = []
    if ActivityKind.CONCURRENT_KERNEL in _state["enabled"]:
        out += [SimpleNamespace(kind=ActivityKind.CONCURRENT_KERNEL, **k)
                for k in data["kernels"]]
    for c in data["calls"]:
        c["process_id"] = os.getpid()  # CUPTI reports the traced process's own id
        kind = ActivityKind.DRIVER if c.pop("driver") else ActivityKind.RUNTIME
        if kind in _state["enabled"]:
            out.append(SimpleNamespace(kind=kind, **c))
    if ActivityKind.MARKER in _state["enabled"]:
        for m in data["markers"]:
            m.pop("process_id")
            pt = SimpleNamespace(process_id=os.getpid(), thread_id=m.pop("thread_id"))
            out.append(SimpleNamespace(kind=ActivityKind.MARKER, object_id=SimpleNamespace(pt=pt),
                                       **m))
    _state["callbacks"][1](out)
