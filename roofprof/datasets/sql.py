"""The group math of ``roofprof.analysis.roofline`` as one SQL query, run out of core on DuckDB.

:func:`summary_sql` generates the query from the metric table
(``roofprof.tables.metrics.PRECISIONS``) and the constants of ``roofprof.analysis.roofline``
(``LAUNCH_FLOOR_NS``, ``L1_BLIND_MIN_BYTES``), so it cannot drift from them: per kernel c_k = max_p
W_kp/P_kp, m_k = B_k/BW_k, r_k = max(c_k, m_k) with the missing-counter rule (a precision whose peak
is known, or a tensor precision its chip has, but whose work is null makes the kernel unknown),
the L1/TMA rule and the launch floor; per
group the sums of :func:`roofprof.analysis.roofline.group_numbers` with its null rule (a group
number is null if any member's input is) and its coverage rule (a partial group's sums are of
its measured members, ``roofline.MIN_COVERAGE``). tests/test_dataset_sql.py checks it equals
``roofline.summarize`` on every fixture.

:func:`summarize` runs the query with DuckDB over a dataset's Parquet files (after ``--where``
picked them), reading only the columns it needs; memory stays bounded by the number of groups.
It returns ``roofline.summarize``'s columns, sorted the same way. What the query does not do
(``--by kernel``, ``--depth``, ``--rules``) the in-memory path does (``--engine pandas``).

:func:`connect` is the boundary with DuckDB: the files are checked (``partitions.parts``,
``footers.check``) before DuckDB sees a path, and every query runs through the :class:`Dataset`
it returns, whose DuckDB errors become an ``InputError`` naming the file (``footers``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from roofprof.analysis.grouping import GROUP_JOIN, NO_RANGE, NO_VALUE, parse_by
from roofprof.analysis.roofline import (
    BYTES_COLUMNS,
    INT8,
    L1_BLIND_MIN_BYTES,
    LAUNCH_FLOOR_NS,
    MIN_COVERAGE,
    PEAK_BW_COLUMNS,
    SUMMARY_COLUMNS,
    level_of,
    min_coverage_of,
)
from roofprof.datasets.footers import QUANTITIES, check, engine_error, first_line, read
from roofprof.datasets.reasons import group_reasons, needs_reasons
from roofprof.errors import InputError, RoofprofWarning, UsageError, option
from roofprof.inputs.derive import TENSOR_FROM_CC
from roofprof.tables.metrics import PRECISIONS
from roofprof.tables.partitions import PARTITIONS, Part, parts
from roofprof.tables.sampling import decisive
from roofprof.tables.schema import COLUMNS, dtype_of

#: columns whose values a group name cannot be made of in SQL (lists, full kernel identity)
_NOT_GROUPABLE = frozenset({"nvtx", "kernel", "id"})


@dataclass(frozen=True)
class Dialect:
    """What differs between the SQL engines the query runs on (the math does not)."""

    name: str
    quote: str          # identifier quote
    regex: str          # a full-pattern test of {x} against {p}
    string: str         # the string type of CAST

    def q(self, name: str) -> str:
        """A column name as a quoted identifier (names come from the schema, never the
        user)."""
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote


DUCKDB = Dialect("duckdb", '"', "regexp_matches({x}, {p})", "VARCHAR")
SPARK = Dialect("spark", "`", "{x} RLIKE {p}", "STRING")


def group_parts(by: tuple[str, ...], columns: dict[str, str], d: Dialect) -> list[str]:
    """The SQL expression of each part of a group's name (one per column of ``by``), named
    as ``roofprof.analysis.grouping`` names them."""
    _q = d.q
    exprs = []
    for name in by:
        col = "source" if name == "trace" and "trace" not in columns else name
        if col in _NOT_GROUPABLE or col not in columns:
            raise UsageError(f"{option('by')} {col}: the dataset engine groups by a column of "
                             "the kernel table other than "
                             f"{', '.join(sorted(_NOT_GROUPABLE))}; use {option('engine')} "
                             "pandas")
        if columns[col].upper() in ("DOUBLE", "FLOAT"):
            raise UsageError(f"{option('by')} {col}: a measured column; group by a name column")
        if col == "range":
            exprs.append(f"CASE WHEN {_q(col)} IS NULL OR {_q(col)} = '' THEN '{NO_RANGE}' "
                         f"ELSE CAST({_q(col)} AS {d.string}) END")
        else:
            exprs.append(f"COALESCE(CAST({_q(col)} AS {d.string}), '{NO_VALUE}')")
    return exprs


def _group_expr(by: tuple[str, ...], columns: dict[str, str], d: Dialect) -> str:
    return f" || '{GROUP_JOIN}' || ".join(group_parts(by, columns, d))


def _strict_sum(x: str) -> str:
    """Sum that is null where any member is null (the group null rule)."""
    return f"CASE WHEN COUNT({x}) < COUNT(*) THEN NULL ELSE SUM({x}) END"


def _traffic(level: str, d: Dialect) -> tuple[str, str, str]:
    """(bytes, peak bandwidth, TMA test) of ``level`` over the raw columns: the rule of
    ``roofline._traffic`` (L1TEX does not see TMA loads on Hopper and later)."""
    _q = d.q
    nbytes, bw = _q(BYTES_COLUMNS[level]), _q(PEAK_BW_COLUMNS[level])
    if level != "l1":
        return nbytes, bw, "FALSE"
    dram = _q(BYTES_COLUMNS["dram"])
    return nbytes, bw, (f"COALESCE({_cc_number(d)} >= 90 AND {dram} >= "
                        f"{L1_BLIND_MIN_BYTES!r} AND {nbytes} < {dram} / 2, FALSE)")


def _cc_number(d: Dialect) -> str:
    """The compute capability as major*10 + minor, 0 where unknown (``roofline._cc``)."""
    is_cc = d.regex.format(x="cc", p="'^[0-9]+[.][0-9]+$'")
    return (f"CASE WHEN {is_cc} THEN CAST(split_part(cc, '.', 1) AS BIGINT) * 10 + "
            "CAST(split_part(cc, '.', 2) AS BIGINT) ELSE 0 END")


def kernel_sql(source: str, by: tuple[str, ...], level: str, columns: dict[str, str],
               dialect: Dialect = DUCKDB, levels: tuple[str, ...] = (),
               carry: tuple[str, ...] = ()) -> str:
    """The per-kernel numbers of ``roofline.kernel_numbers`` over the relation ``source`` as a
    ``WITH`` clause ending in the relation ``k4``: per kernel its group ``g``, ``dur``,
    ``work``, ``bytes``, ``compute_ns``, ``memory_ns``, ``roof_ns``, ``precision``,
    ``is_latency``, ``headroom_ns``, the packed missing-input ``flags``, each precision's
    work ``w<i>`` and peak ``pk<i>`` (in ``PRECISIONS`` order); for each of ``levels`` its
    bytes ``xb_<level>`` and time at peak bandwidth ``xm_<level>`` (null for TMA kernels);
    and each column of ``carry`` as ``c_<name>`` (as stored). ``columns`` maps the relation's
    column names to their SQL types."""
    level_of(level)
    for extra in levels:
        level_of(extra)
    _q = dialect.q
    labels = list(PRECISIONS)
    idx = range(len(labels))
    w = [f"w{i}" for i in idx]
    pk = [f"pk{i}" for i in idx]
    per = [f"per{i}" for i in idx]
    nbytes, bw, tma = _traffic(level, dialect)
    extras: list[str] = []
    for lvl in levels:
        xb, xbw, xtma = _traffic(lvl, dialect)
        extras += [f"CASE WHEN {xtma} THEN NULL ELSE CAST({xb} AS DOUBLE) END AS xb_{lvl}",
                   f"CASE WHEN {xtma} THEN NULL ELSE CAST({xb} AS DOUBLE) / "
                   f"CAST({xbw} AS DOUBLE) * 1e9 END AS xm_{lvl}"]
    carried = [f"{_q(c)} AS {_q('c_' + c)}" for c in carry]
    passed = ["flags", *w, *pk,
              *(f"{x}_{lvl}" for lvl in levels for x in ("xb", "xm")),
              *(_q("c_" + c) for c in carry)]
    # a joined launch that took no counters (reasons.UNJOINED says why)
    unjoined = (f"COALESCE(CAST({_q('counters_from')} AS {dialect.string}) = 'none', FALSE)"
                if "counters_from" in columns else "FALSE")
    raw = ",\n    ".join(
        [f"{_group_expr(by, columns, dialect)} AS g",
         f"{unjoined} AS unjoined",
         "CASE WHEN duration_ns > 0 THEN CAST(duration_ns AS DOUBLE) END AS dur",
         "CAST(flop AS DOUBLE) AS flop",
         f"CAST({nbytes} AS DOUBLE) AS nbytes",
         f"CAST({bw} AS DOUBLE) AS bw",
         f"{tma} AS tma",
         f"{_cc_number(dialect) if 'cc' in columns else '0'} AS ccn"]
        + [f"CAST({_q(PRECISIONS[p][0])} AS DOUBLE) AS {w[i]}" for i, p in enumerate(labels)]
        + [f"CAST({_q(PRECISIONS[p][1])} AS DOUBLE) AS {pk[i]}" for i, p in enumerate(labels)]
        + extras + carried)
    # a tensor precision the kernel's chip has whose counter is absent (derive.TENSOR_FROM_CC)
    expected = {i: f"({w[i]} IS NULL AND ccn >= {TENSOR_FROM_CC[PRECISIONS[p][0]]})"
                for i, p in enumerate(labels) if PRECISIONS[p][0] in TENSOR_FROM_CC}
    missing = [f"({w[i]} IS NULL AND {pk[i]} IS NOT NULL)"
               + (f" OR {expected[i]}" if i in expected else "") for i in idx]
    uncounted = " OR ".join(missing)
    no_counters = " AND ".join(f"{w[i]} IS NULL" for i in idx)
    unknown_work = " OR ".join([no_counters, *expected.values()])
    w0 = [f"COALESCE({w[i]}, 0.0)" for i in idx]
    # why a kernel is unknown, packed as reasons.kernel_reasons packs it: uncounted per precision,
    # no counters, no peak per precision, no duration, no bytes, no bandwidth, TMA; then
    # whether a join gave it no counters
    conds = (missing + [no_counters]
             + [f"{w0[i]} > 0 AND {pk[i]} IS NULL" for i in idx]
             + ["dur IS NULL", "nbytes IS NULL", "bw IS NULL", "tma", "unjoined"])
    flags = " + ".join(f"CASE WHEN {c} THEN {1 << b} ELSE 0 END" for b, c in enumerate(conds))
    step1 = ",\n    ".join(
        ["g", "dur", "flop", f"{flags} AS flags", f"{w[labels.index(INT8)]} AS ops_int8",
         f"({uncounted}) OR ({no_counters}) AS incomplete",
         f"CASE WHEN {unknown_work} THEN NULL ELSE {' + '.join(w0)} END AS work",
         f"({' OR '.join(f'{x} > 0' for x in w0)}) AS has_work",
         "CASE WHEN tma THEN NULL ELSE nbytes END AS bytes",
         "CASE WHEN tma THEN NULL ELSE nbytes / bw * 1e9 END AS memory_ns"]
        + [f"CASE WHEN {w0[i]} > 0 THEN {w0[i]} / {pk[i]} * 1e9 ELSE 0.0 END AS {per[i]}"
           for i in idx]
        + passed[1:])
    any_null = " OR ".join(f"{p} IS NULL" for p in per)
    step2 = ",\n    ".join(
        ["g", "dur", "flop", "ops_int8", "work", "bytes", "memory_ns", "has_work", *per,
         f"CASE WHEN incomplete OR {any_null} THEN NULL "
         f"ELSE GREATEST(0.0, {', '.join(per)}) END AS compute_ns", *passed])
    floor = f"{LAUNCH_FLOOR_NS!r}"
    prec = " ".join(f"WHEN {per[i]} = compute_ns THEN '{p}'" for i, p in enumerate(labels))
    step3 = ",\n    ".join([
        "*",
        "CASE WHEN compute_ns IS NULL OR memory_ns IS NULL THEN NULL "
        "ELSE GREATEST(compute_ns, memory_ns) END AS roof_ns",
        f"CASE WHEN compute_ns IS NULL OR NOT has_work THEN NULL {prec} END AS precision"])
    step4 = ",\n    ".join([
        "*",
        f"COALESCE(roof_ns < {floor} AND dur IS NOT NULL, FALSE) AS is_latency",
        f"CASE WHEN dur IS NULL OR roof_ns IS NULL THEN NULL "
        f"ELSE GREATEST(dur - GREATEST(roof_ns, {floor}), 0.0) END AS headroom_ns"])
    return (f"WITH raw AS (SELECT\n    {raw}\nFROM {source}),\n"
            f"k1 AS (SELECT\n    {step1}\nFROM raw),\n"
            f"k2 AS (SELECT\n    {step2}\nFROM k1),\n"
            f"k3 AS (SELECT\n    {step3}\nFROM k2),\n"
            f"k4 AS (SELECT\n    {step4}\nFROM k3)")


def _measured_sum(x: str) -> str:
    """Sum over the measured kernels (r_k and t_k known), null where one of theirs is null."""
    return (f"CASE WHEN COUNT(CASE WHEN {_MEASURED} THEN {x} END) < "
            f"SUM(CASE WHEN {_MEASURED} THEN 1 ELSE 0 END) THEN NULL "
            f"ELSE SUM(CASE WHEN {_MEASURED} THEN {x} END) END")


#: a kernel whose numbers are measured (``roofline.counted_kernels``)
_MEASURED = "(roof_ns IS NOT NULL AND dur IS NOT NULL)"


def summary_sql(source: str, by: tuple[str, ...], level: str, columns: dict[str, str],
                dialect: Dialect = DUCKDB, min_coverage: float = MIN_COVERAGE,
                ) -> tuple[str, str]:
    """The summary query over the relation ``source`` (one row per kernel), and the query of
    each group's kernels per combination of missing inputs (for ``reason``); ``columns`` maps
    the relation's column names to their SQL types. Each sum is taken twice in one pass, over
    every member and over the measured ones; a partial group (``roofline.counted_kernels``:
    its measured kernels hold ``min_coverage`` of its time, not all of it) takes the second."""
    _q = dialect.q
    threshold = min_coverage_of(min_coverage)
    labels = list(PRECISIONS)
    kernels = kernel_sql(source, by, level, columns, dialect)
    summed = ("dur", "work", "flop", "ops_int8", "bytes", "compute_ns", "memory_ns", "roof_ns",
              "headroom_ns")
    pc = {f"pc{i}": f"CASE WHEN precision = '{p}' THEN COALESCE(compute_ns, 0.0) ELSE 0.0 END"
          for i, p in enumerate(labels)}
    agg = ",\n    ".join(
        ["g", "COUNT(*) AS kernels", "COALESCE(SUM(dur), 0.0) AS dur_known",
         "SUM(CASE WHEN is_latency THEN dur ELSE 0.0 END) AS latency_ns",
         f"SUM(CASE WHEN {_MEASURED} THEN 0 ELSE 1 END) AS unmeasured"]
        + [f"{_strict_sum(c)} AS {c}" for c in summed]
        + [f"{_measured_sum(c)} AS m_{c}" for c in summed]
        + [f"SUM({x}) AS {c}" for c, x in pc.items()]
        + [f"SUM(CASE WHEN {_MEASURED} THEN {x} ELSE 0.0 END) AS m_{c}" for c, x in pc.items()])
    coverage = ("CASE WHEN unmeasured = 0 THEN 1.0 WHEN dur IS NULL THEN NULL "
                "ELSE COALESCE(m_dur, 0.0) / dur END")
    partial = (f"COALESCE(unmeasured > 0 AND m_dur > 0 AND ({coverage}) >= {threshold!r}, "
               "FALSE)")
    chosen = ",\n    ".join(
        ["g", "kernels", "dur_known", "latency_ns", "dur", f"{coverage} AS coverage",
         "CASE WHEN part THEN m_dur ELSE dur END AS udur"]
        + [f"CASE WHEN part THEN m_{c} ELSE {c} END AS {c}" for c in (*summed[1:], *pc)])
    pcs = list(pc)
    gprec = " ".join(f"WHEN pc{i} = GREATEST({', '.join(pcs)}) THEN '{p}'"
                     for i, p in enumerate(labels))
    peak_c = "CASE WHEN compute_ns > 0 THEN work / (compute_ns * 1e-9) END"
    peak_b = "CASE WHEN memory_ns > 0 THEN bytes / (memory_ns * 1e-9) END"
    final = ",\n    ".join([
        f"g AS {_q('group')}", "kernels", "dur AS time_ns",
        "dur / SUM(dur_known) OVER () AS time_share", "coverage",
        "work", "flop", "ops_int8", "bytes",
        # x/0 as numpy gives it (inf, or NaN for 0/0) on every engine
        "CASE WHEN bytes = 0 THEN CASE WHEN work > 0 THEN CAST('Infinity' AS DOUBLE) "
        "WHEN work = 0 THEN CAST('NaN' AS DOUBLE) END ELSE work / bytes END AS ai",
        "work / (udur * 1e-9) AS work_per_s",
        f"CASE WHEN compute_ns IS NULL OR GREATEST({', '.join(pcs)}) <= 0 THEN NULL "
        f"{gprec} END AS precision",
        f"{peak_c} AS peak_compute_per_s",
        f"{peak_b} AS peak_bytes_per_s",
        f"({peak_c}) / ({peak_b}) AS ridge",
        "CASE WHEN work > 0 THEN work / (roof_ns * 1e-9) END AS roof_per_s",
        "roof_ns / udur AS pct_of_roof",
        "compute_ns / udur AS pct_of_peak_compute",
        "bytes / (udur * 1e-9) AS bytes_per_s",
        "memory_ns / udur AS pct_of_peak_bandwidth",
        "CASE WHEN roof_ns IS NULL OR dur IS NULL THEN 'unknown' "
        "WHEN latency_ns / udur > 0.5 THEN 'latency' "
        "WHEN compute_ns >= memory_ns THEN 'compute' ELSE 'memory' END AS bound",
        "latency_ns / udur AS latency_share",
        "headroom_ns",
        "headroom_ns / SUM(dur_known) OVER () AS headroom_share"])
    main = (f"{kernels},\n"
            f"grp AS (SELECT\n    {agg}\nFROM k4 GROUP BY g),\n"
            f"sel AS (SELECT\n    {chosen}\nFROM (SELECT *, {partial} AS part FROM grp) AS cov)\n"
            f"SELECT\n    {final}\nFROM sel")
    reasons = (f"{kernels}\nSELECT g AS {_q('group')}, flags, COUNT(*) AS n FROM k1 "
               "WHERE flags <> 0 GROUP BY g, flags")
    return main, reasons


class Dataset:
    """A DuckDB connection with the view ``kernels`` over a dataset's checked files
    (:func:`connect`). Every query runs through :meth:`df` or :meth:`rows`, the one place
    where DuckDB's errors become roofprof's (``footers.engine_error``: the file named)."""

    def __init__(self, con: Any, found: list[Part]) -> None:
        self.con = con
        self.parts = found
        #: the files, in the dataset's order, as the view's ``filename`` names them
        self.files = [str(p.path) for p in found]

    def df(self, sql: str) -> pd.DataFrame:
        """The result of ``sql`` as a pandas frame."""
        return pd.DataFrame(self._run(lambda: self.con.execute(sql).df()))

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The result of ``sql`` as rows."""
        return list(self._run(lambda: self.con.execute(sql).fetchall()))

    def close(self) -> None:
        self.con.close()

    def _run(self, query: Callable[[], Any]) -> Any:
        import duckdb

        try:
            return query()
        except duckdb.InterruptException:  # Ctrl-C inside DuckDB
            raise KeyboardInterrupt from None
        except duckdb.OutOfMemoryException as exc:
            raise InputError(f"DuckDB ran out of memory reading {len(self.files)} dataset "
                             f"files ({first_line(exc)}); read fewer at once "
                             f"({option('where')})") from None
        except duckdb.Error as exc:
            raise engine_error(exc, self.parts, "DuckDB") from None


