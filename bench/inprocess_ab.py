"""Benchmark (issue 11): the tracer's cost measured inside one process, with CUPTI attached and
detached in alternating blocks of decode steps, so that the host's speed, which moves 20-50%
between processes on the lent GPU machines, weighs on both alike.

    python bench/inprocess_ab.py --block 20 [--records kernel,api] [decode_loop.py options]

--records: what is enabled while attached, of kernel (kernel records), api (the launch calls'
API records), latency (kernel records with their queued and submitted times); nothing = CUPTI
attached with no record.

(`gpu_issue11.sh inprocess` runs the 4-layer and the 7B-shaped eager loops.)

Runs bench/decode_loop.py. Every --block steps (in the order off on on off off on ...) CUPTI is
attached with what `roofprof trace` enables but NVTX (kernel records and the launch calls' API
records: the hook's own Recorder and filters; NVTX goes to CUPTI through an injection library
that cannot be detached, and the loop opens one range a step), or detached (records flushed, kinds
disabled, cuptiFinalize). Each step is timed from the start of its range to the end of its
synchronize, as decode_loop.py times it. Attaching and detaching happen between steps, outside
the times. The first two blocks (one of each) are left out (attaching to a running context
once). CUDA graphs are not toggled (graph-level records cannot be turned on after a replay on
CUPTI 13.0); use it on the eager loop.

Prints {"inprocess": ...}: per state the steps, mean and median step (ms); the overhead of the
means and of the medians; the median and range of the overheads of adjacent block pairs; the
kernel records taken while attached.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import runpy
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "examples"))

from roofprof.capture import tracer_hook as hook  # noqa: E402
from roofprof.capture.tracer_process import loaded_library  # noqa: E402


class Toggle:
    """CUPTI attached with the tracer's records, or detached."""

    def __init__(self, records: set[str]) -> None:
        from cupti import cupti

        self.records = records
        self.cupti = cupti
        cupti.set_thread_id_type(cupti.ActivityThreadIdType.SYSTEM)  # loads libcupti
        path = loaded_library()
        if path is None:
            sys.exit("no libcupti.so loaded")
        self.rec = hook.Recorder("/tmp", cupti, ctypes.CDLL(path))
        self.callbacks = (hook._REQUESTED(self.rec.requested), hook._COMPLETED(self.rec.completed))
        hook._KEEP.append(self.callbacks)
        cupti.finalize()  # start detached
        self.on = False

    def attach(self) -> None:
        c = self.cupti
        c.set_thread_id_type(c.ActivityThreadIdType.SYSTEM)
        if self.rec.library.cuptiActivityRegisterCallbacks(*self.callbacks):
            sys.exit("cuptiActivityRegisterCallbacks failed")
        if "kernel" in self.records:
            c.activity_enable(c.ActivityKind.CONCURRENT_KERNEL)
        if "api" in self.records:
            hook.launches_only(c)
        if "latency" in self.records:  # kernel records with their queued/submitted times
            c.activity_enable_latency_timestamps(1)
        self.on = True

    def detach(self) -> None:
        c = self.cupti
        c.activity_flush_all(1)
        if "kernel" in self.records:
            c.activity_disable(c.ActivityKind.CONCURRENT_KERNEL)
        c.finalize()
        self.on = False

    def kernel_records(self) -> int:
        found, _ = hook.decode(self.rec.buffers, hook.layouts(self.cupti))
        return len(found["kernel"])


def parser() -> argparse.ArgumentParser:
    """--block and --records; every other option is decode_loop.py's."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other options go to bench/decode_loop.py (see its --help).",
        allow_abbrev=False)  # the loop's options pass through whole
    ap.add_argument("--block", type=int, default=20,
                    help="decode steps per block, attached or detached (%(default)s)")
    ap.add_argument("--records", default="kernel,api",
                    help="what is enabled while attached: kernel, api, latency, comma-separated "
                         "(%(default)s)")
    return ap


def main() -> None:
    args, loop_args = parser().parse_known_args()
    block, records = args.block, args.records
    import kineto_llama  # torch and transformers: only once the options are read

    toggle = Toggle(set(records.split(",")))
    original = kineto_llama.marked
    steps: list[tuple[int, bool, float]] = []  # (block, attached, seconds)

    @contextlib.contextmanager
    def marked(name: str) -> Iterator[None]:
        n = len(steps)
        if n % block == 0:
            want = (n // block) % 4 in (1, 2)  # off on on off | off on on off ...
            if want and not toggle.on:
                toggle.attach()
            elif not want and toggle.on:
                toggle.detach()
        began = time.perf_counter()
        with original(name):
            yield
        steps.append((n // block, toggle.on, time.perf_counter() - began))

    kineto_llama.marked = marked
    sys.argv = [str(HERE / "decode_loop.py"), *loop_args]
    runpy.run_path(sys.argv[0], run_name="__main__")
    if toggle.on:
        toggle.detach()
    kept = [s for s in steps if s[0] >= 2]
    by: dict[bool, list[float]] = {True: [], False: []}
    blocks: dict[int, tuple[bool, list[float]]] = {}
    for b, on, sec in kept:
        by[on].append(1000 * sec)
        blocks.setdefault(b, (on, []))[1].append(1000 * sec)
    means = {b: (on, statistics.mean(x)) for b, (on, x) in blocks.items()}
    pairs = []
    for b in sorted(means):
        if b + 1 in means and means[b][0] != means[b + 1][0] and b % 2 == 0:
            on = means[b][1] if means[b][0] else means[b + 1][1]
            off = means[b + 1][1] if means[b][0] else means[b][1]
            pairs.append(100 * (on - off) / off)
    out: dict[str, Any] = {"block": block, "records": records}
    for on, name in ((False, "detached"), (True, "attached")):
        out[name] = {"steps": len(by[on]), "mean_ms": statistics.mean(by[on]),
                     "median_ms": statistics.median(by[on])}
    d, a = out["detached"], out["attached"]
    out["overhead_of_means"] = 100 * (a["mean_ms"] - d["mean_ms"]) / d["mean_ms"]
    out["overhead_of_medians"] = 100 * (a["median_ms"] - d["median_ms"]) / d["median_ms"]
    if pairs:
        out["block_pairs"] = {"n": len(pairs), "median": statistics.median(pairs),
                              "min": min(pairs), "max": max(pairs)}
    out["kernel_records"] = toggle.kernel_records()
    print(json.dumps({"inprocess": out}), flush=True)


if __name__ == "__main__":
    main()
