"""What several use cases share: reading their inputs, the modelled run, the catalog check.

An input is what the Python API takes (a :class:`~roofprof.tables.kernels.Trace` or a kernel
table already in memory) or what the command line takes (paths, dataset folders, quoted glob
patterns: one or several, read as one trace with a ``trace`` column telling the files apart).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from roofprof.analysis.catalog import check_peaks
from roofprof.analysis.model import Architecture, Options, architecture, options_for
from roofprof.errors import UsageError, option
from roofprof.inputs.load import RulesArg, load, load_many
from roofprof.tables.kernels import Trace

PathArg = str | os.PathLike[str]
#: what a use case reads: a trace or kernel table in memory, or paths (files, dataset folders,
#: glob patterns) read as one trace
Inputs = Trace | pd.DataFrame | PathArg | Sequence[PathArg]

#: the options describing a modelled run (fields of :class:`~roofprof.analysis.model.Options`,
#: and ``non_causal``), as every command that models a run takes them
MODEL_RUN = ("batch", "prompt", "context", "spec_tokens", "weight_dtype", "group_size",
             "act_dtype", "kv_dtype", "tp", "attention", "traffic", "logits", "non_causal")


def items_of(inputs: Inputs | Sequence[Trace]) -> list[Any]:
    """``inputs`` as a list: each path, or the trace or table given."""
    if isinstance(inputs, Trace | pd.DataFrame | str | os.PathLike):
        return [inputs]
    return list(inputs)


def paths_of(inputs: Inputs | Sequence[Trace]) -> list[PathArg] | None:
    """The paths ``inputs`` names, or None where it holds traces or tables in memory."""
    items = items_of(inputs)
    return items if all(isinstance(i, str | os.PathLike) for i in items) else None


def read(inputs: Inputs | Sequence[Trace], *, input_format: str | None = None,
         rules: RulesArg = None, strict: bool = False, reader: str | None = None,
         where: str | None = None) -> Trace:
    """``inputs`` as one trace: read (several paths: a ``trace`` column tells them apart), or
    the trace given. Reading options apply to paths only (never ignored silently)."""
    paths = paths_of(inputs)
    if paths is None:
        if not isinstance(inputs, Trace | pd.DataFrame):
            raise UsageError("give paths, or one trace or kernel table in memory")
        given = [name for name, value in (("input_format", input_format), ("rules", rules),
                                          ("strict", strict or None), ("reader", reader),
                                          ("where", where)) if value is not None]
        if given:
            raise UsageError(f"{option(given[0])} applies to inputs read from files; this one "
                             "is a trace in memory")
        return inputs if isinstance(inputs, Trace) else Trace(kernels=inputs)
    if not paths:
        raise UsageError("no input given")
    return load_many(paths, format=input_format, rules=rules, strict=strict, reader=reader,
                     where=where)


def read_each(inputs: Sequence[PathArg | Trace], **reading: Any) -> list[Trace]:
    """Each input as a trace of its own (a glob pattern: its matches together)."""
    return [t if isinstance(t, Trace) else load(t, **_loading(reading)) for t in inputs]


def _loading(reading: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`read`'s keywords as :func:`roofprof.inputs.load.load` names them."""
    out = dict(reading)
    if "input_format" in out:
        out["format"] = out.pop("input_format")
    return out


def model_of(spec: str | os.PathLike[str] | Architecture | None,
             run: Mapping[str, Any]) -> tuple[Architecture, Options] | None:
    """The architecture and options of the modelled run: ``spec`` (a preset, a config.json or an
    Architecture) and the :data:`MODEL_RUN` options given in ``run`` (None: not given). Without
    a model no run option may be given: it would be ignored."""
    unknown = [k for k in run if k not in MODEL_RUN]
    if unknown:
        raise UsageError(f"unknown model option(s) {', '.join(unknown)}; the run is described "
                         f"by {', '.join(MODEL_RUN)}")
    given = [k for k, v in run.items() if v is not None and v is not False]
    if spec is None:
        if given:
            raise UsageError(f"{option(given[0])} describes the modelled run: give "
                             f"{option('model')} MODEL too")
        return None
    arch = spec if isinstance(spec, Architecture) else architecture(str(spec))
    return arch, options_for(arch, **run)


def check_catalog(kernels: pd.DataFrame) -> None:
    """Measured peaks always win; a GPU the catalog knows whose measured roofs are far from its
    datasheet is reported (one warning each, with the numbers)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is not in the GPU catalog")
        check_peaks(kernels, warn=True)
