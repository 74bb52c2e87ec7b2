"""``roofprof report``: options -> :func:`roofprof.app.report.report` -> one HTML page or
Markdown with figures (:mod:`roofprof.views.report_page`)."""

from __future__ import annotations

from pathlib import Path

import click

from roofprof.cli.common import LEVEL, STRICT, WHERE, errors, note, refuse_own_inputs


@click.command("report")
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="report.html (one self-contained page) or report.md (with PNG figures "
                   "written beside it).")
@click.option("--timing", type=click.Path(path_type=Path), metavar="TRACE",
              help="A timing trace of the same run (roofprof trace, Kineto, nsys): adds "
                   "latency percentiles per phase range.")
@click.option("--model", "spec", metavar="MODEL",
              help="A preset or config.json: adds measured/model ratios and padded FLOPs.")
@click.option("--batch", type=click.IntRange(min=1),
              help="Sequences per step (with --model). [default: 1]")
@click.option("--prompt", type=click.IntRange(min=1),
              help="Prefill tokens per sequence (with --model). [default: 512]")
@click.option("--context", type=click.IntRange(min=0),
              help="Tokens cached before a decode step (with --model) [default: --prompt].")
@click.option("--logits", type=click.Choice(["last", "all"]),
              help="lm_head on the last token per sequence, or on all. [default: last]")
@LEVEL
@WHERE
@STRICT
def report(trace: Path, output: Path, timing: Path | None, spec: str | None, batch: int | None,
           prompt: int | None, context: int | None, logits: str | None, level: str | None,
           where: str | None, strict: bool) -> None:
    """A written report of TRACE: verdict per phase, diagnosis derived from its numbers,
    measured ceilings, per-phase and op x phase tables, rooflines, kernels with the most
    headroom; latency with --timing, the model comparison with --model.

    \b
    Examples:  roofprof report run.ncu-rep -o report.html
               roofprof report run.ncu-rep -o report.md --timing run.json.gz \\
                   --model Llama-3-8B --batch 2 --prompt 1024
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
        written = report_page.write(write_up(trace, timing=timing, model=spec, batch=batch,
                                             prompt=prompt, context=context, logits=logits,
                                             level=level, where=where, strict=strict),
                                   output)
        note(f"wrote {', '.join(map(str, written))}")
