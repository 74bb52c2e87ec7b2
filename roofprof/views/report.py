"""The written report of a trace, as data: what ``roofprof report`` renders to HTML or Markdown
(:mod:`roofprof.views.report_page`).

:func:`build` composes it from the analysis and computes none of its own numbers:

* ``phases`` / ``ops``: :func:`roofprof.analysis.roofline.summarize` by ``phase`` and
  ``op,phase``; ``top``: :func:`roofprof.analysis.roofline.top_kernels` (the kernels with the
  most headroom);
* ``ceilings``: the GPU's measured peaks beside its catalog entry
  (:func:`roofprof.analysis.report.ceilings`);
* ``latency``: the phase ranges' percentiles of a timing trace, when one is given
  (:func:`roofprof.analysis.report.latency_table`); ``comparison`` and ``options``: the model
  section (:func:`roofprof.analysis.report.model_comparison`, ``decode_options``), when a model
  is given;
* ``scenes``: the roofline figures (:func:`roofprof.views.chart.build_scene`) by phase and by
  op x phase;
* ``diagnosis``: a list of :class:`~roofprof.views.diagnosis.Sentence`, each filled from one
  summary row (``roofprof.views.diagnosis`` holds the rules);
* ``title``: the input as the user named it (a stored trace's own sources name the folders of
  the machine that captured it: never shown); ``scope``: what part of the run the report is of
  where its options chose part of it (:mod:`roofprof.app.report`), for the first screen.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from roofprof.analysis import roofline as rl
from roofprof.analysis.report import TOP_KERNELS, ceilings, latency_table
from roofprof.errors import InputError
from roofprof.views import chart
from roofprof.views.chart.scene import Scene
from roofprof.views.diagnosis import Sentence, sentences

#: the report's roofline figures: caption, grouping, and the name a Markdown report gives its
#: file (``NAME_phase.png`` beside ``NAME.md``)
FIGURES = (("by phase", "phase", "phase"), ("by op × phase", "op,phase", "op_phase"))


@dataclass
class Report:
    """The content of a report: every table is a DataFrame, every figure a Scene."""

    title: str
    gpu: str
    level: str
    phases: pd.DataFrame
    ops: pd.DataFrame
    top: pd.DataFrame
    ceilings: pd.DataFrame
    diagnosis: list[Sentence]
    scenes: list[tuple[str, Scene]]
    latency: pd.DataFrame | None = None
    comparison: pd.DataFrame | None = None
    options: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    #: what part of the run the report is of, where its options chose part of it (only the
    #: kernels matching a filter, only the launches with counters): shown on its first screen
    scope: list[str] = field(default_factory=list)


def build(trace: Any, *, timing: Any = None, comparison: pd.DataFrame | None = None,
          options: pd.DataFrame | None = None, level: str = "dram", title: str | None = None,
          top: int = TOP_KERNELS, source: str | None = None,
          scope: Sequence[str] = ()) -> Report:
    """The report of ``trace`` (a Trace or a kernel table). ``timing``: a
    :class:`~roofprof.tables.timing.TimingTrace` for the latency section; ``comparison``: the result
    of :func:`roofprof.analysis.report.model_comparison` (or
    :func:`roofprof.analysis.model.compare.compare`), ``options``: of
    :func:`roofprof.analysis.report.decode_options`, for the model section. ``source``: the
    input as the user named it, for the title (:func:`_title`); ``scope``: what part of the
    run the report is of (:attr:`Report.scope`)."""
    kernels = rl.table_of(trace)
    rl.check(kernels)
    phases = rl.summarize(kernels, by="phase", level=level)
    ops = rl.summarize(kernels, by="op,phase", level=level)
    heads = rl.top_kernels(kernels, top, level=level)
    notes: list[str] = []
    scenes: list[tuple[str, Scene]] = []
    gpu = ", ".join(str(g) for g in kernels["device_name"].dropna().unique()) \
        if "device_name" in kernels else ""
    # the trace, not its table: a figure of a sampled or filtered trace says so, as the tables
    drawn = trace if isinstance(getattr(trace, "meta", None), dict) else kernels
    for caption, by, _name in FIGURES:
        try:
            scenes.append((caption, chart.build_scene(drawn, by=by, levels=(level,),
                                                      title=_figure_title(trace, gpu))))
        except InputError as exc:  # nothing drawable: the report says why instead
            notes.append(f"no roofline figure {caption}: {exc}")
    lat = latency_table(timing) if timing is not None else None
    if timing is None:
        notes.append("no latency percentiles: the trace has no range timing (give --timing "
                     "with a roofprof trace, Kineto or nsys timing trace of the same run)")
    if comparison is None:
        notes.append("no model comparison (and no padded-FLOP count): give --model")
    diagnosis = sentences(phases, ops, heads, comparison, options, lat)
    return Report(title=title or _title(trace, source), gpu=gpu or "unknown GPU", level=level,
                  phases=phases, ops=ops, top=heads, ceilings=ceilings(kernels),
                  diagnosis=diagnosis, scenes=scenes, latency=lat, comparison=comparison,
                  options=options, notes=notes, scope=list(scope))


def _figure_title(trace: Any, gpu: str) -> str | None:
    """A dataset selection's figures name it, as the report's title does; else None (the
    figure's own title: the GPU and the source files)."""
    data = (getattr(trace, "meta", None) or {}).get("dataset")
    if not (isinstance(data, dict) and data.get("path")):
        return None
    where = f" where {data['where']}" if data.get("where") else ""
    return f"{gpu or 'unknown GPU'} · dataset {data['path']}{where}"


def _title(trace: Any, source: str | None = None) -> str:
    """The report's title: its input as the user named it (``source``: a dataset folder with
    its --where, a file, a glob), else the names of the files it was read from. Never the
    folders a stored trace recorded: a Parquet trace keeps the paths of its capture machine
    (``/root/out/run.ncu-rep``), which mean nothing where the report is read."""
    meta = getattr(trace, "meta", None) or {}
    data = meta.get("dataset")
    if isinstance(data, dict) and data.get("path"):
        where = f" where {data['where']}" if data.get("where") else ""
        return f"roofprof report: dataset {source or data['path']}{where}"
    if source:
        return f"roofprof report: {source}"
    names = [os.path.basename(str(s)) for s in meta.get("sources") or [] if s]
    return f"roofprof report: {', '.join(names)}" if names else "roofprof report"
