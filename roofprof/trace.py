"""A trace: the kernel table plus its metadata, read from any input and written as Parquet.

``load(path)`` accepts a roofprof Parquet trace, an Nsight Compute report or a CSV export alike;
``convert(inputs, output)`` concatenates several inputs (with a ``source`` column) and writes
one Parquet file atomically: the file appears complete or not at all, also on Ctrl-C.

The LLM attribution columns (``phase``, ``category``, ``op``) are filled by the built-in rules
when a trace is built and stored with it; a trace written before they existed is attributed on
load. Giving ``rules`` (a user's TOML file, see ``roofprof.attribution``) attributes again with
those rules, whatever the input.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from roofprof import __version__
from roofprof.atomic import atomic_output
from roofprof.errors import InputError, RoofprofWarning
from roofprof.schema import ATTRIBUTION, COLUMNS, SCHEMA_VERSION, empty_meta, upgrade

META_KEY = b"roofprof"
PARQUET_MAGIC = b"PAR1"


@dataclass
class Trace:
    """Measured kernels (``kernels``, one row per launch) and what produced them (``meta``)."""

    kernels: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=empty_meta)

    def __len__(self) -> int:
        return len(self.kernels)


def _is_parquet(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == PARQUET_MAGIC
    except OSError:
        return False


RulesArg = str | os.PathLike[str] | None


def load(path: str | os.PathLike[str], format: str | None = None,
         rules: RulesArg = None, reader: str | None = None, strict: bool = False) -> Trace:
    """Read a trace from a .parquet trace, a .ncu-rep report or a CSV export.

    ``rules``: a TOML rules file extending the built-in attribution rules; the trace's
    ``phase``, ``category`` and ``op`` are then computed again with them.
    ``reader``: for .ncu-rep, "roofprof" (default) or "ncu-report" (NVIDIA's library);
    ``strict``: a cut report is an error instead of a warning (see ``parsers.ncu_rep``).
    """
    from roofprof.attribution import load_rules

    p = Path(path)
    ruleset = load_rules(rules) if rules is not None else None  # a bad file fails first
    if format in (None, "parquet") and _is_parquet(p):
        trace = read_parquet(p)
        if ruleset is not None:
            _attribute(trace, ruleset)
        return trace
    return read_inputs([p], format=format, rules=rules, reader=reader, strict=strict)


def _attribute(trace: Trace, rules: Any) -> None:
    from roofprof.attribution import attribute

    attribute(trace.kernels, rules)
    trace.meta["attribution_rules"] = list(rules.sources)


def read_inputs(paths: Sequence[Path], format: str | None = None,
                rules: RulesArg = None, reader: str | None = None,
                strict: bool = False) -> Trace:
    """Parse one or more reports/exports into one trace (rows in input order)."""
    import parsers
    from roofprof.attribution import load_rules
    from roofprof.derive import build_table

    ruleset = load_rules(rules)

    tables: list[pd.DataFrame] = []
    meta = empty_meta()
    for p in paths:
        fmt = parsers.detect(p, format)
        options = {"reader": reader, "strict": strict}
        raw = fmt.read(p, **{k: v for k, v in options.items() if k in fmt.options})
        table, derivation = build_table(raw)
        table["source"] = pd.Series(str(p), index=table.index, dtype="string")
        tables.append(table)
        meta["sources"].append(str(p))
        meta["formats"].append(raw.meta.get("format", fmt.name))
        if raw.meta.get("ncu_version") and not meta["ncu_version"]:
            meta["ncu_version"] = raw.meta["ncu_version"]
        for col, used in derivation.used.items():
            merged = meta["derivations"].setdefault(col, {})
            for desc, count in used.items():
                merged[desc] = merged.get(desc, 0) + count
        meta.setdefault("_missing_per_input", []).append(set(derivation.missing))
    kernels = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    missing_sets: list[set[str]] = meta.pop("_missing_per_input")
    meta["missing"] = [c for c in COLUMNS if all(c in s for s in missing_sets)]
    meta["gpu"] = sorted({str(g) for g in kernels["device_name"].dropna().unique()})
    meta["roofprof_version"] = __version__
    _warn_missing(meta["missing"], paths)
    trace = Trace(kernels=kernels, meta=meta)
    _attribute(trace, ruleset)
    trace.kernels = trace.kernels[list(COLUMNS)]
    return trace


def _warn_missing(missing: list[str], paths: Sequence[Path]) -> None:
    if missing:
        where = str(paths[0]) if len(paths) == 1 else f"{len(paths)} inputs"
        warnings.warn(
            f"{where}: no metric gives {', '.join(missing)}; these columns are null "
            "(record with `roofprof record` to collect every roofline metric)",
            RoofprofWarning, stacklevel=3,
        )


# ------------------------------------------------------------------------------- parquet I/O


def _arrow_table(trace: Trace) -> Any:
    import pyarrow as pa

    df = trace.kernels.copy()
    df["nvtx"] = df["nvtx"].map(lambda v: list(v) if v is not None else [])
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {**(table.schema.metadata or {}), META_KEY: json.dumps(trace.meta).encode()}
    return table.replace_schema_metadata(meta)


def write_parquet(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write atomically: a temporary file in the same folder, renamed over ``path`` when done."""
    import pyarrow.parquet as pq

    trace.meta["schema_version"] = SCHEMA_VERSION
    trace.meta["created"] = trace.meta.get("created") or _dt.datetime.now(
        _dt.UTC).isoformat(timespec="seconds")
    table = _arrow_table(trace)
    with atomic_output(path) as fh:
        pq.write_table(table, fh, compression="zstd")


def read_parquet(path: Path) -> Trace:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc}); convert the report "
                         "again") from None
    raw_meta = (table.schema.metadata or {}).get(META_KEY)
    if raw_meta is None:
        raise InputError(f"{path}: a Parquet file but not a roofprof trace (no roofprof "
                         "metadata); make traces with `roofprof convert` or `roofprof record`")
    meta = upgrade(json.loads(raw_meta))
    if int(meta.get("schema_version", 0)) > SCHEMA_VERSION:
        raise InputError(f"{path}: written with trace schema v{meta['schema_version']}, newer "
                         f"than this roofprof reads (v{SCHEMA_VERSION}); upgrade roofprof")
    df = table.to_pandas()
    unattributed = any(c not in df for c in ATTRIBUTION)
    for col in COLUMNS:
        if col not in df:
            df[col] = pd.NA if col != "nvtx" else [[] for _ in range(len(df))]
    df["nvtx"] = df["nvtx"].map(lambda v: [] if v is None else list(v))
    trace = Trace(kernels=df[list(COLUMNS)], meta=meta)
    if unattributed:  # written before attribution existed: use the built-in rules
        from roofprof.attribution import builtin_rules

        _attribute(trace, builtin_rules())
    return trace


