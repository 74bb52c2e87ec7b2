"""``diff``: what changed from run A to run B, per group and per kernel, with a gate for CI
(``roofprof diff``).

Both runs are summarised by the one group math and matched by group (:mod:`roofprof.analysis.diff`);
repeat runs make times medians and changes within their spread noise, ``noise`` sets a floor.
``fail_if_slower`` PCT fails the run where B is that much slower than A beyond the noise, in
total (``gate`` total) or in any group (``gate`` group).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from roofprof.analysis import diff as df_
from roofprof.app import defaults
from roofprof.errors import UsageError, option
from roofprof.inputs.load import RulesArg, load
from roofprof.tables.partitions import label_of
from roofprof.views.chart.scene import Scene
from roofprof.views.chart.sweep import build_sweep

PathArg = str | os.PathLike[str]


@dataclass
class Diff:
    """The groups' changes (``table``), the kernels whose time changed most (``kernels``), the
    CI gate's verdict: why B fails it (``failure``), or None; and with ``moves``, each group's
    move from A to B on the roofline (a scene: the sweep of the two runs)."""

    table: pd.DataFrame
    kernels: pd.DataFrame | None
    failure: str | None
    moves: Scene | None = None


#: a percentage as written: a plain decimal number (ASCII digits), optionally with one %
_PERCENT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?", re.ASCII)


def percent(value: str | float | None, name: str) -> float | None:
    """A percentage given as ``5``, ``"5"`` or ``"5%"``: finite, never negative. Anything else
    (``nan``, ``inf``, ``abc``, ``5%%``, an empty text, ``-5``) is one UsageError naming the
    option ``name``: a gate that silently never fires is worse than none."""
    if value is None:
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not _PERCENT.fullmatch(text):
        raise UsageError(f"{option(name)} takes a percentage like 5 or 5%, not {value!r}")
    pct = float(text.removesuffix("%"))
    if not math.isfinite(pct):
        raise UsageError(f"{option(name)} must be a finite percentage, got {value!r}")
    if pct < 0:
        raise UsageError(f"{option(name)} must not be negative, got {value!r}")
    return pct + 0.0                   # -0 is 0


def _count(value: int | None, name: str, default: int) -> int:
    """A count option (``kernels``): a whole number, at least 0; ``default`` where None."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{option(name)} must be a whole number of at least 0, got {value!r}")
    return value


def diff(a: PathArg, b: PathArg, *, by: str | None = None, repeat_a: Sequence[PathArg] = (),
         repeat_b: Sequence[PathArg] = (), noise: str | float | None = None,
         fail_if_slower: str | float | None = None, gate: str | None = None,
         kernels: int | None = None, rules: RulesArg = None, where: str | None = None,
         moves: bool = False) -> Diff:
    """Compare run ``b`` with baseline ``a`` (each with its repeat runs), grouped ``by``; with
    ``moves``, draw each group's move from A to B too."""
    by = by or defaults.BY_COMPARE
    floor = percent(defaults.NOISE_PCT if noise is None else noise, "noise") or 0.0
    fail = percent(fail_if_slower, "fail_if_slower")
    top = _count(kernels, "kernels", defaults.DIFF_KERNELS)
    gate = gate or defaults.GATE
    if gate not in ("total", "group"):
        raise UsageError(f"{option('gate')} is 'total' or 'group', not {gate!r}")
    runs_a = [load(p, rules=rules, where=where).kernels for p in (a, *repeat_a)]
    runs_b = [load(p, rules=rules, where=where).kernels for p in (b, *repeat_b)]
    result = df_.diff(runs_a, runs_b, by=by, noise=floor / 100)
    changed = df_.match_kernels(runs_a[0], runs_b[0], by=by).head(top) if top else None
    failure = None
    if fail is not None:
        slower = df_.slower_than(result, fail)
        if gate == "total":
            slower = slower[slower["group"] == df_.TOTAL]
        if len(slower):
            worst = ", ".join(f"{g} {100 * d:+.1f}%" for g, d in
                              zip(slower["group"], slower["time_delta"], strict=True))
            failure = f"{b} is slower than {a} by {fail:g}% or more: {worst}"
    scene = None
    if moves:  # the sweep of A and B: its own reading of each, as plot --sweep reads them
        names = [f"A: {label_of(a)}", f"B: {label_of(b)}"]
        scene = build_sweep([load(a, rules=rules, where=where),
                             load(b, rules=rules, where=where)], labels=names, by=by)
    return Diff(result, changed, failure, scene)
