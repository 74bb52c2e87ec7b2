"""One point of a batch sweep: a random-weight Llama decoding at one batch size, phases marked.

Run it once per batch size under ``roofprof record`` (one trace each), then put the traces on
one roofline; as the batch grows, decode's arithmetic intensity grows (the weights are read once
per step for more tokens) and its aggregate point moves toward the ridge:

    for b in 1 4 16 64; do
        roofprof record -o batch_$b --range decode -- python examples/batch_sweep.py --batch $b
    done
    roofprof plot --sweep batch_1.parquet batch_4.parquet batch_16.parquet batch_64.parquet \
        -o batch_sweep.png
    roofprof summary batch_64.parquet --by category

Needs torch with CUDA and transformers; downloads nothing. ``--range decode`` keeps the reports
small (the decode steps only); drop it to see prefill move too.
"""

from __future__ import annotations

import argparse

import torch
from llama_annotated import build

import roofprof


@torch.inference_mode()
def run(model: torch.nn.Module, batch: int, prompt: int, steps: int) -> None:
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, prompt), device="cuda")
    with roofprof.phase("prefill"):
        out = model(input_ids=ids, use_cache=True)
        torch.cuda.synchronize()
    past = out.past_key_values
    token = out.logits[:, -1].argmax(-1, keepdim=True)
    for _ in range(steps):
        with roofprof.phase("decode"):
            out = model(input_ids=token, past_key_values=past, use_cache=True)
            torch.cuda.synchronize()
        past = out.past_key_values
        token = out.logits[:, -1].argmax(-1, keepdim=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, required=True, help="sequences decoded together")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--steps", type=int, default=2, help="decode steps (one token each)")
    p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa")
    args = p.parse_args()
    model = build(args.layers, args.hidden, args.heads, args.kv_heads, args.vocab, args.attn)
    with torch.inference_mode():  # warm-up outside any range
        model(input_ids=torch.randint(0, args.vocab, (args.batch, args.prompt), device="cuda"))
    run(model, args.batch, args.prompt, args.steps)
    print(f"batch {args.batch}: prefill {args.prompt} tokens, {args.steps} decode steps")


if __name__ == "__main__":
    main()
