"""Which engine reads a dataset (roofprof.app.engine): one rule for summary and plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from roofprof.app.engine import in_memory_only, out_of_core
from roofprof.datasets.write import append
from roofprof.errors import UsageError

from .conftest import FIXTURES


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("data") / "fleet-a"
    append([FIXTURES / "llama_small.ncu-rep"], d, run="r1", host="n1", rank=0)
    return d


def test_auto_reads_one_dataset_folder_out_of_core_even_through_a_pattern(fleet: Path) -> None:
    assert out_of_core("auto", [fleet], []) == fleet
    assert out_of_core("duckdb", [str(fleet.parent / "fleet-*")], []) == fleet
    assert out_of_core("spark", [fleet], []) == fleet


def test_the_in_memory_path_runs_where_the_query_cannot(fleet: Path) -> None:
    assert out_of_core("pandas", [fleet], []) is None
    assert out_of_core("auto", [fleet], ["depth"]) is None
    assert out_of_core("auto", [FIXTURES / "llama_small.ncu-rep"], []) is None
    assert out_of_core("auto", [fleet, fleet], []) is None


def test_an_engine_asked_for_says_what_stands_in_its_way(fleet: Path) -> None:
    # the library names parameters (the command line shows them as flags: tests/golden/cli)
    with pytest.raises(UsageError, match=r"^engine duckdb reads one dataset folder"):
        out_of_core("duckdb", [FIXTURES / "llama_small.ncu-rep"], [])
    with pytest.raises(UsageError, match="does not take filter, by kernel; use engine pandas"):
        out_of_core("spark", [fleet], in_memory_only([("filter", "decode"),
                                                      ("depth", None)], "phase,kernel"))
