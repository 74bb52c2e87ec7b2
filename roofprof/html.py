"""Interactive roofline as one self-contained HTML file (plotly, inlined: opens offline).

Same data and roofs as :mod:`roofprof.chart`; hovering a point shows the kernel, its range, time,
FLOPs, bytes, arithmetic intensity and % of roof. Every kernel name is in the file. Traces with
more than ``max_points`` kernels are drawn one point per (kernel name, range), time-summed, so
the file stays small enough for a browser. plotly is imported only when a page is made.
"""

# plotly, numpy and pandas are imported inside functions on purpose (import roofprof stays light)

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roofprof.atomic import atomic_output
from roofprof.errors import UsageError

MAX_POINTS = 20_000


def _collapse(k: Any) -> Any:
    """One row per (kernel, range): sums, with AI and FLOP/s recomputed from the sums and
    % of roof the time-weighted mean of the launches' own."""
    import numpy as np

    cols = [c for c in ("kernel", "range") if c in k.columns]
    k = k.assign(**{f"_w_{c}": k["duration_ns"] * k[c] for c in k.columns
                    if c.startswith("pct_of_roof_")})
    g = k.groupby(cols, dropna=False, sort=False, observed=True)
    sums = [c for c in k.columns if c.startswith("_w_") or c in (
        "duration_ns", "work", "flop", "dram_bytes", "l2_bytes", "l1_bytes")]
    out = g[sums].sum(min_count=1)
    out["launches"] = g.size()
    out = out.join(g[["precision", "group"]].first()).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["work_per_s"] = out["work"] / (out["duration_ns"] * 1e-9)
        for lvl in ("dram", "l2", "l1"):
            if f"{lvl}_bytes" in out.columns:
                out[f"ai_{lvl}"] = out["work"] / out[f"{lvl}_bytes"]
        for c in [c for c in out.columns if c.startswith("_w_")]:
            out[c[3:]] = out[c] / out["duration_ns"]
    return out


def figure(table_or_trace: Any, *, by: str = "range", levels: Sequence[str] = ("dram",),
           filter: str | None = None, title: str | None = None, depth: int | None = None,
           max_points: int = MAX_POINTS) -> Any:
    """A plotly Figure of the measured roofline (log-log, measured roofs, hover details)."""
    import numpy as np
    import plotly.graph_objects as go

    from roofprof import chart as P
    from roofprof.roofline import PRECISION_LABELS, duration, elide, si

    d, table = P._prepare(table_or_trace, by, levels, filter, depth)
    k = d.kernels.copy()
    k["group"] = np.asarray(d.group_names, dtype=object)[d.group_codes] if len(k) else []
    k["precision"] = k["precision"].astype(object)
    collapsed = len(k) > max_points
    if collapsed:
        k = _collapse(k)
    else:
        k["launches"] = 1
    fig = go.Figure()
    (x0, x1), (y0, y1) = P._limits(d)
    top = max((r.peak for r in d.roofs), default=y1)
    max_bw = max(d.bandwidth.values(), default=0.0)
    for roof in d.roofs:
        start = roof.peak / max_bw if max_bw else x0
        fig.add_trace(go.Scatter(x=[start, x1], y=[roof.peak, roof.peak], mode="lines",
                                 line={"color": "#333333", "width": 2},
                                 name=roof.text, hoverinfo="name"))
    for lvl, bw in d.bandwidth.items():
        end = min(top / bw, x1)
        fig.add_trace(go.Scatter(x=[x0, end], y=[x0 * bw, end * bw], mode="lines",
                                 line={"color": P.BW_COLOURS.get(lvl, "#333"), "width": 2},
                                 name=f"{P._level_name(lvl)} {si(bw, 'B/s')}",
                                 hoverinfo="name"))
    colour_of = dict(zip(d.group_names, d.colours, strict=True))
    total = d.total_ns or 1.0
    dur = k["duration_ns"].to_numpy(dtype=np.float64)
    sizes = np.clip(np.sqrt(dur / total) * 60.0, 4.0, 40.0)
    symbols = {"o": "circle", "D": "diamond", "P": "cross", "p": "pentagon", "X": "x",
               "h": "hexagon", "s": "square", "d": "diamond-wide", "^": "triangle-up"}
    for lvl in d.levels:
        hover = [
            f"<b>{_esc(name)}</b>" + (f" ×{n}" if n > 1 else "") +
            f"<br>range: {_esc(rng) or '(none)'}<br>time: {duration(t)} "
            f"({100 * t / total:.2f}%)<br>{PRECISION_LABELS.get(str(p), str(p))}: "
            f"{si(w, 'FLOP')}, {si(wps, 'FLOP/s')}<br>{P._level_name(lvl)} bytes: {si(b, 'B')}"
            f"<br>AI ({P._level_name(lvl)}): {ai:.3g} FLOP/B<br>% of roof: "
            + ("-" if not np.isfinite(pct) else f"{100 * pct:.1f}%")
            for name, rng, t, p, w, wps, b, ai, pct, n in zip(
                k["kernel"].astype(object).fillna("?"), k["range"].astype(object).fillna(""),
                dur, k["precision"], k["work"], k["work_per_s"], k[f"{lvl}_bytes"],
                k[f"ai_{lvl}"], k[f"pct_of_roof_{lvl}"], k["launches"], strict=True)
        ]
        groups = k["group"].astype(object).to_numpy()
        marker_symbols = [symbols[P.MARKERS.get(str(p), "o")] for p in k["precision"]]
        legend_order = [d.group_names[i] for i in d.shown]
        for g in dict.fromkeys([*legend_order, *groups]):
            sel = np.flatnonzero(groups == g)
            if not len(sel):
                continue
            hollow = len(d.levels) > 1 and P.LEVEL_STYLE[lvl]["hollow"]
            fig.add_trace(go.Scattergl(
                x=k[f"ai_{lvl}"].to_numpy(dtype=np.float64)[sel],
                y=k["work_per_s"].to_numpy(dtype=np.float64)[sel],
                mode="markers", name=f"{elide(str(g), 40)}" + (f" ({P._level_name(lvl)})"
                                                            if len(d.levels) > 1 else ""),
                legendgroup=str(g),
                marker={"size": sizes[sel], "color": colour_of.get(g, P.OTHER),
                        "symbol": [marker_symbols[i] + ("-open" if hollow else "") for i in sel],
                        "opacity": 0.8, "line": {"width": 0.5, "color": "white"}},
                text=[hover[i] for i in sel], hovertemplate="%{text}<extra></extra>"))
    if title is None:
        meta = getattr(table_or_trace, "meta", None) or {}
        gpus = [str(g) for g in meta.get("gpu") or [] if g]
        if not gpus and "device_name" in table.columns:
            gpus = [str(g) for g in table["device_name"].dropna().unique()[:3]]
        title = ", ".join(gpus) or "unknown GPU"
    sub = f"measured roofline · {d.n_all:,} kernels, {duration(d.total_ns)} GPU time"
    if filter:
        sub += f" · filter {filter!r}"
    if collapsed:
        sub += " · one point per (kernel, range)"
    sub += "".join(f" · {x}" for x in d.left_out)
    fig.update_layout(
        title={"text": f"{_esc(title)}<br><sup>{_esc(sub)}</sup>"},
        xaxis={"type": "log", "title": {"text": "Arithmetic intensity (FLOP/byte)"},
               "range": [np.log10(x0), np.log10(x1)]},
        yaxis={"type": "log", "title": {"text": "Performance (FLOP/s)"},
               "range": [np.log10(y0), np.log10(y1)]},
        template="plotly_white", hovermode="closest", legend={"font": {"size": 10}},
        width=None, height=720)
    return fig


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_html(table_or_trace: Any, **options: Any) -> str:
    """The interactive roofline as one HTML document with plotly.js inlined.

    Kernels that cannot sit on a roofline (no FLOPs, or no bytes or time) are listed in a table
    under the plot, judged by bandwidth where they can be, so every kernel is in the page.
    """
    from roofprof import chart as P

    fig = figure(table_or_trace, **options)
    page = str(fig.to_html(include_plotlyjs=True, full_html=True))
    d, _table = P._prepare(table_or_trace, options.get("by", "range"),
                           options.get("levels", ("dram",)), options.get("filter"),
                           options.get("depth"))
    extra = _not_drawn_table(d)
    return page.replace("</body>", extra + "</body>", 1) if extra else page