def connect(directory: str | os.PathLike[str], where: str | None = None,
            threads: int | None = None, memory_limit: str | None = None,
            row_ids: bool = False) -> Dataset:
    """A DuckDB connection with the view ``kernels`` over the dataset's files matching
    ``where``, each checked first (``partitions.parts``, ``footers.check``), with ``run``,
    ``host``, ``rank`` of its partition folders; with ``row_ids`` also ``filename`` and
    ``file_row_number``, which name one kernel."""
    import duckdb

    found = parts(directory, where)
    stored: dict[str, None] = {}  # every file's columns, first seen first
    for footer in check(found):
        stored.update(dict.fromkeys(footer.names))
    con = duckdb.connect()
    dataset = Dataset(con, found)
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
        dataset.rows(_view(dataset, list(stored), row_ids))
    except BaseException:
        con.close()
        raise
    return dataset


#: the columns DuckDB adds that name a kernel's file and row (``connect(row_ids=True)``)
_ROW_ID = ("filename", "file_row_number")


def _view(dataset: Dataset, stored: list[str], row_ids: bool) -> str:
    """The statement that makes the view ``kernels``: the files' columns, and as nulls the
    measured ones no file holds (the in-memory reader's nulls: a timing table copied in has no
    counters). DuckDB's hive partitioning takes every ``key=value`` folder of a path, the
    first one winning: where the dataset's own folder path has none, the three partition
    folders are the only ones and it reads them; else (a dataset under ``.../rank=9/``) each
    file's values come from roofprof's own listing, joined by file name (a join per row)."""
    def quoted(text: object) -> str:  # file names from our listing, checked partition names
        return "'" + str(text).replace("'", "''") + "'"

    listed = ", ".join(quoted(f) for f in dataset.files)
    ids = ", file_row_number = true" if row_ids else ""
    nulls = "".join(f", CAST(NULL AS DOUBLE) AS {DUCKDB.q(c)}"
                    for c in QUANTITIES if c not in stored)
    root = dataset.parts[0].path.parents[len(PARTITIONS)]
    if "=" not in str(root):
        named = ", filename = true" if row_ids else ""
        return (f"CREATE TEMP VIEW kernels AS SELECT *{nulls} FROM read_parquet([{listed}], "
                f"hive_partitioning = true, union_by_name = true{named}{ids}, "
                "hive_types = {'run': VARCHAR, 'host': VARCHAR, 'rank': BIGINT})")
    values = ", ".join(f"({quoted(f)}, {quoted(p.values['run'])}, {quoted(p.values['host'])}, "
                       f"CAST({int(p.values['rank'])} AS BIGINT))"
                       for f, p in zip(dataset.files, dataset.parts, strict=True))
    own = [f"k.{DUCKDB.q(c)}" for c in stored if c not in (*PARTITIONS, *_ROW_ID)]
    out = [*own, *(f"p.{c}" for c in PARTITIONS), *(f"k.{c}" for c in _ROW_ID if row_ids)]
    return (f"CREATE TEMP VIEW kernels AS SELECT {', '.join(out)}{nulls} "
            f"FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false, "
            f"filename = true{ids}) AS k JOIN (VALUES {values}) AS p(filename, run, host, rank) "
            "ON k.filename = p.filename")


