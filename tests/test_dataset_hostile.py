"""Hostile datasets (issue 24): a damaged, foreign or misplaced file in a dataset is one clear
error naming the FILE and what to do, for every command that reads datasets and with every
engine, never DuckDB's or Arrow's exception; partition values no reader could take back are
refused when written; what is harmless (hidden temporary files, links that loop) leaves the clean
numbers; copies are read and named in a warning. The clean dataset's numbers are unchanged."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from roofprof.analysis import roofline
from roofprof.app.ranks import ranks as rank_view
from roofprof.cli import main
from roofprof.datasets import footers
from roofprof.datasets import sql as dataset_sql
from roofprof.datasets.plot_numbers import plot_numbers
from roofprof.datasets.write import append
from roofprof.errors import DataWarning, InputError, RoofprofWarning, UsageError
from roofprof.inputs.load import load
from roofprof.tables import partitions
from tests.conftest import FIXTURES
from tests.test_dataset_sql import assert_same
from tests.test_validation_props import BOUNDED

KNOWN = FIXTURES / "known_work.ncu-rep"
TIMING = FIXTURES / "tp2_timing.parquet"
FIRST = "run=a/host=n1/rank=0"

#: every command that reads a dataset folder, with each engine it can be told to use
COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "summary": lambda d, out: ["summary", str(d)],
    "summary-pandas": lambda d, out: ["summary", str(d), "--engine", "pandas"],
    "plot": lambda d, out: ["plot", str(d), "-o", str(out / "p.png")],
    "plot-pandas": lambda d, out: ["plot", str(d), "--engine", "pandas",
                                   "-o", str(out / "p.png")],
    "ranks": lambda d, out: ["ranks", str(d)],
    "ranks-pandas": lambda d, out: ["ranks", str(d), "--engine", "pandas"],
    "diff": lambda d, out: ["diff", str(d), str(KNOWN)],
    "report": lambda d, out: ["report", str(d), "-o", str(out / "r.md")],
}
#: the commands that read a dataset out of core (DuckDB) or through the rank views
OUT_OF_CORE = ("summary", "plot", "ranks", "ranks-pandas")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """known_work on ranks 0 and 1 of host n1, run a."""
    d = tmp_path_factory.mktemp("clean") / "ds"
    for rank in (0, 1):
        append([KNOWN], d, run="a", host="n1", rank=rank)
    return d


@pytest.fixture
def ds(clean: Path, tmp_path: Path) -> Path:
    """A copy of the clean dataset to damage."""
    return Path(shutil.copytree(clean, tmp_path / "ds"))


def first_file(d: Path) -> Path:
    return next((d / FIRST).glob("part-*.parquet"))


def invoke(args: list[str]) -> tuple[int, str]:
    """Exit code and everything printed; a traceback (an exception the CLI did not turn into
    one line) fails the test."""
    return run(args)[:2]


def run(args: list[str]) -> tuple[int, str, str]:
    """:func:`invoke`'s exit code and output, and what went to stdout alone."""
    r = CliRunner().invoke(main, args)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError(f"{args}: {type(r.exception).__name__}: {r.exception}")
    return r.exit_code, r.output, r.stdout


def refused(d: Path, tmp_path: Path, command: str, *fragments: str) -> None:
    code, out = invoke(COMMANDS[command](d, tmp_path))
    assert code == 2, out
    lines = [x for x in out.splitlines() if x.startswith("roofprof: error: ")]
    assert len(lines) == 1, out
    for fragment in fragments:
        assert fragment in lines[0], out
    assert not (tmp_path / "p.png").exists()
    assert not (tmp_path / "r.md").exists()


def summary_json(d: Path, engine: str, by: str = "rank") -> list[dict[str, object]]:
    code, out, stdout = run(["summary", str(d), "--by", by, "--engine", engine,
                             "--format", "json"])
    assert code == 0, out
    rows: list[dict[str, object]] = json.loads(stdout)
    return rows


# ------------------------------------------------------------------ damaged files, by name


