"""Analytic cost of one forward step of a decoder transformer, per op and phase, on one GPU.

:func:`estimate` returns a table with one row per (phase, op), op names as in the measured
``op`` column (README "LLM inference"): embed, norm, qkv_proj, rope, attention (fused; or
attention_qk, attention_softmax, attention_pv with ``attention="eager"``), o_proj, gate_proj,
up_proj, act, down_proj, lm_head. Each row sums its op over the layers (``count`` instances) for
one step of the whole batch on one tensor-parallel rank.

Phases: ``prefill`` runs ``prompt`` tokens per sequence on an empty cache; ``decode`` one token
with ``context`` tokens cached; ``spec`` verifies ``spec_tokens`` candidates with ``context``
cached. ``tokens`` = batch x tokens per sequence.

Counting rules (the assumptions, explicit):

* GEMMs: 2·M·K·N FLOPs of the useful problem (the measured side executes padded tiles).
  Weights K·N at the weight dtype, plus, with ``group_size``, per group of weights an fp16
  scale and a zero point at the weight's width (AWQ/GPTQ asymmetric quantization). Precision:
  the tensor-core precision of the weight dtype (int4 weights are dequantised to the activation
  dtype: W4A16; int8 is W8A8 on INT8 tensor cores; fp8 is W8A8 FP8).
* Attention: Q·Kᵀ and P·V 2·heads·head_dim FLOPs per score each; with ``causal`` a query sees
  the cached context and the new tokens up to itself (T·ctx + T(T+1)/2 scores per sequence and
  head), without it the full T·(ctx+T) rectangle (what hand derivations use); a sliding window
  (Mistral v0.1) caps the keys per query and the cache read. Softmax: 5 FP32
  FLOPs per score. The KV cache is read whole (ctx+T tokens at the KV dtype) and the new tokens'
  K and V are written, both counted as ``kv_bytes`` of the attention row (of attention_qk when
  eager).
* Elementwise ops count conventional FP32 FLOPs: RMSNorm 4 per element, RoPE 3 per element of
  q and k, SiLU(gate)·up 5 per element. They are small; compare measured elementwise FLOPs with
  care (an exp is several instructions on the GPU).
* Bytes are ideal DRAM traffic. ``traffic="per-op"`` (eager execution): every op reads its inputs
  and writes its outputs at the activation dtype. ``traffic="fused"`` (a well-fused engine, the
  assumption of hand derivations): per layer only the layer input (read by qkv_proj), the
  attention output (written by o_proj), the MLP output (written by down_proj) and the KV cache
  move; norms, RoPE, activations and the attention's Q/scores stay on chip.
* Tensor parallelism (``tp``) splits heads, KV heads (replicated when fewer than ``tp``), the
  MLP width and the vocabulary; norms and the embedding are replicated. All-reduce traffic and
  residual adds are not modelled.
* ``logits="last"`` computes lm_head for the last token of each sequence (serving engines);
  ``"all"`` for every token (a plain Hugging Face forward).

With ``roofs`` (peak FLOP/s per precision and ``dram`` bytes/s: :func:`roofs_of_gpu`,
:func:`roofs_of_trace`) each row gets its time at the roof: ``max(max_p flop_p / peak_p,
bytes / dram)``, the bound, and ``work_per_s`` = work / that time (with ``intensity``, the
point a roofline plot draws for the op, on its roof).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from roofprof.analysis.model.config_schema import MAX_COUNT
from roofprof.analysis.roofline import effective_peaks
from roofprof.errors import RoofprofWarning, UsageError, option
from roofprof.tables.metrics import PRECISIONS

if TYPE_CHECKING:
    from roofprof.analysis.catalog import Gpu
    from roofprof.analysis.model.arch import Architecture

DTYPE_BYTES: dict[str, float] = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1,
                                 "int4": 0.5}
WEIGHT_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4")
ACT_DTYPES = ("bf16", "fp16")
KV_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4")
PHASES = ("prefill", "decode", "spec")
SCALE_BYTES = 2.0             # an fp16 scale per quantization group
NORM_FLOP, ROPE_FLOP, ACT_FLOP, SOFTMAX_FLOP = 4, 3, 5, 5
GEMM_OPS = ("qkv_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head")
WORK_COLUMNS: tuple[str, ...] = tuple(work for work, _peak in PRECISIONS.values())
COLUMNS: tuple[str, ...] = (
    "phase", "op", "count", "tokens", "precision", "flop", *WORK_COLUMNS, "weight_bytes",
    "kv_bytes", "act_bytes", "bytes", "intensity", "time_compute_s", "time_memory_s",
    "time_s", "work_per_s", "bound",
)


@dataclass(frozen=True)
class Options:
    """The workload and the numerics. ``context`` defaults to ``prompt``."""

    batch: int = 1
    prompt: int = 512
    context: int | None = None
    spec_tokens: int = 4
    weight_dtype: str = "bf16"
    group_size: int | None = None
    act_dtype: str = "bf16"
    kv_dtype: str | None = None
    tp: int = 1
    causal: bool = True
    logits: str = "last"
    traffic: str = "per-op"
    attention: str = "fused"
    quantize_lm_head: bool = False

    def checked(self) -> Options:
        """These options, where each is of its type and range; else one UsageError naming
        the option (a run the model cannot count: no FLOP or byte count may come out
        negative or NaN)."""
        for value, allowed, what in (
            (self.weight_dtype, WEIGHT_DTYPES, "weight dtype"),
            (self.act_dtype, ACT_DTYPES, "activation dtype"),
            (self.kv_dtype or self.act_dtype, KV_DTYPES, "KV dtype"),
            (self.logits, ("last", "all"), "logits"),
            (self.traffic, ("per-op", "fused"), "traffic"),
            (self.attention, ("fused", "eager"), "attention"),
        ):
            if value not in allowed:
                raise UsageError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
        for name in ("batch", "prompt", "spec_tokens", "tp"):
            _check_count(name, getattr(self, name), 1)
        if self.context is not None:
            _check_count("context", self.context, 0)
        if self.group_size is not None:
            _check_count("group_size", self.group_size, 1)
        for name in ("causal", "quantize_lm_head"):
            _check_flag(name, getattr(self, name))
        return self


def _check_count(name: str, value: Any, least: int) -> None:
    """A count of the run: an integer from ``least`` to the schema's largest count."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise UsageError(f"{option(name)} must be an integer, got {value!r}")
    if value < least:
        raise UsageError(f"{option(name)} must be at least {least}, got {value}")
    if value > MAX_COUNT:
        raise UsageError(f"{option(name)} must be at most {MAX_COUNT}, got {value}")


