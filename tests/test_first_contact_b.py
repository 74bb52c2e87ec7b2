"""First contact, part B (issue 25): ``report`` takes summary's options with their meaning and
says what part of the run it is of; its title is the input as the user named it; each
grouping command's default is stated with its reason and is what it does; the join's hint
names options that exist; one overwrite policy (a file holding measurements is never replaced
without --force, views are); ``join`` checks its output before the work."""

from __future__ import annotations

import hashlib
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from roofprof.app.join import join
from roofprof.app.outputs import measurements
from roofprof.app.report import report
from roofprof.app.summary import summary
from roofprof.app.whatif import whatif
from roofprof.cli import main
from roofprof.errors import RoofprofWarning
from roofprof.inputs.load import load
from roofprof.views import report_page, tables
from roofprof.views.join import format_report
from roofprof.views.report import build
from tests.conftest import FIXTURES, ROOT

ANNOTATED = FIXTURES / "llama_annotated.ncu-rep"
TIMING = FIXTURES / "llama_sample.timing.parquet"
SAMPLED = FIXTURES / "llama_sample.ncu-rep"
CONFIG = ROOT / "tests" / "data" / "llama_large_config.json"
#: where the bundled timing trace was recorded: its stored sources name this machine's path
CAPTURE_PATH = "/root/out/p/prod/s.timing.parquet"
#: the columns of a group table that are numbers or labels (every one the report shows)
GROUP_COLUMNS = ["group", "kernels", "time_ns", "time_share", "ai", "work_per_s",
                 "pct_of_peak_compute", "pct_of_peak_bandwidth", "pct_of_roof", "bound",
                 "headroom_ns"]


def cli(*args: object) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def one_error(result: Result, code: int) -> str:
    """The one line of an error (exit ``code``), without its prefix."""
    assert result.exit_code == code, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("roofprof: error: ")
    return lines[0].removeprefix("roofprof: error: ")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The production sample joined (timing + sampled counters), and the join's facts."""
    out = tmp_path_factory.mktemp("joined") / "joined.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        facts = join(TIMING, SAMPLED, out)
    return out, facts


# ----------------------------------------------------------------- report: summary's options


def test_report_filter_is_summarys_filter_and_the_report_says_so() -> None:
    r = report(ANNOTATED, filter="decode")
    wanted = summary(ANNOTATED, by="phase", filter="decode").table
    pd.testing.assert_frame_equal(r.phases[GROUP_COLUMNS], wanted[GROUP_COLUMNS])
    assert list(r.phases["group"]) == ["decode"]
    # what was kept, from the whole trace's own summary: decode's kernels and share of time
    whole = summary(ANNOTATED, by="phase").table.set_index("group")
    share = 100 * whole.loc["decode", "time_share"]
    n, total = int(whole.loc["decode", "kernels"]), int(whole["kernels"].sum())
    assert (n, total) == (64, 126)
    assert r.scope == ["filtered trace: only kernels inside NVTX ranges prefill/,decode/; only "
                       f"the kernels matching --filter 'decode': {share:.1f}% of the time, "
                       f"{n} of {total} kernels"]
    assert f"{share:.1f}%" == "24.4%"
    # the figures say it too, as every filtered trace's figure does
    for _caption, scene in r.scenes:
        assert any("only the kernels matching --filter" in line for line in scene.subtitle), \
            scene.subtitle
    # on the first screen of both renderings, before the verdicts
    html = report_page.to_html(r)
    assert html.index(r.scope[0].replace("'", "&#x27;")) < html.index("id='verdicts'")
    md = report_page.to_markdown(r)
    assert md.index("24.4% of the time, 64 of 126 kernels") < md.index("## Verdict per phase")


def test_a_report_of_the_whole_trace_has_no_scope_line() -> None:
    r = report(ANNOTATED)
    assert r.scope == []
    assert "class='scope'" not in report_page.to_html(r)


def test_report_with_counters_is_summarys_with_counters(
        joined: tuple[Path, dict[str, object]]) -> None:
    path, _facts = joined
    r = report(path, with_counters=True)
    wanted = summary(path, by="phase", with_counters=True).table
    pd.testing.assert_frame_equal(r.phases[GROUP_COLUMNS], wanted[GROUP_COLUMNS])
    assert "unknown" not in set(r.phases["bound"])  # the measured part has a verdict
    k = load(path).kernels
    kept = (k["counters_from"].astype(object) != "none").to_numpy(dtype=bool)
    time = k["duration_ns"].to_numpy(dtype=np.float64)
    share = 100 * time[kept].sum() / time.sum()
    assert r.scope[0] == ("filtered trace: only the launches with counters (--with-counters): "
                          f"{share:.1f}% of the time, {kept.sum():,} of {len(k):,} launches")
    assert r.scope[0].endswith("58.0% of the time, 356 of 697 launches")
    shares = ", ".join(f"{g} {100 * s:.1f}%" for g, s in
                       zip(wanted["group"], wanted["time_with_counters"], strict=True))
    assert r.scope[1] == f"time with counters, of each group's: {shares}"
    assert report(path).scope == []  # without the option: the whole run, nothing to say


