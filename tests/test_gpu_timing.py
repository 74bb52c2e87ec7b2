"""Issue 11 on a real GPU: `roofprof trace` (CUPTI through cupti-python), the join with sampled
counters, CUDA graphs (marker ``gpu``; skipped unless ROOFPROF_GPU_TESTS=1). On a GPU host with
ncu and cupti-python (pip install -e '.[dev,trace]'), from the repository root:

    ROOFPROF_GPU_TESTS=1 python -m pytest -m gpu tests/test_gpu_timing.py -v
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import roofprof
from roofprof.analysis.join import join
from roofprof.inputs.timing import load_timing
from tests.conftest import ROOT

pytestmark = pytest.mark.gpu

EXAMPLE = str(ROOT / "examples" / "kineto_llama.py")
MODEL = ["--layers", "2", "--hidden", "512", "--heads", "8", "--kv-heads", "2", "--vocab",
         "8000", "--batch", "2", "--prompt", "128", "--new-tokens", "4", "--no-profiler"]


def roofprof_run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roofprof", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, check=False)


def test_trace_times_every_launch_with_its_nvtx_path(tmp_path: Path) -> None:
    out = tmp_path / "eager.parquet"
    done = roofprof_run("trace", "-o", str(out), "--", sys.executable, EXAMPLE, *MODEL)
    assert done.returncode == 0, done.stderr
    k = load_timing(out).kernels
    # the same program under torch.profiler (the fixture, made on an H100) launched as many
    # kernels of each op and category; their names too on an H100 (cuBLAS picks other GEMM
    # kernels on an H200: nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT for ..._16x64_..._TNN)
    fixture = load_timing(ROOT / "fixtures" / "llama_kineto.json.gz").kernels
    keys = ["phase", "op", "category"]
    if set(k["device_name"].dropna()) == set(fixture["device_name"].dropna()):
        keys.append("kernel")
    ours = k[k["phase"].isin(["prefill", "decode"])].groupby(keys, dropna=False).size()
    theirs = fixture[fixture["phase"].isin(["prefill", "decode"])].groupby(
        keys, dropna=False).size()
    assert ours.to_dict() == theirs.to_dict()
    assert (k["duration_ns"] > 0).all()
    # the hook names the GPU from the driver (not yet run on a GPU when written)
    assert k["device_name"].notna().all()
    assert load_timing(out).meta["gpu"] == sorted(set(k["device_name"]))
    decode = k[k["phase"] == "decode"]
    assert decode.groupby("op").size()["qkv_proj"] == 3 * 2 * 3


def test_trace_attributes_cuda_graph_replays_to_decode_and_their_ops(tmp_path: Path) -> None:
    out = tmp_path / "graph.parquet"
    done = roofprof_run("trace", "-o", str(out), "--", sys.executable, EXAMPLE, *MODEL,
                        "--graph")
    assert done.returncode == 0, done.stderr
    k = load_timing(out).kernels
    replays = k[k["launch_api"].str.contains("GraphLaunch", na=False)]
    # two graphs: the example's unannotated warm-up (one replay, no ranges) and the run's
    last = replays.sort_values("start_ns")["graph_id"].iloc[-1]
    warm_up = replays[replays["graph_id"] != last]
    assert len(warm_up) == 125
    assert set(warm_up["phase"]) == {"other"}
    replay = replays[replays["graph_id"] == last]
    assert len(replay) == 3 * 125
    assert set(replay["phase"]) == {"decode"}
    assert replay["graph_node_id"].notna().all()
    # ops through the nodes' capture (CUPTI resource callbacks)
    assert set(replay["nvtx_source"]) == {"launch+capture"}, done.stderr
    assert replay.groupby("op").size()["qkv_proj"] == 3 * 2 * 3
    assert set(k["duration_from"]) == {"launch"}


def test_trace_times_graph_replays_as_a_whole_with_graph_nodes_none(tmp_path: Path) -> None:
    out = tmp_path / "whole.parquet"
    done = roofprof_run("trace", "--graph-nodes", "none", "-o", str(out), "--", sys.executable,
                        EXAMPLE, *MODEL, "--graph")
    assert done.returncode == 0, done.stderr
    t = load_timing(out)
    k = t.kernels
    whole = k[k["duration_from"] == "replay"]
    # the warm-up graph's replay and the run graph's 3, one row each, in the phase of the launch
    assert len(whole) == 4
    assert whole["kernel"].str.startswith("[CUDA graph ").all()
    assert whole.groupby("phase", observed=True).size().to_dict() == {"decode": 3, "other": 1}
    assert (whole["duration_ns"] > 0).all()
    assert k["graph_node_id"].isna().all()  # no node records at all
    assert t.meta["timing"]["graph_replays"] == {"nodes": "none", "node_by_node": 0, "whole": 4}
    assert "CUDA graph replays timed as a whole" in done.stderr
    # the eager prefill is as with every node recorded
    assert set(k.loc[k["phase"] == "prefill", "duration_from"]) == {"launch"}
    assert (k["phase"] == "prefill").sum() == 113


def test_join_sampled_counters_with_the_timed_run(tmp_path: Path) -> None:
    timing = tmp_path / "t.parquet"
    assert roofprof_run("trace", "-o", str(timing), "--", sys.executable, EXAMPLE,
                        *MODEL).returncode == 0
    done = roofprof_run("record", "-q", "-o", str(tmp_path / "c"), "--per-config", "1",
                        "--range", "prefill", "--range", "decode", "--", sys.executable,
                        EXAMPLE, *MODEL)
    assert done.returncode == 0, done.stderr
    joined = join(load_timing(timing), roofprof.load(tmp_path / "c.parquet"))
    k = joined.kernels
    inside = k[k["phase"].isin(["prefill", "decode"])]
    covered = inside.loc[inside["counters_from"] != "none", "duration_ns"].sum()
    assert covered / inside["duration_ns"].sum() > 0.95
    assert k["duration_ns"].sum() == load_timing(timing).kernels["duration_ns"].sum()


def test_record_sample_times_the_run_and_joins(tmp_path: Path) -> None:
    out = tmp_path / "s"
    done = roofprof_run("record", "-q", "-o", str(out), "--sample", "1", "--range", "prefill",
                        "--range", "decode", "--", sys.executable, EXAMPLE, *MODEL)
    assert done.returncode == 0, done.stderr
    assert "counters by time:" in done.stdout
    joined = roofprof.load(tmp_path / "s.joined.parquet")
    timing = load_timing(tmp_path / "s.timing.parquet")
    k = joined.kernels
    # phase time totals are the timed run's, whatever was sampled
    assert k.groupby("phase")["duration_ns"].sum().to_dict() == \
        timing.kernels.groupby("phase")["duration_ns"].sum().to_dict()
    decode = k[k["phase"] == "decode"]
    assert decode.loc[decode["counters_from"] != "none", "duration_ns"].sum() > \
        0.95 * decode["duration_ns"].sum()


def test_trace_gives_per_request_latency(tmp_path: Path) -> None:
    """Three requests, each a 'request' range around one prefill and three decode steps."""
    from roofprof.analysis import latency as lat
    from roofprof.analysis import requests as rq

    out = tmp_path / "requests.parquet"
    done = roofprof_run("trace", "-o", str(out), "--", sys.executable, EXAMPLE, *MODEL,
                        "--requests", "3")
    assert done.returncode == 0, done.stderr
    inst = lat.instances(load_timing(out))
    req = rq.per_request(inst, "^request$")
    assert len(req) == 3
    assert (req["steps"] == 4).all()
    assert (req["ttft_ns"] > 0).all()
    assert (req["ttft_ns"] < req["e2e_ns"]).all()
    steps = inst[inst["range"].isin(["prefill", "decode"])]
    assert req["e2e_ns"].sum() >= steps["wall_ns"].sum()  # the steps run inside the requests
