"""Property tests (issue 10): mutated copies of real fixtures never give a traceback, and never
succeed with fewer kernels or other numbers than the clean parse unless a warning says so.

Mutations of CSV exports: cuts, cell edits, column shuffles, duplicated rows and columns,
encodings. Mutations of Parquet traces (made by converting a fixture): metadata fields set to any
JSON, columns dropped or retyped, values poisoned, bytes cut. What a mutation may legitimately
change without a warning is excluded and says why: a cell edited into another valid number (the
file says so), and a cut exactly between two records of a raw export (a shorter export is still
a valid export; nothing in the format tells them apart).
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import roofprof
from roofprof.cli import main
from roofprof.errors import RoofprofError
from roofprof.tables.schema import MEASURED, META_KEYS
from roofprof.tables.stored import META_KEY
from tests.conftest import FIXTURES

CSV_FIXTURES = ["known_work_raw.csv", "known_work_details.csv", "sol_roofline_chart_raw.csv"]
BOUNDED = settings(max_examples=25, deadline=timedelta(seconds=3),
                   suppress_health_check=[HealthCheck.too_slow])
#: what a cell may become: texts no export can hold as a measured value (none has a digit, so
#: none is another valid number), and numbers written in ways that are not valid
BAD_CELLS = st.one_of(
    st.sampled_from(["abc", "12x", "0x1F", "inf", "-inf", "nan", "NaN", "-5", "-1,000",
                     "\u22125", "\uff11\uff12", "1e999", "1,00,0", "1.2.3", "12 34", "--1",
                     "1_000", "\u00a0", "\x00"]),
    st.text(max_size=12).filter(lambda s: not any(c.isdigit() for c in s)
                                and s.strip().lower() not in ("", "n/a")),
)


def parse_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def to_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def outcome(path: Path) -> tuple[roofprof.Trace | None, list[str]]:
    """(trace or None if refused with a RoofprofError, every warning's text)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            trace: roofprof.Trace | None = roofprof.load(path)
        except RoofprofError:
            trace = None
    # the file's name is left out, so that a copy's warnings compare with the fixture's
    return trace, [str(w.message).replace(str(path), "<file>") for w in caught
                   if issubclass(w.category, roofprof.RoofprofWarning)]


def same_table(got: pd.DataFrame, clean: pd.DataFrame) -> bool:
    if len(got) != len(clean):
        return False
    return all(np.array_equal(got[c].to_numpy(dtype="float64"),
                              clean[c].to_numpy(dtype="float64"), equal_nan=True)
               for c in (*MEASURED, "flop"))


def check(path: Path, clean: pd.DataFrame, baseline: list[str]) -> tuple[Any, list[str]]:
    """The invariant: refused, or warned beyond the clean file's own warnings, or the same."""
    trace, messages = outcome(path)
    if trace is not None and set(messages) <= set(baseline):
        assert same_table(trace.kernels, clean), messages
    return trace, messages


def clean_of(name: str) -> tuple[pd.DataFrame, list[str]]:
    trace, messages = outcome(FIXTURES / name)
    assert trace is not None
    return trace.kernels, messages


# ------------------------------------------------------------------------------------- CSV


@BOUNDED
@given(name=st.sampled_from(CSV_FIXTURES), data=st.data())
def test_cut_csv(name: str, data: st.DataObject) -> None:
    text = (FIXTURES / name).read_bytes()
    at = data.draw(st.integers(0, len(text) - 1))
    clean, baseline = clean_of(name)
    with TemporaryDirectory() as tmp:
        p = Path(tmp) / "cut.csv"
        p.write_bytes(text[:at])
        trace, messages = outcome(p)
    if trace is None or set(messages) - set(baseline):
        return
    between_records = text[:at].endswith(b"\n") or text[at:] == b"\n"
    if between_records and "details" not in name:
        # a valid shorter export: the kernels it has are the clean ones
        assert same_table(trace.kernels, clean.iloc[: len(trace)].reset_index(drop=True))
    else:
        assert same_table(trace.kernels, clean), messages


@BOUNDED
@given(name=st.sampled_from(CSV_FIXTURES), data=st.data(), cell=BAD_CELLS)
def test_edited_csv_cell(name: str, data: st.DataObject, cell: str) -> None:
    rows = parse_rows((FIXTURES / name).read_text())
    first_data = 2 if rows[1][0] == "" else 1  # the units row is tested on its own
    i = data.draw(st.sampled_from([0, *range(first_data, len(rows))]), label="row")
    j = data.draw(st.integers(0, len(rows[i]) - 1), label="column")
    rows[i][j] = cell
    clean, baseline = clean_of(name)
    with TemporaryDirectory() as tmp:
        p = Path(tmp) / "edited.csv"
        p.write_text(to_text(rows))
        check(p, clean, baseline)
        result = CliRunner().invoke(main, ["summary", str(p), "--by", "kernel"])
        assert "Traceback" not in result.output
        assert result.exit_code in (0, 2), result.output


@BOUNDED
@given(name=st.sampled_from(CSV_FIXTURES), data=st.data())
def test_shuffled_csv_columns_read_the_same(name: str, data: st.DataObject) -> None:
    rows = parse_rows((FIXTURES / name).read_text())
    order = data.draw(st.permutations(range(len(rows[0]))))
    clean, baseline = clean_of(name)
    with TemporaryDirectory() as tmp:
        p = Path(tmp) / "shuffled.csv"
        p.write_text(to_text([[r[k] for k in order] for r in rows]))
        trace, messages = outcome(p)
    assert trace is not None
    assert set(messages) <= set(baseline)
    assert same_table(trace.kernels, clean)


@BOUNDED
@given(name=st.sampled_from(CSV_FIXTURES), data=st.data(), copies=st.integers(1, 3))
def test_duplicated_csv_rows_and_columns(name: str, data: st.DataObject, copies: int) -> None:
    rows = parse_rows((FIXTURES / name).read_text())
    if data.draw(st.booleans(), label="rows"):
        i = data.draw(st.integers(1, len(rows) - 1))
        for _ in range(copies):
            rows.insert(data.draw(st.integers(i + 1, len(rows))), list(rows[i]))
    else:
        j = data.draw(st.integers(0, len(rows[0]) - 1))
        for _ in range(copies):
            at = data.draw(st.integers(0, len(rows[0])))
            rows = [[*r[:at], r[j], *r[at:]] for r in rows]
    clean, baseline = clean_of(name)
    with TemporaryDirectory() as tmp:
        p = Path(tmp) / "dup.csv"
        p.write_text(to_text(rows))
        check(p, clean, baseline)


@BOUNDED
@given(name=st.sampled_from(CSV_FIXTURES), how=st.sampled_from(
    ["bom", "crlf", "utf16", "latin1_name", "cp1252_quotes", "nul", "stray_quote"]),
    data=st.data())
def test_csv_encodings(name: str, how: str, data: st.DataObject) -> None:
    raw = (FIXTURES / name).read_bytes()
    if how == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif how == "crlf":
        raw = raw.replace(b"\n", b"\r\n")
    elif how == "utf16":
        raw = raw.decode().encode("utf-16")
    else:
        at = raw.index(b"\n", raw.index(b"\n") + 1) + 3  # inside a cell of the first data row
        at = data.draw(st.integers(at, len(raw) - 2))
        byte = {"latin1_name": b"\xe9", "cp1252_quotes": b"\x93", "nul": b"\x00",
                "stray_quote": b'"'}[how]
        raw = raw[:at] + byte + raw[at:]
    clean, baseline = clean_of(name)
    with TemporaryDirectory() as tmp:
        p = Path(tmp) / "encoded.csv"
        p.write_bytes(raw)
        trace, _ = check(p, clean, baseline)
    if how in ("bom", "crlf"):
        assert trace is not None


# ----------------------------------------------------------------------------------- Parquet

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


@pytest.fixture(scope="module")
def parquet_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from roofprof.inputs.load import convert

    out = tmp_path_factory.mktemp("trace") / "t.parquet"
    convert([FIXTURES / "known_work.ncu-rep"], out)
    return out


def _parquet_case(src: Path, dst: Path, edit: Any = None, meta: dict[str, Any] | None = None
                  ) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    if edit is not None:
        table = edit(table)
    if meta is not None:
        table = table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    pq.write_table(table, dst)


PARQUET = settings(BOUNDED, suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.function_scoped_fixture])


