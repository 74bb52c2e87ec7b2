"""Run a program under Nsight Compute with roofprof's metric set.

This module wraps the ``ncu`` binary: it finds it, builds its argv as a list from the metric
table and the user's options, runs it with ``LC_ALL=C`` (numbers never localised), forwards the
program's own output, turns ncu's ``==PROF==`` lines into progress events, and maps ncu's
failures to :class:`~roofprof.errors.NcuError` with the fix. It never prints: output goes through
the callbacks the caller passes. The options and the command line they make are
:mod:`roofprof.capture.ncu_command`'s (imported here, where callers have always found them).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO

from parsers.nvidia_tools import find_ncu
from roofprof.capture.ncu_command import (
    RecordOptions,
    build_ncu_command,
    describe_filters,
    parquet_path,
    report_path,
)
from roofprof.errors import NcuError, NcuNotFoundError, UsageError, option
from roofprof.tables.metrics import record_metrics

_PROFILING = re.compile(r'==PROF== Profiling "(?P<name>[^"]*)"')
_PASSES = re.compile(r"(?P<passes>\d+) pass(?:es)?\s*$")
_APP_ERROR = re.compile(r"application returned an error code \((?P<code>-?\d+)\)")
_METRIC_LINE = re.compile(r"^([a-z0-9]+__[A-Za-z0-9_]+)\s")


@dataclass
class Progress:
    """Live state of a recording, updated from ncu's ``==PROF==`` lines."""

    started: float = field(default_factory=time.monotonic)
    kernels: int = 0
    passes: int = 0
    current: str = ""
    processes: int = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


@dataclass
class RecordResult:
    report: Path
    returncode: int
    kernels: int
    interrupted: bool
    argv: list[str]
    ncu_messages: list[str]
    #: ncu said the program returned an error code (else a non-zero returncode is ncu's own)
    program_failed: bool = False


def available_metrics(ncu: str, chip: str | None = None, device: str | None = None) -> set[str]:
    """Base metric names the target GPU (or ``chip``) supports, from ``ncu --query-metrics``."""
    argv = [ncu, "--query-metrics"]
    if chip:
        argv += ["--chip", chip]
    elif device:
        argv += ["--devices", device.split(",")[0]]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=_ncu_env(), timeout=120,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NcuError(f"could not run {' '.join(argv)}: {exc}") from exc
    names = {m.group(1) for line in done.stdout.splitlines() if (m := _METRIC_LINE.match(line))}
    if done.returncode != 0 or not names:
        tail = _tail(done.stdout + done.stderr)
        raise NcuError(
            f"`{' '.join(argv)}` could not list the GPU's metrics (exit {done.returncode}): "
            f"{tail or 'no output'}. Pass {option('chip')} NAME (see `ncu --list-chips`) to "
            "record for a named chip"
        )
    return names


def _ncu_env() -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"  # ncu localises numbers otherwise ("27.595.520")
    return env


def _tail(text: str, lines: int = 6) -> str:
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(kept[-lines:])


Forward = Callable[[str, bool], None]
OnProgress = Callable[[Progress], None]


class _Pump:
    """Splits ncu's streams into the program's output and ncu's own messages."""

    def __init__(self, forward: Forward, on_progress: OnProgress | None) -> None:
        self.forward = forward
        self.on_progress = on_progress
        self.progress = Progress()
        self.ncu_lines: deque[str] = deque(maxlen=200)
        self.lock = threading.Lock()

    def run(self, stream: IO[bytes], is_err: bool) -> None:
        pending = b""
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self.line(raw.decode("utf-8", "replace") + "\n", is_err)
            # ncu writes 'Profiling "k": 0%....100% - 9 passes' piecewise: show the kernel now
            if pending.startswith(b"==PROF== Profiling"):
                m = _PROFILING.search(pending.decode("utf-8", "replace"))
                if m and m.group("name") != self.progress.current:
                    with self.lock:
                        self.progress.current = m.group("name")
                    self._notify()
        if pending:
            self.line(pending.decode("utf-8", "replace"), is_err)

    def line(self, line: str, is_err: bool) -> None:
        if not line.startswith(("==PROF==", "==WARNING==", "==ERROR==")):
            self.forward(line, is_err)
            return
        text = line.rstrip("\n")
        with self.lock:
            self.ncu_lines.append(text)
            m = _PROFILING.search(text)
            if m:
                self.progress.current = m.group("name")
                p = _PASSES.search(text)
                if p:
                    self.progress.kernels += 1
                    self.progress.passes += int(p.group("passes"))
            elif text.startswith("==PROF== Connected to process"):
                self.progress.processes += 1
        self._notify()
        if text.startswith(("==WARNING==", "==ERROR==")):
            self.forward(text + "\n", True)

    def _notify(self) -> None:
        if self.on_progress:
            self.on_progress(self.progress)


def _default_forward(text: str, is_err: bool) -> None:
    stream = sys.stderr if is_err else sys.stdout
    stream.write(text)
    stream.flush()


