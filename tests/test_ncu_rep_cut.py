"""A cut .ncu-rep report keeps every complete kernel (issue 25, "Reading").

Each report is cut at every 5% of its length, as ncu writes it (one kernel per block) and with
its blocks merged into blocks of many kernels (the block the cut falls in still gives its
complete entries: each is length-prefixed). The oracle is the report's framing: every result
record that ends before the cut is kept, with the numbers the whole report gives for the same
kernel ids; the count never falls as the cut moves on; one warning states it, and what the
cut block announced that is lost.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import roofprof
from parsers import ncu_rep_wire
from roofprof.cli import main
from roofprof.errors import DataWarning, InputError
from tests.conftest import FIXTURES
from tests.ncu_rep_spans import varint_bytes

CUT_AT = [pct / 100 for pct in range(5, 100, 5)]
REPORTS = ["llama_small.ncu-rep", "known_work.ncu-rep"]
#: blocks made one: 1 is the report as ncu wrote it
PER_BLOCK = [1, 8]


@dataclass
class Framing:
    """Where a report's units are: the oracle of what a cut keeps."""

    ends: list[int]  # the end of each result record
    #: each block: (where its entries start, where they end, the ends of its result records)
    blocks: list[tuple[int, int, list[int]]]


def framing(path: Path) -> Framing:
    data = path.read_bytes()
    out = Framing([], [])
    with open(path, "rb") as fh:
        ncu_rep_wire.read_file_header(fh, len(data))
        for unit in ncu_rep_wire.walk(fh, len(data)):
            if isinstance(unit, ncu_rep_wire.Block):
                start = unit.offset + 4 + int.from_bytes(data[unit.offset:unit.offset + 4],
                                                         "little")
                out.blocks.append((start, start + unit.payload_size, []))
            elif isinstance(unit, tuple) and unit[1] is not None:
                end = unit[0] + 4 + len(unit[1])
                out.ends.append(end)
                out.blocks[-1][2].append(end)
    return out


def merged(path: Path, per_block: int, out: Path) -> Path:
    """``path`` with each run of ``per_block`` blocks made one block: their results and string
    tables in order (a string table is a message of repeated names: two of them concatenated
    are one), the first session and process record."""
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[4:8], "little")
    blocks: list[tuple[ncu_rep_wire.Block, bytes, bytes]] = []
    pos = header_end
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "little")
        raw = data[pos + 4:pos + 4 + n]
        block = ncu_rep_wire.parse_block_header(raw, pos)
        payload = data[pos + 4 + n:pos + 4 + n + block.payload_size]
        blocks.append((block, raw, payload))
        pos += 4 + n + block.payload_size
    parts = [data[:header_end]]
    for i in range(0, len(blocks), per_block):
        parts.append(_one_block(blocks[i:i + per_block]))
    out.write_bytes(b"".join(parts))
    return out


def _one_block(blocks: list[tuple[ncu_rep_wire.Block, bytes, bytes]]) -> bytes:
    assert not any(b.num_sources or b.num_other for b, _, _ in blocks)
    strings = b"".join(raw[a:z] for _, raw, _ in blocks
                       for f, _w, a, z in ncu_rep_wire.fields(raw) if f == 4)
    session = next((b.session for b, _, _ in blocks if b.session), b"")
    process = next((b.process for b, _, _ in blocks if b.process), b"")
    payload = b"".join(p for _, _, p in blocks)
    results = sum(b.num_results for b, _, _ in blocks)
    header = b"".join([
        _field(2, results) if results else b"",
        _field(3, session) if session else b"",
        _field(4, strings) if strings else b"",
        _field(5, len(payload)) if payload else b"",
        _field(6, process) if process else b""])
    return len(header).to_bytes(4, "little") + header + payload


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return varint_bytes(number << 3) + varint_bytes(value)
    return varint_bytes(number << 3 | 2) + varint_bytes(len(value)) + value


