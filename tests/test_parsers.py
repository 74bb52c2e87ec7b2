"""Contract tests: every parser over every fixture of its format, and agreement between them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import parsers
import roofprof
from roofprof.tables.schema import COLUMNS, IDENTITY, MEASURED
from tests.conftest import CSVS, FIXTURES, REPORTS, load_fixture

ALL = REPORTS + CSVS


def _load_quietly(path: object) -> roofprof.Trace:
    """Load a fixture recorded with a partial metric set (its warning is tested elsewhere)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", roofprof.RoofprofWarning)
        return roofprof.load(path)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_fixture_gives_the_schema(path: object) -> None:
    t = _load_quietly(path)
    k = t.kernels
    assert list(k.columns) == list(COLUMNS)
    assert len(k) > 0
    assert k["duration_ns"].gt(0).all()
    assert k["kernel"].notna().all()
    assert k["kernel"].str.len().gt(0).all()
    assert k["cc"].eq("9.0").all()
    assert (k["range"] == k["nvtx"].map("/".join)).all()
    for col in MEASURED:
        assert k[col].dtype == np.float64
        assert (k[col].dropna() >= 0).all(), col


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_format_is_sniffed_from_content(path: object, tmp_path: object) -> None:
    import shutil
    from pathlib import Path

    p = Path(str(path))
    anonymous = Path(str(tmp_path)) / "input.bin"
    shutil.copy(p, anonymous)
    fmt = parsers.detect(anonymous)
    assert fmt.name == ("ncu-rep" if p.suffix == ".ncu-rep" else "ncu-csv")


@pytest.mark.parametrize("export", ["known_work_raw.csv", "known_work_raw_display_units.csv",
                                    "known_work_details.csv"])
def test_report_and_its_csv_exports_give_the_same_table(export: str) -> None:
    rep = load_fixture("known_work.ncu-rep").kernels
    csv = load_fixture(export).kernels
    for col in [*MEASURED, "flop"]:
        # display units are rounded to 3-4 significant digits by ncu
        rel = 5e-3 if "display" in export else 1e-9
        np.testing.assert_allclose(csv[col], rep[col], rtol=rel, err_msg=col)
    for col in ("kernel", "range", "grid", "block", "device", "stream", "context", "cc"):
        assert (csv[col].astype(str) == rep[col].astype(str)).all(), col


def test_csv_carries_process_and_host_the_report_reader_cannot() -> None:
    csv = load_fixture("known_work_raw.csv").kernels
    assert csv["process_id"].notna().all()
    assert csv["process_name"].eq("python3.12").all()
    # roofprof's reader takes them from the report's process record; NVIDIA's reader cannot
    rep = load_fixture("known_work.ncu-rep").kernels
    assert rep["process_id"].tolist() == csv["process_id"].tolist()
    assert rep["host"].tolist() == csv["host"].tolist()
    assert rep["process_name"].tolist() == csv["process_name"].tolist()
    nvidia = roofprof.load(FIXTURES / "known_work.ncu-rep", reader="ncu-report").kernels
    assert nvidia["process_id"].isna().all()


@pytest.mark.parametrize("roofline", ["known_work_roofline.ncu-rep", "known_work_roofline_raw.csv"])
def test_ncu_roofline_set_agrees_with_roofprof_set(roofline: str) -> None:
    """Two runs of the same workload, one with ncu's --set roofline (rates and per-cycle forms),
    one with roofprof's metric set (sums)."""
    ours = load_fixture("known_work.ncu-rep").kernels.set_index("range")
    theirs = _load_quietly(FIXTURES / roofline).kernels.set_index("range")
    # --set roofline has no fp8 or int8 tensor counters: compare the precisions it has
    for rng in ["gemm_bf16", "gemm_fp16", "gemm_tf32", "gemm_fp32", "gemm_fp64", "mul_fp32",
                "add_fp32"]:
        assert theirs.loc[rng, "flop"] == pytest.approx(ours.loc[rng, "flop"], rel=1e-3), rng
        assert theirs.loc[rng, "dram_bytes"] == pytest.approx(ours.loc[rng, "dram_bytes"],
                                                              rel=0.02), rng
    assert theirs["flop_tensor_fp8"].isna().all()  # null, never 0, when not measured
    assert (theirs["peak_flop_per_s_tensor_bf16"] / theirs["sm_clock_hz"]).round().eq(540672).all()


def test_rates_are_integrated_and_recorded_in_the_metadata() -> None:
    t = _load_quietly(FIXTURES / "known_work_roofline.ncu-rep")
    derived = t.meta["derivations"]["dram_bytes"]
    assert any("per_second x gpu__time_duration.sum" in d for d in derived)
    assert "dram_read_bytes" in t.meta["missing"]


def test_section_only_report_gives_nulls_and_names_them() -> None:
    with pytest.warns(roofprof.RoofprofWarning, match="flop_tensor_bf16"):
        t = roofprof.load(FIXTURES / "sol_roofline_chart.ncu-rep")
    k = t.kernels.set_index("range")
    assert k["flop_tensor_bf16"].isna().all()
    assert k.loc["mul_fp32", "flop_fp32"] == 2**26


def test_set_full_report() -> None:
    t = _load_quietly(FIXTURES / "mul_full.ncu-rep")
    k = t.kernels.iloc[0]
    assert k["range"] == "mul_fp32"
    assert k["flop_fp32"] == 2**26
    assert k["dram_bytes"] == pytest.approx(2 * 2**28, rel=0.05)


def test_llama_ranges_and_kernels() -> None:
    k = load_fixture("llama_small.ncu-rep").kernels
    assert set(k["range"]) == {"prefill", "decode"}
    # one forward pass for the prompt, two decode steps: the same 62 launches each
    assert (k["range"] == "prefill").sum() == 62
    assert (k["range"] == "decode").sum() == 2 * 62
    assert k["flop_tensor_bf16"].sum() > 0
    csv = load_fixture("llama_small_raw.csv").kernels
    np.testing.assert_allclose(csv["flop"], k["flop"])
    assert (csv["range"] == k["range"]).all()


def test_derived_dense_peak_when_only_the_sparse_aggregate_exists() -> None:
    from parsers.raw import RawKernels
    from roofprof.inputs.derive import build_table

    ident = pd.DataFrame({"cc": ["9.0", "7.5"], "nvtx": [[], []]})
    metrics = pd.DataFrame({
        "gpu__time_duration.sum": [1000.0, 1000.0],
        "sm__cycles_elapsed.avg.per_second": [1.5e9, 1.5e9],
        "sm__ops_path_tensor_src_bf16_dst_fp32.sum.peak_sustained": [1081344.0, 1081344.0],
    })
    table, d = build_table(RawKernels(identity=ident, metrics=metrics))
    assert table.loc[0, "peak_flop_per_s_tensor_bf16"] == 540672 * 1.5e9
    assert np.isnan(table.loc[1, "peak_flop_per_s_tensor_bf16"])  # no sparsity before Ampere
    assert any("derived" in desc for desc in d.used["peak_flop_per_s_tensor_bf16"])


def test_identity_columns_have_their_dtypes() -> None:
    k = load_fixture("known_work_raw.csv").kernels
    for col, dtype in IDENTITY.items():
        if dtype != "object":
            assert str(k[col].dtype).lower().startswith(dtype.lower()[:3]), col
