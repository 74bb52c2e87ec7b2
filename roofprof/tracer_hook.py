"""Inside a traced process: CUPTI activity tracing of every kernel launch, through NVIDIA's
``cupti-python`` (``pip install roofprof[trace]``), with no change to the program.

``roofprof trace`` starts the program with ``roofprof/tracer_site`` on ``PYTHONPATH`` and
``ROOFPROF_TRACE_DIR`` set; that folder's ``sitecustomize`` calls :func:`start` before the
program runs, in every Python process the program starts (workers included). Equivalently:
``ROOFPROF_TRACE_DIR=DIR python -m roofprof.tracer_hook serve.py ARGS``.

Recorded: concurrent kernel activity (start, end, device, context, stream, grid, block,
correlation id, graph id and node), runtime and driver API calls (correlation id, process,
thread, start: who launched each kernel, and when), NVTX ranges (CUPTI marker records; NVTX is
routed to CUPTI through ``NVTX_INJECTION64_PATH``), and, for CUDA graphs, when and on which
thread each graph node was created and which node each instantiated node was cloned from
(resource callbacks), so replays can be attributed to the ranges open at capture.

At exit the raw records go to ``DIR/<pid>.pickle`` (stdlib only: the traced program's
environment needs neither pandas nor pyarrow); ``roofprof.tracer`` builds the timing table.
This module imports nothing heavy until :func:`start` runs, and never raises into the program:
a failure to start is written to ``DIR/<pid>.error`` and the program runs untraced.
"""

from __future__ import annotations

import atexit
import glob
import os
import pickle
import sys
import threading
from typing import Any

ENV_DIR = "ROOFPROF_TRACE_DIR"
BUFFER_BYTES = 8 * 1024 * 1024
#: CUPTI_ACTIVITY_FLAG_MARKER_START / _END (cupti_activity.h)
MARKER_START, MARKER_END = 1 << 1, 1 << 2


