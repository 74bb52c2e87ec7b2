"""``report``: the written report of a trace (``roofprof report``).

The trace's verdict per phase, diagnosis, rooflines, measured ceilings, summaries and the
kernels with the most headroom (:mod:`roofprof.views.report` composes them); a timing trace of
the same run (``timing``, or the trace itself where it is one) adds latency percentiles, and a
model (``model`` with the run's ``batch``, ``prompt``, ``context``, ``logits``) the
measured/model comparison and what batching and narrower numbers would do to a decode step.
"""

from __future__ import annotations

import os

from roofprof.analysis.model import Architecture
from roofprof.analysis.report import decode_options, model_comparison
from roofprof.app import defaults
from roofprof.app.common import model_of
from roofprof.errors import strict_mode
from roofprof.inputs.load import load
from roofprof.inputs.timing import is_timing_source, load_timing
from roofprof.tables.timing import TimingTrace
from roofprof.views.report import Report, build


def report(trace: str | os.PathLike[str], *, timing: str | os.PathLike[str] | None = None,
           model: str | os.PathLike[str] | Architecture | None = None, batch: int | None = None,
           prompt: int | None = None, context: int | None = None, logits: str | None = None,
           level: str | None = None, where: str | None = None, strict: bool = False) -> Report:
    """The report of ``trace`` (any input; ``where`` selects a dataset's partitions).
    ``strict``: refuse a trace or timing trace with values read as null, rows left out or
    range instances that cannot be timed, instead of warning."""
    with strict_mode(strict):  # the latency section's instances too
        t = load(trace, where=where, strict=strict)
        timed = load_timing(timing, strict=strict) if timing is not None else \
            timing_of(trace, strict=strict)
        comparison = options = None
        modelled = model_of(model, {"batch": batch, "prompt": prompt, "context": context,
                                    "logits": logits})
        if modelled is not None:
            comparison = model_comparison(t.kernels, *modelled)
            if "phase" in t.kernels and (t.kernels["phase"] == "decode").any():
                options = decode_options(t.kernels, *modelled)
        return build(t, timing=timed, comparison=comparison, options=options,
                     level=level or defaults.LEVEL)


def timing_of(path: str | os.PathLike[str], strict: bool = False) -> TimingTrace | None:
    """The timing trace ``path`` holds (a roofprof timing trace, Kineto or nsys), or None
    where it holds counters only: the latency section of a timing trace comes by itself (a
    timing trace that cannot be read is an error, never a report without it)."""
    return load_timing(path, strict=strict) if is_timing_source(path) else None
