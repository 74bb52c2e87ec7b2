"""roofprof trace on the CPU: the timing table built from raw CUPTI-shaped records (made from
the real Kineto captures' kernels, launch calls and annotations: what the hook records), and the
program-running half without cupti-python (tracing cannot start: said, program unharmed)."""

from __future__ import annotations

import ctypes
import gzip
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import roofprof
from roofprof.app import capture
from roofprof.capture import tracer, tracer_records
from roofprof.capture import tracer_hook as hook
from roofprof.capture.tracer_process import devices
from roofprof.capture.tracer_records import CALL_FIELDS, KERNEL_FIELDS, MARKER_END
from roofprof.cli import main
from roofprof.errors import RoofprofWarning
from roofprof.inputs.timing import load_timing
from roofprof.tables.timing import write
from tests.conftest import FIXTURES

EAGER = FIXTURES / "llama_kineto.json.gz"
GRAPH = FIXTURES / "llama_graph_kineto.json.gz"


def _ns(us: Any) -> int:
    return round(float(us) * 1000.0)


def records_from_kineto(path: Path, nodes_at: str = "launch") -> list[dict[str, Any]]:
    """One process's raw records as roofprof.capture.tracer_hook writes them, from a Kineto capture:
    kernels, API calls, NVTX push/pop markers (start and end records), and graph nodes created
    at capture and cloned at instantiation (replayed kernels carry the clones' ids)."""
    with gzip.open(path) as fh:
        ev = [e for e in json.load(fh)["traceEvents"] if e.get("ph") == "X"]
    calls = [e for e in ev if e.get("cat") in ("cuda_runtime", "cuda_driver")
             and "correlation" in e["args"]]
    by_corr = {e["args"]["correlation"]: e for e in calls}
    names: dict[tuple[int, int], str] = {}
    call_rows = []
    for e in calls:
        driver = int(e["cat"] == "cuda_driver")
        names[(driver, e["args"]["cbid"])] = e["name"]
        call_rows.append((e["args"]["correlation"], _ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"]),
                          e["pid"], e["tid"], e["args"]["cbid"], driver))
    kernels, seen = [], {}
    for k in sorted((e for e in ev if e.get("cat") == "kernel"), key=lambda e: e["ts"]):
        a = k["args"]
        node = 0
        if by_corr[a["correlation"]]["name"] == "cudaGraphLaunch":
            node = 1000 + seen.get(a["correlation"], 0)
            seen[a["correlation"]] = node - 999
        kernels.append((_ns(k["ts"]), _ns(k["ts"]) + _ns(k["dur"]), a["device"], a["context"],
                        a["stream"], a["correlation"], *a["grid"], *a["block"],
                        1 if node else 0, node, k["name"]))
    markers = []
    for i, a in enumerate(e for e in ev if e.get("cat") == "user_annotation"):
        markers.append((i, 2, _ns(a["ts"]), a["name"], "", a["pid"], a["tid"]))
        markers.append((i, 4, _ns(a["ts"]) + _ns(a["dur"]), "", "", a["pid"], a["tid"]))
    # graph nodes as CUPTI's resource callbacks report them: created at each captured launch
    # (nodes_at="launch") or all at the end of the capture ("end"); at instantiation, each is
    # cloned, and the clone is reported created too (as on an H100), after the capture
    nodes, clones, inside, pos = {}, {}, False, 0
    for c in sorted(calls, key=lambda e: e["ts"]):
        if c["name"] == "cudaStreamBeginCapture":
            inside, first = True, pos
        elif c["name"] == "cudaStreamEndCapture":
            inside = False
            if nodes_at == "end":
                for n in range(first, pos):
                    nodes[2000 + n] = (_ns(c["ts"]), c["tid"], 0)
            instantiated = _ns(c["ts"]) + _ns(c["dur"]) + 1000
            for n in range(first, pos):
                nodes[1000 + n] = (instantiated + n, c["tid"], 0)
        elif inside and re.match(r"^cu(da)?Launch", c["name"]):
            nodes[2000 + pos] = (_ns(c["ts"]), c["tid"], 0)
            clones[1000 + pos] = 2000 + pos
            pos += 1
    pid = calls[0]["pid"]
    return [{"format": 2, "pid": pid, "argv": ["x"],
             "kernels": _columns(kernels, (*KERNEL_FIELDS, "name")),
             "calls": _columns(call_rows, (*CALL_FIELDS, "driver")),
             "markers": _columns(markers, ("id", "flags_", "timestamp", "name", "domain",
                                           "process_id", "thread_id")),
             "nodes": nodes, "clones": clones, "call_names": names, "errors": []}]


