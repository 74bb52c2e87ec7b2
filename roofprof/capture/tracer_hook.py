"""Inside a traced process: CUPTI activity tracing of every kernel launch, through NVIDIA's
``cupti-python`` (``pip install roofprof[trace]``), with no change to the program.

``roofprof trace`` starts the program with ``roofprof/capture/tracer_site`` on ``PYTHONPATH`` and
``ROOFPROF_TRACE_DIR`` set; that folder's ``sitecustomize`` calls :func:`start` before the
program runs, in every Python process the program starts (workers included). Equivalently:
``ROOFPROF_TRACE_DIR=DIR python -m roofprof.capture.tracer_hook serve.py ARGS``.

Recorded: concurrent kernel activity (start, end, device, context, stream, grid, block,
correlation id, graph id and node), the runtime and driver calls that launch kernels
(correlation id, process, thread, start: who launched each kernel, and when; every other API
call is left out, so tracing costs little on the launching thread), NVTX ranges (CUPTI marker
records; NVTX is routed to the CUPTI library cupti-python loaded through
``NVTX_INJECTION64_PATH``), and, for CUDA graphs, when and on which thread each graph node was
created and which node each instantiated node was cloned from (resource callbacks), so replays
can be attributed to the ranges open at capture.

CUDA graph replays (``ROOFPROF_TRACE_GRAPH_NODES``): kernel node by kernel node (``all``, the
default; CUPTI's record per node cost a CUDA-graph decode loop 26-48%), or each replay as one
graph-level record (``none``: its span and the correlation id of its launch; its kernels
unknown), see :func:`graph_level`.

Cost on the program: CUPTI fills our activity buffers; when one is full, the callback (on
CUPTI's thread) only copies its bytes and hands the buffer back. Nothing is decoded while the
program runs: cupti-python's own buffer callback builds a Python object per record, which held
the interpreter lock long enough to slow an eager decode loop 17-fold. At exit
:mod:`roofprof.capture.tracer_records` decodes the buffers into column arrays, written to
``DIR/<pid>.pickle``;
``roofprof.capture.tracer`` builds the timing table. This module imports nothing heavy until
:func:`start` runs, and never raises into the program: a failure to start is written to
``DIR/<pid>.error`` and the program runs untraced.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import pickle
import sys
import threading
from typing import Any

from roofprof.capture.tracer_process import loaded_library, nvtx_domains_on
from roofprof.capture.tracer_records import records

ENV_DIR = "ROOFPROF_TRACE_DIR"
#: which records to take (for measuring what each costs): kernel, api, marker (all by default)
ENV_KINDS = "ROOFPROF_TRACE_RECORDS"
#: CUPTI buffer settings to try against the overhead (comma-separated; none by default):
#: zeroed (we hand CUPTI zeroed buffers, cleared on CUPTI's thread after each copy, so CUPTI does
#: not clear each new buffer on the launching thread), shared_buffer (one record buffer for all
#: threads instead of CUPTI's default of one per thread), prealloc=N (N device buffers for the
#: kernel timestamps allocated up front, default 3), host_pinned (those buffers in pinned host
#: memory instead of device memory)
ENV_TUNING = "ROOFPROF_TRACE_TUNING"
#: CUDA graph replays recorded kernel node by kernel node (``roofprof trace --graph-nodes``):
#: "all" (default) = every replay; "none" = each replay as one graph-level record (its span)
ENV_GRAPH_NODES = "ROOFPROF_TRACE_GRAPH_NODES"
GRAPH_NODES = ("all", "none")
BUFFER_BYTES = 8 * 1024 * 1024
_REQUESTED = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_void_p),
                              ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t))
_COMPLETED = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
                              ctypes.c_size_t, ctypes.c_size_t)
#: CUPTI keeps calling these after start(): they must outlive every Recorder
_KEEP: list[Any] = []


class Recorder:
    """One process's CUPTI activity buffers, and graph nodes from the resource callbacks."""

    def __init__(self, folder: str, cupti: Any, library: Any) -> None:
        self.folder = folder
        self.cupti = cupti
        self.library = library
        self.buffers: list[bytes] = []
        self.live: dict[int, Any] = {}  # address -> the ctypes array CUPTI is filling
        self.spare: list[Any] = []
        #: graph node id -> (CUPTI timestamp, system thread id, node type) of its creation, in
        #: the order the nodes were created
        self.nodes: dict[int, tuple[int, int, int]] = {}
        #: instantiated (cloned) node id -> the node it was cloned from
        self.clones: dict[int, int] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.subscriber: Any = None
        self.stopped = False
        self.graph_nodes = "all"  # graph replays recorded node by node (ENV_GRAPH_NODES)
        #: CUPTI was told our buffers come zeroed (ENV_TUNING "zeroed"): clear each after use
        self.zero_buffers = False

    # CUPTI calls these from its own thread (or the flushing one): copy and return, no decoding
    def requested(self, buffer: Any, size: Any, max_records: Any) -> None:
        with self.lock:
            block = self.spare.pop() if self.spare else (ctypes.c_uint8 * BUFFER_BYTES)()
            address = ctypes.addressof(block)
            self.live[address] = block
        buffer[0] = address
        size[0] = BUFFER_BYTES
        max_records[0] = 0

    def completed(self, _context: Any, _stream: Any, buffer: Any, _size: Any,
                  valid: int) -> None:
        data = ctypes.string_at(buffer, valid) if valid else b""
        if self.zero_buffers:
            ctypes.memset(buffer, 0, BUFFER_BYTES)
        with self.lock:
            if data:
                self.buffers.append(data)
            block = self.live.pop(buffer, None)
            if block is not None:
                self.spare.append(block)

    def resource(self, _userdata: Any, _domain: Any, cbid: Any, data: Any) -> None:
        """Graph node created / cloned: remember when, where and from which node."""
        try:
            c = self.cupti
            graph = _graph_data(c, data)
            node = int(c.get_graph_node_id(graph.node))
            if cbid == c.CallbackIdResource.GRAPHNODE_CREATED:
                self.nodes[node] = (int(c.get_timestamp()), threading.get_native_id(),
                                    int(graph.node_type))
            elif cbid == c.CallbackIdResource.GRAPHNODE_CLONED:
                self.clones[node] = int(c.get_graph_node_id(graph.original_node))
        except Exception as exc:  # never into the program; the table says what is missing
            if len(self.errors) < 5:
                self.errors.append(f"graph node callback: {exc!r}")

    def part(self) -> dict[str, Any]:
        """This process's records as column arrays (``roofprof.capture.tracer.from_parts``
        reads them)."""
        with self.lock:
            buffers, self.buffers = self.buffers, []
        return {"format": 2, "pid": os.getpid(), "argv": list(sys.argv),
                **records(self.cupti, buffers, self.errors),
                "graph_replays": {"nodes": self.graph_nodes},
                "nodes": self.nodes, "clones": self.clones, "errors": self.errors}

    def dump(self) -> None:
        try:
            self.cupti.activity_flush_all(1)
        except Exception as exc:
            self.errors.append(f"flush: {exc!r}")
        try:
            part = self.part()
        except Exception as exc:  # never into the program
            part = {"format": 2, "pid": os.getpid(), "argv": list(sys.argv), "errors":
                    [*self.errors, f"decoding the activity records failed: {exc!r}"]}
        tmp = os.path.join(self.folder, f".{os.getpid()}.pickle.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, os.path.join(self.folder, f"{os.getpid()}.pickle"))
        self.stop()

    def stop(self) -> None:
        """Detach from CUPTI before the interpreter goes: a buffer CUPTI hands back while the
        CUDA context is torn down (after atexit) would call into a finalised interpreter
        (seen on an H200: the traced program died with SIGSEGV at exit)."""
        if self.stopped:
            return
        self.stopped = True
        c = self.cupti
        for kind in ("CONCURRENT_KERNEL", "GRAPH_TRACE", "RUNTIME", "DRIVER", "MARKER"):
            self._quietly(f"disable {kind}", "activity_disable", getattr(c.ActivityKind, kind))
        if self.subscriber is not None:
            self._quietly("unsubscribe", "unsubscribe", self.subscriber)
        self._quietly("finalize", "finalize")

    def _quietly(self, what: str, name: str, *args: Any) -> None:
        try:
            getattr(self.cupti, name)(*args)
        except Exception as exc:  # never into the program; recorded with the trace
            self.errors.append(f"{what}: {exc!r}")


def graph_nodes_setting(value: str | None, errors: list[str]) -> str:
    """:data:`ENV_GRAPH_NODES` read (unset: "all")."""
    if not value:
        return "all"
    if value in GRAPH_NODES:
        return value
    errors.append(f"{ENV_GRAPH_NODES}={value!r}: not one of {', '.join(GRAPH_NODES)}; "
                  "'all' used")
    return "all"


def _graph_data(c: Any, data: Any) -> Any:
    """The CUpti_GraphData of a resource callback, however the bindings hand it over: a
    ResourceData whose descriptor points to it, the GraphData itself, or a raw pointer."""
    if hasattr(data, "node"):
        return data
    if isinstance(data, int):
        data = c.ResourceData.from_ptr(data)
    return c.GraphData.from_ptr(data.resource_descriptor)


def tune(cupti: Any, settings: str, rec: Recorder) -> None:
    """Apply the ``ROOFPROF_TRACE_TUNING`` settings (see :data:`ENV_TUNING`)."""
    attrs = {"zeroed": ("ATTR_ZEROED_OUT_BUFFER", ctypes.c_uint8, 1),
             "shared_buffer": ("ATTR_PER_THREAD_BUFFER", ctypes.c_uint8, 0),
             "prealloc": ("ATTR_DEVICE_BUFFER_PRE_ALLOCATE_VALUE", ctypes.c_size_t, None),
             "host_pinned": ("ATTR_MEM_ALLOCATION_TYPE_HOST_PINNED", ctypes.c_uint8, 1)}
    for setting in filter(None, (x.strip() for x in settings.split(","))):
        name, _, given = setting.partition("=")
        if name not in attrs:
            rec.errors.append(f"{ENV_TUNING}: unknown setting {name!r} "
                              f"(known: {', '.join(attrs)})")
            continue
        attr, ctype, value = attrs[name]
        try:
            flag = ctype(int(given) if value is None else value)
            size = ctypes.c_size_t(ctypes.sizeof(flag))  # CUPTI takes a pointer to the size
            cupti.activity_set_attribute(getattr(cupti.ActivityAttribute, attr),
                                         ctypes.addressof(size), ctypes.addressof(flag))
        except Exception as exc:
            rec.errors.append(f"{ENV_TUNING}: {setting}: {exc!r}")
            continue
        if name == "zeroed":
            rec.zero_buffers = True


def kept_call(name: str) -> bool:
    """The API calls whose records the tracer keeps: launches of kernels and graphs (who
    launched each kernel, and when) and the begin and end of stream captures (which launches
    became a graph's nodes)."""
    return ("Launch" in name and "HostFunc" not in name) or "BeginCapture" in name \
        or "EndCapture" in name


def launches_only(cupti: Any) -> None:
    """Keep the API records of :func:`kept_call`; drop every other call's (torch makes several
    runtime and driver calls per kernel). Both kinds are needed: a kernel launched through the
    runtime has no driver record of its own (seen on an H100)."""
    for enum, enable in ((cupti.runtime_api_trace_cbid, cupti.activity_enable_runtime_api),
                         (cupti.driver_api_trace_cbid, cupti.activity_enable_driver_api)):
        for member in enum:
            name = member.name
            if name.endswith(("INVALID", "SIZE", "FORCE_INT")):
                continue
            enable(int(member), int(kept_call(name)))


def graph_level(cupti: Any, rec: Recorder) -> None:
    """Record each CUDA graph replay as one graph-level record: with kernel records on, CUPTI
    then records none of its nodes (a CUDA-graph decode loop's overhead went from +38% to
    +7-16%, H100; +7-9% on a 7B-shaped one, which CUPTI merely attached, nothing enabled, already
    costs: BENCHMARKS.md). On before any graph is instantiated: turned on after a graph had been
    replayed, the next replay crashed (H100, CUPTI 13.0).

    Not done: recording a few replays of each graph node by node and the rest at graph level
    (their spans shared out by the sampled node times). Turning graph-level records off around
    a replay gave that replay's node records durations 2 to 90 times too long, with or
    without waiting for it to finish before turning them on again (H100, CUPTI 13.0)."""
    try:
        cupti.activity_enable(cupti.ActivityKind.GRAPH_TRACE)
    except Exception as exc:
        rec.errors.append(f"graph-level records unavailable ({exc!r}): every graph replay is "
                          "recorded node by node")
        rec.graph_nodes = "all"


def start(folder: str | None = None) -> Recorder | None:
    """Start tracing this process; its records are written to ``folder`` at exit."""
    folder = folder or os.environ.get(ENV_DIR)
    if not folder:
        return None
    try:
        from cupti import cupti

        cupti.set_thread_id_type(cupti.ActivityThreadIdType.SYSTEM)  # loads libcupti
        path = loaded_library()
        if path is None:
            raise RuntimeError("cupti-python is installed but no libcupti.so is loaded")
        rec = Recorder(folder, cupti, ctypes.CDLL(path))
        injected = os.environ.get("NVTX_INJECTION64_PATH")
        if injected and os.path.realpath(injected) != os.path.realpath(path):
            rec.errors.append(f"NVTX_INJECTION64_PATH is {injected} (another tool's): NVTX "
                              "ranges go there, not to roofprof")
        elif not injected:
            os.environ["NVTX_INJECTION64_PATH"] = path  # read at the program's first NVTX call
        tune(cupti, os.environ.get(ENV_TUNING, ""), rec)
        callbacks = (_REQUESTED(rec.requested), _COMPLETED(rec.completed))
        _KEEP.append(callbacks)
        register = rec.library.cuptiActivityRegisterCallbacks
        register.restype = ctypes.c_int
        status = register(*callbacks)
        if status:
            raise RuntimeError(f"cuptiActivityRegisterCallbacks returned {status}")
        wanted = os.environ.get(ENV_KINDS, "kernel,api,marker").split(",")
        # API records: per launch call (launches_only), without enabling the RUNTIME and DRIVER
        # kinds, which gives the same records for less (4-layer eager decode loop, H100)
        for family, kinds in (("kernel", ("CONCURRENT_KERNEL",)), ("marker", ("MARKER",))):
            if family in wanted:
                for kind in kinds:
                    cupti.activity_enable(getattr(cupti.ActivityKind, kind))
        if "api" in wanted:
            launches_only(cupti)
        if "marker" in wanted:
            nvtx_domains_on(rec.errors)
        rec.graph_nodes = graph_nodes_setting(os.environ.get(ENV_GRAPH_NODES), rec.errors)
        if "kernel" in wanted and rec.graph_nodes == "none":
            graph_level(cupti, rec)
        if rec.graph_nodes == "all":  # nodes' capture ranges: only node records use them
            try:
                sub = cupti.subscribe(rec.resource, None)
                rec.subscriber = sub
                for cbid in (cupti.CallbackIdResource.GRAPHNODE_CREATED,
                             cupti.CallbackIdResource.GRAPHNODE_CLONED):
                    cupti.enable_callback(1, sub, cupti.CallbackDomain.RESOURCE, cbid)
            except Exception as exc:  # e.g. another CUPTI subscriber: no capture attribution
                rec.errors.append(f"graph node callbacks unavailable: {exc!r}")
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
    """``python -m roofprof.capture.tracer_hook SCRIPT ARGS``: run SCRIPT traced."""
    import runpy

    if len(sys.argv) < 2:
        sys.exit("usage: ROOFPROF_TRACE_DIR=DIR python -m roofprof.capture.tracer_hook SCRIPT "
                 "[ARGS]")
    start()
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))  # as `python SCRIPT` sets it
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
