"""Renderers of a :class:`roofprof.views.report.Report`: one self-contained HTML page, or
Markdown.

They only draw: every number comes from the report (and so from :mod:`roofprof.analysis.roofline`).

* HTML: one file that opens offline: the roofline figures are inline SVG drawn by the
  matplotlib renderer (:mod:`roofprof.views.chart.static`, text kept as text), no script, no font,
  no image from elsewhere. The first screen holds the title, the GPU, what part of the run the
  report is of where its options chose part of it (``<p class='scope'>``: a filter, only the
  launches with counters) and the verdict per phase (``<table id='verdicts'>``) with its
  diagnosis sentence.
* Markdown: the same sections as tables; the figures are PNG files written beside the ``.md``
  (``NAME_phase.png``, ``NAME_op_phase.png``) and referenced by relative path.

:func:`write` picks the renderer by the suffix (``.html``/``.htm`` or ``.md``) and writes every
file atomically.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from roofprof.analysis.labels import short_kernel
from roofprof.analysis.roofline import LEVEL_LABELS
from roofprof.errors import UsageError
from roofprof.tables.files import atomic_output, atomic_outputs
from roofprof.views.chart import draw
from roofprof.views.diagnosis import small_pct
from roofprof.views.fmt import duration, html_escape, intensity, pct, si
from roofprof.views.report import FIGURES
from roofprof.views.tables import bound_text, records

if TYPE_CHECKING:
    from roofprof.views.chart.scene import Scene
    from roofprof.views.report import Report

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1em 2em;color:#222;max-width:1400px}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin-top:1.6em}
.gpu{color:#555;margin:.2em 0 .8em}
.fig svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1em}
th,td{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:right}
th:first-child,td:first-child{text-align:left}
td.b-compute{color:#1a5fb4;font-weight:bold}td.b-memory{color:#c64600;font-weight:bold}
td.b-latency{color:#813d9c;font-weight:bold}td.b-unknown{color:#777}
#verdicts{font-size:15px}#verdicts td,#verdicts th{padding:5px 12px}
ul.diag li{margin:.3em 0}.note{color:#666;font-size:13px}
"""

Cell = str
Row = list[Cell]


def _records(df: Any) -> list[dict[str, Any]]:
    return records(df)


def verdict_rows(report: Report) -> tuple[Row, list[Row]]:
    """The headline table: per phase its share of time, verdict, % of roof and headroom."""
    head = ["phase", "time", "share", "bound", "% of roof", "% peak compute",
            f"% peak {LEVEL_LABELS[report.level]} BW", "intensity", "headroom"]
    rows = [[str(r["group"]), duration(r["time_ns"]), pct(r["time_share"]), bound_text(r),
             pct(r["pct_of_roof"]), small_pct(r["pct_of_peak_compute"]),
             small_pct(r["pct_of_peak_bandwidth"]), intensity(r["ai"]),
             duration(r["headroom_ns"])]
            for r in _records(report.phases)]
    return head, rows


def _group_rows(df: Any) -> tuple[Row, list[Row]]:
    head = ["group", "kernels", "time", "share", "AI", "achieved", "% peak compute",
            "% peak BW", "% roof", "bound", "headroom"]
    rows = []
    for r in _records(df):
        unit = "OP/s" if r["precision"] == "tensor_int8" else "FLOP/s"
        rows.append([str(r["group"]), str(r["kernels"]), duration(r["time_ns"]),
                     pct(r["time_share"]), intensity(r["ai"]), si(r["work_per_s"], unit),
                     pct(r["pct_of_peak_compute"]), pct(r["pct_of_peak_bandwidth"]),
                     pct(r["pct_of_roof"]), bound_text(r), duration(r["headroom_ns"])])
    return head, rows


def _ceiling_rows(report: Report) -> tuple[Row, list[Row]]:
    head = ["ceiling", "measured (min)", "measured (max)", "catalog", "measured/catalog"]
    rows = [[r["quantity"], si(r["measured_min"], r["unit"]), si(r["measured_max"], r["unit"]),
             si(r["catalog"], r["unit"]),
             "-" if r["ratio"] is None else f"{r['ratio']:.2f}"]
            for r in _records(report.ceilings)]
    return head, rows


def _top_rows(report: Report) -> tuple[Row, list[Row]]:
    head = ["kernel", "phase", "op", "time", "% of roof", "bound", "headroom"]
    rows = [[short_kernel(str(r["kernel"]))[:70], str(r.get("phase") or "-"),
             str(r.get("op") or "-"), duration(r["duration_ns"]), pct(r["pct_of_roof"]),
             str(r["bound"]), duration(r["headroom_ns"])] for r in _records(report.top)]
    return head, rows


