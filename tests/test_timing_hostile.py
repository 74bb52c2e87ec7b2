"""A damaged timing table (issue 24): each hostile edit of the real `roofprof trace` output
(fixtures/llama_sample.timing.parquet) is read to exact numbers, or to a null value / a left-out
launch named in one DataWarning (an error under --strict), or refused in one clear InputError;
and `latency`, `join` and `report --timing` say what they could not time.

The fixture's launches used: ID 5 (distribution_elementwise_grid_stride_kernel, outside every
range, 4352 ns) and ID 285 (vectorized_gather_kernel, the only launch of the prefill step's
model.embed_tokens: path prefill/model/model.embed_tokens)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from roofprof.analysis import latency as lat
from roofprof.analysis.join import join as join_tables
from roofprof.app.join import join, write_joined, write_joined_file
from roofprof.app.latency import latency
from roofprof.app.report import report
from roofprof.app.summary import summary
from roofprof.cli import main
from roofprof.errors import DataWarning, InputError
from roofprof.inputs.derive import build_table
from roofprof.inputs.load import load
from roofprof.inputs.timing import load_timing, to_raw
from roofprof.tables.kernels import Trace
from roofprof.tables.timing import TimingTrace, read
from tests.conftest import FIXTURES

TIMING = FIXTURES / "llama_sample.timing.parquet"
COUNTERS = FIXTURES / "llama_sample.ncu-rep"
KINETO = FIXTURES / "llama_kineto.json.gz"
GRAPH = FIXTURES / "llama_graph_kineto.json.gz"
ID5 = "kernel ID 5 (distribution_elementwise_grid_stride_kernel)"
ID285 = "kernel ID 285 (vectorized_gather_kernel)"
FIX = "it is not a timing table roofprof wrote: trace the run again (roofprof trace)"
PREFILL_WALL_NS = 9168891.0  # the prefill step's wall time (its range's end - start)


def edited(tmp_path: Path, edit: Callable[[pa.Table], pa.Table], name: str = "t.parquet"
           ) -> Path:
    """A copy of the fixture with ``edit`` applied (its roofprof metadata kept)."""
    out = tmp_path / name
    pq.write_table(edit(pq.read_table(TIMING)), out)
    return out


def with_cell(column: str, row: int, value: Any) -> Callable[[pa.Table], pa.Table]:
    def edit(table: pa.Table) -> pa.Table:
        values = table.column(column).to_pylist()
        values[row] = value(values[row], table, row) if callable(value) else value
        i = table.schema.get_field_index(column)
        return table.set_column(i, column, pa.array(values, type=table.schema.field(i).type))
    return edit


@contextmanager
def data_warnings() -> Iterator[list[str]]:
    """The DataWarnings raised inside the block, as text (every other warning let through)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        texts: list[str] = []
        yield texts
    texts.extend(str(w.message) for w in caught if issubclass(w.category, DataWarning))


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    with data_warnings() as found:
        kernels = read(TIMING).kernels
    assert found == []
    return kernels


def cli(*args: Any) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


# -------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(("value", "reason"), [
    (math.nan, "null: a timing table times every launch"),
    (math.inf, "not finite"),
    (-5000.0, "negative"),
    (5.0, "not end_ns - start_ns = 4352"),
])
def test_a_duration_that_is_not_end_minus_start_is_null_and_named(
        tmp_path: Path, clean: pd.DataFrame, value: float, reason: str) -> None:
    p = edited(tmp_path, with_cell("duration_ns", 5, value))
    with data_warnings() as found:
        k = read(p).kernels
    assert found == [f"{p}: 1 value(s) read as null: {ID5}, duration_ns = '{value!r}' "
                     f"({reason}). Quantities that need them are null; fix the file or export "
                     "it again (--strict refuses such input)"]
    assert len(k) == 697
    assert np.isnan(k["duration_ns"][5])
    others = k.index != 5
    assert k["duration_ns"][others].tolist() == clean["duration_ns"][others].tolist()
    with pytest.raises(InputError, match=r"duration_ns = .* \(refused: strict\)$"):
        load_timing(p, strict=True)


@pytest.mark.parametrize(("value", "shown"), [
    (math.nan, "null"), (5.0, "5.0, not end_ns - start_ns = 4352")])
