"""The schema of a model config: every key roofprof's model reads, its type and its range.

A Hugging Face ``config.json`` and a preset of ``roofprof/data/models.toml`` are checked once,
where they are read (:func:`fields`, called by :mod:`roofprof.analysis.model.arch`): the first
violation is one :class:`~roofprof.errors.InputError` naming the file, the key, the value and
what is expected (``config.json: num_attention_heads must be a positive integer, got 0``).
What passes makes an architecture whose every FLOP and byte count is positive and finite.
Keys roofprof does not read are ignored, whatever they hold (``torch_dtype``, ``rope_theta``,
``rope_scaling``, ...: no number of the model depends on them).

The keys, named as Hugging Face's Llama/Mistral configs name them:

* ``hidden_size``, ``intermediate_size``, ``num_hidden_layers``, ``num_attention_heads``,
  ``vocab_size`` (required): positive integers, at most :data:`MAX_COUNT` (larger ones are no
  model, and would overflow the 64-bit counts of the estimate).
* ``num_key_value_heads`` (null or absent: as many as the attention heads, no GQA): a positive
  integer dividing ``num_attention_heads`` (each serves a group of query heads).
* ``head_dim`` (null or absent: ``hidden_size`` / heads, which the heads must then divide): a
  positive integer.
* ``sliding_window``: a positive integer, or null for full attention; ``use_sliding_window``
  (Qwen2) true, false (the window is not used) or null.
* ``tie_word_embeddings``: true, false or null (false).
* ``quantization_config``: null or an object. ``quant_method`` (null or absent: AutoAWQ's own
  configs) awq or gptq, whose ``bits`` (AutoAWQ: ``w_bit``) 4 or 8 make int4 or int8 weights;
  fp8 or fbgemm_fp8: fp8 weights. ``group_size`` (``q_group_size``): a positive integer, null,
  or -1 (GPTQ: one scale per output channel, too few bytes to count: no groups).
* ``_name_or_path``: a string or null (the name shown; else the config's folder).

:func:`problem` is the rule for one value, shared with the checks of an
:class:`~roofprof.analysis.model.arch.Architecture` built in Python (named by its fields).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from numbers import Integral
from typing import Any

from roofprof.errors import InputError, option

#: the largest size or count a config may give (2**31 - 1)
MAX_COUNT = 2**31 - 1
#: the keys every config must give
REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "vocab_size")
#: the quantization methods roofprof models -> the weight dtype (None: by ``bits``)
QUANT_METHODS: dict[str, str | None] = {"awq": None, "gptq": None, "fp8": "fp8",
                                        "fbgemm_fp8": "fp8"}
#: ``bits`` of an AWQ/GPTQ config -> the weight dtype
BITS = {4: "int4", 8: "int8"}
#: the weight dtypes a config can declare
QUANT_DTYPES = ("int4", "int8", "fp8")

POSITIVE = "a positive integer"
WINDOW = "a positive integer or null"
FLAG = "true, false or null"
GROUP = "a positive integer, -1 (one scale per output channel) or null"


def shown(value: Any) -> str:
    """``value`` as a message shows it: JSON text (``null``, ``"abc"``, ``NaN``), shortened;
    an object or a list by its kind (it may nest deeply)."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if _is_int(value):
        value = int(value)                  # a NumPy integer, as JSON writes it
    try:
        text = json.dumps(value, default=repr)
    except ValueError:          # an integer too long to print
        return "a number too long to print"
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    """An integer (of Python or NumPy), never a bool: ``true`` is no count."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def problem(value: Any, rule: str) -> str | None:
    """What ``value`` should be under ``rule`` (:data:`POSITIVE`, :data:`WINDOW`,
    :data:`FLAG`, :data:`GROUP`), or None where it is that."""
    if rule == FLAG:
        return None if value is None or isinstance(value, bool) else rule
    if value is None and rule in (WINDOW, GROUP):
        return None
    if rule == GROUP and _is_int(value) and value == -1:
        return None
    if not _is_int(value) or value < 1:
        return rule
    return None if value <= MAX_COUNT else f"{POSITIVE} of at most {MAX_COUNT}"


def _check(raw: Mapping[str, Any], key: str, rule: str, where: str, label: str = "") -> Any:
    """``raw[key]`` where it follows ``rule``; else one InputError naming it."""
    value = raw.get(key)
    expected = problem(value, rule)
    if expected is not None:
        raise InputError(f"{where}: {label or key} must be {expected}, got {shown(value)}")
    return value


def fields(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The fields of an :class:`~roofprof.analysis.model.arch.Architecture` (all but its
    name) that the config ``raw`` describes, checked against the schema; ``where`` names the
    config in messages (its path, or ``models.toml: NAME``)."""
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise InputError(f"{where} lacks {', '.join(missing)}: roofprof's model needs a "
                         "Llama/Mistral-style decoder config")
    hidden, ffn, layers, heads, vocab = (_check(raw, k, POSITIVE, where) for k in REQUIRED)
    kv = heads if raw.get("num_key_value_heads") is None else \
        _check(raw, "num_key_value_heads", POSITIVE, where)
    if heads % kv:
        raise InputError(f"{where}: num_key_value_heads must divide num_attention_heads "
                         f"({heads}), got {kv}")
    head_dim = raw.get("head_dim")
    if head_dim is None:
        if hidden % heads:
            raise InputError(f"{where}: hidden_size {hidden} is not a multiple of "
                             f"num_attention_heads {heads}, and no head_dim is given")
        head_dim = hidden // heads
    else:
        _check(raw, "head_dim", POSITIVE, where)
    window = _check(raw, "sliding_window", WINDOW, where)
    if _check(raw, "use_sliding_window", FLAG, where) is False:
        window = None
    tied = _check(raw, "tie_word_embeddings", FLAG, where)
    name = raw.get("_name_or_path")
    if name is not None and not isinstance(name, str):
        raise InputError(f"{where}: _name_or_path must be a string or null, got {shown(name)}")
    dtype, group = quantization(raw.get("quantization_config"), where)
    return {"hidden_size": hidden, "intermediate_size": ffn, "num_layers": layers,
            "num_heads": heads, "num_kv_heads": kv, "vocab_size": vocab, "head_dim": head_dim,
            "tie_word_embeddings": bool(tied), "sliding_window": window,
            "quant_dtype": dtype, "quant_group_size": group}


