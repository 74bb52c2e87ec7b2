"""roofprof's analytic decoder-transformer model: what a forward step should cost.

Estimates are always labelled as such; they are drawn or tabulated beside measurements, never
instead of them. :mod:`roofprof.analysis.model.arch` reads architectures (a Hugging Face
``config.json`` or a preset), :mod:`roofprof.analysis.model.estimate` counts FLOPs and bytes per op
and phase and times them at a GPU's roofs, :mod:`roofprof.analysis.model.compare` puts a trace's
measured numbers beside them.
"""

from __future__ import annotations

from roofprof.analysis.model import compare
from roofprof.analysis.model.arch import Architecture, architecture, from_config, presets
from roofprof.analysis.model.estimate import (
    PHASES,
    Options,
    estimate,
    options_for,
    roofs_of_gpu,
    roofs_of_trace,
    totals,
)

__all__ = ["PHASES", "Architecture", "Options", "architecture", "compare", "estimate",
           "from_config", "options_for", "presets", "roofs_of_gpu", "roofs_of_trace", "totals"]