def test_a_timing_file_read_as_a_kernel_table_names_a_launch_without_its_duration(
        tmp_path: Path, value: float, shown: str) -> None:
    """`summary` reads the file as a kernel table, whose reader takes NaN for "not measured"
    and any other number for the file's word; a timing table times every launch as its end -
    start: the launch is named, its duration null."""
    p = edited(tmp_path, with_cell("duration_ns", 5, value))
    with data_warnings() as found:
        table = summary([p], by="phase").table.set_index("group")
    assert found == [f"{p}: 1 launch(es) of the timing table have no duration ({ID5}: "
                     f"{shown}): a timing table times every launch as its end - start; their "
                     "time, and every total holding it, is null"]
    assert math.isnan(table.loc["other", "time_ns"])
    assert table.loc["decode", "time_ns"] == 576782.0  # as in the clean file
    code, output = cli("summary", p, "--by", "phase", "--strict")
    assert code == 2
    assert output.strip().endswith("is null (refused: --strict)")


# ------------------------------------------------------------------------ launches left out


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("start_ns", None, "no start_ns"),
    ("end_ns", None, "no end_ns"),
    ("start_ns", -1, "start_ns negative"),
    ("end_ns", -1, "end_ns negative"),
    ("end_ns", lambda v, t, r: t.column("start_ns")[r].as_py() - 10, "end_ns before start_ns"),
])
def test_a_launch_whose_time_cannot_stand_is_left_out_and_counted(
        tmp_path: Path, clean: pd.DataFrame, column: str, value: Any, reason: str) -> None:
    p = edited(tmp_path, with_cell(column, 5, value))
    with data_warnings() as found:
        k = read(p).kernels
    assert found == [f"{p}: 1 launch(es) left out, their time cannot stand ({ID5}: {reason}); "
                     "the run's totals are without them"]
    kept = clean[clean["id"] != 5]
    assert k["id"].tolist() == kept["id"].tolist()
    assert k["start_ns"].dtype == "int64"  # never through floats (1.8e18 ns lose digits)
    for col in ("start_ns", "end_ns", "duration_ns"):
        assert k[col].tolist() == kept[col].tolist(), col


def test_a_launch_without_an_id_is_left_out_and_named_by_its_row(tmp_path: Path) -> None:
    p = edited(tmp_path, with_cell("id", 5, None))
    with data_warnings() as found:
        assert len(read(p)) == 696
    assert found == [f"{p}: 1 launch(es) left out, their time cannot stand (kernel ID null "
                     "(row 5) (distribution_elementwise_grid_stride_kernel): no id); the "
                     "run's totals are without them"]


# ----------------------------------------------------------------------------- column types


@pytest.mark.parametrize(("column", "array", "holds"), [
    ("start_ns", lambda t: pc.cast(t.column("start_ns"), pa.string()),
     "string values, not integers"),
    ("device", lambda t: pc.cast(t.column("device"), pa.float64()),
     "double values, not integers"),
    ("nvtx", lambda t: pa.array([{"a": 1}] * len(t)), "struct<a: int64> values, not lists of "
                                                      "range names"),
    ("nvtx_start_ns", lambda t: pa.array([[str(v) for v in c] for c in
                                          t.column("nvtx_start_ns").to_pylist()]),
     "list<element: string> values, not lists of integer times"),
    ("duration_ns", lambda t: pa.array([True] * len(t)), "bool values, not numbers"),
    ("kernel", lambda t: pa.array(range(len(t))), "int64 values, not text"),
])
def test_a_column_of_the_wrong_type_is_one_clear_error(
        tmp_path: Path, column: str, array: Callable[[pa.Table], Any], holds: str) -> None:
    p = edited(tmp_path, lambda t: t.set_column(t.schema.get_field_index(column), column,
                                                array(t)))
    message = f"{p}: column {column} holds {holds}; {FIX}"
    with pytest.raises(InputError) as raised:
        read(p)
    assert str(raised.value) == message
    code, output = cli("latency", p)
    assert (code, output) == (2, f"roofprof: error: {message}\n")


def test_a_timing_table_without_its_times_is_one_clear_error(tmp_path: Path) -> None:
    p = edited(tmp_path, lambda t: t.drop_columns(["start_ns"]))
    code, output = cli("join", p, COUNTERS, "-o", tmp_path / "j.parquet")
    assert (code, output) == (2, f"roofprof: error: {p}: the timing table has no start_ns "
                                 f"column, so its launches have no time; {FIX}\n")
    assert not (tmp_path / "j.parquet").exists()


