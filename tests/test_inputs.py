"""Glob inputs: every command that takes a trace takes a quoted glob pattern; the files it
matches are one input (their kernels together, each file labelled), a pattern matching nothing
is one error naming it; dataset files matched by a pattern keep their partitions and --where."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from roofprof.analysis import roofline
from roofprof.analysis.latency import instances
from roofprof.cli import main
from roofprof.datasets.write import append
from roofprof.errors import InputError, RoofprofWarning, UsageError
from roofprof.inputs.load import convert, load, load_many
from roofprof.inputs.timing import load_timing
from roofprof.tables import partitions as dataset

from .conftest import FIXTURES

KNOWN = FIXTURES / "known_work.ncu-rep"
SMALL = FIXTURES / "llama_small.ncu-rep"
KINETO = FIXTURES / "llama_kineto.json.gz"


def run(*argv: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in argv])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/a/rank0.parquet (known_work) and runs/b/rank0.parquet, runs/b/rank1.parquet
    (llama_small): two files share a name."""
    d = tmp_path_factory.mktemp("runs")
    (d / "a").mkdir()
    (d / "b").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        convert([KNOWN], d / "a" / "rank0.parquet")
        convert([SMALL], d / "b" / "rank0.parquet")
    shutil.copy(d / "b" / "rank0.parquet", d / "b" / "rank1.parquet")
    return d


def test_expand_sorts_matches_and_leaves_plain_paths(runs: Path) -> None:
    assert dataset.expand(runs / "*" / "rank0.parquet") == [runs / "a" / "rank0.parquet",
                                                             runs / "b" / "rank0.parquet"]
    assert dataset.expand(runs / "**" / "*.parquet") == sorted(runs.rglob("*.parquet"))
    assert dataset.expand(runs / "a") == [runs / "a"]  # not a pattern: itself, unchecked
    assert dataset.expand(runs / "missing.parquet") == [runs / "missing.parquet"]


def test_a_pattern_matching_nothing_names_the_pattern(runs: Path) -> None:
    pattern = f"{runs}/*/nothing*.parquet"
    with pytest.raises(InputError, match=r"nothing\*.parquet: the pattern matches no file"):
        dataset.expand(pattern)
    for argv in (["summary", pattern], ["report", pattern, "-o", runs / "r.html"],
                 ["latency", pattern], ["convert", pattern, "-o", runs / "x.parquet"]):
        r = run(*argv)
        assert r.exit_code == 2, r.output
        assert r.output.count("roofprof: error:") == 1
        assert pattern in r.output
        assert "Traceback" not in r.output


def test_labels_are_file_names_or_paths_when_names_repeat(runs: Path) -> None:
    files = dataset.expand(runs / "*" / "*.parquet")
    assert dataset.labels(files) == ["a/rank0", "b/rank0", "b/rank1"]
    assert dataset.labels(files[1:]) == ["rank0", "rank1"]
    assert dataset.labels([SMALL, SMALL]) == ["1:llama_small", "2:llama_small"]
    assert dataset.label_of(runs / "rank*.parquet") == "rank"


def test_a_glob_is_its_files_together(runs: Path) -> None:
    files = dataset.expand(runs / "*" / "*.parquet")
    together = load(f"{runs}/*/*.parquet")
    assert len(together.kernels) == sum(len(load(f).kernels) for f in files)
    by_trace = roofline.summarize(together, by="trace").set_index("group")
    for f, label in zip(files, ["a/rank0", "b/rank0", "b/rank1"], strict=True):
        alone = roofline.summarize(load(f), by="phase")
        assert by_trace.loc[label, "kernels"] == alone["kernels"].sum()
        assert by_trace.loc[label, "time_ns"] == pytest.approx(alone["time_ns"].sum(),
                                                               rel=1e-12)
    # a pattern matching one file is that file
    one = load(f"{runs}/a/rank?.parquet")
    assert "trace" not in one.kernels.columns
    assert one.kernels.equals(load(runs / "a" / "rank0.parquet").kernels)


