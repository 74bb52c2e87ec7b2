"""``join``: every timed launch with counters (``roofprof join``, ``record --sample``).

The join itself is :mod:`roofprof.analysis.join`; here it is written to Parquet in chunks,
atomically: from a timing table in memory (:func:`write_joined`), or from a timing Parquet file
read in two passes (:func:`write_joined_file`: its key columns whole for the match, the rest a
row group at a time as the joined rows are written), so tens of millions of launches join in
bounded memory. :func:`join` picks the way for its inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from roofprof.analysis.join import UNUSED_TIMING, chunk_table, matched
from roofprof.app import defaults
from roofprof.errors import InputError, UsageError, strict_mode
from roofprof.inputs.load import load
from roofprof.inputs.timing import is_timing_source, load_timing, require_timing
from roofprof.tables.files import atomic_output, check_destination, refuse_inputs
from roofprof.tables.kernels import Trace
from roofprof.tables.partitions import is_pattern
from roofprof.tables.schema import SCHEMA_VERSION
from roofprof.tables.stored import with_meta
from roofprof.tables.timing import TimingTrace, is_timing_parquet, read
from roofprof.tables.timing import chunks as timing_chunks

__all__ = ["KEY_TIMING", "join", "write_joined", "write_joined_file"]


def join(timing: str | os.PathLike[str], counters: str | os.PathLike[str],
         output: str | os.PathLike[str], *, spread: float | None = None,
         where: str | None = None, strict: bool = False) -> dict[str, Any]:
    """Join the timing trace ``timing`` (roofprof trace, Kineto, nsys) with the counters of
    ``counters`` (any kernel table; ``where`` selects a dataset's partitions) and write the
    joined kernel table to ``output`` (.parquet); the join's facts
    (:func:`roofprof.analysis.join_report.report`). ``strict``: refuse inputs with values read
    as null or rows left out, instead of warning."""
    out = Path(output)
    if out.suffix != ".parquet":
        raise UsageError(f"{out}: the output must be a .parquet file")
    refuse_inputs(out, [timing, counters])
    check_destination(out)  # a folder in the way, a missing folder: said before the join
    if is_timing_source(counters):  # every launch timed, no counter: nothing to join with
        require_timing(timing)  # the two swapped: the first says it holds counters
        raise InputError(f"{counters}: a timing trace (every launch timed, no counters), "
                         "given as the counters; give the counters of the same run: its Nsight "
                         "Compute report (roofprof record --sample, .ncu-rep), CSV export or "
                         "Parquet trace")
    with strict_mode(strict):
        sampled = load(counters, where=where, strict=strict)
        spread = defaults.SPREAD if spread is None else spread
        if not is_pattern(timing) and Path(timing).is_file() and is_timing_parquet(Path(timing)):
            return write_joined_file(timing, sampled, out, spread=spread)  # in chunks
        return write_joined(load_timing(timing, skip=UNUSED_TIMING), sampled, out,
                            spread=spread)


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
    meta["schema_version"] = SCHEMA_VERSION
    first = next(chunks)
    schema = with_meta(first.schema.remove_metadata(), meta)
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
    j = matched(read(timing, only=KEY_TIMING), counters, spread)
    m = j.match
    del j.timing  # only the match is needed from here on
    # the rows read checked as the first pass checked them: the same rows, the same nulls
    parts = timing_chunks(timing, skip=UNUSED_TIMING, rows=chunk_rows)

    def chunks() -> Iterator[Any]:
        lo = 0
        for part in parts:
            yield chunk_table(m, part, j.device_names, lo)
            lo += len(part)
        if lo != len(m.level):  # the file changed under us
            raise InputError(f"{timing}: {lo} rows read in chunks, {len(m.level)} before")

    try:
        _write(output, j.meta, chunks())
    except pa.ArrowException as exc:
        raise InputError(f"{timing}: not a readable Parquet file ({exc})") from None
    return j.facts
