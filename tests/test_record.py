"""``roofprof record`` on the CPU, against a fake ``ncu`` (tests/fake_ncu.py) on PATH.

The fake answers ``--query-metrics`` with a real chip's metric list, logs the argv and the
environment it got, runs the program and copies a real report into place. Most tests run the CLI
in-process (CliRunner); Ctrl-C runs it as a process, because signals and process groups matter.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import roofprof
from roofprof.capture import record as rec
from roofprof.cli import main
from roofprof.tables.metrics import LAUNCH_METRICS, record_metrics
from roofprof.tables.sampling import from_ncu_argv
from tests.conftest import ROOT

FAKE = Path(__file__).with_name("fake_ncu.py")
METRIC_LISTS = ROOT / "roofprof" / "data" / "ncu_metrics"
#: a program that prints to both streams and exits 0
PROG = [sys.executable, "-c",
        "import sys; print('program says hi'); print('program complains', file=sys.stderr)"]


def chip_metrics(chip: str) -> set[str]:
    return set((METRIC_LISTS / f"{chip}.txt").read_text().split())


@dataclass
class FakeNcu:
    exe: Path
    log: Path
    marker: Path

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def queries(self) -> list[list[str]]:
        return [c["argv"] for c in self.calls() if "--query-metrics" in c["argv"]]

    def profiles(self) -> list[list[str]]:
        return [c["argv"] for c in self.calls() if "--query-metrics" not in c["argv"]]

    def profile_argv(self) -> list[str]:
        runs = self.profiles()
        assert len(runs) == 1, runs
        return runs[0]


def write_ncu(bindir: Path) -> Path:
    """An executable named ncu that runs the fake with this interpreter (PATH may lack python)."""
    bindir.mkdir(parents=True, exist_ok=True)
    exe = bindir / "ncu"
    exe.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE))} "$@"\n')
    exe.chmod(0o755)
    return exe


@pytest.fixture
def ncu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeNcu:
    exe = write_ncu(tmp_path / "bin")
    fake = FakeNcu(exe=exe, log=tmp_path / "ncu_argv.jsonl", marker=tmp_path / "marker")
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("ROOFPROF_NCU", raising=False)
    monkeypatch.delenv("FAKE_NCU_MODE", raising=False)
    monkeypatch.delenv("FAKE_NCU_KERNELS", raising=False)
    monkeypatch.setenv("FAKE_NCU_ARGV", str(fake.log))
    monkeypatch.setenv("FAKE_NCU_MARKER", str(fake.marker))
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")  # ncu must get C whatever the user has
    monkeypatch.chdir(tmp_path)
    return fake


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, ["record", *args], catch_exceptions=False)
    assert "Traceback" not in result.stderr
    return result


def record_argv(ncu: FakeNcu, *options: str, command: list[str] | None = None) -> list[str]:
    """The argv the fake ncu got for a recording with these options (no conversion)."""
    result = invoke("-o", "t", "--no-convert", *options, "--", *(command or PROG))
    assert result.exit_code == 0, result.stderr
    return ncu.profile_argv()


def value(argv: list[str], option: str) -> str:
    assert argv.count(option) == 1, (option, argv)
    return argv[argv.index(option) + 1]


def ncu_options(argv: list[str], command: list[str]) -> list[str]:
    assert argv[-len(command):] == command
    return argv[: -len(command)]


# ------------------------------------------------------------------------------------ argv


def test_metric_list_is_the_metric_tables_for_the_local_gpu(ncu: FakeNcu) -> None:
    argv = record_argv(ncu)
    assert value(argv, "--metrics").split(",") == [*record_metrics(chip_metrics("gh100")),
                                                   *LAUNCH_METRICS]
    assert ncu.queries() == [["--query-metrics"]]


def test_default_options(ncu: FakeNcu) -> None:
    argv = record_argv(ncu)
    opts = ncu_options(argv, PROG)
    assert "--nvtx" in opts
    assert value(opts, "--target-processes") == "all"
    assert value(opts, "--clock-control") == "none"
    assert value(opts, "--cache-control") == "all"
    assert value(opts, "--replay-mode") == "kernel"
    assert value(opts, "--nvtx-push-pop-scope") == "thread"
    assert value(opts, "--import-sass") == "no"
    assert value(opts, "--print-summary") == "none"
    assert value(opts, "-o") == "t"
    assert value(opts, "--kernel-name") == "regex:^(?!nccl)"
    for absent in ("-f", "--nvtx-include", "--nvtx-exclude", "--launch-skip", "--launch-count",
                   "--filter-mode", "--devices"):
        assert absent not in opts


def test_ranges_map_to_nvtx_filters(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--range", "decode", "--range", "prefill/",
                                   "--exclude-range", "warmup"), PROG)
    pairs = [(o, v) for o, v in itertools.pairwise(opts)
             if o in ("--nvtx-include", "--nvtx-exclude")]
    assert pairs == [("--nvtx-include", "decode/"), ("--nvtx-include", "prefill/"),
                     ("--nvtx-exclude", "warmup/")]


def test_kernel_skip_count(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--kernel", "gemm", "--skip", "5", "--count", "7"), PROG)
    assert value(opts, "--launch-skip") == "5"
    assert value(opts, "--launch-count") == "7"
    assert "--filter-mode" not in opts
    kfilter = value(opts, "--kernel-name")
    assert kfilter == "regex:^(?!nccl)(?=.*(?:gemm))"
    pattern = re.compile(kfilter.removeprefix("regex:"))
    assert pattern.search("ampere_sgemm_128x64_nn")
    assert not pattern.search("ncclDevKernel_AllReduce_gemm")
    assert not pattern.search("vectorized_elementwise_kernel")


def test_per_config(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--per-config", "2"), PROG)
    assert value(opts, "--filter-mode") == "per-launch-config"
    assert value(opts, "--launch-count") == "2"


def test_per_config_with_count_is_a_usage_error(ncu: FakeNcu) -> None:
    result = invoke("-o", "t", "--per-config", "2", "--count", "3", "--", *PROG)
    assert result.exit_code == 2
    assert "--per-config" in result.stderr
    assert "--count" in result.stderr
    assert ncu.profiles() == []


def test_nccl_is_left_out_by_default_and_says_so(ncu: FakeNcu) -> None:
    result = invoke("-o", "t", "--no-convert", "--", *PROG)
    assert result.exit_code == 0, result.stderr
    assert value(ncu.profile_argv(), "--kernel-name") == "regex:^(?!nccl)"
    assert "NCCL kernels are left out" in result.stderr
    assert "--include-nccl" in result.stderr


def test_include_nccl(ncu: FakeNcu) -> None:
    result = invoke("-o", "t", "--no-convert", "--include-nccl", "--", *PROG)
    assert result.exit_code == 0, result.stderr
    assert "--kernel-name" not in ncu.profile_argv()
    assert "NCCL kernels are left out" not in result.stderr


def test_include_nccl_keeps_the_users_kernel_regex(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--include-nccl", "--kernel", "^nccl"), PROG)
    assert value(opts, "--kernel-name") == "regex:^nccl"


def test_ncu_args_pass_through_and_override_roofprofs_defaults(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--ncu-args", "--cache-control none --print-units base"),
                       PROG)
    assert value(opts, "--cache-control") == "none"  # once, the user's value
    assert value(opts, "--print-units") == "base"


def test_device(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--device", "1"), PROG)
    assert value(opts, "--devices") == "1"
    assert ncu.queries() == [["--query-metrics", "--devices", "1"]]


def test_program_argv_comes_last_unchanged(ncu: FakeNcu) -> None:
    command = [sys.executable, "-c", "import sys; print(sys.argv[1:])", "--port", "1", "-f",
               "-o", "x", "--", "--range"]
    result = invoke("-o", "t", "--no-convert", "--", *command)
    assert result.exit_code == 0, result.stderr
    argv = ncu.profile_argv()
    assert argv[-len(command):] == command
    assert "-f" not in ncu_options(argv, command)
    assert "['--port', '1', '-f', '-o', 'x', '--', '--range']" in result.stdout


def test_options_after_the_program_belong_to_the_program(ncu: FakeNcu) -> None:
    # without "--": "-f" after the program's name is the program's, not roofprof's --force
    command = [sys.executable, "-c", "import sys; print(sys.argv[1:])", "-f", "x"]
    result = invoke("-o", "t", "--no-convert", *command)
    assert result.exit_code == 0, result.stderr
    argv = ncu.profile_argv()
    assert argv[-len(command):] == command
    assert "-f" not in ncu_options(argv, command)


def test_chip_is_passed_to_the_query(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--chip", "gb100", "--device", "0"), PROG)
    assert ncu.queries() == [["--query-metrics", "--chip", "gb100"]]
    assert value(opts, "--metrics").split(",") == [*record_metrics(chip_metrics("gb100")),
                                                   *LAUNCH_METRICS]


def test_ncu_runs_with_lc_all_c(ncu: FakeNcu) -> None:
    record_argv(ncu)
    calls = ncu.calls()
    assert len(calls) == 2
    assert {c["LC_ALL"] for c in calls} == {"C"}


def test_explicit_ncu_path_and_env(ncu: FakeNcu, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    other = write_ncu(tmp_path / "elsewhere")
    result = invoke("--ncu", str(other), "-o", "t", "--dry-run", "--", "prog")
    assert result.exit_code == 0, result.stderr
    assert shlex.split(result.stdout)[0] == str(other)
    monkeypatch.setenv("ROOFPROF_NCU", str(other))
    result = invoke("-o", "t", "--dry-run", "--", "prog")
    assert result.exit_code == 0, result.stderr
    assert shlex.split(result.stdout)[0] == str(other)


# --------------------------------------------------------------------------------- dry run


def test_dry_run_prints_the_command_and_runs_nothing(ncu: FakeNcu, tmp_path: Path) -> None:
    result = invoke("-o", "t", "--range", "decode", "--dry-run", "--", "python", "serve.py",
                    "--name", "a b")
    assert result.exit_code == 0, result.stderr
    argv = shlex.split(result.stdout)
    assert result.stdout == shlex.join(argv) + "\n"
    assert argv[0] == str(ncu.exe)
    assert argv[-4:] == ["python", "serve.py", "--name", "a b"]
    assert value(argv, "--nvtx-include") == "decode/"
    assert value(argv, "--metrics").split(",") == [*record_metrics(chip_metrics("gh100")),
                                                   *LAUNCH_METRICS]
    assert ncu.profiles() == []  # only the metric query ran
    assert list(tmp_path.glob("t.*")) == []


# ---------------------------------------------------------------------------- progress pump


class Sink:
    def __init__(self) -> None:
        self.lines: list[tuple[str, bool]] = []
        self.seen: list[tuple[str, int, int]] = []

    def forward(self, text: str, is_err: bool) -> None:
        self.lines.append((text, is_err))

    def on_progress(self, p: rec.Progress) -> None:
        self.seen.append((p.current, p.kernels, p.passes))


def test_pump_counts_kernels_and_passes_and_forwards_the_program() -> None:
    sink = Sink()
    pump = rec._Pump(sink.forward, sink.on_progress)
    lines = [
        ("==WARNING== Note: Running with unmodified GPU clocks.\n", True),
        ("==PROF== Connected to process 603 (/usr/bin/python3.12)\n", False),
        ('==PROF== Profiling "nvjet_sm90_tst_128x128_64x6_2..." - 0: 0%....50%....100% '
         "- 17 passes\n", False),
        ("known_work: ran gemm_bf16\n", False),
        ("a program warning on stderr\n", True),
        ("==PROF== not really ncu? it still starts like ncu\n", False),
        ('==PROF== Profiling "Kernel2" - 1: 0%....50%....100% - 9 passes\n', False),
        ("  indented ==PROF== text is the program's\n", False),
        ("==ERROR== something ncu said\n", False),
    ]
    for text, is_err in lines:
        pump.line(text, is_err)
    assert pump.progress.kernels == 2
    assert pump.progress.passes == 26
    assert pump.progress.current == "Kernel2"
    assert pump.progress.processes == 1
    assert sink.seen[-1] == ("Kernel2", 2, 26)
    assert sink.lines == [
        ("==WARNING== Note: Running with unmodified GPU clocks.\n", True),
        ("known_work: ran gemm_bf16\n", False),
        ("a program warning on stderr\n", True),
        ("  indented ==PROF== text is the program's\n", False),
        ("==ERROR== something ncu said\n", True),  # ncu's warnings and errors go to stderr
    ]
    assert "==PROF== Disconnected" not in "".join(pump.ncu_lines)
    assert pump.ncu_lines[-1] == "==ERROR== something ncu said"


def test_pump_reads_a_stream_and_shows_the_kernel_before_its_passes_end() -> None:
    sink = Sink()
    started = threading.Event()

    def on_progress(p: rec.Progress) -> None:
        sink.on_progress(p)
        if p.current == "decode_kernel":
            started.set()

    pump = rec._Pump(sink.forward, on_progress)
    r, w = os.pipe()
    with os.fdopen(r, "rb") as reader, os.fdopen(w, "wb", buffering=0) as writer:
        thread = threading.Thread(target=pump.run, args=(reader, False), daemon=True)
        thread.start()
        writer.write(b"program line one\nprogram li")
        writer.write(b'ne two\n==PROF== Profiling "decode_kernel" - 0: 0%....')
        assert started.wait(timeout=30), sink.seen
        assert sink.seen[-1] == ("decode_kernel", 0, 0)  # shown, not yet counted
        writer.write(b"50%....100% - 9 passes\nno newline at the end")
        writer.close()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert sink.seen[-1] == ("decode_kernel", 1, 9)
    assert sink.lines == [("program line one\n", False), ("program line two\n", False),
                          ("no newline at the end", False)]


# ----------------------------------------------------------------------------- success path


def test_record_writes_report_and_parquet(ncu: FakeNcu, tmp_path: Path) -> None:
    result = invoke("-o", "run", "--", *PROG)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "run.ncu-rep").exists()
    trace = roofprof.load(tmp_path / "run.parquet")
    assert len(trace.kernels) == 10  # what fixtures/known_work.ncu-rep holds
    assert "3 kernels profiled" in result.stderr
    # the program's streams stay apart; ncu's progress lines are consumed, its notes shown
    assert "program says hi" in result.stdout
    assert "program says hi" not in result.stderr
    assert "program complains" in result.stderr
    assert "program complains" not in result.stdout
    assert "==PROF==" not in result.stdout + result.stderr
    assert "==WARNING== Note: Running with unmodified GPU clocks" in result.stderr


@pytest.mark.parametrize("output", ["t.parquet", "t.ncu-rep", "t"])
def test_output_suffix_picks_the_same_stem(ncu: FakeNcu, tmp_path: Path, output: str) -> None:
    result = invoke("-o", output, "--", *PROG)
    assert result.exit_code == 0, result.stderr
    assert value(ncu.profile_argv(), "-o") == "t"
    assert sorted(p.name for p in tmp_path.glob("t.*")) == ["t.ncu-rep", "t.parquet"]


def test_existing_report_needs_force(ncu: FakeNcu, tmp_path: Path) -> None:
    (tmp_path / "t.ncu-rep").write_bytes(b"old")
    result = invoke("-o", "t", "--", *PROG)
    assert result.exit_code == 2
    assert "t.ncu-rep exists" in result.stderr
    assert "--force" in result.stderr
    assert ncu.calls() == []
    assert (tmp_path / "t.ncu-rep").read_bytes() == b"old"

    result = invoke("-o", "t", "--force", "--", *PROG)
    assert result.exit_code == 0, result.stderr
    assert "-f" in ncu.profile_argv()
    assert (tmp_path / "t.ncu-rep").read_bytes() != b"old"


def test_kernel_count_comes_from_ncus_lines(ncu: FakeNcu, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NCU_KERNELS", "7")
    result = invoke("-o", "t", "--no-convert", "--", *PROG)
    assert result.exit_code == 0, result.stderr
    assert "7 kernels profiled" in result.stderr


# ------------------------------------------------------------------------------ failures


def test_program_exit_code_is_roofprofs(ncu: FakeNcu, tmp_path: Path) -> None:
    result = invoke("-o", "fail", "--", sys.executable, "-c",
                    "print('about to fail'); raise SystemExit(3)")
    assert result.exit_code == 3
    assert "the program exited with code 3" in result.stderr
    assert "about to fail" in result.stdout
    assert len(roofprof.load(tmp_path / "fail.parquet").kernels) == 10  # still converted


def test_ncu_not_found(ncu: FakeNcu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import glob

    if os.path.exists("/usr/local/cuda/bin/ncu") or glob.glob("/opt/nvidia/nsight-compute/*/ncu"):
        pytest.skip("this host has ncu in a place find_ncu always looks")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = invoke("-o", "t", "--", *PROG)
    assert result.exit_code == 127
    for place in ("PATH", "/usr/local/cuda/bin/ncu", "/opt/nvidia/nsight-compute/*/ncu",
                  "--ncu", "ROOFPROF_NCU"):
        assert place in result.stderr


@pytest.mark.parametrize("how", ["option", "env"])
def test_named_ncu_that_does_not_exist(ncu: FakeNcu, monkeypatch: pytest.MonkeyPatch,
                                       how: str) -> None:
    if how == "option":
        result = invoke("--ncu", "/nonexistent/ncu", "-o", "t", "--", *PROG)
    else:
        monkeypatch.setenv("ROOFPROF_NCU", "/nonexistent/ncu")
        result = invoke("-o", "t", "--", *PROG)
    assert result.exit_code == 127
    assert "/nonexistent/ncu" in result.stderr
    assert "not an executable file" in result.stderr
    assert ("--ncu" if how == "option" else "$ROOFPROF_NCU") in result.stderr
    assert ncu.calls() == []  # never falls back to the ncu on PATH


def test_counters_not_permitted(ncu: FakeNcu, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NCU_MODE", "perm")
    result = invoke("-o", "t", "--", *PROG)
    assert result.exit_code == 3
    assert "ERR_NVGPUCTRPERM" in result.stderr
    assert "NVreg_RestrictProfilingToAdminUsers" in result.stderr
    assert "the program exited" not in result.stderr  # ncu failed; the program never ran
    assert list(tmp_path.glob("t.*")) == []


def test_no_kernels_names_the_filters(ncu: FakeNcu, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NCU_MODE", "nokernels")
    result = invoke("-o", "t", "--range", "decode", "--kernel", "gemm", "--", *PROG)
    assert result.exit_code == 3
    assert "profiled no kernels" in result.stderr
    assert "--range decode" in result.stderr
    assert "--kernel gemm" in result.stderr
    assert "No kernels were profiled" in result.stderr
    assert list(tmp_path.glob("t.*")) == []


def test_no_kernels_without_filters_asks_about_the_program(
        ncu: FakeNcu, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NCU_MODE", "nokernels")
    result = invoke("-o", "t", "--", *PROG)
    assert result.exit_code == 3
    assert "did the program launch any GPU kernel" in result.stderr


def test_query_failure_suggests_chip(ncu: FakeNcu) -> None:
    result = invoke("-o", "t", "--chip", "nosuchchip", "--", *PROG)
    assert result.exit_code == 3
    assert "Invalid chip name" in result.stderr
    assert "--chip" in result.stderr
    assert ncu.profiles() == []


# -------------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_stops_ncu_and_keeps_what_was_profiled(ncu: FakeNcu, tmp_path: Path) -> None:
    # the program dies quietly on SIGINT (Python's KeyboardInterrupt would print a traceback)
    program = [sys.executable, "-c", "import signal, time; "
               "signal.signal(signal.SIGINT, signal.SIG_DFL); time.sleep(60)"]
    env = {**os.environ, "FAKE_NCU_MODE": "slow", "PYTHONPATH": str(ROOT)}
    with open(tmp_path / "out", "w+") as out, open(tmp_path / "err", "w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "roofprof", "record", "-q", "-o", "loop", "--", *program],
            stdout=out, stderr=err, env=env, cwd=tmp_path)
        try:
            # wait (no timing assumptions) until ncu is profiling, then Ctrl-C roofprof only
            deadline = time.monotonic() + 60  # a safety net against hanging, not a timing test
            while not (ncu.marker.exists() and len(ncu.marker.read_text().split()) >= 2):
                assert proc.poll() is None, (tmp_path / "err").read_text()
                assert time.monotonic() < deadline, "ncu never started profiling"
                threading.Event().wait(0.02)
            os.kill(proc.pid, signal.SIGINT)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stderr = (tmp_path / "err").read_text()
    assert code == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert (tmp_path / "loop.ncu-rep").exists()
    assert len(roofprof.load(tmp_path / "loop.parquet").kernels) == 10
    assert ncu.profile_argv()[-len(program):] == program


def test_existing_parquet_needs_force_too(ncu: FakeNcu, tmp_path: Path) -> None:
    (tmp_path / "t.parquet").write_bytes(b"old trace")
    result = invoke("-o", "t", "--", *PROG)
    assert result.exit_code == 2
    assert "t.parquet exists" in result.stderr
    assert ncu.calls() == []


def test_dry_run_does_not_mind_existing_outputs(ncu: FakeNcu, tmp_path: Path) -> None:
    (tmp_path / "t.ncu-rep").write_bytes(b"old")
    result = invoke("--dry-run", "-o", "t", "--", *PROG)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "t.ncu-rep").read_bytes() == b"old"


def test_without_ncu_report_the_report_is_read_through_ncus_csv_export(
        ncu: FakeNcu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A GPU host without the ncu-report package: convert through `ncu --import ... --csv`."""
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def no_ncu_report(name: str, *args: object) -> object:
        return None if name == "ncu_report" else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", no_ncu_report)
    result = invoke("-o", "run", "--", *PROG)
    assert result.exit_code == 0, result.stderr
    # roofprof's own reader needs neither; NVIDIA's reader falls back to ncu's CSV export
    assert not [c for c in ncu.calls() if c["argv"][:1] == ["--import"]]
    trace = roofprof.load(tmp_path / "run.ncu-rep", reader="ncu-report")
    imports = [c["argv"] for c in ncu.calls() if c["argv"][:1] == ["--import"]]
    assert imports == [["--import", str(tmp_path / "run.ncu-rep"), "--csv", "--page", "raw",
                        "--print-units", "base"]]
    assert trace.meta["formats"] == ["ncu-rep (via ncu --csv)"]
    assert trace.kernels["process_id"].notna().all()  # the CSV export carries it


