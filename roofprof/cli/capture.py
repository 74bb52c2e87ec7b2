"""``roofprof record`` and ``roofprof trace``: run a program under Nsight Compute or the CUPTI
tracer (:mod:`roofprof.app.capture`), with a live status line on a terminal."""

from __future__ import annotations

import shlex
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from roofprof.app import defaults
from roofprof.cli.common import errors, note

if TYPE_CHECKING:
    from roofprof.capture.record import Progress


class StatusLine:
    """A one-line live status on a terminal's stderr, kept below the program's own output."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.text = ""
        self.lock = threading.Lock()

    def show(self, text: str) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.text = text
            sys.stderr.write("\r\x1b[K" + text[: _width()])
            sys.stderr.flush()

    def forward(self, text: str, is_err: bool) -> None:
        with self.lock:
            if self.enabled and self.text:
                sys.stderr.write("\r\x1b[K")
                sys.stderr.flush()
            stream = sys.stderr if is_err else sys.stdout
            stream.write(text)
            stream.flush()
            if self.enabled and self.text:
                sys.stderr.write(self.text[: _width()])
                sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled and self.text:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.text = ""


def _width() -> int:
    return max(20, shutil.get_terminal_size((100, 20)).columns - 1)


class Printer:
    """The capture's notes on stderr (below the status line, which they clear), the join's
    report on stdout."""

    def __init__(self, status: StatusLine | None = None) -> None:
        self.status = status

    def note(self, text: str) -> None:
        if self.status is not None:
            self.status.clear()
        note(text)

    def warn(self, text: str) -> None:
        note(f"warning: {text}")

    def joined(self, facts: dict[str, Any]) -> None:
        from roofprof.views.join import format_report

        click.echo(format_report(facts), nl=False)


# options end at the program's name: in `record -o t python train.py -f x`, -f is train.py's
@click.command(context_settings={"ignore_unknown_options": False,
                                 "allow_interspersed_args": False})
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Name of the outputs: NAME.ncu-rep (kept) and NAME.parquet.")
@click.option("--range", "ranges", multiple=True, metavar="NAME",
              help="Profile only kernels inside this NVTX push/pop range (repeatable).")
@click.option("--exclude-range", "exclude_ranges", multiple=True, metavar="NAME",
              help="Skip kernels inside this NVTX push/pop range (repeatable).")
@click.option("--kernel", metavar="REGEX", help="Profile only kernels whose name matches.")
@click.option("--skip", type=click.IntRange(min=0), help="Skip the first N matching launches.")
@click.option("--count", type=click.IntRange(min=1), help="Profile at most N launches.")
@click.option("--per-config", type=click.IntRange(min=1), metavar="N",
              help="Profile each distinct launch configuration N times.")
@click.option("--device", metavar="IDS", help="Profile only these GPUs (ncu --devices).")
@click.option("--nvtx-scope", type=click.Choice(["thread", "process"]),
              help="Whether push/pop ranges are per thread or per process. [default: thread]")
@click.option("--clock-control", type=click.Choice(["none", "base"]),
              help="none: the GPU runs at the clocks it would choose (what production sees); "
                   "base: ncu locks base clocks (repeatable numbers, slower than production). "
                   "[default: none]")
@click.option("--cache-control", type=click.Choice(["all", "none"]),
              help="all: flush caches before each replay pass. [default: all]")
@click.option("--replay-mode", type=click.Choice(["kernel", "application", "range", "app-range"]),
              help="[default: kernel]")
@click.option("--include-nccl", is_flag=True,
              help="Also profile NCCL kernels (left out by default: they can hang under ncu).")
@click.option("--import-sass", is_flag=True,
              help="Embed kernel binaries in the report (for ncu's source view; large).")
@click.option("--chip", help="Build the metric set for this chip (ncu --list-chips) instead of "
                             "the local GPU.")
@click.option("--ncu", "ncu_path", metavar="PATH", help="The ncu binary to use.")
@click.option("--ncu-args", metavar="ARGS",
              help="Extra arguments passed to ncu as they are (quote them as one string).")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("--no-convert", is_flag=True, help="Keep only the .ncu-rep; do not write Parquet.")
@click.option("--dry-run", is_flag=True, help="Print the ncu command line and exit.")
@click.option("-q", "--quiet", is_flag=True, help="No live status line.")
@click.option("--sample", type=click.IntRange(min=1), metavar="N",
              help="Production mode: profile each launch configuration N times (as "
                   "--per-config N), then run the program again with every launch timed "
                   "(roofprof trace) and join: NAME.timing.parquet, NAME.joined.parquet.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def record(output: Path, ranges: tuple[str, ...], exclude_ranges: tuple[str, ...],
           kernel: str | None, skip: int | None, count: int | None, per_config: int | None,
           device: str | None, nvtx_scope: str | None, clock_control: str | None,
           cache_control: str | None, replay_mode: str | None, include_nccl: bool,
           import_sass: bool, chip: str | None, ncu_path: str | None, ncu_args: str | None,
           force: bool, no_convert: bool, dry_run: bool, quiet: bool, sample: int | None,
           command: tuple[str, ...]) -> None:
    """Run COMMAND under Nsight Compute and write a roofline trace.

    \b
    Example:  roofprof record -o decode --range decode --per-config 1 -- python serve.py
    """
    with errors():
        from roofprof.app.capture import record as run_record

        status = StatusLine(enabled=not quiet and not dry_run and sys.stderr.isatty())

        def on_progress(p: Progress) -> None:
            status.show(f"roofprof: {p.kernels} kernels profiled, {p.passes} passes, "
                        f"{p.elapsed:.0f} s | {p.current}")

        try:
            argv = run_record(command, output, sample=sample, no_convert=no_convert,
                              dry_run=dry_run, reporter=Printer(status),
                              forward=status.forward, on_progress=on_progress, ranges=ranges,
                              exclude_ranges=exclude_ranges, kernel=kernel, skip=skip,
                              count=count, per_config=per_config, device=device,
                              nvtx_scope=nvtx_scope, clock_control=clock_control,
                              cache_control=cache_control, replay_mode=replay_mode,
                              include_nccl=include_nccl, import_sass=import_sass, chip=chip,
                              ncu=ncu_path, ncu_args=shlex.split(ncu_args or ""), force=force)
        finally:  # the status line goes before the last words, an error's too
            status.clear()
        if dry_run:
            click.echo(shlex.join(argv))


@click.command(context_settings={"ignore_unknown_options": False,
                                 "allow_interspersed_args": False})
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The timing table to write: NAME.parquet.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--graph-nodes", type=click.Choice(["all", "none"]),
              help="CUDA graph replays: all = every kernel node of every replay timed (CUPTI's "
                   "record per node costs a CUDA-graph decode loop 26-48%); none = each replay "
                   "timed as a whole, one row with the ranges of its launch, its kernels "
                   "unknown (costs it 7-16%): for latency and phase totals of long runs. "
                   f"[default: {defaults.GRAPH_NODES}]")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def trace(output: Path, force: bool, graph_nodes: str | None, command: tuple[str, ...]) -> None:
    """Run a Python COMMAND with every kernel launch timed by CUPTI (no counters: far cheaper
    than ncu, not free; see BENCHMARKS.md); write its timing table. Needs `pip install
    roofprof[trace]`.

    \b
    Example:  roofprof trace -o run -- python serve.py
              roofprof join run.parquet counters.parquet -o joined.parquet
    """
    with errors():
        from roofprof.app.capture import trace as run_trace

        run_trace(command, output, force=force, graph_nodes=graph_nodes, reporter=Printer())