def _columns(rows: list[tuple[Any, ...]], names: tuple[str, ...]) -> dict[str, Any]:
    return {n: np.array(list(col), dtype=object if n in ("name", "domain") else np.int64)
            for n, col in zip(names, zip(*rows, strict=True), strict=True)}


@pytest.mark.parametrize("capture", [EAGER, GRAPH])
def test_records_give_the_same_table_as_the_profilers_own_trace(capture: Path) -> None:
    ours = tracer.from_parts(records_from_kineto(capture), source="t.parquet").kernels
    kineto = load_timing(capture).kernels
    for col in ("kernel", "grid", "block", "device", "stream", "start_ns", "end_ns", "range",
                "nvtx_source", "phase", "category", "op", "thread_id", "launch_api",
                "correlation_id"):
        pd.testing.assert_series_equal(ours[col], kineto[col], check_names=False)


@pytest.mark.parametrize("nodes_at", ["launch", "end"])
def test_graph_replays_take_the_ranges_of_their_capture(nodes_at: str) -> None:
    """Each replayed kernel's node is matched to its capture's launch call, whether CUPTI
    reports the node's creation at that launch or at the end of the capture."""
    t = tracer.from_parts(records_from_kineto(GRAPH, nodes_at), source="t.parquet")
    replay = t.kernels[t.kernels["graph_node_id"].notna()]
    assert len(replay) == 3 * 125
    assert set(replay["phase"]) == {"decode"}
    assert replay.groupby("op").size()["qkv_proj"] == 3 * 2 * 3
    assert t.meta["timing"]["graph_kernels_with_capture_ranges"] == 375


def test_an_unclosed_range_covers_the_rest_of_the_run() -> None:
    rec = records_from_kineto(EAGER)[0]
    m = rec["markers"]
    outer = int(np.flatnonzero(m["name"] == "prefill")[0])
    keep = ~((m["id"] == m["id"][outer]) & (m["flags_"] == MARKER_END))
    rec["markers"] = {col: values[keep] for col, values in m.items()}
    k = tracer.from_parts([rec], source="t.parquet").kernels
    later = k.loc[k["start_ns"] > m["timestamp"][outer], "nvtx"]
    assert len(later) == 412  # every kernel after the prefill began (all but the first)
    assert all(s[:1] == ["prefill"] for s in later)


