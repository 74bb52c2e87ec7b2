"""Per-range latency from a timing trace: how long each instance of a range took, and its
percentiles per range name (a ``decode`` step ~ time per output token, a ``prefill`` ~ time to
first token; per request where request ranges exist).

An instance is one push/pop (or ``record_function``) range on one thread: its name, level and
its own start and end (``nvtx_start_ns`` / ``nvtx_end_ns`` of the timing table). For each:

- ``wall_ns``: end - start of the range itself (what the caller waited: launches, host work and
  any synchronisation inside the range);
- ``gpu_span_ns``: from the first start to the last end of the kernels launched inside it;
- ``kernel_ns``: the sum of those kernels' durations (GPU busy time), and ``kernels``.

Ranges open only at a CUDA graph's capture (times -1 in the timing table) did not run at the
replay and have no instances; a replay's kernels count towards the ranges open at its launch.
A range never closed (its end the largest time, ``parsers.stacks.NEVER_CLOSED_NS``: still
open when the trace ended, as NCCL's ``ncclCommInitRankConfig`` was on 2 H200s) has no wall
time: ``wall_ns`` is null, the percentiles are of the closed instances, and ``open`` counts
the others.
Only ranges that launched at least one kernel are seen. Percentiles interpolate linearly between
order statistics (numpy's default); with few instances p99 is close to the maximum.

Analysis is pure (tables in, tables out); :func:`plot` draws a histogram and a CDF on axes it is
given or makes, and never shows.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from roofprof.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from roofprof.tables.timing import TimingTrace

PERCENTILES = (50, 90, 99)
METRICS = ("wall_ns", "gpu_span_ns", "kernel_ns")


def instances(trace: TimingTrace) -> pd.DataFrame:
    """One row per range instance: ``range`` (its name), ``path`` (with its parents),
    ``depth``, ``source`` (the trace it is in), ``thread_id``, ``start_ns``, ``end_ns``, and the
    metrics of the module docstring."""
    import numpy as np
    import pandas as pd

    k = trace.kernels
    if "nvtx_start_ns" not in k or "nvtx_end_ns" not in k:
        raise InputError(f"{', '.join(trace.meta.get('sources') or ['the trace'])}: no range "
                         "times (a counters or joined trace); give the timing trace "
                         "(roofprof trace, Kineto .json/.json.gz or nsys .sqlite)")
    rows: list[tuple[Any, ...]] = []
    thread = k["thread_id"].astype("Int64").fillna(-1).to_numpy() if "thread_id" in k \
        else np.full(len(k), -1)
    for i, (names, starts, ends) in enumerate(zip(k["nvtx"], k["nvtx_start_ns"],
                                                  k["nvtx_end_ns"], strict=True)):
        for d, (name, s, e) in enumerate(zip(names, starts, ends, strict=False)):
            if s >= 0:
                rows.append((i, d, name, "/".join(names[:d + 1]), int(thread[i]), s, e))
    cols = ["row", "depth", "range", "path", "thread_id", "start_ns", "end_ns"]
    ex = pd.DataFrame(rows, columns=cols)
    if ex.empty:
        return pd.DataFrame(columns=[*cols[1:], "source", *METRICS, "kernels"])
    ex["k_start"] = k["start_ns"].to_numpy()[ex["row"]]
    ex["k_end"] = k["end_ns"].to_numpy()[ex["row"]]
    ex["k_dur"] = k["duration_ns"].to_numpy()[ex["row"]]
    # several traces (a glob) may share thread ids and clocks: an instance is per source
    ex["source"] = (k["source"].astype("string").fillna("").to_numpy(dtype=object)
                    if "source" in k else np.full(len(k), "", dtype=object))[ex["row"]]
    g = ex.groupby(["source", "thread_id", "depth", "range", "path", "start_ns", "end_ns"],
                   sort=False)
    out = g.agg(first=("k_start", "min"), last=("k_end", "max"), kernel_ns=("k_dur", "sum"),
                kernels=("row", "size")).reset_index()
    from parsers.stacks import NEVER_CLOSED_NS

    wall = (out["end_ns"] - out["start_ns"]).astype("float64")
    out["wall_ns"] = wall.where(out["end_ns"] < NEVER_CLOSED_NS)
    out["gpu_span_ns"] = (out["last"] - out["first"]).astype("float64")
    out["kernel_ns"] = out["kernel_ns"].astype("float64")
    out = out.sort_values(["start_ns", "depth"], kind="stable").reset_index(drop=True)
    return out[["range", "path", "depth", "source", "thread_id", "start_ns", "end_ns",
                *METRICS, "kernels"]]


def select(inst: pd.DataFrame, ranges: Sequence[str] = ()) -> pd.DataFrame:
    """Instances whose name matches one of the regular expressions ``ranges`` (all if none)."""
    if not ranges:
        return inst
    try:
        patterns = [re.compile(r) for r in ranges]
    except re.error as exc:
        raise InputError(f"invalid --range regular expression: {exc}") from None
    keep = inst["range"].map(lambda n: any(p.search(str(n)) for p in patterns))
    return inst[keep.astype(bool)]


def percentiles(inst: pd.DataFrame, by: str = "range") -> pd.DataFrame:
    """Per range name (``by="range"``) or path: instances, those never closed (``open``),
    p50/p90/p99/max of each metric (ns) over the instances that have it (null where none
    does), mean kernels per instance; the most total wall time first."""
    import numpy as np
    import pandas as pd

    records = []
    for key, part in inst.groupby(by, sort=False):
        rec: dict[str, Any] = {by: key, "instances": len(part),
                               "open": int(part["wall_ns"].isna().sum()),
                               "kernels": float(part["kernels"].mean())}
        for m in METRICS:
            v = part[m].to_numpy("float64")
            v = v[~np.isnan(v)]
            for p in PERCENTILES:
                rec[f"{m[:-3]}_p{p}_ns"] = float(np.percentile(v, p)) if len(v) else np.nan
            rec[f"{m[:-3]}_max_ns"] = float(v.max()) if len(v) else np.nan
            rec[f"{m[:-3]}_total_ns"] = float(v.sum()) if len(v) else np.nan
        records.append(rec)
    table = pd.DataFrame(records)
    if table.empty:
        return table
    return table.sort_values("wall_total_ns", ascending=False, kind="stable",
                             na_position="last").reset_index(drop=True)


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
    import json

    def plain(rows: list[dict[Any, Any]]) -> list[dict[Any, Any]]:  # NaN: null, not NaN
        return [{k: None if isinstance(v, float) and math.isnan(v) else v
                 for k, v in r.items()}
                for r in rows]

    return json.dumps({"percentiles": plain(table.to_dict(orient="records")),
                       "instances": plain(inst.to_dict(orient="records"))}, indent=1,
                      default=str)


def default_ranges(inst: pd.DataFrame, top: int = 6) -> list[str]:
    """The ranges to draw when none are named: the phase ranges (prefill, decode, ...) if any,
    else the names with the most total wall time."""
    from roofprof.inputs.attribution import UNKNOWN_PHASE, phase_of

    names = list(dict.fromkeys(inst["range"]))
    phases = [n for n in names if phase_of([n]) != UNKNOWN_PHASE]
    if phases:
        return phases[:top]
    totals = inst.groupby("range")["wall_ns"].sum().sort_values(ascending=False)
    return [str(n) for n in totals.index[:top]]


def plot(inst: pd.DataFrame, names: Sequence[str], metric: str = "wall_ns",
         axes: Any = None, title: str | None = None, label: str | None = None) -> Any:
    """Histogram (left) and CDF (right) of ``metric`` per range name, in ms. ``axes``: two
    matplotlib Axes, or None for a new figure; ``label`` names the quantity on the x axes.
    Returns the axes."""
    import matplotlib.pyplot as plt
    import numpy as np
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

    from roofprof.tables.files import atomic_output

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
    from pathlib import Path

    from roofprof.errors import OutputError, UsageError

    out = Path(output)
    suffix = out.suffix.lower()
    if suffix == ".json":
        try:
            out.write_text(to_json(table, inst))
        except OSError as exc:
            raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    elif suffix in (".png", ".svg", ".pdf"):
        named = bool(ranges) and by == "range" and len(table) > 0
        names = [str(n) for n in table["range"]] if named else default_ranges(inst)
        write_plot(inst, names, str(out), metric=metric)
    else:
        raise UsageError(f"{out}: write .png, .svg, .pdf or .json")