def convert(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str],
            format: str | None = None, command: list[str] | None = None,
            record_argv: list[str] | None = None, rules: RulesArg = None,
            reader: str | None = None, strict: bool = False) -> Trace:
    """Parse ``inputs`` (reports, exports or traces) and write one Parquet trace.

    ``rules``: a TOML file extending the built-in attribution rules (stored columns follow it).
    ``reader``/``strict``: how .ncu-rep inputs are read (see :func:`load`).
    """
    from roofprof.attribution import load_rules

    paths = [Path(p) for p in inputs]
    if not paths:
        raise InputError("no input given")
    ruleset = load_rules(rules) if rules is not None else None
    traces = [read_parquet(p) for p in paths if _is_parquet(p)]
    others = [p for p in paths if not _is_parquet(p)]
    if others:
        traces.append(read_inputs(others, format=format, rules=rules, reader=reader,
                                  strict=strict))
    trace = traces[0] if len(traces) == 1 else _concat(traces)
    if ruleset is not None:
        _attribute(trace, ruleset)
    trace.meta["command"] = command
    trace.meta["record_argv"] = record_argv
    if record_argv:
        for opt in ("--clock-control", "--cache-control"):
            if opt in record_argv:
                key = opt.strip("-").replace("-", "_")
                trace.meta[key] = record_argv[record_argv.index(opt) + 1]
    write_parquet(trace, output)
    return trace


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
    kernels = pd.concat([t.kernels for t in traces], ignore_index=True)
    meta["gpu"] = sorted({str(g) for g in kernels["device_name"].dropna().unique()})
    meta["roofprof_version"] = __version__
    return Trace(kernels=kernels, meta=meta)
