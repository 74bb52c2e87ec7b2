"""The annotation stacks at launches: the array path for threads whose ranges nest gives what
the walk over launches (the path for threads whose ranges do not nest) gives, and both are the
definition: the ranges of the launch's thread containing the launch, by start, latest end, input
order; equal stacks are one tuple."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.stacks import EMPTY, Stack, _by_thread, _walk, collector_paused, stacks_at

NEVER = 2**63 - 1  # a range never closed
THREADS = (7, 2**40 + 3, -1, 12)


@st.composite
def _nested(draw: st.DrawFn, thread: int) -> list[tuple[int, str, int, int]]:
    """Push/pop ranges of one thread: each inside its parent or after its sibling (some touch
    their parent's start or end); the outermost ones may never close."""
    out: list[tuple[int, str, int, int]] = []
    t = draw(st.integers(0, 3))

    def block(depth: int, closes: bool) -> None:
        nonlocal t
        for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
            t += draw(st.integers(1, 4))
            start = t
            block(depth + 1, True)
            t += draw(st.integers(0, 4))
            never = not closes and draw(st.integers(0, 5)) == 0
            out.append((thread, f"r{draw(st.integers(0, 5))}", start, NEVER if never else t))
            t += 1  # siblings never share an instant (that would not nest)

    block(0, False)
    return out


@st.composite
def _overlapping(draw: st.DrawFn, thread: int) -> list[tuple[int, str, int, int]]:
    """Ranges of one thread at random: they overlap, touch and repeat."""
    out = []
    for _ in range(draw(st.integers(1, 8))):
        start = draw(st.integers(0, 40))
        end = NEVER if draw(st.integers(0, 8)) == 0 else start + draw(st.integers(0, 15))
        out.append((thread, f"r{draw(st.integers(0, 5))}", start, end))
    return out


@st.composite
def _case(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rows: list[tuple[int, str, int, int]] = []
    threads = draw(st.lists(st.sampled_from(THREADS[:3]), min_size=1, max_size=3, unique=True))
    for thread in threads:
        nests = draw(st.booleans())
        rows += draw(_nested(thread) if nests else _overlapping(thread))
    rows = draw(st.permutations(rows))  # input order is only a tie-break
    # launches on every range's thread at its start and end, one before and one after; and
    # anywhere, on any thread (the last of THREADS has no ranges)
    edges = [(r[0], v + d) for r in rows for v in (r[2], r[3]) if v != NEVER for d in (-1, 0, 1)]
    anywhere = st.tuples(st.sampled_from(THREADS), st.integers(-2, 80))
    launches = draw(st.permutations(edges + draw(st.lists(anywhere, max_size=20))))
    ranges = pd.DataFrame(rows, columns=["thread", "name", "start_ns", "end_ns"])
    thread = np.asarray([lc[0] for lc in launches], dtype=np.int64)
    when = np.asarray([lc[1] for lc in launches], dtype=np.int64)
    return ranges, thread, when


def _walked(ranges: pd.DataFrame, thread: np.ndarray, when: np.ndarray) -> list[Stack]:
    """Every launch by the walk, whether or not its thread's ranges nest."""
    out = np.empty(len(when), dtype=object)
    out.fill(EMPTY)
    if len(ranges):
        order = np.lexsort((-ranges["end_ns"].to_numpy(), ranges["start_ns"].to_numpy()))
        _walk(_by_thread(ranges, order), np.lexsort((when, thread)), thread, when, out, {})
    return list(out.tolist())


@settings(max_examples=300, deadline=None)
@given(_case())
def test_nested_threads_by_arrays_equal_the_walk_and_the_definition(
        case: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    ranges, thread, when = case
    got = stacks_at(ranges, thread, when)
    assert got == _walked(ranges, thread, when)
    rows = list(ranges.itertuples(index=False))
    for t, w, stack in zip(thread.tolist(), when.tolist(), got, strict=True):
        inside = sorted((i for i, r in enumerate(rows) if r.thread == t and
                         r.start_ns <= w <= r.end_ns),
                        key=lambda i: (rows[i].start_ns, -rows[i].end_ns, i))
        assert stack == (tuple(rows[i].name for i in inside),
                         tuple(rows[i].start_ns for i in inside),
                         tuple(rows[i].end_ns for i in inside))
    shared: dict[Stack, int] = {}
    assert all(shared.setdefault(s, id(s)) == id(s) for s in got)  # equal stacks: one tuple


def test_a_launch_at_a_shared_instant_sees_both_ranges() -> None:
    """Touching ranges (one ends where the next starts) do not nest: the walk takes the thread,
    and a launch at that instant is inside both."""
    ranges = pd.DataFrame({"thread": [1, 1, 2, 2], "name": ["a", "b", "outer", "inner"],
                           "start_ns": [0, 5, 0, 5], "end_ns": [5, 9, NEVER, 5]})
    got = stacks_at(ranges, np.asarray([1, 1, 2, 2, 2]), np.asarray([5, 6, 5, 6, 10**18]))
    assert got[0] == (("a", "b"), (0, 5), (5, 9))
    assert got[1] == (("b",), (5,), (9,))
    assert got[2] == (("outer", "inner"), (0, 5), (NEVER, 5))
    assert got[3] == got[4] == (("outer",), (0,), (NEVER,))
    assert got[3] is got[4]


def test_the_collector_is_paused_inside_and_left_as_it_was() -> None:
    @collector_paused
    def inside(fail: bool) -> bool:
        if fail:
            raise ValueError("boom")
        return gc.isenabled()

    assert gc.isenabled()
    assert inside(False) is False
    assert gc.isenabled()
    with pytest.raises(ValueError, match="boom"):
        inside(True)
    assert gc.isenabled()
    gc.disable()
    try:
        inside(False)
        assert not gc.isenabled()  # one paused by the caller stays paused
    finally:
        gc.enable()
