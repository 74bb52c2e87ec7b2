"""Issue 24's follow-ups: each case ends in the clean parse's numbers, a DataWarning naming what
was done, or one clear error.

1. Raw values in warnings read as the file holds them (``-5000.0``), never numpy's repr
   (``np.float64(-5000.0)``): a timing Parquet file and a kernel-table Parquet file.
2. A kernel-table Parquet file with a column of any type anywhere: an identity, attribution or
   measured column of the wrong type is one InputError naming it (or the columns); a column
   roofprof does not know is not read, so whatever it holds, the table is the clean one.
3. (tests/test_round_trips.py) latency of a kernel table converted from Kineto or nsys says it
   has no range timings and what to give instead.
4. latency of a folder or a dataset folder says what latency reads.
5. latency -o with an output it cannot write is refused before the work.

The fixtures: fixtures/llama_sample.timing.parquet (a ``roofprof trace`` timing table; ID 5 is
distribution_elementwise_grid_stride_kernel, 4352 ns) and fixtures/llama_full_record.parquet
(a kernel table of 408 kernels; IDs 0-2 are vectorized_gather_kernel,
elementwise_kernel_with_index and vectorized_elementwise_kernel).
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import parsers
import roofprof
from roofprof.analysis.join import PROVENANCE, TIMING_EXTRA
from roofprof.cli import main
from roofprof.errors import DataWarning, InputError, RoofprofError
from roofprof.tables.checks import Issues, shown_raw
from roofprof.tables.kernels import EXTRA, read_parquet
from roofprof.tables.partitions import PARTITIONS
from roofprof.tables.schema import ATTRIBUTION, IDENTITY, MEASURED
from roofprof.tables.timing import CONVERTED_FROM
from tests.conftest import FIXTURES
from tests.test_validation_props import BOUNDED

TIMING = FIXTURES / "llama_sample.timing.parquet"
KERNELS = FIXTURES / "llama_full_record.parquet"
NCU = FIXTURES / "llama_small.ncu-rep"
ID5 = "kernel ID 5 (distribution_elementwise_grid_stride_kernel)"
NULLED = ("Quantities that need them are null; fix the file or export it again (--strict "
          "refuses such input)")
WRONG = "the file was not written by roofprof: convert the report again"


def edited(src: Path, dst: Path, edit: Callable[[pa.Table], pa.Table]) -> Path:
    """A copy of ``src`` with ``edit`` applied (its metadata kept unless ``edit`` changes it)."""
    pq.write_table(edit(pq.read_table(src)), dst)
    return dst


def with_cells(column: str, cells: dict[int, Any]) -> Callable[[pa.Table], pa.Table]:
    def edit(table: pa.Table) -> pa.Table:
        values = table.column(column).to_pylist()
        for row, value in cells.items():
            values[row] = value
        i = table.schema.get_field_index(column)
        return table.set_column(i, column, pa.array(values, type=table.schema.field(i).type))
    return edit


@contextmanager
def caught() -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always")
        yield found


def data_warnings(found: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in found if issubclass(w.category, DataWarning)]


def cli(*args: Any) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def clean_kernels() -> pd.DataFrame:
    with caught() as found:
        kernels = read_parquet(KERNELS).kernels
    assert data_warnings(found) == []
    return kernels


# ------------------------------------------------------------------ 1. raw values as held


@pytest.mark.parametrize(("raw", "shown"), [
    (np.float64(-5000.0), "-5000.0"), (np.float64("nan"), "nan"), (np.float64("inf"), "inf"),
    (np.float32(0.5), "0.5"), (np.int64(7), "7"), (np.bool_(True), "True"),
    (np.str_("abc"), "abc"), ("abc", "abc"), (-5000.0, "-5000.0"), (None, "None"),
])
def test_a_raw_value_reads_as_the_file_holds_it(raw: Any, shown: str) -> None:
    assert shown_raw(raw) == shown


def test_a_warning_quotes_numpy_scalars_as_python_values(tmp_path: Path) -> None:
    issues = Issues(tmp_path / "f")
    issues.bad_cell("kernel ID 1 (k)", "dram_bytes", np.float64(-2.5), "negative")
    issues.bad_cell("kernel ID 2 (k)", "grid", np.str_("abc"), "not a grid")
    with caught() as found:
        issues.emit()
    assert data_warnings(found) == [
        f"{tmp_path / 'f'}: 2 value(s) read as null: kernel ID 1 (k), dram_bytes = '-2.5' "
        f"(negative); kernel ID 2 (k), grid = 'abc' (not a grid). {NULLED}"]


def test_a_timing_files_negative_duration_is_shown_as_the_file_holds_it(
        tmp_path: Path) -> None:
    """Read as a kernel table (summary, plot: ``roofprof.load``), whose reader checks the
    measured columns; the timing table's own reader said it right already."""
    p = edited(TIMING, tmp_path / "t.parquet", with_cells("duration_ns", {5: -5000.0}))
    with caught() as found:
        k = roofprof.load(p).kernels
    said = data_warnings(found)
    assert said[0] == (f"{p}: 1 value(s) read as null: {ID5}, duration_ns = '-5000.0' "
                       f"(negative). {NULLED}")
    assert not any("np." in str(w.message) for w in found)
    assert math.isnan(k["duration_ns"][5])
    with caught():
        clean = roofprof.load(TIMING).kernels
    others = k.index != 5
    assert k["duration_ns"][others].tolist() == clean["duration_ns"][others].tolist()


