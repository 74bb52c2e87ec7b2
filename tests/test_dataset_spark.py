"""The Spark engine runs the same generated query: its summary equals DuckDB's on fixtures
(every numeric column within 1e-9 relative, names, bound, precision and reasons equal).
A local Spark session (needs pyspark and Java 17+; CI installs pyspark in .ci/run)."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roofprof.datasets import sql as dataset_sql
from roofprof.datasets.write import append
from roofprof.errors import RoofprofWarning

from .conftest import FIXTURES
from .test_dataset_sql import assert_same

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java", allow_module_level=True)

# reports and CSV exports with known, unknown (missing FP8 counter, TMA at L1) and timing rows
NAMES = ("known_work.ncu-rep", "known_work_roofline_raw.csv", "llama_small.ncu-rep",
         "spec_verify.ncu-rep", "llama_kineto.json.gz")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from roofprof.datasets.spark import session

    s = session()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        for name in NAMES:
            d = tmp_path_factory.mktemp(name.replace(".", "_"))
            for rank in (0, 3):
                append([FIXTURES / name], d, run="r1", host="n1", rank=rank)
            out[name] = d
    return out


@pytest.mark.parametrize("name", NAMES)
def test_spark_equals_duckdb(spark: Any, datasets: dict[str, Path], name: str) -> None:
    from roofprof.datasets.spark import summarize

    for by, level in (("phase", "dram"), ("op,phase", "l1"), ("range", "dram"),
                      ("rank,category", "l2")):
        a = dataset_sql.summarize(datasets[name], by=by, level=level)
        b = summarize(datasets[name], by=by, level=level, spark=spark)
        assert_same(a, b)
        assert list(a["reason"]) == list(b["reason"])


def test_spark_where(spark: Any, datasets: dict[str, Path]) -> None:
    from roofprof.datasets.spark import summarize

    d = datasets["llama_small.ncu-rep"]
    a = dataset_sql.summarize(d, by="rank,phase", where="rank = 3")
    b = summarize(d, by="rank,phase", where="rank = 3", spark=spark)
    assert_same(a, b)
    assert all(g.startswith("3 · ") for g in b["group"])


def test_cli_engine_spark(spark: Any, datasets: dict[str, Path]) -> None:
    import json

    from click.testing import CliRunner

    from roofprof.cli import main

    d = str(datasets["known_work.ncu-rep"])
    out = {}
    for engine in ("spark", "duckdb"):
        r = CliRunner().invoke(main, ["summary", d, "--by", "range", "--engine", engine,
                                      "--format", "json", "--where", "rank = 0"])
        assert r.exit_code == 0, r.output
        out[engine] = json.loads(r.stdout)
    assert [g["group"] for g in out["spark"]] == [g["group"] for g in out["duckdb"]]
    for a, b in zip(out["spark"], out["duckdb"], strict=True):
        assert a["bound"] == b["bound"]
        assert a["time_ns"] == pytest.approx(b["time_ns"], rel=1e-9)


def test_ranks_on_spark_equal_duckdb(spark: Any, datasets: dict[str, Path]) -> None:
    import pandas as pd

    from roofprof.app.ranks import ranks

    d = datasets["llama_small.ncu-rep"]
    for view in ("rank", "spread"):
        a = ranks(d, by="phase", view=view, engine="duckdb")
        b = ranks(d, by="phase", view=view, engine="spark")
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9)