def test_summary_of_a_glob_equals_the_files_listed(runs: Path) -> None:
    files = dataset.expand(runs / "*" / "*.parquet")
    globbed = run("summary", f"{runs}/*/*.parquet", "--by", "trace,phase", "--format", "json")
    listed = run("summary", *files, "--by", "trace,phase", "--format", "json")
    assert globbed.exit_code == 0, globbed.output
    assert json.loads(globbed.stdout) == json.loads(listed.stdout)
    groups = {g["group"].split(" · ")[0] for g in json.loads(globbed.stdout)}
    assert groups == {"a/rank0", "b/rank0", "b/rank1"}
    # a glob beside a plain path: every file is one trace of its own
    mixed = run("summary", f"{runs}/b/*.parquet", runs / "a" / "rank0.parquet", "--by", "trace",
                "--format", "json")
    assert mixed.exit_code == 0, mixed.output
    assert sorted(g["group"] for g in json.loads(mixed.stdout)) == ["a/rank0", "b/rank0",
                                                                    "b/rank1"]


@pytest.mark.parametrize("argv", [
    ["whatif", "{}", "--gpu", "H200", "--format", "json"],
    ["diff", "{}", "{}", "--format", "json"],
    ["gpus", "--check", "{}", "--format", "json"],
    ["model", "Llama-3-8B", "--trace", "{}", "--format", "json"],
    ["summary", "{}", "--by", "op,phase", "--format", "json"],
])
def test_every_reading_command_takes_a_glob(runs: Path, argv: list[str]) -> None:
    """A pattern matching one file gives exactly that file's output."""
    plain = run(*[a.format(runs / "b" / "rank0.parquet") for a in argv])
    globbed = run(*[a.format(f"{runs}/b/rank[0].parquet") for a in argv])
    assert plain.exit_code == 0, plain.output
    assert globbed.exit_code == 0, globbed.output
    assert globbed.stdout == plain.stdout


