"""Timing sources -> the timing table: Kineto traces (real H100 captures), a real Nsight Systems
SQLite export, the nsys schema built from the Kineto captures, malformed inputs."""

from __future__ import annotations

import gzip
import json
import sqlite3
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import roofprof
from parsers.kernel_names import short_name, template_key
from parsers.stacks import stacks_at
from roofprof.cli import main
from roofprof.errors import InputError, RoofprofWarning
from roofprof.inputs.timing import load_timing
from roofprof.tables.timing import COLUMNS, read, write
from tests._nsys_schema import build_from_kineto
from tests.conftest import FIXTURES, load_fixture

EAGER = FIXTURES / "llama_kineto.json.gz"
GRAPH = FIXTURES / "llama_graph_kineto.json.gz"
NSYS = FIXTURES / "llama_graph_nsys.sqlite"
#: the same program under nsys' default --cuda-graph-trace=graph: one record per replay
NSYS_GRAPH_MODE = FIXTURES / "llama_graph_nsys_graphmode.sqlite"
LAYERS, STEPS = 2, 3  # the captures: 2-layer Llama, 1 prefill + 3 decode steps


def _events(path: Path) -> list[dict[str, object]]:
    with gzip.open(path) as fh:
        return [e for e in json.load(fh)["traceEvents"] if e.get("cat") == "kernel"]


@pytest.fixture(scope="module")
def eager() -> pd.DataFrame:
    return load_timing(EAGER).kernels


@pytest.fixture(scope="module")
def graph() -> pd.DataFrame:
    return load_timing(GRAPH).kernels


def test_every_kernel_event_is_one_row_with_its_time(eager: pd.DataFrame) -> None:
    events = _events(EAGER)
    assert list(eager.columns) == list(COLUMNS)
    assert len(eager) == len(events) == 413
    total_us = sum(float(e["dur"]) for e in events)  # type: ignore[arg-type]
    assert eager["duration_ns"].sum() == pytest.approx(total_us * 1000, abs=len(events))
    assert (eager["end_ns"] - eager["start_ns"] == eager["duration_ns"]).all()
    assert eager["start_ns"].is_monotonic_increasing
    assert set(eager["device_name"]) == {"NVIDIA H100 80GB HBM3"}
    assert set(eager["cc"]) == {"9.0"}
    assert set(eager["nvtx_source"]) == {"launch"}
    assert eager["process_id"].notna().all()
    ordered = sorted(events, key=lambda e: float(e["ts"]))  # type: ignore[arg-type]
    assert eager["grid"].tolist() == ["({}, {}, {})".format(*e["args"]["grid"])  # type: ignore[index]
                                      for e in ordered]


def test_phases_and_ops_come_from_record_function_annotations(eager: pd.DataFrame) -> None:
    by_phase = eager.groupby("phase").size()
    # decode steps launch the same kernels; the prefill launches one per step's kernel too
    assert by_phase["decode"] == STEPS * by_phase["prefill"]
    ops = eager.groupby(["phase", "op"]).size()
    assert ops["prefill", "qkv_proj"] == LAYERS * 3  # q, k and v projections per layer
    assert ops["decode", "qkv_proj"] == STEPS * LAYERS * 3
    assert ops["decode", "lm_head"] == STEPS
    assert ops["decode", "down_proj"] == STEPS * LAYERS
    assert (eager.loc[eager["op"] == "qkv_proj", "category"] == "gemm").all()
    q = eager[eager["range"].str.endswith("model.layers.0.self_attn.q_proj")]
    assert q["nvtx"].iloc[0] == ["prefill", "model", "model.layers.0", "model.layers.0.self_attn",
                                 "model.layers.0.self_attn.q_proj"]


def test_range_times_are_the_annotation_instances(eager: pd.DataFrame) -> None:
    decode = eager[eager["phase"] == "decode"]
    steps = {s[0] for s in decode["nvtx_start_ns"]}
    assert len(steps) == STEPS
    for starts, ends, s, e in zip(decode["nvtx_start_ns"], decode["nvtx_end_ns"],
                                  decode["start_ns"], decode["end_ns"], strict=True):
        assert len(starts) == len(ends)
        assert starts[0] <= s <= e <= ends[0]  # each step synchronises before it ends


