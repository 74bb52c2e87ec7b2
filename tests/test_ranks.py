"""roofprof ranks: per rank and group, the group math's numbers (equal to summarising each
rank's own kernels in memory), the communication share (checked on ranks built from fixture
rows plus NCCL kernels of known durations) and the straggler."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from roofprof.analysis import ranks, roofline
from roofprof.app.engine import RANK_ENGINES
from roofprof.app.ranks import ranks as rank_view
from roofprof.cli import main
from roofprof.datasets.write import append
from roofprof.errors import RoofprofWarning, UsageError
from roofprof.inputs.attribution import attribute, builtin_rules
from roofprof.inputs.load import load
from roofprof.tables.kernels import Trace

from .conftest import FIXTURES

H100 = FIXTURES / "llama_annotated.ncu-rep"
H200 = FIXTURES / "h200_llama_annotated.ncu-rep"
SMALL = FIXTURES / "llama_small.ncu-rep"
KNOWN = FIXTURES / "known_work.ncu-rep"
NUMBERS = ("time_ns", "pct_of_roof", "ai", "work_per_s", "bytes_per_s")


def quiet_load(path: Path) -> Trace:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        return load(path)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, Path]]:
    """Four ranks of different runs: the Llama run on an H100 (ranks 0, 1), on an H200
    (rank 2), and known_work (rank 3, no phases)."""
    d = tmp_path_factory.mktemp("mixed")
    inputs = {0: H100, 1: H100, 2: H200, 3: KNOWN}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        for rank, f in inputs.items():
            append([f], d, run="r", host=f"n{rank // 2}", rank=rank)
    return d, inputs


@pytest.mark.parametrize("level", ["dram", "l1"])
@pytest.mark.parametrize("by", ["phase", "op", "run"])
def test_each_rank_is_its_own_kernels_summarised(mixed: tuple[Path, dict[int, Path]],
                                                 by: str, level: str) -> None:
    """Every (group, rank) row is roofline.summarize of that rank's own input, in memory."""
    d, inputs = mixed
    table = rank_view(d, by=by, level=level)
    assert list(table.columns) == list(ranks.PER_RANK_COLUMNS)
    seen = 0
    for rank, f in inputs.items():
        mine = table[table["rank"] == rank].set_index("group")
        kernels = quiet_load(f).kernels.assign(run="r")
        alone = roofline.summarize(kernels, by=by, level=level).set_index("group")
        assert sorted(mine.index) == sorted(alone.index)
        for g in alone.index:
            assert mine.loc[g, "kernels"] == alone.loc[g, "kernels"]
            assert mine.loc[g, "bound"] == alone.loc[g, "bound"]
            for col in ("precision", "reason"):  # text, null as None or NaN
                a, b = alone.loc[g, col], mine.loc[g, col]
                assert (pd.isna(a) and pd.isna(b)) or a == b, col
            for col in NUMBERS:
                a, b = float(alone.loc[g, col]), float(mine.loc[g, col])
                assert (np.isnan(a) and np.isnan(b)) or b == pytest.approx(a, rel=1e-9), col
            seen += 1
    assert seen == len(table)


def test_the_engines_agree(mixed: tuple[Path, dict[int, Path]]) -> None:
    d, _ = mixed
    for by in ("phase", "category"):
        sql = rank_view(d, by=by, where="rank <= 2")
        mem = rank_view(d, by=by, where="rank <= 2", engine="pandas")
        assert list(sql["group"]) == list(mem["group"])
        assert list(sql["rank"]) == list(mem["rank"])
        for col in ("bound", "straggler", "kernels"):
            assert list(sql[col]) == list(mem[col]), col
        for col in (*NUMBERS, "communication_share", "vs_median"):
            np.testing.assert_allclose(sql[col].to_numpy(dtype=float),
                                       mem[col].to_numpy(dtype=float), rtol=1e-9,
                                       equal_nan=True, err_msg=col)
        pd.testing.assert_frame_equal(rank_view(d, view="spread", by=by, where="rank <= 2"),
                                      rank_view(d, view="spread", by=by, where="rank <= 2",
                                                   engine="pandas"))