def test_a_kernel_tables_bad_values_are_shown_as_the_file_holds_them(
        tmp_path: Path, clean_kernels: pd.DataFrame) -> None:
    p = edited(KERNELS, tmp_path / "k.parquet", lambda t: with_cells("flop", {1: math.inf})(
        with_cells("dram_bytes", {0: -5.0, 2: -0.25})(t)))
    with caught() as found:
        k = read_parquet(p).kernels
    assert data_warnings(found) == [
        f"{p}: 3 value(s) read as null: kernel ID 0 (vectorized_gather_kernel), dram_bytes = "
        "'-5.0' (negative); kernel ID 2 (vectorized_elementwise_kernel), dram_bytes = '-0.25' "
        "(negative); kernel ID 1 (elementwise_kernel_with_index), flop = 'inf' (not finite). "
        f"{NULLED}"]
    assert k["dram_bytes"][[0, 2]].isna().all()
    assert math.isnan(k["flop"][1])
    assert k["dram_bytes"][3:].tolist() == clean_kernels["dram_bytes"][3:].tolist()
    assert k["dram_bytes"][1] == clean_kernels["dram_bytes"][1] == 2816.0


# ------------------------------------------------------- 2. columns of any type, anywhere


def _with_pandas_type(table: pa.Table, column: str, numpy_type: str) -> pa.Table:
    """``table`` whose pandas metadata says ``column`` is of ``numpy_type`` (an extension
    type such as Int64: pandas then asks Arrow for that type, and a struct is
    NotImplementedError)."""
    meta = dict(table.schema.metadata)
    pandas = json.loads(meta[b"pandas"])
    pandas["columns"] = [c for c in pandas["columns"] if c["name"] != column] + [
        {"name": column, "field_name": column, "pandas_type": "object",
         "numpy_type": numpy_type, "metadata": None}]
    meta[b"pandas"] = json.dumps(pandas).encode()
    return table.replace_schema_metadata(meta)


#: values no column of a kernel table may hold (name -> (array of n rows, pandas type or None))
BAD: dict[str, Callable[[int], tuple[Any, str | None]]] = {
    "struct": lambda n: (pa.array([{"a": 1}] * n), None),
    "struct as Int64": lambda n: (pa.array([{"a": 1}] * n), "Int64"),
    "struct as Float64": lambda n: (pa.array([{"a": 1.0}] * n), "Float64"),
    "map": lambda n: (pa.array([[("k", 1)]] * n, type=pa.map_(pa.string(), pa.int64())), None),
    "list of structs": lambda n: (pa.array([[{"a": 1}]] * n), None),
    "list of integers": lambda n: (pa.array([[1]] * n), None),
    "binary": lambda n: (pa.array([b"x"] * n), None),
    "bool": lambda n: (pa.array([True] * n), None),
    "date": lambda n: (pa.array([1] * n, type=pa.date32()), None),
    "decimal": lambda n: (pa.array([1] * n).cast(pa.decimal128(30, 2)), None),
    "time with nanoseconds": lambda n: (pa.array([1] * n, type=pa.time64("ns")), None),
    "timestamp": lambda n: (pa.array([1] * n, type=pa.timestamp("ns", tz="UTC")), None),
}


