"""A tensor-parallel random-weight Llama-style decoder, in plain torch, across torch.distributed
ranks: prefill, then decode steps on a KV cache, phases and modules marked for roofprof.

    torchrun --nproc-per-node 2 examples/tp_llama.py                   # 2 GPUs, NCCL
    torchrun --nproc-per-node 2 examples/tp_llama.py --device cpu --dtype float32   # gloo

The split is Megatron-LM's: in every layer q, k, v (whole heads) and the MLP's gate and up
projections are column-parallel (each rank holds ``heads/N`` query heads, ``kv_heads/N`` key and
value heads and ``ffn/N`` MLP columns), o_proj and down_proj row-parallel (each rank holds the
matching input rows and produces a partial sum), each followed by one all-reduce (sum) of the
(tokens, hidden) activations: 2 all-reduces per layer and forward pass (none at N = 1).
The embedding, the RMSNorms and the lm_head are replicated: every rank holds them whole and
computes the full logits (a vocabulary-split lm_head would need an all-gather). Every rank
builds the full weights from ``--seed`` in one fixed order (fp32, on the CPU) and keeps its
shard, so the logits do not depend on N beyond the order of the all-reduce's sums.

Module names are the transformers Llama's (``model.layers.0.self_attn.q_proj``,
``model.layers.0.mlp.down_proj``, ``lm_head``, ...), each module call in an NVTX range of that
name (``roofprof.torch.annotate``), the first forward pass in ``prefill``, each later one in
``decode`` (``roofprof.phase``), so roofprof's rules give every kernel its phase and op. The
all-reduce runs inside the o_proj / down_proj range (as Megatron's RowParallelLinear does it):
its kernels have op o_proj / down_proj and category communication (``--by op,category``).
Warm-up generations (``--warmup``, each a prefill and a decode pass) run first, outside every
range, so one-time setup (NCCL's first collective, cuBLAS handles) stays out of the phases.

GEMMs per layer and rank, for T tokens in the pass (T = batch x prompt in prefill, batch in
decode), hidden H, head dim D = H/heads, ranks N; 2*M*N*K FLOPs each, M = T, split by N:

    q_proj     T x (heads*D/N) x H           k_proj, v_proj   T x (kv_heads*D/N) x H
    o_proj     T x H x (heads*D/N)           gate_proj, up_proj   T x (ffn/N) x H
    down_proj  T x H x (ffn/N)

    FLOPs per layer per rank = 2*T*H*(2*heads*D + 2*kv_heads*D + 3*ffn) / N

plus attention, per rank: Q.K^T and P.V are 2 * (2*B*(heads/N)*S*C*D) FLOPs for S query and C
cached tokens per sequence (prefill: C = S, causal: a kernel that skips the masked half does
about half); once per pass, replicated, the lm_head: 2*B*H*vocab (only the last position's
logits are computed). ``layer_gemms`` gives these shapes; tests/test_tp_example.py checks them
against the shapes the model runs. Each all-reduce carries T*H elements.

Every rank prints one JSON line at the end: rank, world size, device, dtype, the greedy tokens
and checksums (sum, sum of absolute values) of the logits of every step. ``--save-logits DIR``
also writes them as ``DIR/logits_rank<R>.pt``. Needs torch (2.5 or later); no transformers,
downloads nothing. Without torchrun it runs as one rank.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

try:  # roofprof's own NVTX helpers, where roofprof is installed (the repository's venv)
    import roofprof
    import roofprof.torch as rt
except ImportError:  # pragma: no cover - the example also runs without roofprof
    roofprof = None
    rt = None

PROG = "tp_llama.py"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
Reduce = Callable[[torch.Tensor], None]


class Usage(Exception):
    """A bad option: one line to the user, exit 2."""


# ------------------------------------------------------------------------- shapes and checks


def check(args: argparse.Namespace, world: int) -> None:
    """Refuse a configuration this split cannot run, with the option to change."""
    for name in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "batch", "prompt",
                 "new_tokens"):
        if getattr(args, name) < 1:
            raise Usage(f"--{name.replace('_', '-')} must be at least 1")
    if args.hidden % args.heads:
        raise Usage(f"--hidden {args.hidden} is not a multiple of --heads {args.heads}")
    if (args.hidden // args.heads) % 2:
        raise Usage(f"head dim {args.hidden // args.heads} (--hidden / --heads) must be even "
                    "for the rotary embedding")
    if args.heads % args.kv_heads:
        raise Usage(f"--heads {args.heads} is not a multiple of --kv-heads {args.kv_heads}")
    for name, value in (("heads", args.heads), ("kv-heads", args.kv_heads), ("ffn", args.ffn)):
        if value % world:
            raise Usage(f"--{name} {value} cannot be split over {world} ranks (not a multiple "
                        f"of the world size); change --{name} or --nproc-per-node")
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise Usage("--device cuda: this torch sees no CUDA device; pass --device cpu")
        if torch.cuda.device_count() < world:
            raise Usage(f"{world} ranks need {world} GPUs; this machine has "
                        f"{torch.cuda.device_count()} (pass --device cpu, or fewer ranks)")


def layer_gemms(args: argparse.Namespace, world: int, tokens: int) -> dict[str, tuple[int, int,
                                                                                        int]]:
    """(M, N, K) of each linear GEMM of one layer on one rank, for ``tokens`` tokens."""
    d = args.hidden // args.heads
    h, q, kv, f = args.hidden, args.heads * d // world, args.kv_heads * d // world, \
        args.ffn // world
    return {"q_proj": (tokens, q, h), "k_proj": (tokens, kv, h), "v_proj": (tokens, kv, h),
            "o_proj": (tokens, h, q), "gate_proj": (tokens, f, h), "up_proj": (tokens, f, h),
            "down_proj": (tokens, h, f)}


# ---------------------------------------------------------------------------------- the model


class ColumnParallelLinear(nn.Module):
    """A shard of a linear layer's output features; no communication."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class RowParallelLinear(nn.Module):
    """A shard of a linear layer's input features: a partial sum, all-reduced over ranks."""

    def __init__(self, weight: torch.Tensor, reduce: Reduce | None) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.reduce = reduce

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight)
        if self.reduce is not None:
            self.reduce(y)
        return y