def test_report_plot_join_latency_convert_take_globs(runs: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = run("report", f"{runs}/b/*.parquet", "-o", tmp_path / "r.md")
    assert r.exit_code == 0, r.output
    assert "decode" in (tmp_path / "r.md").read_text()
    r = run("plot", f"{runs}/b/*.parquet", "-o", tmp_path / "p.html")
    assert r.exit_code == 0, r.output
    svg = (tmp_path / "p.html").read_text()
    assert "rank0" in svg  # coloured by trace, one label per file
    assert "rank1" in svg
    r = run("plot", f"{runs}/b/rank*.parquet")  # default name: the pattern without wildcards
    assert r.exit_code == 0, r.output
    assert "rank_roofline.png" in r.output
    assert (tmp_path / "rank_roofline.png").exists()
    # convert: the matches into one trace
    r = run("convert", f"{runs}/b/*.parquet", "-o", tmp_path / "both.parquet")
    assert r.exit_code == 0, r.output
    assert len(load(tmp_path / "both.parquet").kernels) == 2 * len(
        load(runs / "b" / "rank0.parquet").kernels)
    # an output that a pattern matches is an input: refused
    r = run("convert", f"{tmp_path}/*.parquet", "-o", tmp_path / "both.parquet")
    assert r.exit_code == 2
    assert "is also an input" in r.output
    # timing traces: latency and join
    shutil.copy(KINETO, tmp_path / "t1.json.gz")
    shutil.copy(KINETO, tmp_path / "t2.json.gz")
    one = instances(load_timing(KINETO))
    two = instances(load_timing(f"{tmp_path}/t*.json.gz"))
    assert len(two) == 2 * len(one)  # the same clocks in two files: never merged
    r = run("latency", f"{tmp_path}/t[12].json.gz", "--format", "json")
    assert r.exit_code == 0, r.output
    r = run("join", f"{tmp_path}/t1.*", f"{runs}/b/rank0.*", "-o", tmp_path / "j.parquet")
    assert r.exit_code == 0, r.output
    plain = run("join", KINETO, runs / "b" / "rank0.parquet", "-o", tmp_path / "k.parquet")
    assert r.stdout == plain.stdout


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fleet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        for rank in range(3):
            append([KNOWN], d / "fleet_a", run="a", host="n1", rank=rank)
        append([KNOWN], d / "fleet_b", run="b", host="n2", rank=0)
    return d


def test_glob_of_dataset_folders_and_of_their_files(fleet: Path) -> None:
    n = len(load(KNOWN).kernels)
    both = load(f"{fleet}/fleet_*")
    assert len(both.kernels) == 4 * n
    assert sorted(set(both.kernels["trace"])) == ["fleet_a", "fleet_b"]
    ranks = load(f"{fleet}/fleet_*", where="rank >= 1")
    assert len(ranks.kernels) == 2 * n
    # the dataset's own files, matched by a pattern: partitions kept, --where selects them
    files = f"{fleet}/fleet_a/run=*/host=*/rank=*/*.parquet"
    parts = load(files, where="rank in (0, 2)")
    assert sorted(set(parts.kernels["trace"])) == ["run=a/host=n1/rank=0", "run=a/host=n1/rank=2"]
    assert sorted(set(parts.kernels["rank"])) == [0, 2]
    r = run("summary", files, "--where", "rank = 1", "--by", "rank,phase", "--format", "json")
    d = run("summary", fleet / "fleet_a", "--where", "rank = 1", "--by", "rank,phase",
            "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == json.loads(d.stdout)
    with pytest.raises(InputError, match="no dataset file matches where"):
        load_many([files], where="rank = 9")
    with pytest.raises(UsageError, match=r"^where "):
        load_many([files], where="rank = 1 or 1 = 1")
    with pytest.raises(InputError, match="where applies to a dataset"):
        load_many([KNOWN, files], where="rank = 1")


# ------------------------------------------------------------------ --where on every command


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A dataset of known_work (rank 0) and llama_small (rank 1), and llama_small alone."""
    d = tmp_path_factory.mktemp("two")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        append([KNOWN], d / "fleet", run="r", host="n1", rank=0)
        append([SMALL], d / "fleet", run="r", host="n1", rank=1)
        convert([SMALL], d / "small.parquet")
    return d / "fleet", d / "small.parquet"


WHERE_COMMANDS = [
    ["summary", "{}", "--by", "op,phase", "--format", "json"],
    ["whatif", "{}", "--gpu", "H200", "--format", "json"],
    ["whatif", "{}", "--gpu", "H100-SXM5-80GB", "--against", "{}", "--format", "json"],
    ["diff", "{}", "{}", "--format", "json"],
    ["gpus", "--check", "{}", "--format", "json"],
    ["model", "Llama-3-8B", "--trace", "{}", "--format", "json"],
    ["join", str(KINETO), "{}", "-o", "{out}", "--force"],  # one output, joined three times
]


@pytest.mark.parametrize("argv", WHERE_COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_where_reads_the_selected_partition(two_ranks: tuple[Path, Path], tmp_path: Path,
                                            argv: list[str]) -> None:
    """Rank 1 of the dataset (--where) gives what its trace alone gives."""
    fleet, alone = two_ranks
    out = str(tmp_path / "out.parquet")
    selected = run(*[a.format(fleet, out=out) for a in argv], "--where", "rank = 1")
    plain = run(*[a.format(alone, out=out) for a in argv])
    assert selected.exit_code == 0, selected.output
    assert plain.exit_code == 0, plain.output
    assert selected.stdout == plain.stdout
    everything = run(*[a.format(fleet, out=out) for a in argv])
    assert everything.exit_code == 0, everything.output
    # known_work on rank 0 adds groups or kernels (its GEMMs match no launch of the Llama
    # timing, and the model compares by the trace's op names, which known_work lacks)
    if argv[0] not in ("model", "join"):
        assert everything.stdout != plain.stdout


@pytest.mark.parametrize("argv", [*WHERE_COMMANDS,
                                  ["report", "{}", "-o", "{out}.md"],
                                  ["plot", "{}", "-o", "{out}.png"],
                                  ["convert", "{}", "-o", "{out}"],
                                  ["ranks", "{}"]], ids=lambda a: "-".join(a[:2]))
def test_where_refused_where_it_cannot_apply(two_ranks: tuple[Path, Path], tmp_path: Path,
                                             argv: list[str]) -> None:
    fleet, alone = two_ranks
    out = str(tmp_path / "out.parquet")
    bad = run(*[a.format(fleet, out=out) for a in argv], "--where", "rank = 1 or 1 = 1")
    assert bad.exit_code == 2, bad.output
    assert bad.output.startswith("roofprof: error: --where 'rank = 1 or 1 = 1'")
    assert len(bad.output.splitlines()) == 1
    if argv[0] == "ranks":
        return
    on_a_trace = run(*[a.format(alone, out=out) for a in argv], "--where", "rank = 1")
    assert on_a_trace.exit_code == 2, on_a_trace.output
    assert "--where applies to a dataset" in on_a_trace.output
    assert "Traceback" not in on_a_trace.output
    assert not Path(out).exists()


def test_report_plot_convert_with_where(two_ranks: tuple[Path, Path], tmp_path: Path) -> None:
    fleet, alone = two_ranks
    r = run("convert", fleet, "--where", "rank = 1", "-o", tmp_path / "r1.parquet")
    assert r.exit_code == 0, r.output
    got, want = load(tmp_path / "r1.parquet").kernels, load(alone).kernels
    assert len(got) == len(want)
    assert set(got["rank"]) == {1}
    assert got["duration_ns"].sum() == want["duration_ns"].sum()
    # a selection added to another dataset: its partition is the new one, nothing clashes
    r = run("convert", fleet, "--where", "rank = 1", "--dataset", tmp_path / "other", "--rank",
            "5")
    assert r.exit_code == 0, r.output
    five = run("summary", tmp_path / "other", "--by", "rank,phase", "--format", "json")
    assert five.exit_code == 0, five.output
    assert {g["group"].split(" · ")[0] for g in json.loads(five.stdout)} == {"5"}
    r = run("report", fleet, "--where", "rank = 1", "-o", tmp_path / "r.md")
    assert r.exit_code == 0, r.output
    assert "decode" in (tmp_path / "r.md").read_text()
    r = run("plot", fleet, "--where", "rank = 0", "-o", tmp_path / "p.png")
    assert r.exit_code == 0, r.output
    for argv in (["gpus", "--where", "rank = 1"], ["model", "Llama-3-8B", "--where", "rank = 1"]):
        r = run(*argv)
        assert r.exit_code == 2
        assert "--where applies to the trace of" in r.output


_NAME = st.text(alphabet="abc01_", min_size=1, max_size=4)


@given(st.lists(st.tuples(st.lists(_NAME, max_size=3), _NAME,
                          st.sampled_from([".parquet", ".ncu-rep", ".csv", ""])),
                min_size=1, max_size=8))
def test_labels_are_distinct_and_one_per_input(paths: list[tuple[list[str], str, str]]) -> None:
    files = [Path("/data", *folders, name + suffix) for folders, name, suffix in paths]
    got = dataset.labels(files)
    assert len(got) == len(files)
    assert len(set(got)) == len(got)
    assert all(g for g in got)


def test_a_pattern_never_matches_a_write_in_progress(tmp_path: Path) -> None:
    (tmp_path / "a.parquet").write_bytes(b"")
    (tmp_path / ".a.parquet.tmp").write_bytes(b"")
    assert dataset.expand(f"{tmp_path}/*") == [tmp_path / "a.parquet"]
    assert dataset.expand(f"{tmp_path}/**/*a*") == [tmp_path / "a.parquet"]
