"""Any input as a kernel table: :func:`load` (``roofprof.load``), :func:`load_many` and
:func:`convert`.

An input is a roofprof Parquet trace, an Nsight Compute report or CSV export, a timing trace
(Kineto, Nsight Systems, ``roofprof trace``: durations, no counters), a dataset folder (its
partitions matching ``where``, read in memory) or a quoted glob pattern of these (every match,
each labelled in a ``trace`` column: ``roofprof.tables.partitions.expand`` and ``labels``).
The format is sniffed from the content (``parsers.detect``; ``format`` overrides), the parser's
plain columns become the kernel table (:mod:`.derive`), and every kernel gets its ``phase``,
``category`` and ``op`` by the attribution rules (built in, or a user's ``rules`` file tried
first: then a stored trace is attributed again with them).
"""

from __future__ import annotations

import os
import shlex
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import parsers
from parsers.raw import RawKernels
from parsers.stacks import unended_note
from roofprof.errors import InputError, RoofprofWarning, option, strict_mode
from roofprof.inputs.attribution import Rules, attribute, builtin_rules, load_rules
from roofprof.inputs.derive import build_table
from roofprof.inputs.timing import build as build_timing
from roofprof.inputs.timing import to_raw
from roofprof.tables import partitions
from roofprof.tables.columns import concat as concat_columns
from roofprof.tables.columns import taken
from roofprof.tables.files import refuse_inputs
from roofprof.tables.kernels import Trace, combine, concat, is_parquet, read_parquet, write_parquet
from roofprof.tables.sampling import from_ncu_argv, of_reports
from roofprof.tables.schema import COLUMNS, empty_meta
from roofprof.tables.timing import check_columns as check_timing_columns
from roofprof.tables.timing import is_timing_parquet
from roofprof.tables.timing_checks import durations as timing_durations
from roofprof.version import __version__

RulesArg = str | os.PathLike[str] | None


def load(path: str | os.PathLike[str], format: str | None = None, rules: RulesArg = None,
         reader: str | None = None, strict: bool = False, where: str | None = None) -> Trace:
    """Read a trace from a .parquet trace, a .ncu-rep report, a CSV export, a timing trace, a
    dataset folder (its partitions matching ``where``, in memory) or a glob pattern of these
    (:func:`load_many`).

    ``rules``: a TOML rules file extending the built-in attribution rules; the trace's
    ``phase``, ``category`` and ``op`` are then computed again with them.
    ``reader``: for .ncu-rep, "roofprof" (default) or "ncu-report" (NVIDIA's library).
    ``strict``: refuse an input with values roofprof would read as null, rows it would leave
    out (see ``roofprof.tables.checks``) or a cut report, instead of warning.
    """
    if partitions.is_pattern(path):
        return load_many([path], format=format, rules=rules, reader=reader, strict=strict,
                         where=where)
    if partitions.is_dataset(path):
        with strict_mode(strict):  # copies named, metadata fields of the wrong type, ...
            trace = read_dataset(path, where)
        trace.meta["dataset"] = {"path": str(path), "where": where}
        if rules is not None:
            _attribute(trace, load_rules(rules))
        return trace
    if where is not None:
        raise InputError(f"{path}: {option('where')} applies to a dataset folder (made with "
                         "`roofprof convert ... --dataset DIR`)")
    with strict_mode(strict):
        return _load_file(Path(path), format, rules, reader, strict)


def load_many(paths: Sequence[str | os.PathLike[str]], format: str | None = None,
              rules: RulesArg = None, reader: str | None = None, strict: bool = False,
              where: str | None = None) -> Trace:
    """Several inputs as one trace: glob patterns expanded, each file or dataset folder read by
    :func:`load`, each labelled in a ``trace`` column (``--by trace`` groups by it). A matched
    file inside run=/host=/rank= folders is a dataset file: it gets the partition columns and
    ``where`` selects it before it is read, as in a dataset folder."""
    files = partitions.expand_all(paths)
    test = partitions.parse_where(where)  # a bad --where fails before anything is read
    kept: list[Path] = []
    traces: list[Trace] = []
    for f in files:
        values = partitions.values_of(f) if f.is_file() else {}
        if values:
            if not test(values):
                continue
            t = read_part(f, values)
            if rules is not None:  # as load applies them to a dataset folder's files
                _attribute(t, load_rules(rules))
        elif len(files) > 1 and partitions.is_dataset(f) and not any(
                test(part.values) for part in partitions.parts(f)):
            continue  # one of several datasets with no partition --where selects
        else:
            t = load(f, format=format, rules=rules, reader=reader, strict=strict, where=where)
        kept.append(f)
        traces.append(t)
    if not traces:
        raise InputError(f"{', '.join(map(str, paths))}: no dataset file matches {option('where')} "
                         f"{where!r}")
    if len(traces) == 1:
        return traces[0]
    return combine(traces, labels=partitions.labels(kept))