def test_graph_replays_are_attributed_to_decode_with_the_ops_of_their_capture(
        graph: pd.DataFrame) -> None:
    replay = graph[graph["launch_api"] == "cudaGraphLaunch"]
    assert len(replay) == STEPS * 125  # one decode step is 125 kernels, replayed 3 times
    assert set(replay["nvtx_source"]) == {"launch+capture"}
    assert set(replay["phase"]) == {"decode"}
    assert replay["range"].str.startswith("decode/graph_capture/model").mean() > 0.9
    ops = replay.groupby("op").size()
    assert ops["qkv_proj"] == STEPS * LAYERS * 3
    assert ops["lm_head"] == STEPS
    assert ops["down_proj"] == STEPS * LAYERS
    # capture levels did not run at the replay: their instance times are unknown (-1)
    assert all(s[0] >= 0 for s in replay["nvtx_start_ns"])
    assert all(s[-1] == -1 for s in replay["nvtx_start_ns"] if len(s) > 1)
    # the replay's kernels run in capture order: the GEMMs sit where the capture launched them
    steps = [part.sort_values("start_ns")["kernel"].tolist()
             for _, part in replay.groupby("correlation_id")]
    assert steps[0] == steps[1] == steps[2]


def test_a_real_nsys_export_of_the_graph_run_attributes_replays_like_the_tracer() -> None:
    """`nsys profile -t cuda,nvtx --cuda-graph-trace=node` of the graph example, exported to
    SQLite (fixtures/MANIFEST.md); the tracer's own capture of the same program is beside it."""
    from roofprof.capture import tracer

    k = load_timing(NSYS).kernels
    replay = k[k["graph_node_id"].notna() & k["launch_api"].str.contains("GraphLaunch")]
    runs = replay[replay["phase"] == "decode"]
    assert len(runs) == STEPS * 125
    assert set(runs["nvtx_source"]) == {"launch+capture"}
    ops = runs.groupby("op").size()
    assert ops["qkv_proj"] == STEPS * LAYERS * 3
    assert ops["lm_head"] == STEPS
    assert (k["phase"] == "prefill").sum() == 113
    assert k["grid"].notna().all()
    assert (k["end_ns"] > k["start_ns"]).all()
    # the same program under roofprof trace: the same launches, phases and ops
    records, _ = tracer.read_parts(FIXTURES / "llama_graph_trace_parts")
    ours = tracer.from_parts(records, source="t.parquet").kernels
    assert len(ours) == len(k)
    for by in (["phase"], ["phase", "op"], ["kernel", "grid", "block"]):
        a = k.groupby(by, dropna=False).size().sort_index()
        b = ours.groupby(by, dropna=False).size().sort_index()
        pd.testing.assert_series_equal(a, b, check_index_type=False, check_names=False)


def test_a_real_nsys_export_in_graph_mode_times_each_replay_where_node_mode_saw_it() -> None:
    """The same program captured in nsys' default --cuda-graph-trace=graph mode (fixtures/
    MANIFEST.md): each of its 4 graph replays is one row, at the very launch (correlation id)
    where the node-mode capture saw that replay's 125 kernels, in the same phase, and with a span
    near the node-mode one; every other kernel is the same as in the node-mode capture."""
    graph_mode = load_timing(NSYS_GRAPH_MODE).kernels
    node_mode = load_timing(NSYS).kernels
    whole = graph_mode[graph_mode["duration_from"] == "replay"].set_index("correlation_id")
    nodes = node_mode[node_mode["graph_node_id"].notna()].groupby("correlation_id").agg(
        start=("start_ns", "min"), end=("end_ns", "max"), phase=("phase", "first"),
        kernels=("kernel", "size"))
    assert sorted(whole.index) == sorted(nodes.index)
    assert set(nodes["kernels"]) == {125}
    assert (whole["phase"] == nodes.loc[whole.index, "phase"]).all()
    assert (whole["phase"] == "decode").sum() == STEPS
    assert whole["grid"].isna().all()
    assert whole["block"].isna().all()
    # two runs of one program: recording every node made each replay about 8% longer
    span = nodes["end"] - nodes["start"]
    ratio = whole["duration_ns"] / span.loc[whole.index]
    assert ratio.between(0.85, 1.0).all(), ratio
    # the kernels launched outside graphs are the same launches in both captures
    def launches(k: pd.DataFrame) -> Counter[tuple[str, ...]]:
        return Counter(zip(*(k[c].astype(str) for c in ("kernel", "grid", "block", "phase")),
                           strict=True))

    eager = launches(graph_mode[graph_mode["duration_from"] == "launch"])
    assert eager == launches(node_mode[node_mode["graph_node_id"].isna()])
    assert eager.total() == len(node_mode) - 4 * 125