def quantization(config: Any, where: str) -> tuple[str | None, int | None]:
    """The weight dtype and quantization group size a ``quantization_config`` declares
    (None, None without one)."""
    if config is None:
        return None, None
    if not isinstance(config, Mapping):
        raise InputError(f"{where}: quantization_config must be an object (quant_method, "
                         f"bits, group_size) or null, got {shown(config)}")
    method = config.get("quant_method")
    if method is not None and (not isinstance(method, str) or method not in QUANT_METHODS):
        raise InputError(f"{where}: quantization_config.quant_method must be one roofprof "
                         f"models ({', '.join(QUANT_METHODS)}), got {shown(method)}; remove "
                         f"quantization_config and give the weights' dtype "
                         f"({option('weight_dtype')})")
    dtype = QUANT_METHODS[method] if method is not None else None
    if dtype is None:
        key = "bits" if config.get("bits") is not None else "w_bit"
        bits = config.get(key)
        if bits is None:
            raise InputError(f"{where}: quantization_config gives no bits: roofprof needs the "
                             f"weights' width ({' or '.join(map(str, BITS))})")
        if not _is_int(bits) or bits not in BITS:
            raise InputError(f"{where}: quantization_config.{key} must be "
                             f"{' or '.join(map(str, BITS))}, got {shown(bits)}")
        dtype = BITS[bits]
    key = "group_size" if config.get("group_size") is not None else "q_group_size"
    group = _check(config, key, GROUP, where, f"quantization_config.{key}")
    return dtype, None if group == -1 else group
