"""Hostile PyTorch profiler (Kineto) traces (issue 24): each damage to a real capture ends as the
clean numbers, or one DataWarning naming the event, the field and its raw value (the value
null, or the event left out and counted), or one clear InputError; ``--strict`` refuses what
was warned about. Checked through ``load_timing``, ``roofprof.load`` and the command line
(``summary``, ``summary --strict``, ``latency``).

The captures are ``fixtures/llama_kineto.json.gz`` (413 kernels: 102 prefill, 3 x 102 decode)
and ``fixtures/llama_graph_kineto.json.gz`` (748 kernels, 3 x 125 replayed from one capture).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import socket
import threading
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import roofprof
from parsers.kineto import read_timing
from roofprof.cli import main
from roofprof.errors import DataWarning, InputError
from roofprof.inputs.timing import load_timing
from tests.conftest import FIXTURES

EAGER = FIXTURES / "llama_kineto.json.gz"
GRAPH = FIXTURES / "llama_graph_kineto.json.gz"
Doc = dict[str, Any]


@functools.cache
def _text(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode()


def capture(path: Path = EAGER) -> Doc:
    """A fresh copy of a capture's JSON document."""
    doc: Doc = json.loads(_text(path))
    return doc


def where(doc: Doc, cat: str, name: str | None = None) -> list[int]:
    """Indexes in traceEvents of the events of category ``cat`` (named ``name``)."""
    return [i for i, e in enumerate(doc["traceEvents"])
            if e.get("cat") == cat and (name is None or e.get("name") == name)]


