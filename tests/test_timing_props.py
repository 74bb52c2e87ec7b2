"""Property tests (issue 24): mutated copies of the real `roofprof trace` output
(fixtures/llama_sample.timing.parquet) never give a traceback, and `latency` (its percentiles)
and `summary --by phase` (its times) either give the clean file's numbers exactly, or say why
not in a DataWarning, or refuse the file in one InputError.

Mutations: one launch's value set to what no timing table roofprof writes can hold (a null,
negative or never-ending time, a duration that is not end - start, range lists of another
length, a range level with no range's times), a column retyped or dropped, the file cut. Left
out, and why: a text or an identity number (thread, stream, ...) edited into another value,
and a range time edited into another plausible time: the file says so, and nothing in it can
tell the edit from the truth (as a CSV cell edited into another valid number,
tests/test_validation_props.py).
"""

from __future__ import annotations

import math
import warnings
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roofprof.app.latency import latency
from roofprof.app.summary import summary
from roofprof.errors import DataWarning, InputError
from tests.conftest import FIXTURES

TIMING = FIXTURES / "llama_sample.timing.parquet"
BOUNDED = settings(max_examples=25, deadline=timedelta(seconds=3),
                   suppress_health_check=[HealthCheck.too_slow])
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SOURCE = pq.read_table(TIMING)
ROWS = SOURCE.num_rows


def outcome(run: Any) -> tuple[pd.DataFrame | None, list[str]]:
    """(the table ``run()`` gives, or None where it refused the file in an InputError; the
    DataWarnings it gave). Any other exception is a failure of the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table: pd.DataFrame | None = run()
        except InputError:
            table = None
    return table, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def lat_of(path: Path) -> Any:
    return outcome(lambda: latency(path).table)


def phases_of(path: Path) -> Any:
    return outcome(lambda: summary([path], by="phase").table[["group", "kernels", "time_ns"]])


CLEAN_LATENCY, _ = lat_of(TIMING)
CLEAN_PHASES, _ = phases_of(TIMING)


def check(path: Path) -> tuple[bool, bool]:
    """The invariant, for latency and summary --by phase each: refused, or warned, or the
    clean numbers exactly. Returns whether each was refused or warned."""
    said = []
    for measure, clean in ((lat_of, CLEAN_LATENCY), (phases_of, CLEAN_PHASES)):
        table, found = measure(path)
        if table is not None and not found:
            pd.testing.assert_frame_equal(table, clean)
        said.append(table is None or bool(found))
    return said[0], said[1]


def write(table: pa.Table) -> Any:
    """A temporary folder holding ``table`` as t.parquet (its path: ``folder / "t.parquet"``)."""
    folder = TemporaryDirectory()
    pq.write_table(table, Path(folder.name) / "t.parquet")
    return folder


def set_cell(table: pa.Table, column: str, row: int, value: Any) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    i = table.schema.get_field_index(column)
    return table.set_column(i, column, pa.array(values, type=table.schema.field(i).type))


# ----------------------------------------------------------------------------- one value


def hostile(data: st.DataObject, column: str, row: int) -> Any:
    """A value no timing table roofprof writes holds in ``column`` at ``row``."""
    value = SOURCE.column(column)[row].as_py()
    if column in ("start_ns", "end_ns"):
        return data.draw(st.sampled_from([None, -1, INT64_MIN, INT64_MAX, 0, value - 1,
                                          value + 1]))
    if column == "id":
        return None
    if column == "duration_ns":
        return data.draw(st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -1e-300, 0.0,
                                          value + 1]))
    if column == "nvtx":  # another length than the range times
        return data.draw(st.sampled_from([None, [], [*value, "x"], value[:-1]] if value
                                         else [["x"]]))
    lists = data.draw(st.sampled_from(["short", "long", "none"] + ["level"] * 3 * bool(value)))
    if lists != "level":
        return {"short": value[:-1] if value else [1], "long": [*value, 7],
                "none": None if value else [None]}[lists]
    d = data.draw(st.integers(0, len(value) - 1))
    other = SOURCE.column("nvtx_end_ns" if column == "nvtx_start_ns" else "nvtx_start_ns")
    partner = other[row].as_py()[d]
    bad = [None, -5, INT64_MIN, partner + 1 if column == "nvtx_start_ns" else partner - 1]
    if column == "nvtx_start_ns":
        bad.append(INT64_MAX)  # after any end; as an end it is "never closed", a valid end
    return [*value[:d], data.draw(st.sampled_from(bad)), *value[d + 1:]]


@BOUNDED
@given(data=st.data(), column=st.sampled_from(["start_ns", "end_ns", "id", "duration_ns",
                                               "nvtx", "nvtx_start_ns", "nvtx_end_ns"]))
def test_a_hostile_value_is_named_or_refused(data: st.DataObject, column: str) -> None:
    row = data.draw(st.integers(0, ROWS - 1), label="row")
    value = hostile(data, column, row)
    with write(set_cell(SOURCE, column, row, value)) as folder:
        said_latency, said_summary = check(Path(folder) / "t.parquet")
    assert said_latency, (column, row, value)  # every such edit changes what is timed
    if column == "duration_ns":
        assert said_summary, (row, value)


# -------------------------------------------------------------------- columns and bytes


def retyped(column: str, kind: str) -> pa.Array:
    """``column`` of the fixture as values of another Arrow type."""
    col = SOURCE.column(column)
    n = ROWS
    if kind == "string":
        return pc.cast(col, pa.string()) if not pa.types.is_list(col.type) else \
            pa.array([str(v) for v in col.to_pylist()])
    if kind == "float64":
        try:
            return pc.cast(col, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return pa.array(np.linspace(0.5, 9.5, n))
    if kind == "struct":
        return pa.array([{"a": 1}] * n)
    if kind == "bool":
        return pa.array([True] * n)
    return pa.array([[str(x) for x in v] if isinstance(v, list) else [str(v)]
                     for v in col.to_pylist()])


@BOUNDED
@given(column=st.sampled_from(SOURCE.column_names),
       how=st.sampled_from(["drop", "string", "float64", "struct", "bool", "list_of_text"]))
def test_a_retyped_or_dropped_column_is_named_or_refused(column: str, how: str) -> None:
    table = SOURCE.drop_columns([column]) if how == "drop" else SOURCE.set_column(
        SOURCE.schema.get_field_index(column), column, retyped(column, how))
    with write(table) as folder:
        said_latency, _ = check(Path(folder) / "t.parquet")
    kind = SOURCE.schema.field(column).type
    same = ((how == "string" and (pa.types.is_string(kind) or pa.types.is_large_string(kind)))
            or (how == "float64" and column == "duration_ns")
            or (how == "list_of_text" and column == "nvtx"))  # the same values, in other types
    if not same:
        assert said_latency, (column, how)  # the file is no longer one roofprof wrote


@BOUNDED
@given(data=st.data())
def test_a_cut_file_is_refused(data: st.DataObject) -> None:
    raw = TIMING.read_bytes()
    at = data.draw(st.integers(0, len(raw) - 1))
    with TemporaryDirectory() as folder:
        p = Path(folder) / "t.parquet"
        p.write_bytes(raw[:at])
        for measure in (lat_of, phases_of):
            table, _ = measure(p)
            assert table is None
