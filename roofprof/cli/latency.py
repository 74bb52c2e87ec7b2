"""``roofprof latency``: options -> :func:`roofprof.app.latency.latency` -> a table or JSON, and
a histogram and CDF (:mod:`roofprof.views.latency`, :mod:`roofprof.views.requests`)."""

from __future__ import annotations

from pathlib import Path

import click

from roofprof.app import defaults
from roofprof.cli.common import FORCE, STRICT, errors, note
from roofprof.errors import UsageError


@click.command()
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("--range", "ranges", multiple=True, metavar="REGEX",
              help="Only ranges whose name matches (repeatable); e.g. --range '^decode$'.")
@click.option("--by", type=click.Choice(["range", "path"]),
              help="Group instances by range name or by full path. "
                   f"[default: {defaults.LATENCY_BY}]")
@click.option("--metric", type=click.Choice(["wall", "gpu_span", "kernel"]),
              help="What the plot draws: the range's own duration, the span of its kernels on "
                   f"the GPU, or their busy time. [default: {defaults.LATENCY_METRIC}]")
@click.option("--top", type=click.IntRange(min=1), metavar="N",
              help="Show only the N ranges with the most total time.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="What is printed.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write a histogram and CDF (.png/.svg/.pdf) or the JSON (.json).")
@click.option("--per-request", "per_request", metavar="REGEX",
              help="Per request instead: each instance of a range whose name matches is one "
                   "request; its time to first token, time per output token and end to end "
                   "from the prefill/decode ranges inside it.")
@FORCE
@STRICT
def latency(trace: Path, ranges: tuple[str, ...], by: str | None, metric: str | None,
            top: int | None, fmt: str, output: Path | None, per_request: str | None,
            force: bool, strict: bool) -> None:
    """Per-range duration percentiles (p50/p90/p99/max) from a timing trace: a decode step ~
    time per output token, a prefill ~ time to first token; or per request.

    \b
    Examples:  roofprof latency run.parquet --range '^(prefill|decode)$'
               roofprof latency trace.json.gz -o latency.png
               roofprof latency run.parquet --per-request '^request'
    """
    with errors():
        from roofprof.app.latency import latency as measure
        from roofprof.views import latency as per_range
        from roofprof.views import requests as per_req

        if output is not None:  # before the work (an input as the output: cli.common.errors)
            check_output(output)
        result = measure(trace, ranges=ranges, by=by, metric=metric, top=top,
                         per_request=per_request, strict=strict)
        if result.requests is not None:
            click.echo(per_req.format_table(result.table, result.requests) if fmt == "table"
                       else per_req.to_json(result.table, result.requests), nl=False)
        else:
            click.echo(per_range.format_table(result.table, by=result.by) if fmt == "table"
                       else per_range.to_json(result.table, result.instances), nl=False)
        if output is not None:
            if result.requests is not None:
                per_req.write(result.requests, result.table, str(output))
            else:
                per_range.write(result.instances, result.table, output, ranges=result.ranges,
                                by=result.by, metric=f"{result.metric}_ns")
            note(f"wrote {output}")


#: the suffixes ``-o`` writes: JSON, or the histogram and CDF
SUFFIXES = (".json", ".png", ".svg", ".pdf")


def check_output(output: Path) -> None:
    """Refuse, before the work, an output whose suffix names nothing latency writes (a
    :class:`~roofprof.errors.UsageError`) or that cannot be written: a folder, or in a folder
    that does not exist (an :class:`~roofprof.errors.OutputError`)."""
    from roofprof.tables.files import check_destination

    if output.suffix.lower() not in SUFFIXES:
        raise UsageError(f"{output}: write .png, .svg, .pdf or .json")
    check_destination(output)
