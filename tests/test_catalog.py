"""The GPU catalog: its data checked against itself and against the H100 fixtures' peaks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from roofprof.analysis import catalog
from roofprof.cli import main
from roofprof.errors import InputError, RoofprofWarning, UsageError
from roofprof.tables.metrics import PRECISIONS
from tests import _readme
from tests.conftest import FIXTURES, load_fixture

REQUIRED = ("T4", "A10", "A40", "L4", "L40S", "A100-PCIe-40GB", "A100-SXM4-40GB",
            "A100-PCIe-80GB", "A100-SXM4-80GB", "H100-PCIe", "H100-SXM5-80GB", "H100-NVL",
            "H200", "B200", "RTX-4090")


def test_catalog_holds_the_required_gpus_with_sources() -> None:
    names = [g.name for g in catalog.gpus()]
    assert len(names) == len(set(names))
    assert set(REQUIRED) <= set(names)
    for g in catalog.gpus():
        assert g.sources, g.name
        assert all(s["url"].startswith("https://") for s in g.sources), g.name
        assert g.device_names
        assert g.dram_bytes_per_s > 0
        assert g.memory_bytes > 0
        assert set(g.dense) <= set(PRECISIONS)
        assert set(g.sparse) <= set(PRECISIONS)
        assert "tensor_bf16" in g.dense or "tensor_fp16" in g.dense, g.name


def test_sparse_peaks_are_twice_the_dense_ones() -> None:
    """Datasheets print 2:4-sparse tensor numbers; the catalog stores dense, sparse beside.
    (The L40S datasheet's own pairs differ by 1.2%: 362.05 dense, 733 sparse.)"""
    for g in catalog.gpus():
        for p, sparse in g.sparse.items():
            assert sparse == pytest.approx(2 * g.dense[p], rel=0.015), (g.name, p)


@pytest.mark.parametrize(("name", "precision", "ridge"), [
    ("H100 SXM", "tensor_bf16", 295),      # reference 003's GPU table
    ("H100 PCIe", "tensor_bf16", 378),     # reference 003
    ("A100 SXM", "tensor_bf16", 153),      # reference 003
    ("A10", "tensor_fp16", 208),           # reference 003
    ("L40S", "tensor_bf16", 419),          # reference 003
    ("A40", "tensor_fp16", 215),           # reference 001: 149.7 TFLOP/s over 696 GB/s
    ("A100-PCIe-80GB", "tensor_fp16", 161),  # reference 004: 312 TFLOP/s over 1,935 GB/s
    ("T4", "tensor_fp16", 203),            # reference 000: 65 TFLOP/s over 320 GB/s
])
def test_ridge_points_match_the_reference_analyses(name: str, precision: str,
                                                   ridge: float) -> None:
    g = catalog.get(name)
    assert g.dense[precision] / g.dram_bytes_per_s == pytest.approx(ridge, rel=0.01)


def test_find_by_device_name_alias_and_catalog_name() -> None:
    assert catalog.get("NVIDIA H100 80GB HBM3").name == "H100-SXM5-80GB"
    assert catalog.get("h100 sxm").name == "H100-SXM5-80GB"
    assert catalog.get("a100-sxm4-80gb").name == "A100-SXM4-80GB"
    assert catalog.find("NVIDIA GeForce RTX 4090") is catalog.get("RTX 4090")
    assert catalog.find("MI300X") is None
    with pytest.raises(UsageError, match=r"unknown GPU 'MI300X'.*H200"):
        catalog.get("MI300X")


def test_bad_catalog_data_is_refused_with_the_file_named() -> None:
    entry = ('[[gpu]]\nname = "X"\ndevice_names = ["X"]\narchitecture = "A"\nmemory_gb = 1\n'
             'memory_bandwidth_gb_s = 1\n')
    with pytest.raises(InputError, match=r"my\.toml: X: unknown precision"):
        catalog.parse(entry + 'dense = { bf16 = 1 }\nsources = [{ title = "t", url = "u" }]',
                      "my.toml")
    with pytest.raises(InputError, match="every source needs a title and a url"):
        catalog.parse(entry + 'dense = {}\nsources = [{ title = "t" }]')
    with pytest.raises(InputError, match="lacks sources"):
        catalog.parse(entry + "dense = {}")
    with pytest.raises(InputError, match="not valid TOML"):
        catalog.parse("[[gpu]\n")


def test_measured_h100_peaks_agree_with_the_catalog() -> None:
    kernels = load_fixture("llama_annotated.ncu-rep").kernels
    check = catalog.check_peaks(kernels).set_index("quantity")
    assert set(check["gpu"]) == {"H100-SXM5-80GB"}
    assert check["ok"].all()
    # DRAM: 3.35 TB/s on the datasheet, measured per kernel within 3%
    assert check.loc["dram", "measured_at_boost"] == pytest.approx(3.35e12, rel=0.01)
    assert check.loc["dram", "measured_min"] > 0.97 * 3.35e12
    # BF16 dense: 132 SMs x 4096 FLOP per cycle, so the per-second peak follows each kernel's
    # clock (1.72-1.98 GHz here); at the 1980 MHz boost clock it is 1071 TFLOP/s, 8.2% over
    # the datasheet's 989.4, which NVIDIA quotes at 1830 MHz
    per_cycle = kernels["peak_flop_per_s_tensor_bf16"] / kernels["sm_clock_hz"]
    assert np.allclose(per_cycle, 132 * 4096, rtol=1e-3)
    bf16 = check.loc["tensor_bf16"]
    assert bf16["measured_max"] / bf16["measured_min"] > 1.1
    assert bf16["measured_at_boost"] == pytest.approx(132 * 4096 * 1.98e9, rel=1e-3)
    assert bf16["ratio"] == pytest.approx(132 * 4096 * 1.98e9 / 989.4e12, rel=1e-3)
    # FP32 CUDA cores: 132 SMs x 128 lanes x 2 at 1980 MHz is the datasheet's 67 TFLOP/s
    assert check.loc["fp32", "ratio"] == pytest.approx(1.0, abs=0.01)


def test_a_large_disagreement_warns_with_the_numbers() -> None:
    kernels = load_fixture("batch_1.ncu-rep").kernels
    with pytest.warns(RoofprofWarning, match=r"dram peak 3\.3\d TB/s .* 0\.69x the catalog's "
                                             r"4\.8 TB/s for H200"):
        check = catalog.check_peaks(kernels, gpu="H200")
    assert not check.set_index("quantity").loc["dram", "ok"]
    unknown = kernels.assign(device_name="NVIDIA H800")
    with pytest.warns(RoofprofWarning, match="'NVIDIA H800' is not in the GPU catalog"):
        assert catalog.check_peaks(unknown).empty


def test_catalog_table_has_one_row_per_gpu() -> None:
    df = catalog.table()
    assert list(df["name"]) == [g.name for g in catalog.gpus()]
    h200 = df.set_index("name").loc["H200"]
    assert h200["dram_bytes_per_s"] == 4.8e12
    assert h200["tensor_bf16"] == 989.4e12
    assert np.isnan(df.set_index("name").loc["T4", "tensor_bf16"])  # Turing has no BF16


def test_cli_gpus() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["gpus"])
    assert out.exit_code == 0
    assert "H100-SXM5-80GB" in out.output
    assert "989.4" in out.output
    one = runner.invoke(main, ["gpus", "NVIDIA H200"])
    assert one.exit_code == 0
    assert "1,979" in one.output
    assert "https://" in one.output
    js = json.loads(runner.invoke(main, ["gpus", "L4", "--format", "json"]).output)
    assert js["tensor_fp8"] == 242.5e12
    assert js["sparse"]["tensor_fp8"] == 485e12
    bad = runner.invoke(main, ["gpus", "X100"])
    assert bad.exit_code == 2
    assert "unknown GPU 'X100'" in bad.output
    check = runner.invoke(main, ["gpus", "--check", str(FIXTURES / "batch_1.ncu-rep")])
    assert check.exit_code == 0
    assert "DIFFERS" not in check.output
    assert check.output.count("H100-SXM5-80GB") == 9


def test_the_readme_shows_real_output() -> None:
    assert _readme.check("gpus") >= 1


def test_summary_reports_a_measured_roof_far_from_the_datasheet(tmp_path: Path) -> None:
    """Issue 12: measured peaks win, but the catalog entry of the GPU a trace ran on is checked
    against them: an H100 recording labelled as an H200 has 0.69x the H200's bandwidth."""
    import copy

    from roofprof.tables.kernels import Trace

    shared = load_fixture("llama_annotated.ncu-rep")
    k = shared.kernels.copy()
    k["device_name"] = k["device_name"].astype("string").str.replace("H100 80GB HBM3", "H200")
    path = Trace(k, copy.deepcopy(shared.meta)).save(tmp_path / "relabelled.parquet")
    res = CliRunner().invoke(main, ["summary", str(path), "--by", "phase"])
    assert res.exit_code == 0, res.output
    assert "0.69x the catalog's 4.8 TB/s for H200" in res.output
    clean = CliRunner().invoke(main, ["summary", str(FIXTURES / "llama_annotated.ncu-rep"),
                                      "--by", "phase"])
    assert "catalog" not in clean.output
