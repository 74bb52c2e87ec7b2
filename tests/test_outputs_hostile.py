"""Outputs on hostile ground (issue 24): no command writes over one of its inputs, a command's
files are written as one set (all of them, or none, and no temporary file left), and text from
the user's inputs cannot become markup in the Markdown report.

Every input of the refusal cases is junk bytes: a command that read anything before refusing
would fail on the junk instead, so the refusal is shown to come before any work.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roofprof.cli import main
from roofprof.cli.common import MODELS, OUTPUTS
from roofprof.errors import OutputError
from roofprof.tables import files
from roofprof.tables.columns import text
from roofprof.tables.files import atomic_outputs, output_set
from roofprof.tables.kernels import Trace
from roofprof.views import report_page
from roofprof.views.report import build
from tests.conftest import FIXTURES, load_fixture
from tests.test_bad_input import assert_one_clear_error

BOUNDED = settings(max_examples=60, deadline=timedelta(seconds=3),
                   suppress_health_check=[HealthCheck.too_slow])

#: the files of a refusal case, each holding junk (a dataset file under its partition)
JUNK = {"t": "t.parquet", "t2": "t2.parquet", "t3": "t3.parquet", "rules": "rules.toml",
        "cfg": "cfg.json", "cfghtml": "cfg.html", "html": "r.html", "timing": "timing.json.gz",
        "fig": "r_phase.png", "fig2": "r_op_phase.png", "default": "t_roofline.png",
        "dfile": "D/run=r/host=h/rank=0/part-1.parquet"}
#: names of files no case makes before the command
NEW = {"md": "r.md", "png": "moves.png", "D": "D"}

#: (command, the parameter whose file the output would replace, command line, message)
CASES = [
    ("summary", "traces", "summary {t} -o {t}", "also an input"),
    ("summary", "rules", "summary {t} --rules {rules} -o {rules}", "also an input"),
    ("summary", "model_spec", "summary {t} --model {cfg} -o {cfg}", "also an input"),
    ("summary", "traces", "summary {D} -o {dfile}", "is a file of the dataset"),
    ("plot", "traces", "plot {t} {t2} -o {t2}", "also an input"),
    ("plot", "traces", "plot {t} {default}", "also an input"),  # NAME_roofline.png
    ("plot", "rules", "plot {t} --rules {rules} -o {rules}", "also an input"),
    ("plot", "model_spec", "plot {t} --model {cfg} -o {cfg}", "also an input"),
    ("model", "spec", "model {cfg} -o {cfg}", "also an input"),
    ("model", "trace", "model Llama-3-8B --trace {t} -o {t}", "also an input"),
    ("gpus", "check", "gpus --check {t} -o {t}", "also an input"),
    ("report", "trace", "report {html} -o {html}", "also an input"),
    ("report", "timing", "report {t} --timing {html} -o {html}", "also an input"),
    ("report", "spec", "report {t} --model {cfghtml} -o {cfghtml}", "also an input"),
    ("report", "rules", "report {t} --rules {rules} -o {rules}", "also an input"),
    ("report", "trace", "report {fig} -o {md}", "r_phase.png is also an input"),
    ("report", "timing", "report {t} --timing {fig2} -o {md}", "r_op_phase.png is also an input"),
    ("whatif", "trace", "whatif {t} --gpu H200 -o {t}", "also an input"),
    ("whatif", "against", "whatif {t} --gpu H200 --against {t2} -o {t2}", "also an input"),
    ("whatif", "rules", "whatif {t} --gpu H200 --rules {rules} -o {rules}", "also an input"),
    ("diff", "a", "diff {t} {t2} -o {t}", "also an input"),
    ("diff", "b", "diff {t} {t2} --plot {t2}", "also an input"),
    ("diff", "repeat_a", "diff {t} {t2} --repeat-a {t3} -o {t3}", "also an input"),
    ("diff", "repeat_b", "diff {t} {t2} --repeat-b {t3} --plot {t3}", "also an input"),
    ("diff", "rules", "diff {t} {t2} --rules {rules} -o {rules}", "also an input"),
    ("diff", "", "diff {t} {t2} -o {png} --plot {png}", "are the same file"),
    ("latency", "trace", "latency {timing} -o {timing}", "also an input"),
    ("ranks", "dataset", "ranks {D} -o {dfile}", "is a file of the dataset"),
    ("convert", "inputs", "convert {t} {t2} -o {t2}", "also an input"),
    ("convert", "inputs", "convert {D} -o {dfile}", "is a file of the dataset"),
    ("convert", "rules", "convert {t} --rules {rules} -o {rules}", "also an input"),
    ("convert", "dataset", "convert {t} --dataset {D} -o {dfile}", "is a file of the dataset"),
    ("join", "timing", "join {timing} {t} -o {timing}", "also an input"),
    ("join", "counters", "join {timing} {t} -o {t}", "also an input"),
]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too: a temporary file left) and its SHA-256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def junk(tmp_path: Path) -> dict[str, Path]:
    """The files of :data:`JUNK`, each with bytes of its own, and the names of :data:`NEW`."""
    paths = {}
    for key, name in JUNK.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f"junk: {name}\n".encode() + os.urandom(64))
        paths[key] = p
    return {**paths, **{key: tmp_path / name for key, name in NEW.items()}}


# ------------------------------------------------------------------------ never over an input


@pytest.mark.parametrize(("command", "param", "line", "fragment"), CASES,
                         ids=[f"{c[0]}-{c[1] or 'outputs'}-{i}" for i, c in enumerate(CASES)])
def test_no_command_writes_over_one_of_its_inputs(junk: dict[str, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, command: str,
                                                  param: str, line: str, fragment: str) -> None:
    monkeypatch.chdir(tmp_path)  # where plot's default output goes
    before = snapshot(tmp_path)
    argv = [word.format(**{k: str(v) for k, v in junk.items()}) for word in line.split()]
    result = cli(*argv)
    assert result.exit_code == 2, result.output
    assert_one_clear_error(result.exit_code, result.output, fragment)
    assert snapshot(tmp_path) == before  # every input as it was; nothing written, nothing left


def test_every_file_option_of_every_writing_command_has_its_refusal_case() -> None:
    """The one rule covers the options a command will have: each command that writes a file,
    and each path it reads (arguments, --rules, --model, --timing, ...), has a case above."""
    covered = {(command, param) for command, param, _line, _fragment in CASES}
    wanted = set()
    for name, command in main.commands.items():
        names = {p.name for p in command.params}
        if not names & set(OUTPUTS) or name in ("record", "trace"):  # a name for outputs
            continue
        wanted |= {(name, p.name) for p in command.params if p.name not in OUTPUTS and (
            isinstance(p.type, click.Path) or p.name in MODELS)}
    assert wanted - covered == set()
    assert {c for c, _p in wanted} == {"summary", "plot", "model", "gpus", "report", "whatif",
                                       "diff", "latency", "ranks", "convert", "join"}


def test_the_same_file_by_other_spellings_is_refused(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text("{not json")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(cfg)
    monkeypatch.chdir(tmp_path / "sub")
    before = snapshot(tmp_path)
    for argv in (["model", "../cfg.json", "-o", str(cfg)],
                 ["model", str(cfg), "-o", "../link.json"],
                 ["summary", "x.parquet", "--model", str(link), "-o", "../cfg.json"]):
        result = cli(*argv)
        assert_one_clear_error(result.exit_code, result.output, "also an input")
    assert snapshot(tmp_path) == before


def test_a_model_preset_is_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`model Llama-3-8B -o Llama-3-8B`: the preset is not a file the command reads."""
    monkeypatch.chdir(tmp_path)
    result = cli("model", "Llama-3-8B", "--gpu", "H100", "--format", "json", "-o", "Llama-3-8B")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "Llama-3-8B").read_text().startswith("[")