def view_columns(con: Dataset) -> dict[str, str]:
    """The ``kernels`` view's column names and SQL types."""
    return {str(r[0]): str(r[1]) for r in con.rows("DESCRIBE kernels")}


def summarize(directory: str | os.PathLike[str], by: str = "range", level: str = "dram",
              top: int | None = None, where: str | None = None,
              threads: int | None = None, memory_limit: str | None = None,
              min_coverage: float = MIN_COVERAGE) -> pd.DataFrame:
    """``roofline.summarize`` of the dataset at ``directory`` (its files matching ``where``),
    computed by DuckDB reading the Parquet files."""
    if top is not None and top < 1:
        raise UsageError(f"{option('top')} must be at least 1, got {top}")
    min_coverage_of(min_coverage)
    con = connect(directory, where, threads, memory_limit)
    try:
        return summarize_view(con, by, level, top, min_coverage)
    finally:
        con.close()


def summarize_view(con: Dataset, by: str = "range", level: str = "dram",
                   top: int | None = None, min_coverage: float = MIN_COVERAGE) -> pd.DataFrame:
    """:func:`summarize` over the ``kernels`` view of a :func:`connect` connection."""
    sql, why_sql = summary_sql("kernels", parse_by(by), level, view_columns(con),
                               min_coverage=min_coverage)
    df = con.df(sql)
    whys = con.df(why_sql) if needs_reasons(df) else pd.DataFrame()
    df["reason"] = pd.Series(group_reasons(df, whys, level), index=df.index, dtype=object)
    return finish(df, level, top)


