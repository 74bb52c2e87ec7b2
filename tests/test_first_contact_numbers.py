"""Issue 25 part A, "first contact": numbers a new user sees on the bundled fixtures that were
wrong or misleading. Each test asserts the right number (or the one clear error) and failed on
the code before the fix.

1. A report without tensor counters (``ncu --section SpeedOfLight_RooflineChart``) has unknown
   work, not zero: its BF16 GEMM is ``unknown``, never "no FLOPs, memory-bound, 31.1% of roof".
2. ``--by kernel`` labels and every other short kernel name keep the function's name through
   ``(anonymous namespace)``, templates, lambdas and return types.
3. A European-locale CSV whose numbers all read ``25.376`` is read by what can be true (a
   duration in ns is whole) or refused, never guessed as 25.376 ns.
4. What-if on groups of short kernels: the projection is kept (the data say why, in the test);
   its per-group errors against the H200 recordings are bounded.
5. ``--gpu A100`` (four A100s) is one error listing them, not a silent pick.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import roofprof
from parsers.cells import NumberForm, needed_metrics, number_evidence, whole_number_metrics
from parsers.kernel_names import short_name
from roofprof.analysis import catalog
from roofprof.analysis.grouping import group_kernels
from roofprof.analysis.labels import short_kernel
from roofprof.analysis.roofline import kernel_numbers, summarize
from roofprof.analysis.whatif import validate
from roofprof.cli import main
from roofprof.errors import InputError, RoofprofWarning, UsageError
from roofprof.tables.schema import MEASURED
from roofprof.views.chart import scene
from roofprof.views.tables import format_table
from tests.conftest import FIXTURES, load_fixture

SOL = "sol_roofline_chart.ncu-rep"
SOL_CSV = "sol_roofline_chart_raw.csv"
NO_TENSOR = "no FP16 tensor, BF16 tensor work counter"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def load_sol(name: str) -> pd.DataFrame:
    """The section-only report: one warning names the columns no metric gives."""
    with pytest.warns(RoofprofWarning, match="no metric gives .*flop_tensor_bf16"):
        return roofprof.load(FIXTURES / name).kernels


# ------------------------------------------------- 1. unknown work is not "no FLOPs"


@pytest.mark.parametrize("name", [SOL, SOL_CSV])
def test_a_gemm_without_tensor_counters_is_unknown_not_without_flops(name: str) -> None:
    t = load_sol(name)
    k = kernel_numbers(t).assign(range=t["range"]).set_index("range")
    gemm = k.loc["gemm_bf16"]
    # before: work 0 ("no FLOPs"), bound memory, 31.1% of roof, 17.4 us of headroom
    assert np.isnan(gemm["work"])
    assert gemm["bound"] == "unknown"
    assert np.isnan(gemm["pct_of_roof"])
    assert np.isnan(gemm["headroom_ns"])
    assert gemm["reason"] == NO_TENSOR
    # what was measured stays: its DRAM traffic is 31.1% of the peak bandwidth
    assert round(float(gemm["pct_of_peak_bandwidth"]), 3) == 0.311
    # the FP32 elementwise kernel ran on the same tensor-core chip without those counters
    # either: its work is as unknown, as a `--set roofline` report's is without FP8
    mul = k.loc["mul_fp32"]
    assert np.isnan(mul["work"])
    assert mul["bound"] == "unknown"
    assert mul["reason"] == NO_TENSOR


def test_the_summary_says_unknown_and_never_no_flops() -> None:
    s = summarize(load_sol(SOL), by="range").set_index("group")
    assert list(s["bound"]) == ["unknown", "unknown"]
    assert s["headroom_ns"].isna().all()
    assert s["pct_of_roof"].isna().all()
    assert s.loc["gemm_bf16", "reason"] == f"1 of 1 kernels: {NO_TENSOR}"
    text = format_table(s.reset_index(), width=200)
    assert "no FLOPs" not in text
    assert f"every group: unknown: {NO_TENSOR}" in text


def test_zero_work_measured_is_still_no_flops() -> None:
    """Null is told from zero: a copy whose every counter read 0 FLOPs keeps its numbers."""
    k = kernel_numbers(load_fixture("llama_small.ncu-rep"))
    zero = k[k["work"] == 0]
    assert len(zero) == 33
    assert set(zero["bound"].astype(str)) == {"latency"}
    assert zero["headroom_ns"].notna().all()


def test_the_plot_counts_it_with_counters_missing() -> None:
    t = load_sol(SOL)
    with pytest.raises(InputError, match=re.escape(
            f"nothing to draw: 2 of 2 kernels lack counters ({NO_TENSOR})")):
        scene.build(t)
    # beside kernels with every counter: drawn are those, the GEMM is off the plot for want of
    # counters (before: "1 without FLOPs", "no FLOPs: judged by bandwidth")
    full = load_fixture("known_work.ncu-rep").kernels
    mixed = pd.concat([full, t[t["range"] == "gemm_bf16"]], ignore_index=True)
    mixed["id"] = np.arange(len(mixed))
    s = scene.build(mixed)
    assert s.subtitle[-1] == "1 with counters missing (1.8% of time) not drawn"
    assert list(s.not_drawn["why"]) == [NO_TENSOR]


# ----------------------------------------------------------- 2. short kernel names


#: fixtures whose demangled names span ncu's, the C++ demangler's and nsys's spellings
NAMED = ["llama_kineto.json.gz", "llama_graph_nsys.sqlite", "llama_small.ncu-rep",
         "llama_small_raw.csv", "spec_verify.ncu-rep", "known_work.ncu-rep"]


@functools.cache
def named(name: str) -> pd.DataFrame:
    """A fixture's kernels; a timing trace says once that it has no counters."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "a timing trace", RoofprofWarning)
        warnings.filterwarnings("ignore", ".*: a timing trace", RoofprofWarning)
        return roofprof.load(FIXTURES / name).kernels


