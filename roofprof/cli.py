"""The ``roofprof`` command line: glue only.

Each command parses its options, calls one library function, renders the result and maps
:class:`~roofprof.errors.RoofprofError` to one line on stderr and its exit code. This is the only
module that imports click.
"""

from __future__ import annotations

import shlex
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from roofprof import __version__
from roofprof.errors import OutputError, RoofprofError, UsageError

# NVIDIA's SWIG-generated ncu_report module makes Python warn at interpreter exit
warnings.filterwarnings("ignore", message="builtin type swigvarlink", category=DeprecationWarning)


def _fail(message: str, code: int) -> None:
    click.echo(f"roofprof: error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """One clear line per error and warning; never a traceback for the user's input."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except RoofprofError as exc:
            _flush_warnings(caught)
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _flush_warnings(caught)
            _fail("interrupted", 130)
        _flush_warnings(caught)


def _flush_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    for w in caught:
        text = str(w.message)
        if text not in seen:
            seen.add(text)
            click.echo(f"roofprof: warning: {text}", err=True)
    caught.clear()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roofprof")
def main() -> None:
    """Measured rooflines from Nsight Compute: record, convert, summarise and plot GPU kernels."""


# ----------------------------------------------------------------------------------- record


class _StatusLine:
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


def _width() -> int:
    import shutil

    return max(20, shutil.get_terminal_size((100, 20)).columns - 1)


# options end at the program's name: in `record -o t python train.py -f x`, -f is train.py's
@main.command(context_settings={"ignore_unknown_options": False,
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
@click.option("--nvtx-scope", type=click.Choice(["thread", "process"]), default="thread",
              show_default=True, help="Whether push/pop ranges are per thread or per process.")
@click.option("--clock-control", type=click.Choice(["none", "base"]), default="none",
              show_default=True,
              help="none: the GPU runs at the clocks it would choose (what production sees); "
                   "base: ncu locks base clocks (repeatable numbers, slower than production).")
@click.option("--cache-control", type=click.Choice(["all", "none"]), default="all",
              show_default=True, help="all: flush caches before each replay pass.")
@click.option("--replay-mode", type=click.Choice(["kernel", "application", "range", "app-range"]),
              default="kernel", show_default=True)
@click.option("--include-nccl", is_flag=True,
              help="Also profile NCCL kernels (left out by default: they can hang under ncu).")
@click.option("--import-sass", is_flag=True,
              help="Embed kernel binaries in the report (for ncu's source view; large).")
@click.option("--chip", help="Build the metric set for this chip (ncu --list-chips) instead of "
                             "the local GPU.")
@click.option("--ncu", "ncu_path", metavar="PATH", help="The ncu binary to use.")
@click.option("--ncu-args", metavar="ARGS", default="",
              help="Extra arguments passed to ncu as they are (quote them as one string).")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("--no-convert", is_flag=True, help="Keep only the .ncu-rep; do not write Parquet.")
@click.option("--dry-run", is_flag=True, help="Print the ncu command line and exit.")
@click.option("-q", "--quiet", is_flag=True, help="No live status line.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def record(output: Path, ranges: tuple[str, ...], exclude_ranges: tuple[str, ...],
           kernel: str | None, skip: int | None, count: int | None, per_config: int | None,
           device: str | None, nvtx_scope: Any, clock_control: Any, cache_control: Any,
           replay_mode: Any, include_nccl: bool, import_sass: bool, chip: str | None,
           ncu_path: str | None,
           ncu_args: str, force: bool, no_convert: bool, dry_run: bool, quiet: bool,
           command: tuple[str, ...]) -> None:
    """Run COMMAND under Nsight Compute and write a roofline trace.

    \b
    Example:  roofprof record -o decode --range decode --per-config 1 -- python serve.py
    """
    from roofprof import record as rec

    opts = rec.RecordOptions(
        command=command, output=output, ncu=ncu_path, ranges=ranges,
        exclude_ranges=exclude_ranges, kernel=kernel, skip=skip, count=count,
        per_config=per_config, device=device, nvtx_scope=nvtx_scope,
        clock_control=clock_control, cache_control=cache_control, replay_mode=replay_mode,
        include_nccl=include_nccl, import_sass=import_sass, force=force, chip=chip,
        ncu_args=shlex.split(ncu_args),
    )
    with _errors():
        _ncu, argv = rec.prepare(opts, dry_run=dry_run)
        if dry_run:
            click.echo(shlex.join(argv))
            return
        if not include_nccl:
            click.echo("roofprof: NCCL kernels are left out (they can hang under ncu); "
                       "--include-nccl profiles them", err=True)
        status = _StatusLine(enabled=not quiet and sys.stderr.isatty())

        def on_progress(p: rec.Progress) -> None:
            status.show(f"roofprof: {p.kernels} kernels profiled, {p.passes} passes, "
                        f"{p.elapsed:.0f} s | {p.current}")

        result = rec.run_ncu(argv, rec.report_path(output), forward=status.forward,
                             on_progress=on_progress)
        status.clear()
        problem = rec.diagnose(result, opts)
        if problem is not None:
            if result.program_failed and not result.report.exists():
                click.echo(f"roofprof: the program exited with code {result.returncode}",
                           err=True)
            raise problem
        click.echo(f"roofprof: {result.kernels} kernels profiled -> {result.report}", err=True)
        if not no_convert:
            from roofprof.trace import convert

            parquet = rec.parquet_path(output)
            trace = convert([result.report], parquet, command=list(command),
                            record_argv=result.argv)
            click.echo(f"roofprof: wrote {parquet} ({len(trace.kernels)} kernels)", err=True)
        if result.interrupted:
            _fail("interrupted; kept what ncu profiled before the interrupt", 130)
        if result.returncode:
            who = "the program" if result.program_failed else "ncu"
            _fail(f"{who} exited with code {result.returncode}", result.returncode)


# ---------------------------------------------------------------------------------- convert


def _reader_options(f: Any) -> Any:
    """--reader and --strict: how .ncu-rep inputs are read (see parsers.ncu_rep)."""
    f = click.option("--strict", is_flag=True,
                     help="A cut report is an error instead of a warning (its complete kernels "
                          "are kept otherwise).")(f)
    return click.option("--reader", type=click.Choice(["roofprof", "ncu-report"]),
                        default="roofprof", show_default=True,
                        help="Read .ncu-rep reports with roofprof's own decoder or NVIDIA's "
                             "ncu_report library (the reference; reads format versions "
                             "roofprof's decoder does not know).")(f)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The Parquet trace to write (.parquet).")
@click.option("--format", "fmt", type=click.Choice(["ncu-rep", "ncu-csv"]),
              help="Read every input as this format instead of detecting it.")
@click.option("--rules", type=click.Path(path_type=Path), metavar="FILE",
              help="A TOML file of attribution rules (phase, category, op) tried before the "
                   "built-in ones; the trace stores what they give.")
@_reader_options
def convert(inputs: tuple[Path, ...], output: Path, fmt: str | None,
            rules: Path | None, reader: str, strict: bool) -> None:
    """Convert Nsight Compute reports or CSV exports into one Parquet trace.

    \b
    Example:  roofprof convert run1.ncu-rep run2.csv -o trace.parquet
    """
    from roofprof.trace import convert as convert_files

    with _errors():
        if output.suffix != ".parquet":
            raise UsageError(f"{output}: the output must be a .parquet file")
        trace = convert_files(list(inputs), output, format=fmt, rules=rules, reader=reader,
                              strict=strict)
        formats = ", ".join(sorted(set(trace.meta["formats"])))
        click.echo(f"roofprof: wrote {output}: {len(trace.kernels)} kernels from "
                   f"{len(inputs)} input(s) ({formats})", err=True)


# ----------------------------------------------------------------------------- summary

_GROUPS = ["range", "kernel", "device", "phase", "category", "op"]


@main.command()
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("--by", default="range", show_default=True, metavar="|".join(_GROUPS),
              help="Group kernels by NVTX range, kernel name, device, LLM phase, operator "
                   "category, model op, or any column; several joined by commas "
                   "(op,phase) group by each combination.")
@click.option("--level", type=click.Choice(["dram", "l2", "l1"]), default="dram",
              show_default=True, help="Memory level whose traffic and bandwidth set the roof.")
@click.option("--depth", type=click.IntRange(min=1), metavar="N",
              help="With --by range: group by the first N levels of the NVTX path.")
@click.option("--top", type=click.IntRange(min=1), metavar="N",
              help="Show only the N groups with the most GPU time.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None,
              help="Output format (default: table, or from the -o suffix).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write to FILE instead of stdout (.json/.csv pick the format).")
@click.option("--rules", type=click.Path(path_type=Path), metavar="FILE",
              help="A TOML file of attribution rules (phase, category, op) tried before the "
                   "built-in ones.")
@_reader_options
def summary(trace: Path, by: str, level: str, depth: int | None, top: int | None,
            fmt: str | None, output: Path | None, rules: Path | None, reader: str,
            strict: bool) -> None:
    """Measured roofline numbers per group: AI, FLOP/s and % of peak, bytes/s and % of peak
    bandwidth, % of roof, bound, headroom.

    \b
    Examples:  roofprof summary run.parquet --by range --depth 2 --top 10
               roofprof summary run.parquet --by phase
               roofprof summary run.parquet --by op,phase
    """
    with _errors():
        from roofprof import roofline
        from roofprof.trace import load

        if fmt is None:
            fmt = {".json": "json", ".csv": "csv"}.get(output.suffix.lower(), "table") \
                if output else "table"
        loaded = load(trace, rules=rules, reader=reader, strict=strict)
        table = roofline.summarize(loaded, by=by, level=level, depth=depth, top=top)
        text = {"table": roofline.format_table, "json": roofline.to_json,
                "csv": roofline.to_csv}[fmt](table)
        if output is None:
            click.echo(text, nl=False)
        else:
            try:
                output.write_text(text)
            except OSError as exc:
                raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None
            click.echo(f"roofprof: wrote {output} ({len(table)} groups)", err=True)


# -------------------------------------------------------------------------------- plot


@main.command()
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="OUT.png, OUT.svg, OUT.pdf (static) or OUT.html (interactive, offline).")
@click.option("--by", default=None, metavar="|".join(_GROUPS),
              help="Colour kernels by this group; several joined by commas (op,phase) colour "
                   "each combination. [default: range; phase with --sweep]")
@click.option("--sweep", is_flag=True,
              help="Several traces (e.g. batch sizes) on one roofline: one aggregate point "
                   "per trace and group, joined by arrows in the order given.")
@click.option("--rules", type=click.Path(path_type=Path), metavar="FILE",
              help="A TOML file of attribution rules tried before the built-in ones.")
@click.option("--levels", default="dram", show_default=True, metavar="dram,l2,l1",
              help="Memory levels to draw; several draw each kernel at each level, joined.")
@click.option("--depth", type=click.IntRange(min=1), metavar="N",
              help="With --by range: colour by the first N levels of the NVTX path.")
@click.option("--filter", "filter_", metavar="REGEX",
              help="Keep kernels whose name, NVTX range, phase, category or op matches "
                   "REGEX (e.g. '^(qkv|o|gate|up|down)_proj$|^attention$').")
@click.option("--title", help="Title (default: GPU name and source).")
@click.option("--labels", "label_top", type=click.IntRange(min=0), default=5,
              show_default=True, help="Label the N kernel names with the most GPU time.")
@_reader_options
def plot(traces: tuple[Path, ...], output: Path, by: str | None, sweep: bool,
         rules: Path | None, levels: str, depth: int | None, filter_: str | None,
         title: str | None, label_top: int, reader: str, strict: bool) -> None:
    """Draw the measured roofline of TRACE (.parquet, .ncu-rep or .csv).

    \b
    Examples:  roofprof plot run.parquet -o roofline.png --levels dram,l2,l1
               roofprof plot run.parquet -o ops.png --by op,phase
               roofprof plot --sweep b1.parquet b4.parquet b16.parquet -o sweep.png
    """
    with _errors():
        from roofprof.chart import write as write_plot
        from roofprof.chart import write_sweep
        from roofprof.trace import load

        names = tuple(v.strip().lower() for v in levels.split(",") if v.strip())
        if sweep:
            if len(traces) < 2:
                raise UsageError("--sweep needs at least two traces")
            loaded = [load(t, rules=rules, reader=reader, strict=strict) for t in traces]
            out = write_sweep(loaded, output, labels=None, by=by or "phase", levels=names,
                              depth=depth, filter=filter_, title=title)
        else:
            if len(traces) > 1:
                raise UsageError(f"{len(traces)} traces given: plot one, or several with "
                                 "--sweep")
            one = load(traces[0], rules=rules, reader=reader, strict=strict)
            out = write_plot(one, output, by=by or "range", levels=names, depth=depth,
                             filter=filter_, title=title, label_top=label_top)
        click.echo(f"roofprof: wrote {out}", err=True)
