"""A random-weight Llama under the PyTorch profiler: a Kineto trace (``.json`` / ``.json.gz``)
as torch.profiler, vLLM and SGLang write them, with prefill/decode phases and module paths as
``record_function`` annotations (what the PyTorch profiler sees; NVTX ranges are pushed too, so
the same run under Nsight Systems or ``roofprof trace`` has them as well).

``--graph`` captures one decode step in a ``torch.cuda.CUDAGraph`` (with transformers'
``StaticCache``) and replays it for every decode token, as serving engines do: the profiler then
sees the graph's kernels launched by ``cudaGraphLaunch``; module annotations exist only at capture.

    python examples/kineto_llama.py -o llama_kineto.json.gz
    python examples/kineto_llama.py --graph -o llama_graph_kineto.json.gz
    roofprof summary llama_kineto.json.gz --by phase

Needs torch with CUDA and transformers; downloads nothing.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from _llama import add_model_options, build

try:  # NVTX too, where the nvtx package is installed (roofprof's own dependency)
    import nvtx as _nvtx
except ImportError:  # pragma: no cover - depends on the machine
    _nvtx = None


@contextlib.contextmanager
def marked(name: str) -> Iterator[None]:
    """One range under both the PyTorch profiler (record_function) and NVTX."""
    if _nvtx is not None:
        _nvtx.push_range(name)
    try:
        with torch.profiler.record_function(name):
            yield
    finally:
        if _nvtx is not None:
            _nvtx.pop_range()


def annotate_modules(model: Any) -> list[Any]:
    """A ``record_function`` + NVTX range per module call, named by its path."""
    handles: list[Any] = []
    for path, module in model.named_modules():
        if not path:
            continue

        def pre(_m: Any, _a: Any, _name: str = path) -> None:
            cm = marked(_name)
            cm.__enter__()
            _m._roofprof_ranges = [*getattr(_m, "_roofprof_ranges", []), cm]

        def post(_m: Any, _a: Any, _o: Any) -> None:
            _m._roofprof_ranges.pop().__exit__(None, None, None)

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post, always_call=True))
    return handles


def static_cache(model: Any, batch: int, length: int) -> Any:
    from transformers import StaticCache

    for kwargs in ({"config": model.config, "max_cache_len": length},
                   {"config": model.config, "max_batch_size": batch, "max_cache_len": length,
                    "device": "cuda", "dtype": torch.bfloat16}):
        try:
            return StaticCache(**kwargs)
        except TypeError:
            continue
    raise RuntimeError("this transformers version's StaticCache takes neither signature")


@torch.inference_mode()
def unmarked(_name: str) -> contextlib.AbstractContextManager[None]:
    """No range (the warm-up run)."""
    return contextlib.nullcontext()


def run_eager(model: Any, batch: int, prompt: int, new_tokens: int,
              mark: Callable[[str], contextlib.AbstractContextManager[None]] = marked) -> None:
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt), device="cuda")
    with mark("prefill"):
        out = model(input_ids=ids, use_cache=True)
        torch.cuda.synchronize()
    past, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
    for _ in range(new_tokens - 1):
        with mark("decode"):
            out = model(input_ids=token, past_key_values=past, use_cache=True)
            torch.cuda.synchronize()
        past, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)


@torch.inference_mode()
def run_graph(model: Any, batch: int, prompt: int, new_tokens: int,
              mark: Callable[[str], contextlib.AbstractContextManager[None]] = marked) -> None:
    """Prefill eagerly, capture one decode step in a CUDA graph, replay it per token."""
    cache = static_cache(model, batch, prompt + new_tokens + 1)
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt), device="cuda")
    with mark("prefill"):
        out = model(input_ids=ids, past_key_values=cache, use_cache=True,
                    cache_position=torch.arange(prompt, device="cuda"))
        torch.cuda.synchronize()
    token = out.logits[:, -1].argmax(-1, keepdim=True)
    static_ids = token.clone()
    static_pos = torch.tensor([prompt], device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up on a side stream before capture, as torch asks
        for _ in range(2):
            model(input_ids=static_ids, past_key_values=cache, cache_position=static_pos,
                  use_cache=True)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with mark("decode"), mark("graph_capture"), torch.cuda.graph(graph):
        static_out = model(input_ids=static_ids, past_key_values=cache,
                           cache_position=static_pos, use_cache=True)
    torch.cuda.synchronize()
    for step in range(new_tokens - 1):
        static_pos.fill_(prompt + step)
        with mark("decode"):
            graph.replay()
            torch.cuda.synchronize()
        static_ids.copy_(static_out.logits[:, -1].argmax(-1, keepdim=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(p, hidden=512, heads=8, kv_heads=2, vocab=8000)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=4)
    p.add_argument("--graph", action="store_true", help="decode steps replay a CUDA graph")
    p.add_argument("--no-profiler", action="store_true",
                   help="run without torch.profiler (for nsys or roofprof trace)")
    p.add_argument("--requests", type=int, default=0, metavar="N",
                   help="serve N requests one after the other, each inside a 'request' range "
                        "(for roofprof latency --per-request); default: one generation, no "
                        "request range")
    p.add_argument("-o", "--output", default="llama_kineto.json.gz")
    args = p.parse_args()
    model = build(args)
    run = run_graph if args.graph else run_eager
    run(model, args.batch, args.prompt, 2, mark=unmarked)  # warm-up outside any annotation
    handles = annotate_modules(model)

    def serve() -> None:
        if not args.requests:
            run(model, args.batch, args.prompt, args.new_tokens)
        for _ in range(args.requests):
            with marked("request"):
                run(model, args.batch, args.prompt, args.new_tokens)

    if args.no_profiler:
        serve()
    else:
        acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=acts) as prof:
            serve()
        prof.export_chrome_trace(args.output)
        print(f"wrote {args.output}")
    for h in handles:
        h.remove()


if __name__ == "__main__":
    main()