class RMSNorm(nn.Module):
    """Normalised in fp32, scaled in the model's dtype (as transformers' LlamaRMSNorm)."""

    def __init__(self, hidden: int, dtype: torch.dtype, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden, dtype=dtype), requires_grad=False)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


class RotaryEmbedding(nn.Module):
    """cos and sin of the positions (Llama's rotary embedding, theta 10000)."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        inv = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor,
                                                                           torch.Tensor]:
        freqs = positions.float()[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class KVCache:
    """Per layer, keys and values of this rank's kv heads: (batch, kv_heads/N, length, D)."""

    def __init__(self, layers: int, batch: int, kv_heads: int, length: int, head_dim: int,
                 dtype: torch.dtype, device: torch.device) -> None:
        shape = (batch, kv_heads, length, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.length = 0


class Attention(nn.Module):
    def __init__(self, w: dict[str, torch.Tensor], heads: int, kv_heads: int, head_dim: int,
                 layer: int, reduce: Reduce | None) -> None:
        super().__init__()
        self.q_proj = ColumnParallelLinear(w["q"])
        self.k_proj = ColumnParallelLinear(w["k"])
        self.v_proj = ColumnParallelLinear(w["v"])
        self.o_proj = RowParallelLinear(w["o"], reduce)
        self.heads, self.kv_heads, self.head_dim, self.layer = heads, kv_heads, head_dim, layer

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                cache: KVCache) -> torch.Tensor:
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        start = cache.length
        cache.k[self.layer][:, :, start:start + s] = k
        cache.v[self.layer][:, :, start:start + s] = v
        keys = cache.k[self.layer][:, :, :start + s]
        values = cache.v[self.layer][:, :, :start + s]
        # prefill from an empty cache is causal; a decode token sees every cached position
        out = F.scaled_dot_product_attention(q, keys, values, is_causal=start == 0 and s > 1,
                                             enable_gqa=self.heads != self.kv_heads)
        return self.o_proj(out.transpose(1, 2).reshape(b, s, self.heads * self.head_dim))


