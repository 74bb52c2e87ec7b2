"""``model``: the analytic estimate of a decoder transformer, at a GPU's roofs or beside a
trace (``roofprof model``).

Per op and phase: FLOPs, weight, KV-cache and activation bytes, intensity and, at the roofs of a
catalog GPU (``gpu``) or of a trace (``trace``, also compared with its kernels: measured/model
ratios), the time at the roof. Estimates are labelled as such wherever they are shown.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from roofprof.analysis import catalog
from roofprof.analysis.model import (
    PHASES,
    Architecture,
    Options,
    estimate,
    roofs_of_gpu,
    roofs_of_trace,
    totals,
)
from roofprof.analysis.model.compare import basis, compare
from roofprof.app.common import model_of
from roofprof.errors import UsageError, option
from roofprof.inputs.load import load


@dataclass
class Model:
    """The estimate (``table``; with a trace, beside its kernels: ``compared``), its totals
    (without a trace), the run modelled, and whose roofs time it (``roofs``, "" for none)."""

    table: pd.DataFrame
    compared: bool
    totals: pd.DataFrame | None
    arch: Architecture
    options: Options
    roofs: str


def model(spec: str | os.PathLike[str] | Architecture, *, gpu: str | None = None,
          trace: str | os.PathLike[str] | None = None, where: str | None = None,
          phases: Sequence[str] = (), **run: Any) -> Model:
    """The estimate of ``spec`` (a preset, a config.json or an Architecture) for the run of
    ``run`` (batch, prompt, ...), for ``phases`` (all if none)."""
    if gpu and trace:
        raise UsageError(f"{option('gpu')} and {option('trace')} both give roofs: pick one")
    if where is not None and trace is None:
        raise UsageError(f"{option('where')} applies to the trace of {option('trace')}")
    modelled = model_of(spec, run)
    assert modelled is not None  # a spec is given
    arch, options = modelled
    kernels = None
    roofs = None
    at = ""
    if trace is not None:
        kernels = load(trace, where=where).kernels
        roofs, at = roofs_of_trace(kernels), f"measured roofs of {trace}"
    elif gpu is not None:
        entry = catalog.get(gpu)
        roofs, at = roofs_of_gpu(entry), f"{entry.name} datasheet roofs"
    df = estimate(arch, options, phases=tuple(phases) or PHASES, roofs=roofs)
    if kernels is not None:
        return Model(compare(kernels, df, by=basis(kernels)), True, None, arch, options, at)
    return Model(df, False, totals(df), arch, options, at)