def _latency_rows(report: Report) -> tuple[Row, list[Row]]:
    head = ["range", "instances", "p50", "p90", "p99", "max", "GPU span p50"]
    rows = [[str(r["range"]), str(r["instances"]), duration(r["wall_p50_ns"]),
             duration(r["wall_p90_ns"]), duration(r["wall_p99_ns"]), duration(r["wall_max_ns"]),
             duration(r["gpu_span_p50_ns"])] for r in _records(report.latency)]
    return head, rows


def _model_rows(report: Report) -> tuple[Row, list[Row]]:
    def ratio(v: Any) -> str:
        return "-" if v is None else f"{v:.2f}"

    head = ["phase", "op", "measured FLOP", "model FLOP", "FLOP ratio", "bytes ratio",
            "measured time", "model time", "time ratio"]
    rows = [[str(r["phase"]), str(r["op"]), si(r["measured_flop"]), si(r["model_flop"]),
             ratio(r["flop_ratio"]), ratio(r["bytes_ratio"]),
             duration(r["measured_time_s"] * 1e9 if r["measured_time_s"] is not None else None),
             duration(r["model_time_s"] * 1e9 if r["model_time_s"] is not None else None),
             ratio(r["time_ratio"])] for r in _records(report.comparison)]
    return head, rows


def _option_rows(report: Report) -> tuple[Row, list[Row]]:
    head = ["variant", "batch", "weights", "KV", "weight bytes", "KV bytes", "intensity",
            "time at roofs", "tokens/s", "bound"]
    rows = [[str(r["variant"]), str(r["batch"]), str(r["weight_dtype"]), str(r["kv_dtype"]),
             si(r["weight_bytes"], "B"), si(r["kv_bytes"], "B"), intensity(r["intensity"]),
             duration(r["time_s"] * 1e9 if r["time_s"] is not None else None),
             si(r["tokens_per_s"]), str(r["bound"])] for r in _records(report.options)]
    return head, rows


def _sections(report: Report) -> list[tuple[str, str, Callable[[Report], tuple[Row, list[Row]]]]]:
    level = LEVEL_LABELS[report.level]
    out: list[tuple[str, str, Callable[[Report], tuple[Row, list[Row]]]]] = [
        ("ceilings", "GPU and its measured ceilings", _ceiling_rows),
        ("phases", f"Per phase ({level})", lambda r: _group_rows(r.phases)),
        ("ops", f"Op × phase ({level})", lambda r: _group_rows(r.ops)),
        ("top", "Kernels with the most headroom", _top_rows)]
    if report.latency is not None:
        out.append(("latency", "Latency percentiles (wall time per range instance)",
                    _latency_rows))
    if report.comparison is not None:
        out.append(("model", "Measured beside the model", _model_rows))
    if report.options is not None and len(report.options):
        out.append(("options", "Decode options (model, at the measured roofs)", _option_rows))
    return out


# ------------------------------------------------------------------------------- HTML


def _html_table(ident: str, head: Row, rows: Sequence[Row], bound_col: int | None = None) -> str:
    def cell(i: int, c: str) -> str:
        # the verdict's word only: a partial group's reads "latency (69% measured)"
        cls = f" class='b-{html_escape(c.split(' ', 1)[0])}'" if i == bound_col else ""
        return f"<td{cls}>{html_escape(c)}</td>"

    return (f"<table id='{ident}'><thead><tr>" + "".join(f"<th>{html_escape(h)}</th>"
                                                          for h in head)
            + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>"
                      for r in rows) + "</tbody></table>")


