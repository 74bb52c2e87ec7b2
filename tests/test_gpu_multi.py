"""Issue 15 on 2 GPUs: the tensor-parallel example (examples/tp_llama.py, NCCL, one process per
GPU under torchrun) under ``roofprof record``, ``roofprof record --include-nccl``,
``roofprof trace`` and ``join``, and its per-rank dataset under ``roofprof ranks``.

GPU tests carry the marker ``gpu`` (skipped unless ROOFPROF_GPU_TESTS=1) and skip themselves
where fewer than 2 CUDA devices are visible. On a host with 2 or more GPUs, ncu and
cupti-python (pip install -e '.[dev,trace]'), from the repository root:

    ROOFPROF_GPU_TESTS=1 python -m pytest -m gpu tests/test_gpu_multi.py -v -rA \
        -k "not include_nccl"
    ROOFPROF_GPU_TESTS=1 python -m pytest -m gpu tests/test_gpu_multi.py -v -rA \
        -k include_nccl

(two commands, so that each stays under 10 minutes: the recording under ncu is bounded at
RECORD_S, the trace at TRACE_S, the --include-nccl recording at INCLUDE_NCCL_S seconds).

Every run is bounded: a run past its time limit is killed with all its processes (ncu and the
torchrun workers run in process groups of their own, so each descendant is found and killed),
and the test says so rather than hang. ``--include-nccl`` may hang by design (a replayed
collective waits for a peer that runs it once): that test records what happened (finished,
failed or killed at the limit) and asserts only on a finished run.

Run on 2 H200s (device kind nvidia-h200-x2, 2026-11-23, ``bash bench/gpu_issue15.sh tests``
and ``... nccl``): the 5 tests of the first command passed (254 s); ``--include-nccl`` hung
and was killed at 300 s (xfail). The recording and the trace that run made are fixtures
(fixtures/tp2_record.parquet, fixtures/tp2_timing.parquet): the same checks run on them in CI.
One more CPU test runs the per-rank dataset steps on a Kineto fixture split into two ranks.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import roofprof
from roofprof.cli import main
from roofprof.inputs.attribution import category_of
from roofprof.inputs.timing import load_timing
from roofprof.tables.columns import concat
from roofprof.tables.timing import TimingTrace, write
from tests.conftest import ROOT

EXAMPLE = str(ROOT / "examples" / "tp_llama.py")
LAYERS, NEW_TOKENS = 2, 3
MODEL = ["--layers", str(LAYERS), "--hidden", "512", "--heads", "8", "--kv-heads", "2",
         "--ffn", "1408", "--vocab", "8000", "--batch", "2", "--prompt", "64",
         "--new-tokens", str(NEW_TOKENS), "--dtype", "bfloat16"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
            "2", EXAMPLE, *MODEL]
PHASES = {"prefill", "decode"}
#: forward passes of the marked run in each phase
PASSES = {"prefill": 1, "decode": NEW_TOKENS - 1}
#: NVLink multicast (NVLS) stays off: a program using it can put shared GPUs out of service,
#: and these tests count NCCL's plain all-reduce kernels
NCCL_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
            "NVSHMEM_DISABLE_NVLS": "1"}
GPU = pytest.mark.gpu


def require_two_gpus() -> None:
    try:
        import torch
    except ImportError:
        pytest.skip("needs torch with CUDA and 2 GPUs")
    count = torch.cuda.device_count()
    if count < 2:
        pytest.skip(f"needs 2 CUDA GPUs (tensor parallel over NCCL); this machine has {count}")


@dataclass
class Ran:
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (from /proc: parents' ids), whatever its process group."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def bounded(argv: list[str], timeout: int) -> Ran:
    """Run ``argv`` from the repository root; past ``timeout`` s kill it and everything it
    started (roofprof runs ncu in a process group of its own, torchrun its workers in
    sessions of their own: a process-group kill would leave them holding the GPUs)."""
    env = {**os.environ, **NCCL_ENV}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return Ran(proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # a pipe still held open by a process not found
            out, err = "", ""
        return Ran(None, out, err)


def roofprof_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "roofprof", *args]


def finished(ran: Ran, what: str, timeout: int) -> None:
    assert not ran.timed_out, f"{what}: no result within {timeout} s; killed. {ran.stderr[-3000:]}"
    assert ran.returncode == 0, f"{what}: exit {ran.returncode}: {ran.stderr[-3000:]}"


def derived_gemms(tokens: int) -> dict[str, tuple[int, int, int]]:
    """(M, N, K) per linear GEMM of one layer on one of 2 ranks (examples/tp_llama.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tp_llama", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    tp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tp)
    args = tp.parser().parse_args(MODEL)
    table: dict[str, tuple[int, int, int]] = tp.layer_gemms(args, 2, tokens)
    return table


# ------------------------------------------------------------------------------ recordings

RECORD_S, TRACE_S, INCLUDE_NCCL_S = 360, 180, 300


def workdir(factory: pytest.TempPathFactory, name: str) -> Path:
    """Where a run writes: under ROOFPROF_GPU_KEEP when it is set (bench/gpu_issue15.sh brings
    the recordings back from the GPU host that way), else a temporary folder."""
    keep = os.environ.get("ROOFPROF_GPU_KEEP")
    if not keep:
        return factory.mktemp(name)
    path = Path(keep) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def kept(ran: Ran, where: Path, name: str) -> None:
    """The run's own output beside what it wrote."""
    (where / f"{name}.stdout.txt").write_text(ran.stdout)
    (where / f"{name}.stderr.txt").write_text(ran.stderr)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ran, Path]:
    require_two_gpus()
    out = workdir(tmp_path_factory, "record") / "tp"
    ran = bounded(roofprof_cmd("record", "-q", "-o", str(out), "--range", "prefill", "--range",
                               "decode", "--", *TORCHRUN), RECORD_S)
    kept(ran, out.parent, "record")
    finished(ran, "roofprof record of the 2-rank example", RECORD_S)
    return ran, out.with_name("tp.parquet")


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ran, Path]:
    require_two_gpus()
    out = workdir(tmp_path_factory, "trace") / "tp_timing.parquet"
    ran = bounded(roofprof_cmd("trace", "-o", str(out), "--", *TORCHRUN), TRACE_S)
    kept(ran, out.parent, "trace")
    finished(ran, "roofprof trace of the 2-rank example", TRACE_S)
    return ran, out


