"""The GPU catalog (:mod:`roofprof.analysis.catalog`) as text: the whole catalog, one entry
with its sparse peaks, ridge points and sources (and as JSON), and a trace's peak check."""

from __future__ import annotations

import json
import math

import pandas as pd

from roofprof.analysis.catalog import Gpu, gpus, table
from roofprof.tables.metrics import PRECISIONS
from roofprof.views.tables import records
from roofprof.views.texttable import render

_SHORT = {"fp64": "FP64", "tensor_fp64": "FP64 TC", "fp32": "FP32", "fp16": "FP16",
          "tensor_tf32": "TF32 TC", "tensor_fp16": "FP16 TC", "tensor_bf16": "BF16 TC",
          "tensor_fp8": "FP8 TC", "tensor_int8": "INT8 TC"}


def _t(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value / 1e12:,.4g}"


def format_catalog(catalog: tuple[Gpu, ...] | None = None) -> str:
    """The catalog as a terminal table: dense peaks in TFLOP/s (INT8: TOPS)."""
    precisions = ("fp64", "tensor_fp64", "fp32", "tensor_tf32", "tensor_fp16", "tensor_bf16",
                  "tensor_fp8", "tensor_int8")
    head = ["gpu", "arch", "SMs", "boost", "memory", "GB/s", "L2",
            *(_SHORT[p] for p in precisions)]
    rows = [[g.name, g.architecture, str(g.sm_count or "-"),
             f"{g.boost_clock_hz / 1e6:.0f} MHz" if g.boost_clock_hz else "-",
             f"{g.memory_bytes / 1e9:.0f} GB {g.memory_type or ''}".rstrip(),
             f"{g.dram_bytes_per_s / 1e9:,.0f}",
             f"{g.l2_bytes / 2**20:.0f} MiB" if g.l2_bytes else "-",
             *(_t(g.peak(p)) for p in precisions)] for g in catalog or gpus()]
    return render(head, rows, right=set(range(2, len(head))) - {4},
                  notes=["dense peaks in TFLOP/s (INT8: TOPS), without sparsity; TC = tensor "
                         "cores; `roofprof gpus NAME` shows the sparse peaks and sources"])


def _ridge(peak: float | None, bandwidth: float) -> str:
    return "-" if peak is None else f"{peak / bandwidth:,.0f}"


def format_entry(gpu: Gpu) -> str:
    """One entry: every number with its unit, dense and sparse peaks, sources."""
    lines = [f"{gpu.name} ({gpu.architecture}, compute capability {gpu.cc or '?'})",
             f"  device names: {', '.join(gpu.device_names)}",
             f"  aliases: {', '.join(gpu.aliases) or '-'}",
             f"  SMs: {gpu.sm_count or '-'}   boost clock: "
             f"{f'{gpu.boost_clock_hz / 1e6:.0f} MHz' if gpu.boost_clock_hz else '-'}",
             f"  memory: {gpu.memory_bytes / 1e9:.0f} GB {gpu.memory_type or ''} at "
             f"{gpu.dram_bytes_per_s / 1e9:,.0f} GB/s   L2: "
             f"{f'{gpu.l2_bytes / 2**20:.0f} MiB' if gpu.l2_bytes else '-'}", ""]
    rows = [[p, _t(gpu.dense.get(p)), _t(gpu.sparse.get(p)),
             _ridge(gpu.peak(p), gpu.dram_bytes_per_s)]
            for p in PRECISIONS if p in gpu.dense or p in gpu.sparse]
    table_text = render(["precision", "dense TFLOP/s", "sparse TFLOP/s", "ridge FLOP/B"],
                        rows, right={1, 2, 3})
    lines += ["  " + ln for ln in table_text.splitlines()]
    lines += ["", "  sources:", *(f"    {s['title']}\n      {s['url']}" for s in gpu.sources)]
    if gpu.notes:
        lines.append(f"  note: {gpu.notes}")
    return "\n".join(lines) + "\n"


def format_check(check: pd.DataFrame) -> str:
    """:func:`roofprof.analysis.catalog.check_peaks`'s result as a terminal table."""
    rows = []
    for r in check.to_dict("records"):
        div = 1e9 if r["quantity"] == "dram" else 1e12
        rows.append([str(r["device_name"]), str(r["gpu"]), str(r["quantity"]),
                     *(f"{float(r[c]) / div:,.4g}" for c in
                       ("catalog", "measured_min", "measured_max", "measured_at_boost")),
                     f"{float(r['ratio']):.3f}", "ok" if r["ok"] else "DIFFERS"])
    return render(["device", "catalog entry", "quantity", "catalog", "measured min",
                   "measured max", "at boost", "ratio", ""], rows, right={3, 4, 5, 6, 7},
                  notes=["GB/s for dram, TFLOP/s (INT8: TOPS) otherwise; per-kernel peaks are "
                         "at each kernel's own SM clock, 'at boost' scales their median to the "
                         "catalog's boost clock"])


def entry_json(gpu: Gpu) -> str:
    """One entry as JSON: its catalog row, with its sparse peaks, sources and device names."""
    return json.dumps({**records(table((gpu,)))[0], "sparse": gpu.sparse,
                       "sources": list(gpu.sources), "device_names": list(gpu.device_names)},
                      indent=1) + "\n"
