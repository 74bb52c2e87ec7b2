#!/usr/bin/env python3
"""A stand-in for Nsight Compute's ``ncu`` that needs no GPU (for tests/test_record.py).

It behaves like ncu 2025.3.1 as observed on an H100 (fixtures/capture_h100.log):

* ``ncu --query-metrics [--chip X] [--devices N]`` prints a ``Device ...`` header and one
  ``<base name>   <description>`` line per metric, from roofprof/data/ncu_metrics/<chip>.txt
  (gh100 unless ``--chip`` names another).
* ``ncu [options] PROGRAM ARGS`` prints ``==PROF== Connected ...``, runs PROGRAM with its
  stdout/stderr passed through, prints one ``==PROF== Profiling "..." - i: 0%....50%....100% -
  9 passes`` line per kernel ($FAKE_NCU_KERNELS, default 3), then ``Disconnected`` and ``Report``
  lines, copies fixtures/known_work.ncu-rep (a real report) to STEM.ncu-rep and exits with the
  program's exit code.

Environment knobs:

* ``FAKE_NCU_ARGV``: a file to which every invocation appends one JSON line
  ``{"argv": [...], "LC_ALL": ..., "mode": ...}``.
* ``FAKE_NCU_MARKER``: a file to which each Profiling line appends a line (tests poll it).
* ``FAKE_NCU_MODE``: ``perm`` (ERR_NVGPUCTRPERM, exit 1, no report), ``nokernels`` (a warning, no
  report), ``slow`` (Profiling lines until SIGINT, then stop the program and write the report).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METRIC_LISTS = ROOT / "roofprof" / "data" / "ncu_metrics"
REPORT = ROOT / "fixtures" / "known_work.ncu-rep"
RAW_EXPORT = REPORT.with_name("known_work_raw.csv")

#: ncu's options that take no value; every other option takes exactly one
FLAGS = {"--nvtx", "-f", "--force-overwrite", "--query-metrics"}


def prof(text: str) -> None:
    sys.stdout.write(f"==PROF== {text}\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(f"{text}\n")
    sys.stderr.flush()


def split(argv: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """ncu's options (name -> values) and the program's argv (everything from the first
    non-option on, untouched)."""
    opts: dict[str, list[str]] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name = argv[i]
        if name in FLAGS:
            opts.setdefault(name, []).append("")
            i += 1
        else:
            opts.setdefault(name, []).append(argv[i + 1])
            i += 2
    return opts, argv[i:]


def query_metrics(opts: dict[str, list[str]]) -> int:
    chip = opts.get("--chip", ["gh100"])[-1].lower()
    names = METRIC_LISTS / f"{chip}.txt"
    if not names.exists():
        err(f"==ERROR== Invalid chip name '{chip}'")
        return 1
    print("Device NVIDIA H100 80GB HBM3 (GH100)")
    for name in names.read_text().split():
        print(f"{name:<60} Counter description of {name}")
    return 0


def profile(opts: dict[str, list[str]], program: list[str], mode: str) -> int:
    marker = os.environ.get("FAKE_NCU_MARKER")
    stem = opts.get("-o", ["report"])[-1]
    report = stem if stem.endswith(".ncu-rep") else stem + ".ncu-rep"
    if mode == "perm":
        err("==ERROR== ERR_NVGPUCTRPERM - The user does not have permission to access NVIDIA GPU "
            "Performance Counters on the target device 0. For instructions on enabling "
            "permissions and to get more information see "
            "https://developer.nvidia.com/ERR_NVGPUCTRPERM")
        return 1
    err("==WARNING== Note: Running with unmodified GPU clocks. If not controlled otherwise, "
        "profiling results may be inconsistent.")
    stop = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_sigint)
    child = subprocess.Popen(program)  # inherits stdout/stderr and the process group
    prof(f"Connected to process {child.pid} ({sys.executable})")
    kernels = 0 if mode == "nokernels" else int(os.environ.get("FAKE_NCU_KERNELS", "3"))
    i = 0
    while (mode == "slow" and not stop) or (mode != "slow" and i < kernels):
        prof(f'Profiling "kernel_{i}" - {i}: 0%....50%....100% - 9 passes')
        if marker:
            with open(marker, "a") as f:
                f.write(f"kernel_{i}\n")
        i += 1
        if mode == "slow":
            time.sleep(0.05)
    code = child.wait()
    if code < 0:  # killed by a signal: report it the shell's way
        code = 128 - code
    prof(f"Disconnected from process {child.pid}")
    if code != 0:
        err(f"==ERROR== The application returned an error code ({code}).")
    if i == 0:
        err("==WARNING== No kernels were profiled.")
        return code
    shutil.copyfile(REPORT, report)
    prof(f"Report: {os.path.abspath(report)}")
    return code


def main() -> int:
    argv = sys.argv[1:]
    mode = os.environ.get("FAKE_NCU_MODE", "")
    log = os.environ.get("FAKE_NCU_ARGV")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"argv": argv, "LC_ALL": os.environ.get("LC_ALL"),
                                "mode": mode}) + "\n")
    if argv[:1] == ["--import"]:  # ncu --import R --csv --page raw --print-units base
        sys.stdout.write(RAW_EXPORT.read_text())
        return 0
    opts, program = split(argv)
    if "--query-metrics" in opts:
        return query_metrics(opts)
    if not program:
        err("==ERROR== No application to profile")
        return 1
    return profile(opts, program, mode)


if __name__ == "__main__":
    sys.exit(main())
