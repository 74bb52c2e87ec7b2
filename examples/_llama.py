"""What the Llama examples share: the model's command-line options, the random-weight model,
and greedy generation with a marker around each forward pass.

Needs torch with CUDA and transformers; downloads nothing (the config is built here, the weights
are random).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # transformers is imported when a model is built: --help needs none of it
    from transformers import LlamaForCausalLM

#: a marker: phase name ("prefill" / "decode") -> context manager around one forward pass
Marker = Callable[[str], contextlib.AbstractContextManager[Any]]


def add_model_options(p: argparse.ArgumentParser, *, hidden: int = 1024, heads: int = 16,
                      kv_heads: int = 4, vocab: int = 32000) -> None:
    """--layers, --hidden, --heads, --kv-heads, --vocab and --attn."""
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=hidden)
    p.add_argument("--heads", type=int, default=heads)
    p.add_argument("--kv-heads", type=int, default=kv_heads)
    p.add_argument("--vocab", type=int, default=vocab)
    p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa",
                   help="attention as one fused kernel (sdpa) or as Q.K^T, softmax, P.V")


def build(args: argparse.Namespace) -> LlamaForCausalLM:
    """The random-weight bf16 model the options of :func:`add_model_options` describe."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=args.vocab, hidden_size=args.hidden,
        intermediate_size=args.hidden * 8 // 3 // 64 * 64, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        max_position_embeddings=4096, attn_implementation=args.attn,
    )
    torch.manual_seed(0)
    # initialised on the GPU: a 7B-shaped model's random init takes over a minute on the CPU
    with torch.device("cuda"):
        model = LlamaForCausalLM(config)
    return model.to(dtype=torch.bfloat16).eval()


def _unmarked(phase: str) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


@torch.inference_mode()
def generate(model: LlamaForCausalLM, batch: int, prompt: int, new_tokens: int,
             mark: Marker = _unmarked) -> torch.Tensor:
    """Greedy generation of ``new_tokens`` tokens per sequence from a random prompt: one
    prefill forward pass (the whole prompt), then one decode pass per further token, each
    inside ``mark(phase)`` and finished before the marker closes."""
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt), device="cuda")
    with mark("prefill"):
        out = model(input_ids=ids, use_cache=True)
        torch.cuda.synchronize()
    past = out.past_key_values
    token = out.logits[:, -1].argmax(-1, keepdim=True)
    tokens = [token]
    for _ in range(new_tokens - 1):
        with mark("decode"):
            out = model(input_ids=token, past_key_values=past, use_cache=True)
            torch.cuda.synchronize()
        past = out.past_key_values
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        tokens.append(token)
    return torch.cat(tokens, dim=1)
