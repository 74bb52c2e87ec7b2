"""What every command shares: one line per error and warning, writing an output, and the
options several commands take (reading inputs, datasets, the modelled run).

Errors name options through :func:`roofprof.errors.option`; here they become flags
(:func:`flag`). The options have no defaults of their own: a value not given is None and the
application function fills it from :mod:`roofprof.app.defaults`, which the help states.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from roofprof.app import defaults
from roofprof.errors import RoofprofError, render

if TYPE_CHECKING:
    from roofprof.views.chart.scene import Scene

F = TypeVar("F", bound=Callable[..., Any])

#: the flags whose names are not the parameter's (``--`` + the name with dashes)
FLAGS = {"output": "-o", "ranges": "--range", "levels": "--level", "label_top": "--labels",
         "model_spec": "--model"}


def flag(name: str) -> str:
    """The command line's flag for a parameter named in an error message."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"roofprof: error: {message}", err=True)
    sys.exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """One clear line per error and warning; never a traceback for the user's input. The
    command's outputs are checked first (:func:`refuse_own_inputs`): before any work, none
    of them may be one of its inputs."""
    with reported():
        context = click.get_current_context(silent=True)
        if context is not None:
            refuse_own_inputs(context.params)
        yield


@contextmanager
def reported() -> Iterator[None]:
    """:func:`errors` without the output check (an option's callback: the options are not
    all read yet)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except RoofprofError as exc:
            flush_warnings(caught)
            fail(render(exc.template, flag), exc.exit_code)
        except KeyboardInterrupt:
            flush_warnings(caught)
            fail("interrupted", 130)
        flush_warnings(caught)


def flush_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    for w in caught:
        text = str(w.message)
        if text not in seen:
            seen.add(text)
            click.echo(f"roofprof: warning: {text}", err=True)
    caught.clear()


def note(text: str) -> None:
    """A line to stderr about what a command did."""
    click.echo(f"roofprof: {render(text, flag)}", err=True)


#: the parameters naming a file a command writes; every other path a command takes is an input
OUTPUTS = ("output", "plot_out")
#: the parameters naming a model: a preset, or a config.json the command reads
MODELS = ("model_spec", "spec")


def inputs_of(params: Mapping[str, Any]) -> list[Path]:
    """Every file a command reads, from its parameters: each path given (traces, --rules,
    --timing, --against, --check, ...; several where repeated) but the outputs, and a model
    given as a config file."""
    found: list[Path] = []
    for name, value in params.items():
        if name in OUTPUTS:
            continue
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, Path):
                found.append(v)
            elif name in MODELS and isinstance(v, str) and Path(v).is_file():
                found.append(Path(v))
    return found


def refuse_own_inputs(params: Mapping[str, Any], outputs: Sequence[Path] = ()) -> None:
    """One rule for every command's outputs, before any work (a
    :class:`~roofprof.errors.UsageError`): none of the files it writes (its ``-o``/``--plot``,
    and ``outputs``: the others, such as a report's figures or a plot's default name) is one
    of the files it reads, nor another of them; and none replaces a file that holds
    measurements unless ``--force`` is given (the overwrite policy,
    :func:`roofprof.app.outputs.refuse_to_replace`)."""
    named = [params[n] for n in OUTPUTS if params.get(n) is not None]
    written = [*named, *(o for o in outputs if o not in named)]  # -o given again: once
    if written:
        from roofprof.tables.files import refuse_inputs

        refuse_inputs(written, inputs_of(params))
    from roofprof.app.outputs import refuse_to_replace

    refuse_to_replace(written, force=bool(params.get("force")), can_force="force" in params)


def emit(text: str, output: Path | None, what: str,
         inputs: Sequence[Path | None] | None = None,
         figures: Mapping[Path, Scene] | None = None) -> None:
    """Print ``text`` or write it to ``output``, and draw each scene of ``figures`` into its
    file: never over one of the command's ``inputs`` (by default every file it reads,
    :func:`inputs_of` its parameters), and the files written as one set (complete together,
    or none of them)."""
    if output is None:
        click.echo(text, nl=False)
    files = [*([output] if output is not None else []), *(figures or {})]
    if not files:
        return
    from roofprof.tables.files import atomic_outputs, refuse_inputs
    from roofprof.views.chart import draw

    if inputs is None:
        context = click.get_current_context(silent=True)
        inputs = inputs_of(context.params) if context is not None else []
    refuse_inputs(files, inputs)
    with atomic_outputs(files) as handles:
        if output is not None:
            handles.pop(0).write(text.encode("utf-8"))
        for fh, (path, scene) in zip(handles, (figures or {}).items(), strict=True):
            draw(scene, fh, path)
    if output is not None:
        note(f"wrote {output} ({what})")
    for path in figures or {}:
        note(f"wrote {path}")


def format_of(fmt: str | None, output: Path | None) -> str:
    """The output format: as given, else by the ``-o`` suffix, else a table."""
    if fmt is not None:
        return fmt
    return {".json": "json", ".csv": "csv"}.get(output.suffix.lower(), "table") \
        if output else "table"


def given(values: dict[str, Any]) -> dict[str, Any]:
    """The options given (click passes None, or False for a flag, for the others)."""
    return {k: v for k, v in values.items() if v is not None and v is not False}


def options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several option decorators as one (applied in the order listed, top first)."""
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f
    return apply


