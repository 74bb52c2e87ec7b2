"""latency --per-request: time to first token, time per output token and end to end per request,
on a Kineto trace made of the real eager capture (one prefill, three decode steps) repeated as
three requests, each inside a ``request`` annotation that opens a known time before its prefill
(its queueing delay): every number below follows from the capture's own annotation events."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from roofprof.analysis import latency as lat
from roofprof.analysis import requests as rq
from roofprof.cli import main
from roofprof.errors import InputError
from roofprof.inputs.timing import load_timing
from roofprof.views import requests as requests_view
from tests.conftest import FIXTURES

EAGER = FIXTURES / "llama_kineto.json.gz"
QUEUED_US = (20.0, 50.0, 400.0)  # each request's delay before its prefill


def _steps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((e for e in events if e.get("cat") == "user_annotation"
                   and e["name"] in ("prefill", "decode")), key=lambda e: e["ts"])


def requests_trace(path: Path) -> tuple[Path, list[dict[str, float]]]:
    """The capture three times, later each time, each copy inside one ``request`` range; and
    each request's truth (µs) from the annotation events."""
    with gzip.open(EAGER) as fh:
        doc = json.load(fh)
    base = [e for e in doc["traceEvents"] if e.get("ph") != "M"]
    steps = _steps(base)
    first, last = steps[0], steps[-1]
    span = last["ts"] + last["dur"] - first["ts"]
    events, truth = [e for e in doc["traceEvents"] if e.get("ph") == "M"], []
    for i, queued in enumerate(QUEUED_US):
        shift = i * (span + 1000.0)
        for e in base:
            c = copy.deepcopy(e)
            if "ts" in c:
                c["ts"] += shift
            args = c.get("args", {})
            for key in ("correlation", "External id"):
                if key in args:
                    args[key] += i * 10_000_000
            if c.get("cat") == "ac2g":
                c["id"] += i * 10_000_000
            events.append(c)
        start = first["ts"] + shift - queued
        end = last["ts"] + last["dur"] + shift + 5.0
        events.append({"ph": "X", "cat": "user_annotation", "name": "request", "pid": first["pid"],
                       "tid": first["tid"], "ts": start, "dur": end - start, "args": {}})
        ends = [s["ts"] + s["dur"] + shift for s in steps]
        truth.append({"ttft": ends[0] - start, "tpot": (ends[-1] - ends[0]) / (len(ends) - 1),
                      "e2e": end - start})
    doc["traceEvents"] = events
    with gzip.open(path, "wt") as fh:
        json.dump(doc, fh)
    return path, truth


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, float]]]:
    return requests_trace(tmp_path_factory.mktemp("req") / "requests.json.gz")


def test_each_request_has_its_ttft_tpot_and_end_to_end(
        made: tuple[Path, list[dict[str, float]]]) -> None:
    path, truth = made
    req = rq.per_request(lat.instances(load_timing(path)), "^request$")
    assert len(req) == 3
    assert (req["steps"] == 4).all()  # one prefill and three decode steps each
    for col, key in (("ttft_ns", "ttft"), ("tpot_ns", "tpot"), ("e2e_ns", "e2e")):
        assert req[col].to_numpy() == pytest.approx([t[key] * 1000 for t in truth], abs=2)
    # the queueing delay is inside time to first token, and only there
    assert np.diff(req["ttft_ns"]) == pytest.approx(np.diff(QUEUED_US) * 1000, abs=2)
    table = rq.percentiles(req).set_index("metric")
    assert table.loc["ttft_ns", "p50_ns"] == np.median(req["ttft_ns"])
    assert table.loc["e2e_ns", "p99_ns"] == np.percentile(req["e2e_ns"], 99)
    assert (table["n"] == 3).all()


def test_a_request_without_steps_has_no_token_times_and_is_counted(
        made: tuple[Path, list[dict[str, float]]]) -> None:
    path, _ = made
    inst = lat.instances(load_timing(path))
    req = rq.per_request(inst, "^prefill$")  # a prefill as the "request": no step inside it
    assert req["ttft_ns"].isna().all()
    assert req["tpot_ns"].isna().all()
    text = requests_view.format_table(rq.percentiles(req), req)
    assert "3 request(s) without steps" in text
    ttft = next(ln for ln in text.splitlines() if ln.startswith("time to first token"))
    assert ttft.split()[4:] == ["0", "-", "-", "-", "-"]


def test_cli_per_request_table_json_plot_and_errors(
        made: tuple[Path, list[dict[str, float]]], tmp_path: Path) -> None:
    path, truth = made
    result = CliRunner().invoke(main, ["latency", str(path), "--per-request", "^request$"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["per", "request", "n"]
    ttft = sorted(t["ttft"] for t in truth)[1] / 1000  # the median, in ms
    assert lines[2].startswith("time to first token")
    assert f"{ttft:.3f}" in lines[2]
    assert "3 requests, 12 steps (mean 4.0 a request)" in result.output
    out = tmp_path / "req.json"
    result = CliRunner().invoke(main, ["latency", str(path), "--per-request", "request",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [p["metric"] for p in data["percentiles"]] == ["ttft_ns", "tpot_ns", "e2e_ns"]
    assert len(data["requests"]) == 3
    png = tmp_path / "req.png"
    result = CliRunner().invoke(main, ["latency", str(path), "--per-request", "request",
                                       "-o", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    for bad, says in ((["--per-request", "^nothing$"], "no range matches --per-request"),
                      (["--per-request", "("], "invalid --per-request regular expression"),
                      (["--per-request", "request", "--range", "decode"], "drop --range"),
                      (["--per-request", "request", "--by", "path"], "drop --by")):
        result = CliRunner().invoke(main, ["latency", str(path), *bad])
        assert result.exit_code != 0
        assert says in result.output
        assert "Traceback" not in result.output


def test_no_request_range_is_one_clear_error() -> None:
    with pytest.raises(InputError, match=r"ranges that launched kernels: .*decode"):
        rq.per_request(lat.instances(load_timing(EAGER)), "^request$")