def cut_in_half(f: Path) -> None:
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])


def zero_bytes(f: Path) -> None:
    f.write_bytes(b"")


def not_parquet(f: Path) -> None:
    f.write_text("run,host,rank\na,n1,0\n")


def a_folder(f: Path) -> None:
    f.unlink()
    f.mkdir()


def a_link_to_itself(f: Path) -> None:
    f.unlink()
    f.symlink_to(f.name)


FILE_DAMAGE = {
    "cut": (cut_in_half, "a Parquet file cut short"),
    "empty": (zero_bytes, "an empty file (0 bytes)"),
    "text": (not_parquet, "not a Parquet file"),
    "folder": (a_folder, "not a file (a folder or a device named like a dataset file)"),
    "loop": (a_link_to_itself, "cannot read this dataset file (Too many levels of symbolic"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", sorted(FILE_DAMAGE))
def test_a_damaged_file_is_named(ds: Path, tmp_path: Path, damage: str, command: str) -> None:
    f = first_file(ds)
    make, why = FILE_DAMAGE[damage]
    make(f)
    fix = "move it out of the dataset" if damage == "folder" else (
        f"remove it from the dataset (and add its input again: `roofprof convert INPUT "
        f"--dataset {ds} --run a --host n1 --rank 0`)")
    refused(ds, tmp_path, command, f"{f}: {why}", fix)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unreadable_file_or_folder_is_named(ds: Path, tmp_path: Path, command: str) -> None:
    f = first_file(ds)
    f.chmod(0)
    refused(ds, tmp_path, command, f"{f}: cannot read this dataset file (Permission denied)")
    f.chmod(0o644)
    (ds / "run=a/host=n1/rank=1").chmod(0)
    try:
        refused(ds, tmp_path, command, f"{ds / 'run=a/host=n1/rank=1'}: cannot list this "
                "dataset folder (Permission denied)")
    finally:
        (ds / "run=a/host=n1/rank=1").chmod(0o755)


# --------------------------------------------------------- files of another schema or kind


def retyped(f: Path) -> None:
    t = pq.read_table(f)
    i = t.schema.get_field_index("duration_ns")
    pq.write_table(t.set_column(i, "duration_ns", pa.array(["12"] * len(t))), f)


def without_duration(f: Path) -> None:
    pq.write_table(pq.read_table(f).drop(["duration_ns"]), f)


def foreign(f: Path) -> None:
    pq.write_table(pa.table({"duration_ns": [1.0, 2.0]}), f)


def kernel_as_numbers(f: Path) -> None:
    t = pq.read_table(f)
    i = t.schema.get_field_index("kernel")
    pq.write_table(t.set_column(i, "kernel", pa.array(np.arange(len(t)))), f)


SCHEMA_DAMAGE = {
    "retyped": (retyped, "column duration_ns holds string values, not numbers",
                "column duration_ns holds str values, not numbers"),
    "no-duration": (without_duration, "the trace has no duration_ns column", None),
    "foreign": (foreign, "a Parquet file but not a roofprof trace (no roofprof metadata)", None),
    "kernel-numbers": (kernel_as_numbers, "column kernel holds int64 values, not text", None),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", sorted(SCHEMA_DAMAGE))
def test_a_file_of_another_schema_is_named(ds: Path, tmp_path: Path, damage: str,
                                           command: str) -> None:
    """The footer checks of the out-of-core engines say what the in-memory reader says (the
    pandas frame names a text column ``str``, Arrow ``string``)."""
    f = first_file(ds)
    make, why, in_memory = SCHEMA_DAMAGE[damage]
    make(f)
    read_in_memory = command in ("summary-pandas", "plot-pandas", "diff", "report")
    refused(ds, tmp_path, command, f"{f}: {in_memory if in_memory and read_in_memory else why}")


@pytest.mark.parametrize("command", OUT_OF_CORE)
def test_a_timing_table_among_counters_is_refused(ds: Path, tmp_path: Path,
                                                  command: str) -> None:
    odd = ds / "run=a/host=n1/rank=1/part-timing.parquet"
    shutil.copy(TIMING, odd)
    refused(ds, tmp_path, command, f"{odd}: a timing table (every launch timed, no counters), "
            f"but {first_file(ds)} is a trace of counters", "keep each kind in a dataset of its "
            "own")


def test_a_counters_file_among_timing_tables_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "timed"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        for rank in (0, 1):
            append([TIMING], d, run="a", host="n1", rank=rank)
        counters = append([KNOWN], d, run="a", host="n1", rank=1)[1]
    timing = first_file(d)
    want = (f"{counters}: a trace of counters, but {timing} is a timing table (every launch "
            "timed, no counters): their times are of different launches and do not add up")
    readers: list[Callable[[], object]] = [lambda: dataset_sql.summarize(d),
                                           lambda: rank_view(d, engine="pandas"),
                                           lambda: load(d)]  # summary/plot/diff in memory
    for summarize in readers:
        with pytest.raises(InputError) as e:
            summarize()
        assert str(e.value).startswith(want)


def test_a_column_missing_warns_as_in_memory(ds: Path) -> None:
    """A measured column absent from a file (its metadata not saying why) reads as null with
    the in-memory reader's warning, on DuckDB too; the numbers then agree."""
    f = first_file(ds)
    pq.write_table(pq.read_table(f).drop(["dram_bytes"]), f)
    with pytest.warns(RoofprofWarning, match=rf"{f}: column\(s\) dram_bytes are not in the "
                      "trace; read as null"):
        got = dataset_sql.summarize(ds, by="rank")
    with pytest.warns(RoofprofWarning, match="dram_bytes are not in the trace"):
        memory = roofline.summarize(load(ds), by="rank")
    assert_same(memory, got)
    assert np.isnan(got.loc[got["group"] == "0", "bytes"]).all()
    assert got.loc[got["group"] == "1", "bytes"].notna().all()


def test_timing_tables_copied_in_read_as_in_memory(tmp_path: Path) -> None:
    """Files ``roofprof trace`` wrote, copied into a dataset (not converted): no counter column
    at all, which DuckDB reads as the in-memory reader does, as nulls."""
    d = tmp_path / "timed"
    for rank, f in enumerate((TIMING, FIXTURES / "llama_sample.timing.parquet")):
        (d / f"run=a/host=n1/rank={rank}").mkdir(parents=True)
        shutil.copy(f, d / f"run=a/host=n1/rank={rank}/part-{rank}.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        trace = load(d)
        for by in ("rank", "phase"):
            assert_same(roofline.summarize(trace, by=by), dataset_sql.summarize(d, by=by))
    assert dataset_sql.summarize(d, by="rank")["bound"].eq("unknown").all()


# ------------------------------------------------------------- DuckDB's own errors, mapped


def corrupt_a_page(f: Path) -> None:
    """Bytes inside the compressed data of ``duration_ns`` changed: the footer still reads."""
    meta = pq.read_metadata(f).row_group(0)
    col = next(meta.column(i) for i in range(meta.num_columns)
               if meta.column(i).path_in_schema == "duration_ns")
    start = col.dictionary_page_offset or col.data_page_offset
    data = bytearray(f.read_bytes())
    for i in range(start + 30, start + col.total_compressed_size - 30):
        data[i] ^= 0x5A
    f.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["summary", "summary-pandas", "ranks", "plot"])
def test_damage_inside_a_file_is_named(ds: Path, tmp_path: Path, command: str) -> None:
    f = first_file(ds)
    corrupt_a_page(f)
    fix = "cannot read this dataset file" if command in OUT_OF_CORE else "its columns do not"
    refused(ds, tmp_path, command, f"{f}: ", fix)


def test_an_error_that_names_no_file_finds_it_by_footer(ds: Path) -> None:
    """A file replaced once the view is made (DuckDB binds it again and fails on a column's
    type, naming no file): the footers are read again and the file is named."""
    con = dataset_sql.connect(ds)
    try:
        f = first_file(ds)
        retyped(f)
        with pytest.raises(InputError) as e:
            dataset_sql.summarize_view(con, "rank")
    finally:
        con.close()
    assert str(e.value).startswith(f"{f}: column duration_ns holds string values, not numbers")


def test_an_error_no_footer_explains_names_the_dataset(clean: Path) -> None:
    found = partitions.parts(clean)
    error = footers.engine_error(RuntimeError("Catalog Error: something\nLINE 1: ..."), found,
                                 "DuckDB")
    assert str(error) == (f"{clean}: DuckDB cannot read the dataset (Catalog Error: "
                          "something); every file's footer reads, so the damage is inside a "
                          "file: engine pandas reads the files one by one and names it")
    assert error.template.count("\x1f") == 2  # the CLI shows --engine


# ---------------------------------------------------------------- partition values, written


@pytest.mark.parametrize("rank", [2**63, -1, "abc", "3", True, 3.0, None])
def test_a_rank_no_engine_reads_is_refused_before_reading(tmp_path: Path, rank: object) -> None:
    with pytest.raises(UsageError) as e:  # the input does not exist: never read
        append([tmp_path / "missing.ncu-rep"], tmp_path / "d", rank=rank)  # type: ignore[arg-type]
    assert str(e.value) == ("rank must be a whole number from 0 to 9223372036854775807 (it "
                            f"names the folder rank=N), got {rank!r}")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("name", ["", "/", "..", ".hidden", "a\x00b", "a=b", "x" * 129, "a b",
                                  "n1\n", "a/../b", "é"])
@pytest.mark.parametrize("column", ["run", "host"])
def test_a_name_that_cannot_be_a_folder_is_refused(tmp_path: Path, column: str,
                                                   name: str) -> None:
    with pytest.raises(UsageError) as e:
        append([tmp_path / "missing.ncu-rep"], tmp_path / "d", **{column: name})  # type: ignore[arg-type]
    assert str(e.value) == (f"{column} {name!r}: use letters, digits, '_', '.' and '-', at most "
                            "128, starting with a letter or digit (it names the folder "
                            f"{column}=NAME)")
    assert not (tmp_path / "d").exists()


def test_the_command_line_refuses_them_too(tmp_path: Path) -> None:
    d = tmp_path / "d"
    code, out = invoke(["convert", str(KNOWN), "--dataset", str(d), "--rank", str(2**63)])
    assert code == 2
    assert "roofprof: error: --rank must be a whole number from 0 to 9223372036854775807" in out
    code, out = invoke(["convert", str(KNOWN), "--dataset", str(d), "--run", ""])
    assert code == 2
    assert "roofprof: error: --run '': use letters, digits" in out
    assert not d.exists()


def test_the_largest_rank_reads_back(tmp_path: Path) -> None:
    d = tmp_path / "d"
    append([KNOWN], d, rank=partitions.MAX_RANK)
    append([KNOWN], d, rank=np.int64(3))  # type: ignore[arg-type]
    for engine in ("duckdb", "pandas"):
        assert [r["group"] for r in summary_json(d, engine)] == ["3", str(2**63 - 1)]


# ------------------------------------------------------------------ partition values, read


@pytest.mark.parametrize(("folder", "bad", "rule"), [
    ("run=a/host=n1/rank=abc", "rank=abc", "rank takes a whole number from 0 to "
     "9223372036854775807"),
    ("run=a/host=n1/rank=-1", "rank=-1", "rank takes a whole number"),
    (f"run=a/host=n1/rank={2**63}", f"rank={2**63}", "rank takes a whole number"),
    ("run=a/host=n 1/rank=1", "host=n 1", "host takes letters, digits, '_', '.' and '-'"),
    ("run=/host=n1/rank=1", "run=", "run takes letters, digits"),
])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_partition_folder_no_writer_made_is_named(ds: Path, tmp_path: Path, command: str,
                                                    folder: str, bad: str, rule: str) -> None:
    (ds / folder).parent.mkdir(parents=True, exist_ok=True)
    (ds / "run=a/host=n1/rank=1").rename(ds / folder)
    refused(ds, tmp_path, command, f"{ds / folder}: the folder {bad!r} is not a partition "
            f"roofprof reads ({rule}", "); rename the folder or move it out of the dataset")


def test_a_dataset_below_a_folder_named_like_a_partition(clean: Path, tmp_path: Path) -> None:
    """DuckDB's hive partitioning takes the first ``rank=`` of a path: a dataset under
    ``.../rank=9/`` reads its own ranks all the same, on every engine and in the plot."""
    d = Path(shutil.copytree(clean, tmp_path / "rank=9" / "run=x" / "ds"))
    want = summary_json(clean, "duckdb")
    assert [r["group"] for r in want] == ["0", "1"]
    for engine in ("duckdb", "pandas"):
        assert summary_json(d, engine) == want
    moved, kept = plot_numbers(d, by="rank"), plot_numbers(clean, by="rank")
    pd.testing.assert_frame_equal(moved.summary, kept.summary)
    assert moved.points["filename"].str.startswith(str(d)).all()
    pd.testing.assert_frame_equal(moved.points.drop(columns="filename"),
                                  kept.points.drop(columns="filename"))


@pytest.mark.skipif(importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
                    reason="Spark needs pyspark and Java")
def test_spark_reads_the_last_three_folders_and_checks_the_files(clean: Path,
                                                                tmp_path: Path) -> None:
    from roofprof.datasets.spark import session
    from roofprof.datasets.spark import summarize as spark_summarize

    d = Path(shutil.copytree(clean, tmp_path / "run=x" / "rank=9" / "ds"))
    spark = session()
    try:
        assert_same(dataset_sql.summarize(clean, by="rank"),
                    spark_summarize(d, by="rank", spark=spark))
        f = first_file(d)
        cut_in_half(f)
        with pytest.raises(InputError, match=f"^{f}: a Parquet file cut short"):
            spark_summarize(d, by="rank", spark=spark)
    finally:
        spark.stop()


# ----------------------------------------------------------- what leaves the clean numbers


def test_the_clean_numbers(clean: Path) -> None:
    """Both engines give the in-memory numbers of the fixture once per rank."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        alone = roofline.summarize(load(KNOWN), by="range")
    duck, memory = summary_json(clean, "duckdb"), summary_json(clean, "pandas")
    assert duck == memory
    assert [(r["group"], r["kernels"], r["time_ns"]) for r in duck] == [
        (str(rank), int(alone["kernels"].sum()), pytest.approx(alone["time_ns"].sum()))
        for rank in (0, 1)]


def test_hidden_and_temporary_files_are_not_read(clean: Path, ds: Path) -> None:
    part = ds / FIRST
    for name in (".part-0123.parquet.x1y2.tmp", ".part-0123.parquet", "part-4567.parquet.tmp",
                 "notes.txt"):
        (part / name).write_bytes(b"half a write")
    for engine in ("duckdb", "pandas"):
        assert summary_json(ds, engine) == summary_json(clean, engine)


def test_links_that_loop_are_not_followed(clean: Path, ds: Path) -> None:
    (ds / FIRST / "up").symlink_to(ds, target_is_directory=True)
    (ds / "run=a/host=n1/rank=5").symlink_to("..", target_is_directory=True)
    (ds / "run=a/host=n1/rank=6").symlink_to("rank=6")
    for engine in ("duckdb", "pandas"):
        assert summary_json(ds, engine) == summary_json(clean, engine)
    assert invoke(["ranks", str(ds), "--format", "json"])[0] == 0


def copy_message(ds: Path) -> tuple[Path, str]:
    """A byte-identical copy of the first file, beside it (named to sort after it), and the
    warning that names it."""
    f = first_file(ds)
    shutil.copy(f, f.parent / "part-zcopy.parquet")
    return f, (f"{ds}: 1 dataset file(s) are the same as another one, so their kernels are "
               f"counted twice: {FIRST}/part-zcopy.parquet (the same as {FIRST}/{f.name}). "
               "Each is read; remove the copies (a file added twice, or copied by hand)")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_copy_in_its_partition_is_named(ds: Path, tmp_path: Path, command: str) -> None:
    _, message = copy_message(ds)
    code, out = invoke(COMMANDS[command](ds, tmp_path))
    assert code == 0, out
    assert out.count(f"roofprof: warning: {message}\n") == 1, out


def test_a_copy_is_counted_by_every_engine(clean: Path, ds: Path) -> None:
    _, message = copy_message(ds)
    with pytest.warns(DataWarning) as caught:
        got = dataset_sql.summarize(ds, by="rank")
    assert [str(w.message) for w in caught] == [message]
    base = dataset_sql.summarize(clean, by="rank")
    assert list(got["group"]) == ["0", "1"]
    assert list(got["kernels"]) == [2 * base["kernels"][0], base["kernels"][1]]
    assert got["time_ns"][0] == pytest.approx(2 * base["time_ns"][0], rel=1e-12)
    with pytest.warns(DataWarning, match="counted twice"):
        assert_same(roofline.summarize(load(ds), by="rank"), got)


def test_the_same_file_through_a_link_is_named(ds: Path) -> None:
    f = first_file(ds)
    (ds / "run=b/host=n1/rank=0").mkdir(parents=True)
    (ds / "run=b/host=n1/rank=0/part-link.parquet").symlink_to(f)
    with pytest.warns(DataWarning, match=r"1 dataset file\(s\) are the same as another one.*"
                      r"run=b/host=n1/rank=0/part-link.parquet \(the same as "
                      rf"{FIRST}/{f.name}\)"):
        partitions.parts(ds)


def test_partition_folders_without_files(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d / FIRST).mkdir(parents=True)
    (d / FIRST / "readme.md").write_text("nothing yet")
    for command in ("summary", "plot", "ranks", "diff", "report"):
        refused(d, tmp_path, command, f"{d}: no dataset files (files live in "
                "run=*/host=*/rank=*/*.parquet; `roofprof convert INPUT --dataset")


# ----------------------------------------------------------------------------- properties


@BOUNDED
@given(keep=st.integers(0, 1 << 20), junk=st.binary(max_size=64),
       footer=st.binary(min_size=1, max_size=8), engine=st.sampled_from(["duckdb", "pandas"]))
def test_a_file_cut_or_its_footer_overwritten_is_named(clean: Path, keep: int, junk: bytes,
                                                       footer: bytes, engine: str) -> None:
    """One file of a copy of the dataset cut anywhere (then junk appended), or the end of its
    footer (the footer's length and the magic) overwritten: every engine names that file; the
    clean dataset's summary is unchanged by the other file being read."""
    import tempfile

    base = dataset_sql.summarize(clean, by="rank")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(shutil.copytree(clean, Path(tmp) / "ds"))
        f = first_file(d)
        data = f.read_bytes()
        cut = data[: keep % len(data)] + junk
        tail = data[: len(data) - len(footer)] + footer
        for damaged in (cut, tail):
            if damaged == data:  # the overwrite wrote what was there
                continue
            f.write_bytes(damaged)
            with pytest.raises(InputError) as e:
                rank_view(d, by="range", engine=engine)
            assert str(e.value).startswith(f"{f}: ")
        f.write_bytes(data)
        pd.testing.assert_frame_equal(dataset_sql.summarize(d, by="rank"), base)


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_strict_refuses_a_dataset_with_a_copy(ds: Path, tmp_path: Path, engine: str) -> None:
    """--strict refuses a dataset's warnings as it refuses a file's, on every engine."""
    _, message = copy_message(ds)
    code, out = invoke(["summary", str(ds), "--by", "rank", "--engine", engine, "--strict"])
    assert code == 2, out
    assert out == f"roofprof: error: {message} (refused: --strict)\n"
    with pytest.raises(InputError, match="counted twice"):
        load(ds, strict=True)
