"""The ``roofprof`` command line: glue only.

Each command parses its options, calls one library function, renders the result and maps
:class:`~roofprof.errors.RoofprofError` to one line on stderr and its exit code. This is the only
module that imports click.
"""

from __future__ import annotations

import json
import shlex
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from roofprof import __version__
from roofprof.errors import RoofprofError, RoofprofWarning, UsageError

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
@click.option("--sample", type=click.IntRange(min=1), metavar="N",
              help="Production mode: profile each launch configuration N times (as "
                   "--per-config N), then run the program again with every launch timed "
                   "(roofprof trace) and join: NAME.timing.parquet, NAME.joined.parquet.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def record(output: Path, ranges: tuple[str, ...], exclude_ranges: tuple[str, ...],
           kernel: str | None, skip: int | None, count: int | None, per_config: int | None,
           device: str | None, nvtx_scope: Any, clock_control: Any, cache_control: Any,
           replay_mode: Any, include_nccl: bool, import_sass: bool, chip: str | None,
           ncu_path: str | None,
           ncu_args: str, force: bool, no_convert: bool, dry_run: bool, quiet: bool,
           sample: int | None, command: tuple[str, ...]) -> None:
    """Run COMMAND under Nsight Compute and write a roofline trace.

    \b
    Example:  roofprof record -o decode --range decode --per-config 1 -- python serve.py
    """
    from roofprof.capture import ncu_command as cmd
    from roofprof.capture import record as rec

    if sample is not None:
        if per_config is not None or count is not None or no_convert:
            _fail("--sample N already sets --per-config N and needs the Parquet trace; drop "
                  "--per-config, --count and --no-convert", 2)
        per_config = sample
    opts = cmd.RecordOptions(
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

        result = rec.run_ncu(argv, cmd.report_path(output), forward=status.forward,
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
            from roofprof.inputs.load import convert

            parquet = cmd.parquet_path(output)
            trace = convert([result.report], parquet, command=list(command),
                            record_argv=result.argv)
            click.echo(f"roofprof: wrote {parquet} ({len(trace.kernels)} kernels)", err=True)
            if sample is not None and not result.interrupted and not result.returncode:
                _timed_join(command, cmd.parquet_path(output), trace, force)
        if result.interrupted:
            _fail("interrupted; kept what ncu profiled before the interrupt", 130)
        if result.returncode:
            who = "the program" if result.program_failed else "ncu"
            _fail(f"{who} exited with code {result.returncode}", result.returncode)


# ---------------------------------------------------------------------------------- convert

_INPUT_FORMAT = click.option(
    "--input-format", "input_format",
    type=click.Choice(["ncu-rep", "ncu-csv", "kineto", "nsys-sqlite", "nsys-rep"]),
    help="Read every input as this format instead of detecting it from its content.")
_STRICT = click.option(
    "--strict", is_flag=True,
    help="Refuse an input with values roofprof would read as null (unreadable, negative, "
         "non-finite), rows it would leave out, or a cut report, instead of warning.")
_READER = click.option(
    "--reader", type=click.Choice(["roofprof", "ncu-report"]), default="roofprof",
    show_default=True,
    help="Read .ncu-rep reports with roofprof's own decoder or NVIDIA's ncu_report library "
         "(the reference; reads format versions roofprof's decoder does not know).")
_RULES = click.option(
    "--rules", type=click.Path(path_type=Path), metavar="FILE",
    help="A TOML file of attribution rules (phase, category, op) tried before the built-in "
         "ones.")


# ------------------------------------------------------------------ datasets
# (roofprof.tables.partitions)


def _DATASET_OPTIONS(f: Any) -> Any:
    for opt in reversed([
        click.option("--dataset", type=click.Path(path_type=Path), metavar="DIR",
                     help="Add the inputs to the partitioned dataset DIR as one new file "
                          "(instead of -o)."),
        click.option("--run", default="default", show_default=True, metavar="NAME",
                     help="With --dataset: the run partition."),
        click.option("--host", default="default", show_default=True, metavar="NAME",
                     help="With --dataset: the host partition (also the file's host "
                          "column)."),
        click.option("--rank", default=None, type=click.IntRange(min=0),
                     metavar="N", help="With --dataset: the rank partition [default: 0]."),
        click.option("--rank-by", type=click.Choice(["device"]),
                     help="With --dataset: one file per CUDA device, each in the rank "
                          "partition of its device (a traced or recorded torchrun run, one "
                          "process per GPU) instead of --rank."),
    ]):
        f = opt(f)
    return f


def _check_where(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--where is parsed (dataset.parse_where) before any input is read: one line if bad."""
    from roofprof.tables.partitions import parse_where

    if value is not None and not ctx.resilient_parsing:
        with _errors():
            parse_where(value)
    return value


#: the one --where of every command that reads traces or datasets
_WHERE = click.option(
    "--where", metavar="EXPR", callback=_check_where,
    help="With a dataset folder (or its files): read only partitions matching EXPR, clauses "
         "on run, host and rank joined by and (\"rank = 3\", \"rank in (0, 1) and run = "
         "'r1'\"); an error for other inputs.")
_ENGINE = click.option(
    "--engine", type=click.Choice(["auto", "duckdb", "spark", "pandas"]), default="auto",
    show_default=True,
    help="How a dataset folder is summarised: duckdb (out of core, reads Parquet directly), "
         "spark (the same query on a local Spark session; pip install 'roofprof[spark]') or "
         "pandas (in memory); auto: duckdb where it can (not with --depth, --filter, "
         "--rules or --by kernel).")


def _convert_to_dataset(inputs: tuple[Path, ...], output: Path | None,
                        input_format: str | None, rules: Path | None, strict: bool,
                        reader: str, dataset: Path | None, run: str, host: str,
                        rank: int | None, rank_by: str | None, where: str | None) -> None:
    from roofprof.datasets.write import append, append_ranks

    with _errors():
        if dataset is None:
            raise UsageError("give -o FILE.parquet or --dataset DIR")
        if output is not None:
            raise UsageError("give -o or --dataset, not both")
        if rank_by is not None:
            if rank is not None:
                raise UsageError("give --rank or --rank-by, not both")
            for n, trace, path in append_ranks(
                    list(inputs), dataset, by=rank_by, run=run, host=host,
                    format=input_format, rules=rules, reader=reader, strict=strict,
                    where=where):
                click.echo(f"roofprof: wrote {path}: rank {n}, {len(trace.kernels)} kernels",
                           err=True)
            return
        trace, path = append(list(inputs), dataset, run=run, host=host, rank=rank or 0,
                             format=input_format, rules=rules, reader=reader, strict=strict,
                             where=where)
        click.echo(f"roofprof: wrote {path}: {len(trace.kernels)} kernels from "
                   f"{len(inputs)} input(s)", err=True)


def _check_catalog(trace: Any) -> None:
    """Measured peaks always win; a GPU the catalog knows whose measured roofs are far from
    its datasheet is reported (one warning each, with the numbers)."""
    from roofprof.analysis.catalog import check_peaks

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is not in the GPU catalog")
        check_peaks(trace.kernels, warn=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="The Parquet trace to write (.parquet).")
@_INPUT_FORMAT
@_RULES
@_STRICT
@_READER
@_DATASET_OPTIONS
@_WHERE
def convert(inputs: tuple[Path, ...], output: Path | None, input_format: str | None,
            rules: Path | None, strict: bool, reader: str, dataset: Path | None,
            run: str, host: str, rank: int | None, rank_by: str | None,
            where: str | None) -> None:
    """Convert Nsight Compute reports or CSV exports (traces, dataset folders, quoted globs)
    into one Parquet trace, or add them to a dataset (--dataset DIR: one new file under
    DIR/run=RUN/host=HOST/rank=N/).

    \b
    Examples:  roofprof convert run1.ncu-rep run2.csv -o trace.parquet
               roofprof convert rank3.ncu-rep --dataset fleet/ --run r1 --host n7 --rank 3
               roofprof convert tp.parquet --dataset fleet/ --run tp --rank-by device
               roofprof convert fleet/ --where "rank = 3" -o rank3.parquet
    """
    from roofprof.inputs.load import convert as convert_files

    if dataset is None and ((run, host) != ("default", "default") or rank is not None
                            or rank_by is not None):
        with _errors():
            raise UsageError("--run, --host, --rank and --rank-by apply with --dataset DIR")
    if dataset is not None or output is None:
        _convert_to_dataset(inputs, output, input_format, rules, strict, reader, dataset,
                            run, host, rank, rank_by, where)
        return
    with _errors():
        if output.suffix != ".parquet":
            raise UsageError(f"{output}: the output must be a .parquet file")
        trace = convert_files(list(inputs), output, format=input_format, rules=rules,
                              reader=reader, strict=strict, where=where)
        formats = ", ".join(sorted(set(trace.meta["formats"])))
        click.echo(f"roofprof: wrote {output}: {len(trace.kernels)} kernels from "
                   f"{len(inputs)} input(s) ({formats})", err=True)


def _load_all(paths: tuple[Path, ...], input_format: str | None, rules: Path | None,
              strict: bool = False, reader: str | None = None, where: str | None = None) -> Any:
    """One trace from one or several inputs or glob patterns (several files: a ``trace``
    column tells them apart, one label per file); a dataset folder is read in memory, its
    partitions picked by ``where``."""
    from roofprof.inputs.load import load_many

    return load_many(paths, format=input_format, rules=rules, strict=strict, reader=reader,
                     where=where)


# ------------------------------------------------- model options (model, summary, plot)

_F = TypeVar("_F", bound=Callable[..., Any])

#: the run an analytic model describes; shared by `model` and `summary`/`plot --model`
_MODEL_OPTIONS = (
    click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True),
    click.option("--prompt", type=click.IntRange(min=1), default=512, show_default=True,
                 help="Prefill tokens per sequence."),
    click.option("--context", type=click.IntRange(min=0),
                 help="Tokens cached before a decode/spec step [default: --prompt]."),
    click.option("--spec-tokens", type=click.IntRange(min=1), default=4, show_default=True,
                 help="Candidates verified per sequence in the spec phase."),
    click.option("--weight-dtype", type=click.Choice(["bf16", "fp16", "fp8", "int8", "int4"]),
                 help="Weights of the projections [default: the config's quantization, else "
                      "bf16]."),
    click.option("--group-size", type=click.IntRange(min=1),
                 help="Quantization group (AWQ/GPTQ: 128): an fp16 scale and a zero per group."),
    click.option("--act-dtype", type=click.Choice(["bf16", "fp16"]), default="bf16",
                 show_default=True),
    click.option("--kv-dtype", type=click.Choice(["bf16", "fp16", "fp8", "int8", "int4"]),
                 help="KV cache [default: --act-dtype]."),
    click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Tensor-parallel degree (numbers are per GPU)."),
    click.option("--attention", type=click.Choice(["fused", "eager"]), default="fused",
                 show_default=True),
    click.option("--traffic", type=click.Choice(["per-op", "fused"]), default="per-op",
                 show_default=True,
                 help="per-op: every op reads and writes its activations (eager); fused: only "
                      "layer input/outputs and the KV cache move (hand-derivation convention)."),
    click.option("--logits", type=click.Choice(["last", "all"]), default="last",
                 show_default=True, help="lm_head on the last token per sequence, or on all."),
    click.option("--non-causal", is_flag=True,
                 help="Count the full attention rectangle (hand-derivation convention)."),
)
_MODEL = click.option(
    "--model", "model_spec", metavar="MODEL",
    help="Put the analytic model (a preset or a config.json, see `roofprof model`) beside the "
         "measurement, timed at the trace's measured roofs; describe the recorded run with "
         "--batch, --prompt, --context, --weight-dtype, ...")


def _model_options(f: _F) -> _F:
    for option in reversed(_MODEL_OPTIONS):
        f = option(f)
    return f


def _optional_model(spec: str | None, run: dict[str, Any]) -> tuple[Any, Any] | None:
    """:func:`_model_of` of ``--model``; None without one (and then no model option may be
    given: it would be ignored)."""
    if spec is not None:
        return _model_of(spec, run)
    ctx = click.get_current_context()
    given = [k for k in run if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')} describes the modelled run: give "
                         "--model MODEL too")
    return None


def _model_of(spec: str, run: dict[str, Any]) -> tuple[Any, Any]:
    """(architecture, options) of MODEL and the model options."""
    from roofprof.analysis import model

    arch = model.architecture(spec)
    weight_dtype = run["weight_dtype"]
    options = model.Options(
        batch=run["batch"], prompt=run["prompt"], context=run["context"],
        spec_tokens=run["spec_tokens"], weight_dtype=weight_dtype or arch.quant_dtype or "bf16",
        group_size=run["group_size"] or (arch.quant_group_size if weight_dtype is None
                                         else None),
        act_dtype=run["act_dtype"], kv_dtype=run["kv_dtype"], tp=run["tp"],
        causal=not run["non_causal"], logits=run["logits"], traffic=run["traffic"],
        attention=run["attention"])
    return arch, options


def _trace_inputs(f: Any) -> Any:
    """How summary and plot read their traces: input format, rules, --strict, --reader, a
    model to set beside them, and --where on dataset folders."""
    for option in (_WHERE, _model_options, _MODEL, _READER, _STRICT, _RULES, _INPUT_FORMAT):
        f = option(f)
    return f


# ----------------------------------------------------------------------------- summary

_GROUPS = ["range", "kernel", "device", "phase", "category", "op", "trace"]
_BY_HELP = ("Group kernels by NVTX range, kernel, device, LLM phase, operator category, model "
            "op, trace (several inputs) or any column; several joined by commas (op,phase) "
            "group by each combination.")
_FILTER = click.option(
    "--filter", "filter_", metavar="REGEX",
    help="Keep kernels whose name, NVTX range, phase, category or op matches REGEX "
         "(e.g. '^(qkv|o|gate|up|down)_proj$|^attention$').")
_WITH_COUNTERS = click.option(
    "--with-counters", is_flag=True,
    help="A joined trace: keep only the launches that have counters (groups holding others, "
         "e.g. NCCL collectives or unsampled kernels, are otherwise unknown); every view says "
         "how much of the time that is.")
_DEPTH = click.option("--depth", type=click.IntRange(min=1), metavar="N",
                      help="With --by range: group by the first N levels of the NVTX path.")


@main.command()
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--by", default=None, metavar="|".join(_GROUPS),
              help=_BY_HELP + " [default: range; op,phase with --model]")
@click.option("--level", type=click.Choice(["dram", "l2", "l1"]), default="dram",
              show_default=True, help="Memory level whose traffic and bandwidth set the roof.")
@_DEPTH
@_FILTER
@_WITH_COUNTERS
@click.option("--top", type=click.IntRange(min=1), metavar="N",
              help="Show only the N groups with the most GPU time.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None,
              help="Output format (default: table, or from the -o suffix).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write to FILE instead of stdout (.json/.csv pick the format).")
@click.option("--wide", is_flag=True, help="Every column and whole group names, whatever the "
                                           "terminal's width.")
@_trace_inputs
@_ENGINE
def summary(traces: tuple[Path, ...], by: str | None, level: str, depth: int | None,
            filter_: str | None, with_counters: bool, top: int | None, fmt: str | None,
            output: Path | None,
            wide: bool, input_format: str | None, rules: Path | None, strict: bool,
            reader: str, where: str | None, engine: str, model_spec: str | None,
            **run: Any) -> None:
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
    with _errors():
        from roofprof.analysis import roofline
        from roofprof.tables.files import refuse_inputs
        from roofprof.views import tables as table

        modelled = _optional_model(model_spec, run)
        if modelled is not None and len(traces) > 1:
            raise UsageError("--model describes one run: give one trace")
        if fmt is None:
            fmt = {".json": "json", ".csv": "csv"}.get(output.suffix.lower(), "table") \
                if output else "table"
        if output is not None:
            refuse_inputs(output, [*traces, rules])
        comparison = None
        counted: list[str] = []
        if modelled is not None:  # the groups (op x phase) gain the model's columns
            from roofprof.analysis.model.compare import fitted, summarize_beside

            trace = _load_all(traces, input_format, rules, strict, reader, where)
            if with_counters:
                from roofprof.analysis.counted import with_counters as keep_counted

                trace = keep_counted(trace)
            modelled = modelled[0], fitted(roofline.table_of(trace), modelled[1])
            result, comparison = summarize_beside(trace, *modelled, by=by, level=level,
                                                  depth=depth, top=top, filter=filter_)
        else:
            from roofprof.app import engine as engines

            folder = engines.out_of_core(engine, traces, engines.in_memory_only(
                [("--depth", depth), ("--filter", filter_), ("--rules", rules),
                 ("--with-counters", with_counters or None)], by))
            if folder is not None:
                meta, result = engines.summarize(folder, engine, by or "range", level, top,
                                                 where)
                trace = SimpleNamespace(meta=meta)
            else:
                trace = _load_all(traces, input_format, rules, strict, reader, where)
                if with_counters:
                    from roofprof.analysis import counted as cnt

                    trace, result, counted = cnt.summarize(
                        trace, by=by or "range", level=level, depth=depth, top=top,
                        filter=filter_)
                else:
                    result = roofline.summarize(trace, by=by or "range", level=level,
                                                depth=depth, top=top, filter=filter_)
                _check_catalog(trace)
        from roofprof.tables.sampling import label

        sampled = label(getattr(trace, "meta", {}))
        if fmt == "table":
            # a terminal gets a table that fits it; a pipe or file gets every column
            tty = output is None and sys.stdout.isatty()
            text = table.format_table(result, wide=wide, width=None if tty else 10_000,
                                      notes=([sampled] if sampled else []) + counted)
            if comparison is not None and modelled is not None:  # the ratios, under it
                from roofprof.analysis.model.view import format_beside

                text += "\n" + format_beside(comparison, *modelled)
        else:
            if sampled:
                warnings.warn(sampled, RoofprofWarning, stacklevel=1)
            text = table.to_json(result) if fmt == "json" else table.to_csv(result)
        _emit(text, output, f"{len(result)} groups")


# -------------------------------------------------------------------------------- plot


def _levels(text: str) -> tuple[str, ...]:
    names = tuple(v.strip().lower() for v in text.split(",") if v.strip())
    if not names:
        raise UsageError("--level needs at least one of dram, l2, l1")
    return names


_PLOT_ENGINE = click.option(
    "--engine", type=click.Choice(["auto", "duckdb", "pandas"]), default="auto",
    show_default=True,
    help="How a dataset folder is plotted: duckdb (out of core: the groups by summary's own "
         "query; as points at most 20,000 kernels, the longest launches of each kernel in "
         "each group, as the legend says) or pandas (in memory, every kernel); auto: duckdb "
         "where it can (not with --depth, --filter, --rules, --model or --by kernel).")


def _plot_dataset(traces: tuple[Path, ...], output: Path, engine: str, by: str | None,
                  levels: tuple[str, ...], where: str | None, title: str | None,
                  label_top: int, options: list[tuple[str, Any]]) -> Path | None:
    """Plot one dataset folder out of core and return the file written; None when the
    in-memory path is to run (``options``: the in-memory-only options and their values)."""
    from roofprof.app import engine as engines

    folder = engines.out_of_core(engine, traces, engines.in_memory_only(options, by))
    if folder is None:
        return None
    from roofprof.views.chart import write_scene
    from roofprof.views.chart.dataset_scene import build_dataset

    if output.suffix.lower() not in (".png", ".svg", ".pdf", ".html", ".htm"):
        raise UsageError(f"cannot tell the output format of {output}: use a .png, .svg, .pdf "
                         "or .html suffix")
    scene = build_dataset(folder, by=by or "range", levels=levels, where=where,
                          title=title, label_top=label_top)
    return write_scene(scene, output)


@main.command()
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="OUT.png, OUT.svg, OUT.pdf (static) or OUT.html (interactive, offline). "
                   "[default: NAME_roofline.png beside the first trace's name, here]")
@click.option("--by", default=None, metavar="|".join(_GROUPS),
              help="Colour kernels by this group; several joined by commas (op,phase) colour "
                   "each combination. [default: range; phase with --sweep]")
@click.option("--sweep", is_flag=True,
              help="Several traces (e.g. batch sizes) on one roofline: one aggregate point "
                   "per trace and group, joined by arrows in the order given (a quoted glob "
                   "is one trace: its files together).")
@click.option("--level", "--levels", "levels", default="dram", show_default=True,
              metavar="dram[,l2,l1]",
              help="Memory level(s) to draw; several draw each kernel at each level, joined.")
@_DEPTH
@_FILTER
@_WITH_COUNTERS
@click.option("--title", help="Title (default: GPU name and source).")
@click.option("--labels", "label_top", type=click.IntRange(min=0), default=5,
              show_default=True, help="Label the N kernel names with the most GPU time.")
@_trace_inputs
@_PLOT_ENGINE
def plot(traces: tuple[Path, ...], output: Path | None, by: str | None, sweep: bool,
         levels: str, depth: int | None, filter_: str | None, with_counters: bool,
         title: str | None, label_top: int, input_format: str | None, rules: Path | None,
         strict: bool, reader: str, where: str | None, engine: str, model_spec: str | None,
         **run: Any) -> None:
    """Draw the measured roofline of TRACE (.parquet, .ncu-rep, .csv, a dataset folder or a
    quoted glob of them: several files are coloured by file unless --by says otherwise).

    \b
    Examples:  roofprof plot run.parquet                  (writes run_roofline.png)
               roofprof plot run.parquet -o roofline.html --level dram,l2,l1
               roofprof plot run.parquet -o ops.png --by op,phase
               roofprof plot --sweep b1.parquet b4.parquet b16.parquet -o sweep.png
               roofprof plot run.parquet --model config.json --batch 2 --prompt 1024
    """
    with _errors():
        from roofprof.inputs.load import load
        from roofprof.tables.files import refuse_inputs
        from roofprof.tables.partitions import label_of
        from roofprof.views.chart import write

        modelled = _optional_model(model_spec, run)
        if modelled is not None and (sweep or len(traces) > 1):
            raise UsageError("--model draws beside one trace: give one trace, without --sweep")

        if output is None:
            output = Path(f"{label_of(traces[0])}{'_sweep' if sweep else ''}_roofline.png")
        refuse_inputs(output, [*traces, rules])
        names = _levels(levels)
        done = _plot_dataset(traces, output, engine, by, names, where, title, label_top,
                             [("--depth", depth), ("--filter", filter_), ("--rules", rules),
                              ("--model", model_spec), ("--sweep", sweep or None),
                              ("--with-counters", with_counters or None)])
        if done is not None:
            out = done
        elif sweep:
            if len(traces) < 2:
                raise UsageError("--sweep needs at least two traces")
            if with_counters:
                raise UsageError("--with-counters draws one trace: leave out --sweep")
            loaded = [load(t, format=input_format, rules=rules, strict=strict, reader=reader,
                           where=where) for t in traces]
            out = write(loaded, output, sweep=True, by=by or "phase", levels=names,
                        depth=depth, filter=filter_, title=title)
        else:
            trace = _load_all(traces, input_format, rules, strict, reader, where)
            if with_counters:
                from roofprof.analysis.counted import with_counters as keep_counted

                trace = keep_counted(trace)
            beside: dict[str, Any] = {}
            if modelled is not None:
                from roofprof.analysis.model.compare import against, fitted, grouping_for

                arch, options = modelled[0], fitted(trace.kernels, modelled[1])
                by = grouping_for(trace.kernels, by)
                beside = {"model": against(trace.kernels, arch, options),
                          "model_label": f"{arch.name}, batch {options.batch}, prompt "
                                         f"{options.prompt}"}
            several = "trace" in trace.kernels.columns  # several files, a glob's included
            out = write(trace, output, by=by or ("trace" if several else "range"),
                        levels=names, depth=depth, filter=filter_, title=title,
                        label_top=label_top, **beside)
        click.echo(f"roofprof: wrote {out}", err=True)


# ------------------------------------------------------------------------------- gpus


def _emit(text: str, output: Path | None, what: str,
          inputs: tuple[Path | None, ...] = ()) -> None:
    """Print ``text`` or write it to ``output`` (atomically: complete or not at all), never
    over one of the command's ``inputs``."""
    if output is None:
        click.echo(text, nl=False)
        return
    from roofprof.tables.files import atomic_output, refuse_inputs

    refuse_inputs(output, inputs)
    with atomic_output(output) as fh:
        fh.write(text.encode("utf-8"))
    click.echo(f"roofprof: wrote {output} ({what})", err=True)


def _fmt(fmt: str | None, output: Path | None) -> str:
    if fmt is not None:
        return fmt
    return {".json": "json", ".csv": "csv"}.get(output.suffix.lower(), "table") \
        if output else "table"


@main.command()
@click.argument("name", required=False)
@click.option("--check", "check", type=click.Path(path_type=Path), metavar="TRACE",
              help="Compare TRACE's measured peaks with the catalog entry of its GPU (or of "
                   "NAME).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.10, show_default=True,
              help="With --check: relative difference reported as a disagreement.")
@_WHERE
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None,
              help="Output format (default: table, or from the -o suffix).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
def gpus(name: str | None, check: Path | None, tolerance: float, where: str | None,
         fmt: str | None, output: Path | None) -> None:
    """The GPU catalog: datasheet peaks per precision (dense; sparse beside), memory bandwidth
    and size, L2, SMs, boost clock and the source of every number.

    \b
    Examples:  roofprof gpus
               roofprof gpus H100-SXM5-80GB
               roofprof gpus --check fixtures/llama_annotated.ncu-rep
    """
    with _errors():
        from roofprof.analysis import catalog
        from roofprof.views import tables as table

        fmt = _fmt(fmt, output)
        if where is not None and check is None:
            raise UsageError("--where applies to the trace of --check")
        if check is not None:
            from roofprof.inputs.load import load

            df = catalog.check_peaks(load(check, where=where).kernels, gpu=name,
                                     tolerance=tolerance)
            text = catalog.format_check(df) if fmt == "table" else \
                {"json": table.to_json, "csv": table.to_csv}[fmt](df)
        elif name is not None:
            gpu = catalog.get(name)
            if fmt == "table":
                text = catalog.format_entry(gpu)
            else:
                df = catalog.table((gpu,))
                text = table.to_csv(df) if fmt == "csv" else json.dumps(
                    {**table.records(df)[0], "sparse": gpu.sparse,
                     "sources": list(gpu.sources), "device_names": list(gpu.device_names)},
                    indent=1) + "\n"
        else:
            text = catalog.format_catalog() if fmt == "table" else \
                {"json": table.to_json, "csv": table.to_csv}[fmt](catalog.table())
        _emit(text, output, fmt, (check,))


# ------------------------------------------------------------------------------- model


@main.command("model")
@click.argument("spec", metavar="MODEL")
@click.option("--gpu", metavar="NAME", help="Time each op at this catalog GPU's roofs.")
@click.option("--trace", type=click.Path(path_type=Path), metavar="TRACE",
              help="Time at TRACE's measured roofs instead, and compare with its kernels "
                   "(measured/model ratios per op and phase).")
@_WHERE
@click.option("--phase", "phases", multiple=True,
              type=click.Choice(["prefill", "decode", "spec"]),
              help="Phases to model (repeatable; default all three).")
@_model_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
def model_cmd(spec: str, gpu: str | None, trace: Path | None, where: str | None,
              phases: tuple[str, ...], fmt: str | None, output: Path | None,
              **run: Any) -> None:
    """Analytic estimate of a decoder transformer (a preset or a config.json): per op and
    phase, FLOPs, weight/KV/activation bytes, intensity and time at a GPU's roofs.

    \b
    Examples:  roofprof model Llama-3-8B --gpu H100 --batch 32 --prompt 1024
               roofprof model path/to/config.json --gpu T4 --weight-dtype int4 \\
                   --group-size 128 --act-dtype fp16 --phase decode
               roofprof model config.json --trace run.parquet --batch 2 --prompt 1024
    """
    with _errors():
        from roofprof.analysis import catalog, model
        from roofprof.analysis.model.compare import compare
        from roofprof.analysis.model.view import format_compare, format_estimate
        from roofprof.views import tables as table

        if gpu and trace:
            raise UsageError("--gpu and --trace both give roofs: pick one")
        if where is not None and trace is None:
            raise UsageError("--where applies to the trace of --trace")
        arch, options = _model_of(spec, run)
        kernels = None
        roofs = None
        at = ""
        if trace is not None:
            from roofprof.inputs.load import load

            kernels = load(trace, where=where).kernels
            roofs, at = model.roofs_of_trace(kernels), f"measured roofs of {trace}"
        elif gpu is not None:
            entry = catalog.get(gpu)
            roofs, at = model.roofs_of_gpu(entry), f"{entry.name} datasheet roofs"
        df = model.estimate(arch, options, phases=phases or model.PHASES, roofs=roofs)
        fmt = _fmt(fmt, output)
        if kernels is not None:
            df = compare(kernels, df, by="op" if kernels["op"].notna().any() else "category")
        if fmt != "table":
            text = table.to_json(df) if fmt == "json" else table.to_csv(df)
        elif kernels is not None:
            text = format_compare(df)
        else:
            title = (f"{arch.name}: batch {options.batch}, prompt {options.prompt}, weights "
                     f"{options.weight_dtype}"
                     f"{f' (group {options.group_size})' if options.group_size else ''}, "
                     f"KV {options.kv_dtype or options.act_dtype}, TP {options.tp}"
                     f"{'; ' + at if at else '; no GPU given: no times (--gpu NAME)'}")
            text = format_estimate(df, model.totals(df), title)
        _emit(text, output, fmt, (trace,))


# ------------------------------------------------------------------------------- whatif


@main.command()
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("--gpu", required=True, metavar="NAME",
              help="The catalog GPU to project onto (`roofprof gpus` lists them).")
@click.option("--by", default="phase", show_default=True,
              help="Group by this kernel-table column (phase, op, range, kernel, ...).")
@click.option("--peaks", type=click.Choice(["ratio", "datasheet"]), default=None,
              help="Target ceilings: measured peaks x datasheet ratio target/source (default "
                   "where the trace's GPU is in the catalog), or the target's datasheet.")
@click.option("--against", type=click.Path(path_type=Path), metavar="TRACE",
              help="A recording of the same workload on the target GPU: adds its measured "
                   "time per group and the projection's error.")
@click.option("--rules", type=click.Path(path_type=Path), metavar="FILE",
              help="A TOML file of attribution rules tried before the built-in ones.")
@_WHERE
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
def whatif(trace: Path, gpu: str, by: str, peaks: str | None, against: Path | None,
           rules: Path | None, where: str | None, fmt: str | None,
           output: Path | None) -> None:
    """Project TRACE's measured kernels onto another GPU's roofs: per group, the time if each
    kernel keeps its measured fraction of the roof, and at 100% of the roof (projections,
    not measurements).

    \b
    Examples:  roofprof whatif run.parquet --gpu H200
               roofprof whatif run.parquet --gpu A100-SXM4-80GB --by op
               roofprof whatif h100.parquet --gpu H200 --against h200.parquet
    """
    with _errors():
        from roofprof.analysis import catalog
        from roofprof.analysis import whatif as wi
        from roofprof.inputs.load import load
        from roofprof.views import tables as table

        kernels = load(trace, rules=rules, where=where).kernels
        target = catalog.get(gpu)
        source = wi.source_gpu(kernels)
        chosen = peaks or ("ratio" if source is not None else "datasheet")
        if against is not None:
            measured = load(against, rules=rules, where=where).kernels
            df = wi.validate(kernels, target, measured, by=by, peaks=chosen)
        else:
            df = wi.whatif(kernels, target, by=by, peaks=chosen)
        fmt = _fmt(fmt, output)
        names = kernels["device_name"].dropna().unique()
        src_name = source.name if source else ", ".join(map(str, names)) or "?"
        text = (wi.format_whatif(df, src_name, target.name, chosen) if fmt == "table" else
                table.to_json(df) if fmt == "json" else table.to_csv(df))
        _emit(text, output, fmt, (trace, against, rules))


# --------------------------------------------------------------------------------- diff


def _percent(value: str | None, what: str) -> float | None:
    if value is None:
        return None
    try:
        pct = float(value.strip().removesuffix("%"))
    except ValueError:
        raise UsageError(f"{what} takes a percentage like 5 or 5%, not {value!r}") from None
    if pct < 0:
        raise UsageError(f"{what} must not be negative, got {value!r}")
    return pct


@main.command("diff")
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--by", default="phase", show_default=True,
              help="Match groups by this column (phase, op, range, category, kernel, ...).")
@click.option("--repeat-a", "repeat_a", multiple=True, type=click.Path(path_type=Path),
              metavar="TRACE", help="A repeat run of A (repeatable): times are medians, "
                                    "and a change within the runs' spread is noise.")
@click.option("--repeat-b", "repeat_b", multiple=True, type=click.Path(path_type=Path),
              metavar="TRACE", help="A repeat run of B (repeatable).")
@click.option("--noise", "noise_pct", metavar="PCT", default="0",
              help="Changes smaller than PCT percent are noise (a floor under the spread).")
@click.option("--fail-if-slower", "fail_pct", metavar="PCT",
              help="Exit 1 when B is PCT percent or more slower than A, beyond the noise.")
@click.option("--gate", type=click.Choice(["total", "group"]), default="total",
              show_default=True, help="With --fail-if-slower: the total time, or any group.")
@click.option("--kernels", "top_kernels", type=click.IntRange(min=0), default=10,
              show_default=True, help="Also list the N kernels whose time changed most.")
@click.option("--rules", type=click.Path(path_type=Path), metavar="FILE",
              help="A TOML file of attribution rules tried before the built-in ones.")
@_WHERE
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
@click.option("--plot", "plot_out", type=click.Path(path_type=Path), metavar="FILE",
              help="Also draw each group's move from A to B on the roofline (an arrow per "
                   "group: the sweep plot of A and B), as .png/.svg/.pdf/.html.")
def diff_cmd(a: Path, b: Path, by: str, repeat_a: tuple[Path, ...], repeat_b: tuple[Path, ...],
             noise_pct: str, fail_pct: str | None, gate: str, top_kernels: int,
             rules: Path | None, where: str | None, fmt: str | None, output: Path | None,
             plot_out: Path | None) -> None:
    """Compare run B with baseline A: per group, time, work, bytes, intensity and % of roof,
    and their changes; an exit code for CI.

    \b
    Examples:  roofprof diff main.parquet pr.parquet --by op
               roofprof diff a1.parquet b1.parquet --repeat-a a2.parquet --repeat-b b2.parquet
               roofprof diff main.parquet pr.parquet --fail-if-slower 5%
               roofprof diff main.parquet pr.parquet --by op --plot moves.png
    """
    with _errors():
        from roofprof.analysis import diff as df_
        from roofprof.inputs.load import load
        from roofprof.views import tables as tb

        noise = _percent(noise_pct, "--noise") or 0.0
        fail = _percent(fail_pct, "--fail-if-slower")
        runs_a = [load(p, rules=rules, where=where).kernels for p in (a, *repeat_a)]
        runs_b = [load(p, rules=rules, where=where).kernels for p in (b, *repeat_b)]
        result = df_.diff(runs_a, runs_b, by=by, noise=noise / 100)
        fmt = _fmt(fmt, output)
        if fmt == "table":
            kernels = (df_.match_kernels(runs_a[0], runs_b[0], by=by) if top_kernels
                       else None)
            text = df_.format_diff(result, kernels, top=top_kernels)
        else:
            text = tb.to_json(result) if fmt == "json" else tb.to_csv(result)
        _emit(text, output, fmt, (a, b, *repeat_a, *repeat_b, rules))
        if plot_out is not None:
            from roofprof.tables.files import refuse_inputs
            from roofprof.tables.partitions import label_of
            from roofprof.views.chart import write

            refuse_inputs(plot_out, [a, b, *repeat_a, *repeat_b, rules])
            names = [f"A: {label_of(a)}", f"B: {label_of(b)}"]
            write([load(a, rules=rules, where=where), load(b, rules=rules, where=where)],
                  plot_out, sweep=True, labels=names, by=by)
            click.echo(f"roofprof: wrote {plot_out}", err=True)
        if fail is not None:
            slower = df_.slower_than(result, fail)
            if gate == "total":
                slower = slower[slower["group"] == df_.TOTAL]
            if len(slower):
                worst = ", ".join(f"{g} {100 * d:+.1f}%" for g, d in
                                  zip(slower["group"], slower["time_delta"], strict=True))
                raise RoofprofError(f"{b} is slower than {a} by {fail:g}% or more: {worst}")


# ------------------------------------------------------------------- trace (issue 11)


def _parquet_name(output: Path) -> Path:
    return output if output.suffix == ".parquet" else output.with_name(output.name + ".parquet")


@main.command(context_settings={"ignore_unknown_options": False,
                                "allow_interspersed_args": False})
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The timing table to write: NAME.parquet.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--graph-nodes", type=click.Choice(["all", "none"]), default="all",
              show_default=True,
              help="CUDA graph replays: all = every kernel node of every replay timed (CUPTI's "
                   "record per node costs a CUDA-graph decode loop 26-48%); none = each replay "
                   "timed as a whole, one row with the ranges of its launch, its kernels "
                   "unknown (costs it 7-16%): for latency and phase totals of long runs.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def trace(output: Path, force: bool, graph_nodes: str, command: tuple[str, ...]) -> None:
    """Run a Python COMMAND with every kernel launch timed by CUPTI (no counters: far cheaper
    than ncu, not free; see BENCHMARKS.md); write its timing table. Needs `pip install
    roofprof[trace]`.

    \b
    Example:  roofprof trace -o run -- python serve.py
              roofprof join run.parquet counters.parquet -o joined.parquet
    """
    from roofprof.capture import tracer

    with _errors():
        out = _parquet_name(output)
        result = tracer.run(command, out, force=force, graph_nodes=graph_nodes)
        for problem in result.problems:
            click.echo(f"roofprof: warning: {problem}", err=True)
        if result.trace is not None:
            k = result.trace.kernels
            sources = ", ".join(f"{n} {v}" for v, n in
                                k["nvtx_source"].value_counts().items() if n)
            click.echo(f"roofprof: wrote {out}: {len(k)} kernel launches timed "
                       f"(annotation paths: {sources})", err=True)
            for line in [*tracer.range_notes(result.trace), *tracer.graph_notes(result.trace)]:
                click.echo(f"roofprof: {line}", err=True)
        if result.interrupted:
            _fail("interrupted; kept what was traced", 130)
        if result.returncode:
            _fail(f"the program exited with code {result.returncode}",
                  result.returncode if result.returncode > 0 else 1)
        if result.trace is None:
            _fail("nothing was traced", 1)


# -------------------------------------------------------------------- join (issue 11)


@main.command("join")
@click.argument("timing", type=click.Path(path_type=Path))
@click.argument("counters", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The joined kernel table to write (.parquet).")
@click.option("--spread", type=click.FloatRange(min=0), default=0.05, show_default=True,
              help="Report signatures whose samples differ by more than this fraction in "
                   "FLOPs or DRAM bytes.")
@_WHERE
def join_command(timing: Path, counters: Path, output: Path, spread: float,
                 where: str | None) -> None:
    """Give every timed launch of TIMING (roofprof trace, Kineto, nsys) counters from COUNTERS
    (any kernel table: .ncu-rep, .csv, .parquet): from the same launch, else from sampled
    launches of the same kernel and configuration.

    \b
    Example:  roofprof join run.parquet counters.ncu-rep -o joined.parquet
    """
    from roofprof.analysis.join import UNUSED_TIMING
    from roofprof.analysis.join_file import write_joined, write_joined_file
    from roofprof.analysis.join_report import format_report
    from roofprof.inputs.load import load
    from roofprof.inputs.timing import load_timing
    from roofprof.tables.partitions import is_pattern
    from roofprof.tables.timing import is_timing_parquet

    with _errors():
        if output.suffix != ".parquet":
            raise UsageError(f"{output}: the output must be a .parquet file")
        from roofprof.tables.files import refuse_inputs

        refuse_inputs(output, [timing, counters])
        sampled = load(counters, where=where)
        if not is_pattern(timing) and timing.is_file() and is_timing_parquet(timing):
            facts = write_joined_file(timing, sampled, output, spread=spread)  # in chunks
        else:
            facts = write_joined(load_timing(timing, skip=UNUSED_TIMING), sampled, output,
                                 spread=spread)
        click.echo(format_report(facts), nl=False)
        total = sum(facts["launches"].values())
        click.echo(f"roofprof: wrote {output} ({total} launches)", err=True)


# ----------------------------------------------------------------- latency (issue 11)


@main.command()
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("--range", "ranges", multiple=True, metavar="REGEX",
              help="Only ranges whose name matches (repeatable); e.g. --range '^decode$'.")
@click.option("--by", type=click.Choice(["range", "path"]), default="range",
              show_default=True, help="Group instances by range name or by full path.")
@click.option("--metric", type=click.Choice(["wall", "gpu_span", "kernel"]), default="wall",
              show_default=True, help="What the plot draws: the range's own duration, the "
                                      "span of its kernels on the GPU, or their busy time.")
@click.option("--top", type=click.IntRange(min=1), metavar="N",
              help="Show only the N ranges with the most total time.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="What is printed.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write a histogram and CDF (.png/.svg/.pdf) or the JSON (.json).")
@click.option("--per-request", "request", metavar="REGEX",
              help="Per request instead: each instance of a range whose name matches is one "
                   "request; its time to first token, time per output token and end to end "
                   "from the prefill/decode ranges inside it.")
def latency(trace: Path, ranges: tuple[str, ...], by: str, metric: str, top: int | None,
            fmt: str, output: Path | None, request: str | None) -> None:
    """Per-range duration percentiles (p50/p90/p99/max) from a timing trace: a decode step ~
    time per output token, a prefill ~ time to first token; or per request.

    \b
    Examples:  roofprof latency run.parquet --range '^(prefill|decode)$'
               roofprof latency trace.json.gz -o latency.png
               roofprof latency run.parquet --per-request '^request'
    """
    from roofprof.analysis import latency as lat
    from roofprof.inputs.timing import load_timing

    with _errors():
        if request is not None:
            source = click.get_current_context().get_parameter_source
            given = [option for name, option in (("ranges", "--range"), ("top", "--top"),
                                                 ("by", "--by"), ("metric", "--metric"))
                     if source(name) not in (None, click.core.ParameterSource.DEFAULT)]
            if given:  # options of the per-range view: never silently ignored
                raise UsageError("--per-request reads the steps inside each request; drop "
                                 + ", ".join(given))
            _requests(trace, lat.instances(load_timing(trace)), request, fmt, output)
            return
        inst = lat.select(lat.instances(load_timing(trace)), ranges)
        table = lat.percentiles(inst, by=by)
        if top:
            table = table.head(top)
        text = lat.format_table(table, by=by) if fmt == "table" else lat.to_json(table, inst)
        click.echo(text, nl=False)
        if output is not None:
            from roofprof.tables.files import refuse_inputs

            refuse_inputs(output, [trace])
            lat.write(inst, table, output, ranges=ranges, by=by, metric=f"{metric}_ns")
            click.echo(f"roofprof: wrote {output}", err=True)


def _requests(trace: Path, inst: Any, request: str, fmt: str, output: Path | None) -> None:
    """latency --per-request: the per-request table, JSON or plot."""
    from roofprof.analysis import requests

    req = requests.per_request(inst, request)
    table = requests.percentiles(req)
    click.echo(requests.format_table(table, req) if fmt == "table"
               else requests.to_json(table, req), nl=False)
    if output is not None:
        from roofprof.tables.files import refuse_inputs

        refuse_inputs(output, [trace])
        requests.write(req, table, str(output))
        click.echo(f"roofprof: wrote {output}", err=True)


def _timed_join(command: tuple[str, ...], counters_path: Path, counters: Any,
                force: bool) -> None:
    """record --sample: the timing pass of the same program, then the join."""
    from roofprof.analysis.join_report import format_report
    from roofprof.capture import tracer

    click.echo("roofprof: timing pass: every launch timed (roofprof trace)", err=True)
    done = tracer.timed_join(command, counters_path, counters, force=force)
    for problem in done.problems:
        click.echo(f"roofprof: warning: {problem}", err=True)
    click.echo(format_report(done.facts), nl=False)
    click.echo(f"roofprof: wrote {done.timing} and {done.joined}", err=True)


# ------------------------------------------------------------------ report (issue 12, part 6)


@main.command("report")
@click.argument("trace", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="report.html (one self-contained page) or report.md (with PNG figures "
                   "written beside it).")
@click.option("--timing", type=click.Path(path_type=Path), metavar="TRACE",
              help="A timing trace of the same run (roofprof trace, Kineto, nsys): adds "
                   "latency percentiles per phase range.")
@click.option("--model", "spec", metavar="MODEL",
              help="A preset or config.json: adds measured/model ratios and padded FLOPs.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Sequences per step (with --model).")
@click.option("--prompt", type=click.IntRange(min=1), default=512, show_default=True,
              help="Prefill tokens per sequence (with --model).")
@click.option("--context", type=click.IntRange(min=0),
              help="Tokens cached before a decode step (with --model) [default: --prompt].")
@click.option("--logits", type=click.Choice(["last", "all"]), default="last",
              show_default=True, help="lm_head on the last token per sequence, or on all.")
@click.option("--level", type=click.Choice(["dram", "l2", "l1"]), default="dram",
              show_default=True, help="Memory level of the roofs.")
@_WHERE
def report_cmd(trace: Path, output: Path, timing: Path | None, spec: str | None, batch: int,
               prompt: int, context: int | None, logits: str, level: str,
               where: str | None) -> None:
    """A written report of TRACE: verdict per phase, diagnosis derived from its numbers,
    measured ceilings, per-phase and op x phase tables, rooflines, kernels with the most
    headroom; latency with --timing, the model comparison with --model.

    \b
    Examples:  roofprof report run.ncu-rep -o report.html
               roofprof report run.ncu-rep -o report.md --timing run.json.gz \\
                   --model Llama-3-8B --batch 2 --prompt 1024
    """
    with _errors():
        from roofprof.analysis import report
        from roofprof.inputs.load import load
        from roofprof.views import report_page as report_view

        report_view.format_of(output)  # a wrong suffix fails before the work
        from roofprof.tables.files import refuse_inputs

        refuse_inputs(output, [trace, timing])
        t = load(trace, where=where)
        if timing is not None:
            from roofprof.inputs.timing import load_timing

            timed = load_timing(timing)
        else:  # a timing trace given as TRACE brings its own latency section
            timed = report.timing_of(trace)
        cmp = options = None
        if spec:
            workload = {"batch": batch, "prompt": prompt, "context": context, "logits": logits}
            cmp = report.model_comparison(t, spec, **workload)
            if "phase" in t.kernels and (t.kernels["phase"] == "decode").any():
                options = report.decode_options(t, spec, **workload)
        written = report_view.write(report.build(t, timing=timed, comparison=cmp,
                                                 options=options, level=level), output)
        click.echo(f"roofprof: wrote {', '.join(map(str, written))}", err=True)


# ----------------------------------------------------------------------------- ranks


@main.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--by", default="phase", show_default=True, metavar="COLUMN[,COLUMN]",
              help="What to compare across ranks (phase, op, range, ...; run: each rank's "
                   "totals).")
@click.option("--view", type=click.Choice(["rank", "spread"]), default="rank",
              show_default=True,
              help="rank: a row per group and rank (time, % of roof, intensity, bound, "
                   "communication share, time over the median, straggler); spread: a row per "
                   "group (min, median, max over ranks, spread, straggler).")
@click.option("--level", type=click.Choice(["dram", "l2", "l1"]), default="dram",
              show_default=True, help="Memory level whose traffic and bandwidth set the roof.")
@_WHERE
@click.option("--engine", type=click.Choice(["duckdb", "spark", "pandas"]), default="duckdb",
              show_default=True,
              help="duckdb: out of core, reading the Parquet files; spark: the same query on "
                   "a local Spark session (pyspark, Java 17+); pandas: in memory.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None,
              help="Output format (default: table, or from the -o suffix).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
def ranks(dataset: Path, by: str, view: str, level: str, where: str | None, engine: str,
          fmt: str | None, output: Path | None) -> None:
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
    with _errors():
        from roofprof.analysis import ranks as rk
        from roofprof.tables.partitions import expand, is_dataset
        from roofprof.views import tables as table

        found = expand(dataset)  # a pattern naming one dataset folder is that folder
        if len(found) != 1 or not is_dataset(found[0]):
            raise UsageError(f"{dataset}: give one dataset folder (make one with `roofprof "
                             "convert ... --dataset DIR --rank N`)")
        fmt = _fmt(fmt, output)
        if view == "spread":
            result = rk.spread(found[0], by=by, where=where, engine=engine)
            text = table.format_spread(result) if fmt == "table" else None
        else:
            result = rk.per_rank(found[0], by=by, level=level, where=where, engine=engine)
            text = table.format_ranks(result) if fmt == "table" else None
        if text is None:
            text = table.to_json(result) if fmt == "json" else table.to_csv(result)
        _emit(text, output, f"{len(result)} rows", (dataset,))