def read_stored(path: Path) -> Trace:
    """A roofprof Parquet trace (a file written before the attribution columns existed is
    attributed with the built-in rules)."""
    return read_parquet(path, attribute=lambda t: _attribute(t, builtin_rules()))


def _load_file(p: Path, format: str | None, rules: RulesArg, reader: str | None,
               strict: bool) -> Trace:
    ruleset = load_rules(rules) if rules is not None else None  # a bad file fails first
    if format in (None, "parquet") and is_parquet(p):
        if is_timing_parquet(p):  # what the kernel table's reader does not check of it
            check_timing_columns(p)
        trace = read_stored(p)
        _warn_stored_timing(trace, p)
        if ruleset is not None:
            _attribute(trace, ruleset)
        return trace
    return read_inputs([p], format=format, rules=ruleset, reader=reader, strict=strict)


def _warn_timing(label: object, whole: int, unended: dict[str, int],
                 open_ranges: dict[str, int] | None = None) -> None:
    """What a user must know of a timing table however it is read (a trace's own export, or
    the Parquet file ``roofprof trace``, ``convert`` or ``join`` wrote): it has no counters; some
    NCCL ranges were left out of its paths; some of the program's ranges never ended (kept open
    to the trace's end); some graph replays were timed as a whole."""
    warnings.warn(f"{label}: a timing trace (every launch timed, no counters): only time is "
                  "shown; `roofprof join TIMING COUNTERS` adds counters", RoofprofWarning,
                  stacklevel=3)
    if note := unended_note(unended):
        warnings.warn(note, RoofprofWarning, stacklevel=3)
    if open_ranges:
        names = ", ".join(f"{name} x{n}" for name, n in sorted(open_ranges.items())[:5])
        more = f" and {len(open_ranges) - 5} more names" if len(open_ranges) > 5 else ""
        warnings.warn(f"{label}: {sum(open_ranges.values())} NVTX range(s) have no end in the "
                      f"trace ({names}{more}): taken as open to the end of the trace, they "
                      "enclose every later launch of their thread (a capture stopped inside "
                      "them, or a push without its pop)", RoofprofWarning, stacklevel=3)
    if whole:
        warnings.warn(f"{whole} CUDA graph replays were timed as a whole (rows '[CUDA graph "
                      "N replay: nodes not recorded]'): their time is measured, their "
                      "kernels are unknown; trace with kernel nodes (roofprof trace "
                      "--graph-nodes all, nsys --cuda-graph-trace=node) to see them",
                      RoofprofWarning, stacklevel=3)


def _warn_stored_timing(trace: Trace, path: Path) -> None:
    """:func:`_warn_timing` for a stored timing table (``meta["table"] == "timing"``)."""
    if trace.meta.get("table") != "timing":
        return
    trace.kernels = timing_durations(trace.kernels, path)
    k = trace.kernels
    whole = int((k["duration_from"] == "replay").sum()) if "duration_from" in k else 0
    timing = trace.meta.get("timing")
    unended = (timing.get("nvtx_unended_library_ranges") if isinstance(timing, dict)
               else None) or {}
    opened = timing.get("nvtx_unended_ranges") if isinstance(timing, dict) else None
    _warn_timing(path, whole, unended, opened if isinstance(opened, dict) else None)


def _attribute(trace: Trace, rules: Rules) -> None:
    attribute(trace.kernels, rules)
    trace.meta["attribution_rules"] = list(rules.sources)


def _read_raw(path: Path, format: str | None, reader: str | None, strict: bool) -> RawKernels:
    """What the format of ``path`` reads, as the kernel table's input (a timing source: its
    timing table's durations, no counters); ``meta["format"]`` names the format."""
    fmt = parsers.detect(path, format)
    if fmt.timing is not None:
        raw = to_raw(build_timing(fmt.timing(path)))
    else:
        assert fmt.read is not None  # every format reads counters or timing
        options = {"reader": reader, "strict": strict}
        raw = fmt.read(path, **{k: v for k, v in options.items() if k in fmt.options})
    raw.meta.setdefault("format", fmt.name)
    return raw


