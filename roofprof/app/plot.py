"""``plot``: the measured roofline as a scene (``roofprof plot``, ``roofprof.plot``).

What is drawn, as data (:class:`~roofprof.views.chart.scene.Scene`): one trace coloured by
group, several files coloured by file, a sweep of traces (one aggregate per trace and group,
joined by arrows), a dataset folder out of core (its groups by the summary's own query), or one
trace with the analytic model beside it. The renderers (:mod:`roofprof.views.chart`) draw it;
every number in it is the summary's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roofprof.analysis import counted
from roofprof.analysis.model.compare import against, fitted, grouping_for
from roofprof.app import defaults
from roofprof.app import engine as engines
from roofprof.app.common import Inputs, PathArg, items_of, model_of, paths_of, read, read_each
from roofprof.errors import UsageError, option, strict_mode
from roofprof.inputs.load import RulesArg
from roofprof.tables.kernels import Trace
from roofprof.tables.partitions import label_of
from roofprof.views.chart.dataset_scene import build_dataset
from roofprof.views.chart.scene import MAX_POINTS, Scene, build
from roofprof.views.chart.sweep import build_sweep


def default_output(inputs: Sequence[PathArg], sweep: bool = False) -> Path:
    """Where a plot goes when no output is named: ``NAME_roofline.png`` (``NAME_sweep_...``)
    beside the first input's name, in the working folder."""
    return Path(f"{label_of(inputs[0])}{'_sweep' if sweep else ''}_roofline.png")


def plot(inputs: Inputs | Sequence[Trace], *, by: str | None = None, sweep: bool = False,
         levels: Sequence[str] | None = None, depth: int | None = None,
         filter: str | None = None, with_counters: bool = False, title: str | None = None,
         label_top: int | None = None, max_points: int | None = None,
         model: str | os.PathLike[str] | None = None, input_format: str | None = None,
         rules: RulesArg = None, strict: bool = False, reader: str | None = None,
         where: str | None = None, engine: str | None = None, **run: Any) -> Scene:
    """The scene of ``inputs`` (a trace or kernel table, or paths; with ``sweep``, several traces
    in order). ``run``: the modelled run's options (batch, prompt, ...), with ``model``."""
    modelled = model_of(model, run)
    paths = paths_of(inputs)
    several = sweep or len(items_of(inputs)) > 1
    if modelled is not None and several:
        raise UsageError(f"{option('model')} draws beside one trace: give one trace, without "
                         f"{option('sweep')}")
    levels = tuple(levels or (defaults.LEVEL,))
    label_top = defaults.LABELS if label_top is None else label_top
    folder = None
    if paths is not None:
        folder = engines.out_of_core(engine or defaults.ENGINE, paths, engines.in_memory_only(
            [("depth", depth), ("filter", filter), ("rules", rules), ("model", model),
             ("sweep", sweep or None), ("with_counters", with_counters or None)], by))
    if folder is not None:
        with strict_mode(strict):  # a dataset's warnings (copies, metadata) refused too
            return build_dataset(folder, by=by or defaults.BY, levels=levels, where=where,
                                 title=title, label_top=label_top)
    if sweep:
        if len(items_of(inputs)) < 2:
            raise UsageError(f"{option('sweep')} needs at least two traces")
        if with_counters:
            raise UsageError(f"{option('with_counters')} draws one trace: leave out "
                             f"{option('sweep')}")
        traces = read_each(items_of(inputs), input_format=input_format, rules=rules,
                           strict=strict, reader=reader, where=where)
        return build_sweep(traces, by=by or defaults.BY_SWEEP,
                           levels=levels, depth=depth, filter=filter, title=title)
    trace = read(inputs, input_format=input_format, rules=rules, strict=strict, reader=reader,
                 where=where)
    if with_counters:
        trace = counted.with_counters(trace)
    beside: dict[str, Any] = {}
    if modelled is not None:
        arch, options = modelled[0], fitted(trace.kernels, modelled[1])
        by = grouping_for(trace.kernels, by)
        beside = {"model": against(trace.kernels, arch, options),
                  "model_label": f"{arch.name}, batch {options.batch}, prompt "
                                 f"{options.prompt}"}
    by = by or (defaults.BY_SEVERAL if "trace" in trace.kernels.columns else defaults.BY)
    return build(trace, by=by, levels=levels, depth=depth, filter=filter, title=title,
                 label_top=label_top, max_points=max_points or MAX_POINTS, **beside)
