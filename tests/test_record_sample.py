"""``roofprof record --sample N`` on the CPU against the fake ncu: the sampled ncu pass, then the
timing pass (which cannot start here: no cupti-python, no GPU) fails with one clear line, and the
sampled counters are kept. The whole path runs in tests/test_gpu_timing.py on a GPU."""

from __future__ import annotations

from pathlib import Path

import roofprof
from roofprof.tables.sampling import time_shares_of
from tests.test_record import PROG, FakeNcu, invoke, ncu, value

__all__ = ["ncu"]  # the fake-ncu fixture


def test_sample_profiles_each_configuration_then_times_the_run(ncu: FakeNcu,
                                                                tmp_path: Path) -> None:
    result = invoke("-q", "-o", "t", "--sample", "2", "--", *PROG)
    argv = ncu.profile_argv()
    assert value(argv, "--filter-mode") == "per-launch-config"
    assert value(argv, "--launch-count") == "2"
    assert time_shares_of(roofprof.load(tmp_path / "t.parquet").meta) == "samples"
    assert "timing pass: every launch timed" in result.stderr
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("roofprof: error: the timing pass failed")
    assert "the sampled counters are in t.parquet" in last
    assert "tracing did not start" in result.stderr


def test_sample_excludes_per_config_and_count(ncu: FakeNcu) -> None:
    result = invoke("-o", "t", "--sample", "1", "--per-config", "2", "--", *PROG)
    assert result.exit_code == 2
    assert "--sample N already sets --per-config N" in result.stderr
    assert not ncu.profiles()