def _not_drawn_table(d: Any) -> str:
    """An HTML table of the kernels not on the plot, one row per (kernel, range)."""
    import numpy as np

    from roofprof.roofline import duration

    k = d.not_drawn
    if k is None or not len(k):
        return ""
    lvl = d.levels[0]
    k = k.assign(_w=k["duration_ns"] * k[f"pct_of_roof_{lvl}"],
                 kernel=k["kernel"].astype(object).fillna("?"),
                 range=k["range"].astype(object).fillna(""),
                 judged_by=k["judged_by"].astype(object))
    g = k.groupby(["kernel", "range", "judged_by"], dropna=False, sort=False)
    rows = g.agg(launches=("duration_ns", "size"), time=("duration_ns", "sum"),
                 nbytes=(f"{lvl}_bytes", "sum"), w=("_w", lambda s: s.sum(min_count=1)))
    rows = rows.sort_values("time", ascending=False).reset_index()
    body = []
    for r in rows.itertuples(index=False):
        pct = r.w / r.time if r.time and np.isfinite(r.w) else float("nan")
        why = ("no FLOPs: % of peak bandwidth" if r.judged_by == "bandwidth"
               else "no bytes or time counted")
        body.append(f"<tr><td>{_esc(r.kernel)}</td><td>{_esc(r.range) or '(none)'}</td>"
                    f"<td>{r.launches}</td><td>{duration(r.time)}</td>"
                    f"<td>{'-' if not np.isfinite(pct) else f'{100 * pct:.1f}%'}</td>"
                    f"<td>{why}</td></tr>")
    return (
        "<details open style='font-family:sans-serif;font-size:13px;margin:1em'>"
        f"<summary>{len(k):,} kernels not on the roofline ({d.levels[0].upper()})</summary>"
        "<table style='border-collapse:collapse' cellpadding='4'><thead><tr><th>kernel</th>"
        "<th>range</th><th>launches</th><th>time</th><th>% of roof</th><th>why</th></tr>"
        "</thead><tbody>" + "".join(body) + "</tbody></table></details>\n")


def write_html(table_or_trace: Any, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write :func:`to_html` to ``path`` atomically (temporary file, then rename)."""
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"{out}: an interactive roofline is written as .html")
    options.pop("label_top", None)  # static-plot options that have no meaning here
    options.pop("figsize", None)
    text = to_html(table_or_trace, **options)
    with atomic_output(out) as fh:
        fh.write(text.encode("utf-8"))
    return out
