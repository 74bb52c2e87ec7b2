"""Probe (issue 11): what each CUPTI record family costs a decode loop, and whether CUDA graph
replays can be traced at graph level with node records on a sample of replays.

    python bench/cupti_probe.py MODE [decode_loop.py options]

MODE (comma-separated parts; "plain" for none):
    K       concurrent kernel records
    G       graph-level records (CUPTI_ACTIVITY_KIND_GRAPH_TRACE: one per graph launch)
    A       runtime and driver API records of launch calls only (the tracer's filter)
    a       the same per-call filter without enabling the RUNTIME/DRIVER kinds
    M       NVTX marker records
    I       kernel records off while a CUDA graph is instantiated (cudaGraphInstantiate*):
            are graph nodes then left without CUPTI's per-kernel timestamps?
    E       time each graph launch with two CUDA events recorded on its stream from a CUPTI
            callback (no CUPTI graph records); with K, kernel records are off during the launch
    R       nothing enabled: CUPTI loaded and the activity buffer callbacks registered only
    S       R, plus a callback subscriber with no callback enabled
    T       toggle: at sampled graph launches (the first 3 of each graph exec, then every 20th)
            turn graph-level records off (and kernel records on, without K) around the launch
Prints decode_loop.py's {"ms_per_step": ...} line, then {"probe": MODE, "records": {...}}:
record counts by kind, kernel records inside graphs, graph launches seen and sampled.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import json
import os
import runpy
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from roofprof.capture import tracer_hook as hook  # noqa: E402
from roofprof.capture.tracer_process import loaded_library, nvtx_domains_on  # noqa: E402


def parser() -> argparse.ArgumentParser:
    """MODE; every other option is decode_loop.py's (its --help lists them)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other options go to bench/decode_loop.py (see its --help).",
        allow_abbrev=False)  # the loop's options pass through whole
    ap.add_argument("mode", metavar="MODE",
                    help="record families, comma-separated (above); plain for none")
    return ap


