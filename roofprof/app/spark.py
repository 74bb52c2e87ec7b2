"""``summary`` of a dataset as a Spark job, for a cluster or object storage
(``roofprof/spark_job.py``): the generated query of ``roofprof summary`` in Spark SQL over a
local dataset folder or a URI Spark's file systems read (listed by Spark, never checked here).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from roofprof.app import defaults
from roofprof.datasets.spark import is_uri, list_files, session, summarize_files
from roofprof.errors import UsageError, option
from roofprof.tables.files import refuse_inputs
from roofprof.tables.partitions import parts


def summary(dataset: str | os.PathLike[str], *, by: str | None = None, level: str | None = None,
            top: int | None = None, where: str | None = None, master: str | None = None,
            submitted: bool = False, output: str | os.PathLike[str] | None = None
            ) -> pd.DataFrame:
    """The summary of ``dataset`` (its partitions matching ``where``) computed by Spark: on the
    session ``spark-submit`` configured (``submitted``), else on ``master`` (a local one by
    default). ``output``: where the caller will write it (never over a local dataset)."""
    if top is not None and top < 1:
        raise UsageError(f"{option('top')} must be at least 1, got {top}")
    files = None
    if not is_uri(dataset):  # a local folder: checked as summary checks it, first
        files = [str(p.path) for p in parts(dataset, where)]
        if output is not None:
            refuse_inputs(output, [Path(dataset)])
    spark = session(master or (None if submitted else "local[*]"))
    if files is None:
        files = list_files(spark, str(dataset), where)
    return summarize_files(files, by=by or defaults.BY, level=level or defaults.LEVEL, top=top,
                           spark=spark)
