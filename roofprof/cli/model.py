"""``roofprof model`` and ``roofprof gpus``: the analytic model (:mod:`roofprof.app.model`) and
the GPU catalog (:mod:`roofprof.app.gpus`) as tables, JSON or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roofprof.app import defaults
from roofprof.cli.common import FORCE, FORMAT, MODEL_RUN, WHERE, emit, errors, format_of, given


@click.command("model")
@click.argument("spec", metavar="MODEL")
@click.option("--gpu", metavar="NAME", help="Time each op at this catalog GPU's roofs.")
@click.option("--trace", type=click.Path(path_type=Path), metavar="TRACE",
              help="Time at TRACE's measured roofs instead, and compare with its kernels "
                   "(measured/model ratios per op and phase).")
@WHERE
@click.option("--phase", "phases", multiple=True,
              type=click.Choice(["prefill", "decode", "spec"]),
              help="Phases to model (repeatable; default all three).")
@MODEL_RUN
@FORMAT
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
@FORCE
def model(spec: str, gpu: str | None, trace: Path | None, where: str | None,
          phases: tuple[str, ...], fmt: str | None, output: Path | None, force: bool,
          **run: Any) -> None:
    """Analytic estimate of a decoder transformer (a preset or a config.json): per op and
    phase, FLOPs, weight/KV/activation bytes, intensity and time at a GPU's roofs.

    \b
    Examples:  roofprof model Llama-3-8B --gpu H100 --batch 32 --prompt 1024
               roofprof model path/to/config.json --gpu T4 --weight-dtype int4 \\
                   --group-size 128 --act-dtype fp16 --phase decode
               roofprof model config.json --trace run.parquet --batch 2 --prompt 1024
    """
    with errors():
        from roofprof.app.model import model as estimate
        from roofprof.tables.files import check_destination
        from roofprof.views import tables
        from roofprof.views.model import estimate_title, format_compare, format_estimate

        if output is not None:  # not over an input (cli.common.errors), nor into a folder
            check_destination(output)
        result = estimate(spec, gpu=gpu, trace=trace, where=where, phases=phases, **given(run))
        fmt = format_of(fmt, output)
        if fmt != "table":
            text = tables.to_json(result.table) if fmt == "json" else tables.to_csv(result.table)
        elif result.totals is None:
            text = format_compare(result.table)
        else:
            text = format_estimate(result.table, result.totals,
                                   estimate_title(result.arch, result.options, result.roofs))
        emit(text, output, fmt)


@click.command()
@click.argument("name", required=False)
@click.option("--check", "check", type=click.Path(path_type=Path), metavar="TRACE",
              help="Compare TRACE's measured peaks with the catalog entry of its GPU (or of "
                   "NAME).")
@click.option("--tolerance", type=click.FloatRange(min=0),
              help="With --check: relative difference reported as a disagreement. "
                   f"[default: {defaults.TOLERANCE}]")
@WHERE
@FORMAT
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
@FORCE
def gpus(name: str | None, check: Path | None, tolerance: float | None, where: str | None,
         fmt: str | None, output: Path | None, force: bool) -> None:
    """The GPU catalog: datasheet peaks per precision (dense; sparse beside), memory bandwidth
    and size, L2, SMs, boost clock and the source of every number.

    \b
    Examples:  roofprof gpus
               roofprof gpus H100-SXM5-80GB
               roofprof gpus --check fixtures/llama_annotated.ncu-rep
    """
    with errors():
        from roofprof.app.gpus import gpus as catalog
        from roofprof.tables.files import check_destination
        from roofprof.views import catalog as view
        from roofprof.views import tables

        if output is not None:  # not over an input (cli.common.errors), nor into a folder
            check_destination(output)
        fmt = format_of(fmt, output)
        result = catalog(name, check=check, tolerance=tolerance, where=where)
        if fmt == "csv":
            text = tables.to_csv(result.table)
        elif fmt == "json":
            text = view.entry_json(result.gpu) if result.gpu else tables.to_json(result.table)
        elif result.check:
            text = view.format_check(result.table)
        else:
            text = view.format_entry(result.gpu) if result.gpu else view.format_catalog()
        emit(text, output, fmt)
