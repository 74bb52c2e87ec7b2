"""examples/tp_llama.py on the CPU (gloo): the tensor-parallel split is right.

- The same model run as 1 and as 2 ranks under torchrun gives the same greedy tokens and the
  same logits (within fp32 rounding: only the order of the all-reduce's sums differs), and both
  ranks of the 2-rank run agree.
- Each rank's shards are slices of the one full weight, and its GEMMs have the shapes a person
  derives from the options (heads, kv heads and FFN columns divided by the world size), so the
  FLOPs per layer and rank are the docstring's formula.
- A configuration the split cannot run is one line on stderr and exit 2.

Skipped only where torch is not installed (CI installs the CPU wheel).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT

torch = pytest.importorskip("torch")

EXAMPLE = ROOT / "examples" / "tp_llama.py"
#: a tiny model: head dim D = 64 / 4 = 16; 2 ranks hold 2 query heads, 1 kv head, 48 FFN columns
TINY = {"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "ffn": 96, "vocab": 256,
        "batch": 2, "prompt": 8, "new_tokens": 3}


def tiny_argv(**change: Any) -> list[str]:
    opts = {**TINY, **change}
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in opts.items()]
    return [*argv, "--device=cpu", "--dtype=float32", "--seed=7"]


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tp_llama", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torchrun(ranks: int, out: Path) -> list[dict[str, Any]]:
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks),
         "--standalone", str(EXAMPLE), *tiny_argv(), "--save-logits", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{")]
    return sorted(lines, key=lambda d: d["rank"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[list[dict[str, Any]],
                                                                      Path]]:
    base = tmp_path_factory.mktemp("tp")
    return {n: (torchrun(n, base / f"n{n}"), base / f"n{n}") for n in (1, 2)}


def test_each_rank_prints_one_json_line(runs: dict[int, Any]) -> None:
    for n, (lines, _) in runs.items():
        assert [d["rank"] for d in lines] == list(range(n))
        assert {d["world_size"] for d in lines} == {n}
        # 2 all-reduces per layer and forward pass where the model is split, none on one rank
        assert {d["all_reduces_per_pass"] for d in lines} == {2 * TINY["layers"] if n > 1
                                                               else 0}
        assert {d["device"] for d in lines} == {"cpu"}


def test_two_ranks_give_the_logits_of_one(runs: dict[int, Any]) -> None:
    one = torch.load(runs[1][1] / "logits_rank0.pt")
    steps, batch, vocab = TINY["new_tokens"], TINY["batch"], TINY["vocab"]
    assert one["logits"].shape == (steps, batch, vocab)
    assert one["tokens"].shape == (batch, steps)
    # the reference is not degenerate: logits spread, tokens differ between sequences
    assert float(one["logits"].std()) > 0.01
    assert len(set(one["tokens"].flatten().tolist())) > 1
    for rank in (0, 1):
        two = torch.load(runs[2][1] / f"logits_rank{rank}.pt")
        assert torch.equal(two["tokens"], one["tokens"])
        # fp32: the two-rank sum of partial products rounds differently, by a few ulps
        torch.testing.assert_close(two["logits"], one["logits"], rtol=1e-5, atol=1e-5)
    # the JSON checksums say the same
    sums = [d["logits_sum"] for lines, _ in runs.values() for d in lines]
    assert max(sums) - min(sums) < 1e-4 * max(1.0, abs(sums[0]))


def _weights(model: Any) -> dict[str, Any]:
    return {n: p.detach() for n, p in model.named_parameters()}


def test_shards_are_slices_of_the_full_weights() -> None:
    tp = example()
    args = tp.parser().parse_args(tiny_argv())
    full = _weights(tp.build(args, 0, 1, torch.device("cpu"), None))
    shards = [_weights(tp.build(args, r, 2, torch.device("cpu"), None)) for r in (0, 1)]
    for name, weight in full.items():
        parts = [s[name] for s in shards]
        if name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight",
                          "gate_proj.weight", "up_proj.weight")):
            assert torch.equal(torch.cat(parts, dim=0), weight), name  # column-parallel
        elif name.endswith(("o_proj.weight", "down_proj.weight")):
            assert torch.equal(torch.cat(parts, dim=1), weight), name  # row-parallel
        else:  # embedding, norms, lm_head: replicated
            assert all(torch.equal(p, weight) for p in parts), name


def _record_gemms(tp: ModuleType, args: Any, rank: int, world: int
                  ) -> list[tuple[str, tuple[int, int, int]]]:
    """(module path, (M, N, K)) of every linear layer call of a generation, in order."""
    model = tp.build(args, rank, world, torch.device("cpu"), None)
    seen: list[tuple[str, tuple[int, int, int]]] = []
    for name, module in model.named_modules():
        if isinstance(module, (tp.ColumnParallelLinear, tp.RowParallelLinear,
                               torch.nn.Linear)):
            def hook(m: Any, inputs: Any, out: Any, _name: str = name) -> None:
                x = inputs[0]
                rows = x.numel() // x.shape[-1]
                assert out.shape[-1] == m.weight.shape[0]
                seen.append((_name, (rows, m.weight.shape[0], m.weight.shape[1])))

            module.register_forward_hook(hook)
    tp.generate(model, args, torch.device("cpu"))
    return seen


def test_per_rank_gemm_shapes_are_the_derived_ones() -> None:
    tp = example()
    args = tp.parser().parse_args(tiny_argv())
    b, s, h = TINY["batch"], TINY["prompt"], TINY["hidden"]
    # per rank of 2: q 4 heads x 16 / 2 = 32 features, k and v 2 x 16 / 2 = 16, FFN 96 / 2 = 48
    derived = {"q_proj": (32, h), "k_proj": (16, h), "v_proj": (16, h), "o_proj": (h, 32),
               "gate_proj": (48, h), "up_proj": (48, h), "down_proj": (h, 48)}
    for rank in (0, 1):
        seen = _record_gemms(tp, args, rank, 2)
        # one prefill pass over b x s tokens, then a decode pass per further token (b tokens)
        passes = [b * s] + [b] * (TINY["new_tokens"] - 1)
        expected = []
        for t in passes:
            for layer in range(TINY["layers"]):
                for op in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                           "down_proj"):
                    part = "self_attn" if op in ("q_proj", "k_proj", "v_proj", "o_proj") \
                        else "mlp"
                    expected.append((f"model.layers.{layer}.{part}.{op}", (t, *derived[op])))
            expected.append(("lm_head", (b, TINY["vocab"], h)))  # the last position only
        assert seen == expected
        # the example's own table and its docstring's FLOPs formula say the same
        for t in (b * s, b):
            table = tp.layer_gemms(args, 2, t)
            assert table == {op: (t, *nk) for op, nk in derived.items()}
            d = h // TINY["heads"]
            flops = 2 * t * h * (2 * TINY["heads"] * d + 2 * TINY["kv_heads"] * d
                                 + 3 * TINY["ffn"]) // 2
            assert sum(2 * m * n * k for m, n, k in table.values()) == flops


@pytest.mark.parametrize(("env", "change", "message"), [
    ({}, {"heads": 6, "kv_heads": 4, "hidden": 96}, "--heads 6 is not a multiple of --kv-heads 4"),
    ({}, {"hidden": 66}, "--hidden 66 is not a multiple of --heads 4"),
    ({}, {"hidden": 60}, "head dim 15 (--hidden / --heads) must be even"),
    ({"WORLD_SIZE": "2", "RANK": "0"}, {"kv_heads": 1},
     "--kv-heads 1 cannot be split over 2 ranks (not a multiple of the world size); change "
     "--kv-heads or --nproc-per-node"),
    ({"WORLD_SIZE": "2", "RANK": "1"}, {"ffn": 97}, "--ffn 97 cannot be split over 2 ranks"),
    ({}, {"new_tokens": 0}, "--new-tokens must be at least 1"),
])
def test_a_bad_option_is_one_line_and_exit_2(env: dict[str, str], change: dict[str, Any],
                                             message: str, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    tp = example()
    with pytest.raises(SystemExit) as exc:
        tp.main(tiny_argv(**change))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"tp_llama.py: error: {message}")


def test_cuda_without_a_gpu_says_to_pass_device_cpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    done = subprocess.run([sys.executable, str(EXAMPLE), "--layers=1"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 2
    assert done.stderr == ("tp_llama.py: error: --device cuda: this torch sees no CUDA device; "
                           "pass --device cpu\n")
    assert done.stdout == ""


def test_every_gemm_and_all_reduce_gets_its_phase_and_op(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The NVTX stack open at each linear layer and each all-reduce, through roofprof's own
    rules: the phase and op its kernels get in a trace (the all-reduce is o_proj's and
    down_proj's; its kernels' category, communication, tells them apart)."""
    import nvtx

    from roofprof.inputs.attribution import op_of, phase_of

    stack: list[str] = []
    monkeypatch.setattr(nvtx, "push_range", lambda message=None, **kw: stack.append(message))
    monkeypatch.setattr(nvtx, "pop_range", lambda **kw: stack.pop())
    gemms: list[tuple[str, ...]] = []
    reduces: list[tuple[str, ...]] = []
    linear = torch.nn.functional.linear

    def recorded(*args: Any, **kwargs: Any) -> Any:
        gemms.append(tuple(stack))
        return linear(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "linear", recorded)
    tp = example()
    args = tp.parser().parse_args(tiny_argv())
    # rank 0 of 2, its all-reduce recorded instead of run (no peer here)
    model = tp.build(args, 0, 2, torch.device("cpu"), lambda t: reduces.append(tuple(stack)))
    tp.marked_generation(model, args, torch.device("cpu"))
    assert stack == []
    per_pass = 7 * TINY["layers"] + 1
    assert len(gemms) == TINY["new_tokens"] * per_pass
    assert len(reduces) == TINY["new_tokens"] * 2 * TINY["layers"]
    phases = ["prefill"] + ["decode"] * (TINY["new_tokens"] - 1)
    ops = ["qkv_proj", "qkv_proj", "qkv_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    for i, phase in enumerate(phases):
        got = gemms[i * per_pass:(i + 1) * per_pass]
        assert [phase_of(s) for s in got] == [phase] * per_pass
        assert [op_of(s) for s in got] == ops * TINY["layers"] + ["lm_head"]
        assert got[0] == (phase, "TPLlamaForCausalLM", "model", "model.layers.0",
                          "model.layers.0.self_attn", "model.layers.0.self_attn.q_proj")
        assert got[-1] == (phase, "TPLlamaForCausalLM", "lm_head")
        red = reduces[i * 2 * TINY["layers"]:(i + 1) * 2 * TINY["layers"]]
        assert [phase_of(s) for s in red] == [phase] * 2 * TINY["layers"]
        assert [op_of(s) for s in red] == ["o_proj", "down_proj"] * TINY["layers"]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_keeps_every_weight_and_gemm_in_its_dtype(dtype: str) -> None:
    """The GPU default (bfloat16): weights and every linear layer's input in that dtype (a
    norm computed in fp32 must come back in it), logits finite and close to fp32's."""
    tp = example()
    want = getattr(torch, dtype)
    args = tp.parser().parse_args([*tiny_argv(), f"--dtype={dtype}"])
    model = tp.build(args, 1, 2, torch.device("cpu"), None)
    assert {p.dtype for p in model.parameters()} == {want}
    inputs: set[Any] = set()
    for module in model.modules():
        if isinstance(module, (tp.ColumnParallelLinear, tp.RowParallelLinear,
                               torch.nn.Linear)):
            module.register_forward_hook(lambda m, i, o: inputs.add((i[0].dtype, o.dtype)))
    _, logits = tp.generate(model, args, torch.device("cpu"))
    assert inputs == {(want, want)}
    assert torch.isfinite(logits).all()
    # the same shard in fp32: prefill's logits (about 0.5 at most) within a few of the half
    # type's steps at that size (bfloat16: 2**-9 relative, float16: 2**-12)
    args32 = tp.parser().parse_args(tiny_argv())
    _, ref = tp.generate(tp.build(args32, 1, 2, torch.device("cpu"), None), args32,
                         torch.device("cpu"))
    step = {"bfloat16": 2.0**-9, "float16": 2.0**-12}[dtype]
    assert float((logits[0] - ref[0]).abs().max()) < 8 * step