def per_rank(k: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """The kernels of each device; each device's kernels come from one process of its own."""
    by_device = {int(d): part for d, part in k.groupby("device")}
    pids = {d: set(part["process_id"].dropna().astype(int)) for d, part in by_device.items()}
    assert all(len(p) == 1 for p in pids.values()), pids
    assert len(set.union(*pids.values())) == len(pids), pids  # a process per rank
    return by_device


# The checks of each step: on the runs of the GPU tests, and in CI on the fixtures a run of
# these tests made on 2 H200s (fixtures/tp2_record.parquet, fixtures/tp2_timing.parquet)

def check_record(parquet: Path) -> None:
    """NCCL left out, every rank's kernels kept with their phases, the same on both ranks."""
    k = roofprof.load(parquet).kernels
    assert not k["kernel"].str.contains("nccl", case=False).any()
    assert (k["category"] != "communication").all()
    ranks = per_rank(k)
    assert set(ranks) == {0, 1}
    seen = {}
    for device, part in ranks.items():
        assert set(part["phase"]) == PHASES, device  # --range prefill --range decode
        assert (part["duration_ns"] > 0).all()
        seen[device] = part.groupby(["phase", "op", "kernel"], dropna=False).size().to_dict()
    # both ranks ran the same shapes: the same kernels, as often
    assert seen[0] == seen[1]


def check_record_gemms(parquet: Path) -> None:
    """Each rank's GEMMs do at least the work derived from their shapes, the same on both."""
    k = roofprof.load(parquet).kernels
    tokens = {"prefill": 2 * 64, "decode": 2}
    names = {"qkv_proj": ("q_proj", "k_proj", "v_proj"), "o_proj": ("o_proj",),
             "gate_proj": ("gate_proj",), "up_proj": ("up_proj",), "down_proj": ("down_proj",)}
    work = {}
    for device, part in per_rank(k).items():
        gemm = part[part["category"] == "gemm"]
        for phase, t in tokens.items():
            table = derived_gemms(t)
            for op, parts in names.items():
                useful = PASSES[phase] * LAYERS * sum(2 * m * n * kk for m, n, kk in
                                                     (table[p] for p in parts))
                got = gemm.loc[(gemm["phase"] == phase) & (gemm["op"] == op), "flop"].sum()
                # tensor-core tiles pad a GEMM, never shrink it
                assert got >= useful, (device, phase, op, got, useful)
                work[(device, phase, op)] = got
    assert {key[1:]: v for key, v in work.items() if key[0] == 0} == \
        {key[1:]: v for key, v in work.items() if key[0] == 1}


@GPU
def test_record_include_nccl_is_recorded_whatever_it_does(
        tmp_path_factory: pytest.TempPathFactory, record_property: Any) -> None:
    require_two_gpus()
    limit = INCLUDE_NCCL_S
    out = workdir(tmp_path_factory, "include_nccl") / "nccl"
    ran = bounded(roofprof_cmd("record", "-q", "-o", str(out), "--include-nccl", "--range",
                               "prefill", "--range", "decode", "--", *TORCHRUN), limit)
    kept(ran, out.parent, "include_nccl")
    if ran.timed_out:
        outcome = f"hung: no result within {limit} s, killed with its processes"
    elif ran.returncode != 0:
        outcome = f"failed: exit {ran.returncode}: {ran.stderr.strip()[-400:]}"
    else:
        outcome = "finished"
    record_property("include_nccl", outcome)
    print(f"roofprof record --include-nccl on 2 ranks: {outcome}")
    if outcome != "finished":
        pytest.xfail(f"--include-nccl {outcome}")
    assert "NCCL kernels are left out" not in ran.stderr
    k = roofprof.load(out.with_name("nccl.parquet")).kernels
    for device, part in per_rank(k).items():
        comm = part[part["kernel"].str.contains("nccl", case=False)]
        assert set(comm["category"]) == {"communication"}, device
        # one all-reduce after o_proj and one after down_proj, per layer and pass
        for phase, passes in PASSES.items():
            ops = comm.loc[comm["phase"] == phase, "op"].astype(object).value_counts().to_dict()
            assert ops == {"o_proj": LAYERS * passes, "down_proj": LAYERS * passes}, \
                (device, phase)


def check_trace(parquet: Path) -> None:
    """Every launch of every rank timed, collectives with their ops, the same on both ranks."""
    k = load_timing(parquet).kernels
    ranks = per_rank(k)
    assert set(ranks) == {0, 1}
    for device, part in ranks.items():
        assert (part["duration_ns"] > 0).all()
        assert (part["end_ns"] > part["start_ns"]).all()
        marked = part[part["phase"].isin(PHASES)]
        assert set(marked["phase"]) == PHASES, device
        comm = marked[marked["kernel"].str.contains("nccl", case=False)]
        assert set(comm["category"]) == {"communication"}, device
        for phase, passes in PASSES.items():
            ops = comm.loc[comm["phase"] == phase, "op"].astype(object).value_counts().to_dict()
            assert ops == {"o_proj": LAYERS * passes, "down_proj": LAYERS * passes}, \
                (device, phase)
            # 7 linear GEMMs per layer and the lm_head, per pass, at least one kernel each
            gemms = marked[(marked["phase"] == phase) & (marked["category"] == "gemm")]
            assert gemms["op"].notna().all()
            assert len(gemms) >= (7 * LAYERS + 1) * passes
    a, b = ranks[0], ranks[1]
    assert a.groupby(["phase", "op", "kernel"], dropna=False).size().to_dict() == \
        b.groupby(["phase", "op", "kernel"], dropna=False).size().to_dict()


def add_ranks(timing: Path, dataset: Path) -> None:
    """``roofprof convert TIMING --dataset DATASET --run tp --rank-by device``."""
    done = CliRunner().invoke(main, ["convert", str(timing), "--dataset", str(dataset),
                                     "--run", "tp", "--rank-by", "device"])
    assert done.exit_code == 0, done.output


def ranks_json(dataset: Path, *extra: str) -> list[dict[str, Any]]:
    """``roofprof ranks DATASET --by phase --format json`` (and ``extra`` options)."""
    done = CliRunner().invoke(main, ["ranks", str(dataset), "--by", "phase", "--format",
                                     "json", *extra])
    assert done.exit_code == 0, done.output
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def check_rank_view(rows: list[dict[str, Any]], comm_ns: dict[tuple[str, int], float]) -> None:
    for (phase, rank), ns in comm_ns.items():
        row = next(r for r in rows if r["group"] == phase and r["rank"] == rank)
        assert row["communication_ns"] == pytest.approx(ns, rel=1e-9)
        assert 0 < row["communication_share"] < 1
        assert row["communication_share"] == pytest.approx(ns / row["time_ns"], rel=1e-9)


def check_ranks(timing: Path, work: Path) -> list[dict[str, Any]]:
    """The trace in a dataset partition per rank: each rank's communication share, and the
    straggler the rank with the least collective time, the other's wait the difference.
    Returns the spread view's rows."""
    k = load_timing(timing).kernels
    comm = k[k["category"] == "communication"]
    expected = {(p, int(d)): float(v) for (p, d), v in
                comm.groupby(["phase", "device"])["duration_ns"].sum().items() if p in PHASES}
    assert len(expected) == 4
    add_ranks(timing, work / "ds")
    assert sorted(p.name for p in (work / "ds" / "run=tp" / "host=default").iterdir()) \
        == ["rank=0", "rank=1"]
    rows = ranks_json(work / "ds")
    check_rank_view(rows, expected)
    spread = ranks_json(work / "ds", "--view", "spread")
    assert {r["group"]: r["ranks"] for r in spread if r["group"] in PHASES} == \
        {"prefill": 2, "decode": 2}
    for phase in PHASES:  # both ranks ran the collectives: the one with less waited less
        late = min((0, 1), key=lambda d: (expected[(phase, d)], d))
        other = 1 - late
        group = next(r for r in spread if r["group"] == phase)
        assert (group["straggler"], group["straggler_by"]) == (late, "collective wait")
        wait = expected[(phase, other)] - expected[(phase, late)]
        assert group["straggler_excess_ns"] == pytest.approx(wait, rel=1e-9)
        row = next(r for r in rows if r["group"] == phase and r["rank"] == other)
        assert row["wait_ns"] == pytest.approx(wait, rel=1e-9)
        assert not row["straggler"]
    return spread


def check_join(timing: Path, record: Path) -> None:
    """Every rank's compute kernels get counters; the collectives (left out) none."""
    from roofprof.analysis.join import join

    joined = join(load_timing(timing), roofprof.load(record)).kernels
    for device, part in per_rank(joined).items():
        inside = part[part["phase"].isin(PHASES)]
        compute = inside[inside["category"] != "communication"]
        covered = compute.loc[compute["counters_from"] != "none", "duration_ns"].sum()
        assert covered / compute["duration_ns"].sum() > 0.95, device
        # the collectives were left out of the recording: no counters for them
        comm = inside[inside["category"] == "communication"]
        assert len(comm) > 0
        assert set(comm["counters_from"]) == {"none"}, device


@GPU
def test_record_leaves_nccl_out_and_keeps_every_ranks_kernels(
        recorded: tuple[Ran, Path]) -> None:
    assert "NCCL kernels are left out" in recorded[0].stderr
    check_record(recorded[1])


@GPU
def test_record_gemms_do_at_least_the_derived_work_on_each_rank(
        recorded: tuple[Ran, Path]) -> None:
    check_record_gemms(recorded[1])


@GPU
def test_trace_times_every_launch_of_every_rank_with_its_collectives(
        traced: tuple[Ran, Path]) -> None:
    check_trace(traced[1])
    # NCCL's API ranges that have no end in the trace enclose nothing, and trace says so
    # (the fixture tp2_timing.parquet was traced before: its paths all begin with the first)
    k = load_timing(traced[1]).kernels
    assert not any("ncclCommInitRankConfig" in s for s in k["nvtx"])
    assert "NCCL API range(s) have no end in the trace" in traced[0].stderr


@GPU
def test_ranks_of_the_traced_run_show_each_ranks_communication_share(
        traced: tuple[Ran, Path], tmp_path: Path) -> None:
    check_ranks(traced[1], tmp_path)


@GPU
def test_join_gives_every_ranks_compute_kernels_their_counters(
        recorded: tuple[Ran, Path], traced: tuple[Ran, Path]) -> None:
    check_join(traced[1], recorded[1])


# ------------------------------------------------- the checks on the 2-H200 run's fixtures (CPU)

TP2_RECORD = ROOT / "fixtures" / "tp2_record.parquet"
TP2_TIMING = ROOT / "fixtures" / "tp2_timing.parquet"


def test_the_2_gpu_recording_keeps_every_ranks_kernels() -> None:
    check_record(TP2_RECORD)
    assert roofprof.load(TP2_RECORD).meta["gpu"] == ["NVIDIA H200"]


def test_the_2_gpu_recordings_gemms_do_the_derived_work() -> None:
    pytest.importorskip("torch")  # the shapes come from the example, which imports torch
    check_record_gemms(TP2_RECORD)


def test_the_2_gpu_trace_times_every_launch_with_its_collectives() -> None:
    check_trace(TP2_TIMING)


def test_the_2_gpu_traces_ranks_name_the_rank_the_other_waited_for(tmp_path: Path) -> None:
    spread = check_ranks(TP2_TIMING, tmp_path)
    # measured: rank 0 reached every all-reduce late (its GPU idle in between), rank 1 waited
    # milliseconds in each phase; by time alone rank 1 would have been named
    assert {r["group"]: r["straggler"] for r in spread if r["group"] in PHASES} == \
        {"prefill": 0, "decode": 0}
    assert all(r["straggler_excess_ns"] > 1e6 for r in spread if r["group"] in PHASES)


def test_the_2_gpu_join_gives_compute_kernels_counters() -> None:
    check_join(TP2_TIMING, TP2_RECORD)


# ----------------------------------------------------------- the same steps on a fixture (CPU)


def two_rank_timing(path: Path) -> dict[tuple[str, int], float]:
    """The bundled Kineto capture made into a 2-rank timing table at ``path`` (rank 1 a copy on
    device 1, 10% slower), with all-reduce kernels of known durations added to each rank's
    decode; returns those durations' sums by (phase, rank)."""
    t = load_timing(ROOT / "fixtures" / "llama_kineto.json.gz")
    base = t.kernels
    decode = base[base["phase"] == "decode"]
    name = "ncclDevKernel_AllReduce_Sum_bf16_RING_LL"
    assert category_of(name) == "communication"
    ranks = []
    comm_ns = {}
    for rank, scale, nccl in ((0, 1.0, [12_000.0, 8_000.0]), (1, 1.1, [30_000.0])):
        # a timing table's duration is its end - start (the reader checks it): whole ns
        slower = (base["duration_ns"] * scale).round()
        part = base.assign(device=rank, process_id=100 + rank, duration_ns=slower,
                           end_ns=base["start_ns"] + slower.astype("int64"))
        first = decode.iloc[0]
        extra = pd.DataFrame([first] * len(nccl)).assign(
            kernel=name, kernel_demangled=name, category="communication", op="o_proj",
            device=rank, process_id=100 + rank, duration_ns=nccl,
            end_ns=[int(first["start_ns"]) + int(d) for d in nccl])
        ranks.append(concat([part, extra], ignore_index=True).astype(
            {c: d for c, d in part.dtypes.items() if not isinstance(d, pd.CategoricalDtype)}))
        comm_ns[("decode", rank)] = sum(nccl)
    write(TimingTrace(kernels=concat(ranks, ignore_index=True), meta=t.meta), path)
    return comm_ns


def test_per_rank_dataset_steps_on_a_two_rank_fixture(tmp_path: Path) -> None:
    """What the GPU test above does after tracing, on a 2-rank table made from a fixture."""
    combined = tmp_path / "two_ranks.parquet"
    comm_ns = two_rank_timing(combined)
    assert set(per_rank(load_timing(combined).kernels)) == {0, 1}
    add_ranks(combined, tmp_path / "ds")
    rows = ranks_json(tmp_path / "ds")
    check_rank_view(rows, comm_ns)
    prefill = {r["rank"]: r for r in rows if r["group"] == "prefill"}
    assert prefill[0]["communication_share"] == 0
    assert prefill[1]["straggler"]
    assert prefill[1]["vs_median"] > 1


def readme_blocks() -> list[str]:
    """The indented command blocks of the README's "Multi-GPU (tensor parallel)" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Multi-GPU (tensor parallel)", 1)[1].split("\n## ", 1)[0]
    blocks, current = [], []
    for line in [*section.splitlines(), ""]:
        if line.startswith("    "):
            current.append(line[4:])
        elif current:
            blocks.append("\n".join(current))
            current = []
    return blocks


def test_the_readmes_multi_gpu_commands_are_real(tmp_path: Path) -> None:
    """The record command builds its ncu command line (--dry-run for an H100, no ncu here);
    the summary runs on a recording; the trace block's steps after ``roofprof trace`` run as
    they are, on a 2-rank timing table made from a fixture."""
    run, record, trace, _ = readme_blocks()
    assert run.count("examples/tp_llama.py") == 2
    record_cmd, summary_cmd = (c for c in record.replace("\\\n", " ").splitlines())
    argv = shlex.split(record_cmd, comments=True)[1:]
    cut = argv.index("--")
    done = CliRunner().invoke(main, [*argv[:cut], "--dry-run", "--chip", "gh100",
                                     *argv[cut:]])
    assert done.exit_code == 0, done.output
    assert "--kernel-name 'regex:^(?!nccl)'" in done.output  # NCCL left out
    assert "torchrun --nproc-per-node 2 examples/tp_llama.py" in done.output
    roofprof.load(ROOT / "fixtures" / "llama_annotated.ncu-rep").save(tmp_path / "tp.parquet")
    argv = [str(tmp_path / a) if a == "tp.parquet" else a
            for a in shlex.split(summary_cmd, comments=True)]
    done = CliRunner().invoke(main, argv[1:])
    assert done.exit_code == 0, done.output
    assert "0 · prefill" in done.output
    first, rest = trace.split("\n", 1)
    assert first.startswith("roofprof trace -o tp_timing -- torchrun")
    comm_ns = two_rank_timing(tmp_path / "tp_timing.parquet")
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                  os.environ.get("PATH", "")])}
    done_sh = subprocess.run(["bash", "-euo", "pipefail", "-c", rest], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300, check=False)
    assert done_sh.returncode == 0, done_sh.stderr
    assert sorted(p.name for p in (tmp_path / "tp_ds" / "run=tp" / "host=default").iterdir()) \
        == ["rank=0", "rank=1"]
    check_rank_view(ranks_json(tmp_path / "tp_ds"), comm_ns)
    assert "straggler" in done_sh.stdout


def test_a_run_past_its_limit_is_killed_with_every_process_it_started(tmp_path: Path) -> None:
    """``bounded`` on a 2-rank torchrun whose workers never end (CPU): it returns at the limit
    and no worker outlives it."""
    pytest.importorskip("torch")
    hang = tmp_path / "hang.py"
    hang.write_text("import os, pathlib, time\n"
                    f"pathlib.Path({str(tmp_path)!r}, f'{{os.getpid()}}.pid').touch()\n"
                    "time.sleep(600)\n")
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
            "2", str(hang)]
    ran = bounded(argv, timeout=8)
    assert ran.timed_out
    workers = [int(p.stem) for p in tmp_path.glob("*.pid")]
    assert len(workers) == 2  # both started before the limit
    for pid in workers:
        with contextlib.suppress(FileNotFoundError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            assert state in ("Z", "X"), (pid, state)  # killed, not yet reaped


def readme_outputs() -> list[str]:
    """The fenced output blocks of the README's "Multi-GPU (tensor parallel)" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Multi-GPU (tensor parallel)", 1)[1].split("\n## ", 1)[0]
    return section.split("```")[1::2]


def shown_in(block: str, printed: str) -> None:
    """Every row of ``block`` is a row ``printed`` has (its cells in order; "..." stands for
    cells left out of the README)."""
    rows = [ln.split() for ln in printed.splitlines()]
    for line in block.strip().splitlines():
        if line.startswith(("group", "---")):
            continue
        cells = [c for c in line.split() if c != "..."]
        match = [r for r in rows if r[:len(cells[:3])] == cells[:3]]
        assert match, line
        it = iter(match[0])
        assert all(c in it for c in cells), (line, match[0])  # an ordered subsequence


def test_the_readmes_multi_gpu_outputs_are_the_fixtures(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    summary, views, joined = readme_outputs()
    runner = CliRunner()
    done = runner.invoke(main, ["summary", str(TP2_RECORD), "--by", "device,phase"])
    assert done.exit_code == 0, done.output
    shown_in(summary, done.stdout)
    add_ranks(TP2_TIMING, tmp_path / "tp_ds")
    printed = "".join(runner.invoke(main, ["ranks", str(tmp_path / "tp_ds"), *extra]).stdout
                      for extra in (["--by", "phase"], ["--view", "spread"]))
    shown_in(views, printed)
    # the join block as it is, on the fixtures under the names the README gives them
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tp_timing.parquet").write_bytes(TP2_TIMING.read_bytes())
    (tmp_path / "tp.parquet").write_bytes(TP2_RECORD.read_bytes())
    join_cmd, summary_cmd = readme_blocks()[3].splitlines()
    for line in (join_cmd, summary_cmd):
        done = runner.invoke(main, shlex.split(line)[1:])
        assert done.exit_code == 0, (line, done.output)
    shown_in(joined, done.stdout)
    assert "only the launches with counters (--with-counters): 6.2% of the time" in done.stdout
