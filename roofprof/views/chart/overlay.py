"""Modelled points beside measured ones: the scene data of ``plot --model``.

:func:`model_points` gives every measured op · phase group (or category · phase, for traces without
module ranges) that the analytic model also describes one :class:`ModelPoint`: x the model's
intensity (useful FLOPs over ideal DRAM bytes), y its FLOP/s at the roofs it was timed at (the
trace's measured ones: :func:`roofprof.analysis.model.compare.against`), so it lies on the roof the
op could reach; and the measured end of the group (the summary's intensity at DRAM and achieved
FLOP/s), to which a renderer draws a dotted line. Every number comes from
:func:`roofprof.analysis.model.compare.compare` and :mod:`roofprof.analysis.roofline`; nothing is
computed twice. The model's bytes are DRAM bytes, so its points are placed at DRAM only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from roofprof.analysis import roofline as rl
from roofprof.analysis.grouping import Grouping
from roofprof.analysis.model.compare import basis, compare, group_names, grouping_for
from roofprof.errors import UsageError, option
from roofprof.views.tables import records

#: the legend entry of the model's points (the hollow circle of the renderers)
NOTE = ("○ model (analytic estimate) at the trace's drawn roofs; dotted to the measured "
        "group")


@dataclass
class ModelPoint:
    """The model's point of one measured group."""

    #: index of the measured group (into the scene's group names and summary)
    group: int
    name: str
    colour: str
    #: model intensity (FLOP/B of DRAM) and FLOP/s at the roofs
    x: float
    y: float
    #: the measured group at DRAM: (intensity, achieved FLOP/s), None where it is off the plot
    measured: tuple[float, float] | None
    #: the :func:`~roofprof.analysis.model.compare.compare` row (measured, model and ratios)
    numbers: dict[str, Any]


def model_points(t: pd.DataFrame, model: pd.DataFrame, grouping: Grouping,
                 groups: pd.DataFrame, numbers: dict[str, pd.DataFrame],
                 colours: list[str]) -> list[ModelPoint]:
    """One point per group of ``grouping`` (op · phase) with a row in ``model`` (the table of
    :func:`roofprof.analysis.model.estimate` timed at roofs) whose FLOPs, bytes and time are
    known."""
    by = grouping_for(t, ",".join(grouping.by))
    if "dram" not in numbers:
        raise UsageError(f"the model's bytes are DRAM bytes: with {option('model')}, draw "
                         f"{option('levels')} dram "
                         "(l2 and l1 beside it if you like)")
    cmp = compare(t, model, by=basis(t))
    index = {name: g for g, name in enumerate(grouping.names)}
    first = next(iter(numbers.values()))  # kernel_numbers; a further level's lack r_k
    mx = rl.group_intensity(numbers["dram"], grouping,
                            base=None if numbers["dram"] is first else first)
    my = groups["work_per_s"].to_numpy(dtype=np.float64)
    out = []
    for row, name in zip(records(cmp), group_names(cmp, by), strict=True):
        g = index.get(name)
        flop, nbytes, time = row["model_flop"], row["model_bytes"], row["model_time_s"]
        if g is None or not (_positive(flop) and _positive(nbytes) and _positive(time)):
            continue   # no FLOPs (embed) or no roofs: nothing to place on a log-log roofline
        measured = (float(mx[g]), float(my[g]))
        ok = all(_positive(v) for v in measured)
        out.append(ModelPoint(g, name, colours[g], flop / nbytes, flop / time,
                              measured if ok else None, row))
    return out


def _positive(v: Any) -> bool:
    return v is not None and math.isfinite(float(v)) and float(v) > 0