def _default(value: object) -> str:
    return f" [default: {value}]"


#: the one --force of every command that writes a file (the overwrite policy:
#: :mod:`roofprof.app.outputs`)
FORCE = click.option(
    "-f", "--force", is_flag=True,
    help="Replace an existing output that holds measurements (a trace, a report, an export: "
         "anything roofprof reads); without it such a file is kept and nothing is written. "
         "Other outputs (tables, plots, pages) are always replaced.")

# ------------------------------------------------------------------- reading inputs

INPUT_FORMAT = click.option(
    "--input-format", "input_format",
    type=click.Choice(["ncu-rep", "ncu-csv", "kineto", "nsys-sqlite", "nsys-rep"]),
    help="Read every input as this format instead of detecting it from its content.")
STRICT = click.option(
    "--strict", is_flag=True,
    help="Refuse an input with values roofprof would read as null (unreadable, negative, "
         "non-finite), rows it would leave out, or a cut report, instead of warning.")
READER = click.option(
    "--reader", type=click.Choice(["roofprof", "ncu-report"]),
    help="Read .ncu-rep reports with roofprof's own decoder or NVIDIA's ncu_report library "
         "(the reference; reads format versions roofprof's decoder does not know)."
         + _default(defaults.READER))
RULES = click.option(
    "--rules", type=click.Path(path_type=Path), metavar="FILE",
    help="A TOML file of attribution rules (phase, category, op) tried before the built-in "
         "ones.")


