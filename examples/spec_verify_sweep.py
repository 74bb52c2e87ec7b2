"""Speculative-verification sweep: one forward over N candidate tokens on top of a KV cache.

A random-weight Llama prefills a prompt once; then, for each candidate count N (16, 32, ...,
112 by default), one forward pass verifies N tokens against the cached context, inside NVTX
ranges ``spec_verify`` / ``N`` (the trace's range ``spec_verify/16``, phase ``spec``). The cache
is cropped back to the prompt after each pass, so every N sees the same context:

    roofprof record -o spec_verify --range spec_verify -- python examples/spec_verify_sweep.py
    roofprof summary spec_verify.parquet --by range --depth 2
    roofprof summary spec_verify.parquet --by op,range      # with --annotate
    roofprof plot spec_verify.parquet --by range -o spec_verify.png

``--annotate`` adds a range per module (roofprof.torch.annotate) so ``--by op`` separates
qkv/o projections, gate/up/down and attention as N grows. Needs torch with CUDA and
transformers (DynamicCache via ``past_key_values``); downloads nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
from typing import Any

import torch
from _llama import add_model_options, build

import roofprof
import roofprof.torch as rt


def crop(past: Any, length: int) -> Any:
    """The cache cut back to its first ``length`` tokens.

    ``DynamicCache.crop(-n)`` removes the last n tokens (transformers 5 accepts only negative
    values; earlier versions accept both).
    """
    extra = past.get_seq_length() - length
    if extra > 0:
        past.crop(-extra)
    return past


@torch.inference_mode()
def sweep(model: torch.nn.Module, batch: int, prompt: int, counts: list[int],
          warmup: bool) -> None:
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, prompt), device="cuda")
    with roofprof.phase("prefill"):
        past = model(input_ids=ids, use_cache=True).past_key_values
        torch.cuda.synchronize()
    base = copy.deepcopy(past) if warmup else None
    for n in counts:
        candidates = torch.randint(0, vocab, (batch, n), device="cuda")
        if base is not None:  # same shapes once outside the ranges: autotuning stays out
            model(input_ids=candidates, past_key_values=copy.deepcopy(base), use_cache=True)
        with roofprof.range("spec_verify"), roofprof.range(str(n)):
            out = model(input_ids=candidates, past_key_values=past, use_cache=True)
            torch.cuda.synchronize()
        past = crop(out.past_key_values, prompt)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--counts", default="16,32,48,64,80,96,112",
                   help="candidate tokens verified per pass (comma-separated)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt", type=int, default=512, help="context tokens in the KV cache")
    add_model_options(p)
    p.add_argument("--annotate", action="store_true", help="an NVTX range per module call")
    p.add_argument("--no-warmup", action="store_true")
    args = p.parse_args()
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    model = build(args)
    hooks = rt.annotate(model) if args.annotate else contextlib.nullcontext()
    with hooks:
        sweep(model, args.batch, args.prompt, counts, warmup=not args.no_warmup)
    print(f"verified {counts} candidate tokens over a {args.prompt}-token context")


if __name__ == "__main__":
    main()