def demangled_names() -> set[str]:
    names: set[str] = set()
    for name in NAMED:
        k = named(name)
        names |= set(k["kernel_demangled"].dropna().astype(str))
    return names


def test_every_short_label_keeps_its_function_name() -> None:
    names = demangled_names()
    assert len(names) > 100
    assert sum("(anonymous namespace)" in n for n in names) >= 5
    assert sum("<unnamed>" in n for n in names) >= 5
    bases: dict[str, set[str]] = {}
    for full in names:
        label, base = short_kernel(full), short_name(full)
        assert base in label, (full, label)
        assert not label.startswith("void "), label
        assert not label.endswith(")") or label.endswith("operator()"), label
        bases.setdefault(label, set()).add(base)
    # distinct where the function names differ
    assert [ls for ls in bases.values() if len(ls) > 1] == []


@pytest.mark.parametrize(("full", "label"), [
    ("void at::native::(anonymous namespace)::CatArrayBatchedCopy<at::native::(anonymous "
     "namespace)::OpaqueType<4u>, unsigned int, 3, 64, 64>(at::native::(anonymous namespace)::"
     "OpaqueType<4u>*, int, unsigned int)",
     "at::native::(anonymous namespace)::CatArrayBatchedCopy<at::native::(anonymous namespace)"
     "::OpaqueType<4u>, unsigned int, 3, 64, 64>"),
    ("void at::native::<unnamed>::CatArrayBatchedCopy<at::native::<unnamed>::OpaqueType<"
     "(unsigned int)2>, unsigned int, (int)4>(T1 *, int, T2)",
     "at::native::<unnamed>::CatArrayBatchedCopy<at::native::<unnamed>::OpaqueType<"
     "(unsigned int)2>, unsigned int, (int)4>"),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::sin_kernel_cuda("
     "at::TensorIteratorBase&)::{lambda()#2}::operator()() const::{lambda(float)#1}, "
     "std::array<char*, 2ul> >(int, float, std::array<char*, 2ul>)",
     "at::native::vectorized_elementwise_kernel<4, at::native::sin_kernel_cuda("
     "at::TensorIteratorBase&)::{lambda()#2}::operator()() const::{lambda(float)#1}, "
     "std::array<char*, 2ul> >"),
    ("(anonymous namespace)::softmax_warp_forward(float*, int)",
     "(anonymous namespace)::softmax_warp_forward"),
    ("f::[lambda(int) (instance 1)]::operator ()() const",
     "f::[lambda(int) (instance 1)]::operator ()"),
    ("add_kernel(float*, float*)", "add_kernel"),
    ("nvjet_sm90_tst_128x128_64x6_2x1_v_bz_NNT", "nvjet_sm90_tst_128x128_64x6_2x1_v_bz_NNT"),
])
def test_short_kernel_of_cpp_names(full: str, label: str) -> None:
    assert short_kernel(full) == label