def put(column: str, kind: str) -> Callable[[pa.Table], pa.Table]:
    """An edit: ``column`` (replaced, or added at the end) holding the values ``kind``."""
    def edit(table: pa.Table) -> pa.Table:
        values, numpy_type = BAD[kind](table.num_rows)
        i = table.schema.get_field_index(column)
        table = table.set_column(i, column, values) if i >= 0 else \
            table.append_column(column, values)
        return _with_pandas_type(table, column, numpy_type) if numpy_type else table
    return edit


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_column_roofprof_does_not_know_is_not_read(
        tmp_path: Path, clean_kernels: pd.DataFrame, kind: str) -> None:
    p = edited(KERNELS, tmp_path / "k.parquet", put("annotations", kind))
    with caught() as found:
        k = read_parquet(p).kernels
    assert data_warnings(found) == []  # no number is affected: not a DataWarning (--strict)
    said = [str(w.message) for w in found]
    assert any("column(s) annotations are not roofprof's and were not read" in m
               for m in said), said
    pd.testing.assert_frame_equal(k, clean_kernels)


@pytest.mark.parametrize("column", sorted(ATTRIBUTION))
@pytest.mark.parametrize(("kind", "held"), [
    ("struct", "struct<a: int64>"), ("struct as Int64", "struct<a: int64>"),
    ("map", "map<string, int64 ('{column}')>"), ("list of integers", "list<element: int64>"),
    ("bool", "bool"), ("date", "date32[day]")])
def test_an_attribution_column_of_another_type_is_one_error_naming_it(
        tmp_path: Path, column: str, kind: str, held: str) -> None:
    p = edited(KERNELS, tmp_path / "k.parquet", put(column, kind))
    with pytest.raises(InputError) as raised:
        read_parquet(p)
    held = held.format(column=column)  # a map's field is named for its column once written
    assert str(raised.value) == f"{p}: column {column} holds {held} values, not text; {WRONG}"
    code, out, err = cli("summary", p, "--by", "phase")
    assert (code, out) == (2, "")
    assert err == f"roofprof: error: {raised.value}\n"


@pytest.mark.parametrize(("column", "values", "message"), [
    ("phase", pa.array(np.arange(408, dtype="float64")),
     "column phase holds double values, not text"),
    ("category", pa.array(np.arange(408)), "column category holds int64 values, not text"),
    ("op", pa.array(np.arange(408, dtype="float64")), "column op holds double values, not text"),
])
def test_an_attribution_column_of_numbers_is_one_error_naming_it(
        tmp_path: Path, column: str, values: Any, message: str) -> None:
    p = edited(KERNELS, tmp_path / "k.parquet",
               lambda t: t.set_column(t.schema.get_field_index(column), column, values))
    with pytest.raises(InputError) as raised:
        read_parquet(p)
    assert str(raised.value) == f"{p}: {message}; {WRONG}"


def test_a_measured_column_arrow_cannot_convert_is_one_error(tmp_path: Path) -> None:
    """A struct whose pandas metadata says Float64: pandas asks Arrow for Float64 and gets
    NotImplementedError (a traceback before)."""
    p = edited(KERNELS, tmp_path / "k.parquet", put("dram_bytes", "struct as Float64"))
    with pytest.raises(InputError) as raised:
        read_parquet(p)
    assert str(raised.value) == (f"{p}: its columns do not match their stored types "
                                 "(struct<a: double>); convert the report again")


@pytest.mark.parametrize(("column", "kind", "want"), [
    ("counters_from", "bool", "text"), ("counters_samples", "struct as Int64", "numbers"),
    ("counters_spread", "struct", "numbers"), ("start_ns", "date", "numbers"),
    ("run", "list of integers", "text"), ("rank", "bool", "numbers"),
])
def test_a_column_a_join_or_a_dataset_adds_is_checked_as_the_schemas_are(
        tmp_path: Path, column: str, kind: str, want: str) -> None:
    """The columns read besides the schema's (a join's provenance and timing columns, a
    dataset's partitions) hold what their writer writes, or the file is refused (numbers, not
    integers alone: an integer column with nulls comes back from pandas as floats, and
    ``convert`` of a joined file writes it so)."""
    p = edited(KERNELS, tmp_path / "k.parquet", put(column, kind))
    with pytest.raises(InputError) as raised:
        read_parquet(p)
    assert str(raised.value).startswith(f"{p}: column {column} holds ")
    assert str(raised.value).endswith(f" values, not {want}; {WRONG}")


