"""Names as a reader sees them: group and kernel names cut to a width, never two alike. The
analysis names its groups with these (``roofprof.analysis.grouping``), and every view cuts
them the same way."""

from __future__ import annotations

import re
from collections.abc import Sequence


def elide(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, keeping what tells groups apart.

    An NVTX path keeps its first range and its innermost ones
    (``prefill/…/model.layers.0.mlp.up_proj``), since siblings differ at the leaf; a combined
    group (``op · phase``) keeps every part, cutting the first; other names keep their start.
    """
    if len(text) <= width:
        return text
    if " · " in text:  # a combined group: the longest part gives way, the others stay whole
        parts = text.split(" · ")
        i = max(range(len(parts)), key=lambda j: len(parts[j]))
        room = width - (len(text) - len(parts[i]))
        if room >= 8:
            parts[i] = elide(parts[i], room)
            return " · ".join(parts)
    if "/" in text:
        first = text.split("/", 1)[0]
        parts = text.split("/")[1:]
        kept: list[str] = []
        while parts and len(first) + 3 + len("/".join([parts[-1], *kept])) <= width:
            kept.insert(0, parts.pop())
        if kept:
            return f"{first}/…/" + "/".join(kept)
        tail = text.rsplit("/", 1)[1]
        room = width - len(first) - 2
        if room >= 8:  # the first range (the phase) stays; the leaf loses its start
            return f"{first}/…" + tail[-room:]
        return "…/" + tail if len(tail) + 2 <= width else "…" + tail[-(width - 1):]
    return text[: width - 1] + "…"


#: name parts whose brackets are not a parameter list: an anonymous namespace (the demangler's
#: ``(anonymous namespace)``) and the call operator (``operator()``, ncu's ``operator ()``)
_ATOMS = re.compile(r"\(anonymous namespace\)|operator ?\(\)")
_OPEN, _CLOSE = "<([{", ">)]}"


def short_kernel(name: str) -> str:
    """A kernel's demangled name as a label: its qualified name with its template arguments,
    without the return type and the parameter list.

    ``void at::native::(anonymous namespace)::CatArrayBatchedCopy<OpaqueType<4u>, 3>(T1*, int)``
    -> ``at::native::(anonymous namespace)::CatArrayBatchedCopy<OpaqueType<4u>, 3>``. The
    parameter list is the first ``(`` outside template arguments, lambdas (``{lambda(int)#1}``,
    ncu's ``[lambda(int) (instance 1)]``) and parentheses, that is not an anonymous namespace
    or ``operator()``; the return type is what precedes the last space before it. A plain C
    name (``nvjet_sm90_tst_...``) is its own label; a name that is nothing but brackets stays
    whole.
    """
    depth, start, i, cut = 0, 0, 0, len(name)
    while i < len(name):
        atom = _ATOMS.match(name, i)
        if atom:
            i = atom.end()
            continue
        ch = name[i]
        if ch == "(" and depth == 0:
            cut = i
            break
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        elif ch == " " and depth == 0:  # what precedes is a return type or a qualifier
            start = i + 1
        i += 1
    return name[start:cut].strip() or name.strip() or name


def _middle(text: str, width: int) -> str:
    """``text`` cut in the middle: start and end stay (templates differ at both)."""
    if len(text) <= width:
        return text
    keep = width - 1
    return text[: (keep + 1) // 2] + "…" + text[len(text) - keep // 2:]


def unique_labels(names: Sequence[str], width: int,
                  longer: Sequence[str | None] | None = None) -> list[str]:
    """``names`` elided to ``width``, never two alike.

    Names that elide to the same text are shown by their ``longer`` form where one is given
    (a kernel's demangled name without its parameters), else by their own text, cut in the
    middle (start and end stay: templates differ at both); the last resort numbers them
    (``#2``). Distinct positions always get distinct labels.
    """
    labels = [elide(n, width) for n in names]
    for ix in _clashes(labels):
        alts = [short_kernel(longer[i] or names[i]) if longer is not None else names[i]
                for i in ix]
        common = _common_prefix(alts)
        for i, alt in zip(ix, alts, strict=True):
            rest = alt[len(common):]
            if rest and longer is not None and longer[i]:  # what tells them apart, by name
                head = elide(names[i], max(width // 3, 8))
                labels[i] = head + " ‹" + elide(rest, max(width - len(head) - 3, 6)) + "›"
            else:
                labels[i] = _middle(alt, width)
    for ix in _clashes(labels):
        for n, i in enumerate(ix[1:], start=2):
            labels[i] = f"{labels[i]} #{n}"
    return labels


def _common_prefix(texts: Sequence[str]) -> str:
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _clashes(labels: Sequence[str]) -> list[list[int]]:
    where: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        where.setdefault(lab, []).append(i)
    return [ix for ix in where.values() if len(ix) > 1]
