"""``roofprof report``: options -> :func:`roofprof.app.report.report` -> one HTML page or
Markdown with figures (:mod:`roofprof.views.report_page`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roofprof.cli.common import (
    FILTER,
    FORCE,
    LEVEL,
    MODEL_RUN,
    RULES,
    STRICT,
    WHERE,
    WITH_COUNTERS,
    errors,
    given,
    note,
    refuse_own_inputs,
)


@click.command("report")
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="report.html (one self-contained page) or report.md (with PNG figures "
                   "written beside it).")
@click.option("--timing", type=click.Path(path_type=Path), metavar="TRACE",
              help="A timing trace of the same run (roofprof trace, Kineto, nsys): adds "
                   "latency percentiles per phase range.")
@click.option("--model", "spec", metavar="MODEL",
              help="A preset or config.json: adds measured/model ratios and padded FLOPs; "
                   "describe the recorded run with --batch, --prompt, --context, "
                   "--weight-dtype, ...")
@MODEL_RUN
@LEVEL
@FILTER
@WITH_COUNTERS
@RULES
@WHERE
@STRICT
@FORCE
def report(trace: Path, output: Path, timing: Path | None, spec: str | None, level: str | None,
           filter_: str | None, with_counters: bool, rules: Path | None, where: str | None,
           strict: bool, force: bool, **run: Any) -> None:
    """A written report of TRACE: verdict per phase, diagnosis derived from its numbers,
    measured ceilings, per-phase and op x phase tables, rooflines, kernels with the most
    headroom; latency with --timing, the model comparison with --model. --filter and
    --with-counters choose the kernels as for summary, and the report says so on its first
    screen.

    \b
    Examples:  roofprof report run.ncu-rep -o report.html
               roofprof report run.ncu-rep -o report.md --timing run.json.gz \\
                   --model Llama-3-8B --batch 2 --prompt 1024
               roofprof report joined.parquet -o report.html --with-counters
    """
    with errors():
        from roofprof.app.report import report as write_up
        from roofprof.tables.files import check_destination
        from roofprof.views import report_page

        # before the work: a wrong suffix, a page or figure over an input, a folder in the way
        files = report_page.outputs(output)
        refuse_own_inputs(click.get_current_context().params, files)  # the figures too
        for f in files:
            check_destination(f)
        written = report_page.write(write_up(trace, timing=timing, model=spec, level=level,
                                             filter=filter_, with_counters=with_counters,
                                             rules=rules, where=where, strict=strict,
                                             **given(run)),
                                   output)
        note(f"wrote {', '.join(map(str, written))}")
