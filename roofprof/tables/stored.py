"""What every table roofprof keeps has in common: the kernel table (``Trace``) and the timing
table (``TimingTrace``) are both a :class:`Table` (rows and metadata), and every Parquet file
roofprof writes carries its metadata as JSON under :data:`META_KEY`, written atomically
(:func:`write`: complete or not at all) and compressed alike."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from roofprof.errors import InputError
from roofprof.tables.files import atomic_output

#: the Parquet key-value metadata key of roofprof's metadata (a JSON object)
META_KEY = b"roofprof"


@dataclass
class Table:
    """Rows (``kernels``: one per kernel launch) and what produced them (``meta``)."""

    kernels: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.kernels)


def with_meta(schema: pa.Schema, meta: dict[str, Any]) -> pa.Schema:
    """``schema`` carrying ``meta`` under :data:`META_KEY` (beside what it carries already)."""
    return schema.with_metadata({**(schema.metadata or {}), META_KEY: json.dumps(meta).encode()})


def header(path: Path, damaged: str, not_ours: str) -> tuple[bytes, Any]:
    """A roofprof Parquet file's raw metadata (JSON, unchecked) and its Arrow schema; one
    :class:`~roofprof.errors.InputError` where the footer cannot be read (``damaged``: what to
    do then) or holds no roofprof metadata (``not_ours``: what to give instead)."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc}); {damaged}") from None
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise InputError(f"{path}: a Parquet file but not a roofprof trace (no roofprof "
                         f"metadata); {not_ours}")
    return raw, schema


def meta_of(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The roofprof metadata of a Parquet file (``{}`` where it has none)."""
    raw = (pq.read_schema(Path(path)).metadata or {}).get(META_KEY, b"{}")
    meta: dict[str, Any] = json.loads(raw)
    return meta


def write(table: pa.Table, meta: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``table`` with ``meta`` to ``path``, atomically."""
    table = table.replace_schema_metadata(with_meta(table.schema, meta).metadata)
    with atomic_output(path) as fh:
        pq.write_table(table, fh, compression="zstd")
