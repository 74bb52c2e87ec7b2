"""Regression tests for issue 10, CSV exports: one per class of hostile input, each made from a
real fixture. Never a traceback; never fewer kernels or other numbers without a warning saying
which and why; ``--strict`` turns each warning into one clear error."""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import roofprof
from roofprof.cli import main
from roofprof.errors import DataWarning, InputError
from roofprof.tables.schema import MEASURED
from tests.conftest import FIXTURES, load_fixture
from tests.test_bad_input import assert_one_clear_error

RAW = "known_work_raw.csv"
DURATION = "gpu__time_duration.sum"
#: the known_work kernels (fixtures/MANIFEST.md), in the export's order
GEMM_BF16, GEMM_FP16, GEMM_FP32 = 0, 1, 3
M, N, K = 1024, 2048, 4096


def rows(name: str = RAW) -> list[list[str]]:
    return list(csv.reader(io.StringIO((FIXTURES / name).read_text())))


def text_of(table: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(table)
    return buf.getvalue()


def write(path: Path, table: list[list[str]]) -> Path:
    path.write_text(text_of(table))
    return path


def load_warned(path: Path, *patterns: str) -> tuple[roofprof.Trace, list[str]]:
    """Load, assert each pattern is found in a warning; returns the trace and every message."""
    with pytest.warns(roofprof.RoofprofWarning) as caught:
        trace = roofprof.load(path)
    messages = [str(w.message) for w in caught]
    for pattern in patterns:
        assert any(re.search(pattern, m) for m in messages), (pattern, messages)
    return trace, messages


def load_clean(path: Path) -> roofprof.Trace:
    """Load and assert that nothing at all was reported."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return roofprof.load(path)


def same_numbers(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b)
    for col in (*MEASURED, "flop"):
        np.testing.assert_array_equal(a[col].to_numpy(), b[col].to_numpy(), err_msg=col)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


# ------------------------------------------------------------------------------ tracebacks


def test_utf8_byte_order_mark_is_read(tmp_path: Path) -> None:
    p = tmp_path / "excel.csv"
    p.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / RAW).read_bytes())
    same_numbers(load_clean(p).kernels, load_fixture(RAW).kernels)
    code, _ = cli("summary", str(p))
    assert code == 0


def test_two_copies_of_an_export_are_read_once_with_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "twice.csv"
    p.write_text((FIXTURES / RAW).read_text() * 2)
    t, _ = load_warned(p, "10 row.* repeat an earlier row exactly")
    same_numbers(t.kernels, load_fixture(RAW).kernels)


def test_two_exports_with_the_same_columns_are_read_as_two_parts(tmp_path: Path) -> None:
    p = tmp_path / "two.csv"
    p.write_text((FIXTURES / RAW).read_text() + (FIXTURES / "llama_small_raw.csv").read_text())
    t, _ = load_warned(p, "holds 2 exports")
    a, b = load_fixture(RAW).kernels, load_fixture("llama_small_raw.csv").kernels
    same_numbers(t.kernels, pd.concat([a, b], ignore_index=True))


def test_two_exports_with_other_columns_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "mixed.csv"
    p.write_text((FIXTURES / RAW).read_text()
                 + (FIXTURES / "known_work_roofline_raw.csv").read_text())
    code, output = cli("convert", str(p), "-o", str(tmp_path / "t.parquet"))
    assert_one_clear_error(code, output, "mixed.csv", "second export with other columns",
                           "line 13")


def test_a_cell_over_the_csv_modules_limit_is_read(tmp_path: Path) -> None:
    table = rows()
    j = table[0].index("thread Domain:Push/Pop_Range:PL_Type:PL_Value:CLR_Type:Color:Msg_Type:Msg")
    name = "n" * 200_000
    table[2][j] = f'461  "<default domain>:{name}:none:none:RGB:0xff:REGISTERED:{name}" '
    t = load_clean(write(tmp_path / "long.csv", table))
    assert t.kernels["range"][0] == name
    same_numbers(t.kernels, load_fixture(RAW).kernels)


def test_bytes_that_are_not_utf8_are_replaced_and_named(tmp_path: Path) -> None:
    data = (FIXTURES / RAW).read_bytes().replace(b"nvjet_sm90_tst", b"nvjet_\xff90_tst", 1)
    p = tmp_path / "latin.csv"
    p.write_bytes(data)
    t, _ = load_warned(p, r"line\(s\) 3 hold bytes that are not UTF-8")
    assert t.kernels["kernel"][0].startswith("nvjet_\ufffd90_tst")
    same_numbers(t.kernels, load_fixture(RAW).kernels)
    code, output = cli("summary", str(p), "--by", "kernel")
    assert code == 0
    assert "\ufffd" in output
    code, output = cli("summary", str(p), "--strict")
    assert_one_clear_error(code, output, "latin.csv", "not UTF-8", "--strict")


# -------------------------------------------------------------------- silently wrong numbers


@pytest.mark.parametrize(("cell", "reason"), [
    ("abc", "not a number"), ("12x", "not a number"), ("0x1F", "not a number"),
    ("inf", "not finite"), ("nan", "not finite"), ("1e999", "not finite"),
    ("-5", "negative"), ("\u22125", "non-ASCII"), ("\uff11\uff12", "non-ASCII"),
])
def test_a_bad_duration_is_null_and_named(tmp_path: Path, cell: str, reason: str) -> None:
    table = rows()
    j = table[0].index(DURATION)
    table[2 + GEMM_FP16][j] = cell
    p = write(tmp_path / "bad.csv", table)
    with pytest.warns(DataWarning) as caught:
        t = roofprof.load(p)
    (message,) = [str(w.message) for w in caught]
    for part in ("bad.csv", "kernel ID 1", "nvjet_sm90_hsh", DURATION, repr(cell), reason):
        assert part in message, (part, message)
    k, clean = t.kernels, load_fixture(RAW).kernels
    assert np.isnan(k["duration_ns"][GEMM_FP16])  # null, never -5 or 12
    others = k.index != GEMM_FP16
    np.testing.assert_array_equal(k["duration_ns"][others], clean["duration_ns"][others])
    assert k["flop"][GEMM_FP16] == clean["flop"][GEMM_FP16]  # its counters are still right
    code, output = cli("summary", str(p), "--strict")
    assert_one_clear_error(code, output, "bad.csv", DURATION, "--strict")
    assert code == 2


def test_negative_duration_never_gives_negative_rates(tmp_path: Path) -> None:
    table = rows()
    table[2 + GEMM_BF16][table[0].index(DURATION)] = "-5"
    p = write(tmp_path / "neg.csv", table)
    t, _ = load_warned(p, "negative")
    summary = roofprof.summary(t, by="kernel")
    numbers = summary.select_dtypes("number")
    assert (numbers.fillna(0) >= 0).all().all()


def test_negative_count_with_thousands_separator_is_null(tmp_path: Path) -> None:
    """``-1,000`` in the FFMA column of the fp32 GEMM: null, not 2*(-1000) FLOPs."""
    table = rows()
    j = table[0].index("sm__sass_thread_inst_executed_op_ffma_pred_on.sum")
    table[2 + GEMM_FP32][j] = "-1,000"
    t, _ = load_warned(write(tmp_path / "neg.csv", table), "'-1,000' \\(negative\\)")
    k, clean = t.kernels, load_fixture(RAW).kernels
    assert clean["flop"][GEMM_FP32] > 2 * M * N * K  # 17.3 GFLOP on CUDA cores
    assert np.isnan(k["flop_fp32"][GEMM_FP32])
    assert np.isnan(k["flop"][GEMM_FP32])  # unknown, not the 0 FLOPs of its other precisions
    others = k.index != GEMM_FP32
    np.testing.assert_array_equal(k["flop"][others], clean["flop"][others])


def test_duplicate_metric_column_with_the_same_values(tmp_path: Path) -> None:
    table = rows()
    j = table[0].index(DURATION)
    table = [[*r, r[j]] for r in table]
    t, _ = load_warned(write(tmp_path / "dup.csv", table), f"column {DURATION} appears 2 times")
    same_numbers(t.kernels, load_fixture(RAW).kernels)


def test_duplicate_metric_column_with_other_values_is_null_where_they_differ(
        tmp_path: Path) -> None:
    table = rows()
    j = table[0].index(DURATION)
    table = [[*r, r[j]] for r in table]
    table[2 + GEMM_FP16][-1] = "99"
    p = write(tmp_path / "dup.csv", table)
    t, _ = load_warned(p, "copies in a repeated column differ")
    k = t.kernels
    assert np.isnan(k["duration_ns"][GEMM_FP16])
    assert k["duration_ns"].notna().sum() == len(k) - 1


def test_duplicate_identity_column_is_refused(tmp_path: Path) -> None:
    table = rows()
    j = table[0].index("Kernel Name")
    table = [[*r, r[j]] for r in table]
    code, output = cli("summary", str(write(tmp_path / "dup.csv", table)))
    assert_one_clear_error(code, output, "dup.csv", "'Kernel Name' appears 2 times")


def test_duplicate_row_is_read_once_with_a_warning(tmp_path: Path) -> None:
    table = rows()
    table.insert(5, list(table[4]))
    t, _ = load_warned(write(tmp_path / "dup.csv", table), r"1 row\(s\) repeat .*ID 2\)")
    same_numbers(t.kernels, load_fixture(RAW).kernels)


def test_repeated_id_with_other_values_is_kept_and_named(tmp_path: Path) -> None:
    table = rows()
    extra = list(table[4])
    extra[table[0].index(DURATION)] = "1,000"
    table.append(extra)
    t, _ = load_warned(write(tmp_path / "dup.csv", table), r"reuse the ID of an earlier.*ID 2\)")
    assert len(t) == len(load_fixture(RAW)) + 1


def test_unreadable_id_leaves_the_row_out_with_a_count(tmp_path: Path) -> None:
    table = rows()
    table[3][0] = "abc"
    t, _ = load_warned(write(tmp_path / "id.csv", table), r"1 row\(s\) have an ID that is not a")
    assert len(t) == len(load_fixture(RAW)) - 1


def test_metric_columns_before_cc_are_read(tmp_path: Path) -> None:
    table = rows()
    cc = table[0].index("CC")
    order = [0, *range(cc + 1, len(table[0])), *range(1, cc + 1)]
    p = write(tmp_path / "moved.csv", [[r[i] for i in order] for r in table])
    t = load_clean(p)
    same_numbers(t.kernels, load_fixture(RAW).kernels)
    assert t.kernels["flop"][GEMM_BF16] == 2 * M * N * K
    assert t.kernels["flop"][GEMM_FP16] == 2 * M * N * K


def test_half_precision_gemm_flop_is_null_without_its_counters(tmp_path: Path) -> None:
    """Without the fp16/bf16 tensor counters a bf16 GEMM's FLOPs are unknown, not 0."""
    table = rows()
    gone = {j for j, h in enumerate(table[0]) if h.startswith("sm__ops_path_tensor_src_")
            and ("fp16" in h or "bf16" in h)}
    p = write(tmp_path / "no_tensor.csv", [[c for j, c in enumerate(r) if j not in gone]
                                           for r in table])
    t, _ = load_warned(p, "flop_tensor_bf16.*flop;")
    assert t.kernels["flop"].isna().all()
    assert t.kernels["flop_fp32"][GEMM_FP32] > 0  # what was measured stays


def test_display_units_are_converted_and_reported(tmp_path: Path) -> None:
    t = load_fixture("known_work_raw_display_units.csv")
    assert "display units" in t.meta["formats"][0]
    assert "us" in t.meta["formats"][0]
    code, output = cli("convert", str(FIXTURES / "known_work_raw_display_units.csv"), "-o",
                       str(tmp_path / "t.parquet"))
    assert code == 0
    assert "display units" in output


def test_display_units_without_the_units_row_are_refused(tmp_path: Path) -> None:
    table = rows("known_work_raw_display_units.csv")
    p = write(tmp_path / "display.csv", [table[0], *table[2:]])
    code, output = cli("convert", str(p), "-o", str(tmp_path / "t.parquet"))
    assert_one_clear_error(code, output, "display.csv", "display units", "--print-units base")
    assert not (tmp_path / "t.parquet").exists()


def test_european_numbers_are_reported(tmp_path: Path) -> None:
    from tests.test_bad_input import _european

    table = rows()
    p = write(tmp_path / "eu.csv", [table[0]] + [[_european(c) for c in r] for r in table[1:]])
    t = load_clean(p)
    assert t.meta["formats"] == ["ncu-csv-raw (numbers 1.234,5)"]
    same_numbers(t.kernels, load_fixture(RAW).kernels)


# --------------------------------------------------------------------------- missing kernels


def test_quoted_newline_in_the_last_kernels_name_keeps_it(tmp_path: Path) -> None:
    table = rows()
    j = table[0].index("Kernel Name")
    table[-1][j] = "void add_kernel<float>(\nfloat*, float*)"
    t = load_clean(write(tmp_path / "newline.csv", table))
    same_numbers(t.kernels, load_fixture(RAW).kernels)
    assert t.kernels["kernel_demangled"].iloc[-1].startswith("void add_kernel<float>(\n")


def test_program_output_between_rows_is_skipped(tmp_path: Path) -> None:
    lines = (FIXTURES / RAW).read_text().splitlines(keepends=True)
    lines.insert(4, "==PROF== Profiling \"kernel\" - 3: 0%....50%....100% - 9 passes\n")
    lines.insert(0, "program output\n")
    p = tmp_path / "direct.csv"
    p.write_text("".join(lines))
    same_numbers(roofprof.load(p, format="ncu-csv").kernels, load_fixture(RAW).kernels)


@pytest.mark.parametrize("fixture", [RAW, "known_work_details.csv"])
def test_every_cut_inside_the_last_row_is_named(tmp_path: Path, fixture: str) -> None:
    text = (FIXTURES / fixture).read_text()
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    p = tmp_path / "cut.csv"
    full = load_fixture(fixture).kernels
    for keep in (1, len(last) // 3, len(last) - 2):
        p.write_text(text[: len(text) - len(last) - 1 + keep])
        t, _ = load_warned(p, "last row is incomplete")
        if fixture == RAW:
            assert len(t) == len(full) - 1


def test_strict_refuses_and_writes_nothing(tmp_path: Path) -> None:
    table = rows()
    table.insert(5, list(table[4]))
    p = write(tmp_path / "dup.csv", table)
    out = tmp_path / "t.parquet"
    code, output = cli("convert", str(p), "-o", str(out), "--strict")
    assert_one_clear_error(code, output, "dup.csv", "repeat an earlier row", "--strict")
    assert not out.exists()
    with pytest.raises(InputError, match="refused: strict"):
        roofprof.load(p, strict=True)
    code, _ = cli("convert", str(p), "-o", str(out))
    assert code == 0
    assert out.exists()


def test_only_the_needed_columns_are_kept() -> None:
    """Reading only the metric table's columns gives what every column would give."""
    from parsers import ncu_csv
    from parsers.cells import needed_metrics
    from roofprof.inputs.derive import build_table

    for name in (RAW, "known_work_roofline_raw.csv", "mul_full_raw.csv", "llama_small_raw.csv"):
        table = rows(name)
        header, units, data = table[0], table[1], table[2:]
        everything = pd.DataFrame({
            h: [float(r[j].replace(",", "")) * (ncu_csv.scale(units[j]) or np.nan)
                if r[j] not in ("", "n/a") and r[j].replace(",", "").replace(".", "").isdigit()
                else np.nan for r in data]
            for j, h in enumerate(header) if "__" in h})
        raw = ncu_csv.read(FIXTURES / name)
        assert set(raw.metrics.columns) <= needed_metrics()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours, _ = build_table(raw)
            theirs, _ = build_table(type(raw)(identity=raw.identity, metrics=everything))
        same_numbers(ours, theirs)


def test_a_quote_never_closed_is_damage_not_a_cut_row(tmp_path: Path) -> None:
    text = (FIXTURES / RAW).read_text()
    p = tmp_path / "quote.csv"
    p.write_text(text.replace("nvjet_sm90_hsh", 'nvjet_"sm90_hsh', 1))
    code, output = cli("convert", str(p), "-o", str(tmp_path / "t.parquet"))
    assert_one_clear_error(code, output, "quote.csv", "never closed", "row 4 (line 4)",
                           "swallows the 8 row(s)")


def test_chunks_read_as_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are parsed a chunk at a time: the table is the same, bad cells are named with their
    own kernel, and a number form that changes between chunks is refused."""
    from parsers import ncu_csv
    from tests.test_bad_input import _european

    monkeypatch.setattr(ncu_csv, "CHUNK", 3)
    same_numbers(load_clean(FIXTURES / RAW).kernels, load_fixture(RAW).kernels)
    table = rows()
    table[2 + 7][table[0].index(DURATION)] = "abc"
    t, _ = load_warned(write(tmp_path / "bad.csv", table), "kernel ID 7 .*'abc'")
    assert np.isnan(t.kernels["duration_ns"][7])
    table = rows()
    table[2 + 8] = [_european(c) for c in table[2 + 8]]  # European from the third chunk on
    code, output = cli("summary", str(write(tmp_path / "late.csv", table)))
    assert_one_clear_error(code, output, "late.csv", "1,234.5 and 1.234,5")
