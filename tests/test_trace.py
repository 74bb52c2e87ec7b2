"""Parquet traces: round trips, metadata, atomic writes, several inputs, older/newer schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import roofprof
from roofprof.errors import InputError
from roofprof.inputs.load import convert
from roofprof.tables.kernels import Trace, write_parquet
from roofprof.tables.schema import COLUMNS, SCHEMA_VERSION
from roofprof.tables.stored import META_KEY
from tests.conftest import FIXTURES, load_fixture


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    src = load_fixture("llama_small.ncu-rep")
    write_parquet(Trace(src.kernels.copy(), dict(src.meta)), tmp_path / "t.parquet")
    back = roofprof.load(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(back.kernels, src.kernels, check_dtype=False)
    assert back.meta["schema_version"] == SCHEMA_VERSION
    assert back.kernels["nvtx"].iloc[0] == ["prefill"]


def test_convert_concatenates_inputs_with_a_source_column(tmp_path: Path) -> None:
    out = tmp_path / "both.parquet"
    t = convert([FIXTURES / "known_work.ncu-rep", FIXTURES / "llama_small_raw.csv"], out,
                command=["python", "x.py"])
    assert len(t) == len(load_fixture("known_work.ncu-rep")) + len(
        load_fixture("llama_small_raw.csv"))
    back = roofprof.load(out)
    assert back.kernels["source"].nunique() == 2
    meta = back.meta
    for key in ("schema_version", "roofprof_version", "sources", "formats", "gpu", "created",
                "derivations", "command"):
        assert meta[key], key
    assert meta["gpu"] == ["NVIDIA H100 80GB HBM3"]
    assert meta["ncu_version"] == "2025.3.1.0"  # read from the report's header
    assert set(meta["formats"]) == {"ncu-rep", "ncu-csv-raw"}
    # a trace can be an input too
    with pytest.warns(roofprof.RoofprofWarning, match="l2_bytes"):  # --set full lacks them
        again = convert([out, FIXTURES / "mul_full_raw.csv"], tmp_path / "three.parquet")
    assert len(again) == len(t) + 1


def test_metadata_is_plain_json_in_the_parquet_footer(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    convert([FIXTURES / "known_work.ncu-rep"], out)
    meta = json.loads(pq.read_schema(out).metadata[META_KEY])
    assert meta["schema_version"] == SCHEMA_VERSION
    assert pq.read_schema(out).names == list(COLUMNS)


def test_write_is_atomic_on_interrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "t.parquet"
    out.write_bytes(b"previous")

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert([FIXTURES / "known_work.ncu-rep"], out)
    assert out.read_bytes() == b"previous"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temporary left


def test_newer_schema_is_refused_older_is_filled(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    convert([FIXTURES / "known_work.ncu-rep"], out)
    table = pq.read_table(out)
    meta = json.loads(table.schema.metadata[META_KEY])
    meta["schema_version"] = SCHEMA_VERSION + 1
    pq.write_table(table.replace_schema_metadata({META_KEY: json.dumps(meta)}), out)
    with pytest.raises(InputError, match="upgrade roofprof"):
        roofprof.load(out)
    old = {"schema_version": 1, "sources": ["x"]}  # a writer that knew fewer keys
    pq.write_table(table.drop(["l1_bytes"]).replace_schema_metadata(
        {META_KEY: json.dumps(old)}), out)
    with pytest.warns(roofprof.RoofprofWarning, match="l1_bytes are not in the trace"):
        t = roofprof.load(out)  # filled, and said so
    assert t.meta["missing"] == []
    assert t.kernels["l1_bytes"].isna().all()
    assert list(t.kernels.columns) == list(COLUMNS)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e18, allow_nan=False), min_size=1,
                max_size=20),
       st.lists(st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s), max_size=3))
def test_parquet_round_trip_property(values: list[float], stack: list[str]) -> None:
    import tempfile

    base = load_fixture("known_work.ncu-rep").kernels.iloc[[0]]
    k = pd.concat([base] * len(values), ignore_index=True)
    k["flop"] = values
    k["nvtx"] = [list(stack)] * len(values)
    k["range"] = "/".join(stack)
    with tempfile.TemporaryDirectory() as tmp:
        write_parquet(Trace(k), Path(tmp) / "p.parquet")
        back = roofprof.load(Path(tmp) / "p.parquet").kernels
    assert back["flop"].tolist() == values
    assert back["nvtx"].tolist() == [list(stack)] * len(values)


def test_outputs_get_the_usual_permissions(tmp_path: Path) -> None:
    import os
    import stat

    mask = os.umask(0o022)
    try:
        convert([FIXTURES / "known_work.ncu-rep"], tmp_path / "t.parquet")
        roofprof.plot(roofprof.load(tmp_path / "t.parquet")).figure.savefig(tmp_path / "x.png")
        from roofprof.views.chart import write

        write(roofprof.load(tmp_path / "t.parquet"), tmp_path / "t.png")
    finally:
        os.umask(mask)
    for name in ("t.parquet", "t.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name  # not mkstemp's 0600