def test_a_missing_column_reads_as_null_and_is_named(tmp_path: Path,
                                                     clean: pd.DataFrame) -> None:
    p = edited(tmp_path, lambda t: t.drop_columns(["stream"]))
    with data_warnings() as found:
        k = read(p).kernels
    assert found == [f"{p}: column(s) stream are not in the timing table; read as null (trace "
                     "the run again to fill them)"]
    assert k["stream"].isna().all()
    assert k["duration_ns"].tolist() == clean["duration_ns"].tolist()
    # the fixture was written before graph-level records: no duration_from, and no word
    assert "duration_from" not in pq.read_schema(TIMING).names
    assert (clean["duration_from"] == "launch").all()


@pytest.mark.parametrize(("make", "says"), [
    (lambda p: p.write_bytes(TIMING.read_bytes()[:5000]), "not a readable Parquet file"),
    (lambda p: pq.write_table(pq.read_table(TIMING).replace_schema_metadata({}), p),
     "a Parquet file but not a roofprof trace (no roofprof metadata)"),
    (lambda p: p.write_bytes((FIXTURES / "llama_full_record.parquet").read_bytes()),
     "a roofprof trace of counters, not a timing table"),
])
def test_a_parquet_file_that_is_no_timing_table_says_what_it_is(
        tmp_path: Path, make: Callable[[Path], None], says: str) -> None:
    p = tmp_path / "t.parquet"
    make(p)
    code, output = cli("latency", p)
    assert code == 2
    assert output.startswith(f"roofprof: error: {p}: {says}")
    assert len(output.splitlines()) == 1


# -------------------------------------------------------------------- range instances' times


def prefill(result: Any) -> pd.Series:
    table = result.table.set_index("range")
    return table.loc["prefill"]


def test_range_lists_of_different_lengths_have_no_times(tmp_path: Path,
                                                        clean: pd.DataFrame) -> None:
    """A launch's range path has 3 levels and its ends 2 (-1: capture marks): the old reader
    paired a start with a -1 end, a wall time of -1.8e12 ms. Now no level of it has times."""
    p = edited(tmp_path, with_cell("nvtx_end_ns", 285, [-1, -1]))
    with data_warnings() as found:
        k = read(p).kernels
    assert found == [f"{p}: 1 value(s) read as null: {ID285}, nvtx/nvtx_start_ns/nvtx_end_ns "
                     "= '3 nvtx, 3 nvtx_start_ns, 2 nvtx_end_ns' (lists of different lengths: "
                     "no level has times). Quantities that need them are null; fix the file or "
                     "export it again (--strict refuses such input)"]
    assert k["nvtx_start_ns"][285] == [None] * 3
    assert k["nvtx_end_ns"][285] == [None] * 3
    others = k.index != 285  # as they were
    assert k["nvtx_end_ns"][others].tolist() == clean["nvtx_end_ns"][others].tolist()
    with data_warnings() as found:
        result = latency(p)
    assert found[1] == (f"{p}: 3 range level(s) of launches have no valid times ({ID285}: "
                        "prefill, model, model.embed_tokens): latency counts those launches in "
                        "no instance of those ranges")
    row = prefill(result)
    assert (row["instances"], row["kernels"], row["wall_p50_ns"]) == (1, 101, PREFILL_WALL_NS)
    assert (result.instances["wall_ns"].dropna() >= 0).all()


@pytest.mark.parametrize(("end", "shown", "reason"), [
    (lambda s: s - 100, "1795456873066323888..1795456873066323788", "ends before it starts"),
    (lambda s: None, "1795456873066323888..None", "null"),
    (lambda s: -5, "1795456873066323888..-5", "negative"),
])
def test_a_range_level_that_is_not_a_range_has_no_times(
        tmp_path: Path, clean: pd.DataFrame, end: Callable[[int], Any], shown: str,
        reason: str) -> None:
    p = edited(tmp_path, with_cell("nvtx_end_ns", 285, lambda v, t, r: [
        end(t.column("nvtx_start_ns")[r].as_py()[0]), *v[1:]]))
    with data_warnings() as found:
        k = read(p).kernels
    assert found == [f"{p}: 1 value(s) read as null: {ID285}, nvtx_start_ns/nvtx_end_ns of "
                     f"prefill = '{shown}' ({reason}: its times are null). Quantities that need "
                     "them are null; fix the file or export it again (--strict refuses such "
                     "input)"]
    assert k["nvtx_start_ns"][285][0] is None
    assert k["nvtx_end_ns"][285][0] is None
    assert k["nvtx_end_ns"][285][1:] == clean["nvtx_end_ns"][285][1:]
    with data_warnings() as found:
        row = prefill(latency(p))
    assert found[1].endswith(f"1 range level(s) of launches have no valid times ({ID285}: "
                             "prefill): latency counts those launches in no instance of those "
                             "ranges")
    assert (row["instances"], row["kernels"], row["wall_p50_ns"]) == (1, 101, PREFILL_WALL_NS)


