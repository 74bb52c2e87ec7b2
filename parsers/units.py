"""Nsight Compute units -> roofprof's canonical units (numbers in cells: ``parsers.cells``).

Canonical units: time in nanoseconds; everything else in SI base units with "per second"
denominators (bytes, hz, byte/second); per-cycle quantities stay per cycle. ncu prints base units
with ``--print-units base`` ("byte", "ns", "hz") and display units otherwise ("Mbyte", "us",
"Ghz"); prefixes are decimal (1 Mbyte = 1e6 bytes, as ncu's own conversions).
"""

from __future__ import annotations

import re

_PREFIX = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
           "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9}
#: time units -> nanoseconds
_TIME_NS = {"ns": 1.0, "nsecond": 1.0, "us": 1e3, "usecond": 1e3, "ms": 1e6, "msecond": 1e6,
            "s": 1e9, "second": 1e9}
#: time units as denominators -> factor to "per second"
_PER_TIME = {k: 1e9 / v for k, v in _TIME_NS.items()}
_PREFIXABLE = re.compile(r"^(?P<prefix>[KMGTP]?)(?P<base>byte|bytes|hz|inst|sector|sectors|"
                         r"cycle|cycles|request|warp|thread|block|flop|op)$", re.IGNORECASE)


def scale(unit: str) -> float | None:
    """Factor that turns a value in ``unit`` into canonical units; None if not understood."""
    unit = unit.strip()
    if unit in ("", "%"):
        return 1.0
    if unit in _TIME_NS:
        return _TIME_NS[unit]
    num, _, den = unit.partition("/")
    f_num = _numerator(num)
    if f_num is None:
        return None
    if not den:
        return f_num
    if den in _PER_TIME:
        return f_num * _PER_TIME[den]
    f_den = _numerator(den)
    return None if f_den is None else f_num / f_den


def _numerator(text: str) -> float | None:
    if text in _TIME_NS:
        return _TIME_NS[text]
    m = _PREFIXABLE.match(text)
    if m:
        return _PREFIX[m.group("prefix")]
    if re.fullmatch(r"[A-Za-z_]+", text):  # other plain units ("register", "SM", "pass", ...)
        return 1.0
    return None
