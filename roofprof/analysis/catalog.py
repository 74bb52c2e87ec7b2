"""The GPU catalog: datasheet ceilings of NVIDIA GPUs, and a check of a trace's measured peaks.

The catalog is data (``roofprof/data/gpus.toml``, documented in its header): per GPU, dense peaks
per precision (the names of :data:`roofprof.tables.metrics.PRECISIONS`), the sparse ones beside
them, memory bandwidth and size, L2 size, SM count, boost clock and the public source of every
number. :func:`gpus` loads it (validated, once), :func:`find` looks one up by catalog name, alias or
the device name CUDA reports; :func:`get` also by a unique prefix, and refuses one that several
entries share.

On a trace, measured peaks always win; the catalog is for what a trace cannot give (another
GPU's roofs: the analytic model, what-if projections). :func:`check_peaks` compares a trace's
per-kernel measured peaks with the catalog entry of the GPU it ran on and warns
(:class:`~roofprof.errors.RoofprofWarning`) where they disagree by more than a tolerance.
Compute peaks scale with the SM clock, which varies per kernel, so they are compared at the
catalog's boost clock: measured peak x boost clock / the kernel's own SM clock.
"""

from __future__ import annotations

import functools
import math
import tomllib
import warnings
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from roofprof.errors import InputError, RoofprofWarning, UsageError
from roofprof.tables.metrics import PRECISIONS

_DATA = "gpus.toml"
_REQUIRED = ("name", "device_names", "architecture", "memory_gb", "memory_bandwidth_gb_s",
             "dense", "sources")


@dataclass(frozen=True)
class Gpu:
    """One catalog entry. Peaks in FLOP/s (ops/s for ``tensor_int8``), bandwidth in bytes/s."""

    name: str
    architecture: str
    device_names: tuple[str, ...]
    memory_bytes: float
    dram_bytes_per_s: float
    dense: dict[str, float]
    sources: tuple[dict[str, str], ...]
    aliases: tuple[str, ...] = ()
    cc: str | None = None
    sm_count: int | None = None
    boost_clock_hz: float | None = None
    memory_type: str | None = None
    l2_bytes: float | None = None
    sparse: dict[str, float] = field(default_factory=dict)
    notes: str = ""

    def peak(self, precision: str) -> float | None:
        """The dense peak of ``precision`` (FLOP/s), or None where the source does not say."""
        return self.dense.get(precision)


def _entry(raw: dict[str, Any], where: str) -> Gpu:
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise InputError(f"{where}: GPU entry {raw.get('name', '?')!r} lacks "
                         f"{', '.join(missing)}")
    name = str(raw["name"])
    for table in ("dense", "sparse"):
        unknown = set(raw.get(table, {})) - set(PRECISIONS)
        if unknown:
            raise InputError(f"{where}: {name}: unknown precision(s) {sorted(unknown)} in "
                             f"[{table}]; use {', '.join(PRECISIONS)}")
    if not all(s.get("url") and s.get("title") for s in raw["sources"]):
        raise InputError(f"{where}: {name}: every source needs a title and a url")
    clock = raw.get("boost_clock_mhz")
    l2 = raw.get("l2_mib")
    return Gpu(
        name=name,
        architecture=str(raw["architecture"]),
        device_names=tuple(raw["device_names"]),
        memory_bytes=float(raw["memory_gb"]) * 1e9,
        dram_bytes_per_s=float(raw["memory_bandwidth_gb_s"]) * 1e9,
        dense={k: float(v) * 1e12 for k, v in raw["dense"].items()},
        sparse={k: float(v) * 1e12 for k, v in raw.get("sparse", {}).items()},
        sources=tuple(dict(s) for s in raw["sources"]),
        aliases=tuple(raw.get("aliases", ())),
        cc=raw.get("cc"),
        sm_count=raw.get("sm_count"),
        boost_clock_hz=None if clock is None else float(clock) * 1e6,
        memory_type=raw.get("memory_type"),
        l2_bytes=None if l2 is None else float(l2) * 2**20,
        notes=str(raw.get("notes", "")),
    )