def test_status_line_stays_below_the_programs_output(capsys: pytest.CaptureFixture[str]) -> None:
    from roofprof.cli.capture import StatusLine

    status = StatusLine(enabled=True)
    status.show("roofprof: 1 kernels profiled, 9 passes, 3 s | gemm")
    status.forward("program line\n", False)
    status.forward("program warning\n", True)
    status.clear()
    out, err = capsys.readouterr()
    assert out == "program line\n"
    # the status is erased before each program line on stderr and drawn again after it
    assert err.count("\r\x1b[K") == 4
    assert err.endswith("\r\x1b[K")
    assert "program warning\n" in err
    assert err.count("gemm") == 3
    quiet = StatusLine(enabled=False)
    quiet.show("x")
    quiet.forward("y\n", True)
    assert capsys.readouterr().err == "y\n"


def test_dry_run_for_a_named_chip_needs_no_ncu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                ) -> None:
    """Issue 9: `record --dry-run --chip gh100` works where ncu is not installed."""
    from click.testing import CliRunner

    from roofprof.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no ncu anywhere on PATH
    monkeypatch.delenv("ROOFPROF_NCU", raising=False)
    monkeypatch.setattr("parsers.nvidia_tools.glob.glob", lambda _p: [])
    monkeypatch.setattr("parsers.nvidia_tools.os.path.isfile", lambda _p: False)
    result = CliRunner().invoke(main, ["record", "--dry-run", "--chip", "gh100", "-o",
                                       str(tmp_path / "run"), "--", "python", "serve.py"])
    assert result.exit_code == 0, result.output
    argv = result.output.split()
    assert argv[0] == "ncu"
    metrics = argv[argv.index("--metrics") + 1].split(",")
    # Hopper: the dense BF16 peak from the hgmma sparsity-off breakdown, not the sparse one
    assert ("sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32_sparsity_off.sum.peak_sustained"
            in metrics)
    result = CliRunner().invoke(main, ["record", "--dry-run", "--chip", "zz999", "-o",
                                       str(tmp_path / "run"), "--", "python", "serve.py"])
    assert result.exit_code == 2
    assert "no metric list for chip 'zz999'" in result.output


