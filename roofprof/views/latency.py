"""Per-range latency (:mod:`roofprof.analysis.latency`) as a terminal table, JSON, or a
histogram and CDF (matplotlib, drawn on axes given or made; never shown)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from roofprof.analysis.latency import PERCENTILES, default_ranges
from roofprof.errors import UsageError
from roofprof.tables.files import atomic_output, write_text


def _ms(ns: float) -> str:
    return "-" if math.isnan(ns) else f"{ns / 1e6:.3f}"  # NaN: no closed instance


def format_table(table: pd.DataFrame, by: str = "range") -> str:
    """Wall-time percentiles (ms) per range, with the GPU span's p50 and p99 beside."""
    if table.empty:
        return "no range launched a kernel\n"
    head = [by, "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "GPU span p50", "GPU span p99",
            "kernels"]
    rows = [[str(r[by]), str(r["instances"]), _ms(r["wall_p50_ns"]), _ms(r["wall_p90_ns"]),
             _ms(r["wall_p99_ns"]), _ms(r["wall_max_ns"]), _ms(r["gpu_span_p50_ns"]),
             _ms(r["gpu_span_p99_ns"]), f"{r['kernels']:.0f}"] for _, r in table.iterrows()]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(head, widths, strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True)))
              for row in rows]
    lines += [f"{r[by]}: {r['open']} of {r['instances']} instance(s) never closed (open when "
              "the trace ended): no wall time; percentiles of the closed ones"
              for _, r in table.iterrows() if r.get("open", 0)]
    return "\n".join(lines) + "\n"


def to_json(table: pd.DataFrame, inst: pd.DataFrame) -> str:
    """Percentiles per range and every instance, as JSON (times in ns)."""
    def plain(rows: list[dict[Any, Any]]) -> list[dict[Any, Any]]:  # NaN: null, not NaN
        return [{k: None if isinstance(v, float) and math.isnan(v) else v
                 for k, v in r.items()}
                for r in rows]

    return json.dumps({"percentiles": plain(table.to_dict(orient="records")),
                       "instances": plain(inst.to_dict(orient="records"))}, indent=1,
                      default=str)


def plot(inst: pd.DataFrame, names: Sequence[str], metric: str = "wall_ns",
         axes: Any = None, title: str | None = None, label: str | None = None) -> Any:
    """Histogram (left) and CDF (right) of ``metric`` per range name, in ms. ``axes``: two
    matplotlib Axes, or None for a new figure; ``label`` names the quantity on the x axes.
    Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    hist, cdf = axes
    label = label or {"wall_ns": "range wall time", "gpu_span_ns": "GPU span",
                      "kernel_ns": "kernel time"}[metric]
    series = {n: np.sort(inst.loc[inst["range"] == n, metric].dropna().to_numpy("float64"))
              / 1e6 for n in names}
    series = {n: v for n, v in series.items() if len(v)}
    every = np.concatenate(list(series.values())) if series else np.asarray([1.0])
    low, high = max(float(every.min()), 1e-6), max(float(every.max()), 1e-6)
    log = high / low > 50  # ranges of very different lengths: one log axis shows them all
    edges = np.geomspace(low, high * 1.0001, 41) if log else \
        np.linspace(low, high * 1.0001 if high > low else low + 1e-3, 41)
    for name, v in series.items():
        p50, p99 = np.percentile(v, 50), np.percentile(v, 99)
        tag = f"{name} (n={len(v)}, p50 {p50:.3g} ms, p99 {p99:.3g} ms)"
        hist.hist(v, bins=edges, alpha=0.55, label=tag)
        cdf.step(np.concatenate([[v[0]], v]), np.arange(len(v) + 1) / len(v), where="post",
                 label=name)
    if log:
        hist.set_xscale("log")
        cdf.set_xscale("log")
    hist.set_xlabel(f"{label} (ms)")
    hist.set_ylabel("instances")
    hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    hist.legend(fontsize=8)
    cdf.set_xlabel(f"{label} (ms)")
    cdf.set_ylabel("fraction of instances ≤ x")
    cdf.set_ylim(0, 1.02)
    cdf.grid(alpha=0.3)
    for p in PERCENTILES:
        cdf.axhline(p / 100, color="0.6", lw=0.6, ls=":")
    hist.figure.suptitle(title or f"Latency per range: {label}")
    return axes


def write_plot(inst: pd.DataFrame, names: Sequence[str], output: str, metric: str = "wall_ns",
               title: str | None = None, label: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = plot(inst, names, metric=metric, title=title, label=label)
    fig = axes[0].figure
    fmt = str(output).rsplit(".", 1)[-1].lower()
    try:
        with atomic_output(output) as fh:
            fig.savefig(fh, format=fmt, dpi=130)
    finally:
        plt.close(fig)


def write(inst: pd.DataFrame, table: pd.DataFrame, output: str | os.PathLike[str],
          ranges: Sequence[str] = (), by: str = "range", metric: str = "wall_ns") -> None:
    """``-o``: JSON (.json) or the histogram and CDF (.png/.svg/.pdf) of the named ranges (of
    :func:`default_ranges` when none are named)."""
    out = Path(output)
    suffix = out.suffix.lower()
    if suffix == ".json":
        write_text(out, to_json(table, inst))  # atomic: complete or not at all
    elif suffix in (".png", ".svg", ".pdf"):
        named = bool(ranges) and by == "range" and len(table) > 0
        names = [str(n) for n in table["range"]] if named else default_ranges(inst)
        write_plot(inst, names, str(out), metric=metric)
    else:
        raise UsageError(f"{out}: write .png, .svg, .pdf or .json")
