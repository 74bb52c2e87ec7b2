"""A trace: the kernel table plus its metadata, read from any input and written as Parquet.

``load(path)`` accepts a roofprof Parquet trace, an Nsight Compute report or a CSV export alike;
``convert(inputs, output)`` concatenates several inputs (with a ``source`` column) and writes
one Parquet file atomically: the file appears complete or not at all, also on Ctrl-C.

The LLM attribution columns (``phase``, ``category``, ``op``) are filled by the built-in rules when
a trace is built and stored with it; a trace written before they existed is attributed on load.
Giving ``rules`` (a user's TOML file, see ``roofprof.inputs.attribution``) attributes again with
those rules, whatever the input.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from parsers.stacks import unended_note
from roofprof import __version__
from roofprof.errors import InputError, OutputError, RoofprofWarning
from roofprof.tables.columns import concat, nulls, taken
from roofprof.tables.files import atomic_output
from roofprof.tables.partitions import label_of
from roofprof.tables.schema import (
    ATTRIBUTION,
    COLUMNS,
    IDENTITY,
    MEASURED,
    SCHEMA_VERSION,
    TEXT,
    dtype_of,
    empty_meta,
    upgrade,
)

if TYPE_CHECKING:
    from roofprof.inputs.attribution import Rules

META_KEY = b"roofprof"
PARQUET_MAGIC = b"PAR1"
#: the kernel table's text columns, and those a dataset or a combination adds
TEXT_COLUMNS = (*(c for c in COLUMNS if dtype_of(c) == TEXT), "run", "trace")


@dataclass
class Trace:
    """Measured kernels (``kernels``, one row per launch) and what produced them (``meta``)."""

    kernels: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=empty_meta)

    def __len__(self) -> int:
        return len(self.kernels)

    def __repr__(self) -> str:
        k = self.kernels
        gpus = ", ".join(str(g) for g in self.meta.get("gpu") or []) or "unknown GPU"
        sources = [os.path.basename(str(s)) for s in self.meta.get("sources") or []]
        where = sources[0] if len(sources) == 1 else f"{len(sources)} sources"
        total = float(k["duration_ns"].sum()) if "duration_ns" in k.columns else float("nan")
        return (f"<Trace: {len(k):,} kernels, {total / 1e6:.3f} ms GPU time, {gpus}, "
                f"from {where}>")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the trace as a Parquet file (atomically) and return its path."""
        out = Path(path)
        if out.suffix != ".parquet":
            raise OutputError(f"{out}: a trace is saved as .parquet")
        write_parquet(self, out)
        return out