def test_nccls_unended_api_ranges_do_not_enclose_the_run(tmp_path: Path) -> None:
    """Raw records of both ranks of a 2-H200 tensor-parallel run (fixtures/MANIFEST.md): CUPTI
    has a start and no end for ncclCommInitRankConfig and ncclCommFinalize in each process.
    Left out of the paths, they no longer prefix every launch; the all-reduce ranges, which
    ended, still hold NCCL's kernels, and the notes say what was left out."""
    records, problems = tracer.read_parts(FIXTURES / "tp2_trace_parts")
    assert problems == []
    t = tracer.from_parts(records, source="t.parquet")
    k = t.kernels
    assert len(k) == 1056
    path = k["range"].astype(str)
    assert set(path[path.str.startswith("nccl")]) == {"ncclAllReduce"}  # before the model ran
    assert not any("ncclCommInitRankConfig" in s for s in k["nvtx"])
    collective = k[k["kernel"].astype(str).str.startswith("ncclDevKernel")]
    # per rank: 12 in the model's 3 passes (2 a layer, 2 layers), 8 before them
    assert len(collective) == 2 * 20
    assert (path[collective.index].str.contains("/model.layers.")).sum() == 2 * 12
    assert all(s[-1] == "ncclAllReduce" for s in collective["nvtx"])
    assert (k["phase"].value_counts()[["prefill", "decode"]] == [204, 408]).all()
    assert t.meta["timing"]["nvtx_unended_library_ranges"] == {
        "ncclCommInitRankConfig": 2, "ncclCommFinalize": 2}
    (note,) = capture.range_notes(t)
    assert note.startswith("4 NCCL API range(s) have no end in the trace "
                           "(ncclCommFinalize x2, ncclCommInitRankConfig x2)")
    # and every later view of the table written says so
    write(t, tmp_path / "tp.parquet")
    with pytest.warns(RoofprofWarning) as said:
        roofprof.load(tmp_path / "tp.parquet")
    assert note in [str(w.message) for w in said]


def test_only_library_ranges_without_an_end_are_left_out() -> None:
    from parsers.stacks import NEVER_CLOSED_NS, without_unended_library_ranges

    ranges = [(1, "main", 0, NEVER_CLOSED_NS),  # a program's own: it encloses what follows
              (1, "ncclCommInitRankConfig", 5, NEVER_CLOSED_NS),
              (1, "ncclAllReduce", 10, 20), (2, "ncclCommInitRankConfig", 5, NEVER_CLOSED_NS)]
    kept, dropped = without_unended_library_ranges(ranges)
    assert kept == [ranges[0], ranges[2]]
    assert dropped == {"ncclCommInitRankConfig": 2}


def test_demangle_turns_mangled_names_into_ncus_forms() -> None:
    if shutil.which("c++filt") is None:
        pytest.skip("c++filt (binutils) is not installed")
    name = "_ZN7cutlass7Kernel2I42cutlass_80_simt_sgemm_128x32_8x5_nn_align1EEvNT_6ParamsE"
    got = tracer.demangle([name, "nvjet_sm90_tst"])
    assert got[name].startswith("void cutlass::Kernel2<cutlass_80_simt_sgemm")
    assert got["nvjet_sm90_tst"] == "nvjet_sm90_tst"


def test_where_tracing_cannot_start_the_program_runs_and_the_reason_is_said(
        tmp_path: Path) -> None:
    """No GPU here: cupti-python is missing (said, with the install hint) or finds no driver."""
    # a sitecustomize of the user's own is still run after ours
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text(
        f"open({str(tmp_path / 'own_ran')!r}, 'w').write('yes')\n")
    prog = tmp_path / "prog.py"
    prog.write_text("import sys, os\nprint('program ran', os.environ['ROOFPROF_TRACE_DIR'] != '')"
                    "\nsys.exit(3)\n")
    out = tmp_path / "run.parquet"
    env_path = {"PYTHONPATH": str(own)}
    result = CliRunner().invoke(main, ["trace", "-o", str(tmp_path / "run"), "--",
                                       sys.executable, str(prog)], env=env_path)
    assert result.exit_code == 3, result.output
    assert "tracing did not start" in result.output
    if importlib.util.find_spec("cupti") is None:
        assert "pip install roofprof[trace]" in result.output
    else:
        assert "libcuda.so" in result.output
    assert (tmp_path / "own_ran").read_text() == "yes"
    assert not out.exists()
    assert not list(tmp_path.glob(".run.parquet.parts.*"))  # the raw parts are cleaned up


def test_trace_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "run.parquet").write_text("x")
    result = CliRunner().invoke(main, ["trace", "-o", str(tmp_path / "run.parquet"), "--",
                                       sys.executable, "-c", "pass"])
    assert result.exit_code == 4
    assert "pass --force to overwrite" in result.output