def main() -> None:
    args, loop_args = parser().parse_known_args()
    mode = args.mode
    parts = set(mode.split(",")) - {"plain"}
    stats: Counter[str] = Counter()
    if parts:
        from cupti import cupti

        cupti.set_thread_id_type(cupti.ActivityThreadIdType.SYSTEM)
        path = loaded_library()
        assert path
        if "M" in parts:
            os.environ["NVTX_INJECTION64_PATH"] = path
        rec = hook.Recorder("/tmp", cupti, ctypes.CDLL(path))
        callbacks = (hook._REQUESTED(rec.requested), hook._COMPLETED(rec.completed))
        hook._KEEP.append(callbacks)
        assert rec.library.cuptiActivityRegisterCallbacks(*callbacks) == 0
        kind = cupti.ActivityKind
        if "K" in parts:
            cupti.activity_enable(kind.CONCURRENT_KERNEL)
        if "G" in parts:
            try:
                cupti.activity_enable(kind.GRAPH_TRACE)
            except Exception as exc:  # e.g. not compatible with kernel records
                stats[f"enable GRAPH_TRACE: {exc!r}"] += 1
        if "A" in parts:
            cupti.activity_enable(kind.RUNTIME)
            cupti.activity_enable(kind.DRIVER)
        if "A" in parts or "a" in parts:
            hook.launches_only(cupti)
        if "M" in parts:
            cupti.activity_enable(kind.MARKER)
            nvtx_domains_on([])
        seen: Counter[int] = Counter()

        def on_api(_user: Any, _domain: Any, _cbid: Any, data: Any) -> None:
            raw = int(data.ptr) if hasattr(data, "ptr") else int(data)
            params = ctypes.c_void_p.from_address(raw + 16).value or 0
            exec_ = ctypes.c_void_p.from_address(params).value if params else 0
            site = data.callback_site
            if site == cupti.ApiCallbackSite.API_ENTER:
                n = seen[exec_ or 0]
                seen[exec_ or 0] += 1
                stats["graph launches"] += 1
                if n < 3 or n % 20 == 0:
                    stats["sampled"] += 1
                    stats["_on"] = 1
                    try:
                        cupti.activity_disable(kind.GRAPH_TRACE)
                    except Exception as exc:
                        stats[f"disable GRAPH_TRACE: {exc!r}"] += 1
                    if "K" not in parts:
                        cupti.activity_enable(kind.CONCURRENT_KERNEL)
            elif stats.pop("_on", 0):
                if "K" not in parts:
                    cupti.activity_disable(kind.CONCURRENT_KERNEL)
                cupti.activity_enable(kind.GRAPH_TRACE)

        def on_instantiate(_user: Any, _domain: Any, _cbid: Any, data: Any) -> None:
            if data.callback_site == cupti.ApiCallbackSite.API_ENTER:
                stats["instantiations"] += 1
                cupti.activity_disable(kind.CONCURRENT_KERNEL)
            else:
                cupti.activity_enable(kind.CONCURRENT_KERNEL)

        libcuda = ctypes.CDLL("libcuda.so.1")
        spans: list[tuple[ctypes.c_void_p, ctypes.c_void_p]] = []
        opened: list[ctypes.c_void_p] = []

        def recorded(stream: int) -> ctypes.c_void_p:
            ev = ctypes.c_void_p()
            libcuda.cuEventCreate(ctypes.byref(ev), 0)
            libcuda.cuEventRecord(ev, ctypes.c_void_p(stream))
            return ev

        def on_event_launch(_user: Any, _domain: Any, _cbid: Any, data: Any) -> None:
            raw = int(data.ptr) if hasattr(data, "ptr") else int(data)
            params = ctypes.c_void_p.from_address(raw + 16).value or 0
            stream = ctypes.c_void_p.from_address(params + 8).value or 0 if params else 0
            if data.callback_site == cupti.ApiCallbackSite.API_ENTER:
                if "K" in parts:
                    cupti.activity_disable(kind.CONCURRENT_KERNEL)
                opened.append(recorded(stream))
            else:
                spans.append((opened.pop(), recorded(stream)))
                if "K" in parts:
                    cupti.activity_enable(kind.CONCURRENT_KERNEL)

        def event_spans() -> dict[str, float]:
            libcuda.cuCtxSynchronize()
            got = []
            for a, b in spans:
                ms = ctypes.c_float()
                if libcuda.cuEventElapsedTime(ctypes.byref(ms), a, b) == 0:
                    got.append(1000 * ms.value)
            got.sort()
            return {"event spans": len(got), "event median us": got[len(got) // 2]} if got else {}

        watch = {"T": ("cudaGraphLaunch", on_api), "I": ("cudaGraphInstantiate", on_instantiate),
                 "E": ("cudaGraphLaunch", on_event_launch)}
        if "S" in parts:
            sub = cupti.subscribe(lambda *_: None, None)
            hook._KEEP.append(sub)
        for part, (prefix, handler) in watch.items():
            if part in parts:
                sub = cupti.subscribe(handler, None)
                hook._KEEP.append((sub, handler))
                for member in cupti.runtime_api_trace_cbid:
                    if member.name.startswith(prefix):
                        cupti.enable_callback(1, sub, cupti.CallbackDomain.RUNTIME_API,
                                              int(member))

        def report() -> None:
            cupti.activity_flush_all(1)
            k = cupti.ActivityKind
            found, problems = hook.decode(rec.buffers, hook.layouts(cupti))
            counts = {f: len(a) for f, a in found.items()}
            counts["kernel in graphs"] = int((found["kernel"]["graph_id"] != 0).sum())
            if "E" in parts:
                counts.update(event_spans())
            if len(found["graph"]):
                g = found["graph"]
                counts["graph mean us"] = float(((g["end"] - g["start"]) / 1e3).mean())
            print(json.dumps({"probe": mode, "records": counts,
                              "stats": {k: v for k, v in stats.items() if k[0] != "_"},
                              "problems": problems[:3]}), flush=True)
            rec._quietly("disable GRAPH_TRACE", "activity_disable", k.GRAPH_TRACE)
            rec.stop()

        atexit.register(report)
    sys.argv = [str(HERE / "decode_loop.py"), *loop_args]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