@PARQUET
@given(key=st.sampled_from([*META_KEYS, "extra"]), value=JSON)
def test_parquet_metadata_fields(parquet_trace: Path, key: str, value: Any) -> None:
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(parquet_trace).metadata[META_KEY])
    meta[key] = value
    clean = roofprof.load(parquet_trace).kernels
    with TemporaryDirectory() as tmp:
        p = Path(tmp) / "m.parquet"
        _parquet_case(parquet_trace, p, meta=meta)
        check(p, clean, [])
        result = CliRunner().invoke(main, ["summary", str(p)])
        assert "Traceback" not in result.output
        assert result.exit_code in (0, 2), result.output


@PARQUET
@given(data=st.data(), how=st.sampled_from(["drop", "text", "integer", "poison", "cut"]))
def test_parquet_columns_and_bytes(parquet_trace: Path, data: st.DataObject, how: str) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    names = pq.read_schema(parquet_trace).names
    col = data.draw(st.sampled_from(names), label="column")
    # NaN is how a trace stores null: the file's own word, not a poisoned value
    poison = data.draw(st.sampled_from([-1.0, -1e-300, float("inf"), float("-inf")]))

    def edit(t: Any) -> Any:
        i = t.schema.get_field_index(col)
        if how == "drop":
            return t.remove_column(i)
        if how == "text":
            return t.set_column(i, col, pc.cast(t.column(col), pa.string()) if col != "nvtx"
                                else pa.array(["x"] * len(t)))
        if how == "integer" and pa.types.is_floating(t.schema.field(col).type):
            return t.set_column(i, col, pc.cast(pc.fill_null(t.column(col), 0), pa.int64(),
                                                safe=False))
        if how == "poison" and pa.types.is_floating(t.schema.field(col).type):
            values = t.column(col).to_numpy().copy()
            values[data.draw(st.integers(0, len(values) - 1))] = poison
            return t.set_column(i, col, pa.array(values))
        return t

    clean = roofprof.load(parquet_trace).kernels
    with TemporaryDirectory() as tmp:
        p = Path(tmp) / "c.parquet"
        if how == "cut":
            raw = parquet_trace.read_bytes()
            p.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
        else:
            _parquet_case(parquet_trace, p, edit=edit)
        if how == "integer":
            # a float column stored as integers: the file says those numbers; only no traceback
            outcome(p)
            return
        check(p, clean, [])

