"""The Python API and the command line cannot disagree: for every command, what the CLI writes
(as JSON, or the file it writes) is what the application function returns on the same input,
rendered by the same view (issue 23)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import roofprof
from roofprof.app.convert import convert
from roofprof.app.diff import diff
from roofprof.app.gpus import gpus
from roofprof.app.join import join
from roofprof.app.latency import latency
from roofprof.app.model import model
from roofprof.app.ranks import ranks
from roofprof.app.report import report
from roofprof.app.summary import summary
from roofprof.app.whatif import whatif
from roofprof.cli import main
from roofprof.datasets.write import append
from roofprof.errors import RoofprofWarning
from roofprof.inputs.load import load
from roofprof.views import catalog, report_page, tables
from tests.conftest import FIXTURES, ROOT

ANNOTATED = FIXTURES / "llama_annotated.ncu-rep"
H200 = FIXTURES / "h200_llama_annotated.ncu-rep"
CONFIG = ROOT / "tests" / "data" / "llama_large_config.json"
TIMING = FIXTURES / "llama_sample.timing.parquet"
SAMPLED = FIXTURES / "llama_sample.ncu-rep"


def cli_json(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def as_json(df: pd.DataFrame) -> Any:
    return json.loads(tables.to_json(df))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fleet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        for rank, f in enumerate((ANNOTATED, ANNOTATED, H200)):
            append([f], d, run="r1", host=f"n{rank // 2}", rank=rank)
    return d


@pytest.mark.parametrize(("args", "kwargs"), [
    (["--by", "phase"], {"by": "phase"}),
    (["--by", "op,phase", "--filter", "decode", "--top", "4"],
     {"by": "op,phase", "filter": "decode", "top": 4}),
    (["--by", "category", "--level", "l2"], {"by": "category", "level": "l2"}),
    (["--model", CONFIG, "--batch", "2", "--prompt", "1024", "--logits", "all"],
     {"model": CONFIG, "batch": 2, "prompt": 1024, "logits": "all"}),
])
def test_summary(args: list[Any], kwargs: dict[str, Any]) -> None:
    got = cli_json("summary", ANNOTATED, *args, "--format", "json")
    assert got == as_json(summary([ANNOTATED], **kwargs).table)
    assert got == as_json(roofprof.summary(ANNOTATED, **kwargs))
    by_trace = roofprof.summary(load(ANNOTATED), **kwargs)  # a trace in memory: the same
    assert got == as_json(by_trace)


def test_summary_of_a_dataset_out_of_core(fleet: Path) -> None:
    got = cli_json("summary", fleet, "--by", "rank,phase", "--where", "rank >= 1",
                   "--format", "json")
    assert got == as_json(summary(fleet, by="rank,phase", where="rank >= 1").table)


def test_summary_of_the_launches_with_counters(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        join(TIMING, SAMPLED, tmp_path / "joined.parquet")
        got = cli_json("summary", tmp_path / "joined.parquet", "--by", "phase",
                       "--with-counters", "--format", "json")
        result = summary(tmp_path / "joined.parquet", by="phase", with_counters=True)
    assert got == as_json(result.table)
    assert "time_with_counters" in result.table


def test_gpus() -> None:
    assert cli_json("gpus", "--format", "json") == as_json(gpus().table)
    entry = gpus("H100")
    assert entry.gpu is not None
    assert cli_json("gpus", "H100", "--format", "json") == json.loads(
        catalog.entry_json(entry.gpu))
    assert cli_json("gpus", "--check", ANNOTATED, "--format", "json") == \
        as_json(gpus(check=ANNOTATED).table)


def test_model() -> None:
    got = cli_json("model", "Llama-3-8B", "--gpu", "H100", "--batch", "32", "--prompt",
                   "1024", "--phase", "decode", "--format", "json")
    assert got == as_json(model("Llama-3-8B", gpu="H100", batch=32, prompt=1024,
                                phases=("decode",)).table)
    got = cli_json("model", CONFIG, "--trace", ANNOTATED, "--batch", "2", "--prompt", "1024",
                   "--format", "json")
    assert got == as_json(model(CONFIG, trace=ANNOTATED, batch=2, prompt=1024).table)


def test_whatif() -> None:
    got = cli_json("whatif", ANNOTATED, "--gpu", "H200", "--against", H200, "--format", "json")
    assert got == as_json(whatif(ANNOTATED, "H200", against=H200).table)


def test_diff() -> None:
    a, b = FIXTURES / "batch_1.ncu-rep", FIXTURES / "batch_4.ncu-rep"
    got = cli_json("diff", a, b, "--by", "op", "--noise", "2%", "--format", "json")
    assert got == as_json(diff(a, b, by="op", noise="2%").table)


def test_latency() -> None:
    got = cli_json("latency", TIMING, "--range", "^(prefill|decode)$", "--format", "json")
    result = latency(TIMING, ranges=["^(prefill|decode)$"])
    assert got["percentiles"] == as_json(result.table)
    assert len(got["instances"]) == len(result.instances)


def test_ranks(fleet: Path) -> None:
    for view in ("rank", "spread"):
        got = cli_json("ranks", fleet, "--view", view, "--format", "json")
        assert got == as_json(ranks(fleet, view=view))


def test_convert_and_join(tmp_path: Path, fleet: Path) -> None:
    CliRunner().invoke(main, ["convert", str(fleet), "--where", "rank = 2", "-o",
                              str(tmp_path / "cli.parquet")])
    convert([fleet], tmp_path / "api.parquet", where="rank = 2")
    pd.testing.assert_frame_equal(load(tmp_path / "cli.parquet").kernels,
                                  load(tmp_path / "api.parquet").kernels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        r = CliRunner().invoke(main, ["join", str(TIMING), str(SAMPLED), "-o",
                                      str(tmp_path / "cli_joined.parquet")])
        assert r.exit_code == 0, r.output
        join(TIMING, SAMPLED, tmp_path / "api_joined.parquet")
        pd.testing.assert_frame_equal(load(tmp_path / "cli_joined.parquet").kernels,
                                      load(tmp_path / "api_joined.parquet").kernels)


def test_report(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["report", str(ANNOTATED), "-o", str(tmp_path / "r.md"),
                                  "--model", str(CONFIG), "--batch", "2", "--prompt", "1024"])
    assert r.exit_code == 0, r.output
    built = report(ANNOTATED, model=CONFIG, batch=2, prompt=1024)
    figures = [f.name for f in report_page.figure_names(tmp_path / "r.md", built)]
    assert (tmp_path / "r.md").read_text() == report_page.to_markdown(built, figures)


def test_report_takes_summarys_options(tmp_path: Path) -> None:
    """--filter, --rules and the modelled run's options (--weight-dtype) mean what they mean for
    summary, and the CLI writes what the API builds."""
    rules = tmp_path / "spec.toml"
    rules.write_text("[[phase]]\nmatch = '^decode$'\nphase = 'spec'\n")
    r = CliRunner().invoke(main, ["report", str(ANNOTATED), "-o", str(tmp_path / "r.md"),
                                  "--filter", "_proj$", "--rules", str(rules), "--model",
                                  str(CONFIG), "--batch", "2", "--prompt", "1024",
                                  "--weight-dtype", "fp8"])
    assert r.exit_code == 0, r.output
    built = report(ANNOTATED, filter="_proj$", rules=rules, model=CONFIG, batch=2, prompt=1024,
                   weight_dtype="fp8")
    figures = [f.name for f in report_page.figure_names(tmp_path / "r.md", built)]
    assert (tmp_path / "r.md").read_text() == report_page.to_markdown(built, figures)
    assert set(built.phases["group"]) == {"prefill", "spec"}
    assert "; only the kernels matching --filter '_proj$': " in built.scope[0]


def test_report_with_counters(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        join(TIMING, SAMPLED, tmp_path / "joined.parquet")
        r = CliRunner().invoke(main, ["report", str(tmp_path / "joined.parquet"), "-o",
                                      str(tmp_path / "r.html"), "--with-counters"])
        assert r.exit_code == 0, r.output
        built = report(tmp_path / "joined.parquet", with_counters=True)
    assert (tmp_path / "r.html").read_text() == report_page.to_html(built)
    assert built.scope[0].startswith("filtered trace: only the launches with counters")