def _check_where(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--where is parsed before any input is read: one line if bad."""
    from roofprof.tables.partitions import parse_where

    if value is not None and not ctx.resilient_parsing:
        with reported():
            parse_where(value)
    return value


#: the one --where of every command that reads traces or datasets
WHERE = click.option(
    "--where", metavar="EXPR", callback=_check_where,
    help="With a dataset folder (or its files): read only partitions matching EXPR, clauses "
         "on run, host and rank joined by and (\"rank = 3\", \"rank in (0, 1) and run = "
         "'r1'\"); an error for other inputs.")
FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]),
                      help="Output format (default: table, or from the -o suffix).")
LEVEL = click.option("--level", type=click.Choice(["dram", "l2", "l1"]),
                     help="Memory level whose traffic and bandwidth set the roof."
                          + _default(defaults.LEVEL))
FILTER = click.option(
    "--filter", "filter_", metavar="REGEX",
    help="Keep kernels whose name, NVTX range, phase, category or op matches REGEX "
         "(e.g. '^(qkv|o|gate|up|down)_proj$|^attention$').")
WITH_COUNTERS = click.option(
    "--with-counters", is_flag=True,
    help="A joined trace: keep only the launches that have counters (groups holding others, "
         "e.g. NCCL collectives or unsampled kernels, are otherwise unknown); every view says "
         "how much of the time that is.")
DEPTH = click.option("--depth", type=click.IntRange(min=1), metavar="N",
                     help="With --by range: group by the first N levels of the NVTX path.")
GROUPS = ["range", "kernel", "device", "phase", "category", "op", "trace"]
BY_HELP = ("Group kernels by NVTX range, kernel, device, LLM phase, operator category, model "
           "op, trace (several inputs) or any column; several joined by commas (op,phase) "
           "group by each combination. By range unless given: the NVTX tree as the program "
           "annotated it, for any program (diff, whatif and ranks compare by phase).")

#: why diff, whatif and ranks group by phase unless told (summary and plot: by range)
COMPARED_BY = ("By phase unless given: a few groups that match from run to run, GPU to GPU "
               "and rank to rank (by range an LLM's NVTX paths make hundreds; summary and "
               "plot show that tree).")

# ------------------------------------------------------------------ the modelled run

#: the run an analytic model describes; shared by `model`, `summary --model` and `plot --model`
MODEL_RUN = options(
    click.option("--batch", type=click.IntRange(min=1), help="Sequences per step. [default: 1]"),
    click.option("--prompt", type=click.IntRange(min=1),
                 help="Prefill tokens per sequence. [default: 512]"),
    click.option("--context", type=click.IntRange(min=0),
                 help="Tokens cached before a decode/spec step [default: --prompt]."),
    click.option("--spec-tokens", type=click.IntRange(min=1),
                 help="Candidates verified per sequence in the spec phase. [default: 4]"),
    click.option("--weight-dtype", type=click.Choice(["bf16", "fp16", "fp8", "int8", "int4"]),
                 help="Weights of the projections [default: the config's quantization, else "
                      "bf16]."),
    click.option("--group-size", type=click.IntRange(min=1),
                 help="Quantization group (AWQ/GPTQ: 128): an fp16 scale and a zero per group."),
    click.option("--act-dtype", type=click.Choice(["bf16", "fp16"]),
                 help="Activations. [default: bf16]"),
    click.option("--kv-dtype", type=click.Choice(["bf16", "fp16", "fp8", "int8", "int4"]),
                 help="KV cache [default: --act-dtype]."),
    click.option("--tp", type=click.IntRange(min=1),
                 help="Tensor-parallel degree (numbers are per GPU). [default: 1]"),
    click.option("--attention", type=click.Choice(["fused", "eager"]),
                 help="Attention kernels. [default: fused]"),
    click.option("--traffic", type=click.Choice(["per-op", "fused"]),
                 help="per-op: every op reads and writes its activations (eager); fused: only "
                      "layer input/outputs and the KV cache move (hand-derivation convention). "
                      "[default: per-op]"),
    click.option("--logits", type=click.Choice(["last", "all"]),
                 help="lm_head on the last token per sequence, or on all. [default: last]"),
    click.option("--non-causal", is_flag=True,
                 help="Count the full attention rectangle (hand-derivation convention)."),
)
MODEL = click.option(
    "--model", "model_spec", metavar="MODEL",
    help="Put the analytic model (a preset or a config.json, see `roofprof model`) beside the "
         "measurement, timed at the trace's measured roofs; describe the recorded run with "
         "--batch, --prompt, --context, --weight-dtype, ...")

#: how summary and plot read their traces: input format, rules, --strict, --reader, a model to
#: set beside them, and --where on dataset folders
TRACE_INPUTS = options(INPUT_FORMAT, RULES, STRICT, READER, MODEL, MODEL_RUN, WHERE)
