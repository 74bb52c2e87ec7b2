"""Property tests (issue 24): mutated copies of the real Kineto captures never give a traceback,
and never read as numbers other than the clean parse's unless a DataWarning says so (which
``--strict`` turns into an error).

A mutation sets one field of a random kernel, runtime/driver call or annotation event to a
hostile JSON value (null, a boolean, a number no time or identifier can be: NaN, infinite,
negative, beyond 64 bits; a string, a list, an object) or deletes it, or cuts the file. What is
compared: the number of kernels, their summed duration and the number of kernels under each
annotation path. Left out of the values drawn, with the reason: a string for an annotation's
name (another valid name: the path changes, as the file says), and numbers a field may validly
hold (another start, another correlation id: the file says so).
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
import warnings
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roofprof.errors import DataWarning, InputError, strict_mode
from roofprof.inputs.timing import load_timing
from tests.conftest import FIXTURES
from tests.test_validation_props import BOUNDED

CAPTURES = ["llama_kineto.json.gz", "llama_graph_kineto.json.gz"]
#: the fields each kind of event is read by (``args.x``: a field of its ``args``)
FIELDS = {
    "kernel": ["ts", "dur", "name", "pid", "tid", "args", "args.device", "args.context",
               "args.stream", "args.correlation", "args.grid", "args.block"],
    "cuda_runtime": ["ts", "dur", "name", "pid", "tid", "args", "args.correlation"],
    "cuda_driver": ["ts", "dur", "name", "pid", "tid", "args", "args.correlation"],
    "user_annotation": ["ts", "dur", "name", "pid", "tid", "args"],
    "gpu_user_annotation": ["ts", "dur", "name", "pid", "tid", "args"],
}
DELETE = object()
HOSTILE = st.one_of(
    st.none(), st.booleans(),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.floats(max_value=-1e-3), st.integers(max_value=-1),
    st.floats(min_value=1e19, max_value=1e308), st.integers(min_value=2**63, max_value=2**200),
    st.text(max_size=8),
    st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none()), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.just(DELETE),
)


@functools.cache
def _capture(name: str) -> dict[str, Any]:
    with gzip.open(FIXTURES / name, "rt") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


def numbers(table: pd.DataFrame) -> tuple[int, float, dict[str, int]]:
    """What a mutation may not change unwarned: kernels, summed duration, kernels per path."""
    per_range = table.groupby(table["range"].astype(str), dropna=False).size()
    return len(table), float(table["duration_ns"].sum()), per_range.to_dict()


@functools.cache
def _clean(name: str) -> tuple[int, float, dict[str, int]]:
    return numbers(load_timing(FIXTURES / name).kernels)


def check(path: Path, name: str) -> None:
    """The invariant: refused (InputError, nothing else), or warned (and then refused under
    strict), or the clean numbers exactly."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table = load_timing(path).kernels
        except InputError:
            return
    warned = [w for w in caught if issubclass(w.category, DataWarning)]
    if not warned:
        assert numbers(table) == _clean(name)
        return
    with pytest.raises(InputError, match="refused: strict"), strict_mode(True):
        load_timing(path)


@BOUNDED
@given(name=st.sampled_from(CAPTURES), data=st.data(), value=HOSTILE)
def test_a_hostile_field_is_warned_or_changes_nothing(name: str, data: st.DataObject,
                                                      value: Any) -> None:
    doc = _capture(name)
    kind = data.draw(st.sampled_from(sorted(FIELDS)), label="kind")
    events = [i for i, e in enumerate(doc["traceEvents"]) if e.get("cat") == kind]
    i = data.draw(st.sampled_from(events), label="event")
    field = data.draw(st.sampled_from(FIELDS[kind]), label="field")
    if field == "name" and "annotation" in kind and isinstance(value, str):
        value = [value]  # another name is another valid path: see the module docstring
    event = copy.deepcopy(doc["traceEvents"][i])
    target = event
    if field.startswith("args."):
        target = event["args"]
        field = field.removeprefix("args.")
    if value is DELETE:
        target.pop(field, None)
    else:
        target[field] = value
    mutated = {**doc, "traceEvents": [*doc["traceEvents"][:i], event,
                                      *doc["traceEvents"][i + 1:]]}
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "mutated.json"
        path.write_text(json.dumps(mutated))
        check(path, name)


@BOUNDED
@given(name=st.sampled_from(CAPTURES), data=st.data(), zipped=st.booleans())
def test_a_cut_trace_is_refused_or_whole(name: str, data: st.DataObject, zipped: bool) -> None:
    raw = (FIXTURES / name).read_bytes()
    if not zipped:
        raw = gzip.decompress(raw)
    at = data.draw(st.integers(1, len(raw) - 1), label="cut at")
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / ("cut.json.gz" if zipped else "cut.json")
        path.write_bytes(raw[:at])
        if raw[at:].strip():  # something was cut: one clear error
            with pytest.raises(InputError):
                load_timing(path)
        else:
            check(path, name)
