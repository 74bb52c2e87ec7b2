"""The model beside the measurement: ``summary --model`` (measured/model ratios per op and
phase) and ``plot --model`` (a hollow model point beside each measured op · phase), on the
bundled H100 recordings of examples/_llama.py's LARGE and SMALL models."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from roofprof.analysis import model
from roofprof.analysis import roofline as rl
from roofprof.analysis.model.compare import (
    MODEL_COLUMNS,
    against,
    compare,
    fitted,
    summarize_beside,
)
from roofprof.cli import main
from roofprof.errors import UsageError
from roofprof.views.chart.html import to_html
from roofprof.views.chart.overlay import NOTE
from roofprof.views.chart.scene import build
from roofprof.views.chart.static import render
from tests import _browser, _readme
from tests.conftest import FIXTURES, ROOT, load_fixture

LARGE = str(ROOT / "tests" / "data" / "llama_large_config.json")
SMALL = str(ROOT / "tests" / "data" / "llama_small_config.json")
ANNOTATED = str(FIXTURES / "llama_annotated.ncu-rep")
BATCH_1 = str(FIXTURES / "batch_1.ncu-rep")
#: the run of llama_annotated: batch 2, 1024-token prompt, a plain HF forward (all logits)
RUN = ["--batch", "2", "--prompt", "1024", "--logits", "all"]
PROJECTIONS = ("qkv_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def large_model() -> tuple[model.Architecture, model.Options]:
    return model.architecture(LARGE), model.Options(batch=2, prompt=1024, logits="all")


# -------------------------------------------------------------------------------- summary


def test_summary_beside_the_model_gives_each_group_its_ratios() -> None:
    trace = load_fixture("llama_annotated.ncu-rep")
    groups, cmp = summarize_beside(trace, *large_model())
    by_name = groups.set_index("group")
    # the groups are the summary's own (op x phase), numbers untouched
    plain = rl.summarize(trace, by="op,phase").set_index("group")
    assert list(groups["group"]) == list(plain.index)
    assert np.allclose(by_name["work_per_s"], plain["work_per_s"], equal_nan=True)
    for op in PROJECTIONS:
        assert by_name.loc[f"{op} · prefill", "flop_ratio"] == pytest.approx(1.0, abs=0.03)
    # o_proj prefill: 2 x (2 x 1024 tokens) x 2048 x 2048, exactly what the GPU executed
    assert by_name.loc["o_proj · prefill", "model_flop"] == 2 * 2048 * 2048 * 2048
    assert by_name.loc["o_proj · prefill", "flop_ratio"] == 1.0
    # groups the model does not describe get nulls, never zeros
    for col in MODEL_COLUMNS:
        assert math.isnan(by_name.loc["attention_other · prefill", col])
    # the comparison rows are those of the groups, in the summary's order
    names = [f"{op} · {phase}" for phase, op in zip(cmp["phase"], cmp["op"], strict=True)]
    assert names == [g for g in groups["group"] if g in set(names)]


def test_summary_beside_the_model_refuses_groups_it_cannot_match() -> None:
    trace = load_fixture("llama_annotated.ncu-rep")
    with pytest.raises(UsageError, match="group by op,phase"):
        summarize_beside(trace, *large_model(), by="range")
    groups, _ = summarize_beside(trace, *large_model(), by="phase,op")
    assert "prefill · o_proj" in set(groups["group"])


def test_cli_summary_model_prefill_projections_and_batch1_padding() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["summary", ANNOTATED, "--model", LARGE, *RUN,
                               "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {r["group"]: r for r in json.loads(out.stdout)}
    for op in PROJECTIONS:
        assert rows[f"{op} · prefill"]["flop_ratio"] == pytest.approx(1.0, abs=0.03), op
    assert rows["o_proj · decode"]["flop_ratio"] == 4.0   # two rows padded to 8
    assert rows["layer · decode"]["flop_ratio"] is None
    table = runner.invoke(main, ["summary", ANNOTATED, "--model", LARGE, *RUN])
    assert table.exit_code == 0, table.output
    assert "MODEL ESTIMATE" in table.stdout
    assert re.search(r"^prefill +o_proj +1 +17\.2 G +17\.2 G +1\.00x ", table.stdout, re.M)
    # batch 1 (no module ranges: by category): the GEMMs execute 19x their useful work
    small = runner.invoke(main, ["summary", BATCH_1, "--model", SMALL, "--batch", "1",
                                 "--prompt", "128"])
    assert small.exit_code == 0, small.output
    useful = 2 * (512 * (512 + 2 * 128) + 512 * 512 + 3 * 512 * 1344 + 512 * 8000)
    ratio = 263_262_208 / useful
    assert ratio > 8
    assert re.search(rf"^decode +gemm +9 .* {ratio:.2f}x ", small.stdout, re.M)


def test_an_eager_trace_is_modelled_with_eager_attention() -> None:
    """llama_eager runs Q.K^T, softmax and P.V as kernels of their own: a fused model has no
    row beside them, so the views model attention eagerly; the full masked rectangle is then
    2x the causal triangle's useful work (128 x 128 against 128 x 129 / 2 scores)."""
    trace = load_fixture("llama_eager.ncu-rep")
    options = model.Options(batch=4, prompt=128)
    assert fitted(trace.kernels, options).attention == "eager"
    assert fitted(load_fixture("llama_annotated.ncu-rep").kernels, options) is options
    groups, _ = summarize_beside(trace, model.architecture(SMALL),
                                 fitted(trace.kernels, options))
    qk = groups.set_index("group").loc["attention_qk · prefill"]
    assert qk["flop_ratio"] == pytest.approx(128 * 128 / (128 * 129 / 2))


