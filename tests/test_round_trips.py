"""Every file roofprof writes reads back in every command that takes such a file, with the
numbers of what it was written from (issue 24).

The writers: ``convert`` of each input kind (Nsight Compute report and CSV export, Kineto, Nsight
Systems, a ``roofprof trace`` timing table), the timing table itself as ``roofprof trace`` writes
it, ``join``, ``convert --dataset`` (with ``--rank-by``), ``convert`` of a file roofprof wrote, and
a file written before all-null columns were typed (Arrow's ``null`` type). The readers: ``summary``,
``whatif``, ``gpus --check``, ``model --trace``, ``latency`` (timing tables), ``diff``, ``convert``,
``plot``, ``report`` and ``ranks`` (datasets). Each reader gives on the file written what it gives
on the source: the same JSON, the same error (its path aside), never "not written by roofprof".
``summary``'s JSON and CSV are not read back by any command, so they are not among the writers.

The files are written once per module; what a source gives is computed once per command.
"""

from __future__ import annotations

import functools
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from roofprof.app.report import report
from roofprof.cli import main
from tests.conftest import FIXTURES


@dataclass(frozen=True)
class Written:
    """A file (or dataset folder) roofprof wrote: from what (None: no one source, a join),
    whether it holds counters (a plot draws it) and range timings (latency reads it)."""

    path: Path
    source: Path | None
    counters: bool = False
    timing: bool = False
    dataset: bool = False


NCU = FIXTURES / "llama_small.ncu-rep"
CSV = FIXTURES / "llama_small_raw.csv"
KINETO = FIXTURES / "llama_kineto.json.gz"
NSYS = FIXTURES / "llama_graph_nsys.sqlite"
TIMING = FIXTURES / "llama_sample.timing.parquet"
TP2 = FIXTURES / "tp2_timing.parquet"

WRITERS = ["convert ncu-rep", "convert ncu-csv", "convert kineto", "convert nsys",
           "convert timing table", "trace", "join", "convert --dataset timing",
           "convert --dataset counters", "convert --dataset --rank-by", "convert of its own",
           "written before typed nulls"]
#: converting a Kineto or nsys trace keeps its kernels but not its range timings, so latency
#: (and the report's latency section) cannot read the file: latency says so, and what to give
TIMINGS_LOST = {"convert kineto": ("a Kineto trace", KINETO),
                "convert nsys": ("an Nsight Systems export", NSYS)}


def run(*args: str | Path) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert "not written by roofprof" not in result.output, result.output
    return result


def write(*args: str | Path) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.output


def typed_nulls_untyped(src: Path, dst: Path) -> None:
    """``src`` as roofprof wrote its all-null measured columns before they were typed: Arrow
    ``null`` (a timing table converted by roofprof 0.1)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    for i, field in enumerate(table.schema):
        if pa.types.is_floating(field.type) and table.column(i).null_count == len(table):
            table = table.set_column(i, pa.field(field.name, pa.null()),
                                     pa.nulls(len(table), pa.null()))
    pq.write_table(table, dst)
    assert pa.types.is_null(pq.read_schema(dst).field("flop").type)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Written]:
    """Every writer's file, written once."""
    from roofprof.inputs.timing import load_timing
    from roofprof.tables import timing

    d = tmp_path_factory.mktemp("written")
    write("convert", NCU, "-o", d / "ncu.parquet")
    write("convert", CSV, "-o", d / "csv.parquet")
    write("convert", KINETO, "-o", d / "kineto.parquet")
    write("convert", NSYS, "-o", d / "nsys.parquet")
    write("convert", TIMING, "-o", d / "timing.parquet")
    with warnings.catch_warnings():  # what the trace says of itself: not under test here
        warnings.simplefilter("ignore")
        timing.write(load_timing(KINETO), d / "traced.parquet")  # as `roofprof trace` does
    write("join", TIMING, FIXTURES / "llama_sample.ncu-rep", "-o", d / "joined.parquet")
    write("convert", TIMING, "--dataset", d / "ds_timing")
    write("convert", NCU, "--dataset", d / "ds_counters")
    write("convert", TP2, "--dataset", d / "ds_ranks", "--rank-by", "device")
    write("convert", d / "ncu.parquet", "-o", d / "ncu_again.parquet")
    typed_nulls_untyped(d / "timing.parquet", d / "before.parquet")
    return {
        "convert ncu-rep": Written(d / "ncu.parquet", NCU, counters=True),
        "convert ncu-csv": Written(d / "csv.parquet", CSV, counters=True),
        "convert kineto": Written(d / "kineto.parquet", KINETO),
        "convert nsys": Written(d / "nsys.parquet", NSYS),
        "convert timing table": Written(d / "timing.parquet", TIMING, timing=True),
        "trace": Written(d / "traced.parquet", KINETO, timing=True),
        "join": Written(d / "joined.parquet", None, counters=True),
        "convert --dataset timing": Written(d / "ds_timing", TIMING, dataset=True),
        "convert --dataset counters": Written(d / "ds_counters", NCU, counters=True,
                                              dataset=True),
        "convert --dataset --rank-by": Written(d / "ds_ranks", TP2, dataset=True),
        "convert of its own": Written(d / "ncu_again.parquet", NCU, counters=True),
        "written before typed nulls": Written(d / "before.parquet", TIMING, timing=True),
    }


