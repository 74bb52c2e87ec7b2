"""Greedy generation with a random-weight Llama (transformers), marked with prefill/decode ranges.

Needs torch with CUDA and transformers; downloads nothing (the config is built here, the weights
are random). Under roofprof:

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
from transformers import LlamaConfig, LlamaForCausalLM

import roofprof


def build(layers: int, hidden: int, heads: int, kv_heads: int, vocab: int) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 8 // 3 // 64 * 64,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(device="cuda", dtype=torch.bfloat16)
    return model.eval()


@torch.inference_mode()
def generate(model: LlamaForCausalLM, batch: int, prompt: int, new_tokens: int) -> torch.Tensor:
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, prompt), device="cuda")
    with roofprof.range("prefill"):
        out = model(input_ids=ids, use_cache=True)
        torch.cuda.synchronize()
    past = out.past_key_values
    token = out.logits[:, -1].argmax(-1, keepdim=True)
    tokens = [token]
    for _ in range(new_tokens - 1):
        with roofprof.range("decode"):
            out = model(input_ids=token, past_key_values=past, use_cache=True)
            torch.cuda.synchronize()
        past = out.past_key_values
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        tokens.append(token)
    return torch.cat(tokens, dim=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=3,
                   help="tokens generated: 1 from prefill, the rest one decode step each")
    p.add_argument("--warmup", type=int, default=1, help="forward passes first, outside any "
                   "range, so one-time setup kernels stay out of the ranges")
    args = p.parse_args()
    model = build(args.layers, args.hidden, args.heads, args.kv_heads, args.vocab)
    for _ in range(args.warmup):
        ids = torch.randint(0, args.vocab, (args.batch, args.prompt), device="cuda")
        with torch.inference_mode():
            model(input_ids=ids, use_cache=True)
    out = generate(model, args.batch, args.prompt, args.new_tokens)
    print(f"generated {tuple(out.shape)} tokens")


if __name__ == "__main__":
    main()