def finish(df: pd.DataFrame, level: str, top: int | None) -> pd.DataFrame:
    """The engine's rows as ``roofline.summarize`` returns them: its columns, nulls as NaN or
    None, sorted by time (most first) then name."""
    df = df.copy()
    df["level"] = level
    df["kernels"] = df["kernels"].astype(np.int64)
    for col in SUMMARY_COLUMNS:
        if col not in ("group", "kernels", "level", "precision", "bound", "reason"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(np.float64)
    for col in ("group", "precision", "bound", "reason"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    df = df[list(SUMMARY_COLUMNS)]
    df = df.sort_values(["time_ns", "group"], ascending=[False, True], kind="stable",
                        na_position="last")
    if top is not None:
        df = df.head(top)
    return df.reset_index(drop=True)


def sampling_meta(directory: str | os.PathLike[str], where: str | None = None,
                  ) -> dict[str, Any]:
    """The metadata views read for their sampling note: the first file (of those matching
    ``where``) whose trace says it was sampled or filtered, else the first file's. Reads only
    the files' footers (each checked: ``footers.read``)."""
    with warnings.catch_warnings():  # the reader of the files warned already
        warnings.simplefilter("ignore", RoofprofWarning)
        return dict(decisive(read(part).meta for part in parts(directory, where)))


def explain(by: str = "range", level: str = "dram") -> Any:
    """The generated query over a relation named ``kernels`` of the full kernel table (for
    reading, and for other engines)."""
    cols = {c: ("DOUBLE" if dtype_of(c) == "float64" else "VARCHAR") for c in COLUMNS}
    cols.update({"run": "VARCHAR", "host": "VARCHAR", "rank": "BIGINT"})
    return summary_sql("kernels", parse_by(by), level, cols)[0]
