"""roofprof.torch: module ranges and phases through forward hooks (needs torch; skipped without).

NVTX calls are recorded through a fake ``nvtx`` so the tests run on any CPU-only torch.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import roofprof.torch as rt  # noqa: E402
from roofprof.inputs import attribution as A  # noqa: E402


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every NVTX stack current when a leaf ran (``log`` pushes a marker copy)."""
    import nvtx

    current: list[str] = []
    seen: list[list[str]] = []
    monkeypatch.setattr(nvtx, "push_range", lambda message=None, **kw: current.append(message))
    monkeypatch.setattr(nvtx, "pop_range", lambda **kw: current.pop())
    monkeypatch.setattr(rt, "_seen", seen, raising=False)
    monkeypatch.setattr(rt, "_current", current, raising=False)
    return seen


class Leaf(torch.nn.Linear):  # type: ignore[misc]
    def forward(self, x: Any) -> Any:
        rt._seen.append(list(rt._current))
        return super().forward(x)


class Attn(torch.nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.q_proj = Leaf(4, 4)
        self.o_proj = Leaf(4, 4)

    def forward(self, x: Any) -> Any:
        return self.o_proj(self.q_proj(x))


class Layer(torch.nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.self_attn = Attn()
        self.mlp = torch.nn.Sequential()
        self.mlp.add_module("down_proj", Leaf(4, 4))

    def forward(self, x: Any) -> Any:
        return self.mlp(self.self_attn(x))


class Model(torch.nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(10, 4)
        self.layers = torch.nn.ModuleList([Layer(), Layer()])

    def forward(self, input_ids: Any) -> Any:
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x)
        return x


class Top(torch.nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.model = Model()

    def forward(self, input_ids: Any) -> Any:
        return self.model(input_ids)


def test_annotate_names_ranges_by_qualified_path(stack: list[list[str]]) -> None:
    m = Top()
    with rt.annotate(m) as handle:
        m(torch.tensor([[1, 2, 3]]))
    assert "model.layers.1.self_attn.q_proj" in handle.names
    assert stack[0] == ["Top", "model", "model.layers.0", "model.layers.0.self_attn",
                        "model.layers.0.self_attn.q_proj"]
    assert stack[-1][-1] == "model.layers.1.mlp.down_proj"
    assert [A.op_of(s) for s in stack] == ["qkv_proj", "o_proj", "down_proj"] * 2
    stack.clear()
    m(torch.tensor([[1]]))  # removed on leaving the with block
    assert stack == [[], [], [], [], [], []]


def test_depth_prefix_and_removal(stack: list[list[str]]) -> None:
    m = Top()
    handle = rt.annotate(m, depth=3, prefix="llama")
    m(torch.tensor([[1, 2]]))
    assert stack[0] == ["llama", "llama.model", "llama.model.layers.0"]
    assert all(len(n.split(".")) <= 4 for n in handle.names)
    handle.remove()
    stack.clear()
    m(torch.tensor([[1, 2]]))
    assert stack[0] == []


def test_ranges_are_popped_when_forward_raises(stack: list[list[str]]) -> None:
    m = Top()
    rt.annotate(m)
    with pytest.raises(IndexError):
        m(torch.tensor([[99]]))  # out of the embedding's range
    assert rt._current == []


def test_mark_phases_from_query_length(stack: list[list[str]]) -> None:
    m = Top()
    rt.annotate(m)
    phases = rt.mark_phases(m)
    m(torch.tensor([[1, 2, 3], [4, 5, 6]]))
    m(input_ids=torch.tensor([[7], [8]]))
    assert stack[0][:2] == ["prefill", "Top"]  # the phase encloses the module ranges
    assert stack[-1][:2] == ["decode", "Top"]
    assert A.phase_of(stack[0]) == "prefill"
    assert A.phase_of(stack[-1]) == "decode"
    phases.remove()


def test_phase_for() -> None:
    assert rt.phase_for(torch.zeros(4, 128, dtype=torch.long)) == "prefill"
    assert rt.phase_for(torch.zeros(4, 1, dtype=torch.long)) == "decode"
    assert rt.phase_for(7) == "prefill"
    assert rt.phase_for(1) == "decode"


def test_import_roofprof_does_not_import_torch() -> None:
    code = "import roofprof, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
