"""``roofprof report``: the content (every diagnosis sentence filled from the trace's numbers),
the Markdown and the HTML as a headless Chromium builds it, on the real H100 Llama fixtures."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from roofprof.analysis import report
from roofprof.analysis import roofline as rl
from roofprof.analysis.model import Architecture, Options
from roofprof.app.common import model_of
from roofprof.app.report import timing_of
from roofprof.cli import main
from roofprof.errors import UsageError
from roofprof.inputs.timing import load_timing
from roofprof.views import diagnosis
from roofprof.views import report_page as report_view
from roofprof.views.fmt import duration, intensity, pct
from roofprof.views.report import build
from tests import _browser
from tests.conftest import FIXTURES, load_fixture
from tests.test_model import LARGE

ANNOTATED = FIXTURES / "llama_annotated.ncu-rep"


def _modelled(**run: object) -> tuple[Architecture, Options]:
    """The architecture of tests/data/llama_large_config.json run as given."""
    modelled = model_of(LARGE, run)
    assert modelled is not None
    return modelled


@pytest.fixture(scope="module")
def built() -> report.Report:
    return build(load_fixture("llama_annotated.ncu-rep"))


def _phase_sentence(r: report.Report, phase: str) -> diagnosis.Sentence:
    [s] = [s for s in r.diagnosis if s.source == f"phase {phase}"]
    return s


def test_verdict_per_phase_names_the_summary_numbers(built: report.Report) -> None:
    phases = rl.summarize(load_fixture("llama_annotated.ncu-rep"), by="phase").set_index("group")
    assert list(built.phases["group"]) == ["prefill", "decode"]
    pre, dec = _phase_sentence(built, "prefill"), _phase_sentence(built, "decode")
    assert pre.kind == "verdict:compute"
    assert dec.kind == "verdict:latency"
    for s, name in ((pre, "prefill"), (dec, "decode")):
        row = phases.loc[name]
        for key in ("time_share", "pct_of_roof", "pct_of_peak_compute", "headroom_ns"):
            assert s.values[key] == pytest.approx(float(row[key])), key
        assert pct(row["time_share"]) in s.text
        assert pct(row["pct_of_roof"]) in s.text
        assert duration(row["headroom_ns"]) in s.text or name == "decode"
    # the shares a person can add up from the kernel table
    k = load_fixture("llama_annotated.ncu-rep").kernels
    share = k.loc[k["phase"] == "prefill", "duration_ns"].sum() / k["duration_ns"].sum()
    assert pre.values["time_share"] == pytest.approx(share)
    assert "34.4% of peak BF16 tensor compute" in pre.text
    assert f"{pct(dec.values['latency_share'])} of its time" in dec.text
    assert "2 µs launch floor" in dec.text  # LAUNCH_FLOOR_NS, not a literal
    assert rl.LAUNCH_FLOOR_NS == 2000.0


def test_fusion_candidates_follow_the_thresholds(built: report.Report) -> None:
    k = load_fixture("llama_annotated.ncu-rep").kernels
    fusion = {s.source.removeprefix("op "): s for s in built.diagnosis if s.kind == "fusion"}
    assert "norm · prefill" in fusion
    norm = fusion["norm · prefill"]
    # norms' share of prefill, from the kernel table by hand
    pre = k[k["phase"] == "prefill"]
    want = pre.loc[pre["op"] == "norm", "duration_ns"].sum() / pre["duration_ns"].sum()
    assert norm.values["phase_share"] == pytest.approx(want)
    assert norm.text.startswith(f"norm takes {pct(want)} of prefill at 0.64% of peak compute")
    # exactly the groups the rule selects, none other
    phase_time = built.phases.set_index("group")["time_ns"]
    expected = set()
    for r in built.ops.to_dict("records"):
        phase = r["group"].rpartition(" · ")[2]
        if (r["time_ns"] / phase_time[phase] >= diagnosis.FUSION_MIN_PHASE_SHARE
                and r["pct_of_peak_compute"] <= diagnosis.FUSION_MAX_PEAK_COMPUTE
                and r["bound"] in ("memory", "latency")):
            expected.add(r["group"])
    assert set(fusion) == expected
    assert "lm_head · prefill" not in fusion  # compute-bound at 83% of peak


def test_sentences_come_from_the_trace_not_the_fixture() -> None:
    """The eager prefill-only capture gets its own verdict and no decode sentence."""
    r = build(load_fixture("llama_eager.ncu-rep"))
    summary = rl.summarize(load_fixture("llama_eager.ncu-rep"), by="phase")
    verdicts = [s for s in r.diagnosis if s.kind.startswith("verdict")]
    assert [s.source for s in verdicts] == [f"phase {g}" for g in summary["group"]]
    assert [s.kind for s in verdicts] == [f"verdict:{b}" for b in summary["bound"]]
    assert not any("decode" in s.source for s in r.diagnosis)


def test_headroom_and_ceilings(built: report.Report) -> None:
    top = rl.top_kernels(load_fixture("llama_annotated.ncu-rep"), report.TOP_KERNELS)
    pd.testing.assert_frame_equal(built.top, top)
    [s] = [s for s in built.diagnosis if s.kind == "headroom"]
    assert s.values["headroom_ns"] == pytest.approx(top["headroom_ns"].iloc[0])
    assert s.text.startswith("The kernel with the most headroom is cudnn_generated")
    c = built.ceilings.set_index("quantity")
    k = load_fixture("llama_annotated.ncu-rep").kernels
    assert c.loc["DRAM bandwidth", "measured_max"] == k["peak_dram_bytes_per_s"].max()
    assert c.loc["DRAM bandwidth", "catalog"] == pytest.approx(3.35e12)  # H100 SXM datasheet
    assert c.loc["BF16 tensor", "measured_min"] == k["peak_flop_per_s_tensor_bf16"].min()


def test_model_comparison_names_the_padded_decode_gemms() -> None:
    trace = load_fixture("llama_annotated.ncu-rep")
    cmp = report.model_comparison(trace.kernels, *_modelled(batch=2, prompt=1024, logits="all"))
    r = build(trace, comparison=cmp)
    padding = {s.source.removeprefix("model "): s for s in r.diagnosis if s.kind == "padding"}
    # cuBLAS pads decode's 2 rows to 8: o_proj executes exactly 4x its useful FLOPs
    assert padding["decode · o_proj"].values["flop_ratio"] == 4.0
    assert "In decode, o_proj executes 4.00× the model's useful FLOPs" in \
        padding["decode · o_proj"].text
    assert not any(p.startswith("prefill · ") and p.endswith("_proj") for p in padding)
    assert all(s.values["flop_ratio"] >= diagnosis.PADDING_MIN_RATIO for s in padding.values())
    assert "decode · norm" not in padding  # elementwise ops count FLOPs differently


def test_latency_section_from_a_timing_trace() -> None:
    timing = load_timing(FIXTURES / "llama_kineto.json.gz")
    r = build(load_fixture("llama_annotated.ncu-rep"), timing=timing)
    assert r.latency is not None
    lat = r.latency.set_index("range")
    assert set(lat.index) == {"prefill", "decode"}
    assert lat.loc["decode", "instances"] == 3  # three decode steps in the fixture
    [s] = [s for s in r.diagnosis if s.source == "range decode"]
    assert s.values["wall_p50_ns"] == lat.loc["decode", "wall_p50_ns"]
    assert duration(lat.loc["decode", "wall_p99_ns"]) in s.text


def test_markdown_report_with_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    res = CliRunner().invoke(main, ["report", str(ANNOTATED), "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert re.search(r"^\| prefill \| [^|]+ \| 75\.6% \| compute \| 49\.4% \|", text, re.M)
    assert re.search(r"^\| decode \| [^|]+ \| 24\.4% \| latency \| 14\.2% \|", text, re.M)
    for name in ("r_phase.png", "r_op_phase.png"):
        assert f"]({name})" in text
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "norm takes 28.1% of prefill" in text
    assert "## Op × phase (DRAM)" in text
    assert "| norm · prefill | 24 |" in text


def test_bad_suffix_and_counters_as_timing_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="suffix"):
        report_view.format_of(tmp_path / "r.txt")
    res = CliRunner().invoke(main, ["report", str(ANNOTATED), "-o", str(tmp_path / "r.txt")])
    assert res.exit_code == 2
    assert "use a .html or .md suffix" in res.output
    res = CliRunner().invoke(main, ["report", str(ANNOTATED), "-o", str(tmp_path / "r.html"),
                                    "--timing", str(ANNOTATED)])
    assert res.exit_code == 2
    assert "timing" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "r.html").exists()


def test_html_report_in_headless_chromium(tmp_path: Path) -> None:
    """The page as a browser builds it, offline: the verdict table comes first, the figures
    are inline SVG, nothing is fetched from elsewhere."""
    _browser.chromium()
    page = tmp_path / "r.html"
    res = CliRunner().invoke(main, ["report", str(ANNOTATED), "-o", str(page)])
    assert res.exit_code == 0, res.output
    html = page.read_text()
    assert not re.search(r"<(script|link|img|iframe)\b", html)  # nothing to load
    assert "@import" not in html
    assert not re.search(r"url\((?!#)", html)
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # the two figures' clip paths and markers stay apart
    dom, err = _browser.dump_dom(page, tmp_path / "profile")
    assert "<table id=\"verdicts\">" in dom, err[-2000:]
    table = dom[dom.index("<table id=\"verdicts\">"):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows[1:]]
    assert [(c[0], c[3]) for c in cells] == [("prefill", "compute"), ("decode", "latency")]
    # first screen: the title and the verdicts before any figure or other section
    assert dom.index("id=\"verdicts\"") < dom.index("<svg") < dom.index("id=\"ceilings\"")
    assert dom.index("id=\"verdicts\"") < dom.index("<h2>")
    assert dom.count("<svg") == 2


def test_the_readmes_report_samples_are_real_output(tmp_path: Path) -> None:
    import shlex

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    blocks = re.findall(r"```\n\$ (roofprof report [^\n]*)\n(.*?)```", readme, re.S)
    assert len(blocks) == 2
    for command, block in blocks:
        argv = [str(root / a) if a.startswith(("fixtures/", "tests/")) else a
                for a in shlex.split(command)[1:]]
        argv[argv.index("-o") + 1] = str(tmp_path / "report.md")
        res = CliRunner().invoke(main, argv)
        assert res.exit_code == 0, res.output
        text = (tmp_path / "report.md").read_text()
        lines = [ln for ln in block.splitlines() if ln.strip()]
        assert len(lines) >= 5
        for line in lines:
            assert line in text, line


def test_decode_options_quantify_batching_and_narrower_numbers() -> None:
    trace = load_fixture("llama_annotated.ncu-rep")
    opts = report.decode_options(trace.kernels, *_modelled(batch=2, prompt=1024))
    rows = opts.set_index("variant")
    base = rows.loc["as run"]
    # bf16 weights of the GEMMs and lm_head: 2 bytes x (q/k/v + o + gate/up/down + lm_head)
    gemm_params = 2048 * (2048 + 2 * 512) + 2048 * 2048 + 3 * 2048 * 5440 + 8000 * 2048
    assert base["weight_bytes"] == pytest.approx(2 * gemm_params, rel=1e-3)
    # K and V of 1 layer, 4 heads x 128, bf16, 2 sequences x ~1024 cached tokens
    assert base["kv_bytes"] == pytest.approx(2 * 4 * 128 * 2 * 2 * 1024, rel=0.01)
    assert [rows.loc[f"batch x{f}", "batch"] for f in report.BATCH_FACTORS] == [8, 32]
    # fp8 halves the layers' GEMM weights; lm_head stays bf16 (the model's default)
    lm_head = 8000 * 2048
    assert rows.loc["fp8 weights", "weight_bytes"] == pytest.approx(
        (gemm_params - lm_head) + 2 * lm_head, rel=1e-3)
    for r in opts.to_dict("records"):
        assert r["tokens_per_s"] == pytest.approx(r["batch"] / r["time_s"])
    built = build(trace, options=opts)
    sentences = {s.source: s for s in built.diagnosis if s.kind == "option"}
    x4 = sentences["model decode batch x4"]
    assert x4.values["gain"] == pytest.approx(
        rows.loc["batch x4", "tokens_per_s"] / base["tokens_per_s"])
    assert f"{x4.values['gain']:.2f}× the tokens/s" in x4.text


def test_cli_with_a_model_config_and_timing(tmp_path: Path) -> None:
    cfg = Path(__file__).resolve().parent / "data" / "llama_large_config.json"
    out = tmp_path / "r.md"
    res = CliRunner().invoke(main, [
        "report", str(ANNOTATED), "-o", str(out), "--model", str(cfg), "--batch", "2",
        "--prompt", "1024", "--logits", "all", "--timing",
        str(FIXTURES / "llama_kineto.json.gz")])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "## Measured beside the model" in text
    assert "| decode | o_proj | 67.1 M | 16.8 M | 4.00 |" in text  # padded 2 rows -> 8
    assert "## Decode options (model, at the measured roofs)" in text
    assert "## Latency percentiles" in text
    assert "In decode, o_proj executes 4.00× the model's useful FLOPs" in text
    assert "no model comparison" not in text


def test_a_timing_trace_brings_its_own_latency_section(tmp_path: Path) -> None:
    out = tmp_path / "k.md"
    res = CliRunner().invoke(main, ["report", str(FIXTURES / "llama_kineto.json.gz"),
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "a timing trace (every launch timed, no counters)" in res.output  # said, once
    text = out.read_text()
    assert "## Latency percentiles" in text
    assert re.search(r"^\| decode \| 3 \| 74\.2 ms \|", text, re.M)
    # no counters: every phase is unknown, and says why
    assert "decode takes 68.6% of GPU time and has no verdict: 306 of 306 kernels: no FLOP" \
        in text
    assert timing_of(ANNOTATED) is None


def test_a_memory_bound_phase_names_its_bandwidth_and_ridge() -> None:
    """The prefill norms alone (real kernels of the fixture) make a memory-bound phase."""
    k = load_fixture("llama_annotated.ncu-rep").kernels
    norms = k[k["op"] == "norm"].copy()
    r = build(norms)
    row = rl.summarize(norms, by="phase").set_index("group").loc["prefill"]
    assert row["bound"] == "memory"
    s = _phase_sentence(r, "prefill")
    assert s.kind == "verdict:memory"
    assert s.values["pct_of_peak_bandwidth"] == pytest.approx(row["pct_of_peak_bandwidth"])
    assert f"memory-bound at {pct(row['pct_of_peak_bandwidth'])} of peak DRAM bandwidth" \
        in s.text
    ridge = row["peak_compute_per_s"] / row["peak_bytes_per_s"]  # where the roofs meet
    assert s.values["ridge"] == pytest.approx(ridge)
    assert f"{intensity(row['ai'])} FLOP/B is below its ridge {intensity(ridge)}" in s.text
    assert r.title == "roofprof report"  # a bare table has no source to name


def test_a_dataset_selection_is_named_in_the_title(tmp_path: Path) -> None:
    from roofprof.datasets.write import append

    for rank in (0, 1):
        append([FIXTURES / "llama_small.ncu-rep"], tmp_path / "fleet", run="r1", rank=rank)
    out = tmp_path / "r.md"
    r = CliRunner().invoke(main, ["report", str(tmp_path / "fleet"), "--where", "rank = 1",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text().splitlines()[0] == \
        f"# roofprof report: dataset {tmp_path / 'fleet'} where rank = 1"


def test_a_dataset_reports_figures_name_the_selection_and_a_sampled_ones_say_so(
        tmp_path: Path) -> None:
    """The figures say what the report's title and tables say: the dataset selection they
    draw, and, for a sampled recording, that its shares are of samples."""
    from roofprof.datasets.write import append
    from roofprof.inputs.load import load as load_inputs

    for rank in (0, 1):
        append([FIXTURES / "llama_small.ncu-rep"], tmp_path / "fleet", run="r1", rank=rank)
    selected = load_inputs(tmp_path / "fleet", where="rank = 1")
    for _caption, scene in build(selected).scenes:
        assert scene.title == f"NVIDIA H100 80GB HBM3 · dataset {tmp_path / 'fleet'} " \
                              "where rank = 1"
    sampled = build(load_fixture("llama_sample.ncu-rep"))
    assert all(any(s.startswith("SAMPLED") for s in scene.subtitle)
               for _caption, scene in sampled.scenes)