def _svg(scene: Scene, prefix: str) -> str:
    import matplotlib
    import matplotlib.pyplot as plt

    from roofprof.views.chart.static import render

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "roofprof"}):
        drawing = render(scene)
        fig: Any = drawing.ax.figure
        extra = [a for a in [*drawing.ax.artists, drawing.ax.get_legend()] if a is not None]
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None},
                    bbox_extra_artists=extra)
        plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # several SVGs in one page: each figure's ids (clip paths, markers, groups) get its prefix,
    # so no two elements share an id and no figure borrows another's clip path
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', svg)
    return re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page (module doc)."""
    head, rows = verdict_rows(report)
    verdicts = [s for s in report.diagnosis if s.kind.startswith("verdict")]
    others = [s for s in report.diagnosis if not s.kind.startswith("verdict")]
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html_escape(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html_escape(report.title)}</h1>",
        f"<p class='gpu'>GPU: <b>{html_escape(report.gpu)}</b> · measured ceilings below · "
        f"times and roofs at {html_escape(LEVEL_LABELS[report.level])}</p>",
        *(f"<p class='scope' style='color:#8a4b00;font-weight:bold'>{html_escape(line)}</p>"
          for line in report.scope),
        _html_table("verdicts", head, rows, bound_col=3),
        "<ul class='diag' id='verdict-sentences'>"
        + "".join(f"<li>{html_escape(s.text)}</li>" for s in verdicts) + "</ul>",
        "<h2>Diagnosis</h2><ul class='diag' id='diagnosis'>"
        + "".join(f"<li>{html_escape(s.text)}</li>" for s in others) + "</ul>",
    ]
    for i, (caption, scene) in enumerate(report.scenes):
        parts.append(f"<h2>Roofline {html_escape(caption)}</h2>"
                     f"<div class='fig' id='fig-{i}'>{_svg(scene, f'f{i}-')}</div>")
    for ident, title, rows_of in _sections(report):
        h, r = rows_of(report)
        bound = h.index("bound") if "bound" in h else None
        parts.append(f"<h2>{html_escape(title)}</h2>{_html_table(ident, h, r, bound)}")
    parts += [f"<p class='note'>{html_escape(n)}</p>" for n in report.notes]
    parts.append("</body></html>\n")
    return "".join(parts)


# --------------------------------------------------------------------------- Markdown


#: what would start raw HTML in Markdown (a tag, a comment, a declaration), an entity,
#: emphasis, a link or a strikethrough, and a line break (a code span shows its text as it is:
#: roofprof's own notes quote commands so)
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_INLINE = re.compile(r"([\\*\[\]~])")
_EMPHASIS = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_BREAK = re.compile(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")


def md_text(text: object) -> str:
    """Text given by the user (op, range and kernel names, titles, notes) as Markdown that
    renders as that very text, on one line: raw HTML (``<script>``, ``<!--``) and entities
    shown, not interpreted, and the characters of emphasis, links and strikethrough escaped
    (``__init__``, not bold). Names without them (``attention_other``, ``rank <= 1``) stay as
    they are."""
    out = _INLINE.sub(r"\\\1", _BREAK.sub(" ", str(text)))
    out = _HTML_START.sub("&lt;", _ENTITY.sub("&amp;", out))
    return _EMPHASIS.sub(r"\\_", out)


def _md_cell(c: str) -> str:
    return md_text(c).replace("|", "\\|")


def _md_table(head: Row, rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in head) + " |",
             "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def figure_names(path: Path, report: Report) -> list[Path]:
    """The PNG files written beside a Markdown report, one per figure."""
    slug = {caption: name for caption, _by, name in FIGURES}
    return [path.with_name(f"{path.stem}_{slug.get(c, str(i))}.png")
            for i, (c, _s) in enumerate(report.scenes)]


def outputs(path: str | os.PathLike[str]) -> list[Path]:
    """Every file a report written to ``path`` may write: the page, and beside a Markdown
    report each figure's PNG (checked against the command's inputs before the work)."""
    out = Path(path)
    if format_of(out) == "html":
        return [out]
    return [out, *(out.with_name(f"{out.stem}_{name}.png") for _c, _by, name in FIGURES)]


def to_markdown(report: Report, figures: Sequence[str] = ()) -> str:
    """The report as Markdown; ``figures`` are the image paths to reference, one per scene.
    Every text from the user's inputs is escaped (:func:`md_text`): it renders as text."""
    head, rows = verdict_rows(report)
    out = [f"# {md_text(report.title)}\n", f"GPU: **{md_text(report.gpu)}**\n",
           *(f"**{md_text(line)}**\n" for line in report.scope),
           "## Verdict per phase\n", _md_table(head, rows)]
    out += [f"- {md_text(s.text)}" for s in report.diagnosis if s.kind.startswith("verdict")]
    out.append("\n## Diagnosis\n")
    out += [f"- {md_text(s.text)}" for s in report.diagnosis
            if not s.kind.startswith("verdict")]
    out.append("")
    for (caption, _scene), fig in zip(report.scenes, figures, strict=False):
        out.append(f"## Roofline {md_text(caption)}\n\n![roofline {md_text(caption)}]"
                   f"({quote(fig)})\n")
    for _ident, title, rows_of in _sections(report):
        h, r = rows_of(report)
        out.append(f"## {md_text(title)}\n\n{_md_table(h, r)}")
    out += [f"_{md_text(n)}_\n" for n in report.notes]
    return "\n".join(out)


def format_of(path: str | os.PathLike[str]) -> str:
    """``html`` or ``md``, by the suffix of ``path`` (a :class:`UsageError` for others)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".html", ".htm"):
        return "html"
    if suffix == ".md":
        return "md"
    raise UsageError(f"cannot tell the report format of {path}: use a .html or .md suffix")


def write(report: Report, path: str | os.PathLike[str]) -> list[Path]:
    """Write the report as HTML or Markdown (by suffix); returns every file written. A
    Markdown report and its figures are written as one set: all of them, or none."""
    out = Path(path)
    if format_of(out) == "html":
        text = to_html(report)
        with atomic_output(out) as fh:
            fh.write(text.encode("utf-8"))
        return [out]
    figures = figure_names(out, report)
    with atomic_outputs([out, *figures]) as (page, *images):
        for (_c, scene), fh, name in zip(report.scenes, images, figures, strict=True):
            draw(scene, fh, name)
        page.write(to_markdown(report, [f.name for f in figures]).encode("utf-8"))
    return [out, *figures]