def test_the_columns_read_besides_the_schemas_are_those_their_writers_write() -> None:
    assert set(PROVENANCE) | set(TIMING_EXTRA) | set(PARTITIONS) - set(IDENTITY) | {"trace"} \
        <= set(EXTRA)
    assert not set(EXTRA) & {*IDENTITY, *ATTRIBUTION, *MEASURED, "flop"}


#: a column of each kind the kernel table's reader knows, and one it does not
COLUMNS = ["id", "kernel", "process_id", "nvtx", "range", "phase", "category", "op",
           "duration_ns", "dram_bytes", "flop", "counters_from", "counters_samples",
           "counters_spread", "start_ns", "trace", "rank", "annotations", "zz"]


@BOUNDED
@given(column=st.sampled_from(COLUMNS), kind=st.sampled_from(sorted(BAD)))
def test_any_column_of_any_type_is_the_clean_table_or_one_clear_error(
        clean_kernels: pd.DataFrame, column: str, kind: str) -> None:
    """A column roofprof does not know: the clean table, whatever it holds. Any other: one
    InputError naming the file and the column (or the columns, where pandas cannot convert
    one); never another exception."""
    with caught(), tempfile.TemporaryDirectory() as d:
        p = edited(KERNELS, Path(d) / "k.parquet", put(column, kind))
        try:
            k: pd.DataFrame | None = read_parquet(p).kernels
        except RoofprofError as exc:
            k, text = None, str(exc)
    if column in ("annotations", "zz"):
        assert k is not None
        pd.testing.assert_frame_equal(k, clean_kernels)
    else:
        assert k is None
        assert text.startswith(f"{p}: column {column} holds ") or text.startswith(
            f"{p}: its columns do not match their stored types"), text


# ---------------------------------------------------------------- 3. which formats convert


def test_the_timing_formats_a_converted_file_names_are_the_parsers() -> None:
    assert set(CONVERTED_FROM) == {f.name for f in parsers.FORMATS if f.timing is not None}


def _with_meta(**fields: Any) -> Callable[[pa.Table], pa.Table]:
    """An edit of a file's roofprof metadata: ``fields`` set (None: left out)."""
    def edit(table: pa.Table) -> pa.Table:
        meta = dict(table.schema.metadata)
        ours = json.loads(meta[b"roofprof"])
        for key, value in fields.items():
            ours.pop(key, None)
            if value is not None:
                ours[key] = value
        meta[b"roofprof"] = json.dumps(ours).encode()
        return table.replace_schema_metadata(meta)
    return edit


@pytest.mark.parametrize(("fields", "says"), [
    ({"sources": ["a.json.gz", "b.json.gz"]},
     "a kernel table converted from a Kineto trace (roofprof convert), not a timing table: it "
     "keeps each launch's duration but not the launch and range times (start_ns, end_ns, "
     "nvtx_start_ns, nvtx_end_ns) that range latencies are computed from; give the trace it "
     "was converted from, or the Parquet file `roofprof trace` wrote"),
    ({"formats": None, "sources": None},
     "a roofprof trace of counters, not a timing table; give a timing trace (roofprof trace, "
     "a Kineto .json/.json.gz or an nsys .sqlite)"),
])
def test_latency_of_a_kernel_table_says_what_it_is_whatever_its_metadata_lists(
        tmp_path: Path, fields: dict[str, Any], says: str) -> None:
    """Two sources: none named as "the trace it was converted from"; no formats or sources in
    the metadata (their defaults): a kernel table like any other."""
    converted = tmp_path / "converted.parquet"
    assert cli("convert", FIXTURES / "llama_kineto.json.gz", "-o", converted)[0] == 0
    p = edited(converted, tmp_path / "k.parquet", _with_meta(**fields))
    assert cli("latency", p) == (2, "", f"roofprof: error: {p}: {says}\n")


