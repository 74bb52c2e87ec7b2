"""A sampled trace (ncu --per-config) says in every view that its shares are of samples."""

from __future__ import annotations

import copy
from pathlib import Path

from click.testing import CliRunner

from roofprof.cli import main
from roofprof.tables.kernels import Trace
from roofprof.tables.sampling import from_ncu_argv
from roofprof.views.chart import build_scene
from tests.conftest import FIXTURES, load_fixture


def _sampled(tmp_path: Path) -> Path:
    shared = load_fixture("llama_annotated.ncu-rep")  # cached for every test: copy it
    trace = Trace(shared.kernels.copy(), copy.deepcopy(shared.meta))
    trace.meta["sampling"] = from_ncu_argv(
        ["ncu", "--filter-mode", "per-launch-config", "--launch-count", "1", "python", "x.py"])
    return trace.save(tmp_path / "sampled.parquet")


def test_summary_table_json_and_plot_say_the_trace_is_sampled(tmp_path: Path) -> None:
    path = _sampled(tmp_path)
    table = CliRunner().invoke(main, ["summary", str(path), "--by", "phase"])
    assert table.exit_code == 0, table.output
    assert "note: sampled trace: time shares are of the profiled launches" in table.output
    js = CliRunner().invoke(main, ["summary", str(path), "--by", "phase", "--format", "json"])
    assert js.exit_code == 0
    assert "roofprof: warning: sampled trace" in js.output
    from roofprof.inputs.load import load

    scene = build_scene(load(path), by="phase")
    assert any(s.startswith("SAMPLED") for s in scene.subtitle)


def test_a_whole_run_says_nothing_of_the_kind() -> None:
    scene = build_scene(load_fixture("llama_annotated.ncu-rep"), by="phase")
    assert not any(s.startswith("SAMPLED") for s in scene.subtitle)


def test_a_raw_per_config_report_reads_as_sampled_and_a_filtered_one_says_which_kernels(
        ) -> None:
    """The ncu command line a report keeps decides, with no roofprof metadata: the bundled
    record --sample counters (--per-config 1) and a recording inside NVTX ranges."""
    sampled = load_fixture("llama_sample.ncu-rep")
    assert sampled.meta["sampling"]["kind"] == "sample"
    assert any(s.startswith("SAMPLED") for s in build_scene(sampled, by="phase").subtitle)
    table = CliRunner().invoke(main, ["summary", str(FIXTURES / "llama_sample.ncu-rep")])
    assert "note: sampled trace" in table.output
    wide = build_scene(load_fixture("known_work.ncu-rep"), by="range").subtitle
    note = next(s for s in wide if s.startswith("filtered: only kernels inside NVTX ranges"))
    assert len(note) <= 100  # ten range names: cut short to stay one subtitle line
    assert note.endswith("…")
