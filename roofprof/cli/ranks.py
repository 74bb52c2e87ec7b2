"""``roofprof ranks``: options -> :func:`roofprof.app.ranks.ranks` -> a table, JSON or CSV."""

from __future__ import annotations

from pathlib import Path

import click

from roofprof.app import defaults
from roofprof.cli.common import COMPARED_BY, FORCE, FORMAT, LEVEL, WHERE, emit, errors, format_of


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--by", metavar="COLUMN[,COLUMN]",
              help="What to compare across ranks (phase, op, range, ...; run: each rank's "
                   f"totals). {COMPARED_BY} [default: {defaults.BY_COMPARE}]")
@click.option("--view", type=click.Choice(["rank", "spread"]),
              help="rank: a row per group and rank (time, % of roof, intensity, bound, "
                   "communication share, time over the median, straggler); spread: a row per "
                   f"group (min, median, max over ranks, spread, straggler). "
                   f"[default: {defaults.RANKS_VIEW}]")
@LEVEL
@WHERE
@click.option("--engine", type=click.Choice(["duckdb", "spark", "pandas"]),
              help="duckdb: out of core, reading the Parquet files; spark: the same query on "
                   "a local Spark session (pyspark, Java 17+); pandas: in memory. "
                   f"[default: {defaults.RANKS_ENGINE}]")
@FORMAT
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
@FORCE
def ranks(dataset: Path, by: str | None, view: str | None, level: str | None,
          where: str | None, engine: str | None, fmt: str | None, output: Path | None,
          force: bool) -> None:
    """The ranks of a dataset folder side by side, per group (--by): each rank's time, % of
    roof, intensity, bound and communication share (NCCL and other collectives), and the
    straggler: the rank the others waited for (the least collective time where every rank
    ran collectives: a rank that arrives early waits inside them), else the rank with the
    most time; --view spread: min, median, max and spread of the time over ranks.

    \b
    Examples:  roofprof ranks fleet/ --by phase --where "run = 'r1'"
               roofprof ranks fleet/ --by run               (each rank's totals)
               roofprof ranks fleet/ --view spread --format csv
    """
    with errors():
        from roofprof.app.ranks import ranks as side_by_side
        from roofprof.views import ranks as view_of
        from roofprof.views import tables

        result = side_by_side(dataset, by=by, view=view, level=level, where=where,
                              engine=engine)
        fmt = format_of(fmt, output)
        if fmt == "table":
            text = (view_of.format_spread(result) if view == "spread"
                    else view_of.format_ranks(result))
        else:
            text = tables.to_json(result) if fmt == "json" else tables.to_csv(result)
        emit(text, output, f"{len(result)} rows", (dataset,))
