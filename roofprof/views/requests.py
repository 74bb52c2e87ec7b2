"""Per-request latency (:mod:`roofprof.analysis.requests`) as a terminal table, JSON, or a
histogram and CDF of the three metrics."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from roofprof.analysis.requests import METRICS
from roofprof.errors import UsageError
from roofprof.tables.files import atomic_output
from roofprof.views.latency import write_plot


def format_table(table: pd.DataFrame, req: pd.DataFrame) -> str:
    """The percentiles (ms) per metric, and what was left out."""
    def ms(ns: float) -> str:
        return "-" if math.isnan(ns) else f"{ns / 1e6:.3f}"

    head = ["per request", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    rows = [[str(r["label"]), str(r["n"]), ms(r["p50_ns"]), ms(r["p90_ns"]), ms(r["p99_ns"]),
             ms(r["max_ns"])] for _, r in table.iterrows()]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    out = [line(head), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
    steps = req["steps"].to_numpy()
    out.append(f"{len(req)} requests, {int(steps.sum())} steps (mean {steps.mean():.1f} a "
               "request)")
    lonely = int((steps == 0).sum())
    if lonely:
        out.append(f"{lonely} request(s) without steps (no prefill/decode range inside them on "
                   "their thread): no time to first token or per output token")
    return "\n".join(out) + "\n"


def to_json(table: pd.DataFrame, req: pd.DataFrame) -> str:
    """Percentiles per metric and every request, as JSON (times in ns; null where unknown)."""
    def records(df: pd.DataFrame) -> list[dict[str, Any]]:
        return [{str(k): (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in r.items()} for r in df.to_dict(orient="records")]

    return json.dumps({"percentiles": records(table), "requests": records(req)}, indent=1,
                      default=str)


def write(req: pd.DataFrame, table: pd.DataFrame, output: str) -> None:
    """``-o``: JSON (.json) or the histogram and CDF (.png/.svg/.pdf) of the three metrics."""
    suffix = output.rsplit(".", 1)[-1].lower() if "." in output else ""
    if suffix == "json":
        with atomic_output(output) as fh:
            fh.write(to_json(table, req).encode())
    elif suffix in ("png", "svg", "pdf"):
        long = pd.concat([pd.DataFrame({"range": label, "wall_ns": req[col]}).dropna()
                          for col, label in METRICS.items()], ignore_index=True)
        write_plot(long, list(METRICS.values()), output, label="per request",
                   title="Latency per request")
    else:
        raise UsageError(f"{output}: write .png, .svg, .pdf or .json")