# ------------------------- the hook's records in CUPTI's own layouts, decoded as at exit

def activity_buffers(rec: dict[str, Any], keep: list[Any]) -> list[bytes]:
    """The records of ``rec`` as CUPTI writes them into activity buffers: cupti-python's record
    layouts (CUPTI 13), kinds interleaved in time order, split over three buffers; names are
    C strings in memory (``keep`` holds them alive)."""
    c = pytest.importorskip("cupti.cupti")
    kind = c.ActivityKind

    def cstr(text: str) -> int:
        buf = ctypes.create_string_buffer(text.encode())
        keep.append(buf)
        return ctypes.addressof(buf) if text else 0

    out: list[tuple[int, bytes]] = []
    k, calls, m = rec["kernels"], rec["calls"], rec["markers"]
    for i in range(len(k["start"])):
        r = np.zeros(1, c.activity_kernel10_dtype)
        r["kind"] = int(kind.CONCURRENT_KERNEL)
        for f in KERNEL_FIELDS:
            r[f] = k[f][i]
        r["name"] = cstr(str(k["name"][i]))
        out.append((int(k["start"][i]), r.tobytes()))
    for i in range(len(calls["start"])):
        r = np.zeros(1, c.activity_api_dtype)
        r["kind"] = int(kind.DRIVER if calls["driver"][i] else kind.RUNTIME)
        for f in CALL_FIELDS:
            r[f] = calls[f][i]
        out.append((int(calls["start"][i]), r.tobytes()))
    for i in range(len(m["id"])):
        r = np.zeros(1, c.activity_marker2_dtype)
        r["kind"] = int(kind.MARKER)
        r["id"], r["flags_"], r["timestamp"] = m["id"][i], m["flags_"][i], m["timestamp"][i]
        r["object_id"]["pt"]["process_id"] = m["process_id"][i]
        r["object_id"]["pt"]["thread_id"] = m["thread_id"][i]
        r["name"] = cstr(str(m["name"][i]))
        out.append((int(m["timestamp"][i]), r.tobytes()))
    out.sort(key=lambda t: t[0])
    third = len(out) // 3
    return [b"".join(b for _, b in out[a:z]) for a, z in ((0, third), (third, 2 * third),
                                                          (2 * third, len(out)))]


@pytest.mark.parametrize("capture", [EAGER, GRAPH])
def test_the_hook_decodes_cuptis_buffers_into_the_same_table(capture: Path) -> None:
    """Buffers in CUPTI's layouts -> the hook's exit-time decoding -> the timing table equals
    the one torch.profiler wrote for the same run."""
    c = pytest.importorskip("cupti.cupti")
    rec = records_from_kineto(capture)[0]
    keep: list[Any] = []
    recorder = hook.Recorder("unused", c, library=None)
    recorder.buffers = activity_buffers(rec, keep)
    recorder.nodes, recorder.clones = rec["nodes"], rec["clones"]
    part = recorder.part()
    # naming the devices needs the CUDA driver, which a CPU machine lacks (tested below)
    assert [e for e in part["errors"] if not e.startswith("device names:")] == []
    ours = tracer.from_parts([{**part, "pid": rec["pid"]}], source="t.parquet").kernels
    kineto = load_timing(capture).kernels
    for col in ("kernel", "grid", "block", "device", "stream", "start_ns", "end_ns", "range",
                "nvtx_source", "phase", "op", "thread_id", "launch_api", "correlation_id"):
        pd.testing.assert_series_equal(ours[col], kineto[col], check_names=False)


def test_a_record_of_a_kind_not_enabled_is_reported_not_misread() -> None:
    c = pytest.importorskip("cupti.cupti")
    good = np.zeros(1, c.activity_api_dtype)
    good["kind"] = int(c.ActivityKind.RUNTIME)
    bad = np.zeros(1, c.activity_api_dtype)
    bad["kind"] = 99
    found, problems = tracer_records.decode([good.tobytes() + bad.tobytes() + good.tobytes()],
                                  tracer_records.layouts(c))
    assert len(found["runtime"]) == 1
    assert problems == ["activity record of kind 99 at byte 40 of a 120-byte buffer: not a "
                        "kind this tracer reads; the rest of that buffer is lost"]


