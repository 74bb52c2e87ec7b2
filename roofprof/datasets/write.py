"""Adding to a dataset (``roofprof.tables.partitions``): parse inputs as
``roofprof.inputs.load.convert`` does and write them as new files of a run/host/rank partition,
atomically; one file per rank where a run's processes are told apart by their CUDA device
(``append_ranks``). Reading a dataset back is ``roofprof.inputs.load.read_dataset``.

The partition values are checked before any input is read (``partitions.check_value``: a run
or host name that is a folder name anywhere, a rank every engine reads as a 64-bit integer),
so a value no reader could take back is refused at once, and nothing is written."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from roofprof.errors import InputError, OutputError, UsageError, option, strict_mode
from roofprof.inputs.load import RulesArg, read_for_convert
from roofprof.tables import partitions as dataset
from roofprof.tables.columns import taken
from roofprof.tables.kernels import Trace, write_parquet


def append(inputs: Sequence[str | os.PathLike[str]], directory: str | os.PathLike[str],
           run: str = "default", host: str = "default", rank: int = 0,
           format: str | None = None, rules: RulesArg = None, reader: str | None = None,
           strict: bool = False, where: str | None = None) -> tuple[Trace, Path]:
    """Parse ``inputs`` as :func:`roofprof.inputs.load.convert` does and add them to the dataset at
    ``directory`` (``roofprof.tables.partitions``) as one new file, atomically, in partition
    run/host/rank; the file's ``host`` column is the partition's. Returns the trace and the file."""
    dataset.folder(directory, run, host, rank)  # refused before anything is read
    trace = _read_to_append(inputs, format, rules, reader, strict, where)
    return trace, _add_part(trace, directory, run, host, rank)


#: the columns whose values ``append_ranks`` can take as ranks
RANK_COLUMNS = ("device",)


def append_ranks(inputs: Sequence[str | os.PathLike[str]], directory: str | os.PathLike[str],
                 by: str = "device", run: str = "default", host: str = "default",
                 format: str | None = None, rules: RulesArg = None, reader: str | None = None,
                 strict: bool = False, where: str | None = None) -> list[tuple[int, Trace, Path]]:
    """As :func:`append`, one new file per value of column ``by`` (the CUDA device: one
    process per GPU, as torchrun runs tensor-parallel workers on one host), each in the rank
    partition of that value. Returns (rank, its kernels, its file) per rank."""
    if by not in RANK_COLUMNS:
        raise UsageError(f"{option('rank_by')} {by}: ranks can be taken from "
                         f"{', '.join(RANK_COLUMNS)}")
    dataset.folder(directory, run, host, 0)  # run and host refused before anything is read
    trace = _read_to_append(inputs, format, rules, reader, strict, where)
    values = trace.kernels[by]
    if values.isna().any():
        raise InputError(f"{', '.join(map(str, inputs))}: {int(values.isna().sum())} kernels "
                         f"have no {by}, so their rank is unknown; give {option('rank')} N instead")
    ranks = sorted(int(v) for v in values.unique())
    if ranks[0] < 0 or ranks[-1] > dataset.MAX_RANK:  # checked before any rank is written
        odd = ranks[0] if ranks[0] < 0 else ranks[-1]
        raise InputError(f"{', '.join(map(str, inputs))}: {by} {odd} cannot be a rank (a whole "
                         f"number from 0 to {dataset.MAX_RANK}); give {option('rank')} N "
                         "instead")
    out = []
    for value in ranks:
        part = Trace(kernels=trace.kernels[values == value].reset_index(drop=True),
                     meta=dict(trace.meta))
        out.append((value, part, _add_part(part, directory, run, host, value)))
    return out


def _read_to_append(inputs: Sequence[str | os.PathLike[str]], format: str | None,
                    rules: RulesArg, reader: str | None, strict: bool,
                    where: str | None) -> Trace:
    paths = dataset.expand_all(inputs)
    if not paths:
        raise InputError("no input given")
    with strict_mode(strict):
        trace = read_for_convert(paths, format, rules, reader, strict, where)
    if trace.kernels.empty:
        raise InputError(f"{', '.join(map(str, paths))}: no kernels to write; nothing was "
                         "added")
    return trace


def _add_part(trace: Trace, directory: str | os.PathLike[str], run: str, host: str,
              rank: int) -> Path:
    """Write ``trace`` as a new file of partition run/host/rank (its host column set to it)."""
    into = dataset.folder(directory, run, host, rank)
    # the partition lives in the folder names (a dataset's own run/rank columns would clash)
    trace.kernels = trace.kernels.drop(columns=["run", "rank"], errors="ignore")
    trace.kernels["host"] = pd.Series(taken([host], np.zeros(len(trace.kernels), dtype=np.int64)),
                                      index=trace.kernels.index)
    try:
        into.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # no permission, a file where a folder goes, a full disk
        raise OutputError(f"cannot write to the dataset {directory}: {into}: "
                          f"{exc.strerror or exc}") from None
    out = dataset.new_file(into)
    write_parquet(trace, out)
    return out
