"""The benchmark scripts still run (issue 25): each ``bench/*.py`` imports and answers
``--help`` (argparse: never a traceback, never ``--help`` taken as a file name); each one that
needs no GPU runs on a tiny input in seconds and prints its numbers; the shell scripts parse.
A script added to bench/ must be listed here as a GPU script or with its tiny input."""

from __future__ import annotations

import contextlib
import io
import pickle
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BENCH = ROOT / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py"))

#: scripts that need a GPU host (ncu, CUPTI with a driver, torch with CUDA, transformers):
#: only their --help runs here
GPU = {"bench_production.py", "bench_trace_overhead.py", "cupti_probe.py", "decode_loop.py",
       "inprocess_ab.py", "instances_check.py", "tiny_kernels.py"}
#: scripts whose --help builds its options from examples/_llama.py, which imports torch
NEEDS_TORCH = {"decode_loop.py"}

#: every other script: its arguments on a tiny input ({tmp}: a folder of this test module),
#: and a line fragment its output must hold (its numbers were printed)
TINY: dict[str, tuple[list[str], str]] = {
    "bench_convert.py": (["--repeat", "1", str(ROOT / "fixtures" / "mul_full.ncu-rep")],
                         "mul_full.ncu-rep               "),
    "bench_csv.py": (["--rows", "200", "--extra", "0"], "    200     415"),
    # the dataset benches share one dataset of 6,400 kernels: whichever runs first builds it
    "bench_dataset.py": (["--kernels", "6400", "--dir", "{tmp}/ds", "--quick"],
                         "roofprof summary --by phase --engine duckdb --format csv: "),
    "bench_dataset_plot.py": (["--kernels", "6400", "--dir", "{tmp}/ds", "-o", "{tmp}/plots",
                               "--quick"], "roofprof plot DIR --by phase -o phase.png: "),
    "bench_ranks.py": (["--kernels", "6400", "--dir", "{tmp}/ds", "--quick"],
                       "roofprof ranks --by phase --format csv: "),
    "bench_summary_plot.py": (["--kernels", "2000", "-o", "{tmp}/summary_plot", "--quick"],
                              "plot PNG (dram)"),
    "bench_join.py": (["--launches", "20000", "--samples", "200"],
                      "join of 20,000 timed launches with 200 samples: "),
    "bench_trace_table.py": (["--launches", "2000", "-o", "{tmp}/timing.parquet"],
                             "write timing.parquet: "),
    "bench_kineto_read.py": (["--events", "5000"], "load_timing: wall_s "),
    "dump_tables.py": (["--compare", "{tmp}/before.pickle", "{tmp}/after.pickle"],
                       "1 outputs compared, 0 differ in values"),
}


def test_every_script_is_listed() -> None:
    assert sorted(GPU | set(TINY)) == SCRIPTS
    assert not GPU & set(TINY)


@pytest.mark.parametrize("name", SCRIPTS)
def test_help(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process (the imports are shared: seconds for all of them): the script as
    ``python bench/NAME --help`` runs it, its folder first on the path."""
    if name in NEEDS_TORCH:
        pytest.importorskip("torch")
    monkeypatch.setattr(sys, "argv", [str(BENCH / name), "--help"])
    monkeypatch.setattr(sys, "path", [str(BENCH), *sys.path])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        runpy.run_path(str(BENCH / name), run_name="__main__")
    assert done.value.code in (0, None)
    assert out.getvalue().startswith(f"usage: {name} "), out.getvalue()[:300]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    dump = {"x": {"columns": ["a"], "dtypes": {"a": "float64"}, "values": {"a": [1.0, None]}}}
    for name in ("before", "after"):
        (folder / f"{name}.pickle").write_bytes(pickle.dumps(dump))
    return folder


@pytest.mark.parametrize("name", sorted(TINY))
def test_runs_on_a_tiny_input(name: str, tmp: Path) -> None:
    """As a user runs it, from the repository root, in a process of its own."""
    args, fragment = TINY[name]
    done = subprocess.run([sys.executable, str(BENCH / name),
                           *(a.format(tmp=tmp) for a in args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert fragment in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize("name", sorted(p.name for p in BENCH.glob("*.sh")))
def test_shell_scripts_parse(name: str) -> None:
    done = subprocess.run(["bash", "-n", str(BENCH / name)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
