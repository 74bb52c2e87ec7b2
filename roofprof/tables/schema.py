"""The kernel table, schema v1: the one contract between parsers, analysis and users.

One row per profiled kernel launch. Units live in column names. A quantity the input cannot give
is null (NaN / None), never 0. Identity and attribution columns come first, then the LLM
attribution columns (``phase``, ``category``, ``op``: see ``roofprof.inputs.attribution``), then the
measured columns of the metric table (``roofprof.tables.metrics``) in its order, then ``flop``.

Text columns are dictionary-typed (:data:`TEXT`): in memory a pandas categorical whose categories
are the distinct values as ``str``, sorted (so sorting and grouping by one gives the order plain
strings give), null where a row has none; in Parquet a dictionary-encoded column of Arrow type
``dictionary<int32, string>`` (``roofprof.tables.columns.arrow_text``), which reads back as the same
categorical. A run's millions of launches hold a few hundred kernel names, grids and annotation
paths, so a column costs one small integer code per row and each distinct string once (a 10M-row
``kernel_demangled`` of 350-character names: 20 MB of codes, not 3.5 GB of strings).
``roofprof.tables.columns`` makes such columns (``text``, ``taken``) and concatenates tables whose
columns have different categories (``concat``: the union, never a fallback to plain strings). A
selection of rows keeps its column's categories, including values no longer present: group with
``observed=True`` (pandas' default) and count with ``value_counts()[lambda c: c > 0]``. Files
written before (plain ``string`` columns) read as the same categoricals.

Parquet files carry key-value metadata under ``roofprof.*`` keys (see ``META_KEYS``); readers of
older schema versions fill what is missing with the defaults in ``upgrade``.
"""

from __future__ import annotations

from typing import Any

from roofprof.tables.metrics import QUANTITIES

SCHEMA_VERSION = 1

#: the pandas dtype of every text column: dictionary-typed (see the module docstring)
TEXT = "category"

#: identity and attribution columns -> pandas dtype
IDENTITY: dict[str, str] = {
    "id": "int64",              # ncu's result id within its report
    "source": TEXT,             # the input file the row came from
    "kernel": TEXT,             # function name (ncu's default name base)
    "kernel_demangled": TEXT,
    "process_id": "Int64",
    "process_name": TEXT,
    "host": TEXT,
    "device": "Int64",          # CUDA device ordinal
    "device_name": TEXT,
    "cc": TEXT,                 # compute capability "9.0"
    "context": "Int64",
    "stream": "Int64",
    "grid": TEXT,               # "(x, y, z)"
    "block": TEXT,
    "nvtx": "object",           # list[str]: push/pop ranges, outermost first; one list per
                                # distinct path, shared by its rows (never changed in place)
    "range": TEXT,              # nvtx joined with "/", "" when none
}

#: the values of the ``phase`` column (``roofprof.phase`` names them; attribution rules set them)
PHASES: tuple[str, ...] = ("prefill", "decode", "mixed", "spec", "other")

#: LLM attribution columns -> pandas dtype, filled by rules (``roofprof.inputs.attribution``) when a
#: trace is built, and on load for traces written before they existed
ATTRIBUTION: dict[str, str] = {
    "phase": TEXT,              # prefill | decode | mixed | spec | other, from the NVTX stack
    "category": TEXT,           # gemm | attention | norm | ... | other, from the kernel names
    "op": TEXT,                 # qkv_proj | o_proj | ... from module-path ranges; null without
}

MEASURED: tuple[str, ...] = tuple(q.column for q in QUANTITIES)
COLUMNS: tuple[str, ...] = (*IDENTITY, *ATTRIBUTION, *MEASURED, "flop")


def dtype_of(column: str) -> str:
    """The pandas dtype of a schema column."""
    return IDENTITY.get(column) or ATTRIBUTION.get(column) or "float64"

#: metadata keys stored in Parquet (values are JSON strings)
META_KEYS: tuple[str, ...] = (
    "schema_version", "roofprof_version", "sources", "formats", "ncu_version", "gpu",
    "command", "record_argv", "clock_control", "cache_control", "created", "derivations",
    "missing", "attribution_rules",
)


def empty_meta() -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "roofprof_version": "",
        "sources": [],
        "formats": [],
        "ncu_version": None,
        "gpu": [],
        "command": None,
        "record_argv": None,
        "clock_control": None,
        "cache_control": None,
        "created": None,
        "derivations": {},
        "missing": [],
        "attribution_rules": [],
    }


def upgrade(meta: dict[str, Any]) -> dict[str, Any]:
    """Fill metadata keys an older writer did not know with explicit defaults."""
    out = empty_meta()
    out.update(meta)
    return out
