"""NVTX ranges from the tracer's CUPTI marker records: pairing start and end records by array
gives what replaying them one by one gives (the path for ids that start or end twice)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from roofprof.capture.marker_ranges import marker_ranges, marker_ranges_walk
from roofprof.capture.tracer_records import MARKER_END, MARKER_START

_RECORD = st.tuples(st.integers(0, 12), st.sampled_from([MARKER_START, MARKER_END, 0,
                                                         MARKER_START | MARKER_END]),
                    st.integers(0, 30), st.sampled_from(["step", "layer", ""]),
                    st.sampled_from([1, 4_000_000]), st.sampled_from([7, -1, 2**33 + 5]))


@st.composite
def _paired(draw: st.DrawFn) -> list[tuple[int, int, int, str, int, int]]:
    """Ranges with their own ids: a start, and an end (maybe before it, or none)."""
    out = []
    for mid in range(draw(st.integers(0, 10))):
        start = draw(st.integers(0, 30))
        name, pid, tid = draw(_RECORD)[3:]
        out.append((mid, MARKER_START, start, name, pid, tid))
        if draw(st.integers(0, 4)):
            out.append((mid, MARKER_END, start + draw(st.integers(-3, 10)), "", pid, tid))
    return out


def _markers(records: list[tuple[int, int, int, str, int, int]]) -> dict[str, Any]:
    cols = ("id", "flags_", "timestamp", "name", "process_id", "thread_id")
    return {c: np.asarray([r[i] for r in records], dtype=object if c == "name" else np.int64)
            for i, c in enumerate(cols)}


@settings(max_examples=300, deadline=None)
@given(st.one_of(_paired(), st.lists(_RECORD, max_size=20)).flatmap(st.permutations))
def test_ranges_by_array_are_the_records_replayed(
        records: list[tuple[int, int, int, str, int, int]]) -> None:
    markers = _markers(records)
    assert marker_ranges(markers) == marker_ranges_walk(markers)


def test_a_range_never_closed_lasts_to_the_end_and_an_early_end_closes_nothing() -> None:
    markers = _markers([(1, MARKER_START, 10, "step", 1, 7), (2, MARKER_END, 5, "", 1, 7),
                        (2, MARKER_START, 8, "layer", 1, 7), (1, MARKER_END, 20, "", 1, 7)])
    key = (1 << 32) | 7
    assert marker_ranges(markers) == [(key, "step", 10, 20), (key, "layer", 8, 2**63 - 1)]
