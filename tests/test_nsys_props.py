"""Property tests (issue 24): mutated copies of the real Nsight Systems exports
(fixtures/llama_graph_nsys.sqlite, node-level graph trace; ..._graphmode.sqlite, one record per
graph replay) never give a traceback, and never read as other numbers than the clean export's
(kernel count, summed duration, kernels per annotation path) unless a DataWarning says so (and
then --strict refuses them) or the reader refuses them with one InputError.

Mutations: a cell of a column the reader takes, in a random row of the kernel, graph replay,
runtime, NVTX, graph node, string or GPU table, set to a hostile value (NULL, text, a blob, a
real, a number beyond 64 bits, a negative, zero, the largest integer); a table dropped; the file
cut. What a mutation may change without a warning is excluded and says why: a cell set to
another valid value of its column (an integer in its range, NULL where nsys writes NULL, any
text where text belongs: the export says so, as a CSV export's other valid number does in
tests/test_validation_props.py), and NVTX_EVENTS dropped (nsys writes it only for programs that
used NVTX: an export without it is valid, and its kernels have no annotation path).
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import sqlite3
import warnings
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roofprof.cli import main
from roofprof.errors import DataWarning, InputError, RoofprofError, strict_mode
from roofprof.inputs.timing import load_timing
from tests.conftest import FIXTURES
from tests.test_nsys_hostile import loosen

NSYS_FIXTURES = ["llama_graph_nsys.sqlite", "llama_graph_nsys_graphmode.sqlite"]
#: each example reads the export three times (load_timing, strict, the command line) on a
#: shared machine: a generous deadline, a bounded count
BOUNDED = settings(max_examples=25, deadline=timedelta(seconds=30),
                   suppress_health_check=[HealthCheck.too_slow])

#: what each column the reader takes may validly hold: (lowest, highest) integer, or "text";
#: and whether nsys writes NULL there (a cell set to a valid value may change the numbers
#: silently: the export says so)
TIME, ID, CORRELATION, DIM, TEXT = (0, 2**63 - 2), (0, 2**63 - 1), (0, 2**32 - 1), \
    (1, 2**31 - 1), "text"
_KERNEL_IDS = {c: (ID, False) for c in ("deviceId", "contextId", "streamId", "shortName",
                                        "demangledName")}
SPEC: dict[str, dict[str, tuple[Any, bool]]] = {
    "CUPTI_ACTIVITY_KIND_KERNEL": {
        "start": (TIME, False), "end": (TIME, False), **_KERNEL_IDS,
        "correlationId": (CORRELATION, True), "globalPid": (ID, True),
        **{f"{d}{a}": (DIM, False) for d in ("grid", "block") for a in "XYZ"},
        "graphNodeId": (ID, True)},
    "CUPTI_ACTIVITY_KIND_GRAPH_TRACE": {
        "start": (TIME, False), "end": (TIME, False), "deviceId": (ID, False),
        "contextId": (ID, False), "streamId": (ID, False),
        "correlationId": (CORRELATION, True), "globalPid": (ID, True), "graphId": (ID, False)},
    "CUPTI_ACTIVITY_KIND_RUNTIME": {
        "correlationId": (CORRELATION, True), "globalTid": (ID, False), "start": (TIME, False),
        "nameId": (ID, False)},
    "NVTX_EVENTS": {
        "start": (TIME, False), "end": (TIME, True), "eventType": (ID, False),
        "globalTid": (ID, False), "text": (TEXT, True), "textId": (ID, True)},
    "CUDA_GRAPH_NODE_EVENTS": {
        "graphNodeId": (ID, False), "globalTid": (ID, False), "start": (TIME, False),
        "originalGraphNodeId": (ID, True)},
    "StringIds": {"id": (ID, False), "value": (TEXT, False)},
    "TARGET_INFO_GPU": {"cuDevice": (ID, False), "name": (TEXT, False),
                        "computeMajor": (ID, False), "computeMinor": (ID, False)},
}
HOSTILE = st.sampled_from([None, "abc", b"\x00\xff", 1.5, 9.3e18, str(2**70), -5, 0,
                           2**63 - 1])


def valid(value: Any, role: Any, nullable: bool) -> bool:
    """Whether ``value`` is one the column may hold (its meaning changes, not its validity)."""
    if value is None:
        return nullable
    if role == TEXT:
        return isinstance(value, str)
    return isinstance(value, int) and role[0] <= value <= role[1]


@functools.cache
def rowids(name: str) -> dict[str, list[int]]:
    """Each table of SPEC the fixture has: its rowids."""
    with contextlib.closing(sqlite3.connect(FIXTURES / name)) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return {t: [r[0] for r in db.execute(f'SELECT rowid FROM "{t}"')]
                for t in SPEC if t in tables}


def numbers(k: pd.DataFrame) -> tuple[int, float, dict[str, int]]:
    """What must not change silently: kernels, their summed duration, kernels per path."""
    return (len(k), float(k["duration_ns"].sum()),
            {str(p): int(n) for p, n in k["range"].astype(str).value_counts().items()})


@functools.cache
def clean(name: str) -> tuple[int, float, dict[str, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return numbers(load_timing(FIXTURES / name).kernels)


def outcome(path: Path) -> tuple[Any, list[str]]:
    """(the timing table's numbers, or None where refused with an InputError; the
    DataWarnings). The command line agrees: `summary` and `latency` exit 0, or 2 with one
    error line, never a traceback."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            got: Any = numbers(load_timing(path).kernels)
        except InputError:
            got = None
    told = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    for command in ("summary", "latency"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.exception
        assert result.exit_code == (0 if got is not None else 2), result.output
        if got is None:
            assert result.stderr.count("roofprof: error: ") == 1
    return got, told


def check(path: Path, name: str, silent_ok: bool = False) -> tuple[Any, list[str]]:
    """The invariant: refused, or warned (and refused under --strict), or the clean numbers
    (``silent_ok``: the mutation made another valid export; only no traceback is asked)."""
    got, told = outcome(path)
    if got is None:
        return got, told
    if told:
        with pytest.raises(InputError, match=r"\(refused: strict\)"), strict_mode(True):
            load_timing(path)
    elif not silent_ok:
        assert got == clean(name)
    return got, told


@BOUNDED
@given(name=st.sampled_from(NSYS_FIXTURES), data=st.data(), value=HOSTILE)
def test_a_hostile_cell(name: str, data: st.DataObject, value: Any) -> None:
    tables = rowids(name)
    table = data.draw(st.sampled_from(sorted(tables)), label="table")
    with contextlib.closing(sqlite3.connect(FIXTURES / name)) as db:
        have = {r[1] for r in db.execute(f'PRAGMA table_info("{table}")')}
    column = data.draw(st.sampled_from(sorted(set(SPEC[table]) & have)), label="column")
    rowid = data.draw(st.sampled_from(tables[table]), label="rowid")
    role, nullable = SPEC[table][column]
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        shutil.copy(FIXTURES / name, path)
        with contextlib.closing(sqlite3.connect(path)) as db:
            loosen(db, table)
            db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?', (value, rowid))
            db.commit()
        got, _ = check(path, name, silent_ok=valid(value, role, nullable))
    if valid(value, role, nullable):  # another valid export: never fewer kernels
        assert got is not None
        assert got[0] == clean(name)[0]
    elif got is not None:  # at most the damaged record left out
        assert got[0] >= clean(name)[0] - 1


@BOUNDED
@given(name=st.sampled_from(NSYS_FIXTURES), data=st.data())
def test_a_table_dropped(name: str, data: st.DataObject) -> None:
    table = data.draw(st.sampled_from(sorted(rowids(name))), label="table")
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        shutil.copy(FIXTURES / name, path)
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(f'DROP TABLE "{table}"')
            db.commit()
        got, told = check(path, name, silent_ok=table == "NVTX_EVENTS")
    if table == "NVTX_EVENTS":  # a valid export of a program without NVTX: no paths at all
        assert not told
        assert got[:2] == clean(name)[:2]
        assert got[2] == {"": got[0]}
    elif table in ("CUPTI_ACTIVITY_KIND_KERNEL", "StringIds"):
        assert got is None
    else:
        assert got is not None
        assert told


@BOUNDED
@given(name=st.sampled_from(NSYS_FIXTURES), data=st.data())
def test_a_file_cut_short(name: str, data: st.DataObject) -> None:
    """A copy cut anywhere is refused: SQLite would read the missing pages as zeros."""
    whole = (FIXTURES / name).read_bytes()
    at = data.draw(st.integers(0, len(whole) - 1), label="cut at")
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(whole[:at])
        with pytest.raises(RoofprofError):
            load_timing(path)
        got, _ = outcome(path)
    assert got is None
