"""Kernel names as every source spells them, brought to one form: the function base name ncu
shows (:func:`short_name`), a template instance's key that ncu's and the C++ demangler's
spellings share (:func:`template_key`), and a launch dimension's "(x, y, z)" (:func:`dims`).
Timing sources name their kernels with these so that ``roofprof join`` can match them to the
kernels of a Nsight Compute report."""

from __future__ import annotations

import re
from typing import Any

_ANON = re.compile(r"\((?:anonymous namespace)\)|<unnamed>")


def short_name(name: str) -> str:
    """The function base name ncu shows (``kernel``) from a demangled or mangled name.

    ``void at::native::vectorized_elementwise_kernel<4, ...>(int, T2, T3)`` ->
    ``vectorized_elementwise_kernel``; ``_ZN7cutlass7Kernel2I...`` -> ``Kernel2``; a plain C name
    (``nvjet_sm90_tst_...``) is its own base name.
    """
    if name.startswith("_Z"):
        mangled = _mangled_base(name)
        if mangled:
            return mangled
    text = _ANON.sub("anon", name)
    depth, out = 0, []
    for ch in text:
        if ch in "<([{":
            if ch == "(" and depth == 0:  # the parameter list: the name is complete
                break
            depth += 1
        elif ch in ">)]}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    head = "".join(out).strip()
    if not head:
        return name
    last = head.split()[-1]
    return last.rsplit("::", 1)[-1] or name


def _mangled_base(name: str) -> str | None:
    """Base name of an Itanium-mangled function: the last identifier of its (nested) name."""
    i = 2
    nested = name[i:i + 1] == "N"
    i += 1 if nested else 0
    last = None
    while i < len(name):
        if name.startswith("St", i):
            i += 2
            continue
        if name[i] in "rVKL":  # cv-qualifiers of a nested name
            i += 1
            continue
        m = re.match(r"\d+", name[i:])
        if not m:
            break
        n = int(m.group())
        i += len(m.group())
        last = name[i:i + n]
        i += n
        if not nested:
            break
    if last and last.startswith("_GLOBAL__N"):
        return None
    return last


#: ncu writes a bool template argument as ``(bool)1``, c++filt as ``true``
_BOOL = re.compile(r"\(bool\)([01])\b")
_CAST = re.compile(r"\((?:unsigned |signed )?(?:int|long|long long|short|char|bool)\)(?=-?\d)")
_LAMBDA = re.compile(r"\{lambda\([^)]*\)#(\d+)\}|\[lambda\([^)]*\) \(instance (\d+)\)\]")
_SUFFIX = re.compile(r"\b(\d+)(?:ull|ul|ll|u|l)\b")
_NOISE = re.compile(r"\b(?:void|const|static)\b|\s+")


def template_key(demangled: str | None) -> str:
    """A kernel's demangled name in a form ncu's and the C++ demangler's spellings share.

    ncu writes ``vectorized_elementwise_kernel<(int)4, ..., std::array<char *, (unsigned
    long)2>>(int, T2, T3)``, c++filt ``vectorized_elementwise_kernel<4, ..., std::array<char*,
    2ul> >(int, ...)``; both become ``vectorized_elementwise_kernel<4,...,std::array<char*,2>>()``
    (casts, literal suffixes, lambda spellings, parameter lists, void/const and spaces dropped;
    ncu's ``(bool)1`` read as c++filt's ``true``: cuBLAS's ``splitKreduce_kernel<..., true,
    false, false>`` instances went unmatched on a 32-layer run without it),
    so template instances of one function base name can be told apart across sources.
    """
    if not demangled:
        return ""
    text = _ANON.sub("anon", demangled)
    text = _BOOL.sub(lambda m: "true" if m.group(1) == "1" else "false", text)
    text = _CAST.sub("", text)
    text = _LAMBDA.sub(lambda m: f"lambda{m.group(1) or m.group(2)}", text)
    text = _SUFFIX.sub(r"\1", text)
    out, depth = [], 0
    for ch in text:  # empty every parameter list: "f(at::TensorIteratorBase&, T1&)" -> "f()"
        if ch == "(":
            if depth == 0:
                out.append(ch)
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
            if depth == 0:
                out.append(ch)
        elif depth == 0:
            out.append(ch)
    return _NOISE.sub("", "".join(out))


def dims(x: Any, y: Any, z: Any) -> str:
    """The kernel table's "(x, y, z)" form of a grid or block."""
    return f"({int(x)}, {int(y)}, {int(z)})"