def test_an_nsys_ranges_without_an_end_nccls_enclose_nothing_the_programs_everything(
        tmp_path: Path) -> None:
    """The real node-mode export with two ranges that were never popped added before its first
    launch call: the program's own ("serve") encloses every later launch of its thread, NCCL's
    ncclCommInitRankConfig (an API call's range, whose end CUPTI can lose on 2 GPUs) encloses
    none, and loading the export says it was left out."""
    import shutil

    import roofprof

    db_path = tmp_path / "unended.sqlite"
    shutil.copy(NSYS, db_path)
    with sqlite3.connect(db_path) as db:
        (tid,) = db.execute("SELECT globalTid FROM NVTX_EVENTS WHERE eventType = 59 "
                            "ORDER BY start LIMIT 1").fetchone()
        (first,) = db.execute("SELECT MIN(start) FROM CUPTI_ACTIVITY_KIND_RUNTIME").fetchone()
        for name, start in (("serve", first - 2000), ("ncclCommInitRankConfig", first - 1000)):
            db.execute("INSERT INTO NVTX_EVENTS (start, end, eventType, globalTid, text) "
                       "VALUES (?, NULL, 59, ?, ?)", (start, tid, name))
    t = load_timing(db_path)
    k = t.kernels
    launched = k[k["nvtx_source"] != "none"]
    assert all(s[:1] == ["serve"] for s in launched["nvtx"])
    assert not any("ncclCommInitRankConfig" in s for s in k["nvtx"])
    assert t.meta["timing"]["nvtx_unended_library_ranges"] == {"ncclCommInitRankConfig": 1}
    before = load_timing(NSYS).kernels  # the rest of each path is unchanged
    assert [s[1:] for s in launched["nvtx"]] == \
        list(before.loc[before["nvtx_source"] != "none", "nvtx"])
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        roofprof.load(db_path)
    assert any(str(w.message).startswith("1 NCCL API range(s) have no end in the trace "
                                         "(ncclCommInitRankConfig x1)") for w in said)
    # the program's own range is kept open, and the user is told so
    assert any("1 NVTX range(s) have no end in the trace (serve x1): taken as open to the end"
               in str(w.message) for w in said), [str(w.message) for w in said]


def test_short_names_are_ncus_function_names() -> None:
    k = load_fixture("llama_small.ncu-rep").kernels
    pairs = k[["kernel", "kernel_demangled"]].drop_duplicates()
    for base, demangled in pairs.itertuples(index=False):
        assert short_name(demangled) == base, demangled
    assert short_name("_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_11FillFunctorIfEE"
                      "St5arrayIPcLm1EEEEviT0_T1_") == "vectorized_elementwise_kernel"
    assert short_name("_ZN7cutlass7Kernel2I42cutlass_80_simt_sgemm_128x32_8x5_nn_align1EEvNT_6"
                      "ParamsE") == "Kernel2"
    assert short_name("_Z10vector_addPiS_S_i") == "vector_add"
    assert short_name("nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT") == \
        "nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT"


@st.composite
def _nested(draw: st.DrawFn) -> list[tuple[int, int, str]]:
    """Properly nested intervals (a push/pop trace) on one thread."""
    out: list[tuple[int, int, str]] = []
    t = 0

    def block(depth: int) -> None:
        nonlocal t
        for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
            t += draw(st.integers(0, 5))
            start = t
            block(depth + 1)
            t += draw(st.integers(0, 5))
            out.append((start, t, f"r{len(out)}"))

    block(0)
    return out


@settings(max_examples=60, deadline=None)
@given(_nested(), st.lists(st.integers(-2, 80), max_size=30))
def test_stacks_are_the_ranges_containing_each_launch(ranges: list[tuple[int, int, str]],
                                                      when: list[int]) -> None:
    df = pd.DataFrame({"thread": [7] * len(ranges), "name": [r[2] for r in ranges],
                       "start_ns": [r[0] for r in ranges], "end_ns": [r[1] for r in ranges]})
    got = stacks_at(df, np.full(len(when), 7), np.asarray(when, dtype=np.int64))
    for w, (names, _, _) in zip(when, got, strict=True):
        inside = sorted((r for r in ranges if r[0] <= w <= r[1]), key=lambda r: (r[0], -r[1]))
        assert list(names) == [r[2] for r in inside]
    other = stacks_at(df, np.full(len(when), 8), np.asarray(when, dtype=np.int64))
    assert all(s[0] == () for s in other)  # another thread's ranges never apply