def _check_flag(name: str, value: Any) -> None:
    """A switch of the run: True or False, never a truthy text."""
    if not isinstance(value, bool | np.bool_):
        raise UsageError(f"{option(name)} must be True or False, got {value!r}")


def options_for(arch: Architecture, **run: Any) -> Options:
    """The options of a run of ``arch``: the :class:`Options` fields given (None: not given,
    the default), and ``non_causal`` for ``causal=False``. Unless ``weight_dtype`` is given the
    weights are the config's quantization (and its group size), else bf16: the one rule every
    command that models a run follows. Checked (:meth:`Options.checked`) before any input is
    read."""
    given = {k: v for k, v in run.items() if v is not None}
    unknown = sorted(set(given) - {f.name for f in fields(Options)} - {"non_causal"})
    if unknown:
        raise UsageError(f"unknown run option(s) {', '.join(unknown)}")
    non_causal = given.pop("non_causal", False)
    _check_flag("non_causal", non_causal)
    if non_causal:
        given["causal"] = False
    if "weight_dtype" not in given:
        given["weight_dtype"] = arch.quant_dtype or "bf16"
        given.setdefault("group_size", arch.quant_group_size)
    return replace(Options(), **given).checked()


def _tensor(dtype: str) -> str:
    return f"tensor_{dtype}"


