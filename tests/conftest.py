"""Shared fixtures: the real captures in fixtures/ (see fixtures/MANIFEST.md)."""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import pytest

import roofprof

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

REPORTS = sorted(FIXTURES.glob("*.ncu-rep"))
CSVS = sorted(FIXTURES.glob("*.csv"))


@functools.cache
def _load(name: str) -> roofprof.Trace:
    return roofprof.load(FIXTURES / name)


def load_fixture(name: str) -> roofprof.Trace:
    """A fixture's trace (cached: treat it as read-only; copy before changing)."""
    return _load(name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ROOFPROF_GPU_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs a GPU and ncu: set ROOFPROF_GPU_TESTS=1 on a GPU host")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def pytest_unconfigure(config: pytest.Config) -> None:
    # pytest restores the warning filters at the end of the session; ncu_report's SWIG types
    # warn once more when the interpreter exits
    warnings.filterwarnings("ignore", message="builtin type swigvarlink",
                            category=DeprecationWarning)


def as_datasets(factory: pytest.TempPathFactory, inputs: list[Path]) -> dict[str, Path]:
    """Each input as a dataset of two ranks (the same rows twice), by file name."""
    from roofprof.datasets.write import append
    from roofprof.errors import RoofprofWarning

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoofprofWarning)
        for f in inputs:
            d = factory.mktemp(f.name.replace(".", "_"))
            for rank in (0, 1):
                append([f], d, run="r1", host="n1", rank=rank)
            out[f.name] = d
    return out
