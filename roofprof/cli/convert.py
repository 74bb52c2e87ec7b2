"""``roofprof convert`` and ``roofprof join``: inputs into a Parquet trace or a dataset
(:mod:`roofprof.app.convert`), and timed launches with counters (:mod:`roofprof.app.join`)."""

from __future__ import annotations

from pathlib import Path

import click

from roofprof.app import defaults
from roofprof.cli.common import (
    FORCE,
    INPUT_FORMAT,
    READER,
    RULES,
    STRICT,
    WHERE,
    errors,
    note,
    options,
)
from roofprof.tables.partitions import DEFAULTS

DATASET = options(
    click.option("--dataset", type=click.Path(path_type=Path), metavar="DIR",
                 help="Add the inputs to the partitioned dataset DIR as one new file "
                      "(instead of -o)."),
    click.option("--run", metavar="NAME",
                 help=f"With --dataset: the run partition. [default: {DEFAULTS['run']}]"),
    click.option("--host", metavar="NAME",
                 help="With --dataset: the host partition (also the file's host column). "
                      f"[default: {DEFAULTS['host']}]"),
    click.option("--rank", type=click.IntRange(min=0), metavar="N",
                 help=f"With --dataset: the rank partition. [default: {DEFAULTS['rank']}]"),
    click.option("--rank-by", type=click.Choice(["device"]),
                 help="With --dataset: one file per CUDA device, each in the rank partition of "
                      "its device (a traced or recorded torchrun run, one process per GPU) "
                      "instead of --rank."),
)


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="The Parquet trace to write (.parquet).")
@INPUT_FORMAT
@RULES
@STRICT
@READER
@DATASET
@WHERE
@FORCE
def convert(inputs: tuple[Path, ...], output: Path | None, input_format: str | None,
            rules: Path | None, strict: bool, reader: str | None, dataset: Path | None,
            run: str | None, host: str | None, rank: int | None, rank_by: str | None,
            where: str | None, force: bool) -> None:
    """Convert Nsight Compute reports or CSV exports (traces, dataset folders, quoted globs)
    into one Parquet trace, or add them to a dataset (--dataset DIR: one new file under
    DIR/run=RUN/host=HOST/rank=N/).

    \b
    Examples:  roofprof convert run1.ncu-rep run2.csv -o trace.parquet
               roofprof convert rank3.ncu-rep --dataset fleet/ --run r1 --host n7 --rank 3
               roofprof convert tp.parquet --dataset fleet/ --run tp --rank-by device
               roofprof convert fleet/ --where "rank = 3" -o rank3.parquet
    """
    with errors():
        from roofprof.app.convert import convert as convert_inputs

        written = convert_inputs(list(inputs), output, dataset=dataset, run=run, host=host,
                                 rank=rank, rank_by=rank_by, input_format=input_format,
                                 rules=rules, strict=strict, reader=reader, where=where)
        for w in written:
            kernels = len(w.trace.kernels)
            if w.rank is not None:
                note(f"wrote {w.path}: rank {w.rank}, {kernels} kernels")
            elif dataset is not None:
                note(f"wrote {w.path}: {kernels} kernels from {len(inputs)} input(s)")
            else:
                formats = ", ".join(sorted(set(w.trace.meta["formats"])))
                note(f"wrote {w.path}: {kernels} kernels from {len(inputs)} input(s) "
                     f"({formats})")


@click.command("join")
@click.argument("timing", type=click.Path(path_type=Path))
@click.argument("counters", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The joined kernel table to write (.parquet).")
@click.option("--spread", type=click.FloatRange(min=0),
              help="Report signatures whose samples differ by more than this fraction in "
                   f"FLOPs or DRAM bytes. [default: {defaults.SPREAD}]")
@WHERE
@STRICT
@FORCE
def join(timing: Path, counters: Path, output: Path, spread: float | None,
         where: str | None, strict: bool, force: bool) -> None:
    """Give every timed launch of TIMING (roofprof trace, Kineto, nsys) counters from COUNTERS
    (any kernel table: .ncu-rep, .csv, .parquet): from the same launch, else from sampled
    launches of the same kernel and configuration.

    \b
    Example:  roofprof join run.parquet counters.ncu-rep -o joined.parquet
    """
    with errors():
        from roofprof.app.join import join as join_files
        from roofprof.views.join import format_report

        facts = join_files(timing, counters, output, spread=spread, where=where, strict=strict)
        click.echo(format_report(facts), nl=False)
        note(f"wrote {output} ({sum(facts['launches'].values())} launches)")
