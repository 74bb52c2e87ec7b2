"""``roofprof summary`` of a dataset as a Spark job, for a cluster or object storage.

    spark-submit roofprof/spark_job.py summary DATASET --by phase [--where ...] -o out.json
    python -m roofprof.spark_job summary DATASET --by phase            (a local session)

DATASET is a local dataset folder (checked as ``roofprof summary`` checks it) or any URI
Spark's file systems read (``s3a://``, ``gs://``, ``hdfs://``, ``file://``): it is listed
through Spark's own Hadoop file system, never checked locally, so the cluster's connectors and
credentials apply (hadoop-aws for ``s3a://``, the GCS connector for ``gs://``: the cluster's,
not roofprof's). ``--where`` picks partitions from the listed paths before Spark reads a file.
The query is :mod:`roofprof.datasets.spark`'s, the one of :mod:`roofprof.datasets.sql` in Spark
SQL, so the numbers are ``roofprof summary``'s. Under ``spark-submit`` the session is the one
it configured (``--master``, resources); run directly, a local one (``--master``, default
``local[*]``). The result is written as ``roofprof summary --format json`` (or csv, or the
table) to ``-o`` on the driver's file system, or to stdout. Errors are one line on stderr and
the exit codes of ``roofprof``. argparse, not click: a job has no roofprof CLI around it. The
job is :func:`roofprof.app.spark.summary`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from roofprof.app import defaults
from roofprof.errors import RoofprofError, render

FORMATS = ("json", "csv", "table")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="roofprof.spark_job",
                                 description="roofprof summary of a dataset on Spark.")
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="Measured roofline numbers per group of a dataset.")
    s.add_argument("dataset", metavar="DATASET",
                   help="A dataset folder or URI (s3a://, gs://, hdfs://, file://).")
    s.add_argument("--by", help=f"Group by these columns (default: {defaults.BY}).")
    s.add_argument("--level", choices=("dram", "l2", "l1"),
                   help=f"The memory level of the roofs (default: {defaults.LEVEL}).")
    s.add_argument("--top", type=int, help="Only the N groups with the most GPU time.")
    s.add_argument("--where", metavar="EXPR",
                   help="Partitions to read: clauses on run, host, rank joined by and.")
    s.add_argument("--format", dest="fmt", choices=FORMATS,
                   help="Output format (default: from the -o suffix, else json).")
    s.add_argument("-o", "--output", type=Path, help="Write here (on the driver) not stdout.")
    s.add_argument("--master", help="Spark master when not run by spark-submit "
                                    "(default local[*]).")
    return ap


def run(argv: list[str] | None = None) -> str:
    """Run the job; returns the text written (for tests), raises RoofprofError."""
    from roofprof.app.spark import summary
    from roofprof.tables.files import atomic_output
    from roofprof.views import tables

    args = _parser().parse_args(argv)
    fmt = args.fmt or ({".csv": "csv", ".txt": "table"}.get(args.output.suffix.lower(), "json")
                       if args.output else "json")
    # spark-submit starts the JVM and hands its gateway to this process: use its session
    result = summary(args.dataset, by=args.by, level=args.level, top=args.top, where=args.where,
                     master=args.master, submitted="PYSPARK_GATEWAY_PORT" in os.environ,
                     output=args.output)
    if fmt == "json":
        text = tables.to_json(result)
    elif fmt == "csv":
        text = tables.to_csv(result)
    else:
        text = tables.format_table(result, width=10_000)
    if args.output is None:
        sys.stdout.write(text)
    else:
        with atomic_output(args.output) as fh:
            fh.write(text.encode("utf-8"))
        print(f"roofprof: wrote {args.output} ({len(result)} groups)", file=sys.stderr)
    return text


def main(argv: list[str] | None = None) -> int:
    try:
        run(argv)
    except RoofprofError as exc:
        print(f"roofprof: error: {render(exc.template, _flag)}", file=sys.stderr)
        return exc.exit_code
    return 0


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


if __name__ == "__main__":
    sys.exit(main())
