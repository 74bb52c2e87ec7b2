"""``convert``: inputs into one Parquet trace, or into a dataset (``roofprof convert``).

With ``output`` (a ``.parquet`` file) every input becomes one trace (a ``source`` column tells
them apart); with ``dataset`` they are added to the dataset folder as one new file of the
partition ``run``/``host``/``rank`` (defaults ``roofprof.tables.partitions.DEFAULTS``), or with
``rank_by`` one file per CUDA device, each in the rank partition of its device (written as
one set: every rank's file, or none). An output is never one of the inputs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roofprof.datasets.write import append, append_ranks
from roofprof.errors import UsageError, option
from roofprof.inputs.load import RulesArg
from roofprof.inputs.load import convert as convert_files
from roofprof.tables.files import check_destination, output_set
from roofprof.tables.kernels import Trace
from roofprof.tables.partitions import DEFAULTS


@dataclass
class Written:
    """One file written: its path, the trace in it, and its rank where files were made per
    rank (``rank_by``)."""

    path: Path
    trace: Trace
    rank: int | None = None


def convert(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str] | None = None,
            *, dataset: str | os.PathLike[str] | None = None, run: str | None = None,
            host: str | None = None, rank: int | None = None, rank_by: str | None = None,
            input_format: str | None = None, rules: RulesArg = None, strict: bool = False,
            reader: str | None = None, where: str | None = None) -> list[Written]:
    """Convert ``inputs`` (reports, exports, traces, dataset folders, glob patterns) to
    ``output`` or add them to ``dataset``; the files written."""
    if dataset is None and (run is not None or host is not None or rank is not None
                            or rank_by is not None):
        raise UsageError(f"{option('run')}, {option('host')}, {option('rank')} and "
                         f"{option('rank_by')} apply with {option('dataset')} DIR")
    if dataset is None and output is None:
        raise UsageError(f"give {option('output')} FILE.parquet or {option('dataset')} DIR")
    if dataset is not None and output is not None:
        raise UsageError(f"give {option('output')} or {option('dataset')}, not both")
    if output is not None:
        out = Path(output)
        if out.suffix != ".parquet":
            raise UsageError(f"{out}: the output must be a .parquet file")
        check_destination(out)  # a folder in the way: said before the inputs are read
        return [Written(out, convert_files(list(inputs), out, format=input_format, rules=rules,
                                           reader=reader, strict=strict, where=where))]
    assert dataset is not None  # one of the two is given (above)
    # only a value not given takes the default: an empty name is refused, never replaced
    run = str(DEFAULTS["run"]) if run is None else run
    host = str(DEFAULTS["host"]) if host is None else host
    if rank_by is not None:
        if rank is not None:
            raise UsageError(f"give {option('rank')} or {option('rank_by')}, not both")
        with output_set():  # a file per rank: all of them appear, or none
            ranks = append_ranks(list(inputs), dataset, by=rank_by, run=run, host=host,
                                 format=input_format, rules=rules, reader=reader,
                                 strict=strict, where=where)
        return [Written(path, trace, n) for n, trace, path in ranks]
    trace, path = append(list(inputs), dataset, run=run, host=host,
                         rank=int(DEFAULTS["rank"]) if rank is None else rank,
                         format=input_format, rules=rules, reader=reader, strict=strict,
                         where=where)
    return [Written(path, trace)]
