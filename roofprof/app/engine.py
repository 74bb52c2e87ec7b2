"""Which engine reads a dataset for a view: out of core (DuckDB, Spark) or in memory (pandas).

``--engine auto`` (summary, plot) reads one dataset folder out of core unless an option only
the in-memory path knows is given; ``duckdb`` and ``spark`` insist (an error names what stands
in the way); ``pandas`` always reads into memory. Any other input (files, several folders,
patterns matching several) is read in memory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roofprof.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

AUTO, IN_MEMORY = "auto", "pandas"


def in_memory_only(options: Sequence[tuple[str, Any]], by: str | None) -> list[str]:
    """The options given (value not None) that only the in-memory path supports, and
    ``--by kernel`` (the demangled identity is not in the out-of-core query)."""
    out = [name for name, value in options if value is not None]
    if by and "kernel" in [b.strip() for b in by.split(",")]:
        out.append("--by kernel")
    return out


def out_of_core(engine: str, inputs: Sequence[str | os.PathLike[str]],
                unsupported: Sequence[str]) -> Path | None:
    """The one dataset folder ``inputs`` name (a pattern matching one folder is that folder),
    to read out of core on ``engine``; None where the in-memory path is to run."""
    from roofprof.tables.partitions import expand_all, is_dataset

    found = expand_all(inputs)
    one = len(found) == 1 and is_dataset(found[0])
    if engine not in (AUTO, IN_MEMORY):
        if not one:
            raise UsageError(f"--engine {engine} reads one dataset folder")
        if unsupported:
            raise UsageError(f"--engine {engine} does not take {', '.join(unsupported)}; "
                             f"use --engine {IN_MEMORY}")
    if engine == IN_MEMORY or not one or unsupported:
        return None
    return found[0]


def summarize(directory: Path, engine: str, by: str, level: str, top: int | None,
              where: str | None) -> tuple[dict[str, Any], pd.DataFrame]:
    """(the dataset's sampling metadata, its summary) by the generated query on Spark
    (``engine`` spark) or DuckDB (otherwise)."""
    from roofprof.datasets import sql as dataset_sql

    if engine == "spark":
        from roofprof.datasets import spark as dataset_spark

        result = dataset_spark.summarize(directory, by=by, level=level, top=top, where=where)
    else:
        result = dataset_sql.summarize(directory, by=by, level=level, top=top, where=where)
    return dataset_sql.sampling_meta(directory, where), result
