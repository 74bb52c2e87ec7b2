"""``summary``: the measured roofline numbers of every group (``roofprof summary``,
``roofprof.summary``).

One trace, several (a ``trace`` column tells them apart) or a dataset folder, grouped by
``by`` (:data:`~roofprof.app.defaults.BY`); a dataset folder is summarised out of core by the
generated query (:mod:`roofprof.app.engine` picks the engine); ``with_counters`` keeps a joined
trace's launches that have counters; ``model`` puts the analytic model beside the groups (op or
category by phase). Every number is :func:`roofprof.analysis.roofline.summarize`'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from roofprof.analysis import counted, roofline
from roofprof.analysis.model import Architecture, Options
from roofprof.analysis.model.compare import fitted, summarize_beside
from roofprof.app import defaults
from roofprof.app import engine as engines
from roofprof.app.common import Inputs, check_catalog, model_of, paths_of, read
from roofprof.errors import UsageError, option, strict_mode
from roofprof.inputs.load import RulesArg
from roofprof.tables.sampling import label


@dataclass
class Summary:
    """A summary: one row per group (``table``), what the table is of (``sampling``: a sample
    or a filtered part of a run, None for a whole run) and its other notes (``notes``: the
    share of each group's time that has counters); with a model, the measured/model ratios of
    the groups it describes (``comparison``) and the run it models (``model``)."""

    table: pd.DataFrame
    sampling: str | None = None
    notes: list[str] = field(default_factory=list)
    comparison: pd.DataFrame | None = None
    model: tuple[Architecture, Options] | None = None


def summary(inputs: Inputs, *, by: str | None = None, level: str | None = None,
            depth: int | None = None, filter: str | None = None, top: int | None = None,
            with_counters: bool = False, model: str | os.PathLike[str] | None = None,
            input_format: str | None = None, rules: RulesArg = None, strict: bool = False,
            reader: str | None = None, where: str | None = None, engine: str | None = None,
            **run: Any) -> Summary:
    """The summary of ``inputs`` (a trace or kernel table, or paths: files, dataset folders,
    glob patterns). ``run``: the modelled run's options (batch, prompt, ...), with ``model``."""
    level = level or defaults.LEVEL
    modelled = model_of(model, run)
    paths = paths_of(inputs)
    if modelled is not None:
        if paths is not None and len(paths) > 1:
            raise UsageError(f"{option('model')} describes one run: give one trace")
        trace = read(inputs, input_format=input_format, rules=rules, strict=strict,
                     reader=reader, where=where)
        if with_counters:
            trace = counted.with_counters(trace)
        arch, options = modelled[0], fitted(trace.kernels, modelled[1])
        result, comparison = summarize_beside(trace, arch, options, by=by, level=level,
                                              depth=depth, top=top, filter=filter)
        return Summary(result, label(trace.meta), comparison=comparison, model=(arch, options))
    folder = None
    if paths is not None:
        folder = engines.out_of_core(engine or defaults.ENGINE, paths, engines.in_memory_only(
            [("depth", depth), ("filter", filter), ("rules", rules),
             ("with_counters", with_counters or None)], by))
    if folder is not None:
        with strict_mode(strict):  # a dataset's warnings (copies, metadata) refused too
            meta, result = engines.summarize(folder, engine or defaults.ENGINE,
                                            by or defaults.BY, level, top, where)
        return Summary(result, label(meta))
    trace = read(inputs, input_format=input_format, rules=rules, strict=strict, reader=reader,
                 where=where)
    notes: list[str] = []
    if with_counters:
        trace, result, notes = counted.summarize(trace, by=by or defaults.BY, level=level,
                                                 depth=depth, top=top, filter=filter)
    else:
        result = roofline.summarize(trace, by=by or defaults.BY, level=level, depth=depth,
                                    top=top, filter=filter)
    check_catalog(trace.kernels)
    return Summary(result, label(trace.meta), notes)
