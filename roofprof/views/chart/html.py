"""The interactive roofline: one self-contained HTML page (opens offline, no script from
elsewhere), the same drawing as the PNG plus every number on hover.

The figure is the matplotlib renderer's own SVG (:mod:`.static`), so the page and the image
can never disagree; a small script attaches each kernel's and each aggregate's numbers to its
marker (``data-k`` / ``data-agg`` attributes) and shows them on hover. Under the figure: the
summary of the plotted groups (the numbers ``roofprof summary`` prints) and the kernels that
are not on the plot, with why. Every user-controlled string is escaped.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd

from roofprof.analysis.roofline import LEVEL_LABELS, PRECISION_LABELS
from roofprof.views.chart.scene import Scene
from roofprof.views.chart.static import Drawing, render
from roofprof.views.fmt import duration, html_escape, intensity, pct, si
from roofprof.views.tables import PARTIAL_NOTE, bound_text, partial, records

_SCRIPT = """
(function(){
  const data = JSON.parse(document.getElementById('roofprof-data').textContent);
  const tip = document.getElementById('tip');
  function hook(el, html){
    el.addEventListener('mousemove', e => {
      tip.innerHTML = html; tip.style.display = 'block';
      tip.style.left = (e.pageX + 14) + 'px'; tip.style.top = (e.pageY + 14) + 'px';
    });
    el.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
  }
  function marks(id){
    const g = document.getElementById(id);
    return g ? [...g.querySelectorAll('use, path')].filter(e => !e.closest('defs')) : [];
  }
  for (const [gid, rows] of Object.entries(data.points)) {
    marks(gid).forEach((el, i) => {
      if (i < rows.length) { el.setAttribute('data-k', rows[i]); hook(el, data.kernels[rows[i]]); }
    });
  }
  for (const [gid, i] of Object.entries(data.aggregates)) {
    marks(gid).forEach(el => { el.setAttribute('data-agg', i); hook(el, data.groups[i]); });
  }
  for (const [gid, i] of Object.entries(data.models)) {
    marks(gid).forEach(el => { el.setAttribute('data-model', i); hook(el, data.model[i]); });
  }
  document.body.setAttribute('data-ready', '1');
})();
"""

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1em 2em;color:#222}
#fig svg{max-width:100%;height:auto}
#tip{position:absolute;display:none;background:#fff;border:1px solid #999;padding:6px 8px;
     font-size:12px;border-radius:4px;box-shadow:0 2px 6px rgba(0,0,0,.2);pointer-events:none;
     max-width:520px;z-index:10}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}
th,td{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:right}
th:first-child,td:first-child{text-align:left}
caption{text-align:left;font-weight:bold;padding:.3em 0}
#partial-note{font-size:13px;color:#555;margin:-1em 0 1.5em}
"""


def to_html(scene: Scene) -> str:
    """The page of a scene: its SVG, hover data, group summary and the kernels not drawn."""
    import matplotlib

    # text stays text (small, selectable); ids are stable from one run to the next
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "roofprof"}):
        drawing = render(scene)
        buf = io.StringIO()
        fig: Any = drawing.ax.figure
        fig.savefig(buf, format="svg", bbox_inches="tight",
                                  metadata={"Date": None}, bbox_extra_artists=_legends(drawing))
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # a density plot draws cells, not kernels: hover on the aggregates only
    data = {"points": {} if scene.density else drawing.points,
            "aggregates": drawing.aggregates,
            "kernels": [] if scene.density else _kernel_tips(scene),
            "groups": [_group_tip(a.numbers, a.series) for a in scene.aggregates],
            "models": drawing.models, "model": [_model_tip(m.name, m.numbers)
                                                for m in scene.models]}
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html_escape(scene.title)}</title><style>{_STYLE}</style></head><body>"
        f"<div id='fig'>{svg}</div><div id='tip'></div>"
        f"{_summary_table(scene)}{_not_drawn_table(scene)}"
        f"<script type='application/json' id='roofprof-data'>{payload}</script>"
        f"<script>{_SCRIPT}</script></body></html>\n")


def _legends(d: Drawing) -> list[Any]:
    return [a for a in [*d.ax.artists, d.ax.get_legend()] if a is not None]


def _kernel_tips(s: Scene) -> list[str]:
    k = s.kernels
    total = float(np.nansum(k["time_ns"])) if len(k) else 0.0
    cols = {c: k[c].tolist() for c in k.columns}
    out = []
    for i in range(len(k)):
        unit = "OP" if cols["precision"][i] == "tensor_int8" else "FLOP"
        lines = [f"<b>{html_escape(cols.get('kernel', ['?'] * len(k))[i])}</b>"]
        for c in ("range", "phase", "op", "category"):
            v = cols.get(c, [None] * len(k))[i]
            if not _blank(v):
                lines.append(f"{c}: {html_escape(v)}")
        t = cols["time_ns"][i]
        lines.append(f"time: {duration(t)} ({pct(t / total if total else None, 2)} of drawn)")
        lines.append(f"{PRECISION_LABELS.get(str(cols['precision'][i]), '-')}: "
                     f"{si(cols['work'][i], unit)}, {si(cols['y'][i], unit + '/s')}")
        for lvl in s.levels:
            lines.append(f"{LEVEL_LABELS[lvl]}: {si(cols[f'bytes_{lvl}'][i], 'B')}, AI "
                         f"{intensity(cols[f'x_{lvl}'][i])} {unit}/B")
        lines.append(f"% of roof: {pct(cols['pct_of_roof'][i])} · bound: "
                     f"{html_escape(cols['bound'][i])}")
        out.append("<br>".join(lines))
    return out