def write(tmp_path: Path, doc: Doc, name: str = "t.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))  # NaN and Infinity as JSON readers write them
    return path


def read(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The timing table and the DataWarnings of reading it (the file's name as <file>)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_timing(path).kernels
    return table, [str(w.message).replace(str(path), "<file>") for w in caught
                   if issubclass(w.category, DataWarning)]


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return load_timing(EAGER).kernels


def row(table: pd.DataFrame, event: dict[str, Any]) -> int:
    """The position in ``table`` of a kernel event (by its start and correlation id)."""
    hit = np.flatnonzero((table["start_ns"] == round(event["ts"] * 1000.0)).to_numpy()
                         & (table["correlation_id"] == event["args"]["correlation"]).to_numpy())
    assert len(hit) == 1
    return int(hit[0])


def total_without(clean: pd.DataFrame, events: list[dict[str, Any]]) -> float:
    """The clean summed duration less that of ``events``' kernels."""
    return float(clean["duration_ns"].sum()
                 - sum(clean["duration_ns"].iloc[row(clean, e)] for e in events))


def through_everything(path: Path, fragment: str) -> None:
    """``fragment`` is in exactly one warning of ``roofprof.load`` and of the command line's
    ``summary`` and ``latency``, which succeed; ``roofprof.load(strict=True)`` and ``summary
    --strict`` refuse the file with one error saying it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        roofprof.load(path)
    assert sum(fragment in str(w.message) for w in caught
               if issubclass(w.category, DataWarning)) == 1
    with pytest.raises(InputError, match="refused: strict") as refused:
        roofprof.load(path, strict=True)
    assert fragment in str(refused.value)
    runner = CliRunner()
    for command in ("summary", "latency"):
        result = runner.invoke(main, [command, str(path)])
        assert result.exit_code == 0, result.output
        warned = [ln for ln in result.output.splitlines()
                  if ln.startswith("roofprof: warning: ") and fragment in ln]
        assert len(warned) == 1, result.output
    result = runner.invoke(main, ["summary", "--strict", str(path)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("roofprof: error: ")
    assert fragment in lines[0]
    assert "refused: --strict" in lines[0]


# --------------------------------------------- values outside the checks: never a traceback

KERNEL = 1654 + 40  # a kernel event of the eager capture (traceEvents index)
INF, NAN = float("inf"), float("nan")


def _kernel(field: str, value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        event = doc["traceEvents"][KERNEL]
        target = event["args"] if field.startswith("args.") else event
        target[field.removeprefix("args.")] = value
    return mutate


@pytest.mark.parametrize(("value", "why"), [(INF, "not finite"), (1e30, "too large"),
                                            (1e300, "too large")])
def test_a_kernel_duration_out_of_range_is_unknown(tmp_path: Path, clean: pd.DataFrame,
                                                   value: float, why: str) -> None:
    doc = capture()
    event = doc["traceEvents"][KERNEL]
    _kernel("dur", value)(doc)
    path = write(tmp_path, doc)
    table, messages = read(path)
    assert len(table) == 413
    i = row(table, event)
    assert np.isnan(table["duration_ns"].iloc[i])
    assert table["end_ns"].iloc[i] == table["start_ns"].iloc[i]
    assert table["duration_ns"].sum() == total_without(clean, [event])
    assert len(messages) == 1
    assert f"1 kernel event(s) without a usable duration (dur): event {KERNEL} (" in messages[0]
    assert f"(dur {why}" in messages[0]
    assert "duration unknown" in messages[0]
    through_everything(path, "without a usable duration")


@pytest.mark.parametrize(("value", "shown"), [(INF, "inf"), (1e30, "1e+30"),
                                              (1e300, "1e+300")])
def test_a_kernel_start_out_of_range_leaves_it_out_counted(
        tmp_path: Path, clean: pd.DataFrame, value: float, shown: str) -> None:
    doc = capture()
    event = dict(doc["traceEvents"][KERNEL])  # as it was
    _kernel("ts", value)(doc)
    path = write(tmp_path, doc)
    table, messages = read(path)
    assert len(table) == 412
    assert round(event["ts"] * 1000.0) not in set(table["start_ns"])
    assert table["duration_ns"].sum() == total_without(clean, [event])
    assert len(messages) == 1
    assert messages[0].startswith(f"<file>: 1 kernel event(s) left out, for want of a usable "
                                  f"start time (ts): event {KERNEL} (")
    why = "not finite" if value == INF else "too large for 64-bit nanoseconds"
    assert messages[0].endswith(f"): ts = {shown} (ts {why}). Fix the trace or export it "
                                "again (--strict refuses such input)")
    through_everything(path, "left out, for want of a usable start time")


@pytest.mark.parametrize(("field", "value", "shown", "why"), [
    ("args.correlation", [1, 2], "[1, 2]", "not an integer"),
    ("args.correlation", {"a": 1}, "{'a': 1}", "not an integer"),
    ("args.device", 2**70, str(2**70), "too large for 64 bits"),
    ("args.device", True, "True", "not an integer"),
    ("args.stream", False, "False", "not an integer"),
    ("args.grid", [INF, 1, 1], "[inf, 1, 1]", "not 3 positive integers"),
    ("args.grid", ["a", 1, 1], "['a', 1, 1]", "not 3 positive integers"),
    ("args.grid", [1.5, 1, 1], "[1.5, 1, 1]", "not 3 positive integers"),
    ("args.block", [-1, 1, 1], "[-1, 1, 1]", "not 3 positive integers"),
    ("args.block", "(1, 1, 1)", "'(1, 1, 1)'", "not a list of 3 integers"),
    ("name", 5, "5", "not a string"),
])
def test_an_identity_field_out_of_range_is_null(tmp_path: Path, clean: pd.DataFrame,
                                                field: str, value: Any, shown: str,
                                                why: str) -> None:
    doc = capture()
    event = doc["traceEvents"][KERNEL]
    _kernel(field, value)(doc)
    table, messages = read(path := write(tmp_path, doc))
    column = {"args.correlation": "correlation_id", "args.device": "device",
              "args.stream": "stream", "args.grid": "grid", "args.block": "block",
              "name": "kernel_demangled"}[field]
    assert len(table) == 413
    assert table["duration_ns"].sum() == clean["duration_ns"].sum()
    start = table["start_ns"] == round(event["ts"] * 1000.0)
    assert table.loc[start, column].isna().all()
    assert table[column].isna().sum() == 1
    assert len(messages) == 1
    assert messages[0].startswith(f"<file>: 1 value(s) read as null: kernel event {KERNEL} ")
    assert f"{field} = {shown!r} ({why})" in messages[0]
    through_everything(path, "value(s) read as null")


@pytest.mark.parametrize(("properties", "says"), [
    (5, "it is 5, not a list"),
    ([5], "entry 0 = 5 (not an object)"),
    ([{"id": 0, "name": "NVIDIA H100 80GB HBM3", "computeMajor": "nine", "computeMinor": 0}],
     "entry 0: computeMajor = 'nine' (not an integer)"),
    ([{"id": [0], "name": "NVIDIA H100 80GB HBM3", "computeMajor": 9, "computeMinor": 0}],
     "entry 0: id = [0] (not an integer)"),
])
def test_device_properties_that_cannot_be_used_are_null(tmp_path: Path, clean: pd.DataFrame,
                                                        properties: Any, says: str) -> None:
    doc = capture()
    doc["deviceProperties"] = properties
    table, messages = read(path := write(tmp_path, doc))
    assert table["cc"].isna().all()
    assert table["duration_ns"].sum() == clean["duration_ns"].sum()
    assert messages == [f"<file>: deviceProperties cannot be used: {says}; device names and "
                        "compute capabilities (device_name, cc) of those devices are null "
                        "(--strict refuses such input)"]
    through_everything(path, "deviceProperties cannot be used")


@pytest.mark.parametrize(("field", "value", "why"), [
    ("pid", [1], "pid not an integer"), ("ts", "12", "ts not a number"),
    ("ts", None, "ts missing"), ("dur", NAN, "dur not finite"), ("name", [1], "name not a string"),
    ("tid", True, "tid not an integer")])
def test_an_annotation_that_cannot_be_placed_is_left_out_counted(
        tmp_path: Path, clean: pd.DataFrame, field: str, value: Any, why: str) -> None:
    doc = capture()
    i = where(doc, "user_annotation", "model.layers.0.self_attn.q_proj")[0]
    event = doc["traceEvents"][i]
    if value is None:
        del event[field]
    else:
        event[field] = value
    table, messages = read(path := write(tmp_path, doc))
    assert len(table) == 413
    assert table["duration_ns"].sum() == clean["duration_ns"].sum()
    # the one q_proj kernel of the prefill's first layer lost its innermost level
    lost = clean["range"].str.endswith("prefill/model/model.layers.0/model.layers.0.self_attn/"
                                       "model.layers.0.self_attn.q_proj")
    assert lost.sum() == 1
    assert (table["range"].astype(str) != clean["range"].astype(str)).sum() == 1
    assert len(messages) == 1
    assert messages[0].startswith("<file>: 1 annotation range(s) (user_annotation, "
                                  "gpu_user_annotation) left out of the annotation paths")
    assert f"event {i} " in messages[0]
    assert f"({why})" in messages[0]
    through_everything(path, "annotation range(s)")


@pytest.mark.parametrize("name", ["cudaLaunchKernel", "cudaStreamBeginCapture"])
def test_a_runtime_call_without_a_start_is_left_out_counted(tmp_path: Path, name: str) -> None:
    source = EAGER if name == "cudaLaunchKernel" else GRAPH
    doc = capture(source)
    clean = load_timing(source).kernels
    i = where(doc, "cuda_runtime", name)[0]
    del doc["traceEvents"][i]["ts"]
    table, messages = read(path := write(tmp_path, doc))
    assert len(table) == len(clean)
    assert table["duration_ns"].sum() == clean["duration_ns"].sum()
    assert len(messages) == 1
    assert f"1 CUDA runtime/driver call(s) left out, for want of a usable name, thread, start " \
           f"or correlation id: event {i} ({name}): ts = missing" in messages[0]
    if name == "cudaLaunchKernel":  # its kernel has no launch call, counted
        assert "1 kernel(s) they launched have no launch call" in messages[0]
        assert (table["nvtx_source"] == "launch").sum() == 412
    else:  # the replays keep their launch path, without the capture's levels
        assert "kernel(s) they launched" not in messages[0]
        assert "A CUDA graph capture they began or ended is not matched" in messages[0]
        assert (clean["nvtx_source"] == "launch+capture").sum() == 375
        assert (table["nvtx_source"] == "launch+capture").sum() == 0
    through_everything(path, "CUDA runtime/driver call(s) left out")


# ------------------------------------------------------------- deep nesting: bounded

def _with_element(doc: Doc, text: str) -> str:
    """The document's JSON with ``text`` as one more traceEvents element (at the end)."""
    doc["traceEvents"].append({"placeholder": 1})
    return json.dumps(doc).replace('{"placeholder": 1}', text)


def test_an_element_nested_100k_deep_is_one_clear_error(tmp_path: Path) -> None:
    doc = capture()
    n = len(doc["traceEvents"])
    path = tmp_path / "deep.json"
    path.write_text(_with_element(doc, "[" * 100_000 + "]" * 100_000))
    with pytest.raises(InputError, match=rf"traceEvents\[{n}\] nests lists or objects deeper "
                                         "than the JSON reader follows"):
        load_timing(path)
    result = CliRunner().invoke(main, ["summary", str(path)])
    assert result.exit_code == 2
    assert result.output.count("roofprof: error: ") == 1


@pytest.mark.parametrize(("depth", "reads"), [(2000, False), (500, True)])
def test_a_deep_ignored_field_is_bounded(tmp_path: Path, clean: pd.DataFrame, depth: int,
                                         reads: bool) -> None:
    doc = capture()
    n = len(doc["traceEvents"])
    field = '{"a": ' * depth + "1" + "}" * depth
    cpu_op = ('{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, '
              f'"ts": 1.0, "dur": 1.0, "args": {{"deep": {field}}}}}')
    path = tmp_path / "deep.json"
    path.write_text(_with_element(doc, cpu_op))
    if not reads:
        with pytest.raises(InputError, match=rf"traceEvents\[{n}\] nests"):
            load_timing(path)
        return
    table, messages = read(path)
    assert messages == []
    pd.testing.assert_frame_equal(table.drop(columns="source"), clean.drop(columns="source"))


# ---------------------------------------- bad durations: unknown, never a number, one warning

def test_bad_kernel_durations_are_unknown_in_one_warning(tmp_path: Path,
                                                         clean: pd.DataFrame) -> None:
    doc = capture()
    kernels = where(doc, "kernel")[10:15]
    events = [doc["traceEvents"][i] for i in kernels]
    for e, value in zip(events, (-5, None, True, 0, "12"), strict=True):
        if value is None:
            del e["dur"]
        else:
            e["dur"] = value
    table, messages = read(path := write(tmp_path, doc))
    assert len(table) == 413
    rows = [row(table, e) for e in events]
    assert table["duration_ns"].iloc[rows].isna().all()
    assert table["duration_ns"].isna().sum() == 5
    assert (table["end_ns"].iloc[rows] == table["start_ns"].iloc[rows]).all()
    assert table["duration_ns"].sum() == total_without(clean, events)
    assert len(messages) == 1
    text = messages[0]
    assert text.startswith("<file>: 5 kernel event(s) without a usable duration (dur): ")
    for i, says in zip(kernels, ("dur = -5 (dur negative)", "dur = missing (dur missing)",
                                 "dur = True (dur not a number)", "dur = 0 (dur zero)",
                                 "dur = '12' (dur not a number)"), strict=True):
        assert f"event {i} (" in text
        assert says in text
    assert "Kept with duration unknown: duration_ns is null and end_ns is the start" in text
    through_everything(path, "5 kernel event(s) without a usable duration")


def test_a_boolean_is_never_a_number(tmp_path: Path) -> None:
    doc = capture()
    k = where(doc, "kernel")
    doc["traceEvents"][k[0]]["ts"] = True
    doc["traceEvents"][k[1]]["args"]["device"] = True
    doc["traceEvents"][k[2]]["args"]["stream"] = False
    table, messages = read(write(tmp_path, doc))
    assert len(table) == 412
    assert table["device"].isna().sum() == 1
    assert table["stream"].isna().sum() == 1
    assert len(messages) == 2
    assert "ts = True (ts not a number)" in messages[0]
    assert "args.device = 'True' (not an integer)" in messages[1]
    assert "args.stream = 'False' (not an integer)" in messages[1]


# ---------------------------------------------------- kernels without args: kept, counted

def test_kernels_without_args_are_kept_with_null_identity(tmp_path: Path,
                                                          clean: pd.DataFrame) -> None:
    doc = capture()
    k = where(doc, "kernel")[20:23]
    del doc["traceEvents"][k[0]]["args"]
    doc["traceEvents"][k[1]]["args"] = None
    doc["traceEvents"][k[2]]["args"] = [1, 2]
    table, messages = read(path := write(tmp_path, doc))
    assert len(table) == 413
    assert table["duration_ns"].sum() == clean["duration_ns"].sum()
    for column in ("device", "stream", "context", "correlation_id", "grid", "block"):
        assert table[column].isna().sum() == 3, column
    assert len(messages) == 1
    assert messages[0].startswith("<file>: 3 value(s) read as null: ")
    for i, raw in zip(k, ("missing", "None", "[1, 2]"), strict=True):
        assert f"kernel event {i} (" in messages[0]
        assert f"args = {raw!r} (not an object: device, context, stream, correlation, grid " \
               "and block are null)" in messages[0]
    through_everything(path, "3 value(s) read as null")


def test_a_trace_whose_kernels_are_all_unusable_says_how_many(tmp_path: Path) -> None:
    doc = capture()
    for i in where(doc, "kernel"):
        doc["traceEvents"][i]["ts"] = "soon"
    path = write(tmp_path, doc)
    with pytest.raises(InputError, match="without usable GPU kernel events: all 413 lack a "
                                         "usable start time"):
        load_timing(path)
    result = CliRunner().invoke(main, ["summary", str(path)])
    assert result.exit_code == 2
    assert "all 413 lack a usable start time (ts), e.g. event 1654" in result.output


# ------------------------------------- ranges and launches left out: counted, never silent

def test_a_negative_range_duration_is_left_out_and_said(tmp_path: Path,
                                                        clean: pd.DataFrame) -> None:
    doc = capture()
    i = where(doc, "user_annotation", "prefill")[0]
    doc["traceEvents"][i]["dur"] = -5
    table, messages = read(path := write(tmp_path, doc))
    assert (clean["phase"] == "prefill").sum() == 102
    assert (table["phase"] == "prefill").sum() == 0  # the range is gone, and the user is told
    assert (table["phase"] == "decode").sum() == 306
    assert len(messages) == 1
    assert f"event {i} (prefill): ts = {doc['traceEvents'][i]['ts']}, dur = -5 " \
           "(dur negative)" in messages[0]
    assert "phases, ranges and ops may be incomplete" in messages[0]
    through_everything(path, "annotation range(s)")


def test_a_launch_with_a_bad_start_drops_to_no_launch_counted(tmp_path: Path,
                                                              clean: pd.DataFrame) -> None:
    doc = capture()
    launches = where(doc, "cuda_runtime", "cudaLaunchKernel")[:3]
    for i in launches:
        doc["traceEvents"][i]["ts"] = -1.0
    table, messages = read(write(tmp_path, doc))
    assert (table["nvtx_source"] != "launch").sum() == 3
    assert table["launch_api"].isna().sum() == 3
    assert table["duration_ns"].sum() == clean["duration_ns"].sum()
    assert len(messages) == 1
    assert messages[0].startswith("<file>: 3 CUDA runtime/driver call(s) left out")
    assert f"event {launches[0]} (cudaLaunchKernel): ts = -1.0, dur = " in messages[0]
    assert "(ts negative)" in messages[0]
    assert "3 kernel(s) they launched have no launch call" in messages[0]


# --------------------------------------------------- reading once, streaming, bounded memory

def test_memory_follows_the_kept_events_not_the_file(tmp_path: Path) -> None:
    """A 40 MB trace (the capture plus CPU events it does not use) is read in a fraction of
    its size: the file is never read whole, nor its events kept."""
    doc = capture()
    doc["traceEvents"] += [{"ph": "X", "cat": "cpu_op", "name": "aten::pad", "pid": 1,
                            "tid": 1, "ts": 1.0 + i, "dur": 1.0, "args": {"pad": "x" * 20_000}}
                           for i in range(2000)]
    path = write(tmp_path, doc)
    size = path.stat().st_size
    assert size > 40e6
    tracemalloc.start()
    try:
        raw = read_timing(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(raw.stacks) == 413
    assert peak < size / 4, (peak, size)


def test_a_streamed_trace_reads_as_the_whole_document(tmp_path: Path,
                                                      clean: pd.DataFrame) -> None:
    """The same events as one line, with deviceProperties after traceEvents and NaN in an
    unused field: the same table."""
    doc = capture()
    order = {k: doc[k] for k in doc if k != "deviceProperties"}
    order["deviceProperties"] = doc["deviceProperties"]
    order["traceEvents"][0]["args"] = {"unused": NAN}
    path = tmp_path / "one_line.json"
    path.write_text(json.dumps(order, separators=(",", ":")))
    table, messages = read(path)
    assert messages == []
    pd.testing.assert_frame_equal(table.drop(columns="source"), clean.drop(columns="source"))


@pytest.mark.parametrize("cut", [1, 1000, 300_000, 900_001, -2, -1, 10**7])
def test_invalid_json_says_where_as_json_does(tmp_path: Path, cut: int) -> None:
    text = _text(EAGER)
    cut_text = text[:cut]
    path = tmp_path / "cut.json"
    path.write_text(cut_text)
    try:
        json.loads(cut_text)
    except json.JSONDecodeError as exc:
        expected = f"not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
    else:  # only blanks were cut: the whole trace
        assert not text[cut:].strip()
        assert len(read_timing(path).stacks) == 413
        return
    with pytest.raises(InputError) as error:
        read_timing(path)
    assert expected in str(error.value)


@pytest.mark.parametrize(("content", "says"), [
    (b'{"traceEvents": [1, 2,]}', "not valid JSON at line 1 column 23 (Expecting value)"),
    (b'{"traceEvents": []} x', "not valid JSON at line 1 column 21 (Extra data)"),
    (b'{"traceEvents": [], "traceEvents": []}', "holds traceEvents twice"),
    (b'[{"traceEvents": []}]', "JSON without a traceEvents list"),
    (b'{"traceEvents": [], "deviceProperties": ' + b"[" * 5000 + b"]" * 5000 + b"}",
     "deviceProperties nests lists or objects deeper"),
    (b'{"traceEvents": [' + b"1" * 5000 + b"]}", "traceEvents[0] holds a number Python "
                                                 "cannot read"),
    (b'{"traceEvents": ["caf\xe9"]}', "not UTF-8 text"),
    (gzip.compress(b'{"traceEvents": []}')[:-9], "the gzip stream is truncated or damaged"),
])
def test_every_damage_to_the_document_is_one_clear_error(tmp_path: Path, content: bytes,
                                                         says: str) -> None:
    path = tmp_path / "odd.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match="^" + re.escape(str(path))) as error:
        read_timing(path)
    assert says in str(error.value)


def test_elements_that_are_not_events_are_counted(tmp_path: Path, clean: pd.DataFrame) -> None:
    doc = capture()
    doc["traceEvents"] += [[1, 2], "x", None]
    n = len(doc["traceEvents"])
    table, messages = read(write(tmp_path, doc))
    assert len(table) == 413
    assert messages == [f"<file>: 3 element(s) of traceEvents are not JSON objects: event "
                        f"{n - 3}: element = [1, 2] (not an object); event {n - 2}: element = "
                        f"'x' (not an object); event {n - 1}: element = None (not an object); "
                        "ignored (--strict refuses such input)"]


# ---------------------------------------------- not a regular file: refused, never waited on

def _refused(path: Path, says: str) -> None:
    pattern = re.escape(f"{path}: is {says}")
    with pytest.raises(InputError, match=pattern):
        load_timing(path)
    with pytest.raises(InputError, match=pattern):
        roofprof.load(path)
    with pytest.raises(InputError, match=pattern):
        load_timing(path, format="kineto")
    for args in (["summary", str(path)], ["summary", "--input-format", "kineto", str(path)],
                 ["latency", str(path)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        if args[0] == "latency" and says == "a directory":  # latency says what it reads
            assert result.output.startswith(f"roofprof: error: {path}: a folder, not a timing "
                                            "trace; latency reads a timing trace file")
            continue
        assert result.output == f"roofprof: error: {path}: is {says}" + (
            ", not a report or export\n" if says == "a directory" else
            ", not a file; roofprof reads reports and traces from regular files: write it to a "
            "file first\n")


def test_a_named_pipe_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "trace.json"
    os.mkfifo(fifo)
    # were it opened, the reader would wait for a writer: this one comes after 20 s, so that
    # a regression fails (reading an empty pipe) instead of hanging the suite
    def writer() -> None:
        with open(fifo, "wb"):
            pass
    unblock = threading.Timer(20.0, writer)
    unblock.daemon = True
    unblock.start()
    try:
        _refused(fifo, "a named pipe (FIFO)")
    finally:
        unblock.cancel()


def test_a_device_a_socket_and_a_directory_are_refused(tmp_path: Path) -> None:
    _refused(Path("/dev/null"), "a character device")
    sock = tmp_path / "s.json"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock))
        _refused(sock, "a socket")
    _refused(tmp_path, "a directory")
