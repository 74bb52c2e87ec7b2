"""The DuckDB summary of a dataset equals the in-memory ``roofline.summarize`` on every fixture:
every numeric column within 1e-9 relative, group names, bound and precision equal."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from roofprof.analysis import roofline
from roofprof.analysis.reasons import UNJOINED
from roofprof.datasets import sql as dataset_sql
from roofprof.errors import RoofprofWarning, UsageError
from roofprof.inputs.load import read_dataset
from roofprof.tables.metrics import PRECISIONS

from .conftest import FIXTURES, as_datasets

INPUTS = sorted([*FIXTURES.glob("*.ncu-rep"), *FIXTURES.glob("*.csv"),
                 *FIXTURES.glob("*.json.gz")])
BYS = ("phase", "category", "op,phase", "range", "rank,phase")
TEXT = ("group", "level", "precision", "bound", "reason")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each fixture as a dataset of two ranks (the same rows twice)."""
    return as_datasets(tmp_path_factory, INPUTS)


def assert_same(mem: pd.DataFrame, sql: pd.DataFrame) -> None:
    assert list(mem.columns) == list(sql.columns)
    assert list(mem["group"]) == list(sql["group"])
    assert (mem["kernels"].to_numpy() == sql["kernels"].to_numpy()).all()
    for col in ("precision", "bound"):
        a = mem[col].astype(object)
        assert list(a.where(a.notna(), None)) == list(sql[col]), col
    for col in mem.columns:
        if col in TEXT or col == "kernels":
            continue
        a = mem[col].to_numpy(dtype=np.float64, na_value=np.nan)
        b = sql[col].to_numpy(dtype=np.float64, na_value=np.nan)
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=0, equal_nan=True, err_msg=col)


@pytest.mark.parametrize("name", [f.name for f in INPUTS])
def test_duckdb_equals_in_memory(datasets: dict[str, Path], name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        mem_trace = read_dataset(datasets[name])
    assert len(mem_trace.kernels) % 2 == 0
    for by in BYS:
        for level in ("dram", "l1") if by != "phase" else ("dram", "l2", "l1"):
            mem = roofline.summarize(mem_trace, by=by, level=level)
            sql = dataset_sql.summarize(datasets[name], by=by, level=level)
            assert_same(mem, sql)
            check_reasons(mem_trace, by, level, mem, sql)


def check_reasons(trace: object, by: str, level: str, mem: pd.DataFrame,
                  sql: pd.DataFrame) -> None:
    """Unknown groups' reasons: roofline's most common kernel reason and group size; the count
    is of the members that have a reason (roofline.group_numbers counts members whose reason
    is null too, as "nan", under pandas 3: see the report; its kernel reasons are the truth)."""
    from roofprof.analysis.grouping import group_kernels

    t = roofline.table_of(trace)
    k = roofline.kernel_numbers(t, level)
    grouping = group_kernels(t, by)
    has = np.asarray([isinstance(r, str) for r in k["reason"]])
    with_reason = dict(zip(grouping.names, np.bincount(grouping.codes, weights=has,
                                                       minlength=len(grouping)), strict=True))
    for g, a, b in zip(mem["group"], mem["reason"], sql["reason"], strict=True):
        if not isinstance(a, str):
            assert b is None
            continue
        n = int(with_reason[g])
        if n == 0:
            assert b is None
            continue
        assert isinstance(b, str)
        size_a, _, text_a = a.partition(" kernels: ")
        size_b, _, text_b = b.partition(" kernels: ")
        assert size_b == f"{n} of {size_a.split(' of ')[1]}"
        if text_a != "nan":
            assert text_a == text_b


def test_where_filters_before_reading(datasets: dict[str, Path]) -> None:
    d = datasets["llama_small.ncu-rep"]
    both = dataset_sql.summarize(d, by="phase")
    one = dataset_sql.summarize(d, by="phase", where="rank = 1")
    assert (one["kernels"] * 2 == both["kernels"]).all()
    np.testing.assert_allclose(one["time_ns"] * 2, both["time_ns"], rtol=1e-12)
    # the same rows: every share is the same
    np.testing.assert_allclose(one["time_share"], both["time_share"], rtol=1e-12)


def test_the_query_is_generated_from_the_metric_table() -> None:
    sql = dataset_sql.explain("phase", "dram")
    for work, peak in PRECISIONS.values():
        assert f'"{work}"' in sql
        assert f'"{peak}"' in sql
    assert repr(roofline.LAUNCH_FLOOR_NS) in sql


def test_truths_on_known_work(datasets: dict[str, Path]) -> None:
    """known_work's GEMMs are M,N,K = 1024,2048,4096: 2*M*N*K FLOPs (fixtures/MANIFEST.md)."""
    df = dataset_sql.summarize(datasets["known_work.ncu-rep"], by="range", where="rank = 0")
    gemm = df[df["group"].isin(["gemm_bf16", "gemm_fp16"])]
    assert len(gemm) == 2
    np.testing.assert_allclose(gemm["flop"], 2 * 1024 * 2048 * 4096, rtol=1e-3)


def test_unsupported_groupings_refused(datasets: dict[str, Path]) -> None:
    d = datasets["known_work.ncu-rep"]
    with pytest.raises(UsageError, match="use engine pandas"):
        dataset_sql.summarize(d, by="kernel")
    with pytest.raises(UsageError, match="use engine pandas"):
        dataset_sql.summarize(d, by="no_such_column")
    with pytest.raises(UsageError, match="measured column"):
        dataset_sql.summarize(d, by="duration_ns")


def test_a_joined_dataset_says_why_as_the_in_memory_summary_does(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A real record --sample pair joined: launches without counters (another template
    instance was sampled) make groups unknown, with reasons.UNJOINED as the reason, in DuckDB
    as in memory."""
    from roofprof.analysis.join import join
    from roofprof.inputs.timing import load_timing
    from roofprof.tables.kernels import write_parquet

    joined = join(load_timing(FIXTURES / "llama_sample.timing.parquet"),
                  roofprof_load(FIXTURES / "llama_sample.ncu-rep"))
    path = tmp_path_factory.mktemp("joined") / "joined.parquet"
    write_parquet(joined, path)
    d = as_datasets(tmp_path_factory, [path])["joined.parquet"]
    mem_trace = read_dataset(d)
    for by in ("phase", "op,phase"):
        mem = roofline.summarize(mem_trace, by=by)
        sql = dataset_sql.summarize(d, by=by)
        assert_same(mem, sql)
        check_reasons(mem_trace, by, "dram", mem, sql)
        assert sql["reason"].dropna().str.endswith(UNJOINED).any()


def roofprof_load(path: Path) -> object:
    import roofprof

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        return roofprof.load(path)