def _blank(v: Any) -> bool:
    return v is None or bool(pd.isna(v)) or v == ""


def _group_tip(r: dict[str, Any], series: str | None) -> str:
    unit = "OP" if r.get("precision") == "tensor_int8" else "FLOP"
    lines = [f"<b>{html_escape(r['group'])}</b>" + (f" · {html_escape(series)}" if series
                                                     else "") + " (aggregate)",
             f"{r['kernels']} kernels, {duration(r['time_ns'])} ({pct(r['time_share'])})",
             f"AI {LEVEL_LABELS.get(str(r['level']), '')}: {intensity(r['ai'])} {unit}/B",
             f"achieved {si(r['work_per_s'], unit + '/s')} · "
             f"{pct(r['pct_of_peak_compute'])} of peak compute",
             f"compute roof {si(r['peak_compute_per_s'], unit + '/s')} · bandwidth "
             f"{si(r['bytes_per_s'], 'B/s')} ({pct(r['pct_of_peak_bandwidth'])} of peak)",
             f"% of roof: {pct(r['pct_of_roof'])} · bound: {html_escape(r['bound'])} · "
             f"headroom {duration(r['headroom_ns'])}"]
    if partial(r):  # the numbers above are of part of the group
        lines.append(f"<i>partial: {pct(r['coverage'])} of its time measured; these are the "
                     "numbers of its measured kernels (time and share: the whole group's)</i>")
    return "<br>".join(lines)


def _model_tip(name: str, r: dict[str, Any]) -> str:
    def ratio(v: Any) -> str:
        return "-" if v is None else f"{v:.2f}x"

    def ns(seconds: Any) -> str:
        return duration(None if seconds is None else seconds * 1e9)

    return "<br>".join([
        f"<b>{html_escape(name)}</b> (MODEL ESTIMATE, not measured)",
        f"model: {si(r['model_flop'], 'FLOP')}, {si(r['model_bytes'], 'B')} DRAM, "
        f"{ns(r['model_time_s'])} at the roofs",
        f"measured: {si(r['measured_flop'], 'FLOP')}, {si(r['measured_bytes'], 'B')}, "
        f"{ns(r['measured_time_s'])} in {r['kernels']} kernels",
        f"measured / model: FLOPs {ratio(r['flop_ratio'])} (padding), bytes "
        f"{ratio(r['bytes_ratio'])}, time {ratio(r['time_ratio'])} (distance from the roof)"])


def _summary_table(s: Scene) -> str:
    if s.summary is None or not len(s.summary):
        return ""

    head = ["group", "kernels", "time", "share", "AI", "achieved", "% peak compute",
            "compute roof", "% peak BW", "% roof", "bound", "headroom"]
    rows = []
    for r in sorted(records(s.summary), key=lambda r: -(r["time_ns"] or 0)):
        unit = "OP/s" if r["precision"] == "tensor_int8" else "FLOP/s"
        cells = [r["group"], r["kernels"], duration(r["time_ns"]), pct(r["time_share"]),
                 intensity(r["ai"]), si(r["work_per_s"], unit), pct(r["pct_of_peak_compute"]),
                 si(r["peak_compute_per_s"], unit), pct(r["pct_of_peak_bandwidth"]),
                 pct(r["pct_of_roof"]), bound_text(r), duration(r["headroom_ns"])]
        rows.append("<tr>" + "".join(f"<td>{html_escape(c)}</td>" for c in cells) + "</tr>")
    level = LEVEL_LABELS[s.levels[0]]
    note = (f"<p id='partial-note'>{html_escape(PARTIAL_NOTE)}</p>"
            if any(partial(r) for r in records(s.summary)) else "")
    return (f"<table id='groups'><caption>Groups ({html_escape(level)}): the numbers of "
            "<code>roofprof summary</code></caption><thead><tr>"
            + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>" + "".join(rows)
            + f"</tbody></table>{note}")


def _not_drawn_table(s: Scene) -> str:
    k = s.not_drawn
    if k is None or not len(k):
        return ""
    body = []

    for r in records(k):
        body.append(f"<tr><td>{html_escape(r['kernel'])}</td><td>"
                    f"{html_escape(r['range']) or '(none)'}</td><td>{r['launches']}</td>"
                    f"<td>{duration(r['time_ns'])}</td><td>{pct(r['pct_of_roof'])}</td>"
                    f"<td>{html_escape(r['why'])}</td></tr>")
    return ("<table id='not-drawn'><caption>"
            f"{int(k['launches'].sum()):,} kernels not on the roofline</caption><thead><tr>"
            "<th>kernel</th><th>range</th><th>launches</th><th>time</th><th>% of roof</th>"
            "<th>why</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>")