def test_report_with_counters_refuses_a_trace_profiled_launch_by_launch(
        tmp_path: Path) -> None:
    message = one_error(cli("report", ANNOTATED, "--with-counters", "-o", tmp_path / "r.md"), 2)
    assert message.startswith("--with-counters keeps the launches of a joined trace")
    assert list(tmp_path.iterdir()) == []


def test_report_filter_that_matches_nothing_or_is_no_regex_is_one_error(tmp_path: Path) -> None:
    assert one_error(cli("report", ANNOTATED, "--filter", "nosuchkernel", "-o",
                         tmp_path / "r.md"), 2) == \
        "no kernel, range, phase, category or op matches --filter 'nosuchkernel'"
    assert one_error(cli("report", ANNOTATED, "--filter", "(", "-o", tmp_path / "r.md"), 2) \
        .startswith("--filter '(' is not a valid regular expression")
    assert list(tmp_path.iterdir()) == []


def test_report_rules_attribute_as_summarys(tmp_path: Path) -> None:
    rules = tmp_path / "spec.toml"
    rules.write_text("[[phase]]\nmatch = '^decode$'\nphase = 'spec'\n")
    r = report(ANNOTATED, rules=rules)
    wanted = summary(ANNOTATED, by="phase", rules=rules).table
    pd.testing.assert_frame_equal(r.phases[GROUP_COLUMNS], wanted[GROUP_COLUMNS])
    assert set(r.phases["group"]) == {"prefill", "spec"}


def test_report_weight_dtype_describes_the_modelled_run(tmp_path: Path) -> None:
    r = report(ANNOTATED, model=CONFIG, batch=2, prompt=1024, weight_dtype="fp8")
    assert r.options is not None
    as_run = r.options.set_index("variant").loc["as run"]
    assert as_run["weight_dtype"] == "fp8"
    assert "fp8 weights" not in set(r.options["variant"])  # the run's own: no variant of it
    bf16 = report(ANNOTATED, model=CONFIG, batch=2, prompt=1024)
    assert bf16.options is not None
    plain = bf16.options.set_index("variant")
    assert plain.loc["as run", "weight_dtype"] == "bf16"
    # fp8 weights are half of bf16's bytes, as the bf16 run's own fp8 variant says
    assert as_run["weight_bytes"] == pytest.approx(plain.loc["fp8 weights", "weight_bytes"])
    message = one_error(cli("report", ANNOTATED, "--weight-dtype", "fp8", "-o",
                            tmp_path / "r.md"), 2)
    assert message == "--weight-dtype describes the modelled run: give --model MODEL too"


# ------------------------------------------------------------------------- report: its title


def test_the_title_is_the_input_as_given_never_the_capture_machines_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)  # a timing trace: only time is shown
        assert load(TIMING).meta["sources"] == [CAPTURE_PATH]  # what the file records
        r = report(Path("fixtures") / TIMING.name)
        absolute, in_memory = report(TIMING), build(load(TIMING))
    assert r.title == "roofprof report: fixtures/llama_sample.timing.parquet"
    html = report_page.to_html(r)
    assert "<title>roofprof report: fixtures/llama_sample.timing.parquet</title>" in html
    assert "/root/out" not in html
    assert "/root/out" not in report_page.to_markdown(r)
    # as given, an absolute path too; a trace in memory: the file names it was read from
    assert absolute.title == f"roofprof report: {TIMING}"
    assert in_memory.title == "roofprof report: s.timing.parquet"


# ------------------------------------------------------------------- one default per command


def test_each_grouping_commands_default_is_what_it_does() -> None:
    """summary and plot group by range, whatif, diff and ranks by phase (test_cli_options
    checks that each help says so, and why)."""
    pd.testing.assert_frame_equal(summary(ANNOTATED).table,
                                  summary(ANNOTATED, by="range").table)
    pd.testing.assert_frame_equal(whatif(ANNOTATED, "H200").table,
                                  whatif(ANNOTATED, "H200", by="phase").table)
    assert list(whatif(ANNOTATED, "H200").table["group"]) == ["prefill", "decode"]


# ------------------------------------------------------------------------ hints that are true


def test_the_joins_hint_names_options_that_exist(joined: tuple[Path, dict[str, object]]) -> None:
    _path, facts = joined
    text = format_report(facts)
    line = next(t for t in text.splitlines() if "another template instance" in t
                and t.startswith("285 launches"))
    assert not re.search(r"(?<![\w-])-k\b", line)
    record = main.commands["record"]
    flags = {o for p in record.params for o in p.opts}
    named = re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line.split("; to measure them", 1)[1])
    assert named == ["--per-config", "--kernel", "--range", "--per-config"]
    assert set(named) <= flags
    assert "`roofprof record --kernel REGEX`" in line


# ------------------------------------------------------------------ one overwrite policy


