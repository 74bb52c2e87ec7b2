"""Annotation stacks at kernel launches: the NVTX / ``record_function`` ranges open on the
launching thread at each launch (``roofprof.tables.timing`` re-exports these names).

A stack is ``(names, starts, ends)``, outermost first: the ranges of the launch's thread that
contain the launch instant (a range contains its start and its end), ordered by start, then by
end (latest first), then by their order in the input. :func:`stacks_at` gives every launch its
stack; equal stacks are one shared tuple.

Ranges of one thread normally nest (push/pop ranges and ``record_function`` scopes do). For such
threads the stacks come from arrays: each launch finds its innermost open range with one
``searchsorted`` over the thread's timeline of innermost ranges, and each distinct innermost range
builds its stack once from parent links. A thread whose ranges do not nest (two overlap without
one containing the other, which includes one starting at the instant another ends) takes the
walk over its launches in time order (:func:`_walk`), the definition applied directly.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EMPTY", "Stack", "collector_paused", "stacks_at", "unended_note", "with_capture",
           "without_unended_library_ranges"]

F = TypeVar("F", bound=Callable[..., Any])

Stack = tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]
EMPTY: Stack = ((), (), ())
#: an end at the largest time: the range was never closed (open at the end of the trace)
NEVER_CLOSED_NS = 2**63 - 1


#: NCCL names its NVTX ranges after its API calls (ncclAllReduce, ncclCommInitRankConfig, ...)
LIBRARY_RANGE_PREFIXES = ("nccl",)


def without_unended_library_ranges(ranges: list[tuple[int, str, int, int]]
                                   ) -> tuple[list[tuple[int, str, int, int]], dict[str, int]]:
    """The ranges (thread, name, start, end) that may enclose launches, and the names (and
    counts) of those left out: NCCL API-call ranges with no end in the trace. A library call's
    range cannot hold the program's later work, yet one never closed would enclose every later
    launch of its thread: on 2 H200s (NCCL 2.2x, CUPTI 13.0) ``ncclCommInitRankConfig`` and
    ``ncclCommFinalize`` had a start record and no end record (every other NCCL range ended),
    and every launch of the run sat inside the first. Where such a call really ran, its
    launches lose that one level."""
    kept: list[tuple[int, str, int, int]] = []
    dropped: dict[str, int] = {}
    for r in ranges:
        if r[3] == NEVER_CLOSED_NS and r[1].startswith(LIBRARY_RANGE_PREFIXES):
            dropped[r[1]] = dropped.get(r[1], 0) + 1
        else:
            kept.append(r)
    return kept, dropped


def unended_note(dropped: dict[str, int]) -> str | None:
    """What :func:`without_unended_library_ranges` left out, for the user (None: nothing)."""
    if not dropped:
        return None
    names = ", ".join(f"{name} x{n}" for name, n in sorted(dropped.items()))
    return (f"{sum(dropped.values())} NCCL API range(s) have no end in the trace ({names}): "
            "left out of the annotation paths, where they would have enclosed every later "
            "launch of their thread")


def collector_paused(function: F) -> F:
    """``function`` with Python's cyclic garbage collector paused while it runs (where it was
    running): it makes hundreds of thousands of tuples and lists, none in a cycle, and each
    full collection would walk them all (a fifth of the time at a million launches)."""

    @functools.wraps(function)
    def paused(*args: Any, **kwargs: Any) -> Any:
        running = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if running:
                gc.enable()

    return paused  # type: ignore[return-value]


@collector_paused
def stacks_at(ranges: pd.DataFrame, thread: np.ndarray, when: np.ndarray) -> list[Stack]:
    """The ranges open on ``thread[i]`` at time ``when[i]``, outermost first, for every i.

    ``ranges``: columns ``thread`` (any hashable key), ``name``, ``start_ns``, ``end_ns``; ranges
    of one thread usually nest (push/pop ranges and ``record_function`` scopes do), and those of
    a thread where they do not are right too, only slower. A range contains the instants from
    its start to its end, both included. Equal stacks share one tuple.
    """
    if not len(ranges) or not len(when):
        return [EMPTY] * len(when)
    out = np.empty(len(when), dtype=object)
    out.fill(EMPTY)
    rthread = ranges["thread"].to_numpy()
    starts = ranges["start_ns"].to_numpy()
    ends = ranges["end_ns"].to_numpy()
    # each thread's ranges in the order stacks list them: start, then latest end, then input
    order = np.lexsort((-ends, starts))
    interned: dict[Stack, Stack] = {EMPTY: EMPTY}
    thread = np.asarray(thread)
    launch_order = np.lexsort((when, thread))
    if rthread.dtype.kind != "i" or thread.dtype.kind != "i":
        _walk(_by_thread(ranges, order), launch_order, thread, when, out, interned)
        return list(out.tolist())
    order = order[np.argsort(rthread[order], kind="stable")]
    th = rthread[order].astype(np.int64)
    s, e = starts[order].astype(np.int64), ends[order].astype(np.int64)
    names = [str(n) for n in ranges["name"].to_numpy()[order]]
    parent, nested = _parents(th, s, e)
    stack_of = _Chains(names, s, e, parent, interned)
    slow: list[Any] = []
    for part in np.split(launch_order, np.flatnonzero(np.diff(thread[launch_order])) + 1):
        t = int(thread[part[0]])
        lo, hi = int(np.searchsorted(th, t, side="left")), int(np.searchsorted(th, t, "right"))
        if lo == hi:
            continue  # no range on this thread: its launches keep EMPTY
        if not nested[t]:
            slow.append(part)
            continue
        up = np.where(parent[lo:hi] >= 0, parent[lo:hi] - lo, -1)
        inner = _innermost(s[lo:hi], e[lo:hi], up, when[part].astype(np.int64))
        has = inner >= 0
        ids, inverse = np.unique(inner[has], return_inverse=True)
        made = np.empty(len(ids), dtype=object)
        for j, i in enumerate(ids.tolist()):
            made[j] = stack_of(i + lo)
        out[part[has]] = made[inverse.reshape(-1)]
    if slow:
        walked = np.concatenate(slow)
        mine = np.isin(rthread, np.unique(thread[walked]))
        _walk(_by_thread(ranges[mine], np.lexsort((-ends[mine], starts[mine]))), walked, thread,
              when, out, interned)
    return list(out.tolist())


def _parents(th: np.ndarray, s: np.ndarray, e: np.ndarray) -> tuple[Any, dict[int, bool]]:
    """Each range's enclosing range (its index, -1 at the outermost level) over ranges sorted by
    thread, start and latest end; and whether each thread's ranges nest."""
    parent = np.full(len(th), -1, dtype=np.int64)
    nested: dict[int, bool] = {}
    stack: list[int] = []
    current: int | None = None
    ends = e.tolist()
    for i, (t, start, end) in enumerate(zip(th.tolist(), s.tolist(), ends, strict=True)):
        if t != current:
            current, stack = t, []
            nested[t] = True
        while stack and ends[stack[-1]] < start:
            stack.pop()
        if stack:
            if end > ends[stack[-1]]:  # overlaps the open range without lying inside it
                nested[t] = False
            parent[i] = stack[-1]
        stack.append(i)
    return parent, nested


