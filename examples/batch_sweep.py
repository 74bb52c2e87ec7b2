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
from _llama import add_model_options, build, generate

import roofprof


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, required=True, help="sequences decoded together")
    add_model_options(p)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--steps", type=int, default=2, help="decode steps (one token each)")
    args = p.parse_args()
    model = build(args)
    with torch.inference_mode():  # warm-up outside any range
        model(input_ids=torch.randint(0, args.vocab, (args.batch, args.prompt), device="cuda"))
    generate(model, args.batch, args.prompt, args.steps + 1, mark=roofprof.phase)
    print(f"batch {args.batch}: prefill {args.prompt} tokens, {args.steps} decode steps")


if __name__ == "__main__":
    main()