def outcome(*args: str | Path) -> tuple[int, str]:
    """What a command gives: its exit code and its stdout, or its error line with the input's
    path (the first path among ``args``) written ``<input>``."""
    result = run(*args)
    if result.exit_code == 0:
        return 0, result.stdout
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("roofprof: error:")]
    assert len(errors) == 1, result.output
    path = next(str(a) for a in args if isinstance(a, Path))
    return result.exit_code, errors[0].replace(path, "<input>")


@functools.cache
def of_source(*args: str | Path) -> tuple[int, str]:
    """:func:`outcome` of a source, once per command."""
    return outcome(*args)


def same_as_source(w: Written, *args: str) -> tuple[int, str]:
    """The command ``args`` ("{}" the input) on the file written and on its source: the same
    outcome (JSON: the same values, sums over rows in another order to the last bit or so).
    Returns the written file's."""
    got = outcome(*(w.path if a == "{}" else a for a in args))
    if w.source is None:
        assert got[0] == 0, got
        return got
    want = of_source(*(w.source if a == "{}" else a for a in args))
    if got[0] == want[0] == 0 and "json" in args:
        assert same(json.loads(got[1]), json.loads(want[1]))
    else:
        assert got == want
    return got


def same(a: Any, b: Any) -> bool:
    """JSON values equal, floats to 1e-12 (a dataset's ranks are summed in rank order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@pytest.mark.parametrize("name", WRITERS)
def test_summary_gives_the_sources_numbers(written: dict[str, Written], name: str) -> None:
    code, text = same_as_source(written[name], "summary", "{}", "--format", "json")
    assert code == 0
    assert len(json.loads(text)) > 0
    code, text = same_as_source(written[name], "summary", "{}", "--by", "phase", "--format",
                                "csv")
    assert code == 0


@pytest.mark.parametrize("name", WRITERS)
def test_whatif_gpus_and_model_read_it_as_the_source(written: dict[str, Written],
                                                     name: str) -> None:
    w = written[name]
    codes = [same_as_source(w, "whatif", "{}", "--gpu", "H200", "--format", "json")[0],
             same_as_source(w, "gpus", "--check", "{}", "--format", "json")[0],
             same_as_source(w, "model", "Llama-3-8B", "--trace", "{}", "--format", "json")[0]]
    # with counters the projection and the peak check have numbers; a timing table alone
    # has none to project (the same error as its source)
    assert codes == ([0, 0, 0] if w.counters else [2, 0, 0])


@pytest.mark.parametrize("name", ["convert timing table", "trace", "written before typed nulls"])
def test_latency_gives_the_sources_percentiles(written: dict[str, Written], name: str) -> None:
    code, text = same_as_source(written[name], "latency", "{}", "--format", "json")
    assert code == 0
    assert json.loads(text)


@pytest.mark.parametrize("name", sorted(TIMINGS_LOST))
def test_latency_of_a_converted_trace_says_it_has_no_range_timings(
        written: dict[str, Written], name: str) -> None:
    """The source has range latencies, the kernel table converted from it has none: one
    error saying so and naming the source to give instead (never "a trace of counters")."""
    what, source = TIMINGS_LOST[name]
    assert of_source("latency", source, "--format", "json")[0] == 0
    assert outcome("latency", written[name].path, "--format", "json") == (
        2, f"roofprof: error: <input>: a kernel table converted from {what} (roofprof "
           "convert), not a timing table: it keeps each launch's duration but not the launch "
           "and range times (start_ns, end_ns, nvtx_start_ns, nvtx_end_ns) that range "
           f"latencies are computed from; give the trace it was converted from ({source}), "
           "or the Parquet file `roofprof trace` wrote")


@pytest.mark.parametrize("name", WRITERS)
def test_diff_against_the_source_finds_no_change(written: dict[str, Written],
                                                 name: str) -> None:
    w = written[name]
    result = run("diff", w.source or w.path, w.path, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows
    for row in rows:
        assert row["status"] == "both"
        pairs = [k[:-2] for k in row if k.endswith("_a")]
        assert {k: row[f"{k}_a"] for k in pairs} == {k: row[f"{k}_b"] for k in pairs}


@pytest.mark.parametrize("name", WRITERS)
def test_convert_writes_it_again_with_the_same_numbers(written: dict[str, Written], name: str,
                                                       tmp_path: Path) -> None:
    w = written[name]
    again = tmp_path / "again.parquet"
    result = run("convert", w.path, "-o", again)
    assert result.exit_code == 0, result.output
    assert outcome("summary", again, "--format", "json")[1] == \
        outcome("summary", w.path, "--format", "json")[1]


@pytest.mark.parametrize("name", WRITERS)
def test_plot_draws_it_as_the_source(written: dict[str, Written], name: str,
                                     tmp_path: Path) -> None:
    w = written[name]
    out = tmp_path / "p.svg"
    if w.counters:  # drawn (labels off: placing them is the slow part, and not under test)
        result = run("plot", w.path, "-o", out, "--labels", "0")
        assert result.exit_code == 0, result.output
        assert out.read_bytes().lstrip().startswith(b"<?xml")
    else:  # nothing to draw, as for the source
        code, text = same_as_source(w, "plot", "{}", "-o", str(out))
        assert (code, "nothing to draw" in text) == (2, True)


def _report_tables(path: Path) -> dict[str, Any]:
    """The numbers of the report of ``path`` (rendering aside: it draws what these are)."""
    with warnings.catch_warnings():  # a timing trace says it has no counters
        warnings.simplefilter("ignore")
        r = report(path)
    return {"phases": r.phases, "ops": r.ops, "ceilings": r.ceilings, "latency": r.latency,
            "gpu": r.gpu}


@pytest.mark.parametrize("name", [n for n in WRITERS if n != "join"])
def test_report_has_the_sources_numbers(written: dict[str, Written], name: str) -> None:
    w = written[name]
    assert w.source is not None
    got, want = _report_tables(w.path), _report_tables(w.source)
    if not w.timing:  # only a timing table keeps range timings (TIMINGS_LOST)
        want["latency"] = None
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got[key], value, obj=key)
        else:
            assert got[key] == value, key


@pytest.mark.parametrize("name", [n for n in WRITERS if n.startswith("convert --dataset")])
def test_ranks_reads_every_rank_with_the_sources_time(written: dict[str, Written],
                                                      name: str) -> None:
    w = written[name]
    result = run("ranks", w.path, "--by", "run", "--format", "json")
    assert result.exit_code == 0, result.output
    got = {row["rank"]: (row["kernels"], row["time_ns"]) for row in json.loads(result.stdout)}
    by = "device" if name.endswith("--rank-by") else "trace"
    want = {int(row["group"]) if by == "device" else 0: (row["kernels"], row["time_ns"])
            for row in json.loads(of_source("summary", w.source, "--by", by, "--format",
                                            "json")[1])}
    assert got == want
    assert len(got) == (2 if by == "device" else 1)


def test_a_file_written_before_typed_nulls_reads_as_null_numbers(
        written: dict[str, Written]) -> None:
    """Arrow's null type in a measured column: null numbers, as in a file written now."""
    from roofprof.inputs.load import load

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = load(written["written before typed nulls"].path).kernels
        now = load(written["convert timing table"].path).kernels
    assert before["flop"].dtype == now["flop"].dtype == "float64"
    assert before["flop"].isna().all()
    assert before["process_id"].dtype == now["process_id"].dtype
    pd.testing.assert_frame_equal(before, now)


def test_convert_types_a_timing_tables_counter_columns(written: dict[str, Written]) -> None:
    """The writer's side: no column of Arrow's null type in anything roofprof wrote."""
    import pyarrow.parquet as pq

    for name, w in written.items():
        if name == "written before typed nulls":
            continue
        for f in ([w.path] if not w.dataset else sorted(w.path.rglob("*.parquet"))):
            untyped = [x.name for x in pq.read_schema(f) if str(x.type) == "null"]
            assert untyped == [], (name, f)
            assert re.search(r"part-[0-9a-f]+\.parquet$|\.parquet$", f.name)