@pytest.mark.parametrize(("argv", "message"), [
    (["summary", ANNOTATED, "--batch", "2"], "--batch describes the modelled run"),
    (["summary", ANNOTATED, ANNOTATED, "--model", LARGE], "one trace"),
    (["summary", ANNOTATED, "--model", LARGE, "--by", "range"], "group by op,phase"),
    (["summary", ANNOTATED, "--model", "GPT-5"], "neither a preset"),
    (["plot", ANNOTATED, "--model", LARGE, "--level", "l2"], "DRAM bytes"),
    (["plot", "--sweep", BATCH_1, BATCH_1, "--model", SMALL], "beside one trace"),
    (["plot", ANNOTATED, "--prompt", "1024"], "--prompt describes the modelled run"),
])
def test_cli_model_errors_are_one_line(argv: list[str], message: str, tmp_path: Path) -> None:
    if argv[0] == "plot":
        argv = [*argv, "-o", str(tmp_path / "x.png")]
    out = CliRunner().invoke(main, argv)
    assert out.exit_code == 2, out.output
    assert message in out.output
    assert "Traceback" not in out.output


# ----------------------------------------------------------------------------------- plot


def test_the_scene_has_a_model_point_beside_each_modelled_group() -> None:
    trace = load_fixture("llama_annotated.ncu-rep")
    arch, options = large_model()
    modelled = against(trace.kernels, arch, options)
    scene = build(trace, by="op,phase", model=modelled, model_label="LARGE")
    cmp = compare(trace.kernels, modelled)
    expected = {f"{op} · {phase}" for op, phase, f in
                zip(cmp["op"], cmp["phase"], cmp["model_flop"], strict=True) if f > 0}
    points = {m.name: m for m in scene.models}
    assert set(points) == expected
    assert "embed · prefill" not in points   # no FLOPs: nothing to place on a log axis
    # o_proj prefill by hand: 17.2 GFLOP over weights + input + output, 3 x 2048 x 2048 x 2 B
    o = points["o_proj · prefill"]
    assert o.x == pytest.approx(2 * 2048**3 / (3 * 2048 * 2048 * 2))
    # at the roofs it was timed at: the slower of compute and memory
    roofs = model.roofs_of_trace(trace.kernels)
    assert o.y == pytest.approx(min(roofs["tensor_bf16"], o.x * roofs["dram"]))
    # the dotted line ends at the measured group: the summary's intensity and achieved rate
    summary = rl.summarize(trace, by="op,phase").set_index("group")
    for m in scene.models:
        assert m.colour == scene.group_colours[m.group]
        assert m.measured is not None
        assert m.measured[0] == pytest.approx(summary.loc[m.name, "ai"])
        assert m.measured[1] == pytest.approx(summary.loc[m.name, "work_per_s"])
    assert f"{NOTE}: LARGE" in scene.notes
    (x0, x1), (y0, y1) = scene.xlim, scene.ylim
    assert all(x0 < m.x < x1 and y0 < m.y < y1 for m in scene.models)
    # without a model: no points, no note
    assert not build(trace, by="op,phase").models


def test_batch1_model_points_sit_far_left_of_the_padded_gemms() -> None:
    trace = load_fixture("batch_1.ncu-rep")
    modelled = against(trace.kernels, model.architecture(SMALL), model.Options(prompt=128))
    scene = build(trace, by="category,phase", model=modelled)
    gemm = next(m for m in scene.models if m.name == "gemm · decode")
    assert gemm.measured is not None
    # padding: the GPU did 19x the work on about the model's bytes, so 19x the intensity
    assert gemm.measured[0] / gemm.x == pytest.approx(
        gemm.numbers["flop_ratio"] / gemm.numbers["bytes_ratio"])
    assert gemm.measured[0] / gemm.x > 8


def test_model_points_are_drawn_hollow_and_hovered_in_html() -> None:
    trace = load_fixture("batch_1.ncu-rep")
    modelled = against(trace.kernels, model.architecture(SMALL), model.Options(prompt=128))
    scene = build(trace, by="category,phase", model=modelled)
    d = render(scene)
    assert len(d.models) == len(scene.models) > 0
    for gid in d.models:
        coll = next(c for c in d.ax.collections if c.get_gid() == gid)
        assert coll.get_facecolors().size == 0 or coll.get_facecolors()[0][3] == 0   # hollow
    legend = [t.get_text() for lg in (*d.ax.artists, d.ax.get_legend()) if lg is not None
              for t in lg.get_texts()]
    assert any(t.startswith("model (analytic estimate)") for t in legend)
    page = to_html(scene)
    assert '"models":{"model-0":0' in page
    assert "MODEL ESTIMATE, not measured" in page


def test_model_points_carry_their_numbers_in_headless_chromium(tmp_path: Path) -> None:
    trace = load_fixture("llama_annotated.ncu-rep")
    scene = build(trace, by="op,phase", model=against(trace.kernels, *large_model()))
    page = tmp_path / "model.html"
    page.write_text(to_html(scene))
    dom, err = _browser.dump_dom(page, tmp_path / "profile")
    assert 'data-ready="1"' in dom, err[-2000:]
    shown = {int(i) for i in re.findall(r'data-model="(\d+)"', dom)}
    assert shown == set(range(len(scene.models)))


def test_cli_plot_model(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["plot", ANNOTATED, "--model", LARGE, *RUN, "-o",
                                    str(tmp_path / "m.html")])
    assert out.exit_code == 0, out.output
    page = (tmp_path / "m.html").read_text()
    assert "data-model" in page
    assert "o_proj · prefill" in page


def test_the_readme_shows_real_output() -> None:
    assert _readme.check("summary") >= 2