def run_ncu(argv: list[str], report: Path, forward: Forward | None = None,
            on_progress: OnProgress | None = None) -> RecordResult:
    """Run ncu, forward the program's output, and report how it ended.

    Ctrl-C (KeyboardInterrupt) sends SIGINT to ncu's process group once; ncu then stops the
    program and writes what it profiled, which the caller may still convert. A second Ctrl-C
    terminates ncu.
    """
    pump = _Pump(forward or _default_forward, on_progress)
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_ncu_env(), process_group=0)  # own group: one SIGINT on Ctrl-C
    except OSError as exc:
        raise NcuError(f"could not start {argv[0]}: {exc}") from exc
    assert proc.stdout is not None
    assert proc.stderr is not None
    threads = [threading.Thread(target=pump.run, args=(s, err), daemon=True)
               for s, err in ((proc.stdout, False), (proc.stderr, True))]
    for t in threads:
        t.start()
    interrupted = False
    signals = iter((signal.SIGINT, signal.SIGTERM, signal.SIGKILL))
    while True:
        try:
            returncode = proc.wait()
            break
        except KeyboardInterrupt:
            interrupted = True
            sig = next(signals, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
    for t in threads:
        t.join(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
    messages = list(pump.ncu_lines)
    program_failed = False
    for line in messages:
        m = _APP_ERROR.search(line)
        if m:
            program_failed = True
            if returncode == 0:
                returncode = int(m.group("code"))
    return RecordResult(report=report, returncode=returncode, kernels=pump.progress.kernels,
                        interrupted=interrupted, argv=argv, ncu_messages=messages,
                        program_failed=program_failed)


def diagnose(result: RecordResult, opts: RecordOptions) -> NcuError | None:
    """Turn ncu's messages into one clear error, or None when a report was written."""
    text = "\n".join(result.ncu_messages)
    if "ERR_NVGPUCTRPERM" in text:
        return NcuError(
            "ncu may not read the GPU's performance counters (ERR_NVGPUCTRPERM): run as root, or "
            "allow all users with the nvidia driver option NVreg_RestrictProfilingToAdminUsers=0 "
            "(see https://developer.nvidia.com/ERR_NVGPUCTRPERM)"
        )
    if result.report.exists() and result.kernels > 0:
        return None
    if result.kernels == 0 and not result.interrupted:
        filters = describe_filters(opts)
        return NcuError(
            "ncu profiled no kernels"
            + (f" with these filters: {filters}; check them against the program's NVTX ranges "
               "and kernel names" if filters else "; did the program launch any GPU kernel?")
            + (f" (ncu said: {_tail(text, 3)})" if text else "")
        )
    if not result.report.exists():
        return NcuError(f"ncu wrote no report {result.report} (exit {result.returncode}): "
                        f"{_tail(text) or 'no message'}")
    return None


class ProgramNotFoundError(UsageError):
    """The program to profile does not exist (the shell's exit code for it)."""

    exit_code = 127


def check_program(command: Sequence[str]) -> None:
    """Refuse a program that cannot be started, before ncu runs it and reports no kernels."""
    if not command:
        raise UsageError("no program given; put it after --: roofprof record -o run -- "
                         "python serve.py")
    program = command[0]
    if os.sep in program:
        if not os.path.isfile(program):
            raise ProgramNotFoundError(f"{program}: program not found (no such file)")
        if not os.access(program, os.X_OK):
            raise ProgramNotFoundError(f"{program}: not executable; chmod +x it or run it "
                                       "through its interpreter (python script.py)")
    elif shutil.which(program) is None:
        raise ProgramNotFoundError(f"{program}: program not found on PATH; check its name, or "
                                   "give its path")


def prepare(opts: RecordOptions, dry_run: bool = False) -> tuple[str, list[str]]:
    """Find ncu, ask it which metrics the GPU has, and build the command line.

    A dry run for a named ``chip`` needs no ncu: the metric lists of the chips roofprof knows
    (``roofprof/data/ncu_metrics``, from ``ncu --query-metrics --chip``) say what it has.
    """
    if not dry_run:
        check_program(opts.command)
    try:
        ncu = find_ncu(opts.ncu)
    except NcuNotFoundError:
        if not (dry_run and opts.chip):
            raise
        return "ncu", build_ncu_command(opts, "ncu", record_metrics(known_chip(opts.chip)))
    for out in (report_path(opts.output), parquet_path(opts.output)):
        if out.exists() and not opts.force and not dry_run:
            raise UsageError(f"{out} exists; pass {option('force')} to overwrite it or choose "
                             f"another {option('output')}")
    metrics = record_metrics(available_metrics(ncu, opts.chip, opts.device))
    return ncu, build_ncu_command(opts, ncu, metrics)


def known_chips() -> list[str]:
    folder = resources.files("roofprof") / "data" / "ncu_metrics"
    return sorted(p.name.removesuffix(".txt") for p in folder.iterdir()
                  if p.name.endswith(".txt"))


def known_chip(chip: str) -> set[str]:
    """The base metric names of a chip roofprof ships a list for (``gh100``, ``ga100``...)."""
    name = chip.lower()
    if name not in known_chips():
        raise UsageError(f"no metric list for chip {chip!r} without ncu; roofprof knows "
                         f"{', '.join(known_chips())} (or install ncu to ask it)")
    text = (resources.files("roofprof") / "data" / "ncu_metrics" / f"{name}.txt").read_text()
    return {line.split()[0] for line in text.splitlines() if line.strip()}