def _innermost(s: np.ndarray, e: np.ndarray, up: np.ndarray, when: np.ndarray) -> Any:
    """For the nested ranges of one thread (sorted by start, then latest end; ``up``: each
    one's enclosing range, -1 for none): the index of the innermost range containing each
    instant of ``when``, -1 where none does.

    The timeline of the innermost range: at a range's start it becomes the innermost; one
    nanosecond after its end its parent does. At one instant ends go first (a range that ended
    has left before one starting there), innermost first; then starts in order, outer first.
    """
    n = len(s)
    pos = np.arange(n, dtype=np.int64)
    closed = e < NEVER_CLOSED_NS
    times = np.concatenate([s, e[closed] + 1])
    kind = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(int(closed.sum()), np.int64)])
    rank = np.concatenate([pos, -pos[closed]])
    value = np.concatenate([pos, up[closed]])
    timeline = np.lexsort((rank, kind, times))
    at = np.searchsorted(times[timeline], when, side="right") - 1
    return np.where(at >= 0, value[timeline][np.maximum(at, 0)], -1)


class _Chains:
    """Each range's stack (the ranges enclosing it, then itself), made once per range from its
    parent's stack; equal stacks interned."""

    def __init__(self, names: list[str], s: np.ndarray, e: np.ndarray, parent: np.ndarray,
                 interned: dict[Stack, Stack]) -> None:
        self.names, self.starts, self.ends = names, s.tolist(), e.tolist()
        self.parent: list[int] = parent.tolist()
        self.made: dict[int, Stack] = {}
        self.interned = interned

    def __call__(self, i: int) -> Stack:
        chain = []
        while i >= 0 and i not in self.made:
            chain.append(i)
            i = self.parent[i]
        stack = self.made[i] if i >= 0 else EMPTY
        for j in reversed(chain):
            key: Stack = (stack[0] + (self.names[j],), stack[1] + (self.starts[j],),
                          stack[2] + (self.ends[j],))
            stack = self.made[j] = self.interned.setdefault(key, key)
        return stack