def kernels(path: Path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return roofprof.load(path).kernels.drop(columns="source")


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Every column and row, exactly, dtypes included (the NVTX stacks as tuples; a text
    column's categories: those its rows hold); NaN equals NaN."""
    got, want = got.copy(), want.copy()
    for table in (got, want):
        table["nvtx"] = table["nvtx"].map(tuple)
        for col in table.columns:
            if isinstance(table[col].dtype, pd.CategoricalDtype):
                table[col] = table[col].cat.remove_unused_categories()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                  check_exact=True)


@pytest.fixture(scope="module", params=[(r, k) for r in REPORTS for k in PER_BLOCK],
                ids=[f"{r}-{k}-per-block" for r in REPORTS for k in PER_BLOCK])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    name, per_block = request.param
    if per_block == 1:
        return FIXTURES / name
    return merged(FIXTURES / name, per_block, tmp_path_factory.mktemp("merged") / name)


@pytest.mark.parametrize("name", REPORTS)
def test_merged_blocks_read_as_the_report_they_were_made_of(name: str, tmp_path: Path) -> None:
    """The merged reports hold blocks of several kernels and read as the fixture (the oracle
    of the cut test relies on it)."""
    path = merged(FIXTURES / name, PER_BLOCK[-1], tmp_path / name)
    assert max(len(ends) for _, _, ends in framing(path).blocks) > 2
    assert_same(kernels(path), kernels(FIXTURES / name))


def test_a_cut_keeps_every_complete_kernel_and_says_how_many(report: Path,
                                                              tmp_path: Path) -> None:
    data = report.read_bytes()
    full = kernels(report)
    frame = framing(report)
    assert len(full) == len(frame.ends)
    cut_file = tmp_path / "cut.ncu-rep"
    counts = []
    for share in CUT_AT:
        cut = int(len(data) * share)
        cut_file.write_bytes(data[:cut])
        complete = sum(end <= cut for end in frame.ends)
        counts.append(complete)
        if not complete:
            with pytest.raises(InputError, match=r"truncated .* holds no complete kernel"):
                roofprof.load(cut_file)
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = roofprof.load(cut_file).kernels.drop(columns="source")
        told = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
        assert len(told) == 1, (share, told)
        message = told[0]
        assert message.startswith(f"{cut_file}: the report is truncated at byte {cut:,}: ")
        assert f"kept the {complete} complete kernel(s) before it" in message, (share, message)
        lost = _announced_lost(frame, cut)
        if lost is not None:
            assert f"its block announced {lost} more kernel(s), lost" in message, (share, message)
        assert got["id"].tolist() == list(range(complete))
        assert_same(got, full.iloc[:complete])
    assert counts == sorted(counts)  # the count grows with the cut
    at_60 = counts[CUT_AT.index(0.6)] / len(full)
    assert 0.45 <= at_60 <= 0.65, at_60


def _announced_lost(frame: Framing, cut: int) -> int | None:
    """Results the block the cut falls in announced but does not hold whole (None: the cut is
    not among a block's entries)."""
    for start, end, ends in frame.blocks:
        if start <= cut < end:
            return sum(e > cut for e in ends)
    return None


def test_the_issues_60_percent_cut_keeps_111_of_186_kernels(tmp_path: Path) -> None:
    """llama_small.ncu-rep (186 kernels, one per block) cut at 60% of its 3,814,717 bytes: the
    first 111 kernels end before byte 2,288,830; the command line keeps them, says so in one
    warning line, and refuses the file under --strict."""
    path = FIXTURES / "llama_small.ncu-rep"
    data = path.read_bytes()
    cut = int(len(data) * 0.6)
    assert (len(data), cut) == (3_814_717, 2_288_830)
    assert sum(end <= cut for end in framing(path).ends) == 111
    cut_file = tmp_path / "cut.ncu-rep"
    cut_file.write_bytes(data[:cut])
    out = tmp_path / "t.parquet"
    runner = CliRunner()
    done = runner.invoke(main, ["convert", str(cut_file), "-o", str(out)])
    assert done.exit_code == 0, done.output
    warned = [line for line in done.output.splitlines() if line.startswith("roofprof: warning:")]
    assert len(warned) == 1, done.output
    assert "truncated at byte 2,288,830" in warned[0]
    assert "kept the 111 complete kernel(s) before it" in warned[0]
    assert len(roofprof.load(out).kernels) == 111
    strict = runner.invoke(main, ["convert", str(cut_file), "--strict", "-o",
                                  str(tmp_path / "s.parquet")])
    assert strict.exit_code == 2
    assert strict.output.count("\n") == 1, strict.output
    assert "111 complete kernel(s) precede it: read without --strict to keep them" \
        in strict.output
