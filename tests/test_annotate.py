"""The annotation API over the nvtx package: needs neither torch nor ncu."""

from __future__ import annotations

from typing import Any

import nvtx
import pytest

import roofprof


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    monkeypatch.setattr(nvtx, "push_range",
                        lambda message=None, **kw: seen.append(("push", message, kw)))
    monkeypatch.setattr(nvtx, "pop_range", lambda **kw: seen.append(("pop", kw.get("domain"))))
    monkeypatch.setattr(nvtx, "mark", lambda message=None, **kw: seen.append(("mark", message)))
    return seen


def test_range_as_context_manager_nests(calls: list[tuple[str, Any]]) -> None:
    with roofprof.range("decode"), roofprof.range("layer0", color="blue", payload=3):
        pass
    assert [c[:2] for c in calls] == [("push", "decode"), ("push", "layer0"), ("pop", None),
                                      ("pop", None)]
    assert calls[1][2] == {"color": "blue", "domain": None, "payload": 3}


def test_range_as_decorator_pops_on_exceptions(calls: list[tuple[str, Any]]) -> None:
    @roofprof.range("step", domain="serve")
    def step(x: int) -> int:
        if x < 0:
            raise ValueError("negative")
        return x * 2

    assert step(2) == 4
    assert step.__name__ == "step"
    with pytest.raises(ValueError, match="negative"):
        step(-1)
    assert [c[0] for c in calls] == ["push", "pop", "push", "pop"]
    assert calls[1] == ("pop", "serve")


def test_mark_and_bad_names(calls: list[tuple[str, Any]]) -> None:
    roofprof.mark("token 7")
    assert calls == [("mark", "token 7")]
    with pytest.raises(TypeError, match="non-empty"):
        roofprof.range("")


def test_real_nvtx_calls_are_harmless_without_a_profiler() -> None:
    with roofprof.range("prefill", color="green"):
        roofprof.mark("inside")
