"""roofprof: measured rooflines of GPU kernels from Nsight Compute counters.

``import roofprof`` stays light: pandas, pyarrow, matplotlib and NVIDIA's report reader load only
when a function that needs them is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from roofprof.capture.nvtx import mark, phase, range
from roofprof.errors import RoofprofError, RoofprofWarning

if TYPE_CHECKING:
    from roofprof.analysis.roofline import summary, top_kernels
    from roofprof.inputs.load import load
    from roofprof.tables.kernels import Trace
    from roofprof.views.chart import plot

__all__ = ["RoofprofError", "RoofprofWarning", "Trace", "__version__", "load", "mark", "phase",
           "plot", "range", "summary", "top_kernels"]

_LAZY = {"plot": "roofprof.views.chart", "Trace": "roofprof.tables.kernels",
         "load": "roofprof.inputs.load", "summary": "roofprof.analysis.roofline",
         "top_kernels": "roofprof.analysis.roofline"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'roofprof' has no attribute {name!r}")
