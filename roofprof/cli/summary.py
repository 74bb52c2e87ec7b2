"""``roofprof summary``: options -> :func:`roofprof.app.summary.summary` -> a table, JSON or
CSV."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import click

from roofprof.app import defaults
from roofprof.cli.common import (
    BY_HELP,
    DEPTH,
    FILTER,
    FORCE,
    FORMAT,
    GROUPS,
    LEVEL,
    TRACE_INPUTS,
    WITH_COUNTERS,
    emit,
    errors,
    format_of,
    given,
)
from roofprof.errors import RoofprofWarning

ENGINE = click.option(
    "--engine", type=click.Choice(["auto", "duckdb", "spark", "pandas"]),
    help="How a dataset folder is summarised: duckdb (out of core, reads Parquet directly), "
         "spark (the same query on a local Spark session; pip install 'roofprof[spark]') or "
         "pandas (in memory); auto: duckdb where it can (not with --depth, --filter, "
         f"--rules or --by kernel). [default: {defaults.ENGINE}]")


@click.command()
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--by", metavar="|".join(GROUPS),
              help=BY_HELP + f" [default: {defaults.BY}; op,phase with --model]")
@LEVEL
@DEPTH
@FILTER
@WITH_COUNTERS
@click.option("--top", type=click.IntRange(min=1), metavar="N",
              help="Show only the N groups with the most GPU time.")
@FORMAT
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write to FILE instead of stdout (.json/.csv pick the format).")
@click.option("--wide", is_flag=True, help="Every column and whole group names, whatever the "
                                           "terminal's width.")
@FORCE
@TRACE_INPUTS
@ENGINE
def summary(traces: tuple[Path, ...], by: str | None, level: str | None, depth: int | None,
            filter_: str | None, with_counters: bool, top: int | None, fmt: str | None,
            output: Path | None, wide: bool, force: bool, input_format: str | None,
            rules: Path | None, strict: bool, reader: str | None, where: str | None,
            engine: str | None, model_spec: str | None, **run: Any) -> None:
    """Measured roofline numbers per group: AI, FLOP/s and % of peak, bytes/s and % of peak
    bandwidth, % of roof, bound, headroom. Several traces are summarised together; a quoted
    glob ('runs/*/rank*.parquet') reads every file it matches, and --by trace then has one
    group per file (its name; its path below the common folder where names repeat).

    \b
    Examples:  roofprof summary run.parquet --by range --depth 2 --top 10
               roofprof summary run.parquet --by op,phase --filter decode
               roofprof summary b1.parquet b16.parquet --by trace,phase
               roofprof summary 'runs/*/rank*.parquet' --by trace
               roofprof summary run.parquet --model config.json --batch 8 --prompt 512
               roofprof summary joined.parquet --by phase --with-counters
    """
    with errors():
        from roofprof.app.summary import summary as summarize
        from roofprof.tables.files import check_destination
        from roofprof.views import tables
        from roofprof.views.model import format_beside

        fmt = format_of(fmt, output)
        if output is not None:  # not over an input (cli.common.errors), nor into a folder
            check_destination(output)
        result = summarize(list(traces), by=by, level=level, depth=depth, filter=filter_,
                           top=top, with_counters=with_counters, model=model_spec,
                           input_format=input_format, rules=rules, strict=strict,
                           reader=reader, where=where, engine=engine, **given(run))
        if fmt == "table":
            # a terminal gets a table that fits it; a pipe or file gets every column
            tty = output is None and sys.stdout.isatty()
            text = tables.format_table(result.table, wide=wide, width=None if tty else 10_000,
                                       notes=[*filter(None, [result.sampling]), *result.notes])
            if result.comparison is not None and result.model is not None:
                text += "\n" + format_beside(result.comparison, *result.model)
        else:  # JSON and CSV have no room for notes: what the table is of goes to stderr
            if result.sampling:
                warnings.warn(result.sampling, RoofprofWarning, stacklevel=1)
            text = tables.to_json(result.table) if fmt == "json" else tables.to_csv(result.table)
        emit(text, output, f"{len(result.table)} groups")
