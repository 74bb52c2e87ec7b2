"""The dataset summary on Apache Spark: the query of ``roofprof.dataset_sql`` in Spark SQL.

:func:`summarize` runs the same generated query (``dataset_sql.summary_sql`` with the Spark
dialect: backquoted names, ``RLIKE``, ``STRING``) over a dataset's Parquet files on a Spark
session (a local one when none is given: ``local[*]``, no UI), so the numbers are
DuckDB's and ``roofline.summarize``'s (tests/test_dataset_spark.py). Partitions are picked by
``--where`` before Spark sees a path; ``run``, ``host`` and ``rank`` come from each file's
path. ANSI mode is off for the query (x/0 is null, not an error, as the query expects).
pyspark is optional (``pip install roofprof[spark]``); Spark needs Java 17 or later.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pandas as pd

from roofprof.dataset_sql import SPARK, finish, group_reasons, summary_sql
from roofprof.errors import UsageError
from roofprof.grouping import parse_by


def session() -> Any:
    """A local Spark session (the running one where there is one)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("--engine spark needs pyspark: pip install 'roofprof[spark]' "
                         "(and Java 17 or later)") from None
    return (SparkSession.builder.master("local[*]").appName("roofprof")
            .config("spark.ui.enabled", "false").getOrCreate())


def summarize(directory: str | os.PathLike[str], by: str = "range", level: str = "dram",
              top: int | None = None, where: str | None = None,
              spark: Any = None) -> pd.DataFrame:
    """``roofline.summarize`` of the dataset at ``directory`` (files matching ``where``),
    computed by Spark reading the Parquet files."""
    from pyspark.sql import functions as F

    from roofprof.dataset import parts

    if top is not None and top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    files = [str(p.path) for p in parts(directory, where)]
    spark = spark or session()
    df = spark.read.option("mergeSchema", "true").parquet(*files)
    path = F.input_file_name()
    df = (df.withColumn("run", F.regexp_extract(path, r"/run=([^/]+)/", 1))
            .withColumn("host", F.regexp_extract(path, r"/host=([^/]+)/", 1))
            .withColumn("rank", F.regexp_extract(path, r"/rank=([0-9]+)/", 1).cast("bigint")))
    view = f"roofprof_kernels_{uuid.uuid4().hex}"
    df.createOrReplaceTempView(view)
    columns = {name: kind.upper() for name, kind in df.dtypes}
    sql, why_sql = summary_sql(view, parse_by(by), level, columns, SPARK)
    ansi = spark.conf.get("spark.sql.ansi.enabled", "false")
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        out = _frame(spark.sql(sql))
        whys = _frame(spark.sql(why_sql)) if (out["bound"] == "unknown").any() \
            else pd.DataFrame()
    finally:
        spark.conf.set("spark.sql.ansi.enabled", ansi)
        spark.catalog.dropTempView(view)
    out["reason"] = pd.Series(group_reasons(out, whys, level), index=out.index, dtype=object)
    return finish(out, level, top)


def _frame(result: Any) -> pd.DataFrame:
    """A small Spark result as pandas, through plain rows (pyspark's toPandas warns under
    pandas 3; one row per group is small)."""
    return pd.DataFrame([r.asDict() for r in result.collect()], columns=result.columns)
