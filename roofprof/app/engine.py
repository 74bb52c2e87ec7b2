"""Which engine reads a dataset for a view: out of core (DuckDB, Spark) or in memory (pandas).

``engine="auto"`` (summary, plot) reads one dataset folder out of core unless an option only
the in-memory path knows is given; ``duckdb`` and ``spark`` insist (an error names what stands
in the way); ``pandas`` always reads into memory. Any other input (files, several folders,
patterns matching several) is read in memory. The rank views run one summary after another on
the engine named (:func:`summarizer`). Whatever the engine, a dataset's files are checked
before they are read (``roofprof.tables.partitions.parts``, ``roofprof.datasets.footers``):
a damaged or foreign file is one error naming it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from roofprof.analysis import roofline
from roofprof.datasets import footers
from roofprof.datasets import spark as dataset_spark
from roofprof.datasets import sql as dataset_sql
from roofprof.errors import UsageError, option
from roofprof.inputs.load import read_dataset
from roofprof.tables.partitions import expand_all, is_dataset, parts

AUTO, IN_MEMORY = "auto", "pandas"
#: the engines of the rank views
RANK_ENGINES = ("duckdb", "spark", "pandas")


def in_memory_only(options: Sequence[tuple[str, Any]], by: str | None) -> list[str]:
    """The options given (value not None) that only the in-memory path supports, as a message
    names them, and ``by`` kernel (the demangled identity is not in the out-of-core query)."""
    out = [option(name) for name, value in options if value is not None]
    if by and "kernel" in [b.strip() for b in by.split(",")]:
        out.append(f"{option('by')} kernel")
    return out


def out_of_core(engine: str, inputs: Sequence[str | os.PathLike[str]],
                unsupported: Sequence[str]) -> Path | None:
    """The one dataset folder ``inputs`` name (a pattern matching one folder is that folder),
    to read out of core on ``engine``; None where the in-memory path is to run."""
    found = expand_all(inputs)
    one = len(found) == 1 and is_dataset(found[0])
    if engine not in (AUTO, IN_MEMORY):
        if not one:
            raise UsageError(f"{option('engine')} {engine} reads one dataset folder")
        if unsupported:
            raise UsageError(f"{option('engine')} {engine} does not take "
                             f"{', '.join(unsupported)}; use {option('engine')} {IN_MEMORY}")
    if engine == IN_MEMORY or not one or unsupported:
        return None
    return found[0]


def summarize(directory: Path, engine: str, by: str, level: str, top: int | None,
              where: str | None) -> tuple[dict[str, Any], pd.DataFrame]:
    """(the dataset's sampling metadata, its summary) by the generated query on Spark
    (``engine`` spark) or DuckDB (otherwise)."""
    if engine == "spark":
        result = dataset_spark.summarize(directory, by=by, level=level, top=top, where=where)
    else:
        result = dataset_sql.summarize(directory, by=by, level=level, top=top, where=where)
    return dataset_sql.sampling_meta(directory, where), result


def summarizer(directory: str | os.PathLike[str], engine: str, level: str,
               where: str | None) -> Callable[[str], pd.DataFrame]:
    """``summarize(by)`` of the dataset's files matching ``where`` on ``engine``: the generated
    query on DuckDB or Spark, or ``roofline.summarize`` of the files read into memory (once)."""
    if engine == "duckdb":
        return lambda by: dataset_sql.summarize(directory, by=by, level=level, where=where)
    if engine == "spark":
        return lambda by: dataset_spark.summarize(directory, by=by, level=level, where=where)
    if engine == IN_MEMORY:  # the files checked as the query engines check them (one kind)
        footers.check(parts(directory, where))
        trace = read_dataset(directory, where)
        return lambda by: roofline.summarize(trace, by=by, level=level)
    raise UsageError(f"{option('engine')} {engine}: the rank views run on "
                     f"{', '.join(RANK_ENGINES)}")