# ------------------------------------------------------------------------ a set, or nothing


def test_a_markdown_report_over_a_folder_writes_no_figure(tmp_path: Path) -> None:
    """`report -o r.md` with r.md a folder: exit 4 before any work (the trace is junk), and
    no r_phase.png beside it (the page and its figures are one set)."""
    (tmp_path / "r.md").mkdir()
    trace = tmp_path / "t.parquet"
    trace.write_bytes(b"junk")
    before = snapshot(tmp_path)
    result = cli("report", trace, "-o", tmp_path / "r.md")
    assert_one_clear_error(result.exit_code, result.output, "r.md", "is a directory")
    assert result.exit_code == 4
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md", "t.parquet"]


def test_the_api_writes_no_figure_beside_a_page_it_cannot_write(tmp_path: Path) -> None:
    report = build(load_fixture("llama_small.ncu-rep"))
    (tmp_path / "r.md").mkdir()
    with pytest.raises(OutputError, match=r"r\.md: it is a directory"):
        report_page.write(report, tmp_path / "r.md")
    with pytest.raises(OutputError, match=r"folder .*missing does not exist"):
        report_page.write(report, tmp_path / "missing" / "r.md")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["r.md"]


@pytest.fixture(scope="module")
def small_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trace") / "small.parquet"
    assert cli("convert", FIXTURES / "llama_small.ncu-rep", "-o", out).exit_code == 0
    return out


