"""roofprof join: timed launches (the real Kineto captures) take counters from the same launch or
from samples of their signature; provenance, coverage, unmatched and disagreeing samples.

Counters for the exact-truth tests are kernel tables made from the timing table's own launches
with known values (flop = 1000 x the launch's index), so a person can say which value each
joined row must carry; the cross-run test joins with a real ncu recording."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import roofprof
from roofprof.analysis.join import join
from roofprof.app.join import write_joined
from roofprof.cli import main
from roofprof.inputs.derive import build_table
from roofprof.inputs.timing import load_timing, to_raw
from roofprof.tables.kernels import Trace
from roofprof.tables.schema import MEASURED
from roofprof.tables.timing import TimingTrace
from tests.conftest import FIXTURES

EAGER = FIXTURES / "llama_kineto.json.gz"
GRAPH = FIXTURES / "llama_graph_kineto.json.gz"


def counters_of(timing: TimingTrace, rows: np.ndarray | None = None,
                flop: np.ndarray | None = None) -> Trace:
    """A kernel table of some of ``timing``'s launches (in launch order), flop_fp32 = ``flop``
    (default 1000 x the launch index), dram bytes 10 x that."""
    k = timing.kernels if rows is None else timing.kernels.iloc[rows]
    raw = to_raw(TimingTrace(k.reset_index(drop=True), timing.meta))
    table, _ = build_table(raw)
    table["phase"], table["category"], table["op"] = (k[c].to_numpy() for c in
                                                      ("phase", "category", "op"))
    values = (k["id"].to_numpy() * 1000.0) if flop is None else flop
    table["flop_fp32"] = table["flop"] = values
    table["dram_bytes"] = values * 10
    table["duration_ns"] = 1.0  # ncu's replayed duration: never the joined time
    meta = {**timing.meta, "sources": ["counters"], "formats": ["test"]}
    return Trace(kernels=table, meta=meta)


@pytest.fixture(scope="module")
def eager() -> TimingTrace:
    return load_timing(EAGER)


def test_a_full_recording_matches_every_launch_to_itself(eager: TimingTrace) -> None:
    joined = join(eager, counters_of(eager)).kernels
    assert (joined["counters_from"] == "launch").all()
    assert (joined["flop"] == eager.kernels["id"] * 1000.0).all()
    assert (joined["duration_ns"] == eager.kernels["duration_ns"]).all()  # timed, not replayed
    assert (joined["counters_samples"] == 1).all()


def test_one_sample_per_configuration_covers_every_launch(eager: TimingTrace) -> None:
    k = eager.kernels
    key = k[["kernel", "kernel_demangled", "grid", "block"]].astype("string").sum(axis=1)
    first = np.flatnonzero(~key.duplicated().to_numpy())  # --per-config 1, in launch order
    joined = join(eager, counters_of(eager, first))
    j = joined.kernels
    facts = joined.meta["join"]
    assert facts["coverage_by_time"]["none"] == 0
    # a sampled launch alone in its configuration and annotation path is the same launch; every
    # other launch takes its configuration's sample
    sampled = np.zeros(len(k), dtype=bool)
    sampled[first] = True
    alone = ~(key + k["range"].astype("string")).duplicated(keep=False).to_numpy()
    expected_from = np.where(sampled & alone, "launch", "signature")
    assert j["counters_from"].tolist() == expected_from.tolist()
    expected = pd.Series(k["id"].to_numpy() * 1000.0).groupby(key.to_numpy()).transform("first")
    assert (j["flop"].to_numpy() == expected.to_numpy()).all()
    # each phase's time is the timed run's: shares add up to the run, not to the samples
    by_phase = j.groupby("phase")["duration_ns"].sum()
    pd.testing.assert_series_equal(by_phase, k.groupby("phase")["duration_ns"].sum())
    assert joined.meta["sampling"]["kind"] == "run"


def test_samples_in_the_same_phase_are_preferred(eager: TimingTrace) -> None:
    k = eager.kernels
    gemm = k.index[(k["op"] == "lm_head")].to_numpy()  # 1 prefill + 3 decode launches
    prefill, decode = gemm[0], gemm[1]
    rows = np.asarray([prefill, decode])
    counters = counters_of(eager, rows, flop=np.asarray([1e6, 2e6]))
    j = join(eager, counters).kernels
    assert j.loc[gemm, "phase"].tolist() == ["prefill", "decode", "decode", "decode"]
    if k.loc[prefill, "grid"] == k.loc[decode, "grid"]:  # same configuration in both phases
        assert j.loc[gemm, "flop"].tolist() == [1e6, 2e6, 2e6, 2e6]
        assert set(j.loc[gemm[1:], "counters_key"]) == \
            {"kernel,template,grid,block,device,phase,op"}
    else:  # the prefill GEMM has its own configuration: each its own launch
        assert j.loc[gemm, "flop"].tolist()[:2] == [1e6, 2e6]


def test_unmatched_kernels_are_listed_with_their_time(eager: TimingTrace) -> None:
    k = eager.kernels
    norm = (k["kernel"] == "reduce_kernel").to_numpy()
    joined = join(eager, counters_of(eager, np.flatnonzero(~norm)))
    facts = joined.meta["join"]
    share = k.loc[norm, "duration_ns"].sum() / k["duration_ns"].sum()
    assert facts["coverage_by_time"]["none"] == pytest.approx(share)
    assert facts["launches"]["none"] == int(norm.sum())
    assert {u["kernel"] for u in facts["unmatched"]} == {"reduce_kernel"}
    assert sum(u["launches"] for u in facts["unmatched"]) == int(norm.sum())
    assert joined.kernels.loc[norm, "flop"].isna().all()  # null, never 0
    # views say why those launches' numbers are unknown
    from roofprof.analysis.reasons import UNJOINED
    from roofprof.analysis.roofline import kernel_numbers

    reason = kernel_numbers(joined)["reason"]
    assert (reason[norm] == UNJOINED).all()
    assert not (reason[~norm] == UNJOINED).any()


@pytest.mark.parametrize(("other", "reported"), [(1.10, True), (1.02, False)])
def test_samples_that_disagree_are_reported(eager: TimingTrace, other: float,
                                            reported: bool) -> None:
    k = eager.kernels
    decode = k[k["phase"] == "decode"]
    # k_proj and v_proj of a layer in one step: one GEMM configuration (GQA), two ranges
    two = np.asarray([decode.index[decode["range"].str.endswith(f".{p}_proj")][0]
                      for p in ("k", "v")])
    assert k.loc[two[0], "grid"] == k.loc[two[1], "grid"]
    counters = counters_of(eager, two, flop=np.asarray([1e6, 1e6 * other]))
    facts = join(eager, counters, spread=0.05).meta["join"]
    hits = [d for d in facts["disagreeing"] if d["kernel"] == k.loc[two[0], "kernel"]]
    assert bool(hits) == reported
    if reported:
        assert hits[0]["samples"] == 2
        assert hits[0]["spread"] == pytest.approx(0.10 / 1.05)


def test_chunked_parquet_is_the_in_memory_join(eager: TimingTrace, tmp_path: Path) -> None:
    counters = counters_of(eager, np.arange(0, len(eager), 3))
    facts = write_joined(eager, counters, tmp_path / "j.parquet", chunk_rows=50)
    back = roofprof.load(tmp_path / "j.parquet")
    mem = join(eager, counters)
    assert {key: mem.meta["join"][key] for key in facts} == facts

    def values(s: pd.Series) -> list[object]:
        return [None if pd.isna(v) else v for v in s]

    for col in ("kernel", "range", "phase", "op", "duration_ns", "flop", "counters_from",
                "counters_key", "counters_samples", "start_ns"):
        assert values(back.kernels[col]) == values(mem.kernels[col]), col
    assert back.kernels["nvtx"].tolist() == eager.kernels["nvtx"].tolist()
    assert back.meta["join"]["coverage_by_time"] == facts["coverage_by_time"]


def test_join_with_a_real_recording_of_another_run() -> None:
    timing = load_timing(EAGER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counters = roofprof.load(FIXTURES / "llama_small.ncu-rep")
    joined = join(timing, counters)
    facts = joined.meta["join"]
    assert sum(facts["coverage_by_time"].values()) == pytest.approx(1.0)
    assert facts["launches"]["launch"] == 0  # another model size: never the same launches
    j = joined.kernels
    assert (j["duration_ns"] == timing.kernels["duration_ns"]).all()
    matched = j[j["counters_from"] == "signature"]
    assert (matched["counters_samples"] >= 1).all()
    assert matched["peak_dram_bytes_per_s"].notna().all()


def test_cli_join_prints_coverage_and_writes_a_trace_every_command_reads(
        tmp_path: Path) -> None:
    out = tmp_path / "joined.parquet"
    result = CliRunner().invoke(main, ["join", str(EAGER), str(FIXTURES / "llama_small.ncu-rep"),
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "counters by time: launch 0.0% (0 launches), signature" in result.output
    assert "unmatched kernels" in result.output
    summary = CliRunner().invoke(main, ["summary", str(out), "--by", "phase"])
    assert summary.exit_code == 0, summary.output
    assert "decode" in summary.output


def test_join_reads_a_timing_table_without_the_range_times_it_never_uses(
        eager: TimingTrace, tmp_path: Path) -> None:
    """`roofprof join` of a trace's Parquet leaves out its range instances' times (lists that
    took 1.4 GB at 10M launches): the joined table is the one made from the whole table."""
    from roofprof.analysis.join import UNUSED_TIMING
    from roofprof.tables.kernels import write_parquet
    from roofprof.tables.timing import write

    write(eager, tmp_path / "t.parquet")
    lean = load_timing(tmp_path / "t.parquet", skip=UNUSED_TIMING).kernels
    full = load_timing(tmp_path / "t.parquet").kernels
    assert lean["nvtx_start_ns"].isna().all()
    assert lean["nvtx_end_ns"].isna().all()
    assert full["nvtx_start_ns"].map(len).gt(0).any()
    rest = [c for c in full.columns if c not in UNUSED_TIMING]
    pd.testing.assert_frame_equal(lean[rest], full[rest])
    counters = counters_of(eager, np.arange(0, len(eager), 3))
    write_parquet(counters, tmp_path / "c.parquet")
    done = CliRunner().invoke(main, ["join", str(tmp_path / "t.parquet"),
                                     str(tmp_path / "c.parquet"), "-o",
                                     str(tmp_path / "j.parquet")])
    assert done.exit_code == 0, done.output
    write_joined(eager, counters, tmp_path / "whole.parquet")
    ours, whole = (roofprof.load(tmp_path / f).kernels for f in ("j.parquet", "whole.parquet"))
    pd.testing.assert_frame_equal(ours.drop(columns="source"), whole.drop(columns="source"))


@pytest.mark.parametrize("capture", [EAGER, GRAPH])
def test_a_timing_parquet_joins_in_chunks_to_the_same_table(capture: Path,
                                                            tmp_path: Path) -> None:
    """`write_joined_file` reads the match's columns whole and the rest in chunks (here of at
    most 50 rows, by row groups of 70): the joined file and its facts are those of the
    in-memory join."""
    import pyarrow.parquet as pq

    from roofprof.app.join import write_joined_file
    from roofprof.tables.timing import write

    timing = load_timing(capture)
    write(timing, tmp_path / "t.parquet")
    # row groups of 70 rows, chunks of 50: chunks cut inside and across row groups
    pq.write_table(pq.read_table(tmp_path / "t.parquet"), tmp_path / "t.parquet",
                   row_group_size=70)
    counters = counters_of(timing, np.arange(0, len(timing), 3))
    whole = write_joined(timing, counters, tmp_path / "whole.parquet")
    chunked = write_joined_file(tmp_path / "t.parquet", counters, tmp_path / "chunked.parquet",
                                chunk_rows=50)
    assert chunked == whole
    ours, theirs = (roofprof.load(tmp_path / f) for f in ("chunked.parquet", "whole.parquet"))
    pd.testing.assert_frame_equal(ours.kernels.drop(columns="source"),
                                  theirs.kernels.drop(columns="source"))
    assert ours.meta["join"] == theirs.meta["join"]


def test_an_empty_timing_table_is_one_clear_error(eager: TimingTrace, tmp_path: Path) -> None:
    from roofprof.tables.timing import write

    write(TimingTrace(kernels=eager.kernels.iloc[:0], meta=eager.meta), tmp_path / "t.parquet")
    done = CliRunner().invoke(main, ["join", str(tmp_path / "t.parquet"),
                                     str(FIXTURES / "llama_full_record.parquet"), "-o",
                                     str(tmp_path / "j.parquet")])
    assert done.exit_code == 2, done.output
    assert done.output.strip().endswith("no timed kernel launches: nothing to join")
    assert len(done.output.strip().splitlines()) == 1
    assert not (tmp_path / "j.parquet").exists()


def test_cli_join_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["join", str(FIXTURES / "llama_small.ncu-rep"),
                                       str(EAGER), "-o", str(tmp_path / "j.parquet")])
    assert result.exit_code == 2
    assert "holds counters, not a timing" in result.output
    result = CliRunner().invoke(main, ["join", str(EAGER), str(EAGER), "-o",
                                       str(tmp_path / "j.csv")])
    assert result.exit_code == 2
    assert "must be a .parquet file" in result.output


# ------------------------------------------------------------------------ invariants


def _tables(draw: st.DrawFn) -> tuple[TimingTrace, Trace]:
    n = draw(st.integers(1, 40))
    pick = st.integers(0, 2)
    rows = [(draw(pick), draw(pick), draw(pick), draw(st.sampled_from(["prefill", "decode"])))
            for _ in range(n)]
    timing = pd.DataFrame({
        "id": np.arange(n), "kernel": [f"k{r[0]}" for r in rows],
        "kernel_demangled": [f"void k{r[0]}<1>(int)" for r in rows],
        "grid": [f"({r[1] + 1}, 1, 1)" for r in rows], "block": ["(128, 1, 1)"] * n,
        "device": [0] * n, "range": [f"{r[3]}/m{r[2]}" for r in rows],
        "nvtx": [[r[3], f"m{r[2]}"] for r in rows], "phase": [r[3] for r in rows],
        "op": [None] * n, "duration_ns": np.arange(1, n + 1, dtype=float) * 10,
        "start_ns": np.arange(n) * 100,
    })
    sampled = sorted(draw(st.sets(st.integers(0, n - 1), max_size=n)))
    c = timing.iloc[sampled].reset_index(drop=True).copy()
    c["id"] = np.arange(len(c))
    for col in MEASURED:
        c[col] = np.nan
    c["flop"] = [float(draw(st.integers(1, 5))) * 100 for _ in sampled]
    c["dram_bytes"] = c["flop"] * 2
    return (TimingTrace(kernels=timing, meta={"sources": ["t"]}),
            Trace(kernels=c, meta={"sources": ["c"], "formats": ["test"]}))


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_every_row_takes_counters_from_where_it_says(data: st.DataObject) -> None:
    timing, counters = _tables(data.draw)
    if not len(counters.kernels):
        return
    joined = join(timing, counters)
    j, t, c = joined.kernels, timing.kernels, counters.kernels
    assert (j["duration_ns"] == t["duration_ns"]).all()
    assert sum(joined.meta["join"]["coverage_by_time"].values()) == pytest.approx(1.0)
    sig = ["kernel", "grid", "block", "device"]
    for i, row in j.iterrows():
        same_sig = (c[sig] == t.loc[i, sig]).all(axis=1)
        if row["counters_from"] == "none":
            assert not same_sig.any()
            assert np.isnan(row["flop"])
            continue
        key = str(row["counters_key"]).split(",")
        key = [k for k in key if k != "template"]  # one template per kernel here
        want = t.loc[i, key].astype(object).fillna("<null>")
        match = (c[key].astype(object).fillna("<null>") == want).all(axis=1)
        assert row["counters_samples"] == (1 if row["counters_from"] == "launch"
                                           else match.sum())
        if row["counters_from"] == "launch":
            assert row["flop"] in set(c.loc[match, "flop"])
        else:
            assert row["flop"] == pytest.approx(c.loc[match, "flop"].mean())


def test_undemangled_names_join_on_the_rest_of_the_signature(eager: TimingTrace) -> None:
    counters = counters_of(eager)
    mangled = eager.kernels.copy()
    # a tracer without c++filt
    mangled["kernel_demangled"] = "_Z" + mangled["kernel"].astype("string")
    joined = join(TimingTrace(mangled, eager.meta), counters)
    j = joined.kernels
    assert (j["counters_from"] == "launch").all()
    assert (j["flop"] == eager.kernels["id"] * 1000.0).all()
    assert set(j["counters_key"]) == {"kernel,grid,block,device,range"}
    assert joined.meta["join"]["template_instances"] is False
    from roofprof.views.join import format_report

    assert "template instances unknown" in format_report(joined.meta["join"])


def test_another_template_instance_never_lends_its_counters(eager: TimingTrace) -> None:
    """ncu's --per-config counts launch configurations by function base name: it profiles the
    first vectorized_elementwise_kernel of a grid and block for every functor. The other
    functors are other kernels: their counters stay null and the report says why."""
    k = eager.kernels
    config = k[["kernel", "grid", "block"]].astype("string").sum(axis=1)
    first = np.flatnonzero(~config.duplicated().to_numpy())  # as ncu samples
    joined = join(eager, counters_of(eager, first))
    j, facts = joined.kernels, joined.meta["join"]
    instance = k[["kernel_demangled", "grid", "block"]].astype("string").sum(axis=1)
    profiled = instance.isin(set(instance.iloc[first])).to_numpy()
    assert (~profiled).sum() > 0  # the capture has such functors
    assert (j.loc[~profiled, "counters_from"] == "none").all()
    assert j.loc[~profiled, "flop"].isna().all()
    assert (j.loc[profiled, "counters_from"] != "none").all()
    assert facts["unmatched_other_instance"]["launches"] == int((~profiled).sum())
    assert all(u["other_instance_profiled"] for u in facts["unmatched"])
    from roofprof.views.join import format_report

    text = format_report(facts)
    assert "another template instance was profiled" in text
    assert "only another template instance of their kernel was profiled" in text
    assert "--kernel-name-base mangled" in text


def test_counters_of_another_gpu_are_refused(tmp_path: Path) -> None:
    """The Kineto capture ran on an H100; the tensor-parallel recording on H200s."""
    from roofprof.errors import InputError

    timing = load_timing(FIXTURES / "llama_kineto.json.gz")
    other = roofprof.load(FIXTURES / "tp2_record.parquet")
    with pytest.raises(InputError, match=r"ran on NVIDIA H100 80GB HBM3.*profiled on NVIDIA "
                                         r"H200: one GPU's counters cannot stand"):
        join(timing, other)
    done = CliRunner().invoke(main, ["join", str(FIXTURES / "llama_kineto.json.gz"),
                                     str(FIXTURES / "tp2_record.parquet"), "-o",
                                     str(tmp_path / "j.parquet")])
    assert done.exit_code != 0
    assert "cannot stand for another's launches" in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "j.parquet").exists()
