"""LLM attribution: every kernel's ``phase``, operator ``category`` and model ``op``, by rules.

The rules are data, shipped as TOML files in ``roofprof/rules/`` (``phases.toml``,
``categories.toml``, ``ops.toml``; each file documents its format). A user's rules file holds
``[[phase]]``, ``[[category]]`` and ``[[op]]`` tables of the same shape; its rules are tried
before the built-in ones, and ``replace = ["category"]`` (any of phase, category, op) drops the
built-in rules of those kinds.

* ``phase`` (prefill, decode, mixed, spec, other) comes from the NVTX stack, innermost range
  first: roofprof's markers and plain names, vLLM's, TensorRT-LLM's and SGLang's step ranges.
* ``category`` (gemm, attention, norm, ...) comes from the kernel's function and demangled names.
* ``op`` (qkv_proj, o_proj, gate_proj, up_proj, down_proj, lm_head, attention_qk, ...) comes
  from module paths in the NVTX stack (``roofprof.torch.annotate``); null without them.

:func:`attribute` fills the three columns of a kernel table: once per distinct NVTX stack and
per distinct kernel name, so it stays fast on millions of kernels. Traces are attributed when
they are built (``read_inputs``/``convert``) and on load where a file lacks the columns.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from roofprof.errors import InputError
from roofprof.tables.columns import strings, taken
from roofprof.tables.schema import PHASES

__all__ = ["CATEGORIES", "PHASES", "Rule", "Rules", "attribute", "builtin_rules",
           "category_of", "load_rules", "op_of", "phase_of"]

CATEGORIES: tuple[str, ...] = ("gemm", "attention", "norm", "activation", "elementwise", "reduce",
                               "copy", "embedding", "sampling", "communication", "other")
KINDS: tuple[str, ...] = ("phase", "category", "op")
COLUMNS: tuple[str, ...] = KINDS
#: the built-in rule files, one per kind
RULE_FILES: dict[str, str] = {"phase": "phases.toml", "category": "categories.toml",
                              "op": "ops.toml"}
UNKNOWN_PHASE = "other"
UNKNOWN_CATEGORY = "other"
_FIELDS = ("kernel", "kernel_demangled", "any")
_COUNT_GROUPS = ("prefill", "decode", "decode_tokens")
_KEYS = {
    "phase": {"match", "phase", "name", "note"},
    "category": {"match", "category", "field", "name", "note"},
    "op": {"match", "op", "gemm_sequence", "by_category", "name", "note"},
}


@dataclass(frozen=True)
class Rule:
    """One rule of any kind: a regular expression and what a match means."""

    kind: str                       # phase | category | op
    pattern: re.Pattern[str]
    value: str | None               # the phase, category or op; None: phase from counts
    name: str = ""
    field: str = "any"              # category rules: which kernel name to search
    gemm_sequence: tuple[str, ...] = ()
    #: op rules: (category, op) pairs renaming the kernels a rule decides by their category
    by_category: tuple[tuple[str, str], ...] = ()
    origin: str = ""                # "FILE entry N", for messages

    def phase_of(self, m: re.Match[str]) -> str:
        """The phase a match of this (phase) rule means."""
        if self.value is not None:
            return self.value
        groups = m.groupdict()
        prefill = int(groups.get("prefill") or 0)
        decode = int(groups.get("decode") or 0)
        tokens = groups.get("decode_tokens")
        if prefill and decode:
            return "mixed"
        if prefill:
            return "prefill"
        if decode:
            return "spec" if tokens is not None and int(tokens) > decode else "decode"
        return UNKNOWN_PHASE


@dataclass(frozen=True)
class Rules:
    """Rules of each kind, in the order they are tried, and the files they came from."""

    phase: tuple[Rule, ...]
    category: tuple[Rule, ...]
    op: tuple[Rule, ...]
    sources: tuple[str, ...]


# ---------------------------------------------------------------------------- loading


def _bad(origin: str, message: str) -> InputError:
    return InputError(f"{origin}: {message}")


def _parse(data: dict[str, Any], source: str) -> tuple[dict[str, list[Rule]], set[str]]:
    """Rules of a parsed TOML document; errors name the file and the entry."""
    unknown = sorted(set(data) - {*KINDS, "replace"})
    if unknown:
        raise _bad(source, f"unknown table or key {unknown[0]!r}; a rules file holds "
                           "[[phase]], [[category]] and [[op]] tables and an optional "
                           "replace = [...] list")
    replace = data.get("replace", [])
    if not isinstance(replace, list) or any(r not in KINDS for r in replace):
        raise _bad(source, f"replace must be a list of {', '.join(KINDS)}, got {replace!r}")
    out: dict[str, list[Rule]] = {k: [] for k in KINDS}
    for kind in KINDS:
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            raise _bad(source, f"{kind} must be an array of tables ([[{kind}]]), not a "
                               f"single table or value")
        for i, entry in enumerate(entries, start=1):
            out[kind].append(_rule(kind, entry, f"{source}: [[{kind}]] entry {i}"))
    return out, set(replace)


def _rule(kind: str, entry: Any, origin: str) -> Rule:
    if not isinstance(entry, dict):
        raise InputError(f"{origin}: expected a table of keys, got {entry!r}")
    label = f"{origin}" + (f" ({entry['name']})" if isinstance(entry.get("name"), str) else "")
    extra = sorted(set(entry) - _KEYS[kind])
    if extra:
        raise InputError(f"{label}: unknown key {extra[0]!r}; {kind} rules take "
                         f"{', '.join(sorted(_KEYS[kind]))}")
    text = entry.get("match")
    if not isinstance(text, str) or not text:
        got = "" if text is None else f", got {text!r}"
        raise InputError(f"{label}: needs match = '<regular expression>'{got}")
    if not isinstance(entry.get("name", ""), str):
        raise InputError(f"{label}: name must be a string, got {entry['name']!r}")
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise InputError(f"{label}: invalid regular expression {text!r}: {exc}") from None
    value = entry.get(kind)
    if value is not None and (not isinstance(value, str) or not value):
        raise InputError(f"{label}: {kind} must be a non-empty string, got {value!r}")
    field = "any"
    sequence: tuple[str, ...] = ()
    if kind == "phase":
        if value is None and not set(_COUNT_GROUPS[:2]) & set(pattern.groupindex):
            raise InputError(f"{label}: give phase = one of {', '.join(PHASES)}, or name "
                             "groups (?P<prefill>...) / (?P<decode>...) in match")
        if value is not None and value not in PHASES:
            raise InputError(f"{label}: unknown phase {value!r}; choose one of "
                             f"{', '.join(PHASES)}")
    elif value is None:
        raise InputError(f"{label}: needs {kind} = '<name>'")
    if kind == "category":
        field = entry.get("field", "any")
        if field not in _FIELDS:
            raise InputError(f"{label}: field must be one of {', '.join(_FIELDS)}, "
                             f"got {field!r}")
    if kind == "op" and "gemm_sequence" in entry:
        seq = entry["gemm_sequence"]
        if not isinstance(seq, list) or not seq or not all(
                isinstance(s, str) and s for s in seq):
            raise InputError(f"{label}: gemm_sequence must be a list of op names, "
                             f"got {seq!r}")
        sequence = tuple(seq)
    by_category: tuple[tuple[str, str], ...] = ()
    if kind == "op" and "by_category" in entry:
        table = entry["by_category"]
        if not isinstance(table, dict) or not table or not all(
                isinstance(v, str) and v for v in table.values()):
            raise InputError(f"{label}: by_category must be a table of category = 'op name', "
                             f"e.g. by_category = {{ reduce = 'attention_softmax' }}; "
                             f"got {table!r}")
        by_category = tuple((str(k), str(v)) for k, v in table.items())
    return Rule(kind=kind, pattern=pattern, value=value, name=str(entry.get("name", "")),
                field=field, gemm_sequence=sequence, by_category=by_category, origin=label)


@functools.cache
def builtin_rules() -> Rules:
    """The rules shipped with roofprof (``roofprof/rules/*.toml``)."""
    out: dict[str, list[Rule]] = {k: [] for k in KINDS}
    folder = resources.files("roofprof") / "rules"
    for kind, filename in RULE_FILES.items():
        text = (folder / filename).read_text(encoding="utf-8")
        rules, _ = _parse(tomllib.loads(text), f"roofprof/rules/{filename}")
        out[kind] = rules[kind]
    return Rules(tuple(out["phase"]), tuple(out["category"]), tuple(out["op"]),
                 ("builtin",))


def load_rules(path: str | os.PathLike[str] | None = None) -> Rules:
    """The built-in rules, extended (tried first) or replaced by the user's TOML file."""
    base = builtin_rules()
    if path is None:
        return base
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: rules file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the rules file ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p}: not valid TOML ({exc})") from None
    user, replace = _parse(data, str(p))
    merged = {k: tuple(user[k]) + (() if k in replace else getattr(base, k)) for k in KINDS}
    return Rules(merged["phase"], merged["category"], merged["op"], (str(p), *base.sources))


def _rules(rules: Rules | str | os.PathLike[str] | None) -> Rules:
    return rules if isinstance(rules, Rules) else load_rules(rules)


# ----------------------------------------------------------------------- classification


def phase_of(stack: Sequence[str], rules: Rules | None = None) -> str:
    """The phase of a kernel with NVTX stack ``stack`` (outermost first)."""
    r = rules or builtin_rules()
    for name in reversed(list(stack)):
        for rule in r.phase:
            m = rule.pattern.search(str(name))
            if m:
                return rule.phase_of(m)
    return UNKNOWN_PHASE


def category_of(kernel: str | None, demangled: str | None = None,
                rules: Rules | None = None) -> str:
    """The operator category of a kernel from its function and demangled names."""
    r = rules or builtin_rules()
    names = {"kernel": kernel or "", "kernel_demangled": demangled or ""}
    for rule in r.category:
        fields = ("kernel", "kernel_demangled") if rule.field == "any" else (rule.field,)
        if any(names[f] and rule.pattern.search(names[f]) for f in fields):
            return str(rule.value)
    return UNKNOWN_CATEGORY


def _op_match(stack: Sequence[str], rules: Rules) -> tuple[str | None, int, Rule | None]:
    """(op, index of the deciding range in the stack, rule) for the innermost matching range."""
    items = list(stack)
    for i in range(len(items) - 1, -1, -1):
        for rule in rules.op:
            if rule.pattern.search(str(items[i])):
                return rule.value, i, rule
    return None, -1, None


def op_of(stack: Sequence[str], rules: Rules | None = None) -> str | None:
    """The model operator of a kernel from module paths in its NVTX stack (None without)."""
    return _op_match(stack, rules or builtin_rules())[0]


def _stacks(nvtx: Iterable[Any]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for v in nvtx:
        if v is None or isinstance(v, float):
            out.append(())
        elif isinstance(v, str):
            out.append((v,) if v else ())
        else:
            out.append(tuple(map(str, v)))
    return out


def attribute(table: pd.DataFrame,
              rules: Rules | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Fill ``phase``, ``category`` and ``op`` of a kernel table (in place; also returned).

    Each distinct NVTX stack and each distinct (kernel, demangled) pair is classified once.
    """
    r = _rules(rules)
    n = len(table)
    # distinct stacks first by cell (tables built from records share one list per stack; a
    # range is a string), then by content: per-row work never builds a string
    if "nvtx" in table.columns:
        obj = table["nvtx"].astype(object).to_numpy()
        _, at, ocodes = np.unique(np.fromiter((id(v) for v in obj), dtype=np.int64, count=n),
                                  return_index=True, return_inverse=True)
        cell_stacks = _stacks(obj[at])
    else:
        ranges = table["range"] if "range" in table.columns else \
            pd.Series([None] * n, dtype=object)
        ocodes, uranges = pd.factorize(ranges.astype(object), use_na_sentinel=False)
        cell_stacks = [tuple(str(v).split("/")) if isinstance(v, str) and v else ()
                       for v in uranges]
    ocodes = np.asarray(ocodes, dtype=np.int64).reshape(-1)
    scodes, _ = pd.factorize(pd.Series(["\x1f".join(st) for st in cell_stacks], dtype=object))
    codes = scodes[ocodes] if n else np.zeros(0, dtype=np.int64)
    _, first = np.unique(scodes, return_index=True)
    ustacks = [cell_stacks[int(i)] for i in first]
    phases = np.asarray([phase_of(st, r) for st in ustacks], dtype=object)
    op_matches = [_op_match(st, r) for st in ustacks]
    ops = np.asarray([m[0] for m in op_matches], dtype=object)
    op_rules = [m[2] for m in op_matches]

    def factorized(col: str) -> tuple[Any, list[str]]:
        if col not in table.columns:
            return np.zeros(n, dtype=np.int64), [""]
        values = table[col]
        if isinstance(values.dtype, pd.CategoricalDtype):  # coded already: by its categories
            return (np.asarray(values.cat.codes, dtype=np.int64) + 1,
                    [""] + [str(v) for v in values.cat.categories])
        if not isinstance(values.dtype, pd.StringDtype):  # strings hash as they are stored
            values = values.astype(object)
        c, u = pd.factorize(values, use_na_sentinel=True)
        return c + 1, [""] + [str(v) for v in u]  # code 0: no name

    kc, knames = factorized("kernel")
    dc, dnames = factorized("kernel_demangled")
    kcodes, kuniques = pd.factorize(kc.astype(np.int64) * len(dnames) + dc)
    cats = np.empty(len(kuniques), dtype=object)
    for i, pair in enumerate(kuniques):
        cats[i] = category_of(knames[int(pair) // len(dnames)],
                              dnames[int(pair) % len(dnames)], rules=r)
    category = cats[kcodes] if n else np.asarray([], dtype=object)
    op = ops[codes] if n else np.asarray([], dtype=object)
    if n:
        op = _split_gemm_sequences(table, codes, r, ustacks, category, op.copy())
        op = _rename_by_category(codes, op_rules, category, op)
    # string columns from the distinct values (see roofprof.tables.columns)
    table["phase"] = pd.Series(taken(phases, codes), index=table.index)
    table["category"] = pd.Series(taken(cats, kcodes), index=table.index)
    table["op"] = pd.Series(strings(op), index=table.index)
    return table


def _split_gemm_sequences(table: pd.DataFrame, codes: Any, rules: Rules,
                          ustacks: list[tuple[str, ...]], category: Any, op: Any) -> Any:
    """Name the GEMMs of each instance of a ``gemm_sequence`` range in launch order.

    An instance is a run of consecutive launches (by source, process, device and ncu id) under
    the same range path; e.g. eager attention's Q.K^T and P.V GEMMs in one ``self_attn`` call.
    """
    # per distinct stack: the innermost range carrying a gemm_sequence rule, and its path
    sequence_rules = [rl for rl in rules.op if rl.gemm_sequence]
    if not sequence_rules:
        return op
    anchors: list[tuple[tuple[str, ...], Rule] | None] = []
    for stack in ustacks:
        found = None
        for i in range(len(stack) - 1, -1, -1):
            hit = next((rl for rl in sequence_rules if rl.pattern.search(stack[i])), None)
            if hit is not None:
                found = (stack[: i + 1], hit)
                break
        anchors.append(found)
    if not any(anchors):
        return op
    order_cols = [c for c in ("source", "process_id", "device", "id") if c in table.columns]
    order = np.arange(len(table))
    if order_cols:
        order = table.reset_index(drop=True).sort_values(
            order_cols, kind="stable", na_position="first").index.to_numpy()
    previous: tuple[str, ...] | None = None
    seen = 0
    for row in order:
        anchor = anchors[int(codes[row])]
        if anchor is None:
            previous = None
            continue
        path, rule = anchor
        if path != previous:
            previous, seen = path, 0
        if category[row] == "gemm" and op[row] == rule.value:
            if seen < len(rule.gemm_sequence):
                op[row] = rule.gemm_sequence[seen]
            seen += 1
    return op


def _rename_by_category(codes: Any, op_rules: list[Rule | None], category: Any, op: Any) -> Any:
    """Apply each op rule's ``by_category`` to the kernels it decided (GEMMs a
    ``gemm_sequence`` named keep their names). Vectorised per rule, not per stack."""
    renaming = {rl: i for i, rl in enumerate(
        dict.fromkeys(rl for rl in op_rules if rl is not None and rl.by_category))}
    if not renaming:
        return op
    rule_of_row = np.asarray([renaming.get(rl, -1) if rl is not None else -1
                              for rl in op_rules], dtype=np.int64)[codes]
    for rule, i in renaming.items():
        decided = (rule_of_row == i) & (op == rule.value)
        for cat, name in rule.by_category:
            op[decided & (category == cat)] = name
    return op