def test_ctrl_c_between_figures_leaves_the_old_report_whole(
        tmp_path: Path, small_trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the first figure is drawn: the report written before (page and figures)
    is there as it was, and no temporary file is left."""
    for name in ("r.md", "r_phase.png", "r_op_phase.png"):
        (tmp_path / name).write_text(f"the report before: {name}")
    before = snapshot(tmp_path)
    real = report_page.draw
    drawn: list[str] = []

    def draw_then_interrupt(scene: Any, fh: Any, path: Any) -> None:
        if drawn:
            raise KeyboardInterrupt
        real(scene, fh, path)
        drawn.append(str(path))

    monkeypatch.setattr(report_page, "draw", draw_then_interrupt)
    result = cli("report", small_trace, "-o", tmp_path / "r.md")
    assert_one_clear_error(result.exit_code, result.output, "interrupted")
    assert result.exit_code == 130
    assert drawn == [str(tmp_path / "r_phase.png")]
    assert snapshot(tmp_path) == before


def test_diff_writes_its_table_and_its_plot_together(tmp_path: Path, small_trace: Path) -> None:
    """The table (-o) and the plot (--plot) are one set: a plot that cannot be written leaves
    no table, before any work where it can be told then (a folder, a missing folder)."""
    (tmp_path / "moves.png").mkdir()
    result = cli("diff", tmp_path / "junk_a", tmp_path / "junk_b", "-o", tmp_path / "d.json",
                 "--plot", tmp_path / "moves.png")
    assert_one_clear_error(result.exit_code, result.output, "moves.png", "is a directory")
    assert result.exit_code == 4
    result = cli("diff", small_trace, small_trace, "-o", tmp_path / "d.json",
                 "--plot", tmp_path / "missing" / "moves.png")
    assert_one_clear_error(result.exit_code, result.output, "folder", "does not exist")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["moves.png"]
    result = cli("diff", small_trace, small_trace, "-o", tmp_path / "missing" / "d.json",
                 "--plot", tmp_path / "m.png")
    assert_one_clear_error(result.exit_code, result.output, "d.json", "does not exist")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["moves.png"]  # no m.png


@pytest.mark.parametrize(("failure", "code", "fragment"), [
    (OSError(28, "No space left on device"), 4, "No space left on device"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_convert_rank_by_adds_every_rank_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 failure: BaseException, code: int,
                                                 fragment: str) -> None:
    """`convert --rank-by device` writes a file per rank: the second failing, the first does
    not appear either, and no temporary file is left in the dataset."""
    import pyarrow.parquet as pq

    real = pq.write_table
    calls: list[int] = []

    def write_then_fail(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise failure
        real(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", write_then_fail)
    dataset = tmp_path / "D"
    result = cli("convert", FIXTURES / "tp2_timing.parquet", "--dataset", dataset,
                 "--rank-by", "device")
    assert_one_clear_error(result.exit_code, result.output, fragment)
    assert result.exit_code == code
    assert len(calls) == 2
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    monkeypatch.setattr(pq, "write_table", real)
    result = cli("convert", FIXTURES / "tp2_timing.parquet", "--dataset", dataset,
                 "--rank-by", "device")
    assert result.exit_code == 0, result.output
    assert sorted(p.parent.name for p in dataset.rglob("*.parquet")) == ["rank=0", "rank=1"]


# ------------------------------------------------------------------- the set, file by file


def write_set(paths: list[Path], texts: list[bytes]) -> None:
    with atomic_outputs(paths) as handles:
        for fh, text in zip(handles, texts, strict=True):
            fh.write(text)


@pytest.fixture
def three(tmp_path: Path) -> list[Path]:
    """Three outputs: two that exist (a, b), one new (c)."""
    (tmp_path / "a").write_bytes(b"old a")
    (tmp_path / "b").write_bytes(b"old b")
    return [tmp_path / "a", tmp_path / "b", tmp_path / "c"]


def fail_on(call: int, error: BaseException, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real`` that raises ``error`` on its ``call``-th call instead."""
    calls: list[int] = []

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == call:
            raise error
        return real(*args, **kwargs)

    return wrapped


def test_a_set_is_written_whole(three: list[Path]) -> None:
    write_set(three, [b"new a", b"new b", b"new c"])
    assert [p.read_bytes() for p in three] == [b"new a", b"new b", b"new c"]
    assert sorted(p.name for p in three[0].parent.iterdir()) == ["a", "b", "c"]


@pytest.mark.parametrize("call", [1, 2, 3])
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_a_rename_failing_puts_back_the_files_renamed_before_it(
        three: list[Path], monkeypatch: pytest.MonkeyPatch, call: int,
        error: BaseException) -> None:
    folder = three[0].parent
    before = snapshot(folder)
    monkeypatch.setattr(os, "replace", fail_on(call, error, os.replace))
    with pytest.raises(OutputError if isinstance(error, OSError) else KeyboardInterrupt) as got:
        write_set(three, [b"new a", b"new b", b"new c"])
    if isinstance(error, OSError):
        assert str(got.value) == f"cannot write {three[call - 1]}: No space left on device"
    assert snapshot(folder) == before  # a and b as they were, no c, no temporary, no copy


def test_a_folder_that_cannot_be_written_stops_the_set_before_anything(
        three: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    folder = three[0].parent
    before = snapshot(folder)
    real = tempfile.mkstemp

    def refuse_b(*args: Any, **kwargs: Any) -> tuple[int, str]:
        if str(kwargs.get("prefix", "")).startswith(".b."):
            raise PermissionError(13, "Permission denied")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse_b)
    with pytest.raises(OutputError, match=f"^cannot write {re.escape(str(three[1]))}: "
                                          "Permission denied$"):
        write_set(three, [b"new a", b"new b", b"new c"])
    assert snapshot(folder) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder_stops_the_set_before_anything(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="ro/b: Permission denied"):
            write_set([tmp_path / "a", ro / "b"], [b"a", b"b"])
        assert sorted(p.name for p in tmp_path.rglob("*")) == ["ro"]
    finally:
        ro.chmod(0o755)


def test_an_error_in_the_block_leaves_nothing(three: list[Path]) -> None:
    folder = three[0].parent
    before = snapshot(folder)
    def half_way() -> None:
        with atomic_outputs(three) as handles:
            handles[0].write(b"new a")
            raise ValueError("half way")

    with pytest.raises(ValueError, match="half way"):
        half_way()
    assert snapshot(folder) == before


def test_one_output_twice_is_refused(three: list[Path]) -> None:
    with pytest.raises(OutputError, match="twice"):
        write_set([three[2], three[2]], [b"1", b"2"])
    assert not three[2].exists()


def test_an_output_set_holds_every_atomic_write_until_its_end(three: list[Path],
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    folder = three[0].parent
    with output_set():
        files.write_text(three[0], "set a")
        with output_set():  # a set inside a set: part of the outer one
            files.write_text(three[2], "set c")
        assert three[0].read_text() == "old a"
        assert not three[2].exists()
    assert [three[0].read_text(), three[2].read_text()] == ["set a", "set c"]
    before = snapshot(folder)
    def interrupted() -> None:
        with output_set():
            files.write_text(three[0], "lost a")
            files.write_text(three[1], "lost b")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert snapshot(folder) == before


# ----------------------------------------------------------------- user text in Markdown

#: names an NVTX range or an attribution rule can give: per phase, the op of its kernels
HOSTILE = {"decode": "<script>alert(1)</script>", "prefill": "<!-- hidden"}


def hostile_trace() -> Trace:
    """llama_small with its ops named as a hostile NVTX range or rule could name them, and its
    kernels named ``__init__``."""
    t = load_fixture("llama_small.ncu-rep")
    k = t.kernels.copy()
    k["op"] = pd.Series(text(k["phase"].astype(object).map(HOSTILE)), index=k.index)
    k["kernel"] = pd.Series(text(["__init__"] * len(k)), index=k.index)
    return Trace(kernels=k, meta=dict(t.meta))


def assert_text_only(markdown: str) -> None:
    """No raw HTML in the Markdown; the hostile names are there, shown as text."""
    assert re.search(r"<[A-Za-z/!?]", markdown) is None
    assert "&lt;script>alert(1)&lt;/script>" in markdown
    assert "&lt;!-- hidden" in markdown
    assert "\\_\\_init\\_\\_" in markdown


def test_user_text_renders_as_text_in_a_markdown_report(tmp_path: Path) -> None:
    trace = hostile_trace()
    report = build(trace)
    assert any(HOSTILE["decode"] in str(g) for g in report.ops["group"])  # the names got there
    assert_text_only(report_page.to_markdown(report))
    html = report_page.to_html(report)
    assert "<script" not in html
    assert "<!-- hidden" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    path = tmp_path / "hostile.parquet"
    trace.save(path)
    result = cli("report", path, "-o", tmp_path / "r.md")
    assert result.exit_code == 0, result.output
    assert_text_only((tmp_path / "r.md").read_text())


def test_figure_names_are_link_targets_whatever_the_report_is_called(tmp_path: Path) -> None:
    report = build(load_fixture("llama_small.ncu-rep"))
    names = [f.name for f in report_page.figure_names(tmp_path / "my (final) report.md", report)]
    text = report_page.to_markdown(report, names)
    assert "![roofline by phase](my%20%28final%29%20report_phase.png)" in text


def unescape(markdown: str) -> str:
    """The text a reader sees in :func:`report_page.md_text`'s output."""
    return re.sub(r"\\([\\*\[\]~_])|&lt;|&amp;",
                  lambda m: m.group(1) or {"&lt;": "<", "&amp;": "&"}[m.group(0)], markdown)


@BOUNDED
@given(st.text(max_size=40))
def test_md_text_shows_any_text_as_itself_on_one_line(text: str) -> None:
    out = report_page.md_text(text)
    assert re.search(r"<[A-Za-z/!?]", out) is None  # no tag, comment or declaration
    assert re.search(r"&(?!lt;|amp;)#?[A-Za-z0-9]+;", out) is None  # no entity
    bare = re.sub(r"\\\\", "", out)  # escaped backslashes out of the way
    assert re.search(r"(?<!\\)[*\[\]~]", bare) is None  # no emphasis, link, strikethrough
    assert re.search(r"(?<![\\A-Za-z0-9])_|(?<!\\)_(?![A-Za-z0-9])", bare) is None
    assert not re.search(r"[\n\r]", out)
    assert unescape(out) == re.sub(r"\s*[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+\s*", " ", text)


@BOUNDED
@given(st.one_of(st.from_regex(r"[A-Za-z0-9]+([_.\-/ ·×=][A-Za-z0-9]+)*", fullmatch=True),
                 st.sampled_from(["attention_other", "rank <= 1", "norm · prefill",
                                  "model.layers.0/self_attn", "fixtures/llama_annotated.ncu-rep"])))
def test_md_text_leaves_plain_names_as_they_are(name: str) -> None:
    """What clean inputs hold (attention_other, model.layers.0, rank <= 1): unchanged, so the
    report of a clean trace is what it was."""
    assert report_page.md_text(name) == name
