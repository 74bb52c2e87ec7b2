"""roofprof trace on the CPU: the timing table built from raw CUPTI-shaped records (made from
the real Kineto captures' kernels, launch calls and annotations: what the hook records), and the
program-running half without cupti-python (tracing cannot start: said, program unharmed)."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from roofprof import tracer
from roofprof.cli import main
from roofprof.timing import load_timing
from tests.conftest import FIXTURES

EAGER = FIXTURES / "llama_kineto.json.gz"
GRAPH = FIXTURES / "llama_graph_kineto.json.gz"


def _ns(us: Any) -> int:
    return round(float(us) * 1000.0)


def records_from_kineto(path: Path) -> list[dict[str, Any]]:
    """One process's raw records as roofprof.tracer_hook writes them, from a Kineto capture:
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
        call_rows.append((e["args"]["correlation"], _ns(e["ts"]), e["pid"], e["tid"],
                          e["args"]["cbid"], driver))
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
    nodes, clones, inside, pos = {}, {}, False, 0
    for c in sorted(calls, key=lambda e: e["ts"]):
        if c["name"] == "cudaStreamBeginCapture":
            inside = True
        elif c["name"] == "cudaStreamEndCapture":
            inside = False
        elif inside and re.match(r"^cu(da)?Launch", c["name"]):
            nodes[2000 + pos] = (_ns(c["ts"]), c["tid"])
            clones[1000 + pos] = 2000 + pos
            pos += 1
    pid = calls[0]["pid"]
    return [{"pid": pid, "argv": ["x"], "kernels": kernels, "calls": call_rows,
             "markers": markers, "nodes": nodes, "clones": clones, "call_names": names,
             "errors": []}]


@pytest.mark.parametrize("capture", [EAGER, GRAPH])
def test_records_give_the_same_table_as_the_profilers_own_trace(capture: Path) -> None:
    ours = tracer.from_parts(records_from_kineto(capture), source="t.parquet").kernels
    kineto = load_timing(capture).kernels
    for col in ("kernel", "grid", "block", "device", "stream", "start_ns", "end_ns", "range",
                "nvtx_source", "phase", "category", "op", "thread_id", "launch_api",
                "correlation_id"):
        pd.testing.assert_series_equal(ours[col], kineto[col], check_names=False)


def test_graph_replays_take_the_ranges_of_their_capture() -> None:
    t = tracer.from_parts(records_from_kineto(GRAPH), source="t.parquet")
    replay = t.kernels[t.kernels["graph_node_id"].notna()]
    assert len(replay) == 3 * 125
    assert set(replay["phase"]) == {"decode"}
    assert replay.groupby("op").size()["qkv_proj"] == 3 * 2 * 3
    assert t.meta["timing"]["graph_kernels_with_capture_ranges"] == 375


def test_an_unclosed_range_covers_the_rest_of_the_run() -> None:
    rec = records_from_kineto(EAGER)[0]
    outer = next(m for m in rec["markers"] if m[3] == "prefill")
    rec["markers"] = [m for m in rec["markers"] if not (m[0] == outer[0] and m[1] == 4)]
    k = tracer.from_parts([rec], source="t.parquet").kernels
    later = k.loc[k["start_ns"] > outer[2], "nvtx"]
    assert len(later) == 412  # every kernel after the prefill began (all but the first)
    assert all(s[:1] == ["prefill"] for s in later)


def test_demangle_turns_mangled_names_into_ncus_forms() -> None:
    if shutil.which("c++filt") is None:
        pytest.skip("c++filt (binutils) is not installed")
    name = "_ZN7cutlass7Kernel2I42cutlass_80_simt_sgemm_128x32_8x5_nn_align1EEvNT_6ParamsE"
    got = tracer.demangle([name, "nvjet_sm90_tst"])
    assert got[name].startswith("void cutlass::Kernel2<cutlass_80_simt_sgemm")
    assert got["nvjet_sm90_tst"] == "nvjet_sm90_tst"


def test_without_cupti_the_program_runs_and_the_reason_is_said(tmp_path: Path) -> None:
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
    assert "pip install roofprof[trace]" in result.output
    assert (tmp_path / "own_ran").read_text() == "yes"
    assert not out.exists()
    assert not list(tmp_path.glob(".run.parquet.parts.*"))  # the raw parts are cleaned up


def test_trace_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "run.parquet").write_text("x")
    result = CliRunner().invoke(main, ["trace", "-o", str(tmp_path / "run.parquet"), "--",
                                       sys.executable, "-c", "pass"])
    assert result.exit_code == 4
    assert "pass -f to overwrite" in result.output


# ------------------------------------------- the whole chain, with a fake cupti-python


KERNEL_FIELDS = ("start", "end", "device_id", "context_id", "stream_id", "correlation_id",
                 "grid_x", "grid_y", "grid_z", "block_x", "block_y", "block_z", "graph_id",
                 "graph_node_id", "name")


def fake_records(capture: Path, path: Path) -> Path:
    """The Kineto capture's records in cupti-python's attribute names (cupti.pyi), for
    tests/fake_cupti."""
    rec = records_from_kineto(capture)[0]
    data = {
        "kernels": [dict(zip(KERNEL_FIELDS, k, strict=True)) for k in rec["kernels"]],
        "calls": [dict(zip(("correlation_id", "start", "process_id", "thread_id", "cbid",
                            "driver"), c, strict=True)) for c in rec["calls"]],
        "markers": [dict(zip(("id", "flags_", "timestamp", "name", "domain", "process_id",
                              "thread_id"), m, strict=True)) for m in rec["markers"]],
        "nodes": [[n, None, ts, tid] for n, (ts, tid) in rec["nodes"].items()]
        + [[clone, orig, rec["nodes"][orig][0], rec["nodes"][orig][1]]
           for clone, orig in rec["clones"].items()],
        "call_names": {f"{d}:{cbid}": name for (d, cbid), name in rec["call_names"].items()},
    }
    path.write_text(json.dumps(data))
    return path


def test_trace_runs_the_hook_in_the_program_and_builds_the_table(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """sitecustomize -> the hook (in the traced process) -> its records -> the timing table,
    with tests/fake_cupti standing in for cupti-python (no GPU here)."""
    records = fake_records(GRAPH, tmp_path / "records.json")
    env = {"PYTHONPATH": str(Path(__file__).with_name("fake_cupti")),
           "FAKE_CUPTI_RECORDS": str(records)}
    out = tmp_path / "run.parquet"
    result = CliRunner().invoke(main, ["trace", "-o", str(out), "--", sys.executable, "-c",
                                       "print('serving')"], env=env)
    assert result.exit_code == 0, result.output
    assert "748 kernel launches timed" in result.output
    assert "375 launch+capture" in result.output
    child = capfd.readouterr()
    assert "serving" in child.out  # the program ran, its output untouched
    assert "sitecustomize" not in child.err
    ours = load_timing(out).kernels
    kineto = load_timing(GRAPH).kernels
    for col in ("kernel", "grid", "start_ns", "range", "phase", "op", "nvtx_source"):
        pd.testing.assert_series_equal(ours[col], kineto[col], check_names=False)
    assert ours["process_id"].nunique() == 1
