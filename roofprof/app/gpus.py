"""``gpus``: the GPU catalog, one entry, or a trace's measured peaks against its entry
(``roofprof gpus``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from roofprof.analysis import catalog
from roofprof.app import defaults
from roofprof.errors import UsageError, option
from roofprof.inputs.load import load


@dataclass
class Gpus:
    """The catalog (``gpu`` None, ``check`` False), one entry (``gpu``), or a trace's peak check
    (``check``), as a table (``table``)."""

    table: pd.DataFrame
    gpu: catalog.Gpu | None = None
    check: bool = False


def gpus(name: str | None = None, *, check: str | os.PathLike[str] | None = None,
         tolerance: float | None = None, where: str | None = None) -> Gpus:
    """The catalog, the entry ``name``, or (``check``) the measured peaks of a trace against
    the entry of its GPU (or of ``name``)."""
    if where is not None and check is None:
        raise UsageError(f"{option('where')} applies to the trace of {option('check')}")
    if check is not None:
        kernels = load(check, where=where).kernels
        return Gpus(catalog.check_peaks(kernels, gpu=name, tolerance=defaults.TOLERANCE
                                        if tolerance is None else tolerance), check=True)
    if name is not None:
        gpu = catalog.get(name)
        return Gpus(catalog.table((gpu,)), gpu=gpu)
    return Gpus(catalog.table())
