"""Several inputs as one: glob patterns, dataset folders and dataset files, read together.

Every command that takes a trace path takes a quoted glob pattern too: :func:`load` (one input) and
:func:`load_many` (several) are where commands read traces (``roofprof.tables.partitions.expand``
expands the patterns, ``roofprof.tables.partitions.labels`` names each match,
``roofprof.inputs.load`` reads each file). ``roofprof.load`` is :func:`load`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from roofprof.errors import InputError
from roofprof.inputs.load import RulesArg, Trace, combine, read_part
from roofprof.inputs.load import load as load_one


def load(path: str | os.PathLike[str], format: str | None = None, rules: RulesArg = None,
         reader: str | None = None, strict: bool = False, where: str | None = None) -> Trace:
    """:func:`roofprof.inputs.load.load` of a path, or of every match of a glob pattern as one
    trace (:func:`load_many`)."""
    from roofprof.tables import partitions as dataset

    if dataset.is_pattern(path):
        return load_many([path], format=format, rules=rules, reader=reader, strict=strict,
                         where=where)
    return load_one(path, format=format, rules=rules, reader=reader, strict=strict,
                    where=where)


def load_many(paths: Sequence[str | os.PathLike[str]], format: str | None = None,
              rules: RulesArg = None, reader: str | None = None, strict: bool = False,
              where: str | None = None) -> Trace:
    """Several inputs as one trace: glob patterns expanded (``roofprof.tables.partitions.expand``),
    each file or dataset folder read by :func:`roofprof.inputs.load.load`, each labelled in a
    ``trace`` column (``roofprof.tables.partitions.labels``; ``--by trace`` groups by it). A matched
    file inside run=/host=/rank= folders is a dataset file: it gets the partition columns and
    ``where`` selects it before it is read, as in a dataset folder."""
    from roofprof.tables import partitions as dataset

    files = dataset.expand_all(paths)
    test = dataset.parse_where(where)  # a bad --where fails before anything is read
    kept: list[Path] = []
    traces: list[Trace] = []
    for f in files:
        values = dataset.values_of(f) if f.is_file() else {}
        if values:
            if not test(values):
                continue
            t = read_part(f, values)
            if rules is not None:  # as load applies them to a dataset folder's files
                from roofprof.inputs.attribution import attribute, load_rules

                ruleset = load_rules(rules)
                attribute(t.kernels, ruleset)
                t.meta["attribution_rules"] = list(ruleset.sources)
        elif len(files) > 1 and dataset.is_dataset(f) and not any(
                test(part.values) for part in dataset.parts(f)):
            continue  # one of several datasets with no partition --where selects
        else:
            t = load_one(f, format=format, rules=rules, reader=reader, strict=strict, where=where)
        kept.append(f)
        traces.append(t)
    if not traces:
        raise InputError(f"{', '.join(map(str, paths))}: no dataset file matches --where "
                         f"{where!r}")
    if len(traces) == 1:
        return traces[0]
    return combine(traces, labels=dataset.labels(kept))