class MLP(nn.Module):
    def __init__(self, w: dict[str, torch.Tensor], reduce: Reduce | None) -> None:
        super().__init__()
        self.gate_proj = ColumnParallelLinear(w["gate"])
        self.up_proj = ColumnParallelLinear(w["up"])
        self.down_proj = RowParallelLinear(w["down"], reduce)
        self.act_fn = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, w: dict[str, torch.Tensor], heads: int, kv_heads: int, head_dim: int,
                 layer: int, reduce: Reduce | None) -> None:
        super().__init__()
        hidden, dtype = w["o"].shape[0], w["o"].dtype
        self.input_layernorm = RMSNorm(hidden, dtype)
        self.self_attn = Attention(w, heads, kv_heads, head_dim, layer, reduce)
        self.post_attention_layernorm = RMSNorm(hidden, dtype)
        self.mlp = MLP(w, reduce)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                cache: KVCache) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class TPLlamaModel(nn.Module):
    def __init__(self, embed: torch.Tensor, layers: list[DecoderLayer], head_dim: int) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding.from_pretrained(embed, freeze=True)
        self.rotary_emb = RotaryEmbedding(head_dim)
        self.layers = nn.ModuleList(layers)
        self.norm = RMSNorm(embed.shape[1], embed.dtype)

    def forward(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        x = self.embed_tokens(ids)
        positions = torch.arange(cache.length, cache.length + ids.shape[1], device=ids.device)
        cos, sin = self.rotary_emb(positions, x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin, cache)
        cache.length += ids.shape[1]
        return self.norm(x)


class TPLlamaForCausalLM(nn.Module):
    """The rank's shard of the model; ``forward`` returns the last position's logits."""

    def __init__(self, model: TPLlamaModel, lm_head: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.lm_head = nn.Linear(lm_head.shape[1], lm_head.shape[0], bias=False)
        self.lm_head.weight = nn.Parameter(lm_head, requires_grad=False)
        attn = model.layers[0].self_attn
        #: this rank's kv heads and the head dim (the KV cache's shape)
        self.kv_heads: int = attn.kv_heads
        self.head_dim: int = attn.head_dim

    def forward(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        return self.lm_head(self.model(ids, cache)[:, -1])


def build(args: argparse.Namespace, rank: int, world: int, device: torch.device,
          reduce: Reduce | None) -> TPLlamaForCausalLM:
    """Rank ``rank``'s shard of the model of ``--seed``: the full weights are drawn in one
    fixed order on the CPU (fp32, std 0.02), then sliced, cast and moved."""
    gen = torch.Generator().manual_seed(args.seed)
    dtype = DTYPES[args.dtype]
    d = args.hidden // args.heads
    hq, hkv, f = args.heads // world, args.kv_heads // world, args.ffn // world

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=gen) * 0.02

    def keep(t: torch.Tensor) -> torch.Tensor:
        return t.to(dtype).to(device).contiguous()

    def rows(t: torch.Tensor, n: int) -> torch.Tensor:  # output features n*rank ... n*(rank+1)
        return keep(t[rank * n:(rank + 1) * n])

    def cols(t: torch.Tensor, n: int) -> torch.Tensor:  # input features likewise
        return keep(t[:, rank * n:(rank + 1) * n])

    embed = keep(draw(args.vocab, args.hidden))
    layers = []
    for i in range(args.layers):
        full = {"q": draw(args.heads * d, args.hidden), "k": draw(args.kv_heads * d, args.hidden),
                "v": draw(args.kv_heads * d, args.hidden), "o": draw(args.hidden, args.heads * d),
                "gate": draw(args.ffn, args.hidden), "up": draw(args.ffn, args.hidden),
                "down": draw(args.hidden, args.ffn)}
        shard = {"q": rows(full["q"], hq * d), "k": rows(full["k"], hkv * d),
                 "v": rows(full["v"], hkv * d), "o": cols(full["o"], hq * d),
                 "gate": rows(full["gate"], f), "up": rows(full["up"], f),
                 "down": cols(full["down"], f)}
        layers.append(DecoderLayer(shard, hq, hkv, d, i, reduce))
    lm_head = keep(draw(args.vocab, args.hidden))
    model = TPLlamaForCausalLM(TPLlamaModel(embed, layers, d), lm_head)
    return model.to(device).eval()


# ------------------------------------------------------------------------------ generation


def _unmarked(_name: str) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


def _phase(name: str) -> contextlib.AbstractContextManager[Any]:
    return roofprof.phase(name) if roofprof is not None else contextlib.nullcontext()


@torch.inference_mode()
def generate(model: TPLlamaForCausalLM, args: argparse.Namespace, device: torch.device,
             mark: Callable[[str], contextlib.AbstractContextManager[Any]] = _unmarked
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy generation of ``--new-tokens`` tokens: one prefill pass over the prompt, then one
    decode pass per further token, each inside ``mark(phase)`` and finished before it closes.
    Returns the tokens (batch, new_tokens) and the logits of every step (new_tokens, batch,
    vocab) in fp32."""
    cache = KVCache(args.layers, args.batch, model.kv_heads, args.prompt + args.new_tokens,
                    model.head_dim, DTYPES[args.dtype], device)
    gen = torch.Generator().manual_seed(args.seed + 1)
    ids = torch.randint(0, args.vocab, (args.batch, args.prompt), generator=gen).to(device)
    logits, tokens = [], []
    for step in range(args.new_tokens):
        with mark("prefill" if step == 0 else "decode"):
            out = model(ids, cache)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        ids = out.argmax(-1, keepdim=True)
        logits.append(out.float().cpu())
        tokens.append(ids.cpu())
    return torch.cat(tokens, dim=1), torch.stack(logits)


@contextlib.contextmanager
def _annotated(model: nn.Module) -> Iterator[None]:
    if rt is None:
        yield
        return
    with rt.annotate(model):
        yield


def marked_generation(model: TPLlamaForCausalLM, args: argparse.Namespace,
                      device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`generate` with every module call in an NVTX range named by its path and each
    pass in its phase's range (where roofprof is installed)."""
    with _annotated(model):
        return generate(model, args, device, mark=_phase)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=2816, help="MLP intermediate size")
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--prompt", type=int, default=128, help="prompt tokens per sequence")
    p.add_argument("--new-tokens", type=int, default=4,
                   help="tokens generated: 1 from prefill, the rest one decode step each")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="bfloat16")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                   help="cuda: one GPU per rank (LOCAL_RANK), NCCL; cpu: gloo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=1,
                   help="unmarked generations first (one prefill + one decode step each)")
    p.add_argument("--save-logits", type=Path, metavar="DIR",
                   help="write each rank's tokens and logits to DIR/logits_rank<R>.pt")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    try:
        check(args, world)
        if args.save_logits is not None and not args.save_logits.is_dir():
            raise Usage(f"--save-logits {args.save_logits}: no such folder")
    except Usage as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.device == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    reduce: Reduce | None = None
    if "WORLD_SIZE" in os.environ:  # under torchrun (also at N = 1, for the same code path)
        if args.device == "cuda":  # bound to this rank's GPU: NCCL sets up at once
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
        if world > 1:
            def reduce(t: torch.Tensor) -> None:
                dist.all_reduce(t)
    try:
        model = build(args, rank, world, device, reduce)
        for _ in range(args.warmup):  # outside every range: one-time setup stays out
            generate(model, argparse.Namespace(**{**vars(args), "new_tokens": 2}), device)
        tokens, logits = marked_generation(model, args, device)
        if args.save_logits is not None:
            torch.save({"tokens": tokens, "logits": logits},
                       args.save_logits / f"logits_rank{rank}.pt")
        line = json.dumps({
            "rank": rank, "world_size": world, "device": str(device), "dtype": args.dtype,
            "tokens": tokens.tolist(), "logits_sum": float(logits.double().sum()),
            "logits_abs_sum": float(logits.double().abs().sum()),
            "all_reduces_per_pass": 2 * args.layers if reduce is not None else 0})
        # one write per line: the ranks share torchrun's stdout, print() writes the end apart
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