class Recorder:
    """Raw CUPTI records of one process, appended by CUPTI's buffer-completed callback."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.kernels: list[tuple[Any, ...]] = []
        self.calls: list[tuple[Any, ...]] = []
        self.markers: list[tuple[Any, ...]] = []
        #: graph node id -> (CUPTI timestamp, system thread id) of its creation
        self.nodes: dict[int, tuple[int, int]] = {}
        #: instantiated (cloned) node id -> the node it was cloned from
        self.clones: dict[int, int] = {}
        self.call_names: dict[tuple[int, int], str] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.cupti: Any = None
        self.subscriber: Any = None

    # CUPTI calls these from its own thread
    def buffer_requested(self) -> tuple[int, int]:
        return BUFFER_BYTES, 0

    def buffer_completed(self, activities: list[Any]) -> None:
        c = self.cupti
        kinds = c.ActivityKind
        kernels, calls, markers = [], [], []
        for a in activities:
            k = a.kind
            if k in (kinds.CONCURRENT_KERNEL, kinds.KERNEL):
                kernels.append((a.start, a.end, a.device_id, a.context_id, a.stream_id,
                                a.correlation_id, a.grid_x, a.grid_y, a.grid_z, a.block_x,
                                a.block_y, a.block_z, a.graph_id, a.graph_node_id, a.name))
            elif k in (kinds.RUNTIME, kinds.DRIVER):
                calls.append((a.correlation_id, a.start, a.process_id, a.thread_id, a.cbid,
                              int(k == kinds.DRIVER)))
            elif k == kinds.MARKER:
                pt = a.object_id.pt
                markers.append((a.id, a.flags_, a.timestamp, a.name or "", a.domain or "",
                                pt.process_id, pt.thread_id))
        with self.lock:
            self.kernels += kernels
            self.calls += calls
            self.markers += markers

    def resource(self, _userdata: Any, _domain: Any, cbid: Any, data: Any) -> None:
        """Graph node created / cloned: remember when, where and from which node."""
        try:
            c = self.cupti
            graph = _graph_data(c, data)
            node = int(c.get_graph_node_id(graph.node))
            if cbid == c.CallbackIdResource.GRAPHNODE_CREATED:
                self.nodes[node] = (int(c.get_timestamp()), threading.get_native_id())
            elif cbid == c.CallbackIdResource.GRAPHNODE_CLONED:
                self.clones[node] = int(c.get_graph_node_id(graph.original_node))
        except Exception as exc:  # never into the program; the table says what is missing
            if len(self.errors) < 5:
                self.errors.append(f"graph node callback: {exc!r}")

    def dump(self) -> None:
        c = self.cupti
        try:
            c.activity_flush_all(1)
        except Exception as exc:
            self.errors.append(f"flush: {exc!r}")
        for _, _, _, _, cbid, driver in self.calls:
            key = (driver, cbid)
            if key not in self.call_names:
                domain = c.CallbackDomain.DRIVER_API if driver else c.CallbackDomain.RUNTIME_API
                try:
                    self.call_names[key] = str(c.get_callback_name(domain, cbid))
                except Exception:
                    self.call_names[key] = f"cbid {cbid}"
        part = {"pid": os.getpid(), "argv": list(sys.argv), "kernels": self.kernels,
                "calls": self.calls, "markers": self.markers, "nodes": self.nodes,
                "clones": self.clones, "call_names": self.call_names, "errors": self.errors}
        tmp = os.path.join(self.folder, f".{os.getpid()}.pickle.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, os.path.join(self.folder, f"{os.getpid()}.pickle"))
        self.stop()


    def stop(self) -> None:
        """Detach from CUPTI before the interpreter goes: a buffer CUPTI hands back while the
        CUDA context is torn down (after atexit) would call into a finalised interpreter
        (seen on an H200: the traced program died with SIGSEGV at exit)."""
        c = self.cupti
        for kind in ("CONCURRENT_KERNEL", "RUNTIME", "DRIVER", "MARKER"):
            self._quietly(f"disable {kind}", "activity_disable", getattr(c.ActivityKind, kind))
        if self.subscriber is not None:
            self._quietly("unsubscribe", "unsubscribe", self.subscriber)
        self._quietly("finalize", "finalize")

    def _quietly(self, what: str, name: str, *args: Any) -> None:
        try:
            getattr(self.cupti, name)(*args)
        except Exception as exc:  # never into the program; recorded with the trace
            self.errors.append(f"{what}: {exc!r}")


def _graph_data(c: Any, data: Any) -> Any:
    """The CUpti_GraphData of a resource callback, however the bindings hand it over: a
    ResourceData whose descriptor points to it, the GraphData itself, or a raw pointer."""
    if hasattr(data, "node"):
        return data
    if isinstance(data, int):
        data = c.ResourceData.from_ptr(data)
    return c.GraphData.from_ptr(data.resource_descriptor)


def cupti_library() -> str | None:
    """libcupti.so of the nvidia-cuda-cupti wheel (or a CUDA install), for NVTX injection."""
    roots = [p for p in sys.path if p and os.path.isdir(p)]
    patterns = [os.path.join(r, "nvidia", "*", "lib", "libcupti.so*") for r in roots]
    patterns += [os.path.join(r, "nvidia", "*", "*", "lib", "libcupti.so*") for r in roots]
    patterns += ["/usr/local/cuda/extras/CUPTI/lib64/libcupti.so*"]
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def start(folder: str | None = None) -> Recorder | None:
    """Start tracing this process; its records are written to ``folder`` at exit."""
    folder = folder or os.environ.get(ENV_DIR)
    if not folder:
        return None
    try:
        lib = cupti_library()
        if lib and "NVTX_INJECTION64_PATH" not in os.environ:
            os.environ["NVTX_INJECTION64_PATH"] = lib  # read at the program's first NVTX call
        from cupti import cupti  # type: ignore[import-not-found,unused-ignore]

        rec = Recorder(folder)
        rec.cupti = cupti
        cupti.set_thread_id_type(cupti.ActivityThreadIdType.SYSTEM)
        cupti.activity_register_callbacks(rec.buffer_requested, rec.buffer_completed)
        for kind in (cupti.ActivityKind.CONCURRENT_KERNEL, cupti.ActivityKind.RUNTIME,
                     cupti.ActivityKind.DRIVER, cupti.ActivityKind.MARKER):
            cupti.activity_enable(kind)
        try:
            sub = cupti.subscribe(rec.resource, None)
            rec.subscriber = sub
            for cbid in (cupti.CallbackIdResource.GRAPHNODE_CREATED,
                         cupti.CallbackIdResource.GRAPHNODE_CLONED):
                cupti.enable_callback(1, sub, cupti.CallbackDomain.RESOURCE, cbid)
        except Exception as exc:  # e.g. another CUPTI subscriber: no capture attribution
            rec.errors.append(f"graph node callbacks unavailable: {exc!r}")
        if not lib:
            rec.errors.append("libcupti.so not found for NVTX injection: no NVTX ranges")
        atexit.register(rec.dump)
        return rec
    except Exception as exc:
        try:
            with open(os.path.join(folder, f"{os.getpid()}.error"), "w") as fh:
                fh.write(f"{exc!r}\n")
        except OSError:
            pass
        return None


def main() -> None:
    """``python -m roofprof.tracer_hook SCRIPT ARGS``: run SCRIPT traced."""
    import runpy

    if len(sys.argv) < 2:
        sys.exit("usage: ROOFPROF_TRACE_DIR=DIR python -m roofprof.tracer_hook SCRIPT [ARGS]")
    start()
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