def _by_thread(ranges: pd.DataFrame, order: np.ndarray) -> dict[Any, list[tuple[int, int, str]]]:
    """Each thread's ranges (start, end, name), in ``order``."""
    by_thread: dict[Any, list[tuple[int, int, str]]] = {}
    for t, s, e, n in zip(ranges["thread"].to_numpy()[order], ranges["start_ns"].to_numpy()[order],
                          ranges["end_ns"].to_numpy()[order], ranges["name"].to_numpy()[order],
                          strict=True):
        by_thread.setdefault(t, []).append((int(s), int(e), str(n)))
    return by_thread


def _walk(by_thread: dict[Any, list[tuple[int, int, str]]], launch_order: Any, thread: Any,
          when: Any, out: Any, interned: dict[Stack, Stack]) -> None:
    """The stacks of the launches ``launch_order`` (grouped by thread, in time order within
    each) by walking each thread's ranges alongside its launches: ranges that do not nest."""
    current_thread: Any = object()
    opened: list[tuple[int, int, str]] = []
    pending: list[tuple[int, int, str]] = []
    k = 0
    for idx in launch_order:
        t, w = thread[idx], int(when[idx])
        if t != current_thread:
            current_thread, opened, k = t, [], 0
            pending = by_thread.get(t, [])
        while k < len(pending) and pending[k][0] <= w:
            s = pending[k][0]
            while opened and opened[-1][1] < s:
                opened.pop()
            opened.append(pending[k])
            k += 1
        while opened and opened[-1][1] < w:
            opened.pop()
        live = [r for r in opened if r[1] >= w]  # an outer range can end early if not nested
        key: Stack = (tuple(r[2] for r in live), tuple(r[0] for r in live),
                      tuple(r[1] for r in live))
        out[int(idx)] = interned.setdefault(key, key)


def with_capture(launch: Stack, capture: Stack) -> Stack:
    """A graph replay's path: the ranges open at its launch, then those open at its node's
    capture that the launch path does not already start with; capture levels get -1 times (they
    did not run at the replay)."""
    common = 0
    while common < min(len(launch[0]), len(capture[0])) and \
            launch[0][common] == capture[0][common]:
        common += 1
    extra = len(capture[0]) - common
    return (launch[0] + capture[0][common:], launch[1] + (-1,) * extra,
            launch[2] + (-1,) * extra)