# ------------------------------------------------------------------ Nsight Systems (schema)


def test_an_nsys_export_in_its_default_graph_mode_keeps_each_replays_time(tmp_path: Path
                                                                          ) -> None:
    """nsys' default --cuda-graph-trace=graph writes a replay as one CUPTI_ACTIVITY_KIND_GRAPH_
    TRACE row, not kernels. The real node-mode export with its run graph's replays turned into
    such rows (span and launch correlation id, as nsys writes them): each replay is one row with
    its measured span, in the decode phase of its launch, and says its kernels are unknown."""
    import shutil
    import sqlite3

    db_path = tmp_path / "graph_mode.sqlite"
    shutil.copy(NSYS, db_path)
    before = load_timing(NSYS).kernels
    replay = before[before["graph_node_id"].notna() & (before["phase"] == "decode")]
    corr = sorted(set(replay["correlation_id"].astype(int)))
    with sqlite3.connect(db_path) as db:
        marks = ",".join("?" * len(corr))
        db.execute("CREATE TABLE CUPTI_ACTIVITY_KIND_GRAPH_TRACE (start INTEGER, end INTEGER, "
                   "deviceId INTEGER, contextId INTEGER, streamId INTEGER, correlationId "
                   "INTEGER, globalPid INTEGER, graphId INTEGER, graphExecId INTEGER)")
        db.execute("INSERT INTO CUPTI_ACTIVITY_KIND_GRAPH_TRACE SELECT MIN(start), MAX(end), "
                   "deviceId, contextId, streamId, correlationId, globalPid, 7, 7 FROM "
                   f"CUPTI_ACTIVITY_KIND_KERNEL WHERE correlationId IN ({marks}) "
                   "GROUP BY correlationId", corr)
        db.execute(f"DELETE FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE correlationId IN ({marks})",
                   corr)
    t = load_timing(db_path)
    k = t.kernels
    whole = k[k["duration_from"] == "replay"]
    assert len(whole) == STEPS
    assert set(whole["kernel"]) == {"[CUDA graph 7 replay: nodes not recorded]"}
    assert set(whole["phase"]) == {"decode"}
    assert whole["grid"].isna().all()
    assert set(whole["graph_id"]) == {7}
    spans = replay.groupby("correlation_id").agg(s=("start_ns", "min"), e=("end_ns", "max"))
    assert sorted(whole["duration_ns"]) == sorted(spans["e"] - spans["s"])
    assert len(k) == len(before) - len(replay) + STEPS
    assert t.meta["timing"]["graph_replays"]["whole"] == STEPS
    assert set(k.loc[k["duration_from"] == "launch", "kernel"]) == \
        set(before["kernel"]) - {None}
    # every view that loads it says so
    import roofprof
    from roofprof.errors import RoofprofWarning

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        roofprof.load(db_path)
    assert any(w.category is RoofprofWarning and str(w.message).startswith(
        f"{STEPS} CUDA graph replays were timed as a whole") for w in said)
    # joined with a recording, the report says why the replays have no counters
    from roofprof.analysis.join import join
    from roofprof.views.join import format_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counters = roofprof.load(FIXTURES / "llama_full_record.parquet")
    text = format_report(join(t, counters).meta["join"])
    assert f"  [CUDA graph 7 replay: nodes not recorded]: {STEPS} launches, " in text
    assert "(CUDA graph replays timed as a whole: their kernels were not recorded;" in text



@pytest.mark.parametrize("text_ids", [False, True])
@pytest.mark.parametrize("capture", [EAGER, GRAPH])
def test_nsys_schema_reads_as_the_same_table(tmp_path: Path, capture: Path,
                                             text_ids: bool) -> None:
    """SCHEMA TEST, NOT A CAPTURE: a file in nsys' documented layout made from the Kineto
    capture's own kernels, launch calls and annotations reads as the same timing table."""
    db = build_from_kineto(capture, tmp_path / "t.sqlite", text_ids=text_ids)
    ours = load_timing(db).kernels
    kineto = load_timing(capture).kernels
    for col in ("kernel", "kernel_demangled", "grid", "block", "device", "stream", "start_ns",
                "end_ns", "range", "nvtx_source", "phase", "category", "op", "process_id",
                "thread_id", "device_name", "cc", "launch_api", "correlation_id"):
        pd.testing.assert_series_equal(ours[col], kineto[col], check_names=False)
    assert (ours["graph_node_id"].notna() == (ours["launch_api"] == "cudaGraphLaunch")).all()


