"""roofprof latency: per-range durations from the real Kineto captures, checked against the
annotation events of the same files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from roofprof.analysis import latency as lat
from roofprof.cli import main
from roofprof.errors import InputError
from roofprof.inputs.timing import load_timing
from roofprof.views import latency as latency_view
from tests.conftest import FIXTURES

EAGER = FIXTURES / "llama_kineto.json.gz"
GRAPH = FIXTURES / "llama_graph_kineto.json.gz"


def annotation_durations_ns(path: Path, name: str) -> list[int]:
    with gzip.open(path) as fh:
        ev = json.load(fh)["traceEvents"]
    return sorted(round(float(e["dur"]) * 1000) for e in ev
                  if e.get("cat") == "user_annotation" and e["name"] == name)


def test_each_decode_step_is_one_instance_with_its_own_duration() -> None:
    inst = lat.instances(load_timing(EAGER))
    decode = inst[inst["range"] == "decode"]
    assert len(decode) == 3
    # the steps' durations are those of the record_function scopes, to the nanosecond
    truth = annotation_durations_ns(EAGER, "decode")
    assert sorted(decode["wall_ns"].astype(int)) == pytest.approx(truth, abs=1)
    prefill = inst[inst["range"] == "prefill"]
    assert (decode["kernels"] == prefill["kernels"].item()).all()  # same kernels per step
    assert (decode["gpu_span_ns"] <= decode["wall_ns"]).all()  # each step synchronises
    assert (decode["kernel_ns"] <= decode["gpu_span_ns"]).all()  # one stream: no overlap


def test_percentiles_are_numpys_over_the_instances() -> None:
    inst = lat.instances(load_timing(EAGER))
    table = lat.percentiles(inst).set_index("range")
    steps = inst.loc[inst["range"] == "decode", "wall_ns"].to_numpy()
    assert table.loc["decode", "instances"] == 3
    assert table.loc["decode", "wall_p50_ns"] == np.median(steps)
    assert table.loc["decode", "wall_p99_ns"] == np.percentile(steps, 99)
    assert table.loc["decode", "wall_max_ns"] == steps.max()


def test_graph_replays_count_towards_the_decode_steps_they_ran_in() -> None:
    inst = lat.instances(load_timing(GRAPH))
    decode = inst[inst["range"] == "decode"]
    replays = decode[decode["kernels"] == 125]  # one replay = the captured step's 125 kernels
    assert len(replays) == 3
    # capture-only ranges (module paths) did not run at the replays: no instance at that time
    assert not ((inst["range"] == "model") & (inst["start_ns"] > replays["start_ns"].min())).any()
    assert len(decode) == 4  # and the range around the capture itself, as the program ran it


def test_cli_latency_table_json_and_plot(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["latency", str(EAGER), "--range", "^(prefill|decode)$"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:6] == ["range", "n", "p50", "ms", "p90", "ms"]
    assert [ln.split()[0] for ln in lines[2:]] == ["decode", "prefill"]  # most time first
    out = tmp_path / "latency.png"
    result = CliRunner().invoke(main, ["latency", str(GRAPH), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    result = CliRunner().invoke(main, ["latency", str(EAGER), "-o", str(tmp_path / "l.json"),
                                       "--range", "decode"])
    data = json.loads((tmp_path / "l.json").read_text())
    assert [p["range"] for p in data["percentiles"]] == ["decode"]
    assert len(data["instances"]) == 3


def test_latency_needs_a_timing_trace(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["latency", str(FIXTURES / "llama_small.ncu-rep")])
    assert result.exit_code == 2
    assert "holds counters, not a timing" in result.output
    with pytest.raises(InputError, match="invalid ranges regular expression"):
        lat.select(lat.instances(load_timing(EAGER)), ["("])


def test_a_range_never_closed_has_no_wall_time(tmp_path: Path) -> None:
    """NCCL's ncclCommInitRankConfig range was still open when the 2-H200 trace ended: its end
    is the never-closed sentinel, not a time, so it gets no wall time (it read 7.4e12 ms)."""
    from parsers.stacks import NEVER_CLOSED_NS

    inst = lat.instances(load_timing(FIXTURES / "tp2_timing.parquet"))
    nccl = inst[inst["range"] == "ncclCommInitRankConfig"]
    assert len(nccl) == 2
    assert (nccl["end_ns"] == NEVER_CLOSED_NS).all()
    assert nccl["wall_ns"].isna().all()
    assert (nccl["gpu_span_ns"] > 0).all()  # its kernels' span is still measured
    assert inst.loc[inst["range"] != "ncclCommInitRankConfig", "wall_ns"].notna().all()
    # one range with closed and open instances: the percentiles are of the closed ones
    mixed = inst[inst["range"] == "decode"].copy()
    mixed.loc[mixed.index[0], "wall_ns"] = np.nan
    row = lat.percentiles(mixed).iloc[0]
    assert row["open"] == 1
    assert row["wall_p50_ns"] == np.percentile(mixed["wall_ns"].dropna(), 50)
    table = lat.percentiles(inst)
    text = latency_view.format_table(table)
    line = next(ln for ln in text.splitlines() if ln.startswith("ncclCommInitRankConfig "))
    assert line.split()[2:6] == ["-", "-", "-", "-"]
    assert "ncclCommInitRankConfig: 2 of 2 instance(s) never closed" in text
    out = tmp_path / "lat.json"
    done = CliRunner().invoke(main, ["latency", str(FIXTURES / "tp2_timing.parquet"), "-o",
                                     str(out)])
    assert done.exit_code == 0, done.output
    rows = {r["range"]: r for r in json.loads(out.read_text())["percentiles"]}
    assert rows["ncclCommInitRankConfig"]["wall_p50_ns"] is None
    assert rows["ncclCommInitRankConfig"]["open"] == 2
