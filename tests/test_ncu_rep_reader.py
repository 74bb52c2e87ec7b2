"""roofprof's own .ncu-rep reader against NVIDIA's (the reference), on every fixture; versions;
cut reports at many cut points; damaged bytes."""

from __future__ import annotations

import functools
import random
import re
import tempfile
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import roofprof
from parsers import ncu_rep_wire
from roofprof.cli import main
from roofprof.errors import InputError
from tests.conftest import FIXTURES, REPORTS
from tests.ncu_rep_spans import Spans, metric_entries, value_spans, varint_bytes

PROCESS = ("process_id", "process_name", "host")  # NVIDIA's reader cannot give them
SKIP = (*PROCESS, "source")


def _quiet_load(path: Path, **kw: object) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", roofprof.RoofprofWarning)
        return roofprof.load(path, **kw).kernels  # type: ignore[arg-type]


def assert_same_table(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Every column (but the process columns and the source path), every row; NaN == NaN."""
    assert list(ours.columns) == list(ref.columns)
    assert len(ours) == len(ref)
    for col in ours.columns:
        if col in SKIP:
            continue
        if col == "nvtx":
            assert [list(v) for v in ours[col]] == [list(v) for v in ref[col]], col
        else:  # exact, dtype included (a text column's categories: those its rows hold)
            a, b = ours[col], ref[col]
            if isinstance(a.dtype, pd.CategoricalDtype):
                a, b = a.cat.remove_unused_categories(), b.cat.remove_unused_categories()
            pd.testing.assert_series_equal(a, b, check_exact=True, obj=col)


@pytest.mark.parametrize("report", REPORTS, ids=[p.name for p in REPORTS])
def test_both_readers_give_the_same_table(report: Path) -> None:
    ours = _quiet_load(report)
    assert_same_table(ours, _quiet_load(report, reader="ncu-report"))
    assert ours["process_id"].notna().all()


def test_process_columns_match_ncus_csv_export() -> None:
    ours = _quiet_load(FIXTURES / "llama_small.ncu-rep")
    csv = _quiet_load(FIXTURES / "llama_small_raw.csv")
    for col in PROCESS:
        assert ours[col].tolist() == csv[col].tolist(), col


def test_the_fixtures_cover_format_version_7_of_ncu_2025_3() -> None:
    versions = set()
    for report in REPORTS:
        with open(report, "rb") as fh:
            versions.add(ncu_rep_wire.read_file_header(fh, report.stat().st_size))
    assert versions == {7}
    assert {roofprof.load(r).meta["ncu_version"] for r in REPORTS[:2]} == {"2025.3.1.0"}


def test_an_unknown_format_version_is_refused_by_name(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "known_work.ncu-rep").read_bytes())
    assert data[8:10] == b"\x08\x07"  # FileHeader { Version = 7 }
    data[9] = 9
    p = tmp_path / "future.ncu-rep"
    p.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"format version 9 is not one .* --reader ncu-report"):
        roofprof.load(p)


# ------------------------------------------------------------------------------ cut reports

def result_ends(path: Path) -> list[int]:
    """File offset just past each result record (the oracle for what a cut must keep)."""
    return units(path)[1]


def units(path: Path) -> tuple[list[int], list[int]]:
    """(start of every unit: block or entry, end of every result record) of a whole report."""
    starts: list[int] = []
    ends: list[int] = []
    with open(path, "rb") as fh:
        size = path.stat().st_size
        ncu_rep_wire.read_file_header(fh, size)
        for unit in ncu_rep_wire.walk(fh, size):
            if isinstance(unit, ncu_rep_wire.Block):
                starts.append(unit.offset)
            elif isinstance(unit, tuple):
                starts.append(unit[0])
                if unit[1] is not None:
                    ends.append(unit[0] + 4 + len(unit[1]))
    return starts, ends


@pytest.mark.parametrize("name", ["known_work.ncu-rep", "llama_annotated.ncu-rep",
                                  "known_work_roofline.ncu-rep"])
def test_a_cut_report_keeps_every_complete_kernel_and_says_what_was_lost(
        tmp_path: Path, name: str) -> None:
    path = FIXTURES / name
    data = path.read_bytes()
    full = _quiet_load(path)
    starts, ends = units(path)
    rng = random.Random(name)
    cuts = sorted({e + d for e in rng.sample(ends[:-1], min(12, len(ends) - 1))
                   for d in (-1, 0, 1)} |
                  {rng.randrange(ends[0] + 1, len(data)) for _ in range(25)})
    cut_file = tmp_path / "cut.ncu-rep"
    for cut in cuts:
        cut_file.write_bytes(data[:cut])
        kept = sum(e <= cut for e in ends)
        if cut >= ends[-1]:
            continue  # the last kernel is complete: only trailing blocks are lost
        if cut in ends:  # a cut between two blocks leaves a shorter, valid report (no trailer
            # or count tells it from a complete one): every kernel before it, nothing else
            assert_same_table(_quiet_load(cut_file), full.iloc[:kept].reset_index(drop=True))
            continue
        if not kept:
            with pytest.raises(InputError, match=r"truncated .* no complete kernel"):
                roofprof.load(cut_file)
            continue
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            got = roofprof.load(cut_file).kernels
        message = next(str(w.message) for w in record if "truncated at byte" in str(w.message))
        assert f"kept the {kept} complete kernel" in message, (cut, message)
        lost = cut - max(u for u in starts if u <= cut)  # from the incomplete unit's start
        assert f"dropped the last {lost:,} bytes" in message, (cut, message)
        assert_same_table(got, full.iloc[:kept].reset_index(drop=True))
        with pytest.raises(InputError, match="truncated"):
            roofprof.load(cut_file, strict=True)


def test_a_cut_inside_a_block_says_how_many_kernels_its_header_announced(
        tmp_path: Path) -> None:
    path = FIXTURES / "llama_small.ncu-rep"
    ends = result_ends(path)
    cut = ends[100] - 1000  # inside kernel 101's record
    p = tmp_path / "cut.ncu-rep"
    p.write_bytes(path.read_bytes()[:cut])
    with pytest.warns(roofprof.RoofprofWarning) as record:
        t = roofprof.load(p)
    text = " ".join(str(w.message) for w in record)
    assert len(t.kernels) == 100
    assert "needed 1,000 more bytes; its block announced 1 more kernel(s), lost" in text


def test_cli_strict_makes_a_cut_report_an_error(tmp_path: Path) -> None:
    data = (FIXTURES / "known_work.ncu-rep").read_bytes()
    p = tmp_path / "cut.ncu-rep"
    p.write_bytes(data[: len(data) // 2])
    runner = CliRunner()
    out = str(tmp_path / "t.parquet")
    strict = runner.invoke(main, ["convert", str(p), "--strict", "-o", out])
    assert strict.exit_code == 2
    assert "truncated" in strict.output
    assert not Path(out).exists()
    lenient = runner.invoke(main, ["convert", str(p), "-o", out])
    assert lenient.exit_code == 0, lenient.output
    assert "truncated" in lenient.output
    assert 0 < len(roofprof.load(out).kernels) < 10
    ref = runner.invoke(main, ["summary", str(FIXTURES / "known_work.ncu-rep"),
                               "--reader", "ncu-report", "--by", "kernel"])
    assert ref.exit_code == 0, ref.output
    ours = runner.invoke(main, ["summary", str(FIXTURES / "known_work.ncu-rep"),
                                "--by", "kernel"])
    assert ours.output == ref.output


# ------------------------------------------------------------------------------ damage

def test_a_damaged_block_header_is_an_error_naming_its_offset(tmp_path: Path) -> None:
    """NVIDIA's reader aborts the process on this one (issue 10); both readers refuse it."""
    data = bytearray((FIXTURES / "known_work.ncu-rep").read_bytes())
    ends = result_ends(FIXTURES / "known_work.ncu-rep")
    block = ends[3]  # the block after the 4th kernel starts here
    data[block + 4] ^= 0xFF  # its header's first tag
    p = tmp_path / "damaged.ncu-rep"
    p.write_bytes(bytes(data))
    for reader in ("roofprof", "ncu-report"):
        with pytest.raises(InputError, match=r"damaged at byte [\d,]+"):
            roofprof.load(p, reader=reader)


def test_a_damaged_name_id_is_damage_not_another_metrics_number(tmp_path: Path) -> None:
    """A flipped name id that turns one wanted metric into another (present in the kernel too)
    is an error, not that metric's number replaced."""
    path = FIXTURES / "known_work.ncu-rep"
    data = bytearray(path.read_bytes())
    size = path.stat().st_size
    strings: list[str] = []
    with open(path, "rb") as fh:
        ncu_rep_wire.read_file_header(fh, size)
        for unit in ncu_rep_wire.walk(fh, size):
            if isinstance(unit, ncu_rep_wire.Block):
                strings += unit.strings
            elif isinstance(unit, tuple) and unit[1] is not None:
                offset, record = unit
                break
    read, write = (strings.index(m) for m in ("dram__bytes_read.sum", "dram__bytes_write.sum"))
    assert read >> 7 == write >> 7 == 2  # two-byte varints differing in the first byte
    body = next(e[1] for e in metric_entries(record) if e[3] == read)
    assert record[body:body + 3] == bytes([0x08, 0x80 | (read & 0x7F), 2])
    data[offset + 4 + body + 1] = 0x80 | (write & 0x7F)  # dram__bytes_read -> _write
    p = tmp_path / "renamed.ncu-rep"
    p.write_bytes(bytes(data))
    with pytest.raises(InputError, match=rf"kernel 1 \(the record at byte {offset:,}\) is "
                                         rf"damaged at byte [\d,]+: metric name id {write} "
                                         "appears twice"):
        roofprof.load(p)


_FLIP_SOURCE = FIXTURES / "known_work.ncu-rep"


@functools.cache
def _flip_oracle() -> tuple[bytes, pd.DataFrame, Spans]:
    return _FLIP_SOURCE.read_bytes(), _quiet_load(_FLIP_SOURCE), value_spans(_FLIP_SOURCE)


@settings(max_examples=250, deadline=None, derandomize=True)
@given(where=st.floats(0, 1, exclude_max=True), xor=st.integers(1, 255))
def test_byte_flips_never_give_a_traceback_or_silently_other_numbers(where: float,
                                                                       xor: int) -> None:
    """Flip one byte anywhere: an InputError naming an offset, or the same table, or a table
    that differs only where the flipped byte is itself a value roofprof reads (a number's
    payload, a name, an NVTX message, a metric's name in the string table, the process record):
    no format without checksums can tell those."""
    data, clean, spans = _flip_oracle()
    at = int(where * len(data))
    flipped = bytearray(data)
    flipped[at] ^= xor
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "flip.ncu-rep"
        p.write_bytes(bytes(flipped))
        try:
            got = _quiet_load(p)
            message = ""
        except InputError as exc:
            message = str(exc)
    if message:  # an error names where, or why the whole file is refused
        assert re.search(r"byte [\d,]+|format version|damaged", message), message
        return
    try:
        assert_same_table(got, clean)
    except AssertionError:
        assert spans.kind_at(at) is not None, f"byte {at:,} changed the table but holds no value"



def field_bytes(msg: bytes, f: int, w: int, a: int, b: int) -> bytes:
    """The whole field (tag, length, value) whose value is msg[a:b]."""
    head = len(varint_bytes(f << 3 | w)) + (len(varint_bytes(b - a)) if w == 2 else 0)
    return msg[a - head:b]


def test_a_kernel_record_without_metrics_is_a_warning_naming_it(tmp_path: Path) -> None:
    """Rewrite kernel 3 of a real report without its metric results (lengths fixed up): the
    kernel is kept with null numbers and a warning names it, never a silent gap."""
    path = FIXTURES / "known_work.ncu-rep"
    data = path.read_bytes()
    size = len(data)
    results = 0
    with open(path, "rb") as fh:
        ncu_rep_wire.read_file_header(fh, size)
        for unit in ncu_rep_wire.walk(fh, size):
            if isinstance(unit, ncu_rep_wire.Block):
                block = unit
            elif isinstance(unit, tuple) and unit[1] is not None:
                results += 1
                if results == 3:
                    offset, record = unit
                    break
    stripped = b"".join(field_bytes(record, *fld) for fld in ncu_rep_wire.fields(record)
                        if fld[0] != 13)
    assert block.num_results == 1
    assert block.num_sources == 0
    hlen = int.from_bytes(data[block.offset:block.offset + 4], "little")
    header = data[block.offset + 4:block.offset + 4 + hlen]
    new_header = b"".join(
        (varint_bytes(5 << 3) + varint_bytes(4 + len(stripped))) if fld[0] == 5 else
        field_bytes(header, *fld) for fld in ncu_rep_wire.fields(header))
    rebuilt = (data[:block.offset] + len(new_header).to_bytes(4, "little") + new_header
               + len(stripped).to_bytes(4, "little") + stripped
               + data[offset + 4 + len(record):])
    p = tmp_path / "empty3.ncu-rep"
    p.write_bytes(rebuilt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = roofprof.load(p).kernels
    text = " ".join(str(w.message) for w in caught)
    assert re.search(r"kernel\(s\) 3 \(byte [\d,]+\) hold no metric values", text), text
    assert len(t) == 10
    assert t.loc[2, ["duration_ns", "dram_bytes", "flop"]].isna().all()
    assert t.drop(index=2)["duration_ns"].notna().all()


def test_range_and_graph_results_are_refused_not_dropped(tmp_path: Path) -> None:
    """A block announcing range-replay results (BlockHeader field 7) is refused with a pointer to
    NVIDIA's reader, never read as a report without them."""
    path = FIXTURES / "known_work.ncu-rep"
    data = path.read_bytes()
    first = units(path)[1][0]  # the end of kernel 1: a block header starts here
    hlen = int.from_bytes(data[first:first + 4], "little")
    header = data[first + 4:first + 4 + hlen] + bytes([7 << 3, 1])  # NumRangeResults = 1
    p = tmp_path / "range.ncu-rep"
    p.write_bytes(data[:first] + len(header).to_bytes(4, "little") + header
                  + data[first + 4 + hlen:])
    with pytest.raises(InputError, match=r"1 range, command-list or graph result.*"
                                         r"with reader ncu-report"):
        roofprof.load(p)


def test_embedded_sources_are_skipped_unread(tmp_path: Path) -> None:
    """A block whose payload starts with a source entry (what --import-source embeds): skipped
    by its length, the kernels read as before."""
    path = FIXTURES / "known_work.ncu-rep"
    data = path.read_bytes()
    start = units(path)[1][0]  # a block header after kernel 1
    hlen = int.from_bytes(data[start:start + 4], "little")
    header = data[start + 4:start + 4 + hlen]
    fields = list(ncu_rep_wire.fields(header))
    payload_size = next(ncu_rep_wire.varint(header, a)[0] for f, _, a, _ in fields if f == 5)
    source = b"\x0a\x04fake" + bytes(range(256)) * 40  # opaque bytes, never parsed
    new_header = b"".join(
        bytes([1 << 3, 1]) if f == 1 else
        (varint_bytes(5 << 3) + varint_bytes(payload_size + 4 + len(source))) if f == 5 else
        field_bytes(header, f, w, a, b) for f, w, a, b in fields)
    rebuilt = (data[:start] + len(new_header).to_bytes(4, "little") + new_header
               + len(source).to_bytes(4, "little") + source + data[start + 4 + hlen:])
    p = tmp_path / "sources.ncu-rep"
    p.write_bytes(rebuilt)
    assert_same_table(_quiet_load(p), _quiet_load(path))