def test_nsys_schema_loads_as_a_kernel_table(tmp_path: Path) -> None:
    db = build_from_kineto(EAGER, tmp_path / "t.sqlite")
    with pytest.warns(RoofprofWarning, match="timing trace"):
        trace = roofprof.load(db)
    assert trace.meta["formats"] == ["nsys-sqlite"]
    assert trace.kernels["duration_ns"].sum() == load_timing(EAGER).kernels["duration_ns"].sum()
    assert trace.kernels["flop"].isna().all()  # no counters: null, never 0


def test_kineto_loads_as_a_kernel_table_every_command_reads() -> None:
    with pytest.warns(RoofprofWarning, match="no counters"):
        trace = roofprof.load(GRAPH)
    assert len(trace) == 748
    assert trace.kernels["dram_bytes"].isna().all()
    assert trace.meta["sampling"]["kind"] == "run"
    result = CliRunner().invoke(main, ["summary", str(GRAPH), "--by", "phase"])
    assert result.exit_code == 0, result.output
    assert "decode       377" in result.output


def test_timing_parquet_round_trip(tmp_path: Path) -> None:
    trace = load_timing(GRAPH)
    write(trace, tmp_path / "t.parquet")
    back = read(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(back.kernels, trace.kernels)
    assert load_timing(tmp_path / "t.parquet").meta["format"] == "kineto"
    with pytest.warns(RoofprofWarning, match="t.parquet: a timing trace .every launch timed"):
        loaded = roofprof.load(tmp_path / "t.parquet").kernels  # as a kernel table, timed
    assert loaded["duration_ns"].sum() == trace.kernels["duration_ns"].sum()
    assert (loaded["phase"] == trace.kernels["phase"]).all()


# --------------------------------------------------------------------------- malformed inputs


def _cli_error(path: Path) -> str:
    result = CliRunner().invoke(main, ["summary", str(path)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln]
    assert len(lines) == 1
    assert lines[0].startswith("roofprof: error: ")
    return lines[0]


def test_truncated_gzip_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "cut.json.gz"
    bad.write_bytes(EAGER.read_bytes()[:20_000])
    with pytest.raises(InputError, match="truncated or damaged"):
        load_timing(bad)
    assert "gzip stream is truncated" in _cli_error(bad)


def test_truncated_json_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "cut.json"
    bad.write_bytes(gzip.decompress(EAGER.read_bytes())[:300_000])
    with pytest.raises(InputError, match="not valid JSON at line"):
        load_timing(bad)
    assert "truncated or damaged" in _cli_error(bad)


@pytest.mark.parametrize("doc", [{"traceEvents": {"a": 1}, "deviceProperties": []},
                                 {"deviceProperties": [], "schemaVersion": 1}])
def test_wrong_json_shape_is_one_clear_error(tmp_path: Path, doc: object) -> None:
    bad = tmp_path / "odd.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="without a traceEvents list"):
        load_timing(bad)


def test_kineto_without_kernels_is_one_clear_error(tmp_path: Path) -> None:
    with gzip.open(EAGER) as fh:
        data = json.load(fh)
    data["traceEvents"] = [e for e in data["traceEvents"] if e.get("cat") != "kernel"]
    bad = tmp_path / "cpu_only.json"
    bad.write_text(json.dumps(data))
    assert "without GPU kernel events" in _cli_error(bad)


def test_sqlite_without_the_kernel_table_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "other.sqlite"
    with sqlite3.connect(bad) as db:
        db.execute("CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT NOT NULL)")
    with pytest.raises(InputError, match="without the CUPTI_ACTIVITY_KIND_KERNEL table"):
        load_timing(bad)
    assert "nsys profile -t cuda,nvtx" in _cli_error(bad)


def test_a_graph_table_without_its_times_is_one_clear_error(tmp_path: Path) -> None:
    bad = build_from_kineto(EAGER, tmp_path / "t.sqlite")
    with sqlite3.connect(bad) as db:
        db.execute("CREATE TABLE CUPTI_ACTIVITY_KIND_GRAPH_TRACE (graphId INTEGER)")
    assert "CUPTI_ACTIVITY_KIND_GRAPH_TRACE lacks correlationId, end, start" in _cli_error(bad)


def test_damaged_sqlite_is_one_clear_error(tmp_path: Path) -> None:
    good = build_from_kineto(EAGER, tmp_path / "t.sqlite")
    bad = tmp_path / "damaged.sqlite"
    bad.write_bytes(good.read_bytes()[:100] + b"\x00garbage" * 2000)
    assert "not a readable SQLite database" in _cli_error(bad)


def test_nsys_rep_without_nsys_says_how_to_export(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    rep = tmp_path / "run.nsys-rep"
    rep.write_bytes(b"\x00nsys report")
    from parsers.nvidia_tools import find_nsys

    if find_nsys() is not None:
        pytest.skip("nsys is installed here")
    assert "nsys export --type sqlite" in _cli_error(rep)


def test_counters_are_not_a_timing_source() -> None:
    with pytest.raises(InputError, match="holds counters, not a timing"):
        load_timing(FIXTURES / "llama_small.ncu-rep")


def test_nsys_processes_with_the_same_correlation_ids_keep_their_own_ranges(
        tmp_path: Path) -> None:
    """Correlation ids are per process: a second process (same ids, other NVTX names) must not
    take the first's ranges (schema test)."""
    db_path = build_from_kineto(EAGER, tmp_path / "two.sqlite")
    shift = 1 << 24
    with sqlite3.connect(db_path) as db:
        for table, col in (("CUPTI_ACTIVITY_KIND_KERNEL", "globalPid"),
                           ("CUPTI_ACTIVITY_KIND_RUNTIME", "globalTid"),
                           ("NVTX_EVENTS", "globalTid")):
            n = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            db.execute(f"INSERT INTO {table} SELECT * FROM {table}")
            db.execute(f"UPDATE {table} SET {col} = {col} + {shift} WHERE rowid > {n}")
        db.execute(f"UPDATE NVTX_EVENTS SET text = 'p2_' || text WHERE globalTid >= "
                   f"(SELECT MIN(globalTid) FROM NVTX_EVENTS) + {shift}")
    k = load_timing(db_path).kernels
    assert len(k) == 2 * 413
    for _, part in k.groupby("process_id"):
        names = {n for path in part["nvtx"] for n in path}
        assert names
        prefixed = {n.startswith("p2_") for n in names}
        assert len(prefixed) == 1  # all of one process's, none of the other's
    outer = k["nvtx"].map(lambda path: path[0] if path else "")
    assert outer.groupby(k["process_id"]).apply(lambda o: o.str.endswith("decode").sum()
                                                ).tolist() == [306, 306]


def test_template_keys_of_ncu_and_the_demangler_agree_on_bools() -> None:
    """ncu (and nsys) write a bool template argument as a cast, c++filt as a word; one key."""
    ncu = ("void cublasLt::splitKreduce_kernel<(int)32, (int)16, int, float, __half, float, "
           "__half, (bool)0, __half, __half, __half, (bool)1, (bool)0, (bool)0>(cublasLt::"
           "cublasSplitKParams<T6>, const T4 *, const T10 *, T9 *, T5 *, const T6 *)")
    cxxfilt = ("void cublasLt::splitKreduce_kernel<32, 16, int, float, __half, float, __half, "
               "false, __half, __half, __half, true, false, false>(cublasLt::cublasSplitKParams"
               "<float>, __half const*, __half const*, __half*, float*, float const*)")
    other = cxxfilt.replace("true, false, false>", "false, false, false>")
    assert template_key(ncu) == template_key(cxxfilt)
    assert template_key(other) != template_key(ncu)
    assert template_key("f<(bool)10>(int)") == "f<10>()"  # a cast of another number stays


def test_every_instance_ncu_profiled_has_its_twin_in_the_trace_of_the_same_program() -> None:
    """The 2-layer Llama's full recording (ncu's spelling) and its trace (c++filt's)."""
    traced = load_timing(FIXTURES / "llama_sample.timing.parquet").kernels
    recorded = roofprof.load(FIXTURES / "llama_full_record.parquet").kernels
    keys = {template_key(n) for n in traced["kernel_demangled"].dropna().unique()}
    spelled = recorded["kernel_demangled"].dropna().unique()
    assert len(spelled) == 35
    assert all(template_key(n) in keys for n in spelled)