def read_inputs(paths: Sequence[Path], format: str | None = None,
                rules: RulesArg | Rules = None, reader: str | None = None,
                strict: bool = False) -> Trace:
    """Parse one or more reports/exports into one trace (rows in input order)."""
    ruleset = rules if isinstance(rules, Rules) else load_rules(rules)
    tables: list[pd.DataFrame] = []
    meta = empty_meta()
    timing_only = True
    whole = 0  # CUDA graph replays timed as a whole (their kernels unknown)
    unended: dict[str, int] = {}  # NCCL API ranges left out of the paths for want of an end
    open_ranges: dict[str, int] = {}  # the program's ranges without an end, kept open
    commands: list[str | None] = []
    missing_sets: list[set[str]] = []
    for p in paths:
        raw = _read_raw(p, format, reader, strict)
        timing_only = timing_only and bool(raw.meta.get("timing"))
        whole += int(raw.meta.get("graph_replays_whole") or 0)
        for name, n in (raw.meta.get("nvtx_unended_library_ranges") or {}).items():
            unended[name] = unended.get(name, 0) + int(n)
        for name, n in (raw.meta.get("nvtx_unended_ranges") or {}).items():
            open_ranges[name] = open_ranges.get(name, 0) + int(n)
        table, derivation = build_table(raw)
        table["source"] = pd.Series(taken([str(p)], np.zeros(len(table), dtype=np.int64)),
                                    index=table.index)
        tables.append(table)
        meta["sources"].append(str(p))
        meta["formats"].append(raw.meta["format"])
        if raw.meta.get("ncu_version") and not meta["ncu_version"]:
            meta["ncu_version"] = raw.meta["ncu_version"]
        commands.append(raw.meta.get("ncu_command"))
        for col, used in derivation.used.items():
            merged = meta["derivations"].setdefault(col, {})
            for desc, count in used.items():
                merged[desc] = merged.get(desc, 0) + count
        missing_sets.append(set(derivation.missing))
    kernels = concat_columns(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    meta["missing"] = [c for c in COLUMNS if all(c in s for s in missing_sets)]
    meta["gpu"] = sorted({str(g) for g in kernels["device_name"].dropna().unique()})
    meta["roofprof_version"] = __version__
    if timing_only:
        meta["sampling"] = {"kind": "run", "reasons": ["a timing trace: every launch"]}
        _warn_timing(paths[0] if len(paths) == 1 else f"{len(paths)} inputs", whole, unended,
                     open_ranges)
    else:
        for p, missing in zip(paths, missing_sets, strict=True):  # each input says what it lacks
            _warn_missing([c for c in COLUMNS if c in missing], p)
        if all(commands):  # every report says how ncu chose its kernels
            if len(commands) == 1:
                meta["record_argv"] = shlex.split(str(commands[0]))
            meta["sampling"] = of_reports([shlex.split(str(c)) for c in commands], paths)
    trace = Trace(kernels=kernels, meta=meta)
    _attribute(trace, ruleset)
    trace.kernels = trace.kernels[list(COLUMNS)]
    return trace


def _warn_missing(missing: list[str], path: Path) -> None:
    if missing:
        warnings.warn(
            f"{path}: no metric gives {', '.join(missing)}; these columns are null "
            "(record with `roofprof record` to collect every roofline metric)",
            RoofprofWarning, stacklevel=3,
        )


def convert(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str],
            format: str | None = None, command: list[str] | None = None,
            record_argv: list[str] | None = None, rules: RulesArg = None,
            reader: str | None = None, strict: bool = False,
            where: str | None = None) -> Trace:
    """Parse ``inputs`` (reports, exports, traces, dataset folders or glob patterns of them)
    and write one Parquet trace; ``where`` selects dataset partitions.

    ``rules``: a TOML file extending the built-in attribution rules (stored columns follow it).
    ``reader``/``strict``: as in :func:`load`. ``output`` may not be one of the inputs (nor
    ``rules``).
    """
    paths = partitions.expand_all(inputs)
    if not paths:
        raise InputError("no input given")
    refuse_inputs(output, [*paths, rules])
    with strict_mode(strict):
        trace = read_for_convert(paths, format, rules, reader, strict, where)
    if trace.kernels.empty:
        raise InputError(f"{', '.join(map(str, paths))}: no kernels to write; nothing was "
                         "converted")
    trace.meta["command"] = command
    trace.meta["record_argv"] = record_argv
    if record_argv:
        trace.meta["sampling"] = from_ncu_argv(record_argv, command)
        for opt in ("--clock-control", "--cache-control"):
            if opt in record_argv:
                key = opt.strip("-").replace("-", "_")
                trace.meta[key] = record_argv[record_argv.index(opt) + 1]
    write_parquet(trace, output)
    return trace


