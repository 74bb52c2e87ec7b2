"""Numbers as a reader sees them: SI prefixes, durations, percentages, intensities, and text
made safe for a renderer. Pure string functions shared by every view (tables, plots, HTML);
names cut to a width are :mod:`roofprof.analysis.labels`.
"""

from __future__ import annotations

import math


def si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """``989e12, 'FLOP/s'`` -> ``'989 TFLOP/s'``; null -> ``'-'``."""
    if value is None or not math.isfinite(value):
        return "-" if value is None or math.isnan(value) else "inf"
    if value == 0:
        return f"0 {unit}".strip()
    exp = min(max(math.floor(math.log10(abs(value)) / 3), -4), 5)
    prefix = {-4: "p", -3: "n", -2: "µ", -1: "m", 0: "", 1: "k", 2: "M", 3: "G", 4: "T",
              5: "P"}[exp]
    scaled = value / 10 ** (3 * exp)
    text = f"{scaled:.{digits}g}"
    if "e" in text:
        text = f"{scaled:.0f}"
    return f"{text} {prefix}{unit}".strip()


def duration(ns: float | None) -> str:
    """Nanoseconds in the unit a reader expects (``1.23 ms``); null -> ``'-'``."""
    if ns is None or not math.isfinite(ns):
        return "-"
    return si(ns * 1e-9, "s")


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage (``0.306`` -> ``30.6%``); null -> ``'-'``."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{100 * value:.{digits}f}%"


def intensity(value: float | None) -> str:
    """Arithmetic intensity: ``355``, ``9.83``, ``1,024``; null -> ``'-'``."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def plain(text: str) -> str:
    """Text a renderer draws as written (matplotlib reads ``$...$`` as math)."""
    return text.replace("$", r"\$")


def html_escape(text: object) -> str:
    """Any user-controlled string made safe for HTML text and attributes."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))

