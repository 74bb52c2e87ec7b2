"""A decode loop to measure tracing overhead on (issue 11): a random-weight Llama, prefill once,
then time --steps decode steps (each synchronised), eager or replaying a CUDA graph.

    python bench/decode_loop.py --steps 200   # prints {"ms_per_step": ..., "median_step_ms": ...}
    python bench/decode_loop.py --annotate             # plus an NVTX range per module call
    roofprof trace -o t -- python bench/decode_loop.py --steps 200

Needs torch with CUDA and transformers (random weights, nothing downloaded).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))


def parser() -> argparse.ArgumentParser:
    """The loop's options and the model's (examples/_llama.py: it needs torch, CPU or not;
    transformers and a GPU only when the model is built)."""
    from _llama import add_model_options

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(p, hidden=2048, heads=16, kv_heads=4, vocab=32000)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--graph", action="store_true")
    p.add_argument("--annotate", action="store_true",
                   help="a range per module call, named by its path (as a profiled service has)")
    p.add_argument("--events", action="store_true",
                   help="also time each step's GPU work with CUDA events (median us): the "
                        "truth a tracer's graph replay spans are checked against")
    p.add_argument("--kineto", action="store_true",
                   help="time the loop under torch.profiler (CUDA activities only), to compare")
    return p


def main() -> None:
    args = parser().parse_args()
    import torch

    with torch.inference_mode():
        run_loop(args)


def run_loop(args: argparse.Namespace) -> None:
    """Build the model, prefill once, run and time ``args.steps`` decode steps; print them."""
    import torch
    from _llama import build
    from kineto_llama import annotate_modules, marked, static_cache

    model = build(args)
    if args.annotate:
        annotate_modules(model)
    cache = static_cache(model, args.batch, args.prompt + args.steps + 8)
    ids = torch.randint(0, model.config.vocab_size, (args.batch, args.prompt), device="cuda")
    model(input_ids=ids, past_key_values=cache, cache_position=torch.arange(args.prompt,
          device="cuda"), use_cache=True)
    token = torch.zeros((args.batch, 1), dtype=torch.long, device="cuda")
    pos = torch.tensor([args.prompt], device="cuda")

    def step() -> torch.Tensor:
        return model(input_ids=token, past_key_values=cache, cache_position=pos,
                     use_cache=True).logits

    run = step
    if args.graph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()

        def run() -> torch.Tensor:
            graph.replay()
            return token

    for _ in range(5):  # warm-up
        run()
    torch.cuda.synchronize()
    profiler = contextlib.nullcontext()
    if args.kineto:
        profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA])
    pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
             for _ in range(args.steps if args.events else 0)]
    ends = [0.0] * args.steps
    with profiler:
        began = time.perf_counter()
        for i in range(args.steps):
            pos.fill_(args.prompt + 5 + i)
            with marked("decode"):
                if pairs:
                    pairs[i][0].record()
                run()
                if pairs:
                    pairs[i][1].record()
                torch.cuda.synchronize()
            ends[i] = time.perf_counter()
        ms = (ends[-1] - began) * 1000 / args.steps
    steps = sorted(b - a for a, b in zip([began, *ends[:-1]], ends, strict=True))
    # the mean is what a run pays; the median step leaves out the host's hiccups
    out = {"ms_per_step": ms, "median_step_ms": 1000 * steps[len(steps) // 2],
           "steps": args.steps, "graph": args.graph}
    if pairs:
        out["events_us_median"] = 1000 * sorted(a.elapsed_time(b) for a, b in pairs)[
            len(pairs) // 2]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
