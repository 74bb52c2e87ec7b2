"""``whatif``: a trace's measured kernels projected onto another GPU's roofs
(``roofprof whatif``); projections, not measurements, and labelled so.

Each kernel keeps its measured work and bytes; only the ceilings change
(:mod:`roofprof.analysis.whatif`). The target's ceilings are the measured peaks scaled by the
datasheet ratio target/source where the trace's GPU is in the catalog (``peaks`` ratio), else
the target's datasheet; ``against`` puts a recording on the target beside the projection.
Kernels without counters are not projected (null, counted in a warning with their share of
the time); a trace none of whose kernels can be projected (a timing trace) is an
:class:`~roofprof.errors.InputError` naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from roofprof.analysis import catalog
from roofprof.analysis import whatif as wi
from roofprof.app import defaults
from roofprof.errors import InputError
from roofprof.inputs.load import RulesArg, load


@dataclass
class WhatIf:
    """The projection per group (``table``), from which GPU to which, with which peaks."""

    table: pd.DataFrame
    source: str
    target: str
    peaks: str


def whatif(trace: str | os.PathLike[str], gpu: str, *, by: str | None = None,
           peaks: str | None = None, against: str | os.PathLike[str] | None = None,
           rules: RulesArg = None, where: str | None = None) -> WhatIf:
    """Project ``trace`` onto the catalog GPU ``gpu``, grouped ``by`` (phase by default)."""
    by = by or defaults.BY_COMPARE
    kernels = load(trace, rules=rules, where=where).kernels
    target = catalog.get(gpu)
    source = wi.source_gpu(kernels)
    chosen = peaks or ("ratio" if source is not None else "datasheet")
    nothing = wi.unprojectable(kernels, target, chosen)
    if nothing is not None:         # a table of null projections would say nothing
        raise InputError(f"{trace}: {nothing}")
    if against is not None:
        measured = load(against, rules=rules, where=where).kernels
        df = wi.validate(kernels, target, measured, by=by, peaks=chosen)
    else:
        df = wi.whatif(kernels, target, by=by, peaks=chosen)
    names = kernels["device_name"].dropna().unique()
    src_name = source.name if source else ", ".join(map(str, names)) or "?"
    return WhatIf(df, src_name, target.name, chosen)