# ---------------------------------------------------------------------- 4. folders, datasets


LATENCY_READS = ("latency reads a timing trace file: the Parquet file `roofprof trace` wrote, "
                 "a Kineto .json/.json.gz or an nsys .sqlite / .nsys-rep")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("datasets")
    for name, source in (("counters", NCU), ("timing", TIMING)):
        code, _, err = cli("convert", source, "--dataset", d / name)
        assert code == 0, err
    (d / "plain").mkdir()
    return {"counters": d / "counters", "timing": d / "timing", "plain": d / "plain"}


def test_latency_of_a_dataset_of_kernel_tables_says_they_have_no_range_timings(
        datasets: dict[str, Path]) -> None:
    ds = datasets["counters"]
    assert cli("latency", ds) == (
        2, "", f"roofprof: error: {ds}: a dataset folder of kernel tables: they hold no range "
               f"timings, so no latency can be computed from them; {LATENCY_READS}\n")


def test_latency_of_a_dataset_of_timing_tables_names_the_glob_that_reads_them(
        datasets: dict[str, Path]) -> None:
    ds = datasets["timing"]
    glob = f"{ds}/**/*.parquet"
    assert cli("latency", ds) == (
        2, "", f"roofprof: error: {ds}: a dataset folder; latency reads timing trace files, not "
               f"a folder: give its files as a quoted glob, '{glob}', or the trace the dataset "
               "was made from\n")
    code, out, _ = cli("latency", glob, "--format", "json")  # and that glob reads them
    assert code == 0
    assert json.loads(out) == json.loads(cli("latency", TIMING, "--format", "json")[1])


def test_latency_of_a_folder_or_a_glob_matching_one_says_what_latency_reads(
        datasets: dict[str, Path]) -> None:
    plain = datasets["plain"]
    want = (2, "", f"roofprof: error: {plain}: a folder, not a timing trace; {LATENCY_READS}\n")
    assert cli("latency", plain) == want
    assert cli("latency", f"{plain.parent}/pla*") == want


# ------------------------------------------------------------------ 5. -o before the work


@pytest.mark.parametrize(("output", "says"), [
    ("latency.txt", "{o}: write .png, .svg, .pdf or .json"),
    ("no_folder/latency.png", "cannot write {o}: folder {d} does not exist; create it or "
                              "choose another output"),
    ("a_folder.json", "cannot write {o}: it is a directory; choose a file name"),
])
def test_latency_refuses_an_output_it_cannot_write_before_the_work(
        tmp_path: Path, output: str, says: str) -> None:
    """Refused before the trace is read: nothing printed, and a trace that does not exist is
    not what the error is about."""
    (tmp_path / "a_folder.json").mkdir()
    o = tmp_path / output
    message = says.format(o=o, d=o.parent)
    for trace in (TIMING, tmp_path / "missing.json.gz"):
        code, out, err = cli("latency", trace, "-o", o)
        assert (code, out) == (4 if "cannot write" in says else 2, "")
        assert err == f"roofprof: error: {message}\n"


def test_latency_still_writes_its_json(tmp_path: Path) -> None:
    o = tmp_path / "latency.json"
    code, out, err = cli("latency", TIMING, "-o", o)
    assert code == 0
    assert err.endswith(f"roofprof: wrote {o}\n")
    assert json.loads(o.read_text())["percentiles"]
    assert out.startswith("range ")


def test_join_of_a_converted_trace_says_what_it_lacks_before_the_work(tmp_path: Path) -> None:
    """A kernel table converted from Kineto given as join's TIMING: what it is and what to
    give instead, not "not a format roofprof reads"; nothing written."""
    converted = tmp_path / "kin.parquet"
    assert cli("convert", FIXTURES / "llama_kineto.json.gz", "-o", converted)[0] == 0
    out = tmp_path / "j.parquet"
    code, _, err = cli("join", converted, FIXTURES / "llama_sample.ncu-rep", "-o", out)
    assert code == 2
    assert err.startswith(f"roofprof: error: {converted}: a kernel table converted from a "
                          "Kineto trace (roofprof convert), not a timing table"), err
    assert not out.exists()
