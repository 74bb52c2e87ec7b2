"""NVTX annotation for roofprof users, over NVIDIA's ``nvtx`` package (no torch, no ncu needed).

``roofprof.range("decode")`` is a push/pop range: Nsight Compute attributes every kernel launched
inside it to ``decode`` (nested ranges join with "/" in the trace's ``range`` column).
``torch.cuda.nvtx.range_push/range_pop`` and ``torch.cuda.nvtx.range`` produce the same push/pop
ranges, so code already annotated for PyTorch needs no change.

``roofprof.phase("prefill")`` is the same range, named by an inference phase (prefill, decode,
mixed, spec, other) and checked: kernels inside it get that ``phase`` in the trace, and
``roofprof record --range prefill`` selects them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from roofprof.tables.schema import PHASES

P = ParamSpec("P")
R = TypeVar("R")

Color = str | int | None


class range:
    """A push/pop NVTX range, usable as a context manager and as a decorator.

    ``name`` is the range name kernels are attributed to; ``domain`` an NVTX domain (ncu shows
    the default domain unless told otherwise); ``color`` a name nvtx knows ("blue") or 0xRRGGBB;
    ``payload`` an int or float carried with the range (e.g. a step or token count).
    """

    def __init__(
        self,
        name: str,
        *,
        domain: str | None = None,
        color: Color = None,
        payload: int | float | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("roofprof.range needs a non-empty range name")
        self.name = name
        self.domain = domain
        self.color = color
        self.payload = payload

    def __enter__(self) -> range:
        import nvtx

        nvtx.push_range(self.name, color=self.color, domain=self.domain, payload=self.payload)
        return self

    def __exit__(self, *exc: object) -> None:
        import nvtx

        nvtx.pop_range(domain=self.domain)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return func(*args, **kwargs)

        return wrapper


class phase(range):
    """A push/pop NVTX range named by an inference phase: ``with roofprof.phase("decode"):``.

    The range's name is the phase itself, so the built-in attribution rules give its kernels
    that phase (innermost phase range wins) and ``record --range decode`` selects them.
    """

    def __init__(self, name: str, *, domain: str | None = None, color: Color = None,
                 payload: int | float | None = None) -> None:
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r}; choose one of {', '.join(PHASES)}")
        super().__init__(name, domain=domain, color=color, payload=payload)


def mark(message: str, *, domain: str | None = None, color: Color = None,
         payload: int | float | None = None) -> None:
    """An instantaneous NVTX marker (shows on timelines; ncu does not attribute kernels to it)."""
    import nvtx

    nvtx.mark(message, color=color, domain=domain, payload=payload)
