"""``ranks``: the ranks of a dataset side by side, and the straggler (``roofprof ranks``).

One summary by group and rank on the engine named (:func:`roofprof.app.engine.summarizer`),
read by :mod:`roofprof.analysis.ranks`: a row per group and rank (``view`` rank), or per group
across ranks (``view`` spread).
"""

from __future__ import annotations

import os

import pandas as pd

from roofprof.analysis.ranks import per_rank, spread
from roofprof.app import defaults
from roofprof.app.engine import summarizer
from roofprof.errors import UsageError
from roofprof.tables.partitions import expand, is_dataset


def ranks(dataset: str | os.PathLike[str], *, by: str | None = None, view: str | None = None,
          level: str | None = None, where: str | None = None,
          engine: str | None = None) -> pd.DataFrame:
    """The rank view of the dataset folder ``dataset`` (its partitions matching ``where``)."""
    found = expand(dataset)  # a pattern naming one dataset folder is that folder
    if len(found) != 1 or not is_dataset(found[0]):
        raise UsageError(f"{dataset}: give one dataset folder (make one with `roofprof "
                         "convert ... --dataset DIR --rank N`)")
    by = by or defaults.BY_COMPARE
    if (view or defaults.RANKS_VIEW) == "spread":
        return spread(summarizer(found[0], engine or defaults.RANKS_ENGINE, defaults.LEVEL,
                                 where), by)
    return per_rank(summarizer(found[0], engine or defaults.RANKS_ENGINE,
                               level or defaults.LEVEL, where), by)
