"""Colours that mean the same thing in every output: a phase, an operator family or a kernel
category has one fixed colour in PNG, SVG, PDF and HTML, whatever else the plot shows.
Other groups take palette colours by GPU time; combined groups (``op · phase``) are shades of
their first part's hue, darkest for the first phase.
"""

from __future__ import annotations

from collections.abc import Sequence

OTHER = "#a0a0a0"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22")

PHASES: dict[str, str] = {
    "prefill": "#1f77b4", "decode": "#ff7f0e", "mixed": "#2ca02c", "spec": "#9467bd",
    "other": "#7f7f7f",
}
#: the order shades follow in combined groups (``op · phase``)
PHASE_ORDER: tuple[str, ...] = ("prefill", "decode", "mixed", "spec", "other")

OPS: dict[str, str] = {
    "qkv_proj": "#1f77b4", "o_proj": "#17becf", "gate_up_proj": "#2ca02c",
    "gate_proj": "#2ca02c", "up_proj": "#bcbd22", "down_proj": "#8c564b",
    "lm_head": "#9467bd", "attention": "#d62728", "attention_qk": "#d62728",
    "attention_pv": "#e377c2", "attention_softmax": "#ff9896", "attention_other": "#c49c94",
    "norm": "#ff7f0e", "rope": "#7f7f7f", "act": "#98df8a", "embed": "#aec7e8",
    "mlp": "#dbdb8d", "layer": "#c7c7c7", "model": "#b0b0b0",
}

CATEGORIES: dict[str, str] = {
    "gemm": "#1f77b4", "attention": "#d62728", "norm": "#ff7f0e", "activation": "#98df8a",
    "elementwise": "#2ca02c", "reduce": "#8c564b", "copy": "#17becf", "embedding": "#aec7e8",
    "sampling": "#e377c2", "communication": "#9467bd", "other": "#7f7f7f",
}

FIXED: dict[str, dict[str, str]] = {"phase": PHASES, "op": OPS, "category": CATEGORIES}

#: groups that get a colour of their own; the rest are drawn grey as "other"
MAX_GROUPS = 9
#: combined groups: legend entries at most, and shades of one hue at most
MAX_FAMILY_ENTRIES = 20
MAX_SHADES = 4


def lighter(colour: str, amount: float) -> str:
    """``colour`` mixed with white (amount 0: unchanged, 1: white)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in rgb)


def assign(by: Sequence[str], parts: Sequence[tuple[str, ...]],
           time: Sequence[float]) -> tuple[list[str], list[int]]:
    """A colour per group and the groups shown in the legend, in legend order.

    Single groups: fixed colours for phases, ops and categories; else the :data:`MAX_GROUPS`
    with the most GPU time get palette colours. Combined groups are families: one hue per
    first part, one shade per second part (as many families as fit the legend).
    """
    n = len(parts)
    colours = [OTHER] * n
    order = sorted(range(n), key=lambda g: (-time[g], g))
    if len(by) >= 2:
        return _families(by, parts, time, colours, order)
    fixed = FIXED.get(by[0], {})
    shown = order[:MAX_GROUPS]
    used: set[str] = set()
    for g in shown:
        if parts[g][0] in fixed:
            colours[g] = fixed[parts[g][0]]
            used.add(colours[g])
    free = iter([c for c in PALETTE if c not in used] + [c for c in PALETTE if c in used])
    for g in shown:
        if colours[g] == OTHER and parts[g][0] not in fixed:
            colours[g] = next(free, OTHER)
    return colours, shown


def _families(by: Sequence[str], parts: Sequence[tuple[str, ...]], time: Sequence[float],
              colours: list[str], order: list[int]) -> tuple[list[str], list[int]]:
    family_time: dict[str, float] = {}
    for p, t in zip(parts, time, strict=True):
        family_time[p[0]] = family_time.get(p[0], 0.0) + float(t)
    seconds = list(dict.fromkeys(p[1] for p in parts))
    if by[1] == "phase":
        seconds.sort(key=lambda s: PHASE_ORDER.index(s) if s in PHASE_ORDER else 99)
    if not 1 < len(seconds) <= MAX_SHADES:
        shown = order[:MAX_GROUPS]
        for rank, g in enumerate(shown):
            colours[g] = PALETTE[rank]
        return colours, shown
    families = sorted(family_time, key=lambda f: -family_time[f])
    families = families[:min(len(PALETTE), MAX_FAMILY_ENTRIES // len(seconds))]
    fixed = FIXED.get(by[0], {})
    free = iter([c for c in PALETTE if c not in {fixed.get(f) for f in families}])
    index = {p: g for g, p in enumerate(parts)}
    shown = []
    for family in families:
        hue = fixed.get(family) or next(free, OTHER)
        for shade, second in enumerate(seconds):
            found = index.get((family, second, *parts[0][2:]))
            if found is not None:
                colours[found] = lighter(hue, 0.6 * shade / (len(seconds) - 1))
                shown.append(found)
    return colours, shown
