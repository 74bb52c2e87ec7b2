"""Hostile Nsight Systems exports (issue 24): copies of the real exports (fixtures/
llama_graph_nsys*.sqlite, nsys 2025.3.1 on an H100) with cells set to what SQLite lets any cell
hold (NULL, text, a blob, a real, an integer out of range), impossible durations and ranges,
tables and columns dropped, the file cut short. Each ends as the clean numbers, or one
DataWarning per kind naming table, row, column and raw value (the value null, or the row left
out and counted), or one clear InputError; --strict turns each warning into an error.

A column is made untyped (``loosen``) before a cell is set, so that the value is stored as given
(an INTEGER column would turn the text "12" into 12, and refuses NULL where NOT NULL).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import roofprof
from roofprof.cli import main
from roofprof.errors import DataWarning, InputError, strict_mode
from roofprof.inputs.timing import load_timing
from roofprof.tables.timing import TimingTrace
from tests.conftest import FIXTURES

NSYS = FIXTURES / "llama_graph_nsys.sqlite"
GRAPH_MODE = FIXTURES / "llama_graph_nsys_graphmode.sqlite"
KERNELS = "CUPTI_ACTIVITY_KIND_KERNEL"
RUNTIME = "CUPTI_ACTIVITY_KIND_RUNTIME"
GRAPHS = "CUPTI_ACTIVITY_KIND_GRAPH_TRACE"
NODES = "CUDA_GRAPH_NODE_EVENTS"
#: what SQLite lets a cell hold where an integer belongs, and how a message shows it and why
HOSTILE = [(None, "NULL (missing)"), ("abc", "abc (text, not an integer)"),
           (b"\x00\xff", "x'00ff' (a blob, not an integer)"), (1.5, "1.5 (not an integer)"),
           (9.3e18, "9.3e+18 (beyond 64-bit integers)"),
           (str(2**70), "1180591620717411303424 (text, not an integer)"),
           (-5, "-5 (negative)")]


# ----------------------------------------------------------------------------- helpers


def loosen(db: sqlite3.Connection, table: str) -> None:
    """``table`` again without declared types or constraints, rows and rowids kept."""
    cols = ", ".join(f'"{r[1]}"' for r in db.execute(f'PRAGMA table_info("{table}")'))
    db.execute(f'ALTER TABLE "{table}" RENAME TO hostile_old')
    db.execute(f'CREATE TABLE "{table}" ({cols})')
    db.execute(f'INSERT INTO "{table}" (rowid, {cols}) SELECT rowid, {cols} FROM hostile_old')
    db.execute("DROP TABLE hostile_old")


def copy_of(fixture: Path, tmp_path: Path, *sql: str, loose: tuple[str, ...] = (),
            params: tuple[Any, ...] = ()) -> Path:
    """A copy of ``fixture`` with the tables ``loose`` made untyped, then ``sql`` run (each
    statement with ``params``)."""
    path = tmp_path / f"{fixture.stem}_hostile.sqlite"
    shutil.copy(fixture, path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        for table in loose:
            loosen(db, table)
        for statement in sql:
            db.execute(statement, params)
        db.commit()
    return path


def set_cell(fixture: Path, tmp_path: Path, table: str, column: str, value: Any,
             rowid: int) -> Path:
    return copy_of(fixture, tmp_path, f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = '
                   f"{rowid}", loose=(table,), params=(value,))


def query(path: Path, sql: str) -> Any:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchone()


def read(path: Path) -> tuple[TimingTrace, list[str]]:
    """The timing table of ``path`` and the DataWarnings reading it gave (the path left out)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trace = load_timing(path)
    return trace, [str(w.message).replace(f"{path}: ", "") for w in caught
                   if issubclass(w.category, DataWarning)]