def test_latency_counts_every_instance_it_cannot_time(clean: pd.DataFrame) -> None:
    """A range level ending before it starts, in a table made in memory (not read, not
    checked): latency leaves it out of every instance and says so; capture-only levels
    (-1, -1) of a CUDA graph's replays are no instance, without a word."""
    k = clean.copy()
    ends = list(k["nvtx_end_ns"][300])
    ends[3] = k["nvtx_start_ns"][300][3] - 1
    k["nvtx_end_ns"] = pd.Series([ends if i == 300 else c for i, c in
                                  enumerate(k["nvtx_end_ns"])], dtype=object)
    with pytest.warns(DataWarning) as found:
        inst = lat.instances(TimingTrace(kernels=k, meta={}), label="mem")
    assert [str(w.message) for w in found] == [
        "mem: 1 range level(s) of launches have no valid times (kernel ID 300 (reduce_kernel): "
        "model.layers.0.input_layernorm): latency counts those launches in no instance of "
        "those ranges"]
    assert (inst["wall_ns"].dropna() >= 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        lat.instances(load_timing(GRAPH))


def test_an_instance_holding_a_launch_without_a_duration_has_no_gpu_numbers(
        tmp_path: Path) -> None:
    p = edited(tmp_path, with_cell("duration_ns", 285, math.nan))
    clean = latency(TIMING).table.set_index("range")
    with data_warnings() as found:
        result = latency(p)
    assert found[1] == (f"{p}: 1 launch(es) without a duration ({ID285}): the 3 range "
                        "instance(s) holding them have no GPU span and kernel time")
    row = prefill(result)
    assert row["wall_p50_ns"] == PREFILL_WALL_NS
    assert math.isnan(row["gpu_span_p50_ns"])
    assert math.isnan(row["kernel_p50_ns"])
    decode = result.table.set_index("range").loc["decode"]
    pd.testing.assert_series_equal(decode, clean.loc["decode"])
    with pytest.raises(InputError, match=r"refused: strict"):
        latency(p, strict=True)
    code, output = cli("latency", p, "--strict")
    assert code == 2
    assert output.strip().endswith("(refused: --strict)")


# -------------------------------------------------------------------------------------- join


def joined(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def plain(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns as their values (the order of a dictionary's categories aside)."""
    return df.apply(lambda s: s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype)
                    else s)


def test_join_nulls_a_bad_duration_and_keeps_every_other_number(tmp_path: Path) -> None:
    p = edited(tmp_path, with_cell("duration_ns", 5, -5000.0))
    with data_warnings() as found:
        join(TIMING, COUNTERS, tmp_path / "clean.parquet")
    assert found == []
    with data_warnings() as found:
        join(p, COUNTERS, tmp_path / "j.parquet")
    assert found == [f"{p}: 1 value(s) read as null: {ID5}, duration_ns = '-5000.0' "
                     "(negative). Quantities that need them are null; fix the file or export "
                     "it again (--strict refuses such input)"]
    got, want = joined(tmp_path / "j.parquet"), joined(tmp_path / "clean.parquet")
    assert np.isnan(got["duration_ns"][5])  # was written as -5000
    others = got.index != 5
    for col in ("id", "duration_ns", "flop", "dram_bytes", "counters_from"):
        pd.testing.assert_series_equal(got[col][others], want[col][others])
    code, output = cli("join", p, COUNTERS, "-o", tmp_path / "s.parquet", "--strict")
    assert code == 2
    assert output.strip().endswith("(refused: --strict)")
    assert not (tmp_path / "s.parquet").exists()


def test_both_passes_of_a_chunked_join_leave_out_the_same_launch(tmp_path: Path) -> None:
    """`write_joined_file` reads the file twice (whole key columns, then chunks of 50 rows in
    row groups of 70): both passes leave out the launch whose end is before its start, and
    null the bad duration; the table is the one joined in memory."""
    def edit(t: pa.Table) -> pa.Table:
        t = with_cell("end_ns", 5, lambda v, t, r: t.column("start_ns")[r].as_py() - 1)(t)
        return with_cell("duration_ns", 100, math.inf)(t)

    p = tmp_path / "t.parquet"
    pq.write_table(edit(pq.read_table(TIMING)), p, row_group_size=70)
    counters = load(COUNTERS)
    with data_warnings() as found:
        chunked = write_joined_file(p, counters, tmp_path / "chunked.parquet", chunk_rows=50)
    assert len(found) == 2
    assert "1 launch(es) left out" in found[0]
    assert "kernel ID 100" in found[1]
    with data_warnings():
        timing = read(p)
    # the chunks hold the file's columns: no duration_from in this file written before it
    timing.kernels = timing.kernels.drop(columns="duration_from")
    whole = write_joined(timing, counters, tmp_path / "whole.parquet")
    assert chunked == whole
    ours, theirs = (load(tmp_path / f).kernels for f in ("chunked.parquet", "whole.parquet"))
    pd.testing.assert_frame_equal(plain(ours), plain(theirs))
    assert len(ours) == 696
    assert 5 not in set(ours["id"])
    assert np.isnan(ours.set_index("id").loc[100, "duration_ns"])


@pytest.mark.parametrize("counters", [TIMING, KINETO])
def test_a_timing_trace_given_as_the_counters_is_refused(tmp_path: Path,
                                                         counters: Path) -> None:
    message = (f"{counters}: a timing trace (every launch timed, no counters), given as the "
               "counters; give the counters of the same run: its Nsight Compute report "
               "(roofprof record --sample, .ncu-rep), CSV export or Parquet trace")
    with pytest.raises(InputError) as raised:
        join(TIMING, counters, tmp_path / "j.parquet")
    assert str(raised.value) == message
    code, output = cli("join", TIMING, counters, "-o", tmp_path / "j.parquet")
    assert (code, output) == (2, f"roofprof: error: {message}\n")
    assert not (tmp_path / "j.parquet").exists()


def test_counters_without_a_single_counter_are_refused() -> None:
    """A kernel table of durations only (here: the timing table's own launches) has nothing to
    give a timed launch: the join says so instead of a coverage of 100% by null counters."""
    timing = load_timing(KINETO)
    table, _ = build_table(to_raw(timing))
    for col in ("phase", "category", "op"):
        table[col] = timing.kernels[col].to_numpy()
    counters = Trace(kernels=table, meta={"sources": ["durations.csv"], "formats": ["test"]})
    with pytest.raises(InputError, match=r"^durations.csv: no counters to join \(every counter "
                                         r"is null: a timing trace\?\)"):
        join_tables(timing, counters)


# ------------------------------------------------------------------------------------ report


def test_report_reads_its_timing_checked_and_strict_refuses(tmp_path: Path) -> None:
    p = edited(tmp_path, with_cell("end_ns", 5, None))
    with data_warnings() as found:
        built = report(COUNTERS, timing=p)
    assert f"{p}: 1 launch(es) left out" in found[0]
    assert built is not None
    with pytest.raises(InputError, match=r"no end_ns\).*\(refused: strict\)$"):
        report(COUNTERS, timing=p, strict=True)


def test_a_timing_trace_that_cannot_be_read_is_an_error_not_a_report_without_latency(
        tmp_path: Path) -> None:
    """The kernel table's reader never looks at start_ns: the report of this file read it, and
    its latency section, read by the timing reader, was silently left out."""
    p = edited(tmp_path, lambda t: t.set_column(t.schema.get_field_index("start_ns"),
                                                "start_ns", pc.cast(t.column("start_ns"),
                                                                    pa.string())))
    with pytest.raises(InputError) as raised, data_warnings():
        report(p)
    assert str(raised.value) == f"{p}: column start_ns holds string values, not integers; {FIX}"


def test_strict_reads_a_clean_timing_table_as_it_is(clean: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(load_timing(TIMING, strict=True).kernels, clean)
    pd.testing.assert_frame_equal(latency(TIMING, strict=True).table, latency(TIMING).table)
