"""roofprof: measured rooflines of GPU kernels from Nsight Compute counters.

The Python API: :func:`load` any input roofprof reads into a :class:`Trace`; :func:`summary`
(a DataFrame) and :func:`plot` (a matplotlib Axes) call the same application functions as
``roofprof summary`` and ``roofprof plot`` (:mod:`roofprof.app`, where every other use case is);
:func:`range`, :func:`phase` and :func:`mark` annotate a program with NVTX.

``import roofprof`` stays light: pandas, pyarrow, matplotlib and NVIDIA's report reader load only
when a function that needs them is called. Module paths of earlier versions that users reach as
attributes (``roofprof.catalog``, ``roofprof.model``, ``roofprof.whatif``, ``roofprof.sampling``,
``roofprof.columns``) still lead to those modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from roofprof.errors import RoofprofError, RoofprofWarning
from roofprof.version import __version__

if TYPE_CHECKING:
    from roofprof.analysis.roofline import top_kernels
    from roofprof.app.api import plot, summary
    from roofprof.capture.nvtx import mark, phase, range
    from roofprof.inputs.load import load
    from roofprof.tables.kernels import Trace

__all__ = ["RoofprofError", "RoofprofWarning", "Trace", "__version__", "load", "mark", "phase",
           "plot", "range", "summary", "top_kernels"]

#: the API's names, each loaded from its module when first used
_LAZY = {"plot": "roofprof.app.api", "summary": "roofprof.app.api",
         "Trace": "roofprof.tables.kernels", "load": "roofprof.inputs.load",
         "top_kernels": "roofprof.analysis.roofline", "range": "roofprof.capture.nvtx",
         "phase": "roofprof.capture.nvtx", "mark": "roofprof.capture.nvtx"}
#: modules of earlier versions, by the attribute users reach them as
_MOVED = {"catalog": "roofprof.analysis.catalog", "model": "roofprof.analysis.model",
          "whatif": "roofprof.analysis.whatif", "sampling": "roofprof.tables.sampling",
          "columns": "roofprof.tables.columns"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _MOVED:
        return importlib.import_module(_MOVED[name])
    raise AttributeError(f"module 'roofprof' has no attribute {name!r}")
