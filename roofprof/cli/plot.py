"""``roofprof plot``: options -> :func:`roofprof.app.plot.plot` -> a PNG, SVG, PDF or HTML file
(:mod:`roofprof.views.chart`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roofprof.app import defaults
from roofprof.cli.common import (
    DEPTH,
    FILTER,
    FORCE,
    GROUPS,
    TRACE_INPUTS,
    WITH_COUNTERS,
    errors,
    given,
    note,
    refuse_own_inputs,
)
from roofprof.errors import UsageError

ENGINE = click.option(
    "--engine", type=click.Choice(["auto", "duckdb", "pandas"]),
    help="How a dataset folder is plotted: duckdb (out of core: the groups by summary's own "
         "query; as points at most 20,000 kernels, the longest launches of each kernel in "
         "each group, as the legend says) or pandas (in memory, every kernel); auto: duckdb "
         "where it can (not with --depth, --filter, --rules, --model or --by kernel). "
         f"[default: {defaults.ENGINE}]")


def levels_of(text: str | None) -> tuple[str, ...] | None:
    """``--level dram,l2``: the levels named (None: not given)."""
    if text is None:
        return None
    names = tuple(v.strip().lower() for v in text.split(",") if v.strip())
    if not names:
        raise UsageError("--level needs at least one of dram, l2, l1")
    return names


@click.command()
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="OUT.png, OUT.svg, OUT.pdf (static) or OUT.html (interactive, offline). "
                   "[default: NAME_roofline.png beside the first trace's name, here]")
@click.option("--by", metavar="|".join(GROUPS),
              help="Colour kernels by this group; several joined by commas (op,phase) colour "
                   "each combination. By range unless given: the NVTX tree, as summary "
                   f"shows it. [default: {defaults.BY}; {defaults.BY_SWEEP} with "
                   f"--sweep; {defaults.BY_SEVERAL} for several files]")
@click.option("--sweep", is_flag=True,
              help="Several traces (e.g. batch sizes) on one roofline: one aggregate point "
                   "per trace and group, joined by arrows in the order given (a quoted glob "
                   "is one trace: its files together).")
@click.option("--level", "--levels", "levels", metavar="dram[,l2,l1]",
              help="Memory level(s) to draw; several draw each kernel at each level, joined. "
                   f"[default: {defaults.LEVEL}]")
@DEPTH
@FILTER
@WITH_COUNTERS
@click.option("--title", help="Title (default: GPU name and source).")
@click.option("--labels", "label_top", type=click.IntRange(min=0),
              help="Label the N kernel names with the most GPU time. "
                   f"[default: {defaults.LABELS}]")
@FORCE
@TRACE_INPUTS
@ENGINE
def plot(traces: tuple[Path, ...], output: Path | None, by: str | None, sweep: bool,
         levels: str | None, depth: int | None, filter_: str | None, with_counters: bool,
         title: str | None, label_top: int | None, force: bool, input_format: str | None,
         rules: Path | None, strict: bool, reader: str | None, where: str | None,
         engine: str | None, model_spec: str | None, **run: Any) -> None:
    """Draw the measured roofline of TRACE (.parquet, .ncu-rep, .csv, a dataset folder or a
    quoted glob of them: several files are coloured by file unless --by says otherwise).

    \b
    Examples:  roofprof plot run.parquet                  (writes run_roofline.png)
               roofprof plot run.parquet -o roofline.html --level dram,l2,l1
               roofprof plot run.parquet -o ops.png --by op,phase
               roofprof plot --sweep b1.parquet b4.parquet b16.parquet -o sweep.png
               roofprof plot run.parquet --model config.json --batch 2 --prompt 1024
    """
    with errors():
        from roofprof.app.plot import default_output
        from roofprof.app.plot import plot as draw
        from roofprof.views.chart import check_output, write_scene

        output = output or default_output(traces, sweep)
        refuse_own_inputs(click.get_current_context().params, [output])  # the default name too
        check_output(output)
        scene = draw(list(traces), by=by, sweep=sweep, levels=levels_of(levels), depth=depth,
                     filter=filter_, with_counters=with_counters, title=title,
                     label_top=label_top, model=model_spec, input_format=input_format,
                     rules=rules, strict=strict, reader=reader, where=where, engine=engine,
                     **given(run))
        note(f"wrote {write_scene(scene, output)}")