class _Step:
    """Row builder for one phase: shapes per rank and the byte widths of the options."""

    def __init__(self, arch: Architecture, o: Options, phase: str) -> None:
        if arch.num_heads % o.tp:
            raise UsageError(f"tensor parallel degree {o.tp} does not divide "
                             f"{arch.num_heads} attention heads")
        self.a, self.o, self.phase = arch, o, phase
        self.t = {"prefill": o.prompt, "decode": 1, "spec": o.spec_tokens}[phase]
        self.ctx = 0 if phase == "prefill" else (o.prompt if o.context is None else o.context)
        self.n = o.batch * self.t
        self.heads = arch.num_heads // o.tp
        self.kv_heads = max(1, arch.num_kv_heads // o.tp)
        self.ffn = math.ceil(arch.intermediate_size / o.tp)
        self.vocab = math.ceil(arch.vocab_size / o.tp)
        self.act = DTYPE_BYTES[o.act_dtype]
        self.kv = DTYPE_BYTES[o.kv_dtype or o.act_dtype]
        self.fused = o.traffic == "fused"
        self.rows: list[dict[str, Any]] = []

    def row(self, op: str, count: int, work: dict[str, float], weight: float = 0.0,
            kv: float = 0.0, act: float = 0.0) -> None:
        r: dict[str, Any] = {"phase": self.phase, "op": op, "count": count, "tokens": self.n}
        for p, (column, _peak) in PRECISIONS.items():
            r[column] = count * work.get(p, 0.0)
        r["flop"] = sum(r[c] for c in WORK_COLUMNS if c != "ops_tensor_int8")
        r["precision"] = max(work, key=lambda p: work[p]) if work else None
        r["weight_bytes"], r["kv_bytes"], r["act_bytes"] = count * weight, count * kv, count * act
        self.rows.append(r)

    def gemm(self, op: str, count: int, m: int, k: int, n: int, read: bool, write: bool,
             quantized: bool = True) -> None:
        dtype = self.o.weight_dtype if quantized else self.o.act_dtype
        width = DTYPE_BYTES[dtype]
        weight = k * n * width
        if quantized and self.o.group_size and dtype in ("int4", "int8", "fp8"):
            weight += math.ceil(k / self.o.group_size) * n * (SCALE_BYTES + width)
        precision = self.o.act_dtype if dtype == "int4" else dtype
        act = self.act * (m * k * read + m * n * write)
        self.row(op, count, {_tensor(precision): 2.0 * m * k * n}, weight=weight, act=act)

    def keys(self) -> int:
        """Keys the step's attention reads per sequence (the KV cache held)."""
        w = self.a.sliding_window
        return self.ctx + self.t if w is None else min(self.ctx + self.t, w)

    def scores(self) -> float:
        """Attention scores per sequence and head in this step: query i (at position
        ctx + i + 1) sees that many keys when causal, at most the sliding window."""
        t, ctx, w = self.t, self.ctx, self.a.sliding_window
        if not self.o.causal:
            return t * self.keys()
        if w is None:
            return t * ctx + t * (t + 1) / 2
        last_full = min(ctx + t, w)                 # positions ctx+1 .. last_full see themselves
        n_full = max(0, last_full - ctx)
        full = n_full * (ctx + 1 + last_full) / 2
        return full + (t - n_full) * w


def _phase_rows(arch: Architecture, o: Options, phase: str) -> list[dict[str, Any]]:
    s = _Step(arch, o, phase)
    L, d, hd, n, b = arch.num_layers, arch.hidden_size, arch.head_dim, s.n, o.batch
    q, kvd, f = s.heads * hd, s.kv_heads * hd, s.ffn
    per_op = 0.0 if s.fused else 1.0
    # embedding: one table row per token (weights at the activation dtype)
    s.row("embed", 1, {}, weight=min(n, arch.vocab_size) * d * s.act, act=n * d * s.act)
    s.row("norm", 2 * L + 1, {"fp32": NORM_FLOP * n * d}, weight=d * s.act,
          act=per_op * 2 * n * d * s.act)
    s.gemm("qkv_proj", L, n, d, q + 2 * kvd, read=True, write=not s.fused)
    s.row("rope", L, {"fp32": ROPE_FLOP * n * (q + kvd)}, act=per_op * 2 * n * (q + kvd) * s.act)
    scores = b * s.heads * s.scores()
    qk = pv = 2.0 * scores * hd
    softmax = SOFTMAX_FLOP * scores
    cache = b * s.keys() * 2 * kvd * s.kv                  # K and V read, new tokens included
    new_kv = n * 2 * kvd * s.kv                            # K and V of the new tokens written
    kv_read = b * min(s.ctx, s.keys()) * 2 * kvd * s.kv if s.fused else cache
    qo = 2 * n * q * s.act                                 # Q read, O written
    if o.attention == "fused":
        s.row("attention", L, {_tensor(o.act_dtype): qk + pv, "fp32": softmax},
              kv=kv_read + new_kv, act=per_op * qo)
    else:
        rect = b * s.heads * s.t * (s.ctx + s.t) * s.act   # eager scores: the full masked matrix
        s.row("attention_qk", L, {_tensor(o.act_dtype): qk}, kv=kv_read / 2 + new_kv,
              act=per_op * (n * q * s.act + rect))
        s.row("attention_softmax", L, {"fp32": softmax}, act=per_op * 2 * rect)
        s.row("attention_pv", L, {_tensor(o.act_dtype): pv}, kv=kv_read / 2,
              act=per_op * (rect + n * q * s.act))
    s.gemm("o_proj", L, n, q, d, read=not s.fused, write=True)
    s.gemm("gate_proj", L, n, d, f, read=not s.fused, write=not s.fused)
    s.gemm("up_proj", L, n, d, f, read=not s.fused, write=not s.fused)
    s.row("act", L, {"fp32": ACT_FLOP * n * f}, act=per_op * 3 * n * f * s.act)
    s.gemm("down_proj", L, n, f, d, read=not s.fused, write=True)
    m = b if o.logits == "last" else n
    s.gemm("lm_head", 1, m, d, s.vocab, read=True, write=True, quantized=o.quantize_lm_head)
    return s.rows


def estimate(arch: Architecture, options: Options | None = None,
             phases: tuple[str, ...] = PHASES, roofs: dict[str, float] | None = None,
             **kw: Any) -> pd.DataFrame:
    """Per (phase, op): FLOPs per precision, weight/KV/activation bytes, intensity and, with
    ``roofs``, time at the roof. ``kw`` overrides fields of ``options``."""
    o = replace(options or Options(), **kw).checked()
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise UsageError(f"unknown phase(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(PHASES)}")
    rows = [r for p in phases for r in _phase_rows(arch, o, p)]
    df = pd.DataFrame(rows)
    df["bytes"] = df["weight_bytes"] + df["kv_bytes"] + df["act_bytes"]
    work = df["flop"] + df["ops_tensor_int8"]
    df["intensity"] = work / df["bytes"].where(df["bytes"] > 0)
    return _timed(df, roofs)[list(COLUMNS)]


def _timed(df: pd.DataFrame, roofs: dict[str, float] | None) -> pd.DataFrame:
    n = len(df)
    compute = np.zeros(n)
    if roofs is None:
        df["time_compute_s"] = df["time_memory_s"] = df["time_s"] = df["work_per_s"] = np.nan
        df["bound"] = None
        return df
    missing: set[str] = set()
    for p, (column, _peak) in PRECISIONS.items():
        w = df[column].to_numpy(dtype=float)
        peak = roofs.get(p)
        if peak:
            compute = np.maximum(compute, w / peak)
        elif (w > 0).any():
            compute = np.where(w > 0, np.nan, compute)
            missing.add(p)
    if missing:
        warnings.warn(f"no peak for {', '.join(sorted(missing))} on this GPU: the time of the "
                      "ops in that precision is unknown (pick another --act-dtype or "
                      "--weight-dtype)", RoofprofWarning, stacklevel=3)
    dram = roofs.get("dram")
    memory = df["bytes"].to_numpy(dtype=float) / dram if dram else np.full(n, np.nan)
    df["time_compute_s"] = compute
    df["time_memory_s"] = memory
    df["time_s"] = np.fmax(compute, memory) if dram else np.nan
    df["time_s"] = np.where(np.isnan(compute) | np.isnan(memory), np.nan, df["time_s"])
    bound = np.where(compute >= memory, "compute", "memory").astype(object)
    bound[np.isnan(df["time_s"].to_numpy(dtype=float))] = None
    df["bound"] = bound
    # the point a roofline plot draws for the op: its intensity and this rate
    df["work_per_s"] = (df["flop"] + df["ops_tensor_int8"]) / df["time_s"].where(
        df["time_s"] > 0)
    return df


def totals(df: pd.DataFrame) -> pd.DataFrame:
    """One row per phase of :func:`estimate`'s table: sums, intensity, time at the roofs
    (each op at its own roof, summed), the bound of the larger share and tokens/s."""
    sums = ["flop", *WORK_COLUMNS, "weight_bytes", "kv_bytes", "act_bytes", "bytes"]
    g = df.groupby("phase", sort=False)
    out = g[sums].sum()
    out["tokens"] = g["tokens"].first()
    out["intensity"] = (out["flop"] + out["ops_tensor_int8"]) / out["bytes"]
    out["time_s"] = g["time_s"].sum(min_count=1).where(~g["time_s"].apply(
        lambda s: s.isna().any()))
    compute = df["time_s"].where(df["bound"] == "compute", 0.0).groupby(df["phase"],
                                                                          sort=False).sum()
    out["compute_share"] = compute / out["time_s"]
    bound = np.where(out["compute_share"] >= 0.5, "compute", "memory").astype(object)
    bound[out["time_s"].isna().to_numpy()] = None
    out["bound"] = bound
    out["tokens_per_s"] = out["tokens"] / out["time_s"]
    return out.reset_index()


def roofs_of_gpu(gpu: Gpu) -> dict[str, float]:
    """A catalog entry's dense peaks and DRAM bandwidth, as :func:`estimate`'s ``roofs``."""
    return {**gpu.dense, "dram": gpu.dram_bytes_per_s}


def roofs_of_trace(kernels: pd.DataFrame) -> dict[str, float]:
    """A trace's measured roofs, as :func:`estimate`'s ``roofs``, by the group math's own definition
    (:func:`roofprof.analysis.roofline.effective_peaks`): per precision, sum W / sum (W / P) over
    the kernels that did work in it, the roof a plot of the trace draws; a precision no kernel used
    takes the median of the kernels' peaks. DRAM: sum B / sum (B / BW)."""
    out: dict[str, float] = {}
    used = effective_peaks(kernels)
    for p, (_work, peak) in PRECISIONS.items():
        if p in used:
            out[p] = used[p]
        elif peak in kernels:
            value = kernels[peak].median()
            if not math.isnan(value) and value > 0:
                out[p] = float(value)
    if "dram_bytes" in kernels and "peak_dram_bytes_per_s" in kernels:
        b = kernels["dram_bytes"].to_numpy(dtype=np.float64, na_value=np.nan)
        bw = kernels["peak_dram_bytes_per_s"].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(b) & (b > 0) & np.isfinite(bw) & (bw > 0)
        if ok.any():
            out["dram"] = float(b[ok].sum() / (b[ok] / bw[ok]).sum())
    return out
