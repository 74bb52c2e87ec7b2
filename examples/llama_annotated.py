"""Greedy generation with a random-weight Llama, every module and phase marked for roofprof.

Needs torch with CUDA and transformers; downloads nothing (the config is built here, the weights
are random). ``roofprof.torch.annotate`` pushes an NVTX range per module call, named by its
path (``model.layers.0.self_attn.q_proj``); ``roofprof.torch.mark_phases`` wraps each model call
in ``prefill`` (the whole prompt) or ``decode`` (one token per sequence). roofprof then fills
each kernel's ``phase``, ``category`` and ``op`` (qkv_proj, o_proj, gate/up/down_proj,
attention, lm_head, ...):

    roofprof record -o llama_annotated --range prefill --range decode -- \
        python examples/llama_annotated.py --layers 2 --new-tokens 3
    roofprof summary llama_annotated.parquet --by phase
    roofprof summary llama_annotated.parquet --by op,phase
    roofprof plot llama_annotated.parquet --by op,phase -o llama_ops.png

``--attn eager`` runs attention as two GEMMs (Q.K^T, P.V) around a softmax, so the ops
``attention_qk``, ``attention_softmax`` and ``attention_pv`` appear; ``sdpa`` (default) runs one
fused kernel (``attention``). Rotary embedding applied to q and k and the KV-cache writes are
``attention_other``. The model runs eagerly: NVTX ranges do not exist inside CUDA graph replays.

Prefill passes the BF16 ridge (~300 FLOP/B on an H100) only with enough work per weight byte,
e.g. ``--layers 1 --hidden 2048 --heads 16 --kv-heads 4 --batch 2 --prompt 1024`` (how
``fixtures/llama_annotated.ncu-rep`` was recorded); the small defaults are launch-bound.
"""

from __future__ import annotations

import argparse

import torch
from transformers import LlamaConfig, LlamaForCausalLM

import roofprof.torch as rt


def build(layers: int, hidden: int, heads: int, kv_heads: int, vocab: int,
          attn: str) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 8 // 3 // 64 * 64,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=4096, attn_implementation=attn,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(device="cuda", dtype=torch.bfloat16)
    return model.eval()


@torch.inference_mode()
def generate(model: LlamaForCausalLM, batch: int, prompt: int, new_tokens: int) -> torch.Tensor:
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt), device="cuda")
    out = model(input_ids=ids, use_cache=True)  # prefill: mark_phases sees prompt tokens
    past = out.past_key_values
    token = out.logits[:, -1].argmax(-1, keepdim=True)
    tokens = [token]
    for _ in range(new_tokens - 1):
        out = model(input_ids=token, past_key_values=past, use_cache=True)  # decode: 1 token
        past = out.past_key_values
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        tokens.append(token)
    torch.cuda.synchronize()
    return torch.cat(tokens, dim=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--prompt", type=int, default=256)
    p.add_argument("--new-tokens", type=int, default=3,
                   help="tokens generated: 1 from prefill, the rest one decode step each")
    p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa")
    p.add_argument("--depth", type=int, default=None,
                   help="annotate modules down to this many path parts (default: all)")
    args = p.parse_args()
    model = build(args.layers, args.hidden, args.heads, args.kv_heads, args.vocab, args.attn)
    # warm up before any range exists, so one-time setup kernels stay out of the profile
    generate(model, args.batch, args.prompt, 2)
    with rt.annotate(model, depth=args.depth), rt.mark_phases(model):
        out = generate(model, args.batch, args.prompt, args.new_tokens)
    print(f"generated {tuple(out.shape)} tokens")


if __name__ == "__main__":
    main()
