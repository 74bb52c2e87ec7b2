"""``roofprof whatif`` and ``roofprof diff``: a trace projected onto another GPU
(:mod:`roofprof.app.whatif`) and two runs compared, with a gate for CI
(:mod:`roofprof.app.diff`)."""

from __future__ import annotations

from pathlib import Path

import click

from roofprof.app import defaults
from roofprof.cli.common import COMPARED_BY, FORCE, FORMAT, RULES, WHERE, emit, errors, format_of
from roofprof.errors import RoofprofError


@click.command()
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("--gpu", required=True, metavar="NAME",
              help="The catalog GPU to project onto (`roofprof gpus` lists them).")
@click.option("--by", help="Group by this kernel-table column (phase, op, range, kernel, ...). "
                           f"{COMPARED_BY} [default: {defaults.BY_COMPARE}]")
@click.option("--peaks", type=click.Choice(["ratio", "datasheet"]),
              help="Target ceilings: measured peaks x datasheet ratio target/source (default "
                   "where the trace's GPU is in the catalog), or the target's datasheet.")
@click.option("--against", type=click.Path(path_type=Path), metavar="TRACE",
              help="A recording of the same workload on the target GPU: adds its measured "
                   "time per group and the projection's error.")
@RULES
@WHERE
@FORMAT
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
@FORCE
def whatif(trace: Path, gpu: str, by: str | None, peaks: str | None, against: Path | None,
           rules: Path | None, where: str | None, fmt: str | None,
           output: Path | None, force: bool) -> None:
    """Project TRACE's measured kernels onto another GPU's roofs: per group, the time if each
    kernel keeps its measured fraction of the roof, and at 100% of the roof (projections,
    not measurements).

    \b
    Examples:  roofprof whatif run.parquet --gpu H200
               roofprof whatif run.parquet --gpu A100-SXM4-80GB --by op
               roofprof whatif h100.parquet --gpu H200 --against h200.parquet
    """
    with errors():
        from roofprof.app.whatif import whatif as project
        from roofprof.views import tables
        from roofprof.views.whatif import format_whatif

        result = project(trace, gpu, by=by, peaks=peaks, against=against, rules=rules,
                         where=where)
        fmt = format_of(fmt, output)
        text = (format_whatif(result.table, result.source, result.target, result.peaks)
                if fmt == "table" else tables.to_json(result.table) if fmt == "json"
                else tables.to_csv(result.table))
        emit(text, output, fmt, (trace, against, rules))


@click.command("diff")
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--by", help="Match groups by this column (phase, op, range, category, kernel, "
                           f"...). {COMPARED_BY} [default: {defaults.BY_COMPARE}]")
@click.option("--repeat-a", "repeat_a", multiple=True, type=click.Path(path_type=Path),
              metavar="TRACE", help="A repeat run of A (repeatable): times are medians, "
                                    "and a change within the runs' spread is noise.")
@click.option("--repeat-b", "repeat_b", multiple=True, type=click.Path(path_type=Path),
              metavar="TRACE", help="A repeat run of B (repeatable).")
@click.option("--noise", metavar="PCT",
              help="Changes smaller than PCT percent are noise (a floor under the spread). "
                   f"[default: {defaults.NOISE_PCT:g}]")
@click.option("--fail-if-slower", "fail_if_slower", metavar="PCT",
              help="Exit 1 when B is PCT percent or more slower than A, beyond the noise.")
@click.option("--gate", type=click.Choice(["total", "group"]),
              help="With --fail-if-slower: the total time, or any group. "
                   f"[default: {defaults.GATE}]")
@click.option("--kernels", type=click.IntRange(min=0),
              help="Also list the N kernels whose time changed most. "
                   f"[default: {defaults.DIFF_KERNELS}]")
@RULES
@WHERE
@FORMAT
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
@click.option("--plot", "plot_out", type=click.Path(path_type=Path), metavar="FILE",
              help="Also draw each group's move from A to B on the roofline (an arrow per "
                   "group: the sweep plot of A and B), as .png/.svg/.pdf/.html.")
@FORCE
def diff(a: Path, b: Path, by: str | None, repeat_a: tuple[Path, ...],
         repeat_b: tuple[Path, ...], noise: str | None, fail_if_slower: str | None,
         gate: str | None, kernels: int | None, rules: Path | None, where: str | None,
         fmt: str | None, output: Path | None, plot_out: Path | None, force: bool) -> None:
    """Compare run B with baseline A: per group, time, work, bytes, intensity and % of roof,
    and their changes; an exit code for CI.

    \b
    Examples:  roofprof diff main.parquet pr.parquet --by op
               roofprof diff a1.parquet b1.parquet --repeat-a a2.parquet --repeat-b b2.parquet
               roofprof diff main.parquet pr.parquet --fail-if-slower 5%
               roofprof diff main.parquet pr.parquet --by op --plot moves.png
    """
    with errors():
        from roofprof.app.diff import diff as compare
        from roofprof.tables.files import refuse_inputs
        from roofprof.views import tables
        from roofprof.views.chart import check_output
        from roofprof.views.diff import format_diff

        if plot_out is not None:
            refuse_inputs(plot_out, [a, b, *repeat_a, *repeat_b, rules])
            check_output(plot_out)
        result = compare(a, b, by=by, repeat_a=repeat_a, repeat_b=repeat_b, noise=noise,
                         fail_if_slower=fail_if_slower, gate=gate, kernels=kernels,
                         rules=rules, where=where, moves=plot_out is not None)
        fmt = format_of(fmt, output)
        text = (format_diff(result.table, result.kernels) if fmt == "table"
                else tables.to_json(result.table) if fmt == "json"
                else tables.to_csv(result.table))
        # the table and the plot as one set: both written, or neither
        emit(text, output, fmt, figures={plot_out: result.moves}
             if plot_out is not None and result.moves is not None else None)
        if result.failure is not None:
            raise RoofprofError(result.failure)
