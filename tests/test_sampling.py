"""Whether a trace's time shares are of samples or of the run (meta["sampling"])."""

from __future__ import annotations

from pathlib import Path

import pytest

import roofprof
from roofprof.capture import ncu_command as rec
from roofprof.inputs.load import convert
from roofprof.tables.sampling import from_ncu_argv, label, sampling, time_shares_of
from tests.conftest import FIXTURES

PROGRAM = ["python", "serve.py", "--launch-count", "7"]  # the program's own options: not ncu's


def argv_of(**options: object) -> list[str]:
    opts = rec.RecordOptions(command=PROGRAM, output=Path("t"), **options)  # type: ignore[arg-type]
    return rec.build_ncu_command(opts, "ncu", ["gpu__time_duration.sum"])


@pytest.mark.parametrize(("options", "kind", "reason"), [
    ({}, "run", "every launch profiled"),
    ({"per_config": 1}, "sample", "(--per-config 1)"),
    ({"count": 50}, "sample", "at most 50 launch(es)"),
    ({"skip": 10}, "sample", "first 10 launch(es) skipped"),
    ({"ranges": ["decode"]}, "filtered", "only kernels inside NVTX ranges decode/"),
    ({"kernel": "gemm"}, "filtered", "only kernels matching"),
    ({"ranges": ["decode"], "per_config": 2}, "sample", "(--per-config 2)"),
])
def test_record_options_decide_the_kind(options: dict[str, object], kind: str,
                                        reason: str) -> None:
    facts = from_ncu_argv(argv_of(**options), PROGRAM)
    assert facts["kind"] == kind
    assert any(reason in r for r in facts["reasons"]), facts


def test_a_recorded_trace_stores_its_sampling(tmp_path: Path) -> None:
    argv = argv_of(per_config=1, ranges=["prefill", "decode"])
    trace = convert([FIXTURES / "llama_small.ncu-rep"], tmp_path / "t.parquet",
                    command=PROGRAM, record_argv=argv)
    assert trace.meta["sampling"]["kind"] == "sample"
    back = roofprof.load(tmp_path / "t.parquet")
    assert time_shares_of(back.meta) == "samples"
    assert label(back.meta).startswith("sampled trace: time shares are of the profiled")


def test_older_traces_and_plain_reports() -> None:
    assert sampling({"record_argv": argv_of(count=3), "command": PROGRAM})["kind"] == "sample"
    assert time_shares_of({}) == "unknown"
    assert label({}) == ""
    assert time_shares_of({"sampling": {"kind": "run", "reasons": []}}) == "run"