def test_kernel_groups_are_named_by_their_function() -> None:
    """`summary --by kernel` on a Kineto trace: its four CatArrayBatchedCopy instances were
    `void at::native::`, `#2`, `#3`, `#4`."""
    for name in NAMED:
        t = named(name)
        g = group_kernels(t, "kernel")
        first = pd.Series(np.arange(len(t))).groupby(g.codes).first().to_numpy()
        for label, row in zip(g.names, first, strict=True):
            assert label.startswith(str(t["kernel"].iat[int(row)])), (name, label)
        assert len(set(g.names)) == len(g.names)
        assert not [n for n in g.names if re.search(r" #\d+$", n) or n.startswith("void ")], \
            name
    kineto = named("llama_kineto.json.gz")
    cat = [n for n in group_kernels(kineto, "kernel").names if n.startswith("CatArray")]
    assert sorted(cat) == [
        "CatArrayBatchedCopy ‹2u>, unsigned int, 4, 64, 64>›",
        "CatArrayBatchedCopy ‹4u>, unsigned int, 3, 64, 64>›",
        "CatArrayBatchedCopy_vectorized ‹2u>, unsigned int, 3, 128, 1, 16, 8>›",
        "CatArrayBatchedCopy_vectorized ‹4u>, unsigned int, 3, 128, 1, 16, 4>›",
    ]


# ------------------------------------------------------- 3. ambiguous number forms


_C_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$")


def european(cell: str) -> str:
    """A cell as ncu writes it under a European locale (1.234,5)."""
    if _C_NUMBER.match(cell):
        return cell.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return cell


def raw_rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO((FIXTURES / "known_work_raw.csv").read_text())))


