"""Capture on a GPU host: ``record`` (counters, Nsight Compute) and ``trace`` (every launch
timed, CUPTI), with ``record --sample``'s timing pass and join.

Both run a program for a long time: what they find out on the way goes to a :class:`Reporter`
as it happens (the command line prints it; :class:`QuietReporter` warns of problems only). A
program that fails or is interrupted ends them with :class:`~roofprof.errors.ExitError`,
whose exit code is the program's: what was captured before is kept and converted.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from parsers.stacks import unended_note
from roofprof.app import defaults
from roofprof.app.join import write_joined
from roofprof.capture import tracer
from roofprof.capture.ncu_command import RecordOptions, parquet_path, report_path
from roofprof.capture.record import Forward, OnProgress, diagnose, prepare, run_ncu
from roofprof.errors import ExitError, RoofprofError, RoofprofWarning, UsageError, option
from roofprof.inputs.load import convert
from roofprof.tables.kernels import Trace
from roofprof.tables.timing import TimingTrace


class Reporter(Protocol):
    """Where a long capture says what it does, as it goes."""

    def note(self, text: str) -> None:
        """A step done or about to start."""

    def warn(self, text: str) -> None:
        """Something went wrong that did not stop the capture."""

    def joined(self, facts: dict[str, Any]) -> None:
        """What the join of ``record --sample`` found (:func:`roofprof.app.join.join`'s)."""


class QuietReporter:
    """Says nothing but problems (as :class:`~roofprof.errors.RoofprofWarning` warnings)."""

    def note(self, text: str) -> None:
        pass

    def warn(self, text: str) -> None:
        warnings.warn(text, RoofprofWarning, stacklevel=2)

    def joined(self, facts: dict[str, Any]) -> None:
        pass


def record(command: Sequence[str], output: str | os.PathLike[str], *, sample: int | None = None,
           no_convert: bool = False, dry_run: bool = False, reporter: Reporter | None = None,
           forward: Forward | None = None, on_progress: OnProgress | None = None,
           **options: Any) -> list[str]:
    """Run ``command`` under Nsight Compute with roofprof's metric set and convert the report
    (NAME.ncu-rep, NAME.parquet); with ``sample`` N, profile each launch configuration N times,
    then time every launch of a second run and join (NAME.timing.parquet,
    NAME.joined.parquet). ``options``: the other fields of
    :class:`~roofprof.capture.ncu_command.RecordOptions` (None: the default). Returns ncu's
    command line (all that a ``dry_run`` does)."""
    say = reporter or QuietReporter()
    if sample is not None:
        if options.get("per_config") is not None or options.get("count") is not None \
                or no_convert:
            raise UsageError(f"{option('sample')} N already sets {option('per_config')} N and "
                             f"needs the Parquet trace; drop {option('per_config')}, "
                             f"{option('count')} and {option('no_convert')}")
        options["per_config"] = sample
    opts = RecordOptions(command=command, output=Path(output),
                         **{k: v for k, v in options.items() if v is not None})
    _ncu, argv = prepare(opts, dry_run=dry_run)
    if dry_run:
        return argv
    if not opts.include_nccl:
        say.note("NCCL kernels are left out (they can hang under ncu); "
                 f"{option('include_nccl')} profiles them")
    result = run_ncu(argv, report_path(opts.output), forward=forward, on_progress=on_progress)
    problem = diagnose(result, opts)
    if problem is not None:
        if result.program_failed and not result.report.exists():
            say.note(f"the program exited with code {result.returncode}")
        raise problem
    say.note(f"{result.kernels} kernels profiled -> {result.report}")
    if not no_convert:
        parquet = parquet_path(opts.output)
        trace = convert([result.report], parquet, command=list(command), record_argv=result.argv)
        say.note(f"wrote {parquet} ({len(trace.kernels)} kernels)")
        if sample is not None and not result.interrupted and not result.returncode:
            say.note("timing pass: every launch timed (roofprof trace)")
            done = timed_join(command, parquet, trace, force=opts.force)
            for p in done.problems:
                say.warn(p)
            say.joined(done.facts)
            say.note(f"wrote {done.timing} and {done.joined}")
    if result.interrupted:
        raise ExitError("interrupted; kept what ncu profiled before the interrupt", 130)
    if result.returncode:
        who = "the program" if result.program_failed else "ncu"
        raise ExitError(f"{who} exited with code {result.returncode}", result.returncode)
    return argv


def trace(command: Sequence[str], output: str | os.PathLike[str], *, force: bool = False,
          graph_nodes: str | None = None, reporter: Reporter | None = None) -> TimingTrace:
    """Run ``command`` with every kernel launch timed by CUPTI and write its timing table to
    ``output`` (``.parquet`` added where missing); ``graph_nodes``: CUDA graph replays node by
    node (``all``) or each as a whole (``none``)."""
    say = reporter or QuietReporter()
    out = Path(output)
    out = out if out.suffix == ".parquet" else out.with_name(out.name + ".parquet")
    result = tracer.run(command, out, force=force, graph_nodes=graph_nodes or defaults.GRAPH_NODES)
    for problem in result.problems:
        say.warn(problem)
    if result.trace is not None:
        k = result.trace.kernels
        sources = ", ".join(f"{n} {v}" for v, n in k["nvtx_source"].value_counts().items() if n)
        say.note(f"wrote {out}: {len(k)} kernel launches timed (annotation paths: {sources})")
        for line in [*range_notes(result.trace), *graph_notes(result.trace)]:
            say.note(line)
    if result.interrupted:
        raise ExitError("interrupted; kept what was traced", 130)
    if result.returncode:
        raise ExitError(f"the program exited with code {result.returncode}",
                        result.returncode if result.returncode > 0 else 1)
    if result.trace is None:
        raise RoofprofError("nothing was traced")
    return result.trace


@dataclass
class TimedJoin:
    timing: Path
    joined: Path
    facts: dict[str, Any]
    problems: list[str]


def timed_join(command: Sequence[str], counters_path: Path, counters: Trace,
               force: bool = False) -> TimedJoin:
    """``record --sample``'s second half: time every launch of ``command`` (NAME.timing.parquet
    beside the counters' NAME.parquet), join with ``counters`` (NAME.joined.parquet)."""
    stem = counters_path.with_suffix("")
    timing_path = stem.with_name(stem.name + ".timing.parquet")
    joined_path = stem.with_name(stem.name + ".joined.parquet")
    timed = tracer.run(command, timing_path, force=force)
    if timed.trace is None or timed.returncode:
        why = "; ".join(timed.problems)
        raise RoofprofError(f"the timing pass failed (exit {timed.returncode}"
                            f"{': ' + why if why else ''}); the sampled counters are in "
                            f"{counters_path}")
    facts = write_joined(timed.trace, counters, joined_path)
    return TimedJoin(timing_path, joined_path, facts, timed.problems)


def range_notes(trace: TimingTrace) -> list[str]:
    """Library API ranges (NCCL's) left out because the trace has no end for them
    (``parsers.stacks.without_unended_library_ranges``)."""
    note = unended_note(trace.meta.get("timing", {}).get("nvtx_unended_library_ranges") or {})
    return [note] if note else []


def graph_notes(trace: TimingTrace) -> list[str]:
    """What a user must know of a trace whose CUDA graph replays were recorded as a whole
    (``graph_nodes="none"``): their time is measured, their kernels are not."""
    whole = int((trace.meta.get("timing", {}).get("graph_replays") or {}).get("whole") or 0)
    if not whole:
        return []
    k = trace.kernels
    replay = k["duration_from"] == "replay"
    share = k.loc[replay, "duration_ns"].sum() / k["duration_ns"].sum()
    return [f"{whole} CUDA graph replays timed as a whole ({100 * share:.1f}% of the kernel "
            "time): each is one row '[CUDA graph N replay: nodes not recorded]' with the ranges "
            f"of its launch; their kernels, and so their roofline points, are unknown "
            f"({option('graph_nodes')} all records every node)"]