def test_a_real_graph_capture_gives_replays_their_decode_phase_and_capture_ops() -> None:
    """The hook's own records of the CUDA-graph example on an H100 (fixtures/MANIFEST.md):
    CUPTI reports the capture's nodes created at each captured launch and the instantiated
    clones created again at instantiation; replays take the module ranges open at capture."""
    records, problems = tracer.read_parts(FIXTURES / "llama_graph_trace_parts")
    assert problems == []
    k = tracer.from_parts(records, source="t.parquet").kernels
    replays = k[k["launch_api"] == "cudaGraphLaunch"]
    assert replays.groupby("graph_id").size().sort_index().tolist() == [125, 375]
    last = replays[replays["graph_id"] == replays["graph_id"].max()]
    assert set(last["phase"]) == {"decode"}
    assert set(last["nvtx_source"]) == {"launch+capture"}
    ops = last.groupby("op").size()
    # per replay: 2 layers x q, k, v; one lm_head; and each of 3 replays is the same graph
    assert ops["qkv_proj"] == 3 * 2 * 3
    assert ops["lm_head"] == 3
    assert last["op"].notna().all()
    assert (last.groupby("graph_node_id")["op"].nunique() == 1).all()
    # the eager prefill keeps its own launch-time ranges
    prefill = k[k["phase"] == "prefill"]
    assert len(prefill) == 113
    assert set(prefill["nvtx_source"]) == {"launch"}


def test_launches_carry_the_name_of_the_gpu_the_hook_read_from_the_driver() -> None:
    """Each part names its devices (``devices``: ordinal -> name, compute capability); parts
    written before the hook did (the H100 fixture) leave ``device_name`` null."""
    rec = records_from_kineto(EAGER)[0]
    named = {**rec, "devices": {0: {"name": "NVIDIA H100 80GB HBM3", "cc": "9.0"}}}
    k = tracer.from_parts([named], source="t.parquet")
    assert set(k.kernels["device"]) == {0}
    assert set(k.kernels["device_name"]) == {"NVIDIA H100 80GB HBM3"}
    assert set(k.kernels["cc"]) == {"9.0"}
    assert k.meta["gpu"] == ["NVIDIA H100 80GB HBM3"]
    # a device the hook could not name stays null, others keep theirs
    other = {**named, "devices": {1: {"name": "NVIDIA H200", "cc": "9.0"}}}
    assert tracer.from_parts([other], source="t.parquet").kernels["device_name"].isna().all()
    records, _ = tracer.read_parts(FIXTURES / "llama_graph_trace_parts")
    old = tracer.from_parts(records, source="t.parquet")
    assert old.kernels["device_name"].isna().all()
    assert old.meta["gpu"] == []


def test_the_hook_says_why_it_could_not_name_a_device() -> None:
    errors: list[str] = []
    found = devices([0], errors)
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:  # no driver here (CI): no names, and the reason is kept with the trace
        assert found == {}
        assert len(errors) == 1
        assert errors[0].startswith("device names:")
        return
    assert set(found) <= {0}  # a GPU host: named, or said why not
    assert found or errors