def write(path: Path, table: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(table)
    path.write_text(buf.getvalue())
    return path


def ambiguous_subset() -> tuple[list[list[str]], list[list[str]]]:
    """known_work_raw.csv cut to the metric columns whose every cell, written in the European
    form, is a plain integer or looks like ``25.376`` (1-3 digits, a mark, 3 digits): the file
    (header, units row, rows) in the C form and in the European form."""
    rows = raw_rows()
    header, body = rows[0], rows[2:]
    eu_body = [[european(c) for c in r] for r in body]
    needed = needed_metrics()
    drop = {j for j, h in enumerate(header)
            if h in needed and number_evidence([r[j] for r in eu_body])}
    keep = [j for j in range(len(header)) if j not in drop]

    def cut(table: list[list[str]]) -> list[list[str]]:
        return [[r[j] for j in keep] for r in table]

    return cut([header, rows[1], *body]), cut([header, rows[1], *eu_body])


def load_subset(path: Path) -> roofprof.Trace:
    """Read a cut export: the only warning names the columns it lacks."""
    with pytest.warns(RoofprofWarning) as caught:
        trace = roofprof.load(path)
    assert all("no metric gives" in str(w.message) for w in caught), \
        [str(w.message) for w in caught]
    return trace


def test_the_subset_is_ambiguous_and_still_holds_durations_and_counts() -> None:
    c, eu = ambiguous_subset()
    header = c[0]
    kept = [h for h in header if h in needed_metrics()]
    assert "gpu__time_duration.sum" in kept
    assert len([h for h in kept if h in whole_number_metrics()]) >= 5
    cells = [r[header.index(h)] for r in eu[2:] for h in kept]
    assert number_evidence(cells) == set()
    assert "25.376" in cells  # known_work's BF16 GEMM: 25,376 ns


def test_european_thousands_in_base_units_are_read_as_thousands(tmp_path: Path) -> None:
    """Durations in ns cannot be fractions: ``25.376`` is 25,376 ns (before: 25.376 ns)."""
    c, eu = ambiguous_subset()
    t_eu = load_subset(write(tmp_path / "eu.csv", eu))
    t_c = load_subset(write(tmp_path / "c.csv", c))
    assert t_eu.meta["formats"] == ["ncu-csv-raw (numbers 1.234,5)"]
    assert t_c.meta["formats"] == ["ncu-csv-raw"]
    full = load_fixture("known_work_raw.csv").kernels
    assert t_eu.kernels["duration_ns"].iloc[0] == 25376.0
    np.testing.assert_array_equal(t_eu.kernels["duration_ns"], full["duration_ns"])
    for col in (*MEASURED, "flop"):
        np.testing.assert_array_equal(t_eu.kernels[col].to_numpy(),
                                      t_c.kernels[col].to_numpy(), err_msg=col)


def test_without_units_the_ambiguous_file_is_refused(tmp_path: Path) -> None:
    """Without the units row ``25.376`` may be 25.376 us (display units) or 25,376 ns: one
    error saying how to export it unambiguously."""
    _, eu = ambiguous_subset()
    p = write(tmp_path / "eu_no_units.csv", [eu[0], *eu[2:]])
    code, output = cli("summary", str(p))
    assert code != 0
    errors = [ln for ln in output.splitlines() if ln.startswith("roofprof: error:")]
    assert len(errors) == 1, output
    # the first kept column: the DRAM peak per cycle, 1,280 bytes (or 1.28)
    assert errors[0].startswith(
        f"roofprof: error: {p}: its numbers are ambiguous: dram__bytes.sum.peak_sustained "
        "reads '1.280', which is 1.28 in the 1,234.5 form and 1280 in the 1.234,5 form, and no "
        "cell of the file tells which form ncu wrote. Export it again in the C locale"), \
        errors[0]
    assert errors[0].endswith("LC_ALL=C ncu --import REPORT.ncu-rep --csv --page raw "
                              "--print-units base")


def test_the_clean_european_export_still_reads_right(tmp_path: Path) -> None:
    rows = raw_rows()
    p = write(tmp_path / "eu.csv", [rows[0], *([european(c) for c in r] for r in rows[1:])])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = roofprof.load(p)
    full = load_fixture("known_work_raw.csv").kernels
    for col in (*MEASURED, "flop"):
        np.testing.assert_array_equal(t.kernels[col].to_numpy(), full[col].to_numpy(),
                                      err_msg=col)


def test_number_form_decisions() -> None:
    path = Path("x.csv")
    dur = "gpu__time_duration.sum"
    # a whole number in base units decides; a rate with the same cell does not
    assert NumberForm(path).update({dur: ["25.376"]}, {dur: ["25.376"]}) == "eu"
    assert NumberForm(path).update({dur: ["25,376"]}, {dur: ["25,376"]}) == "C"
    with pytest.raises(InputError, match=r"x\.csv: its numbers are ambiguous: "
                       r"dram__bytes\.sum\.per_second reads '1\.280', which is 1\.28 in the "
                       r"1,234\.5 form and 1280 in the 1\.234,5 form"):
        NumberForm(path).update({"dram__bytes.sum.per_second": ["1.280"]}, {})
    # a leading zero or four digits before the mark is no thousands group
    assert number_evidence(["0.375"]) == {"C"}
    assert number_evidence(["1234,5"]) == {"eu"}
    assert number_evidence(["25,376"]) == set()  # before: read as evidence of the C form
    with pytest.raises(InputError, match=r"mix 1,234\.5 and 1\.234,5"):
        NumberForm(path).update({dur: ["25.376", "25,376"]}, {dur: ["25.376", "25,376"]})
    # a part of the file whose cells read alike in both forms decides nothing
    form = NumberForm(path)
    assert form.update({dur: ["512", "n/a"]}, {dur: ["512", "n/a"]}) == "C"
    assert form.update({dur: ["1.234.567"]}, {}) == "eu"


# ------------------------------------------------------ 4. what-if on short kernels


@pytest.mark.parametrize("name", ["batch_1", "llama_annotated"])
def test_whatif_of_latency_bound_groups_against_the_h200(name: str) -> None:
    """Groups whose time is mostly in latency-bound kernels (at their roofs under the 2 us
    launch floor), by category, projected onto the H200 beside the H200's own recording.

    The data: the H200 ran each latency-bound kernel about 0.6 us shorter (least squares over
    batch_1's 61: t_H200 = 1.048 t_H100 - 677 ns; over llama_annotated's 84: 1.020 t - 597 ns),
    whatever its length: the time above the floor does not scale with bandwidth, but the
    floor itself is lower (shortest kernel 1.66-1.89 us in every H200 recording, 2.18-2.30 us
    in every H100 one). The projection (floor kept, the time above it scaled by the roofs)
    is 0-17% off per such group: the largest, batch_1's attention, one 5.7 us kernel (-16.9%).
    Keeping their measured time instead (no speed-up at all) is 21-23% off for batch_1's copy
    and elementwise groups (+17% for the phase): this bound keeps that out."""
    h100 = load_fixture(f"{name}.ncu-rep").kernels
    h200 = load_fixture(f"h200_{name}.ncu-rep").kernels
    v = validate(h100, catalog.get("H200"), h200, by="category").set_index("group")
    k = kernel_numbers(h100)
    latency = h100["duration_ns"].where(k["bound"] == "latency", 0.0)
    share = latency.groupby(h100["category"].astype(str)).sum() / \
        h100["duration_ns"].groupby(h100["category"].astype(str)).sum()
    short = share[share >= 0.5].index
    assert len(short) == {"batch_1": 7, "llama_annotated": 1}[name]
    errors = v.loc[short, "error_at_fraction"]
    assert (errors.abs() < 0.17).all(), errors


# -------------------------------------------------------------- 5. ambiguous GPU names


def test_an_ambiguous_gpu_prefix_is_one_error_listing_the_matches() -> None:
    with pytest.raises(UsageError) as caught:
        catalog.get("A100")
    assert str(caught.value) == (
        "GPU 'A100' is ambiguous: 4 catalog entries match (A100-PCIe-40GB, A100-SXM4-40GB, "
        "A100-PCIe-80GB, A100-SXM4-80GB); give one of these names")
    assert catalog.get("A100-SXM4-80GB").name == "A100-SXM4-80GB"   # exact names
    assert catalog.get("NVIDIA A100 80GB PCIe").name == "A100-PCIe-80GB"  # device names
    assert catalog.get("B2").name == "B200"                         # unique prefixes
    assert catalog.get("a100-sxm4-4").name == "A100-SXM4-40GB"
    with pytest.raises(UsageError, match="unknown GPU 'X100'"):
        catalog.get("X100")


@pytest.mark.parametrize("args", [("whatif", str(FIXTURES / "batch_1.ncu-rep")),
                                  ("model", "Llama-3-8B"), ("gpus",)])
def test_the_command_line_refuses_an_ambiguous_gpu(args: tuple[str, ...]) -> None:
    code, output = cli(*args, *(["A100"] if args == ("gpus",) else ["--gpu", "A100"]))
    assert code == 2
    assert output.strip().splitlines() == [
        "roofprof: error: GPU 'A100' is ambiguous: 4 catalog entries match (A100-PCIe-40GB, "
        "A100-SXM4-40GB, A100-PCIe-80GB, A100-SXM4-80GB); give one of these names"]
