"""End-to-end recordings on a real GPU with ncu (marker ``gpu``; skipped unless
ROOFPROF_GPU_TESTS=1). Run on a GPU host from the repository root:

    ROOFPROF_GPU_TESTS=1 python -m pytest -m gpu tests/test_gpu.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import roofprof
from tests.conftest import ROOT

pytestmark = pytest.mark.gpu

KNOWN = str(ROOT / "fixtures" / "workloads" / "known_work.py")


def roofprof_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "roofprof", *args]


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(roofprof_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, check=False)


def test_record_known_work_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "kw"
    done = run("record", "-q", "-o", str(out), "--range", "gemm_bf16", "--range", "mul_fp32",
               "--", sys.executable, KNOWN, "gemm_bf16", "mul_fp32")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "kw.ncu-rep").exists()
    k = roofprof.load(tmp_path / "kw.parquet").kernels.set_index("range")
    assert k.loc["gemm_bf16", "flop_tensor_bf16"] == 2 * 1024 * 2048 * 4096
    assert k.loc["mul_fp32", "flop_fp32"] == 2**26
    assert "NCCL kernels are left out" in done.stderr
    assert "known_work: ran gemm_bf16" in done.stdout  # the program's own output gets through


def test_record_llama_example_prefill_and_decode(tmp_path: Path) -> None:
    out = tmp_path / "llama"
    done = run("record", "-q", "-o", str(out), "--range", "prefill", "--range", "decode", "--",
               sys.executable, str(ROOT / "examples" / "llama_generate.py"), "--layers", "1",
               "--hidden", "256", "--heads", "4", "--kv-heads", "2", "--vocab", "1000",
               "--prompt", "64", "--new-tokens", "3")
    assert done.returncode == 0, done.stderr
    k = roofprof.load(tmp_path / "llama.parquet").kernels
    assert set(k["range"]) == {"prefill", "decode"}
    assert k["flop_tensor_bf16"].sum() > 0


def test_record_annotated_llama_attributes_phases_and_ops(tmp_path: Path) -> None:
    """roofprof.torch.annotate + mark_phases on CUDA, eager attention: every kernel gets its
    phase and op, and the eager attention GEMMs come out as Q.K^T then P.V per call."""
    out = tmp_path / "ann"
    done = run("record", "-q", "-o", str(out), "--range", "prefill", "--range", "decode", "--",
               sys.executable, str(ROOT / "examples" / "llama_annotated.py"), "--layers", "1",
               "--hidden", "256", "--heads", "4", "--kv-heads", "2", "--vocab", "1000",
               "--batch", "2", "--prompt", "64", "--new-tokens", "2", "--attn", "eager")
    assert done.returncode == 0, done.stderr
    k = roofprof.load(tmp_path / "ann.parquet").kernels
    assert set(k["phase"]) == {"prefill", "decode"}
    assert not k["op"].isna().any()
    for phase, part in k.groupby("phase"):
        ops = part["op"].tolist()
        assert {"qkv_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head",
                "attention_softmax"} <= set(ops), phase
        assert ops.count("attention_qk") == ops.count("attention_pv") == 1, phase
        assert ops.index("attention_qk") < ops.index("attention_softmax") < \
            ops.index("attention_pv")
    qk = k[(k["op"] == "attention_qk") & (k["phase"] == "prefill")]["flop"].item()
    assert qk == 2 * 2 * 4 * 64 * 64 * 64  # 2·batch·heads·S²·head_dim


def test_program_exit_code_is_roofprofs(tmp_path: Path) -> None:
    prog = ("import torch; x = torch.ones(8, device='cuda'); x.add_(1); "
            "torch.cuda.synchronize(); raise SystemExit(3)")
    done = run("record", "-q", "-o", str(tmp_path / "fail"), "--", sys.executable, "-c", prog)
    assert done.returncode == 3, done.stderr
    assert "exited with code 3" in done.stderr
    assert len(roofprof.load(tmp_path / "fail.parquet")) >= 1  # what was profiled is kept


def test_no_kernels_profiled_names_the_filters(tmp_path: Path) -> None:
    done = run("record", "-q", "-o", str(tmp_path / "none"), "--range", "no_such_range", "--",
               sys.executable, KNOWN, "mul_fp32")
    assert done.returncode == 3
    assert "profiled no kernels" in done.stderr
    assert "--range no_such_range" in done.stderr
    assert "Traceback" not in done.stderr


def test_ctrl_c_stops_the_program_and_keeps_what_was_profiled(tmp_path: Path) -> None:
    out = tmp_path / "loop"
    proc = subprocess.Popen(
        roofprof_cmd("record", "-q", "-o", str(out), "--", sys.executable,
                     str(ROOT / "bench" / "tiny_kernels.py"), "100000"),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(40)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    t = roofprof.load(tmp_path / "loop.parquet")
    assert 0 < len(t) < 100000


def test_dry_run_prints_the_command_and_runs_nothing(tmp_path: Path) -> None:
    done = run("record", "--dry-run", "-o", str(tmp_path / "x"), "--", "python", "serve.py")
    assert done.returncode == 0
    assert "sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32_sparsity_off.sum.peak_sustained" \
        in done.stdout or "sparsity_off" in done.stdout
    assert not (tmp_path / "x.ncu-rep").exists()


def test_the_readmes_record_example_works_as_shown(tmp_path: Path) -> None:
    import shlex

    readme = (ROOT / "README.md").read_text()
    lines = [ln.strip() for ln in readme.splitlines()
             if ln.strip().startswith(("roofprof record -o llama", "roofprof summary llama"))]
    assert len(lines) == 2, lines
    for line in lines:
        argv = shlex.split(line)[1:]
        argv = [str(ROOT / a) if a.startswith("examples/") else a for a in argv]
        argv = [sys.executable if a == "python" else a for a in argv]
        done = subprocess.run(roofprof_cmd(*argv), capture_output=True, text=True, timeout=400,
                              cwd=tmp_path, check=False)
        assert done.returncode == 0, done.stderr
    assert "prefill" in done.stdout
    assert "decode" in done.stdout
