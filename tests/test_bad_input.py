"""Bad input: one clear line (what, which file, what to do), a non-zero exit, never a traceback,
never a silently empty or wrong table."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import roofprof
from roofprof.cli import main
from roofprof.errors import InputError
from tests.conftest import FIXTURES, load_fixture


def convert(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["convert", *args])
    return result.exit_code, result.output


def assert_one_clear_error(code: int, output: str, *fragments: str) -> None:
    assert code != 0
    assert "Traceback" not in output
    errors = [ln for ln in output.splitlines() if ln.startswith("roofprof: error:")]
    assert len(errors) == 1, output
    for f in fragments:
        assert f in errors[0], errors[0]


@pytest.fixture
def out(tmp_path: Path) -> str:
    return str(tmp_path / "t.parquet")


def test_empty_files(tmp_path: Path, out: str) -> None:
    for name in ("empty.ncu-rep", "empty.csv"):
        p = tmp_path / name
        p.write_bytes(b"")
        code, output = convert(str(p), "-o", out)
        assert_one_clear_error(code, output, name, "empty")
        assert code == 2
    assert not Path(out).exists()


@pytest.mark.parametrize("fraction", [0.999, 0.5, 0.01])
def test_truncated_report_never_reads_as_zero_kernels(tmp_path: Path, out: str,
                                                      fraction: float) -> None:
    """A cut report keeps its complete kernels with a warning; --strict refuses it."""
    data = (FIXTURES / "llama_small.ncu-rep").read_bytes()
    p = tmp_path / "cut.ncu-rep"
    p.write_bytes(data[: int(len(data) * fraction)])
    code, output = convert(str(p), "--strict", "-o", out)
    assert_one_clear_error(code, output, "cut.ncu-rep", "truncated")
    with pytest.raises(InputError, match="truncated"):
        roofprof.load(p, strict=True)
    with pytest.raises(InputError, match="truncated"):
        roofprof.load(p, reader="ncu-report")  # checked before NVIDIA's reader sees it
    with pytest.warns(roofprof.RoofprofWarning, match="truncated"):
        kept = len(roofprof.load(p).kernels)
    assert 0 < kept < 186


def test_random_bytes_with_report_magic(tmp_path: Path, out: str) -> None:
    p = tmp_path / "noise.ncu-rep"
    p.write_bytes(b"NVR\x00" + os.urandom(4096))
    code, output = convert(str(p), "-o", out)
    assert_one_clear_error(code, output, "noise.ncu-rep")


def test_random_bytes_named_like_a_report(tmp_path: Path, out: str) -> None:
    p = tmp_path / "random.ncu-rep"
    p.write_bytes(os.urandom(4096))
    code, output = convert(str(p), "-o", out)
    assert_one_clear_error(code, output, "random.ncu-rep", "damaged or of another kind")


def test_csv_from_another_tool(tmp_path: Path, out: str) -> None:
    p = tmp_path / "other.csv"
    p.write_text("name,time\nfoo,1\n")
    code, output = convert(str(p), "-o", out)
    assert_one_clear_error(code, output, "other.csv", "not a format roofprof reads")
    code, output = convert(str(p), "-o", out, "--input-format", "ncu-csv")
    assert_one_clear_error(code, output, "other.csv", "--page raw")


def _rows(name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((FIXTURES / name).read_text())))


def _write(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue())


def test_csv_with_no_metric_columns(tmp_path: Path, out: str) -> None:
    rows = _rows("known_work_raw.csv")
    cut = rows[0].index("CC") + 1
    p = tmp_path / "ids.csv"
    _write(p, [r[:cut] for r in rows])
    code, output = convert(str(p), "-o", out)
    assert_one_clear_error(code, output, "ids.csv", "no metric columns")


def test_half_written_last_row_is_left_out_with_a_warning(tmp_path: Path) -> None:
    text = (FIXTURES / "known_work_raw.csv").read_text()
    p = tmp_path / "cut.csv"
    p.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2])
    with pytest.warns(roofprof.RoofprofWarning, match="last row is incomplete"):
        t = roofprof.load(p)
    full = load_fixture("known_work_raw.csv").kernels
    assert len(t) == len(full) - 1
    np.testing.assert_allclose(t.kernels["flop"], full["flop"][:-1])


def test_damaged_row_in_the_middle(tmp_path: Path, out: str) -> None:
    rows = _rows("known_work_raw.csv")
    rows[3] = rows[3][:10]
    p = tmp_path / "mid.csv"
    _write(p, rows)
    code, output = convert(str(p), "-o", out)
    assert_one_clear_error(code, output, "mid.csv", "row 4")


_US = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$")


def _european(cell: str) -> str:
    if _US.match(cell):
        return cell.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return cell


@pytest.mark.parametrize("fixture", ["known_work_raw.csv", "known_work_details.csv"])
def test_european_locale_numbers_parse_to_the_same_table(tmp_path: Path, fixture: str) -> None:
    rows = _rows(fixture)
    converted = [rows[0]] + [[_european(c) for c in r] for r in rows[1:]]
    assert any("." in c and "," not in c and c.count(".") >= 2 for r in converted for c in r)
    p = tmp_path / "eu.csv"
    _write(p, converted)
    eu = roofprof.load(p).kernels
    us = load_fixture(fixture).kernels
    for col in ("flop", "dram_bytes", "duration_ns", "peak_flop_per_s_tensor_bf16"):
        np.testing.assert_allclose(eu[col], us[col], err_msg=col)


def test_mixed_number_styles_are_refused(tmp_path: Path, out: str) -> None:
    rows = _rows("known_work_raw.csv")
    rows[2] = [_european(c) for c in rows[2]]  # one row European, the rest not
    p = tmp_path / "mixed.csv"
    _write(p, rows)
    code, output = convert(str(p), "-o", out)
    assert_one_clear_error(code, output, "mixed.csv", "LC_ALL=C")


def test_missing_file_directory_and_foreign_parquet(tmp_path: Path, out: str) -> None:
    code, output = convert(str(tmp_path / "nope.ncu-rep"), "-o", out)
    assert_one_clear_error(code, output, "nope.ncu-rep", "no such file")
    code, output = convert(str(tmp_path), "-o", out)
    assert_one_clear_error(code, output, "directory")
    import pyarrow as pa
    import pyarrow.parquet as pq

    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1]}), foreign)
    result = CliRunner().invoke(main, ["summary", str(foreign)])
    assert_one_clear_error(result.exit_code, result.output, "foreign.parquet",
                           "not a roofprof trace")


def test_unwritable_output_leaves_nothing_behind(tmp_path: Path) -> None:
    code, output = convert(str(FIXTURES / "known_work.ncu-rep"), "-o",
                           str(tmp_path / "missing" / "t.parquet"))
    assert_one_clear_error(code, output, "does not exist")
    code, output = convert(str(FIXTURES / "known_work.ncu-rep"), "-o", str(tmp_path / "t.txt"))
    assert_one_clear_error(code, output, ".parquet")


def test_missing_metrics_give_nulls_and_one_warning_naming_them(tmp_path: Path) -> None:
    p = tmp_path / "sol.ncu-rep"
    shutil.copy(FIXTURES / "sol_roofline_chart.ncu-rep", p)
    result = CliRunner().invoke(main, ["convert", str(p), "-o", str(tmp_path / "s.parquet")])
    assert result.exit_code == 0
    warnings = [ln for ln in result.output.splitlines() if ln.startswith("roofprof: warning:")]
    assert len(warnings) == 1
    assert "flop_tensor_bf16" in warnings[0]
    assert "null" in warnings[0]
    k = roofprof.load(tmp_path / "s.parquet").kernels
    assert k["flop_tensor_bf16"].isna().all()  # null, never 0
