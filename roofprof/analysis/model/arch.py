"""Decoder-transformer architectures: from a Hugging Face ``config.json`` or a preset.

Only the fields a Llama/Mistral-style decoder's cost depends on are read: ``hidden_size``,
``intermediate_size``, ``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``
(default: no GQA), ``vocab_size``, ``head_dim`` (default hidden / heads),
``tie_word_embeddings`` and ``sliding_window`` (keys per query at most; the KV cache keeps as
many). A ``quantization_config`` (AWQ, GPTQ: ``bits``, ``group_size``; FP8) is kept
as a hint for the weight dtype. Presets are data: ``roofprof/data/models.toml``.

Every config is checked once, where it is read, against the schema of
:mod:`roofprof.analysis.model.config_schema` (a value of the wrong type or range, a file that
is not a JSON object: one :class:`~roofprof.errors.InputError` naming the file and the key);
an :class:`Architecture` built in Python is checked by the same rules (a
:class:`~roofprof.errors.UsageError` naming the field).
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

from roofprof.analysis.model.config_schema import (
    POSITIVE,
    QUANT_DTYPES,
    WINDOW,
    fields,
    problem,
    shown,
)
from roofprof.errors import InputError, UsageError

#: a config.json is a few kB; a file larger than this is something else passed by mistake
MAX_CONFIG_BYTES = 16 * 2**20


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

    def __post_init__(self) -> None:
        """The schema's rules, by field name: positive sizes, KV heads dividing the heads."""
        rules = [(f, POSITIVE) for f in ("hidden_size", "intermediate_size", "num_layers",
                                         "num_heads", "num_kv_heads", "vocab_size", "head_dim")]
        for name, rule in [*rules, ("sliding_window", WINDOW), ("quant_group_size", WINDOW)]:
            value = getattr(self, name)
            expected = problem(value, rule)
            if expected is not None:
                raise UsageError(f"architecture {self.name!r}: {name} must be {expected}, "
                                 f"got {shown(value)}")
        if self.num_heads % self.num_kv_heads:
            raise UsageError(f"architecture {self.name!r}: num_kv_heads must divide num_heads "
                             f"({self.num_heads}), got {self.num_kv_heads}")
        if self.quant_dtype not in (None, *QUANT_DTYPES):
            raise UsageError(f"architecture {self.name!r}: quant_dtype must be one of "
                             f"{', '.join(QUANT_DTYPES)} or None, got {self.quant_dtype!r}")

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
    """The architecture of the config ``raw``, checked against the schema (``where`` names the
    config in messages)."""
    return Architecture(name=name, **fields(raw, where))


def _json_object(p: Path) -> dict[str, Any]:
    """The JSON object the file ``p`` holds; one InputError for anything else."""
    try:
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise InputError(f"{p} holds {p.stat().st_size:,} bytes: too large to be a model "
                             "config; pass a Hugging Face config.json")
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text ({exc.reason}); pass a Hugging Face "
                         "config.json") from None
    except (OSError, ValueError) as exc:       # ValueError: a NUL in the path
        raise InputError(f"cannot read {p}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p} is not JSON ({exc}); pass a Hugging Face config.json") from None
    except RecursionError:
        raise InputError(f"{p}: JSON nested too deeply to be a model config; pass a Hugging "
                         "Face config.json") from None
    except ValueError:                         # more digits than Python reads in a number
        raise InputError(f"{p}: a number in it has too many digits to be read; pass a "
                         "Hugging Face config.json") from None
    if not isinstance(raw, dict):
        raise InputError(f"{p} is not a Hugging Face config (a JSON object)")
    return raw


def from_config(path: str | os.PathLike[str]) -> Architecture:
    """The architecture a local Hugging Face ``config.json`` (or its directory) describes."""
    p = Path(path)
    if _is_dir(p):
        p = p / "config.json"
    raw = _json_object(p)
    name = raw.get("_name_or_path")        # the schema refuses a name that is not a string
    return _arch(raw, (name if isinstance(name, str) else "") or p.parent.name or p.stem,
                 str(p))


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
    if _exists(spec):
        return from_config(spec)
    named = repr(str(spec))
    named = named if len(named) <= 60 else named[:56] + "...'"
    raise UsageError(f"{named} is neither a preset ({', '.join(a.name for a in presets())})"
                     " nor an existing config.json")


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except (OSError, ValueError):
        return False


def _exists(spec: str | os.PathLike[str]) -> bool:
    """Whether ``spec`` names a file or folder (a name no path can be is none)."""
    try:
        return Path(spec).exists()
    except (OSError, ValueError):
        return False