def _graph_level(records: list[dict[str, Any]], graph: int) -> tuple[list[dict[str, Any]],
                                                                      pd.DataFrame]:
    """The real parts with every replay of ``graph`` recorded as the hook records a replay
    with --graph-nodes none (one record: span, launch correlation id, no node records), and
    the node kernels taken out (returned: the truth the rows are checked against)."""
    rec = dict(records[0])
    k = pd.DataFrame(dict(rec["kernels"]))
    whole = k[k["graph_id"] == graph]
    g = whole.groupby("correlation_id").agg(start=("start", "min"), end=("end", "max"),
                                             device_id=("device_id", "first"),
                                             context_id=("context_id", "first"),
                                             stream_id=("stream_id", "first"),
                                             graph_id=("graph_id", "first")).reset_index()
    rec["kernels"] = {c: np.asarray(v)[~k.index.isin(whole.index)]
                      for c, v in rec["kernels"].items()}
    rec["graphs"] = {c: g[c].to_numpy() for c in tracer_records.GRAPH_FIELDS}
    rec["graph_replays"] = {"nodes": "none"}
    return [rec, *records[1:]], whole


def test_graph_replays_timed_as_a_whole_are_one_row_each_that_says_so(tmp_path: Path
                                                                       ) -> None:
    """The H100 graph capture with its run graph's 3 replays recorded at graph level: each is
    one row, its span measured, in the decode phase of its launch, no kernel or dims."""
    records, _ = tracer.read_parts(FIXTURES / "llama_graph_trace_parts")
    full = tracer.from_parts(records, source="t.parquet")
    graph = int(full.kernels["graph_id"].max())
    parts, truth = _graph_level(records, graph)
    t = tracer.from_parts(parts, source="t.parquet")
    k = t.kernels
    whole = k[k["duration_from"] == "replay"]
    assert len(whole) == 3
    assert set(whole["kernel"]) == {f"[CUDA graph {graph} replay: nodes not recorded]"}
    assert set(whole["phase"]) == {"decode"}
    assert set(whole["launch_api"]) == {"cudaGraphLaunch"}
    assert whole["grid"].isna().all()
    assert whole["block"].isna().all()
    assert whole["graph_node_id"].isna().all()
    assert (whole["graph_id"] == graph).all()
    spans = truth.groupby("correlation_id").agg(s=("start", "min"), e=("end", "max"))
    assert sorted(whole["duration_ns"]) == sorted(spans["e"] - spans["s"])
    assert sorted(whole["correlation_id"]) == sorted(spans.index)
    # the other launches as they were; the decode phase's time now the replays' spans
    assert len(k) == len(full.kernels) - 3 * 125 + 3
    assert set(k.loc[k["duration_from"] != "replay", "duration_from"]) == {"launch"}
    assert t.meta["timing"]["graph_replays"] == {"nodes": "none", "node_by_node": 1,
                                                 "whole": 3}
    notes = capture.graph_notes(t)
    assert len(notes) == 1
    assert notes[0].startswith("3 CUDA graph replays timed as a whole (")
    # the table roofprof trace writes says it again wherever it is loaded (summary, plot, ...)
    write(t, tmp_path / "t.parquet")
    with pytest.warns(RoofprofWarning) as said:
        roofprof.load(tmp_path / "t.parquet")
    assert any(str(w.message).startswith("3 CUDA graph replays were timed as a whole")
               for w in said)


def test_old_timing_tables_read_as_every_launch_its_own_record() -> None:
    records, _ = tracer.read_parts(FIXTURES / "llama_graph_trace_parts")
    t = tracer.from_parts(records, source="t.parquet")
    assert set(t.kernels["duration_from"]) == {"launch"}
    assert t.meta["timing"]["graph_replays"] == {"nodes": "all", "node_by_node": 4, "whole": 0}
    assert capture.graph_notes(t) == []
    assert set(load_timing(EAGER).kernels["duration_from"]) == {"launch"}


def test_the_graph_nodes_setting_is_read_and_a_bad_one_said() -> None:
    errors: list[str] = []
    assert hook.graph_nodes_setting(None, errors) == "all"
    assert [hook.graph_nodes_setting(v, errors) for v in hook.GRAPH_NODES] == ["all", "none"]
    assert errors == []
    assert hook.graph_nodes_setting("first", errors) == "all"
    assert errors == ["ROOFPROF_TRACE_GRAPH_NODES='first': not one of all, none; 'all' used"]
