"""Regression tests for issue 10: roofprof's own Parquet traces as untrusted input, outputs that
are atomic and never an input of the same command, and ``record`` of a program that does not
exist. Traces are made by converting a real fixture in a temporary folder."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import roofprof
from roofprof.cli import main
from roofprof.errors import DataWarning, InputError
from roofprof.inputs.load import convert
from roofprof.tables.stored import META_KEY
from tests.conftest import FIXTURES
from tests.test_bad_input import assert_one_clear_error

SOURCE = FIXTURES / "known_work.ncu-rep"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    out = tmp_path / "t.parquet"
    convert([SOURCE], out)
    return out


def rewrite(src: Path, dst: Path, meta: bytes | None = None, edit: Any = None) -> Path:
    """Copy a trace with other roofprof metadata (raw bytes) and/or an edited table."""
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    if edit is not None:
        table = edit(table)
    if meta is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: meta})
    pq.write_table(table, dst)
    return dst


def meta_of(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    loaded: dict[str, Any] = json.loads(pq.read_schema(path).metadata[META_KEY])
    return loaded


# ------------------------------------------------------------------------ untrusted metadata


@pytest.mark.parametrize(("meta", "fragment"), [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "JSON list, not an object"),
    (b'"text"', "JSON str, not an object"),
    (b'{"schema_version": "1"}', "schema_version is '1', not an integer"),
    (b'{"schema_version": 1.5}', "schema_version is 1.5"),
    (b'{"schema_version": true}', "schema_version is True"),
    (b'{"schema_version": 99}', "newer than this roofprof reads"),
])
def test_damaged_metadata_is_one_clear_error(trace_file: Path, tmp_path: Path, meta: bytes,
                                             fragment: str) -> None:
    bad = rewrite(trace_file, tmp_path / "bad.parquet", meta=meta)
    for command in (["summary", str(bad)], ["plot", str(bad), "-o", str(tmp_path / "p.png")],
                    ["convert", str(bad), "-o", str(tmp_path / "c.parquet")]):
        code, output = cli(*command)
        assert_one_clear_error(code, output, "bad.parquet", fragment)
    assert not (tmp_path / "p.png").exists()
    assert not (tmp_path / "c.parquet").exists()


def test_null_lists_in_metadata_are_a_warning_and_the_table_is_read(trace_file: Path,
                                                                    tmp_path: Path) -> None:
    meta = meta_of(trace_file)
    meta.update(sources=None, gpu=None, missing=[1, 2], derivations=[], command="python x.py")
    bad = rewrite(trace_file, tmp_path / "bad.parquet", meta=json.dumps(meta).encode())
    with pytest.warns(DataWarning, match="sources, gpu, missing, command, derivations"):
        t = roofprof.load(bad)
    assert t.meta["sources"] == []
    assert t.meta["command"] is None
    np.testing.assert_array_equal(t.kernels["flop"], roofprof.load(trace_file).kernels["flop"])


def test_a_trace_without_duration_is_refused(trace_file: Path, tmp_path: Path) -> None:
    bad = rewrite(trace_file, tmp_path / "bad.parquet",
                  edit=lambda t: t.drop_columns(["duration_ns"]))
    code, output = cli("summary", str(bad))
    assert_one_clear_error(code, output, "bad.parquet", "no duration_ns column")


def test_an_nvtx_column_of_strings_is_refused(trace_file: Path, tmp_path: Path) -> None:
    import pyarrow as pa

    def strings(t: Any) -> Any:
        i = t.schema.get_field_index("nvtx")
        return t.set_column(i, "nvtx", pa.array(["gemm_bf16"] * len(t)))

    bad = rewrite(trace_file, tmp_path / "bad.parquet", edit=strings)
    code, output = cli("summary", str(bad), "--by", "range")
    assert_one_clear_error(code, output, "bad.parquet", "nvtx holds string values, not lists")


def test_a_measured_column_of_text_is_refused(trace_file: Path, tmp_path: Path) -> None:
    import pyarrow as pa

    def text(t: Any) -> Any:
        i = t.schema.get_field_index("flop")
        return t.set_column(i, "flop", pa.array(["many"] * len(t)))

    code, output = cli("summary", str(rewrite(trace_file, tmp_path / "bad.parquet", edit=text)))
    assert_one_clear_error(code, output, "bad.parquet", "column flop holds")


def test_negative_and_infinite_values_in_a_trace_are_null_and_named(trace_file: Path,
                                                                    tmp_path: Path) -> None:
    import pyarrow as pa

    def poison(t: Any) -> Any:
        values = t.column("duration_ns").to_numpy().copy()
        values[0], values[1] = -5.0, np.inf
        return t.set_column(t.schema.get_field_index("duration_ns"), "duration_ns",
                            pa.array(values))

    bad = rewrite(trace_file, tmp_path / "bad.parquet", edit=poison)
    with pytest.warns(DataWarning, match=r"2 value\(s\) read as null: kernel ID 0 .*-5.0.*"
                                         r"negative.*inf.*not finite"):
        t = roofprof.load(bad)
    assert t.kernels["duration_ns"][:2].isna().all()
    summary = roofprof.summary(t, by="kernel").select_dtypes("number")
    assert (summary.fillna(0) >= 0).all().all()
    code, output = cli("summary", str(bad), "--strict")
    assert_one_clear_error(code, output, "bad.parquet", "--strict")


def test_an_empty_trace_is_refused(trace_file: Path, tmp_path: Path) -> None:
    empty = rewrite(trace_file, tmp_path / "empty.parquet", edit=lambda t: t.slice(0, 0))
    out = tmp_path / "out.parquet"
    code, output = cli("convert", str(empty), "-o", str(out))
    assert_one_clear_error(code, output, "empty.parquet", "no kernels")
    assert not out.exists()
    code, output = cli("summary", str(empty))
    assert_one_clear_error(code, output, "empty.parquet", "no kernels")


# ---------------------------------------------------------------------------------- outputs


def test_summary_refuses_to_overwrite_its_input(tmp_path: Path, trace_file: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    export = tmp_path / "run.csv"
    export.write_bytes((FIXTURES / "known_work_raw.csv").read_bytes())
    before = export.read_bytes()
    code, output = cli("summary", str(export), "-o", str(export))
    assert_one_clear_error(code, output, "run.csv", "also an input")
    assert export.read_bytes() == before
    monkeypatch.chdir(tmp_path)  # the same file by another spelling
    code, output = cli("summary", "t.parquet", "-o", f"../{tmp_path.name}/t.parquet")
    assert_one_clear_error(code, output, "also an input")
    assert roofprof.load(trace_file).kernels.shape[0] == 10


@pytest.mark.parametrize("command", ["convert", "plot"])
def test_convert_and_plot_refuse_to_overwrite_their_input(trace_file: Path, tmp_path: Path,
                                                          command: str) -> None:
    before = trace_file.read_bytes()
    code, output = cli(command, str(trace_file), "-o", str(trace_file))
    assert_one_clear_error(code, output, "t.parquet", "also an input")
    assert trace_file.read_bytes() == before
    link = tmp_path / "link.parquet"
    link.symlink_to(trace_file)
    code, output = cli(command, str(trace_file), "-o", str(link))
    assert_one_clear_error(code, output, "also an input")
    assert trace_file.read_bytes() == before


def test_output_may_not_be_the_rules_file(trace_file: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text("")
    code, output = cli("summary", str(trace_file), "--rules", str(rules), "-o", str(rules))
    assert_one_clear_error(code, output, "also an input")


def test_summary_output_is_atomic(trace_file: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "s.json"
    out.write_text('{"good": true}')

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    code, output = cli("summary", str(trace_file), "-o", str(out))
    assert_one_clear_error(code, output, "s.json", "No space left")
    assert out.read_text() == '{"good": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "t.parquet"]


def test_summary_output_permissions(trace_file: Path, tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        out = tmp_path / "s.json"
        assert cli("summary", str(trace_file), "-o", str(out))[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644  # as open() makes it
        out.chmod(0o640)
        assert cli("summary", str(trace_file), "-o", str(out))[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o640  # a file replaced keeps its mode
        assert json.loads(out.read_text())
    finally:
        os.umask(mask)


# ----------------------------------------------------------------------------------- record


def test_record_of_a_missing_program_says_so(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_record import write_ncu

    exe = write_ncu(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("ROOFPROF_NCU", raising=False)
    monkeypatch.chdir(tmp_path)
    for program, fragment in (("no_such_program", "not found on PATH"),
                              ("./no_such_script.sh", "no such file")):
        code, output = cli("record", "-o", "run", "--", program, "--flag")
        assert_one_clear_error(code, output, program, fragment)
        assert code == 127
        assert "no kernels" not in output
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\n")
    code, output = cli("record", "-o", "run", "--", "./script.sh")
    assert_one_clear_error(code, output, "not executable")
    assert not (tmp_path / "run.ncu-rep").exists()


def test_rules_of_the_wrong_type_name_the_field(tmp_path: Path) -> None:
    rules = tmp_path / "r.toml"
    for text, fragment in (('[[phase]]\nmatch = 5\nphase = "decode"\n', "got 5"),
                           ('[[op]]\nmatch = "x"\nop = "y"\nname = 3\n', "name must be a str")):
        rules.write_text(text)
        with pytest.raises(InputError, match=fragment):
            roofprof.load(SOURCE, rules=rules)


@pytest.mark.parametrize("command", [
    ["diff", "{a}", "{b}", "-o", "{a}"],
    ["whatif", "{a}", "--gpu", "H200", "-o", "{a}"],
    ["model", "Llama-3-8B", "--trace", "{a}", "-o", "{a}"],
    ["gpus", "--check", "{a}", "-o", "{a}"],
    ["report", "{a}", "-o", "{html}", "--timing", "{html}"],
    ["join", "{b}", "{a}", "-o", "{a}"],
])
def test_no_command_writes_over_its_own_input(tmp_path: Path, command: list[str]) -> None:
    """Issue 10: every command with an output refuses to replace one of its inputs."""
    import shutil

    from click.testing import CliRunner

    from roofprof.cli import main

    a = tmp_path / "a.parquet"
    b = tmp_path / "b.json.gz"
    html = tmp_path / "r.html"
    CliRunner().invoke(main, ["convert", str(FIXTURES / "batch_1.ncu-rep"), "-o", str(a)])
    shutil.copy(FIXTURES / "llama_kineto.json.gz", b)
    html.write_text("<html></html>")
    before = {p: p.read_bytes() for p in (a, b, html)}
    argv = [c.format(a=a, b=b if command[0] == "join" else a, html=html) for c in command]
    if command[0] == "diff":
        argv[2] = str(a)
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2, res.output
    assert "is also an input of this command" in res.output
    assert "Traceback" not in res.output
    assert {p: p.read_bytes() for p in (a, b, html)} == before
