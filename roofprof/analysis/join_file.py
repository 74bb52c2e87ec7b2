"""The joined table (``roofprof.analysis.join``) written to Parquet in chunks, atomically: from a
timing table in memory (:func:`write_joined`), or from a timing Parquet file read in two passes
(:func:`write_joined_file`: its key columns whole for the match, the rest a row group at a time
as the joined rows are written), so tens of millions of launches join in bounded memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from roofprof.analysis.join import UNUSED_TIMING, chunk_table, matched
from roofprof.errors import InputError

if TYPE_CHECKING:
    from roofprof.tables.kernels import Trace
    from roofprof.tables.timing import TimingTrace

__all__ = ["KEY_TIMING", "write_joined", "write_joined_file"]


def write_joined(timing: TimingTrace, counters: Trace, output: str | os.PathLike[str],
                 spread: float = 0.05, chunk_rows: int = 1_000_000) -> dict[str, Any]:
    """Join and write Parquet in chunks of ``chunk_rows`` (atomically); returns the facts."""
    j = matched(timing, counters, spread)
    t = j.timing
    _write(output, j.meta, (chunk_table(j.match, t.iloc[lo:lo + chunk_rows], j.device_names, lo)
                            for lo in range(0, len(t), chunk_rows)))
    return j.facts


def _write(output: str | os.PathLike[str], meta: dict[str, Any], chunks: Iterator[Any]) -> None:
    """The joined table's chunks (Arrow tables; the first gives the schema) to Parquet,
    atomically, with ``meta``."""
    import json

    import pyarrow.parquet as pq

    from roofprof.tables.files import atomic_output
    from roofprof.tables.kernels import META_KEY
    from roofprof.tables.schema import SCHEMA_VERSION

    meta["schema_version"] = SCHEMA_VERSION
    first = next(chunks)
    schema = first.schema.with_metadata({META_KEY: json.dumps(meta).encode()})
    # a value per launch: a dictionary page would be tried, filled and dropped in every chunk
    # (pyarrow takes a list of columns where its stubs say bool)
    options: dict[str, Any] = {"use_dictionary": [c for c in schema.names
                                                  if c not in DISTINCT_PER_LAUNCH]}
    with atomic_output(output) as fh, pq.ParquetWriter(fh, schema, compression="zstd",
                                                       **options) as w:
        w.write_table(first.cast(schema))
        del first
        for chunk in chunks:
            w.write_table(chunk.cast(schema))


#: columns with a value of their own for (nearly) every launch: written without dictionary
DISTINCT_PER_LAUNCH = frozenset({"id", "start_ns", "end_ns", "correlation_id"})
#: the timing columns the match, its report and its checks read; the others are only copied
KEY_TIMING = ("id", "kernel", "kernel_demangled", "grid", "block", "device", "device_name",
              "range", "phase", "op", "duration_ns", "duration_from")


def write_joined_file(timing: str | os.PathLike[str], counters: Trace,
                      output: str | os.PathLike[str], spread: float = 0.05,
                      chunk_rows: int = 1_000_000) -> dict[str, Any]:
    """:func:`write_joined` of a timing table in Parquet (``roofprof trace``), read twice: its
    :data:`KEY_TIMING` columns whole for the match, the rest ``chunk_rows`` rows at a time as
    the joined rows are written (the range instances' times, :data:`UNUSED_TIMING`, never):
    the whole table is never in memory. The same table as ``write_joined``."""
    import pyarrow as pa

    from roofprof.tables.columns import read_parquet_text, to_frame
    from roofprof.tables.schema import TEXT
    from roofprof.tables.timing import COLUMNS, read

    text = [c for c, d in COLUMNS.items() if d == TEXT]
    j = matched(read(timing, only=KEY_TIMING), counters, spread)
    m = j.match
    del j.timing  # only the match is needed from here on
    batches = read_parquet_text(timing, text, lists=("nvtx",), skip=UNUSED_TIMING,
                                batch_rows=chunk_rows)

    def chunks() -> Iterator[Any]:
        lo = 0
        for batch in batches:
            part = to_frame([batch], text, ("nvtx",))
            yield chunk_table(m, part, j.device_names, lo)
            lo += len(part)
        if lo != len(m.level):  # the file changed under us
            raise InputError(f"{timing}: {lo} rows read in chunks, {len(m.level)} before")

    try:
        _write(output, j.meta, chunks())
    except pa.ArrowException as exc:
        raise InputError(f"{timing}: not a readable Parquet file ({exc})") from None
    return j.facts