#: a capture of each kind roofprof reads, and the format its message names
CAPTURES = {
    "timing.parquet": (TIMING, "a Parquet table: a trace, timing or joined table"),
    "report.ncu-rep": (SAMPLED, "an Nsight Compute report (.ncu-rep)"),
    "export.csv": (FIXTURES / "known_work_raw.csv", "an Nsight Compute CSV export"),
    "profile.json.gz": (FIXTURES / "llama_kineto.json.gz",
                        "a PyTorch profiler (Kineto) trace"),
    "run.sqlite": (FIXTURES / "llama_graph_nsys.sqlite", "an Nsight Systems SQLite export"),
}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_what_holds_measurements(name: str, tmp_path: Path) -> None:
    source, kind = CAPTURES[name]
    assert measurements(source) == kind
    renamed = tmp_path / "any_name.png"  # by content, whatever the name says
    shutil.copyfile(source, renamed)
    assert measurements(renamed) == kind


def test_views_and_nothing_hold_no_measurements(tmp_path: Path) -> None:
    view = tmp_path / "summary.json"
    view.write_text(summary(ANNOTATED, by="phase").table.to_json())
    empty = tmp_path / "empty.parquet"
    empty.touch()
    nsys = tmp_path / "damaged.nsys-rep"  # known by its suffix only, as detect() knows it
    nsys.write_bytes(b"\x00" * 64)
    assert [measurements(p) for p in (view, empty, tmp_path, tmp_path / "missing.parquet")] \
        == [None, None, None, None]
    assert measurements(nsys) == "an Nsight Systems report"


#: every command that writes a file, its -o or --plot naming OUT (suffix as each requires)
WRITERS = [
    ("convert", "convert {A} -o {OUT}.parquet"),
    ("join", "join {T} {S} -o {OUT}.parquet"),
    ("summary", "summary {A} -o {OUT}.json"),
    ("plot", "plot {A} -o {OUT}.png"),
    ("report", "report {A} -o {OUT}.md"),
    ("whatif", "whatif {A} --gpu H200 -o {OUT}.csv"),
    ("diff", "diff {A} {S} -o {OUT}.json"),
    ("diff", "diff {A} {S} --plot {OUT}.png"),
    ("model", "model Llama-3-8B --gpu H100 -o {OUT}.csv"),
    ("gpus", "gpus -o {OUT}.json"),
    ("latency", "latency {T} -o {OUT}.json"),
]


@pytest.mark.parametrize(("command", "line"), WRITERS, ids=[w[1].split(" -")[0].split(" {")[0]
                                                            + f"-{i}" for i, w in
                                                            enumerate(WRITERS)])
def test_a_capture_is_never_replaced_without_force(command: str, line: str,
                                                   tmp_path: Path) -> None:
    suffix = line.rsplit("{OUT}", 1)[1]
    out = tmp_path / f"capture{suffix}"
    shutil.copyfile(FIXTURES / "llama_kineto.json.gz", out)  # a profile, named as the output
    before = digest(out)
    argv = [w.format(A=ANNOTATED, T=TIMING, S=SAMPLED, OUT=tmp_path / "capture")
            for w in line.split()]
    message = one_error(cli(*argv), 2)
    takes_force = "force" in {p.name for p in main.commands[command].params}
    fix = "pass --force to replace it" if takes_force else "remove it first"
    assert message == (f"{out} exists and holds measurements (a PyTorch profiler (Kineto) "
                       f"trace), which roofprof never replaces unasked: {fix}, or choose "
                       "another output file")
    assert digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # nothing else written


def test_with_force_the_capture_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "run.parquet"
    shutil.copyfile(TIMING, out)
    done = cli("convert", ANNOTATED, "-o", out, "--force")
    assert done.exit_code == 0, done.output
    assert len(load(out).kernels) == len(load(ANNOTATED).kernels)
    again = cli("convert", ANNOTATED, "-o", out)  # a table roofprof wrote is one too
    assert "run.parquet exists and holds measurements" in one_error(again, 2)


def test_a_view_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    for by in ("phase", "category"):
        done = cli("summary", ANNOTATED, "--by", by, "-o", out)
        assert done.exit_code == 0, done.output
    assert out.read_text() == tables.to_csv(summary(ANNOTATED, by="category").table)


def test_force_never_lets_an_output_replace_an_input(tmp_path: Path) -> None:
    copy = tmp_path / "t.parquet"
    shutil.copyfile(TIMING, copy)
    before = digest(copy)
    message = one_error(cli("convert", copy, "-o", copy, "--force"), 2)
    assert "is also an input of this command" in message
    assert digest(copy) == before


# ----------------------------------------------------------------- join: its output, first


def test_join_checks_its_output_before_the_work(tmp_path: Path) -> None:
    """A missing folder or a folder in the way is said before the counters are read (the
    counters here do not exist: their error would come first otherwise)."""
    missing = tmp_path / "nofolder" / "j.parquet"
    assert one_error(cli("join", TIMING, tmp_path / "none.ncu-rep", "-o", missing), 4) == \
        f"cannot write {missing}: folder {missing.parent} does not exist; create it or " \
        "choose another output"
    folder = tmp_path / "d.parquet"
    folder.mkdir()
    assert one_error(cli("join", TIMING, tmp_path / "none.ncu-rep", "-o", folder), 4) == \
        f"cannot write {folder}: it is a directory; choose a file name"
