"""Greedy generation with a random-weight Llama (transformers), marked with prefill/decode ranges.

Needs torch with CUDA and transformers; downloads nothing (``_llama.py`` builds the config; the
weights are random). Under roofprof:

    roofprof record -o llama --range prefill --range decode -- python examples/llama_generate.py
    roofprof summary llama.parquet
    roofprof record -o decode --range decode --per-config 1 -- python examples/llama_generate.py \
        --new-tokens 33

The NVTX ranges are "prefill" around the first forward pass (the whole prompt) and "decode"
around each later one (one new token per sequence).
"""

from __future__ import annotations

import argparse

import torch
from _llama import add_model_options, build, generate

import roofprof


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(p, hidden=512, heads=8, kv_heads=2, vocab=8000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=3,
                   help="tokens generated: 1 from prefill, the rest one decode step each")
    p.add_argument("--warmup", type=int, default=1, help="forward passes first, outside any "
                   "range, so one-time setup kernels stay out of the ranges")
    args = p.parse_args()
    model = build(args)
    for _ in range(args.warmup):
        ids = torch.randint(0, args.vocab, (args.batch, args.prompt), device="cuda")
        with torch.inference_mode():
            model(input_ids=ids, use_cache=True)
    out = generate(model, args.batch, args.prompt, args.new_tokens, mark=roofprof.range)
    print(f"generated {tuple(out.shape)} tokens")


if __name__ == "__main__":
    main()