def test_straggler_and_median(mixed: tuple[Path, dict[int, Path]]) -> None:
    """Per phase, ranks 0 and 1 (H100) take the same time, rank 2 (H200) less: the median is
    the H100's, the straggler rank 0 (the lowest of the tie); rank 2 is at t200 / t100."""
    d, _ = mixed
    table = rank_view(d, by="phase", where="rank <= 2")
    k100, k200 = quiet_load(H100).kernels, quiet_load(H200).kernels
    for phase in ("prefill", "decode"):
        t100 = k100.loc[k100["phase"] == phase, "duration_ns"].sum()
        t200 = k200.loc[k200["phase"] == phase, "duration_ns"].sum()
        rows = table[table["group"] == phase].set_index("rank")
        assert list(rows["straggler"]) == [True, False, False]
        assert rows.loc[1, "vs_median"] == pytest.approx(1.0, rel=1e-12)
        assert rows.loc[2, "vs_median"] == pytest.approx(t200 / t100, rel=1e-12)
        assert rows.loc[2, "communication_share"] == 0.0  # no collectives in one-GPU runs
    assert list(table["group"].drop_duplicates()) == ["prefill", "decode"]  # most time first
    spread = rank_view(d, view="spread", by="phase", where="rank <= 2", engine="pandas")
    pd.testing.assert_frame_equal(rank_view(d, view="spread", by="phase", where="rank <= 2"),
                                  spread)
    with pytest.raises(UsageError, match="rank views"):
        rank_view(d, by="rank,phase")


#: NCCL kernel names (collectives of PyTorch distributed) and the durations given to them
NCCL = [("ncclDevKernel_AllReduce_Sum_bf16_RING_LL", 41_000.0),
        ("ncclDevKernel_AllGather_RING_LL", 17_500.0),
        ("ncclKernel_ReduceScatter_RING_LL_Sum_bf16", 9_250.0)]


def with_collectives(kernels: pd.DataFrame, phase: str, times: float) -> pd.DataFrame:
    """``kernels`` plus one NCCL launch of each of :data:`NCCL` (durations x ``times``),
    annotated as the first kernel of ``phase`` is, attributed by the built-in rules."""
    template = kernels[kernels["phase"] == phase].iloc[[0] * len(NCCL)].copy()
    template["kernel"] = [n for n, _ in NCCL]
    template["kernel_demangled"] = [n for n, _ in NCCL]
    template["duration_ns"] = [t * times for _, t in NCCL]
    template["id"] = np.arange(len(NCCL)) + int(kernels["id"].max()) + 1
    out = pd.concat([kernels, template], ignore_index=True)
    attribute(out, builtin_rules())
    return out


@pytest.fixture(scope="module")
def collectives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """llama_small on ranks 0-2; rank 0 adds the NCCL launches to decode, rank 1 to decode
    (durations x 3) and prefill, rank 2 none."""
    d = tmp_path_factory.mktemp("nccl")
    base = quiet_load(SMALL)
    assert (base.kernels["category"] != "communication").all()
    plans = {0: [("decode", 1.0)], 1: [("decode", 3.0), ("prefill", 1.0)], 2: []}
    tables = []
    for rank, plan in plans.items():
        k = base.kernels.copy()
        for phase, times in plan:
            k = with_collectives(k, phase, times)
        f = d / f"rank{rank}.parquet"
        Trace(k, dict(base.meta)).save(f)
        append([f], d / "fleet", run="r", host="n1", rank=rank)
        tables.append(k.assign(rank=rank))
    return d / "fleet", pd.concat(tables, ignore_index=True)


def test_communication_share_is_the_nccl_time(collectives: tuple[Path, pd.DataFrame]) -> None:
    d, kernels = collectives
    nccl = sum(t for _, t in NCCL)
    base = quiet_load(SMALL).kernels
    decode = base.loc[base["phase"] == "decode", "duration_ns"].sum()
    prefill = base.loc[base["phase"] == "prefill", "duration_ns"].sum()
    truth = {  # (phase, rank): communication ns, time ns
        ("decode", 0): (nccl, decode + nccl), ("decode", 1): (3 * nccl, decode + 3 * nccl),
        ("decode", 2): (0.0, decode), ("prefill", 0): (0.0, prefill),
        ("prefill", 1): (nccl, prefill + nccl), ("prefill", 2): (0.0, prefill)}
    # Spark where pyspark is installed (CI installs it; the dev extra does not)
    engines = [e for e in RANK_ENGINES if e != "spark" or importlib.util.find_spec("pyspark")]
    for engine in engines:
        table = rank_view(d, by="phase", engine=engine).set_index(["group", "rank"])
        assert len(table) == len(truth)
        for key, (comm, time) in truth.items():
            assert table.loc[key, "communication_ns"] == pytest.approx(comm, rel=1e-12)
            assert table.loc[key, "time_ns"] == pytest.approx(time, rel=1e-12)
            assert table.loc[key, "communication_share"] == pytest.approx(comm / time,
                                                                          rel=1e-12)
        assert table.loc[("decode", 1), "straggler"]  # the most collective time
        totals = rank_view(d, by="run", engine=engine).set_index("rank")
        assert totals.loc[1, "communication_share"] == pytest.approx(
            4 * nccl / (decode + prefill + 4 * nccl), rel=1e-12)
        assert totals.loc[2, "communication_share"] == 0.0
    # the category is the built-in NCCL rule's, as the in-memory path sees it
    assert (kernels["category"] == "communication").sum() == 3 * len(NCCL)


