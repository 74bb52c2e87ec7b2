"""Decoder-transformer architectures: from a Hugging Face ``config.json`` or a preset.

Only the fields a Llama/Mistral-style decoder's cost depends on are read: ``hidden_size``,
``intermediate_size``, ``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``
(default: no GQA), ``vocab_size``, ``head_dim`` (default hidden / heads),
``tie_word_embeddings`` and ``sliding_window`` (keys per query at most; the KV cache keeps as
many). A ``quantization_config`` (AWQ, GPTQ: ``bits``, ``group_size``) is kept
as a hint for the weight dtype. Presets are data: ``roofprof/data/models.toml``.
"""

from __future__ import annotations

import functools
import json
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from roofprof.errors import InputError, UsageError

_REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
             "vocab_size")


@dataclass(frozen=True)
class Architecture:
    """The shapes of a decoder-only transformer with gated MLP (Llama, Mistral)."""

    name: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    vocab_size: int
    head_dim: int
    tie_word_embeddings: bool = False
    #: keys a query attends to at most (Mistral v0.1: 4096), None for full attention
    sliding_window: int | None = None
    #: weight dtype and group size the config declares (AWQ/GPTQ), or None
    quant_dtype: str | None = None
    quant_group_size: int | None = None

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    def layer_parameters(self) -> int:
        """Weights of one decoder layer's linear projections (norms left out)."""
        d, f = self.hidden_size, self.intermediate_size
        return d * (self.q_dim + 2 * self.kv_dim) + self.q_dim * d + 3 * d * f

    def parameters(self) -> int:
        """All weights: layers, norms, embedding and (untied) lm_head."""
        d = self.hidden_size
        embed = self.vocab_size * d * (1 if self.tie_word_embeddings else 2)
        return self.num_layers * (self.layer_parameters() + 2 * d) + d + embed


def _arch(raw: dict[str, Any], name: str, where: str) -> Architecture:
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise InputError(f"{where} lacks {', '.join(missing)}: roofprof's model needs a "
                         "Llama/Mistral-style decoder config")
    heads = int(raw["num_attention_heads"])
    quant = raw.get("quantization_config") or {}
    bits = quant.get("bits") or quant.get("w_bit")
    return Architecture(
        name=name,
        hidden_size=int(raw["hidden_size"]),
        intermediate_size=int(raw["intermediate_size"]),
        num_layers=int(raw["num_hidden_layers"]),
        num_heads=heads,
        num_kv_heads=int(raw.get("num_key_value_heads") or heads),
        vocab_size=int(raw["vocab_size"]),
        head_dim=int(raw.get("head_dim") or int(raw["hidden_size"]) // heads),
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
        sliding_window=int(raw["sliding_window"]) if raw.get("sliding_window") else None,
        quant_dtype={4: "int4", 8: "int8"}.get(int(bits)) if bits else None,
        quant_group_size=quant.get("group_size") or quant.get("q_group_size"),
    )


def from_config(path: str | os.PathLike[str]) -> Architecture:
    """The architecture a local Hugging Face ``config.json`` (or its directory) describes."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p} is not JSON ({exc}); pass a Hugging Face config.json") from None
    if not isinstance(raw, dict):
        raise InputError(f"{p} is not a Hugging Face config (a JSON object)")
    name = str(raw.get("_name_or_path") or p.parent.name or p.stem)
    return _arch(raw, name, str(p))


@functools.cache
def presets() -> tuple[Architecture, ...]:
    """The bundled presets, in file order."""
    text = resources.files("roofprof").joinpath("data", "models.toml").read_text("utf-8")
    return tuple(_arch(raw, raw["name"], f"models.toml: {raw['name']}")
                 for raw in tomllib.loads(text)["model"])


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def architecture(spec: str | os.PathLike[str]) -> Architecture:
    """A preset by name (case, dashes and spaces ignored), or a config.json path."""
    for arch in presets():
        if _key(arch.name) == _key(str(spec)):
            return arch
    if Path(spec).exists():
        return from_config(spec)
    raise UsageError(f"{str(spec)!r} is neither a preset ({', '.join(a.name for a in presets())})"
                     " nor an existing config.json")
