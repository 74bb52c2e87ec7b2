"""Datasets: convert --dataset writes hive-partitioned roofprof Parquet files; --where picks
partitions (strictly parsed, never SQL); every reader sees the dataset as one trace."""

from __future__ import annotations

import json
import operator
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from roofprof.analysis import roofline
from roofprof.app.ranks import ranks as rank_view
from roofprof.cli import main
from roofprof.datasets.write import append
from roofprof.errors import InputError, RoofprofWarning, UsageError
from roofprof.inputs.load import load
from roofprof.tables import partitions as dataset
from roofprof.tables.kernels import read_parquet
from roofprof.tables.stored import META_KEY

from .conftest import FIXTURES

KNOWN = FIXTURES / "known_work.ncu-rep"
SMALL = FIXTURES / "llama_small.ncu-rep"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """known_work on ranks 0-3 of host n1 (run a) and rank 0 of host n2 (run b)."""
    d = tmp_path_factory.mktemp("fleet")
    for rank in range(4):
        append([KNOWN], d, run="a", host="n1", rank=rank)
    append([KNOWN], d, run="b", host="n2", rank=0)
    return d


def test_layout_schema_and_metadata(fleet: Path) -> None:
    files = sorted(fleet.glob("run=*/host=*/rank=*/*.parquet"))
    assert len(files) == 5
    assert {f.parent.relative_to(fleet).as_posix() for f in files} == {
        *(f"run=a/host=n1/rank={r}" for r in range(4)), "run=b/host=n2/rank=0"}
    for f in files:  # each file is a roofprof trace of its own, metadata kept
        meta = json.loads(pq.read_schema(f).metadata[META_KEY])
        assert meta["sources"] == [str(KNOWN)]
        trace = read_parquet(f)
        assert len(trace.kernels) == len(load(KNOWN).kernels)
        assert set(trace.kernels["host"]) == {f.parent.parent.name.split("=")[1]}
    assert not list(fleet.rglob(".*"))  # no temporary files left by the atomic writes


def test_load_adds_partition_columns(fleet: Path) -> None:
    n = len(load(KNOWN).kernels)
    t = load(fleet)
    assert len(t.kernels) == 5 * n
    assert sorted(t.kernels.groupby(["run", "host", "rank"]).size().items()) == [
        (("a", "n1", r), n) for r in range(4)] + [(("b", "n2", 0), n)]
    one = load(fleet, where="rank = 3")
    assert len(one.kernels) == n
    assert set(one.kernels["rank"]) == {3}
    s = roofline.summarize(load(fleet, where="host = 'n1' and rank in (0, 2)"), by="rank")
    assert list(s["group"]) == ["0", "2"]


@pytest.mark.parametrize(("where", "ranks"), [
    ("rank = 3", [3]),
    ("rank != 3 and run = a", [0, 1, 2]),
    ("rank >= 2", [2, 3]),
    ("rank < 1 and host = 'n2'", []),
    ("RANK IN (1,3)", [1, 3]),
    ("run = 'b'", []),
])
def test_where_on_run_a(fleet: Path, where: str, ranks: list[int]) -> None:
    kept = [p.values for p in dataset.parts(fleet, None) if dataset.parse_where(where)(p.values)]
    assert sorted(v["rank"] for v in kept if v["run"] == "a") == ranks


@pytest.mark.parametrize("where", [
    "rank = 3; drop table kernels", "rank = 3 or 1 = 1", "1 = 1", "duration_ns > 0",
    "rank = 'x'", "rank =", "rank in (1, 2", "host = n1 and", "rank like 3", "host = \"n1\"",
    "rank = 3 and (host = n1)", "run = 'a' -- comment",
])
def test_where_refuses_anything_else(where: str) -> None:
    with pytest.raises(UsageError, match=r"^where "):  # the CLI says --where (golden errors)
        dataset.parse_where(where)


OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}


@given(st.sampled_from(sorted(OPS)), st.integers(0, 100), st.integers(0, 100))
def test_where_compares_ranks_as_integers(op: str, lit: int, rank: int) -> None:
    test = dataset.parse_where(f"rank {op} {lit}")
    assert test({"run": "r", "host": "h", "rank": rank}) == OPS[op](rank, lit)


def test_no_matching_partition(fleet: Path) -> None:
    with pytest.raises(InputError, match="no dataset files matching"):
        dataset.parts(fleet, "rank = 99")


@pytest.mark.parametrize(("column", "value"), [
    ("run", "../x"), ("host", "a/b"), ("host", ""), ("run", "a b"), ("rank", -1),
    ("rank", "3"), ("host", "=x")])