def read_for_convert(paths: list[Path], format: str | None, rules: RulesArg,
                     reader: str | None = None, strict: bool = False,
                     where: str | None = None) -> Trace:
    """``paths`` (inputs, stored traces, dataset folders) as one trace, as :func:`convert`
    writes it (``roofprof.datasets.write`` adds it to a dataset)."""
    ruleset = load_rules(rules) if rules is not None else None
    traces = _read_stored(paths, where)
    if ruleset is not None:  # traces attributed when written: attribute again with these rules
        for t in traces:
            _attribute(t, ruleset)
    others = [p for p in paths if not is_parquet(p) and not partitions.is_dataset(p)]
    if others:  # parsed and attributed once, with the rules parsed once
        traces.append(read_inputs(others, format=format, rules=ruleset, reader=reader,
                                  strict=strict))
    trace = traces[0] if len(traces) == 1 else concat(traces)
    if ruleset is not None:
        trace.meta["attribution_rules"] = list(ruleset.sources)
    return trace


def _read_stored(paths: list[Path], where: str | None) -> list[Trace]:
    """The roofprof Parquet traces and dataset folders among ``paths``; ``where`` selects
    dataset partitions (and is refused for anything else)."""
    test = partitions.parse_where(where)
    out = []
    for p in paths:
        values = partitions.values_of(p) if is_parquet(p) else {}
        if where is not None and not values and not partitions.is_dataset(p):
            raise InputError(f"{p}: {option('where')} applies to a dataset folder or its files "
                             "(made with `roofprof convert ... --dataset DIR`)")
        if partitions.is_dataset(p):
            out.append(read_dataset(p, where))
        elif values:
            if test(values):
                out.append(read_part(p, values))
        elif is_parquet(p):
            out.append(read_stored(p))
    return out


def read_dataset(directory: str | os.PathLike[str], where: str | None = None) -> Trace:
    """The dataset's files matching ``where`` as one in-memory trace, with ``run``, ``host``
    and ``rank`` columns from their partitions."""
    found = partitions.parts(directory, where)
    traces = [read_part(part.path, part.values) for part in found]
    _one_kind([(part.path, t.meta.get("table") == "timing") for part, t in zip(found, traces,
                                                                              strict=True)])
    if len(traces) == 1:
        traces[0].kernels = traces[0].kernels.reset_index(drop=True)
        return traces[0]
    return concat(traces)


def _one_kind(files: Sequence[tuple[Path, bool]]) -> None:
    """Refuse a dataset holding timing tables beside traces of counters (each file: its path
    and whether it is a timing table), naming a file of the fewer kind and one of the others,
    as the query engines do (``roofprof.datasets.footers``): their times are of different
    launches and would add up silently."""
    timing = [f for f, t in files if t]
    counters = [f for f, t in files if not t]
    if not timing or not counters:
        return
    timed, counted = "a timing table (every launch timed, no counters)", "a trace of counters"
    odd, other, kind, other_kind = (timing[0], counters[0], timed, counted) \
        if len(timing) <= len(counters) else (counters[0], timing[0], counted, timed)
    raise InputError(f"{odd}: {kind}, but {other} is {other_kind}: their times are of "
                     "different launches and do not add up; keep each kind in a dataset of its "
                     "own (`roofprof join TIMING COUNTERS -o joined.parquet` makes one table of "
                     "a timing table and its counters)")


def read_part(path: Path, values: dict[str, Any]) -> Trace:
    """One dataset file with ``run``, ``host`` and ``rank`` columns from its partition."""
    t = read_stored(path)
    k = t.kernels.copy()
    for col in partitions.PARTITIONS:
        k[col] = pd.Series(values.get(col), index=k.index, dtype="Int64") \
            if col in partitions.INTEGER_PARTITIONS else \
            pd.Series(taken([values.get(col)], np.zeros(len(k), dtype=np.int64)), index=k.index)
    t.kernels = k
    return t