def parse(text: str, where: str = _DATA) -> tuple[Gpu, ...]:
    """Catalog entries from TOML text (``where`` names the file in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where} is not valid TOML: {exc}") from None
    return tuple(_entry(raw, where) for raw in data.get("gpu", []))


@functools.cache
def gpus() -> tuple[Gpu, ...]:
    """The bundled catalog, in file order."""
    text = resources.files("roofprof").joinpath("data", _DATA).read_text(encoding="utf-8")
    return parse(text)


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def find(name: str, catalog: tuple[Gpu, ...] | None = None) -> Gpu | None:
    """The entry whose name, alias or device name matches ``name`` (ignoring case, spaces and
    dashes), or None."""
    key = _key(name)
    for gpu in catalog or gpus():
        if key in {_key(n) for n in (gpu.name, *gpu.aliases, *gpu.device_names)}:
            return gpu
    return None


def get(name: str) -> Gpu:
    """The entry named ``name``: by catalog name, alias or device name (as :func:`find`),
    else the one entry whose names start with ``name``. A prefix several entries share
    (``A100``: four A100s, 40 or 80 GB, PCIe or SXM, 1.6 to 2.0 TB/s) is a
    :class:`UsageError` listing them, never a silent pick; an unknown name one listing the
    catalog."""
    gpu = find(name)
    if gpu is not None:
        return gpu
    key = _key(name)
    matches = [g for g in gpus() if key and any(_key(n).startswith(key) for n in
                                                (g.name, *g.aliases, *g.device_names))]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(f"GPU {name!r} is ambiguous: {len(matches)} catalog entries match "
                         f"({', '.join(g.name for g in matches)}); give one of these names")
    raise UsageError(f"unknown GPU {name!r}; `roofprof gpus` lists the catalog: "
                     f"{', '.join(g.name for g in gpus())}")


def table(catalog: tuple[Gpu, ...] | None = None) -> pd.DataFrame:
    """One row per GPU: dense peaks (``<precision>``, FLOP/s), memory, L2, SMs, clock."""
    rows = []
    for g in catalog or gpus():
        rows.append({"name": g.name, "architecture": g.architecture, "cc": g.cc,
                     "sm_count": g.sm_count, "boost_clock_hz": g.boost_clock_hz,
                     "memory_bytes": g.memory_bytes, "memory_type": g.memory_type,
                     "dram_bytes_per_s": g.dram_bytes_per_s, "l2_bytes": g.l2_bytes,
                     **{p: g.dense.get(p, math.nan) for p in PRECISIONS}})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ measured against catalog

#: quantities compared by :func:`check_peaks`: label -> (peak column, scales with the SM clock)
_CHECKED: dict[str, tuple[str, bool]] = {
    "dram": ("peak_dram_bytes_per_s", False),
    **{p: (peak, True) for p, (_work, peak) in PRECISIONS.items()},
}

CHECK_COLUMNS: tuple[str, ...] = (
    "device_name", "gpu", "quantity", "catalog", "measured_min", "measured_max",
    "measured_at_boost", "ratio", "kernels", "ok",
)


def check_peaks(kernels: pd.DataFrame, gpu: Gpu | str | None = None,
                tolerance: float = 0.10, warn: bool = True) -> pd.DataFrame:
    """The trace's measured peaks beside its GPU's catalog entry, one row per quantity.

    ``gpu``: the entry to compare with (default: matched by each device's ``device_name``;
    devices the catalog does not know are skipped with a warning). Per quantity (``dram`` and
    each precision both sides know): ``measured_min``/``measured_max`` of the per-kernel peaks
    (FLOP/s at each kernel's own clock), ``measured_at_boost`` the median of the per-kernel
    peaks scaled to the catalog's boost clock (DRAM is not scaled), ``ratio`` =
    measured_at_boost / catalog and ``ok`` = within ``tolerance``. With ``warn``, one
    :class:`RoofprofWarning` per disagreement, with the numbers.
    """
    rows: list[dict[str, Any]] = []
    names: list[Any] = (list(kernels["device_name"].dropna().unique())
                        if "device_name" in kernels else [])
    for device_name in names:
        entry = get(gpu) if isinstance(gpu, str) else gpu or find(str(device_name))
        if entry is None:
            if warn:
                warnings.warn(f"device {device_name!r} is not in the GPU catalog: its measured "
                              "peaks were not checked", RoofprofWarning, stacklevel=2)
            continue
        sub = kernels[kernels["device_name"] == device_name]
        clock = (sub["sm_clock_hz"].to_numpy(dtype=np.float64, na_value=np.nan)
                 if "sm_clock_hz" in sub else np.full(len(sub), np.nan))
        for quantity, (column, scaled) in _CHECKED.items():
            expected = entry.dram_bytes_per_s if quantity == "dram" else entry.peak(quantity)
            if expected is None or column not in sub:
                continue
            peak = sub[column].to_numpy(dtype=np.float64, na_value=np.nan)
            if scaled:
                at_boost = (peak * entry.boost_clock_hz / clock if entry.boost_clock_hz
                            else np.full(len(peak), np.nan))
            else:
                at_boost = peak
            known = np.isfinite(peak) & (peak > 0)
            if not known.any():
                continue
            good = at_boost[known & np.isfinite(at_boost)]
            median = float(np.median(good)) if len(good) else math.nan
            ratio = median / expected
            rows.append({"device_name": str(device_name), "gpu": entry.name,
                         "quantity": quantity, "catalog": expected,
                         "measured_min": float(peak[known].min()),
                         "measured_max": float(peak[known].max()),
                         "measured_at_boost": median, "ratio": ratio,
                         "kernels": int(known.sum()),
                         "ok": bool(abs(ratio - 1) <= tolerance) if math.isfinite(ratio)
                         else None})
    out = pd.DataFrame(rows, columns=list(CHECK_COLUMNS))
    if warn:
        for r in out.to_dict("records"):
            if r["ok"] is False:
                unit = "B/s" if r["quantity"] == "dram" else "FLOP/s"
                where = "" if r["quantity"] == "dram" else " at boost clock"
                warnings.warn(
                    f"{r['device_name']}: measured {r['quantity']} peak "
                    f"{_si(r['measured_at_boost'])}{unit}{where} (per kernel "
                    f"{_si(r['measured_min'])}{unit} to {_si(r['measured_max'])}{unit}) is "
                    f"{r['ratio']:.2f}x the catalog's {_si(r['catalog'])}{unit} for {r['gpu']}",
                    RoofprofWarning, stacklevel=2)
    return out


# ------------------------------------------------------------------------------- text views


def _si(value: float) -> str:
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}"
    return f"{value:.3g} "
