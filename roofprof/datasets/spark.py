"""The dataset summary on Apache Spark: the query of ``roofprof.datasets.sql`` in Spark SQL.

:func:`summarize` runs the same generated query (``dataset_sql.summary_sql`` with the Spark
dialect: backquoted names, ``RLIKE``, ``STRING``) over a dataset's Parquet files on a Spark
session (a local one when none is given: ``local[*]``, no UI), so the numbers are
DuckDB's and ``roofline.summarize``'s (tests/test_dataset_spark.py). Partitions are picked by
``--where`` before Spark sees a path, and a local folder's files are checked by their
footers as DuckDB's are (``roofprof.datasets.footers``); ``run``, ``host`` and ``rank`` come
from the last three folders of each file's path. ANSI mode is off for the query (x/0 is null,
not an error, as the query expects). A session roofprof starts logs errors only (no WARN
lines, no progress bar: :func:`session`). pyspark is optional (``pip install
roofprof[spark]``); Spark needs Java 17 or later.
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from roofprof.analysis.grouping import parse_by
from roofprof.datasets.footers import check
from roofprof.datasets.reasons import group_reasons, needs_reasons
from roofprof.datasets.sql import SPARK, finish, summary_sql
from roofprof.errors import InputError, UsageError, option
from roofprof.tables.partitions import INTEGER_PARTITIONS, parse_where, parts

#: the logging of the sessions roofprof starts: errors only (see the file)
LOG4J2 = Path(__file__).with_name("spark_log4j2.properties")


def session(master: str | None = "local[*]") -> Any:
    """A Spark session (the running one where there is one): on ``master``, or with None
    on the one ``spark-submit`` configured.

    A session roofprof starts (``master`` given) says nothing but errors: its driver logs
    at ERROR (:data:`LOG4J2`, from the JVM's start; ``setLogLevel`` where the session was
    already running) and shows no progress bar. ``spark-submit``'s session keeps the
    cluster's logging."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(f"{option('engine')} spark needs pyspark: pip install 'roofprof[spark]' "
                         "(and Java 17 or later)") from None
    builder = SparkSession.builder.appName("roofprof")
    if master is not None:
        builder = (builder.master(master)
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.extraJavaOptions",
                           f"-Dlog4j2.configurationFile={LOG4J2.as_uri()}"))
        if master.startswith("local"):
            builder = builder.config("spark.ui.enabled", "false")
    with quiet_pyspark():
        spark = builder.getOrCreate()
    if master is not None:
        spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def quiet_pyspark() -> Iterator[None]:
    """Without pyspark's warning that it does not fully support pandas 3 (a FutureWarning it
    gives once, importing its own test helpers): roofprof hands Spark no pandas object and
    reads results as plain rows (:func:`_frame`), so it does not apply. Nothing else is
    silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        yield


def summarize(directory: str | os.PathLike[str], by: str = "range", level: str = "dram",
              top: int | None = None, where: str | None = None,
              spark: Any = None) -> pd.DataFrame:
    """``roofline.summarize`` of the dataset at ``directory`` (files matching ``where``),
    computed by Spark reading the Parquet files. ``directory`` is a local folder or, see
    :func:`is_uri`, any URI Spark reads (``s3a://``, ``gs://``, ``hdfs://``, ``file://``)."""
    if top is not None and top < 1:
        raise UsageError(f"{option('top')} must be at least 1, got {top}")
    if is_uri(directory):
        spark = spark or session()
        files = list_files(spark, str(directory), where)
    else:  # a local folder: its files checked as DuckDB's are (footers.check)
        files = [str(footer.part.path) for footer in check(parts(directory, where))]
        spark = spark or session()
    return summarize_files(files, by, level, top, spark)


def is_uri(path: str | os.PathLike[str]) -> bool:
    """True for ``scheme://...`` (a dataset Spark's file systems read; never checked here)."""
    return isinstance(path, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", path) is not None


def list_files(spark: Any, uri: str, where: str | None = None) -> list[str]:
    """The dataset's Parquet files under ``uri`` whose partition values satisfy ``where``,
    listed by Spark's own Hadoop file system (whatever connectors and credentials the
    cluster has), sorted; ``--where`` is roofprof's (``dataset.parse_where``), as for a local
    folder."""
    test = parse_where(where)
    jvm = spark.sparkContext._jvm
    try:
        with quiet_pyspark():
            root = jvm.org.apache.hadoop.fs.Path(uri)
            fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
            found = fs.listFiles(root, True)
            files = []
            while found.hasNext():
                files.append(str(found.next().getPath().toString()))
    except Exception as exc:  # py4j's error; the JVM exception's own line says what
        java = getattr(exc, "java_exception", None)
        text = str(java.toString()) if java is not None else str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise InputError(f"{uri}: cannot list the dataset ({first}); check the URI and the "
                         "cluster's file system connector and credentials") from None
    out = []
    for f in sorted(files):
        m = _PART.search(f)
        if m is None or m.group("name").startswith("."):
            continue
        values: dict[str, str | int] = {k: m.group(k) for k in ("run", "host", "rank")}
        for k in INTEGER_PARTITIONS:
            raw = str(values[k])
            values[k] = int(raw) if raw.isdigit() else raw
        if test(values):
            out.append(f)
    if not out:
        what = f" matching --where {where!r}" if where else ""
        raise InputError(f"{uri}: no dataset files{what} (files live in "
                         "run=*/host=*/rank=*/*.parquet)")
    return out


#: run, host and rank of a file's path (Spark's regular expressions: Java's)
_TAIL = r"/run=([^/]+)/host=([^/]+)/rank=([0-9]+)/[^/]+$"
_PART = re.compile(r"/run=(?P<run>[^/]+)/host=(?P<host>[^/]+)/rank=(?P<rank>[^/]+)/"
                   r"(?P<name>[^/]+\.parquet)$")


def summarize_files(files: list[str], by: str = "range", level: str = "dram",
                    top: int | None = None, spark: Any = None) -> pd.DataFrame:
    """``roofline.summarize`` of the given dataset files (paths or URIs under
    ``run=/host=/rank=`` folders), computed by Spark."""
    spark = spark or session()
    with quiet_pyspark():
        out, whys = _query(files, by, level, spark)
    out["reason"] = pd.Series(group_reasons(out, whys, level), index=out.index, dtype=object)
    return finish(out, level, top)


def _query(files: list[str], by: str, level: str, spark: Any) -> tuple[pd.DataFrame,
                                                                       pd.DataFrame]:
    """The summary query's groups and, where some need them, the facts behind their
    reasons, run by Spark over ``files``."""
    from pyspark.sql import functions as F

    df = spark.read.option("mergeSchema", "true").parquet(*files)
    path = F.input_file_name()
    # the partition folders are the file's last three: a folder above the dataset named
    # run=, host= or rank= is not one of them
    df = (df.withColumn("run", F.regexp_extract(path, _TAIL, 1))
            .withColumn("host", F.regexp_extract(path, _TAIL, 2))
            .withColumn("rank", F.regexp_extract(path, _TAIL, 3).cast("bigint")))
    view = f"roofprof_kernels_{uuid.uuid4().hex}"
    df.createOrReplaceTempView(view)
    columns = {name: kind.upper() for name, kind in df.dtypes}
    sql, why_sql = summary_sql(view, parse_by(by), level, columns, SPARK)
    ansi = spark.conf.get("spark.sql.ansi.enabled", "false")
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        out = _frame(spark.sql(sql))
        whys = _frame(spark.sql(why_sql)) if needs_reasons(out) else pd.DataFrame()
    finally:
        spark.conf.set("spark.sql.ansi.enabled", ansi)
        spark.catalog.dropTempView(view)
    return out, whys


def _frame(result: Any) -> pd.DataFrame:
    """A small Spark result as pandas, through plain rows (pyspark's toPandas warns under
    pandas 3; one row per group is small)."""
    return pd.DataFrame([r.asDict() for r in result.collect()], columns=result.columns)
