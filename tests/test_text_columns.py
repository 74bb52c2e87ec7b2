"""The kernel and timing tables' text columns are dictionary-typed (``roofprof.tables.schema.TEXT``)
on every path: built from each real source, through Parquet and back, from files written before
(plain string columns), through concatenation, and in the analyses that group by them."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import roofprof
from roofprof.inputs.timing import load_timing
from roofprof.tables import timing
from roofprof.tables.columns import arrow_text
from roofprof.tables.kernels import Trace, combine, write_parquet
from roofprof.tables.schema import COLUMNS, TEXT, dtype_of
from tests.conftest import FIXTURES

TIMING_TEXT = [c for c, d in timing.COLUMNS.items() if d == TEXT]
KERNEL_TEXT = [c for c in COLUMNS if dtype_of(c) == TEXT]
TIMING_SOURCES = ["llama_kineto.json.gz", "llama_graph_kineto.json.gz",
                  "llama_graph_nsys.sqlite", "llama_sample.timing.parquet"]
#: written before text columns were dictionary-typed (their Arrow types say so)
OLD_FILES = ["llama_sample.timing.parquet", "llama_full_record.parquet"]


def _canonical(column: pd.Series) -> None:
    assert isinstance(column.dtype, pd.CategoricalDtype), column.name
    cats = list(column.cat.categories)
    assert column.cat.categories.dtype == "str", column.name
    assert cats == sorted(set(cats)), column.name


def _load(name: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", roofprof.RoofprofWarning)
        return roofprof.load(FIXTURES / name).kernels


@pytest.mark.parametrize("name", TIMING_SOURCES)
def test_every_timing_sources_text_columns_are_dictionary_typed(name: str) -> None:
    k = load_timing(FIXTURES / name).kernels
    for col in TIMING_TEXT:
        _canonical(k[col])
    assert k["kernel"].notna().all()
    assert k["range"].notna().all()


@pytest.mark.parametrize("name", ["known_work.ncu-rep", "llama_small_raw.csv",
                                  "llama_kineto.json.gz", *OLD_FILES])
def test_every_kernel_tables_text_columns_are_dictionary_typed(name: str) -> None:
    k = _load(name)
    for col in KERNEL_TEXT:
        _canonical(k[col])


@pytest.mark.parametrize("name", OLD_FILES)
def test_files_of_plain_strings_load_with_the_same_values(name: str) -> None:
    path = FIXTURES / name
    stored = pq.read_table(path)
    assert not any(pa.types.is_dictionary(stored.schema.field(c).type)
                   for c in KERNEL_TEXT if c in stored.column_names)  # an older file indeed
    plain = stored.to_pandas()
    k = load_timing(path).kernels if name.endswith(".timing.parquet") else _load(name)
    for col in KERNEL_TEXT:
        if col in plain:
            assert k[col].astype(object).where(k[col].notna(), None).tolist() == \
                plain[col].astype(object).where(plain[col].notna(), None).tolist(), col
    assert k["nvtx"].map(list).tolist() == plain["nvtx"].map(list).tolist()


def test_a_timing_table_round_trips_through_parquet_as_dictionaries(tmp_path: Path) -> None:
    t = load_timing(FIXTURES / "llama_graph_kineto.json.gz")
    timing.write(t, tmp_path / "t.parquet")
    schema = pq.read_schema(tmp_path / "t.parquet")
    for col in TIMING_TEXT:
        assert schema.field(col).type == arrow_text(), col
    back = timing.read(tmp_path / "t.parquet").kernels
    pd.testing.assert_frame_equal(back.drop(columns=["nvtx", "nvtx_start_ns", "nvtx_end_ns"]),
                                  t.kernels.drop(columns=["nvtx", "nvtx_start_ns",
                                                          "nvtx_end_ns"]), check_exact=True)
    for col in ("nvtx", "nvtx_start_ns", "nvtx_end_ns"):
        assert back[col].tolist() == t.kernels[col].tolist(), col
    # one list per distinct path, shared by its rows, as the tracer makes them
    cells = {id(v) for v in back["nvtx"]}
    assert len(cells) == len({tuple(v) for v in back["nvtx"]})


def test_a_kernel_table_round_trips_through_parquet_as_dictionaries(tmp_path: Path) -> None:
    k = _load("llama_annotated.ncu-rep")
    write_parquet(Trace(k, {"sources": ["x"], "formats": ["ncu-rep"]}), tmp_path / "k.parquet")
    schema = pq.read_schema(tmp_path / "k.parquet")
    for col in KERNEL_TEXT:
        assert schema.field(col).type == arrow_text(), col
    back = _load_path(tmp_path / "k.parquet")
    pd.testing.assert_frame_equal(back.drop(columns="nvtx"), k.drop(columns="nvtx"),
                                  check_exact=True)
    assert back["nvtx"].tolist() == k["nvtx"].tolist()


def _load_path(path: Path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", roofprof.RoofprofWarning)
        return roofprof.load(path).kernels


def test_tables_of_different_categories_concatenate_as_dictionaries(tmp_path: Path) -> None:
    a, b = (FIXTURES / n for n in ("llama_kineto.json.gz", "llama_graph_kineto.json.gz"))
    shutil.copy(a, tmp_path / "a.json.gz")
    shutil.copy(b, tmp_path / "b.json.gz")
    both = load_timing(str(tmp_path / "*.json.gz")).kernels
    parts = [load_timing(tmp_path / p).kernels for p in ("a.json.gz", "b.json.gz")]
    assert set(parts[0]["kernel"].dropna()) != set(parts[1]["kernel"].dropna())
    for col in TIMING_TEXT:
        _canonical(both[col])
        want = [v for p in parts for v in p[col].astype(object).where(p[col].notna(), None)]
        assert both[col].astype(object).where(both[col].notna(), None).tolist() == want, col
    kernels = combine([Trace(_load("llama_small.ncu-rep")),
                                Trace(_load("known_work.ncu-rep"))], ["small", "known"]).kernels
    for col in (*KERNEL_TEXT, "trace"):
        _canonical(kernels[col])


def test_groups_of_a_selection_are_only_those_it_holds() -> None:
    """A selection keeps its column's categories; grouping by them gives no empty groups."""
    t = Trace(_load("llama_annotated.ncu-rep"))
    decode = t.kernels[t.kernels["phase"] == "decode"]
    assert len(decode["kernel"].cat.categories) > decode["kernel"].nunique()  # unused ones
    for by in ("kernel", "range", "category", "op,phase"):
        table = roofprof.summary(Trace(decode.reset_index(drop=True), t.meta), by=by)
        assert (table["kernels"] > 0).all(), by
        assert table["kernels"].sum() == len(decode), by