def refused(path: Path) -> str:
    """The error under --strict (library and command line say the same)."""
    with pytest.raises(InputError) as err, strict_mode(True):
        load_timing(path)
    result = CliRunner().invoke(main, ["summary", str(path), "--strict"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().endswith("(refused: --strict)")
    return str(err.value)


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_timing(NSYS).kernels


@pytest.fixture(scope="module")
def clean_graph_mode() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_timing(GRAPH_MODE).kernels


def by_correlation(k: pd.DataFrame) -> pd.DataFrame:
    return k.set_index("correlation_id", drop=False)


# ------------------------------------------------------------------ kernels: start and end


@pytest.mark.parametrize(("value", "said"), HOSTILE)
def test_a_kernel_without_a_usable_start_is_left_out_and_counted(
        tmp_path: Path, clean: pd.DataFrame, value: Any, said: str) -> None:
    corr, duration = query(NSYS, f"SELECT correlationId, end - start FROM {KERNELS} "
                                 "WHERE rowid = 100")
    path = set_cell(NSYS, tmp_path, KERNELS, "start", value, 100)
    trace, told = read(path)
    k = trace.kernels
    assert told == [f"1 kernel record(s) left out, for want of a usable start time (start): "
                    f"{KERNELS} row 100 (correlationId {corr}): start = {said}. Fix the export "
                    "or export the report again (--strict refuses such input)"]
    assert len(k) == len(clean) - 1
    assert corr not in set(k["correlation_id"])
    assert k["duration_ns"].sum() == clean["duration_ns"].sum() - duration
    assert "refused: strict" in refused(path)


@pytest.mark.parametrize(("value", "said"), [
    *HOSTILE, (9223372036854775807, "9223372036854775807 (out of range for a time)")])
def test_a_kernel_without_a_usable_end_keeps_its_start_with_its_duration_unknown(
        tmp_path: Path, clean: pd.DataFrame, value: Any, said: str) -> None:
    corr, start, duration = query(NSYS, f"SELECT correlationId, start, end - start FROM "
                                        f"{KERNELS} WHERE rowid = 100")
    path = set_cell(NSYS, tmp_path, KERNELS, "end", value, 100)
    trace, told = read(path)
    k = by_correlation(trace.kernels)
    assert told == [f"1 kernel record(s) without a usable duration (end missing, not a time, "
                    f"or not after start): {KERNELS} row 100 (correlationId {corr}): end = "
                    f"{said}. Kept with duration unknown: duration_ns is null and end_ns is the "
                    "start (--strict refuses such input)"]
    assert len(k) == len(clean)
    assert np.isnan(k.loc[corr, "duration_ns"])
    assert k.loc[corr, "end_ns"] == k.loc[corr, "start_ns"] == start
    assert k["duration_ns"].sum() == clean["duration_ns"].sum() - duration
    assert k["duration_ns"].isna().sum() == 1
    assert "refused: strict" in refused(path)


@pytest.mark.parametrize("shift", [0, -1, -10**6])
def test_a_kernel_ending_at_or_before_its_start_has_its_duration_unknown(
        tmp_path: Path, clean: pd.DataFrame, shift: int) -> None:
    corr, start, duration = query(NSYS, f"SELECT correlationId, start, end - start FROM "
                                        f"{KERNELS} WHERE rowid = 1000")
    path = copy_of(NSYS, tmp_path, f"UPDATE {KERNELS} SET end = start + {shift} "
                                   "WHERE rowid = 1000")
    trace, told = read(path)
    k = by_correlation(trace.kernels)
    assert told == [f"1 kernel record(s) without a usable duration (end missing, not a time, "
                    f"or not after start): {KERNELS} row 1000 (correlationId {corr}): end "
                    f"{start + shift} not after start {start}. Kept with duration unknown: "
                    "duration_ns is null and end_ns is the start (--strict refuses such input)"]
    row = k.loc[[corr]]
    assert len(k) == len(clean)
    assert (row["end_ns"] == start).any()
    assert row["duration_ns"].isna().sum() == 1
    assert k["duration_ns"].sum() == clean["duration_ns"].sum() - duration


def test_many_damaged_kernels_are_one_warning_per_kind_naming_the_first_few(
        tmp_path: Path, clean: pd.DataFrame) -> None:
    """7 kernels without a start, 3 without an end: two warnings, the first five of each
    named, "and 2 more"; the other kernels' numbers are the clean ones."""
    out = "rowid BETWEEN 10 AND 16"
    lost, lost_ns = query(NSYS, f"SELECT COUNT(*), SUM(end - start) FROM {KERNELS} "
                                f"WHERE {out}")
    unknown_ns = query(NSYS, f"SELECT SUM(end - start) FROM {KERNELS} "
                             "WHERE rowid BETWEEN 20 AND 22")[0]
    path = copy_of(NSYS, tmp_path, f"UPDATE {KERNELS} SET start = 'x' WHERE {out}",
                   f"UPDATE {KERNELS} SET end = NULL WHERE rowid BETWEEN 20 AND 22",
                   loose=(KERNELS,))
    trace, told = read(path)
    assert len(told) == 2
    assert told[0].startswith("7 kernel record(s) left out, for want of a usable start time "
                              f"(start): {KERNELS} row 10 (correlationId ")
    assert told[0].count("start = x (text, not an integer)") == 5
    assert "; and 2 more. Fix the export" in told[0]
    assert told[1].startswith("3 kernel record(s) without a usable duration")
    k = trace.kernels
    assert lost == 7
    assert len(k) == len(clean) - 7
    assert k["duration_ns"].sum() == clean["duration_ns"].sum() - lost_ns - unknown_ns


def test_an_export_whose_kernels_all_lack_a_start_is_one_clear_error(tmp_path: Path) -> None:
    path = copy_of(NSYS, tmp_path, f"UPDATE {KERNELS} SET start = 'x'", loose=(KERNELS,))
    with pytest.raises(InputError, match=r"holds no CUDA kernels with a usable start time "
                                         r"\(1319 left out: CUPTI_ACTIVITY_KIND_KERNEL row 1 "):
        load_timing(path)


# ------------------------------------------------------------------ kernels: other columns


@pytest.mark.parametrize(("column", "value", "raw", "why", "out"), [
    ("deviceId", "abc", "abc", "text, not an integer", "device"),
    ("contextId", None, "NULL", "missing", "context"),
    ("streamId", 2.5, "2.5", "not an integer", "stream"),
    ("correlationId", -5, "-5", "negative", "correlation_id"),
    ("correlationId", 2**40, "1099511627776", "out of range for a correlation id",
     "correlation_id"),
    ("globalPid", b"\x01", "x'01'", "a blob, not an integer", "process_id"),
    ("gridX", 0, "0", "out of range for a launch dimension", "grid"),
    ("blockZ", 9.3e18, "9.3e+18", "beyond 64-bit integers", "block"),
    ("graphNodeId", "node", "node", "text, not an integer", "graph_node_id"),
    ("shortName", 10**9, "1000000000", "names no string of StringIds", None),
    ("demangledName", None, "NULL", "missing", None),
])
def test_an_unreadable_kernel_value_is_null_and_told(
        tmp_path: Path, clean: pd.DataFrame, column: str, value: Any, raw: str, why: str,
        out: str | None) -> None:
    # a graph node kernel of a decode replay, or the prefill's first up_proj kernel
    rowid = 1000 if column == "graphNodeId" else 628
    corr = query(NSYS, f"SELECT correlationId FROM {KERNELS} WHERE rowid = {rowid}")[0]
    path = set_cell(NSYS, tmp_path, KERNELS, column, value, rowid)
    trace, told = read(path)
    k = trace.kernels
    label = f"{KERNELS} row {rowid}" + ("" if column == "correlationId" else
                                       f" (correlationId {corr})")
    cells = [t for t in told if "value(s) read as null" in t]
    assert cells == [f"1 value(s) read as null: {label}, {column} = {raw!r} ({why}). Quantities "
                     "that need them are null; fix the file or export it again (--strict "
                     "refuses such input)"]
    assert len(k) == len(clean)
    assert k["duration_ns"].sum() == clean["duration_ns"].sum()
    at = int(np.flatnonzero((k["start_ns"] == query(NSYS, f"SELECT start FROM {KERNELS} "
                                                          f"WHERE rowid = {rowid}")[0])
                            .to_numpy())[0])
    if out is not None and out != "process_id":
        assert pd.isna(k[out].iloc[at])
        assert k[out].isna().sum() == clean[out].isna().sum() + 1
    if column == "shortName":  # the demangled name stands in
        assert k["kernel"].iloc[at] == k["kernel_demangled"].iloc[at] == \
            clean["kernel_demangled"].iloc[at]
    if column == "globalPid":  # the launch call is found by correlation id alone
        assert k["process_id"].iloc[at] == clean["process_id"].iloc[at]
        assert k["nvtx"].tolist() == clean["nvtx"].tolist()
    if column == "correlationId":  # no launch call can be found: told, path empty
        assert len(told) == 2
        assert told[0].startswith(f"1 kernel record(s) match no launch call of {RUNTIME} or "
                                  f"CUPTI_ACTIVITY_KIND_DRIVER (by globalPid and "
                                  f"correlationId): {KERNELS} row {rowid}: correlationId "
                                  "unreadable. They have no thread, launch API or annotation "
                                  "path")
        assert k["nvtx"].iloc[at] == []
        assert k["nvtx_source"].iloc[at] == "none"
    if column == "graphNodeId":  # no longer a graph node: its capture ranges are unknown
        assert k["nvtx_source"].iloc[at] == "launch"
        assert k["nvtx"].iloc[at] == clean["nvtx"].iloc[at][:1] == ["decode"]
    else:
        assert clean["nvtx"].iloc[at] == ["prefill", "model", "model.layers.0",
                                          "model.layers.0.mlp", "model.layers.0.mlp.up_proj"]


def test_a_kernel_whose_name_ids_name_nothing_is_unnamed(tmp_path: Path,
                                                         clean: pd.DataFrame) -> None:
    path = copy_of(NSYS, tmp_path, f"UPDATE {KERNELS} SET shortName = 999999, demangledName = "
                                   "'?' WHERE rowid = 5")
    trace, told = read(path)
    k = trace.kernels
    assert len(told) == 1
    assert told[0].startswith("2 value(s) read as null: ")
    assert ", demangledName = '?' (text, not an integer)" in told[0]
    assert ", shortName = '999999' (names no string of StringIds)" in told[0]
    assert k["kernel"].isna().sum() == k["kernel_demangled"].isna().sum() == 1
    assert len(k) == len(clean)
    assert k["duration_ns"].sum() == clean["duration_ns"].sum()


# ----------------------------------------------------------------------------- NVTX ranges


def test_a_range_ending_before_it_starts_is_left_out_of_the_paths(
        tmp_path: Path, clean: pd.DataFrame) -> None:
    """`prefill` (row 1) made to end before it starts: without the warning, its 113 kernels
    would silently leave the prefill phase; with it they do, and the user is told."""
    start = query(NSYS, "SELECT start FROM NVTX_EVENTS WHERE rowid = 1")[0]
    path = copy_of(NSYS, tmp_path, "UPDATE NVTX_EVENTS SET end = start - 1 WHERE rowid = 1")
    trace, told = read(path)
    k = trace.kernels
    assert told == [f"1 NVTX push/pop range(s) of NVTX_EVENTS left out of the annotation paths: "
                    f"'prefill' (row 1: start {start}, end {start - 1}: it ends before it "
                    "starts). Kernels they enclosed lack those levels: phases, ranges and ops "
                    "may be incomplete (--strict refuses such input)"]
    was = clean["nvtx"].map(lambda p: p[:1] == ["prefill"]).to_numpy()
    assert was.sum() == 113
    assert [p for p, w in zip(k["nvtx"], was, strict=True) if w] == \
        [p[1:] for p, w in zip(clean["nvtx"], was, strict=True) if w]
    assert (k.loc[~was, "nvtx"].tolist() == clean.loc[~was, "nvtx"].tolist())
    assert "prefill" not in set(k["phase"])
    assert len(k) == len(clean)
    assert k["duration_ns"].sum() == clean["duration_ns"].sum()
    assert "refused: strict" in refused(path)


@pytest.mark.parametrize(("column", "value", "why"), [
    ("start", "soon", "the start is not a time"),
    ("start", None, "the start is not a time"),
    ("end", 1.5, "the end is not a time"),
    ("globalTid", None, "no thread (globalTid = NULL (missing))"),
    ("globalTid", "t1", "no thread (globalTid = t1 (text, not an integer))"),
    ("eventType", "59", "its kind is unknown (eventType = 59 (text, not an integer))"),
    ("eventType", -1, "its kind is unknown (eventType = -1 (negative))"),
])
def test_a_range_that_cannot_be_placed_is_left_out_and_named(
        tmp_path: Path, clean: pd.DataFrame, column: str, value: Any, why: str) -> None:
    start, end = query(NSYS, "SELECT start, end FROM NVTX_EVENTS WHERE rowid = 1")
    path = set_cell(NSYS, tmp_path, "NVTX_EVENTS", column, value, 1)
    trace, told = read(path)
    shown = {"start": start, "end": end}
    if column in shown:
        shown[column] = "NULL" if value is None else value
    assert told == [f"1 NVTX push/pop range(s) of NVTX_EVENTS left out of the annotation paths: "
                    f"'prefill' (row 1: start {shown['start']}, end {shown['end']}: {why}). "
                    "Kernels they enclosed lack those levels: phases, ranges and ops may be "
                    "incomplete (--strict refuses such input)"]
    assert "prefill" not in set(trace.kernels["phase"])
    assert len(trace.kernels) == len(clean)


def test_a_range_that_never_ended_stays_open_and_is_recorded(tmp_path: Path,
                                                            clean: pd.DataFrame) -> None:
    """nsys writes end NULL for a range still open when profiling stopped: the program was
    inside it, so it encloses every later launch of its thread, as it always did (no
    DataWarning: the export is right); the metadata counts it by name."""
    path = set_cell(NSYS, tmp_path, "NVTX_EVENTS", "end", None, 1)
    trace, told = read(path)
    assert told == []
    assert trace.meta["timing"]["nvtx_unended_ranges"] == {"prefill": 1}
    k = trace.kernels
    assert (k["phase"] == "prefill").sum() > 113
    assert "nvtx_unended_ranges" not in load_timing(NSYS).meta["timing"]


def test_a_range_name_that_cannot_be_read_is_empty_and_told(tmp_path: Path,
                                                            clean: pd.DataFrame) -> None:
    path = copy_of(NSYS, tmp_path, "UPDATE NVTX_EVENTS SET textId = 424242 WHERE rowid = 2",
                   "UPDATE NVTX_EVENTS SET text = x'41' WHERE rowid = 3", loose=("NVTX_EVENTS",))
    trace, told = read(path)
    assert len(told) == 1
    assert "NVTX_EVENTS row 2, textId = '424242' (names no string of StringIds)" in told[0]
    assert "NVTX_EVENTS row 3, text = \"x'41'\" (a blob, not text)" in told[0]
    k = trace.kernels
    inside = clean["nvtx"].map(lambda p: p[:2] == ["prefill", "model"]).to_numpy()
    assert inside.sum() == 111
    assert k.loc[inside, "nvtx"].tolist() == [["prefill", "", *p[2:]]
                                              for p in clean.loc[inside, "nvtx"]]
    assert k.loc[~inside, "nvtx"].tolist() == clean.loc[~inside, "nvtx"].tolist()
    assert len(k) == len(clean)


# --------------------------------------------------------------------------- launch calls


def test_a_launch_call_without_a_thread_is_left_out_and_its_kernel_told(
        tmp_path: Path, clean: pd.DataFrame) -> None:
    corr = query(NSYS, f"SELECT correlationId FROM {KERNELS} WHERE rowid = 100")[0]
    path = copy_of(NSYS, tmp_path, f"UPDATE {RUNTIME} SET globalTid = 'main' WHERE "
                                   f"correlationId = {corr}", loose=(RUNTIME,))
    rowid = query(path, f"SELECT rowid FROM {RUNTIME} WHERE correlationId = {corr}")[0]
    trace, told = read(path)
    k = by_correlation(trace.kernels)
    assert told == [
        f"1 kernel record(s) match no launch call of {RUNTIME} or CUPTI_ACTIVITY_KIND_DRIVER "
        f"(by globalPid and correlationId): {KERNELS} row 100 (correlationId {corr}), "
        f"globalPid {query(NSYS, f'SELECT globalPid FROM {KERNELS} WHERE rowid = 100')[0]}. "
        "They have no thread, launch API or annotation path (--strict refuses such input)",
        f"1 launch call(s) left out, for want of a usable correlationId, globalTid or start: "
        f"{RUNTIME} row {rowid} (correlationId {corr}): globalTid = main (text, not an "
        "integer). Kernels they launched have no thread, launch API or annotation path "
        "(--strict refuses such input)"]
    assert pd.isna(k.loc[corr, "thread_id"])
    assert pd.isna(k.loc[corr, "launch_api"])
    assert k.loc[corr, "nvtx"] == []
    assert k.loc[corr, "nvtx_source"] == "none"
    assert k.loc[corr, "process_id"] == by_correlation(clean).loc[corr, "process_id"]
    assert len(k) == len(clean)
    assert k["duration_ns"].sum() == clean["duration_ns"].sum()


def test_a_launch_call_whose_name_cannot_be_read_has_no_launch_api(
        tmp_path: Path, clean: pd.DataFrame) -> None:
    corr = query(NSYS, f"SELECT correlationId FROM {KERNELS} WHERE rowid = 100")[0]
    path = copy_of(NSYS, tmp_path, f"UPDATE {RUNTIME} SET nameId = -1 WHERE correlationId = "
                                   f"{corr}")
    trace, told = read(path)
    k = by_correlation(trace.kernels)
    assert len(told) == 1
    assert told[0].startswith("1 value(s) read as null: ")
    assert f"(correlationId {corr}), nameId = '-1' (negative)" in told[0]
    assert pd.isna(k.loc[corr, "launch_api"])
    assert k["nvtx"].tolist() == by_correlation(clean)["nvtx"].tolist()


# ------------------------------------------------------------------------------ CUDA graphs


def test_a_graph_replay_without_a_start_is_left_out(tmp_path: Path,
                                                    clean_graph_mode: pd.DataFrame) -> None:
    corr, duration = query(GRAPH_MODE, f"SELECT correlationId, end - start FROM {GRAPHS} "
                                       "WHERE rowid = 2")
    path = set_cell(GRAPH_MODE, tmp_path, GRAPHS, "start", "x", 2)
    trace, told = read(path)
    assert told == [f"1 kernel record(s) left out, for want of a usable start time (start): "
                    f"{GRAPHS} row 2 (correlationId {corr}): start = x (text, not an "
                    "integer). Fix the export or export the report again (--strict refuses "
                    "such input)"]
    k = trace.kernels
    assert (k["duration_from"] == "replay").sum() == 3
    assert k["duration_ns"].sum() == clean_graph_mode["duration_ns"].sum() - duration


def test_a_graph_replay_without_its_graph_id_is_named_without_it(
        tmp_path: Path, clean_graph_mode: pd.DataFrame) -> None:
    corr = query(GRAPH_MODE, f"SELECT correlationId FROM {GRAPHS} WHERE rowid = 2")[0]
    path = set_cell(GRAPH_MODE, tmp_path, GRAPHS, "graphId", None, 2)
    trace, told = read(path)
    assert told == [f"1 value(s) read as null: {GRAPHS} row 2 (correlationId {corr}), graphId "
                    "= 'NULL' (missing). Quantities that need them are null; fix the file or "
                    "export it again (--strict refuses such input)"]
    k = by_correlation(trace.kernels)
    assert k.loc[corr, "kernel"] == "[CUDA graph replay: nodes not recorded]"
    assert pd.isna(k.loc[corr, "graph_id"])
    assert k["duration_ns"].sum() == clean_graph_mode["duration_ns"].sum()


def test_a_node_kernel_whose_node_was_not_created_keeps_its_launch_path(
        tmp_path: Path, clean: pd.DataFrame) -> None:
    """The two creation events of one kernel's graph node (its capture, and its clone at
    instantiation) cut: that kernel keeps the ranges open at its replay only."""
    node = query(NSYS, f"SELECT graphNodeId FROM {KERNELS} WHERE rowid = 1000")[0]
    path = copy_of(NSYS, tmp_path, f"UPDATE {NODES} SET start = 'later' WHERE graphNodeId = "
                                   f"{node}", loose=(NODES,))
    trace, told = read(path)
    assert len(told) == 2
    assert told[0].startswith(f"2 CUDA graph node creation event(s) of {NODES} left out, for "
                              "want of a usable graphNodeId, globalTid, start or "
                              f"originalGraphNodeId: {NODES} row 622: start = later (text, not "
                              f"an integer); {NODES} row 623: start = later")
    k = trace.kernels
    moved = (clean["graph_node_id"] == node).fillna(False).to_numpy(dtype=bool)
    assert moved.sum() == 3  # one kernel of each decode replay
    assert told[1].startswith(f"3 CUDA graph node kernel(s) have no creation event of their "
                              f"node (graphNodeId) in {NODES}: {KERNELS} row ")
    assert f"{KERNELS} row 1000 (correlationId 19513), graphNodeId {node}; " in told[1]
    assert (k.loc[moved, "nvtx_source"] == "launch").all()
    assert k.loc[moved, "nvtx"].tolist() == [["decode"]] * 3
    assert all(len(p) > 1 for p in clean.loc[moved, "nvtx"])
    assert k.loc[~moved, "nvtx"].tolist() == clean.loc[~moved, "nvtx"].tolist()


# ------------------------------------------------------------------------ strings and GPUs


def test_an_unusable_string_is_left_out_and_what_names_it_is_null(
        tmp_path: Path, clean: pd.DataFrame) -> None:
    sid = query(NSYS, f"SELECT shortName FROM {KERNELS} WHERE rowid = 100")[0]
    n = int(query(NSYS, f"SELECT COUNT(*) FROM {KERNELS} WHERE shortName = {sid}")[0])
    path = set_cell(NSYS, tmp_path, "StringIds", "value", b"\xff", sid)
    trace, told = read(path)
    assert told[0] == (f"1 row(s) of StringIds left out (id not an integer or value not text): "
                       f"row {sid} (id {sid}, value x'ff'). Names that refer to them are "
                       "null (--strict refuses such input)")
    assert told[1].startswith(f"{n} value(s) read as null: ")
    assert f", shortName = '{sid}' (names no string of StringIds)" in told[1]
    k = trace.kernels
    def same(k: pd.DataFrame) -> int:
        return int((k["kernel"].astype(object) == k["kernel_demangled"].astype(object)).sum())

    assert same(k) == same(clean) + n


def test_a_gpu_without_a_readable_name_is_told(tmp_path: Path, clean: pd.DataFrame) -> None:
    path = set_cell(NSYS, tmp_path, "TARGET_INFO_GPU", "name", 7, 1)
    trace, told = read(path)
    assert told == ["1 value(s) read as null: TARGET_INFO_GPU row 1, name = '7' (a number, not "
                    "text). Quantities that need them are null; fix the file or export it "
                    "again (--strict refuses such input)"]
    assert trace.kernels["device_name"].isna().all()
    assert (trace.kernels["cc"] == "9.0").all()
    assert trace.meta["gpu"] == []


def test_kernels_on_a_gpu_the_export_does_not_describe_are_told(
        tmp_path: Path, clean: pd.DataFrame) -> None:
    path = copy_of(NSYS, tmp_path, "UPDATE TARGET_INFO_GPU SET cuDevice = 'zero'",
                   loose=("TARGET_INFO_GPU",))
    trace, told = read(path)
    assert told[0] == ("1 row(s) of TARGET_INFO_GPU left out, for want of a usable device id: "
                       "TARGET_INFO_GPU row 1: cuDevice = zero (text, not an integer) "
                       "(--strict refuses such input)")
    assert told[1].startswith(f"{len(clean)} kernel record(s) on a device that TARGET_INFO_GPU "
                              f"does not describe: {KERNELS} row 1 (correlationId ")
    assert trace.kernels["device_name"].isna().all()
    assert trace.kernels["cc"].isna().all()


# --------------------------------------------------------------- missing tables and columns


@pytest.mark.parametrize(("sql", "said"), [
    ("DROP TABLE StringIds", "no StringIds table (id, value), where an Nsight Systems export "
                             "keeps every name; kernels cannot be named: export the report "
                             "again with: nsys export --type sqlite REPORT.nsys-rep"),
    (f"ALTER TABLE {KERNELS} DROP COLUMN end", f"{KERNELS} lacks end; not the documented "
                                               "Nsight Systems export schema"),
    (f"DROP TABLE {KERNELS}", f"an SQLite file without the {KERNELS} table"),
    (f"ALTER TABLE {KERNELS} DROP COLUMN shortName; ALTER TABLE {KERNELS} DROP COLUMN "
     "demangledName", f"{KERNELS} has neither shortName nor demangledName: its kernels cannot "
                      "be named"),
])
def test_a_table_or_column_the_reader_needs_is_one_clear_error(tmp_path: Path, sql: str,
                                                               said: str) -> None:
    path = copy_of(NSYS, tmp_path, *sql.split("; "))
    with pytest.raises(InputError) as err:
        load_timing(path)
    assert said in str(err.value)
    result = CliRunner().invoke(main, ["summary", str(path)])
    assert result.exit_code == 2
    assert result.stderr.count("roofprof: error: ") == 1
    assert said in result.stderr


@pytest.mark.parametrize(("sql", "said"), [
    (f"ALTER TABLE {KERNELS} DROP COLUMN deviceId",
     f"{KERNELS} lacks deviceId: read as null; export the report again with: nsys export "
     "--type sqlite REPORT.nsys-rep (--strict refuses such input)"),
    (f"DROP TABLE {RUNTIME}",
     f"no launch calls ({RUNTIME} or CUPTI_ACTIVITY_KIND_DRIVER with correlationId, globalTid "
     "and start): kernels have no thread, launch API or annotation path; profile with nsys "
     "profile -t cuda,nvtx (--strict refuses such input)"),
    (f"ALTER TABLE {RUNTIME} DROP COLUMN nameId",
     f"{RUNTIME} lacks nameId: launch_api is null; export the report again with: nsys export "
     "--type sqlite REPORT.nsys-rep (--strict refuses such input)"),
    ("ALTER TABLE NVTX_EVENTS DROP COLUMN globalTid",
     "NVTX_EVENTS lacks globalTid: no annotation range is read, kernels have no annotation "
     "path; export the report again with: nsys export --type sqlite REPORT.nsys-rep (--strict "
     "refuses such input)"),
    ("DROP TABLE TARGET_INFO_GPU",
     "no TARGET_INFO_GPU table: device_name and cc are null; export the report again with: "
     "nsys export --type sqlite REPORT.nsys-rep (--strict refuses such input)"),
    (f"DROP TABLE {NODES}",
     f"500 CUDA graph node kernel(s) have no creation event of their node (graphNodeId) in "
     f"{NODES}: {KERNELS} row "),
])
def test_a_missing_optional_table_or_column_is_null_and_told(
        tmp_path: Path, clean: pd.DataFrame, sql: str, said: str) -> None:
    trace, told = read(copy_of(NSYS, tmp_path, sql))
    assert len(told) == 1
    assert told[0].startswith(said)
    k = trace.kernels
    assert len(k) == len(clean)
    assert k["duration_ns"].sum() == clean["duration_ns"].sum()


def test_an_export_without_nvtx_has_no_paths_and_no_warning(tmp_path: Path,
                                                            clean: pd.DataFrame) -> None:
    """nsys writes NVTX_EVENTS only where the program used NVTX: without it every path is
    empty, and nothing is wrong with the export."""
    trace, told = read(copy_of(NSYS, tmp_path, "DROP TABLE NVTX_EVENTS"))
    assert told == []
    k = trace.kernels
    assert k["nvtx"].map(len).sum() == 0
    assert len(k) == len(clean)
    assert k["duration_ns"].sum() == clean["duration_ns"].sum()


def test_graph_launches_without_any_record_of_their_replays_are_told(
        tmp_path: Path, clean_graph_mode: pd.DataFrame) -> None:
    trace, told = read(copy_of(GRAPH_MODE, tmp_path, f"DROP TABLE {GRAPHS}"))
    assert told == ["the export has CUDA graph launches but no record of their replays (no "
                    f"graph node kernels, no {GRAPHS} rows): the replays' GPU time is missing; "
                    "export the report again with: nsys export --type sqlite REPORT.nsys-rep "
                    "(--strict refuses such input)"]
    assert len(trace.kernels) == len(clean_graph_mode) - 4


@pytest.mark.parametrize("keep", [50, 4096, 100_000, 700_415])
def test_an_export_cut_short_is_one_clear_error(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "cut.sqlite"
    path.write_bytes(NSYS.read_bytes()[:keep])
    with pytest.raises(InputError) as err:
        load_timing(path)
    said = str(err.value)
    if keep >= 100:
        assert said == (f"{path}: not a readable SQLite database (cut short: {keep} of its "
                        "700416 bytes); copy it again, or export the report again with: nsys "
                        "export --type sqlite REPORT.nsys-rep")
    assert CliRunner().invoke(main, ["summary", str(path)]).exit_code == 2


# ----------------------------------------------------------------- the three ways of reading


def test_the_clean_exports_read_without_a_warning() -> None:
    for path in (NSYS, GRAPH_MODE):
        _, told = read(path)
        assert told == []


def test_each_reader_tells_once_per_kind_and_strict_refuses(tmp_path: Path,
                                                            clean: pd.DataFrame) -> None:
    """A copy with three kinds of damage: roofprof.load, `summary` and `latency` each tell
    each kind once, with the same numbers as load_timing; --strict refuses it."""
    path = copy_of(NSYS, tmp_path, f"UPDATE {KERNELS} SET start = NULL WHERE rowid = 3",
                   f"UPDATE {KERNELS} SET end = 'x' WHERE rowid = 4",
                   f"UPDATE {KERNELS} SET gridY = 0 WHERE rowid = 5", loose=(KERNELS,))
    trace, told = read(path)
    assert [t.split(" ")[1:3] for t in told] == [["kernel", "record(s)"], ["kernel", "record(s)"],
                                                 ["value(s)", "read"]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = roofprof.load(path)
    assert sorted(str(w.message) for w in caught if w.category is DataWarning) == \
        sorted(f"{path}: {t}" for t in told)
    assert len(loaded.kernels) == len(clean) - 1
    assert loaded.kernels["duration_ns"].sum() == trace.kernels["duration_ns"].sum()
    with pytest.raises(InputError, match=r"\(refused: strict\)$"):
        roofprof.load(path, strict=True)
    for command in ("summary", "latency"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code == 0, result.output
        for t in told:
            assert result.stderr.count(f"roofprof: warning: {path}: {t}\n") == 1
    assert "refused: strict" in refused(path)


def test_a_file_name_that_a_uri_would_misread_reads_the_same(tmp_path: Path,
                                                             clean: pd.DataFrame) -> None:
    """The export is opened read-only through an SQLite URI: "#", "?" and "%" in its name
    must stay part of the name."""
    odd = tmp_path / "run #1?%20" / "a#b?.sqlite"
    odd.parent.mkdir()
    shutil.copy(NSYS, odd)
    trace, told = read(odd)
    assert told == []
    assert numbers_of(trace.kernels) == numbers_of(clean)


def numbers_of(k: pd.DataFrame) -> tuple[int, float, list[str]]:
    return len(k), float(k["duration_ns"].sum()), k["range"].astype(str).tolist()


def test_a_damaged_report_is_named_by_the_report_not_its_export(
        tmp_path: Path, clean: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .nsys-rep is read through `nsys export` into a temporary file: what the export held
    is told of the report the user gave (a fake nsys on PATH writes the damaged export)."""
    damaged = copy_of(NSYS, tmp_path, f"UPDATE {KERNELS} SET start = NULL WHERE rowid = 100",
                      loose=(KERNELS,))
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "nsys"
    # nsys export --type sqlite --force-overwrite true -o OUT REPORT
    fake.write_text(f'#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\ncp "{damaged}" "$2"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    report = tmp_path / "run.nsys-rep"
    report.write_bytes(b"\x00not read by roofprof")
    trace, told = read(report)
    assert len(told) == 1
    assert told[0].startswith("1 kernel record(s) left out, for want of a usable start time")
    assert len(trace.kernels) == len(clean) - 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_timing(report)
    assert [str(w.message).split(": ")[0] for w in caught] == [str(report)]


def test_a_number_beyond_64_bits_in_the_exports_own_typed_column_is_told(
        tmp_path: Path, clean: pd.DataFrame) -> None:
    """In nsys' own INTEGER column (no loosening) SQLite stores the text of a number beyond
    64 bits as a real: still not a time."""
    corr = query(NSYS, f"SELECT correlationId FROM {KERNELS} WHERE rowid = 100")[0]
    path = copy_of(NSYS, tmp_path, f"UPDATE {KERNELS} SET start = '{2**70}' WHERE rowid = 100")
    assert query(path, f"SELECT typeof(start) FROM {KERNELS} WHERE rowid = 100") == ("real",)
    trace, told = read(path)
    assert told == [f"1 kernel record(s) left out, for want of a usable start time (start): "
                    f"{KERNELS} row 100 (correlationId {corr}): start = 1.1805916207174113e+21 "
                    "(beyond 64-bit integers). Fix the export or export the report again "
                    "(--strict refuses such input)"]
    assert len(trace.kernels) == len(clean) - 1