def test_the_straggler_is_the_rank_the_others_waited_for(
        collectives: tuple[Path, pd.DataFrame]) -> None:
    """Ranks 0 and 1: both ran the collectives in decode, rank 1 three times as long (it waited
    in them), so rank 0, with the least collective time, is the one rank 1 waited for; in
    prefill only rank 1 communicated, so the rule falls back to the most time."""
    d, _ = collectives
    nccl = sum(t for _, t in NCCL)
    table = rank_view(d, by="phase", where="rank <= 1").set_index(["group", "rank"])
    assert table.loc[("decode", 0), "straggler"]
    assert not table.loc[("decode", 1), "straggler"]
    assert table.loc[("decode", 1), "wait_ns"] == pytest.approx(2 * nccl, rel=1e-12)
    assert table.loc[("decode", 0), "wait_ns"] == 0
    assert table.loc[("prefill", 1), "straggler"]
    assert table[["wait_ns"]].loc["prefill"].isna().all().all()
    spread = rank_view(d, view="spread", by="phase", where="rank <= 1").set_index("group")
    assert spread.loc["decode", "straggler"] == 0
    assert spread.loc["decode", "straggler_by"] == ranks.BY_WAIT
    assert spread.loc["decode", "straggler_excess_ns"] == pytest.approx(2 * nccl, rel=1e-12)
    assert spread.loc["prefill", "straggler_by"] == ranks.BY_TIME
    # all three ranks: rank 2 ran no collective in decode, so the most time names it
    everyone = rank_view(d, view="spread", by="phase").set_index("group")
    assert everyone.loc["decode", "straggler_by"] == ranks.BY_TIME


def test_cli_views_and_formats(collectives: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    d, _ = collectives
    runner = CliRunner()
    text = runner.invoke(main, ["ranks", str(d)])
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["group", "rank", "kernels", "time", "%", "roof", "AI", "DRAM",
                                "bound", "communication", "waited", "vs", "median",
                                "straggler"]
    decode1 = next(ln for ln in lines if ln.startswith("decode") and ln.split()[1] == "1")
    assert decode1.endswith("<- straggler")
    as_json = json.loads(runner.invoke(main, ["ranks", str(d), "--format", "json"]).stdout)
    table = rank_view(d)
    assert [r["communication_share"] for r in as_json] == pytest.approx(
        list(table["communication_share"]), rel=1e-12)
    out = tmp_path / "ranks.csv"
    r = runner.invoke(main, ["ranks", f"{d.parent}/fle*", "--where", "rank != 2", "-o",
                             str(out)])
    assert r.exit_code == 0, r.output
    csv = pd.read_csv(out)
    assert sorted(set(csv["rank"])) == [0, 1]
    spread = runner.invoke(main, ["ranks", str(d), "--view", "spread", "--format", "json"])
    assert [g["group"] for g in json.loads(spread.stdout)] == ["decode", "prefill"]
    for argv, message in ((["ranks", str(SMALL)], "give one dataset folder"),
                          (["ranks", str(d), "--by", "rank"], "rank views"),
                          (["ranks", f"{d}/nothing*"], "matches no file")):
        bad = runner.invoke(main, argv)
        assert bad.exit_code == 2, bad.output
        assert message in bad.output
        assert "Traceback" not in bad.output


def test_ranks_as_fast_as_each_other_have_no_straggler() -> None:
    """Issue 25: a group whose ranks took exactly as long (spread 1.000, excess 0 s) names no
    straggler, nor does a group that one rank ran; a slower rank is still named."""
    from roofprof.analysis.ranks import across_ranks

    per = pd.DataFrame({
        "g": ["same", "same", "alone", "slow", "slow", "wait", "wait"],
        "rank": [0, 1, 0, 0, 1, 0, 1],
        "time_ns": [100.0, 100.0, 50.0, 100.0, 130.0, 200.0, 200.0],
        "communication_ns": [10.0, 10.0, 0.0, 0.0, 0.0, 5.0, 5.0]})
    out = across_ranks(per).set_index("group")
    assert out.loc["same", "spread"] == 1.0
    assert pd.isna(out.loc["same", "straggler"])
    assert pd.isna(out.loc["same", "straggler_by"])
    assert pd.isna(out.loc["alone", "straggler"])
    assert pd.isna(out.loc["wait", "straggler"])  # equal waits: nobody waited for anybody
    assert out.loc["slow", "straggler"] == 1
    assert out.loc["slow", "straggler_excess_ns"] == 15.0
