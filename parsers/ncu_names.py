"""Kernel and NVTX range names as Nsight Compute's CSV exports write them.

The push/pop cell holds the thread id, then one quoted entry per stack level, outermost first:
``473  "<default domain>:prefill:none:none:RGB:0xff:REGISTERED:prefill"`` (fields: domain, range,
payload type, payload, colour type, colour, message type, message). Range names may contain ':'.
Kernel names are demangled signatures; ``function_name`` gives the name ncu shows by default.
"""

from __future__ import annotations

import functools
import re

_PAYLOAD_TYPES = {"none", "INT32", "INT64", "UINT32", "UINT64", "FLOAT", "DOUBLE", "JSON",
                  "UNKNOWN"}


@functools.lru_cache(maxsize=65536)  # a trace launches the same few hundred kernels many times
def function_name(demangled: str) -> str:
    """``void ns::k<T>(int)`` -> ``k``: the function name ncu shows by default."""
    text = demangled.strip()
    if text.endswith(")"):
        text = text[: _open_of_last_group(text, "(", ")")]
    depth = 0
    out = []
    for ch in text:  # drop template arguments
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    text = "".join(out).strip()
    text = text.rsplit(" ", 1)[-1]  # drop the return type
    return text.rsplit("::", 1)[-1] or demangled


def _open_of_last_group(text: str, open_ch: str, close_ch: str) -> int:
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i] == close_ch:
            depth += 1
        elif text[i] == open_ch:
            depth -= 1
            if depth == 0:
                return i
    return len(text)


#: one quoted entry of a push/pop cell ("" inside it is a quote)
_ENTRY = re.compile(r'"((?:[^"]|"")*)"')


def parse_push_pop(cell: str) -> list[str]:
    """The push/pop stack of one kernel, outermost first (see the module docstring)."""
    entries = _ENTRY.findall(cell)
    return [name for e in entries if (name := _range_name(e.replace('""', '"')))]


def _range_name(entry: str) -> str:
    parts = entry.split(":")
    if len(parts) < 8:
        return entry
    domain = parts[0]
    # the name may contain ':'; six fields follow it, the last (message) usually repeats it
    candidates = []
    for k in range(2, len(parts) - 5):
        name = ":".join(parts[1:k])
        rest = parts[k:]
        message = ":".join(rest[5:])
        if rest[0] in _PAYLOAD_TYPES:
            candidates.append((message == name, name))
    if not candidates:
        name = ":".join(parts[1:-6])
    else:
        exact = [n for ok, n in candidates if ok]
        name = exact[0] if exact else candidates[-1][1]
    return name if domain == "<default domain>" else f"{domain}@{name}"