def test_per_config_matches_mangled_names_so_template_instances_count(ncu: FakeNcu) -> None:
    """ncu's per-launch-config filter keys on the name base: by function name one
    ``vectorized_elementwise_kernel`` functor stands for all; mangled names tell them apart."""
    opts = ncu_options(record_argv(ncu, "--per-config", "1"), PROG)
    assert value(opts, "--kernel-name-base") == "mangled"
    pattern = re.compile(value(opts, "--kernel-name").removeprefix("regex:"))
    assert not pattern.search("_Z40ncclDevKernel_AllReduce_Sum_bf16_RING_LL24ncclDevKernelArgs")
    assert not pattern.search("ncclDevKernel_Generic")
    assert pattern.search("_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_11FillFunctor")
    assert pattern.search("nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT")
    # the recording still reads as a whole run's sample, its NCCL filter as roofprof's own
    facts = from_ncu_argv(opts)
    assert facts["kind"] == "sample"
    assert not any("only kernels matching" in r for r in facts["reasons"])


def test_per_config_anchored_kernel_regex_skips_the_mangling(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--per-config", "1", "--kernel", "^vectorized"), PROG)
    pattern = re.compile(value(opts, "--kernel-name").removeprefix("regex:"))
    assert pattern.search("_ZN2at6native29vectorized_elementwise_kernelILi4E")
    assert pattern.search("vectorized_plain")
    assert not pattern.search("_ZN2at6native18elementwise_kernelILi4E")


def test_a_users_name_base_wins(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--per-config", "1", "--ncu-args",
                                   "--kernel-name-base function"), PROG)
    assert opts.count("--kernel-name-base") == 1
    assert value(opts, "--kernel-name-base") == "function"
    assert value(opts, "--kernel-name") == "regex:^(?!nccl)"


def test_without_per_config_names_are_function_names(ncu: FakeNcu) -> None:
    opts = ncu_options(record_argv(ncu, "--count", "3"), PROG)
    assert "--kernel-name-base" not in opts


def test_the_sampling_facts_know_records_own_nccl_filters() -> None:
    """roofprof.tables.sampling tells roofprof's NCCL exclusion from a user's kernel filter by its
    text: the two forms record builds must be the ones it knows."""
    from roofprof.capture.ncu_command import kernel_filter
    from roofprof.tables.sampling import DEFAULT_KERNEL_FILTERS

    assert {kernel_filter(None, False), kernel_filter(None, False, mangled=True)} == \
        set(DEFAULT_KERNEL_FILTERS)
