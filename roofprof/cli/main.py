"""The ``roofprof`` command group: every command of :mod:`roofprof.cli`'s modules."""

from __future__ import annotations

import warnings

import click

from roofprof.cli.capture import record, trace
from roofprof.cli.compare import diff, whatif
from roofprof.cli.convert import convert, join
from roofprof.cli.latency import latency
from roofprof.cli.model import gpus, model
from roofprof.cli.plot import plot
from roofprof.cli.ranks import ranks
from roofprof.cli.report import report
from roofprof.cli.summary import summary
from roofprof.version import __version__

# NVIDIA's SWIG-generated ncu_report module makes Python warn at interpreter exit
warnings.filterwarnings("ignore", message="builtin type swigvarlink", category=DeprecationWarning)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roofprof")
def main() -> None:
    """Measured rooflines from Nsight Compute: record, convert, summarise and plot GPU kernels."""


for command in (record, convert, summary, plot, gpus, model, whatif, diff, trace, join, latency,
                report, ranks):
    main.add_command(command)