def _is_parquet(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == PARQUET_MAGIC
    except OSError:
        return False


RulesArg = str | os.PathLike[str] | None


def load(path: str | os.PathLike[str], format: str | None = None,
         rules: RulesArg = None, reader: str | None = None, strict: bool = False,
         where: str | None = None) -> Trace:
    """Read a trace from a .parquet trace, a .ncu-rep report, a CSV export, a dataset folder
    (``roofprof.tables.partitions``: its partitions matching ``where``, in memory). Glob patterns:
    :func:`roofprof.inputs.many.load`.

    ``rules``: a TOML rules file extending the built-in attribution rules; the trace's
    ``phase``, ``category`` and ``op`` are then computed again with them.
    ``reader``: for .ncu-rep, "roofprof" (default) or "ncu-report" (NVIDIA's library).
    ``strict``: refuse an input with values roofprof would read as null, rows it would leave
    out (see ``roofprof.tables.checks``) or a cut report, instead of warning.
    """
    from roofprof.tables import partitions as dataset
    from roofprof.tables.checks import strict_mode

    if dataset.is_dataset(path):
        trace = read_dataset(path, where)
        trace.meta["dataset"] = {"path": str(path), "where": where}
        if rules is not None:
            from roofprof.inputs.attribution import load_rules

            _attribute(trace, load_rules(rules))
        return trace
    if where is not None:
        raise InputError(f"{path}: --where applies to a dataset folder (made with "
                         "`roofprof convert ... --dataset DIR`)")
    with strict_mode(strict):
        return _load(Path(path), format, rules, reader, strict)


def _load(p: Path, format: str | None, rules: RulesArg, reader: str | None,
          strict: bool) -> Trace:
    from roofprof.inputs.attribution import load_rules

    ruleset = load_rules(rules) if rules is not None else None  # a bad file fails first
    if format in (None, "parquet") and _is_parquet(p):
        trace = read_parquet(p)
        _warn_stored_timing(trace, p)
        if ruleset is not None:
            _attribute(trace, ruleset)
        return trace
    return read_inputs([p], format=format, rules=ruleset, reader=reader, strict=strict)


def _warn_timing(label: object, whole: int, unended: dict[str, int]) -> None:
    """What a user must know of a timing table however it is read (a trace's own export, or
    the Parquet file ``roofprof trace``, ``convert`` or ``join`` wrote): it has no counters; some
    NCCL ranges were left out of its paths; some graph replays were timed as a whole."""
    warnings.warn(f"{label}: a timing trace (every launch timed, no counters): only time is "
                  "shown; `roofprof join TIMING COUNTERS` adds counters", RoofprofWarning,
                  stacklevel=3)
    if note := unended_note(unended):
        warnings.warn(note, RoofprofWarning, stacklevel=3)
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
    k = trace.kernels
    whole = int((k["duration_from"] == "replay").sum()) if "duration_from" in k else 0
    timing = trace.meta.get("timing")
    unended = (timing.get("nvtx_unended_library_ranges") if isinstance(timing, dict)
               else None) or {}
    _warn_timing(path, whole, unended)


def _attribute(trace: Trace, rules: Any) -> None:
    from roofprof.inputs.attribution import attribute

    attribute(trace.kernels, rules)
    trace.meta["attribution_rules"] = list(rules.sources)


def read_inputs(paths: Sequence[Path], format: str | None = None,
                rules: RulesArg | Rules = None, reader: str | None = None,
                strict: bool = False) -> Trace:
    """Parse one or more reports/exports into one trace (rows in input order)."""
    import parsers
    from roofprof.inputs.attribution import Rules, load_rules
    from roofprof.inputs.derive import build_table

    ruleset = rules if isinstance(rules, Rules) else load_rules(rules)

    tables: list[pd.DataFrame] = []
    meta = empty_meta()
    timing_only = True
    whole = 0  # CUDA graph replays timed as a whole (their kernels unknown)
    unended: dict[str, int] = {}  # NCCL API ranges left out of the paths for want of an end
    commands: list[str | None] = []
    for p in paths:
        fmt = parsers.detect(p, format)
        options = {"reader": reader, "strict": strict}
        raw = fmt.read(p, **{k: v for k, v in options.items() if k in fmt.options})
        timing_only = timing_only and bool(raw.meta.get("timing"))
        whole += int(raw.meta.get("graph_replays_whole") or 0)
        for name, n in (raw.meta.get("nvtx_unended_library_ranges") or {}).items():
            unended[name] = unended.get(name, 0) + int(n)
        table, derivation = build_table(raw)
        table["source"] = pd.Series(taken([str(p)], np.zeros(len(table), dtype=np.int64)),
                                    index=table.index)
        tables.append(table)
        meta["sources"].append(str(p))
        meta["formats"].append(raw.meta.get("format", fmt.name))
        if raw.meta.get("ncu_version") and not meta["ncu_version"]:
            meta["ncu_version"] = raw.meta["ncu_version"]
        commands.append(raw.meta.get("ncu_command"))
        for col, used in derivation.used.items():
            merged = meta["derivations"].setdefault(col, {})
            for desc, count in used.items():
                merged[desc] = merged.get(desc, 0) + count
        meta.setdefault("_missing_per_input", []).append(set(derivation.missing))
    kernels = concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    missing_sets: list[set[str]] = meta.pop("_missing_per_input")
    meta["missing"] = [c for c in COLUMNS if all(c in s for s in missing_sets)]
    meta["gpu"] = sorted({str(g) for g in kernels["device_name"].dropna().unique()})
    meta["roofprof_version"] = __version__
    if timing_only:
        meta["sampling"] = {"kind": "run", "reasons": ["a timing trace: every launch"]}
        _warn_timing(paths[0] if len(paths) == 1 else f"{len(paths)} inputs", whole, unended)
    else:
        for p, missing in zip(paths, missing_sets, strict=True):  # each input says what it lacks
            _warn_missing([c for c in COLUMNS if c in missing], p)
        if all(commands):  # every report says how ncu chose its kernels
            from roofprof.tables.sampling import of_reports

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


# ------------------------------------------------------------------------------- parquet I/O


def arrow_table(trace: Trace) -> Any:
    """The trace as an Arrow table with its roofprof metadata (what a Parquet file holds)."""
    from roofprof.tables.columns import to_arrow

    df = trace.kernels.copy(deep=False)
    cells = df["nvtx"].to_numpy()
    first = np.unique(np.fromiter(map(id, cells), dtype=np.int64, count=len(cells)),
                      return_index=True)[1]
    if not all(type(v) is list for v in cells[first]):  # each distinct cell object once
        df["nvtx"] = df["nvtx"].map(lambda v: list(v) if v is not None else [])
    table = to_arrow(df)
    meta = {**(table.schema.metadata or {}), META_KEY: json.dumps(trace.meta).encode()}
    return table.replace_schema_metadata(meta)


def write_parquet(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write atomically: a temporary file in the same folder, renamed over ``path`` when done."""
    import pyarrow.parquet as pq

    trace.meta["schema_version"] = SCHEMA_VERSION
    trace.meta["created"] = trace.meta.get("created") or _dt.datetime.now(
        _dt.UTC).isoformat(timespec="seconds")
    table = arrow_table(trace)
    with atomic_output(path) as fh:
        pq.write_table(table, fh, compression="zstd")


def read_parquet(path: Path) -> Trace:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from roofprof.tables.columns import read_frame

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc}); convert the report "
                         "again") from None
    raw_meta = (schema.metadata or {}).get(META_KEY)
    if raw_meta is None:
        raise InputError(f"{path}: a Parquet file but not a roofprof trace (no roofprof "
                         "metadata); make traces with `roofprof convert` or `roofprof record`")
    from roofprof.tables import checks as validate

    meta = upgrade(validate.trace_meta(raw_meta, path))
    validate.column_types(schema, path, IDENTITY)
    try:  # text columns coded (files written before hold plain strings); nvtx shared by path
        df = read_frame(path, TEXT_COLUMNS, ["nvtx"])
    except (OSError, TypeError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{path}: its columns do not match their stored types ({exc}); "
                         "convert the report again") from None
    # a timing table (roofprof trace, Kineto, nsys) has no counters by design: nothing missing
    timing_only = meta.get("table") == "timing"
    df = validate.trace_columns(df, path, (*MEASURED, "flop"),
                                [*MEASURED, "flop"] if timing_only else meta["missing"])
    if df.empty:
        raise InputError(f"{path}: the trace holds no kernels; record or convert it again")
    unattributed = any(c not in df for c in ATTRIBUTION)
    for col in COLUMNS:
        if col not in df:
            df[col] = nulls(len(df)) if dtype_of(col) == TEXT else pd.NA if col != "nvtx" \
                else [[] for _ in range(len(df))]
    if df["nvtx"].dtype != object or not all(  # not a list column (an all-null one)
            isinstance(v, list) for v in df["nvtx"].iloc[:1]):
        df["nvtx"] = df["nvtx"].map(lambda v: [] if v is None else list(v))
    extra = [c for c in df.columns if c not in COLUMNS]  # e.g. a join's provenance columns
    trace = Trace(kernels=df[[*COLUMNS, *extra]], meta=meta)
    if unattributed:  # written before attribution existed: use the built-in rules
        from roofprof.inputs.attribution import builtin_rules

        _attribute(trace, builtin_rules())
    return trace


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
    from roofprof.tables.checks import strict_mode
    from roofprof.tables.files import refuse_inputs
    from roofprof.tables.partitions import expand_all

    paths = expand_all(inputs)
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
        from roofprof.tables.sampling import from_ncu_argv

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
    from roofprof.inputs.attribution import load_rules
    from roofprof.tables import partitions as dataset

    ruleset = load_rules(rules) if rules is not None else None
    traces = _read_stored(paths, where)
    if ruleset is not None:  # traces attributed when written: attribute again with these rules
        for t in traces:
            _attribute(t, ruleset)
    others = [p for p in paths if not _is_parquet(p) and not dataset.is_dataset(p)]
    if others:  # parsed and attributed once, with the rules parsed once
        traces.append(read_inputs(others, format=format, rules=ruleset, reader=reader,
                                  strict=strict))
    trace = traces[0] if len(traces) == 1 else _concat(traces)
    if ruleset is not None:
        trace.meta["attribution_rules"] = list(ruleset.sources)
    return trace


def _read_stored(paths: list[Path], where: str | None) -> list[Trace]:
    """The roofprof Parquet traces and dataset folders among ``paths``; ``where`` selects
    dataset partitions (and is refused for anything else)."""
    from roofprof.tables import partitions as dataset

    test = dataset.parse_where(where)
    out = []
    for p in paths:
        values = dataset.values_of(p) if _is_parquet(p) else {}
        if where is not None and not values and not dataset.is_dataset(p):
            raise InputError(f"{p}: --where applies to a dataset folder or its files (made "
                             "with `roofprof convert ... --dataset DIR`)")
        if dataset.is_dataset(p):
            out.append(read_dataset(p, where))
        elif values:
            if test(values):
                out.append(read_part(p, values))
        elif _is_parquet(p):
            out.append(read_parquet(p))
    return out


def _concat(traces: list[Trace]) -> Trace:
    meta = empty_meta()
    for t in traces:
        meta["sources"] += t.meta["sources"]
        meta["formats"] += t.meta["formats"]
        meta["ncu_version"] = meta["ncu_version"] or t.meta.get("ncu_version")
        for col, used in t.meta.get("derivations", {}).items():
            merged = meta["derivations"].setdefault(col, {})
            for desc, n in used.items():
                merged[desc] = merged.get(desc, 0) + n
    meta["missing"] = [c for c in COLUMNS if all(c in t.meta.get("missing", []) for t in traces)]
    from roofprof.tables.sampling import decisive, sampling

    meta["sampling"] = sampling(decisive(t.meta for t in traces))
    kernels = concat([t.kernels for t in traces], ignore_index=True)
    meta["gpu"] = sorted({str(g) for g in kernels["device_name"].dropna().unique()})
    meta["roofprof_version"] = __version__
    return Trace(kernels=kernels, meta=meta)


def read_dataset(directory: str | os.PathLike[str], where: str | None = None) -> Trace:
    """The dataset's files matching ``where`` as one in-memory trace, with ``run``, ``host``
    and ``rank`` columns from their partitions."""
    from roofprof.tables import partitions as dataset

    traces = [read_part(part.path, part.values) for part in dataset.parts(directory, where)]
    if len(traces) == 1:
        traces[0].kernels = traces[0].kernels.reset_index(drop=True)
        return traces[0]
    return _concat(traces)


def read_part(path: Path, values: dict[str, Any]) -> Trace:
    """One dataset file with ``run``, ``host`` and ``rank`` columns from its partition."""
    from roofprof.tables import partitions as dataset

    t = read_parquet(path)
    k = t.kernels.copy()
    for col in dataset.PARTITIONS:
        k[col] = pd.Series(values.get(col), index=k.index, dtype="Int64") \
            if col in dataset.INTEGER_PARTITIONS else \
            pd.Series(taken([values.get(col)], np.zeros(len(k), dtype=np.int64)), index=k.index)
    t.kernels = k
    return t


def combine(traces: Sequence[Trace], labels: Sequence[str] | None = None) -> Trace:
    """Several traces as one, each kernel keeping its trace's label in a ``trace`` column
    (``--by trace`` groups by it). Labels default to the file names without suffixes."""
    if len(traces) == 1 and labels is None:
        return traces[0]
    names = list(labels) if labels is not None else [
        label_of((t.meta.get("sources") or [f"trace {i + 1}"])[0]) for i, t in enumerate(traces)]
    if len(set(names)) != len(names):
        names = [f"{i + 1}:{n}" for i, n in enumerate(names)]
    parts = []
    for name, t in zip(names, traces, strict=True):
        k = t.kernels.copy()
        k["trace"] = pd.Series(taken([name], np.zeros(len(k), dtype=np.int64)), index=k.index)
        parts.append(Trace(k, t.meta))
    out = _concat(parts)
    return out
