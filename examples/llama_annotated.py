"""Greedy generation with a random-weight Llama, every module and phase marked for roofprof.

Needs torch with CUDA and transformers; downloads nothing (``_llama.py`` builds the config; the
weights are random). ``roofprof.torch.annotate`` pushes an NVTX range per module call, named by
its path (``model.layers.0.self_attn.q_proj``); ``roofprof.torch.mark_phases`` wraps each model call
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

from _llama import add_model_options, build, generate

import roofprof.torch as rt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(p)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--prompt", type=int, default=256)
    p.add_argument("--new-tokens", type=int, default=3,
                   help="tokens generated: 1 from prefill, the rest one decode step each")
    p.add_argument("--depth", type=int, default=None,
                   help="annotate modules down to this many path parts (default: all)")
    args = p.parse_args()
    model = build(args)
    # warm up before any range exists, so one-time setup kernels stay out of the profile
    generate(model, args.batch, args.prompt, 2)
    with rt.annotate(model, depth=args.depth), rt.mark_phases(model):
        out = generate(model, args.batch, args.prompt, args.new_tokens)
    print(f"generated {tuple(out.shape)} tokens")


if __name__ == "__main__":
    main()