def test_partition_values_checked(tmp_path: Path, column: str, value: object) -> None:
    kwargs: dict[str, object] = {column: value}
    with pytest.raises(UsageError):
        append([KNOWN], tmp_path / "d", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").rglob("*.parquet"))


def test_cli_convert_and_summary(tmp_path: Path) -> None:
    d = tmp_path / "fleet"
    runner = CliRunner()
    for rank in (0, 1, 2):
        r = runner.invoke(main, ["convert", str(SMALL), "--dataset", str(d), "--run", "r1",
                                 "--host", "n7", "--rank", str(rank)])
        assert r.exit_code == 0, r.output
    rows = {}
    for engine in ("duckdb", "pandas"):
        r = runner.invoke(main, ["summary", str(d), "--by", "phase", "--where", "rank = 1",
                                 "--engine", engine, "--format", "json"])
        assert r.exit_code == 0, r.output
        rows[engine] = json.loads(r.stdout)
    assert rows["duckdb"] == rows["pandas"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        alone = roofline.summarize(load(SMALL), by="phase")
    assert [g["kernels"] for g in rows["duckdb"]] == list(alone["kernels"])
    bad = runner.invoke(main, ["summary", str(d), "--where", "rank = 1 or 1=1"])
    assert bad.exit_code != 0
    assert "--where" in bad.output
    assert "Traceback" not in bad.output
    both = runner.invoke(main, ["convert", str(SMALL), "--dataset", str(d), "-o", "x.parquet"])
    assert both.exit_code != 0
    assert "not both" in both.output
    trace_where = runner.invoke(main, ["summary", str(KNOWN), "--where", "rank = 1"])
    assert trace_where.exit_code != 0
    assert "dataset" in trace_where.output


def test_rank_view_against_the_traces_own_times(tmp_path: Path) -> None:
    """Ranks 0 and 2 ran the Llama fixture on an H100, rank 1 on an H200: per phase, min is
    the H200's time, median and max the H100's (sums of the fixtures' own durations)."""

    h100, h200 = FIXTURES / "llama_annotated.ncu-rep", FIXTURES / "h200_llama_annotated.ncu-rep"
    d = tmp_path / "fleet"
    for rank, f in ((0, h100), (1, h200), (2, h100)):
        append([f], d, run="r", host=f"n{rank}", rank=rank)
    view = rank_view(d, view="spread", by="phase").set_index("group")
    for phase in ("prefill", "decode"):
        t100 = load(h100).kernels.query("phase == @phase")["duration_ns"].sum()
        t200 = load(h200).kernels.query("phase == @phase")["duration_ns"].sum()
        assert t200 < t100
        row = view.loc[phase]
        assert row["ranks"] == 3
        assert row["min_ns"] == pytest.approx(t200, rel=1e-12)
        assert row["median_ns"] == pytest.approx(t100, rel=1e-12)
        assert row["max_ns"] == pytest.approx(t100, rel=1e-12)
        assert row["spread"] == pytest.approx(1.0)
        assert row["straggler"] == 0  # ranks 0 and 2 tie: the lowest
    two = rank_view(d, view="spread", by="phase", where="rank <= 1").set_index("group")
    assert two.loc["prefill", "spread"] == pytest.approx(
        two.loc["prefill", "max_ns"] / two.loc["prefill", "median_ns"])
    assert two.loc["prefill", "spread"] > 1
    with pytest.raises(UsageError, match="rank view"):
        rank_view(d, view="spread", by="rank")
    r = CliRunner().invoke(main, ["ranks", str(d), "--view", "spread", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert [x["group"] for x in json.loads(r.stdout)] == ["prefill", "decode"]


def test_partition_options_need_a_dataset(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["convert", str(KNOWN), "-o", str(tmp_path / "t.parquet"),
                                  "--rank", "3"])
    assert r.exit_code != 0
    assert "--dataset" in r.output
    assert not (tmp_path / "t.parquet").exists()


def test_rank_by_device_puts_each_devices_kernels_in_its_rank(tmp_path: Path) -> None:
    """One trace of two devices (the bundled H100 and H200 recordings of the same Llama,
    relabelled as devices 0 and 1): each device's kernels land in its own rank partition."""
    import pandas as pd

    a, b = load(FIXTURES / "llama_annotated.ncu-rep"), \
        load(FIXTURES / "h200_llama_annotated.ncu-rep")
    a.kernels["device"], b.kernels["device"] = 0, 1
    both = pd.concat([a.kernels, b.kernels], ignore_index=True)
    a.kernels = both
    a.save(tmp_path / "two.parquet")
    r = CliRunner().invoke(main, ["convert", str(tmp_path / "two.parquet"), "--dataset",
                                  str(tmp_path / "ds"), "--run", "tp", "--rank-by", "device"])
    assert r.exit_code == 0, r.output
    assert "rank 0, 126 kernels" in r.output
    assert "rank 1, 126 kernels" in r.output
    got = roofline.summarize(load(tmp_path / "ds"), by="rank,phase")
    for rank, alone in ((0, FIXTURES / "llama_annotated.ncu-rep"),
                        (1, FIXTURES / "h200_llama_annotated.ncu-rep")):
        want = roofline.summarize(load(alone), by="phase").set_index("group")["time_ns"]
        for phase, ns in want.items():
            row = got[got["group"] == f"{rank} · {phase}"]
            assert float(row["time_ns"].iloc[0]) == pytest.approx(float(ns), rel=1e-12)


def test_rank_by_is_refused_where_it_cannot_apply(tmp_path: Path) -> None:
    import pandas as pd

    trace = load(FIXTURES / "llama_small.ncu-rep")
    trace.kernels["device"] = pd.Series([None] * len(trace.kernels), dtype="Int64")
    trace.save(tmp_path / "nodevice.parquet")
    for args, words in (
            (["--dataset", str(tmp_path / "ds"), "--rank-by", "device", "--rank", "1"],
             "give --rank or --rank-by, not both"),
            (["-o", str(tmp_path / "t.parquet"), "--rank-by", "device"],
             "apply with --dataset DIR"),
            (["--dataset", str(tmp_path / "ds"), "--rank-by", "device"],
             "have no device, so their rank is unknown; give --rank N instead")):
        r = CliRunner().invoke(main, ["convert", str(tmp_path / "nodevice.parquet"), *args])
        assert r.exit_code != 0
        assert words in r.output, r.output
        assert r.output.count("\n") == 1
    assert not (tmp_path / "ds").exists()

