"""Measured roofline analysis: pure functions over the kernel table (schema v1).

Tables in, tables out; no I/O, no drawing. Every number comes from the trace: the work each
kernel did, the bytes it moved at each memory level, its duration, and the ceilings measured for
that kernel (peaks are per kernel because clocks vary per kernel).

Per kernel (:func:`per_kernel`):

* ``precision``: the label from :data:`roofprof.metrics.PRECISIONS` whose work column is largest
  (ties go to the first in that table). INT8 tensor ops are a precision of their own, counted in
  ops, not FLOPs.
* ``work``: the kernel's FLOPs (``flop``, all floating-point precisions), or its INT8 tensor ops
  where those dominate. ``work_per_s`` = work / duration.
* ``ai_<level>`` = work / bytes at ``dram``, ``l2``, ``l1``; ``attainable_<level>`` =
  min(peak compute of the dominant precision, AI x peak bandwidth of the level);
  ``pct_of_roof_<level>`` = work_per_s / attainable; ``bound_<level>`` is ``memory`` left of
  the ridge point (peak compute / peak bandwidth), ``compute`` at or right of it.
* Kernels without floating-point work (``flop`` 0 or null and no INT8 ops: copies, gathers,
  concatenations) have ``judged_by = "bandwidth"``: ``pct_of_roof`` is achieved bytes/s over
  the level's peak bytes/s and they are memory bound. The others have ``judged_by = "roofline"``.
* ``headroom_ns_<level>`` = duration x (1 - pct_of_roof), 0 where pct_of_roof > 1: the time the
  kernel would save running at its roof.

Nulls propagate: a kernel whose peak (or bytes, or duration) is null gets a null result, never 0.

Groups (:func:`summarize`) are time-weighted: AI = sum(work) / sum(bytes), FLOP/s = sum(flop) /
sum(time). A group's roof is drawn from its dominant precision (largest summed work) and the
time-weighted mean of its kernels' own peaks of that precision and of the level's bandwidth
(weights: duration, over kernels whose peak is known), i.e. the ceilings the group saw on
average while it ran; roof = min(peak compute, AI x peak bandwidth). ``pct_of_roof`` places the
group's aggregate point against that roof (as the plot draws it); ``headroom_ns`` sums the
kernels' own headroom, so it stays exact for mixed groups.
"""

from __future__ import annotations

import importlib
import io
import json
import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from roofprof.errors import InputError, UsageError
from roofprof.metrics import PRECISIONS

LEVELS: tuple[str, ...] = ("dram", "l2", "l1")
BYTES_COLUMNS: dict[str, str] = {lvl: f"{lvl}_bytes" for lvl in LEVELS}
PEAK_BW_COLUMNS: dict[str, str] = {lvl: f"peak_{lvl}_bytes_per_s" for lvl in LEVELS}
LEVEL_LABELS: dict[str, str] = {"dram": "DRAM", "l2": "L2", "l1": "L1"}

#: group names with a meaning beyond "the column of that name"
GROUPS: tuple[str, ...] = ("range", "kernel", "device", "phase", "category", "op")

#: human names of precisions, for tables and plots
PRECISION_LABELS: dict[str, str] = {
    "fp64": "FP64 CUDA-core",
    "fp32": "FP32 CUDA-core",
    "fp16": "FP16 CUDA-core",
    "tensor_fp64": "FP64 tensor",
    "tensor_tf32": "TF32 tensor",
    "tensor_fp16": "FP16 tensor",
    "tensor_bf16": "BF16 tensor",
    "tensor_fp8": "FP8 tensor",
    "tensor_int8": "INT8 tensor",
}

INT8 = "tensor_int8"
NO_RANGE = "(no range)"
NO_VALUE = "(none)"

#: the columns the analysis reads
REQUIRED: tuple[str, ...] = (
    "duration_ns", "flop", *BYTES_COLUMNS.values(), *PEAK_BW_COLUMNS.values(),
    *(c for pair in PRECISIONS.values() for c in pair),
)

#: columns of :func:`summarize`'s result, in order
SUMMARY_COLUMNS: tuple[str, ...] = (
    "group", "kernels", "time_ns", "time_share", "flop", "ops_int8", "dram_bytes", "l2_bytes",
    "l1_bytes", "ai_dram", "ai_l2", "ai_l1", "flop_per_s", "work_per_s", "precision",
    "judged_by", "level", "peak_compute_per_s", "peak_bytes_per_s", "ridge", "roof_flop_per_s",
    "pct_of_roof", "pct_of_peak_compute", "bytes_per_s", "pct_of_peak_bandwidth", "bound",
    "headroom_ns", "headroom_share",
)

FloatArray = npt.NDArray[np.float64]


class HasKernels(Protocol):
    """Anything holding a kernel table (a :class:`roofprof.trace.Trace`)."""

    @property
    def kernels(self) -> pd.DataFrame: ...


TableLike = pd.DataFrame | HasKernels | str


def table_of(obj: Any) -> pd.DataFrame:
    """The kernel table of a DataFrame, a Trace, or a path to any input roofprof reads."""
    if isinstance(obj, pd.DataFrame):
        return obj
    kernels = getattr(obj, "kernels", None)
    if isinstance(kernels, pd.DataFrame):
        return kernels
    if isinstance(obj, str) or hasattr(obj, "__fspath__"):
        trace = importlib.import_module("roofprof.trace").load(obj)
        return trace.kernels  # type: ignore[no-any-return]
    raise UsageError(f"expected a kernel table, a Trace or a path, got {type(obj).__name__}")


def _check(table: pd.DataFrame) -> None:
    if len(table) == 0:
        raise InputError("the trace holds no kernels: nothing to analyse "
                         "(check the ncu filters used to record it)")
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(f"the kernel table lacks column(s) {', '.join(missing)}; "
                         "convert the input again with this roofprof version")


def _level(level: str) -> str:
    if level not in LEVELS:
        raise UsageError(f"unknown memory level {level!r}; choose one of {', '.join(LEVELS)}")
    return level


def _num(table: pd.DataFrame, column: str) -> FloatArray:
    """A numeric column as float64 with nulls as NaN."""
    return table[column].to_numpy(dtype=np.float64, na_value=np.nan)


def _div(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> FloatArray:
    """a / b with x/0 = inf for x > 0, 0/0 = NaN, nulls propagating, and no warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(a / b, dtype=np.float64)


def _bound_codes(ai: FloatArray, ridge: FloatArray,
                 bandwidth_only: npt.NDArray[np.bool_]) -> npt.NDArray[np.int8]:
    """0 memory, 1 compute, -1 unknown."""
    codes = np.where(ai < ridge, 0, 1).astype(np.int8)
    codes[np.isnan(ai) | np.isnan(ridge)] = -1
    codes[bandwidth_only] = 0
    return codes


BOUNDS = ("memory", "compute")
JUDGED_BY = ("roofline", "bandwidth")


def _labels(codes: npt.NDArray[Any], names: Sequence[str]) -> Any:
    """Codes (-1 for null) -> a categorical of ``names``: cheap for millions of rows."""
    return pd.Categorical.from_codes(codes.astype(np.int64), categories=pd.Index(list(names)))


def _dominant(work: FloatArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Index of the largest positive work column per row, and whether there is one."""
    filled = np.where(np.isnan(work) | (work <= 0), -1.0, work)
    idx = np.argmax(filled, axis=1)
    has = filled[np.arange(len(filled)), idx] > 0
    return idx, has


def _kernel_arrays(t: pd.DataFrame, levels: Sequence[str]) -> dict[str, Any]:
    """Per-kernel roofline numbers as arrays (categorical codes for labels)."""
    labels = list(PRECISIONS)
    work_cols = np.column_stack([_num(t, PRECISIONS[p][0]) for p in labels])
    idx, has_work = _dominant(work_cols)
    rows = np.arange(len(t))
    is_int8 = has_work & (idx == labels.index(INT8))
    flop = _num(t, "flop")
    work = np.where(is_int8, work_cols[:, labels.index(INT8)], flop)
    # FLOPs without a per-precision breakdown still count; only no work at all is bandwidth-only
    roofline = has_work | (flop > 0)
    peak_cols = np.column_stack([_num(t, PRECISIONS[p][1]) for p in labels])
    peak_c = np.where(has_work & roofline, peak_cols[rows, idx], np.nan)
    dur = _num(t, "duration_ns")
    time_s = dur * 1e-9
    work_per_s = _div(work, time_s)
    out: dict[str, Any] = {
        "duration_ns": dur,
        "precision": np.where(has_work, idx, -1),
        "judged_by": np.where(roofline, 0, 1),
        "flop": flop,
        "work": np.where(roofline, work, np.nan),
        "flop_per_s": _div(flop, time_s),
        "work_per_s": np.where(roofline, work_per_s, np.nan),
        "peak_compute_per_s": peak_c,
    }
    bw_only = ~roofline
    for lvl in levels:
        nbytes = _num(t, BYTES_COLUMNS[lvl])
        peak_bw = _num(t, PEAK_BW_COLUMNS[lvl])
        ai = np.where(roofline, _div(work, nbytes), np.nan)
        ridge = np.where(roofline, _div(peak_c, peak_bw), np.nan)
        attainable = np.where(roofline, np.minimum(peak_c, ai * peak_bw), np.nan)
        bytes_per_s = _div(nbytes, time_s)
        pct = np.where(roofline, _div(work_per_s, attainable), _div(bytes_per_s, peak_bw))
        out[f"{lvl}_bytes"] = nbytes
        out[f"ai_{lvl}"] = ai
        out[f"bytes_per_s_{lvl}"] = bytes_per_s
        out[f"peak_bytes_per_s_{lvl}"] = peak_bw
        out[f"ridge_{lvl}"] = ridge
        out[f"attainable_{lvl}"] = attainable
        out[f"pct_of_roof_{lvl}"] = pct
        out[f"bound_{lvl}"] = _bound_codes(ai, ridge, bw_only)
        out[f"headroom_ns_{lvl}"] = dur * (1.0 - np.minimum(pct, 1.0))
    return out


def per_kernel(table: TableLike, levels: Sequence[str] = LEVELS) -> pd.DataFrame:
    """The roofline numbers of every kernel at each level (same index as the table).

    Columns: identity (``id``, ``kernel``, ``range``, ``device``, ``device_name`` where present),
    ``duration_ns``, ``precision``, ``judged_by``, ``flop``, ``work``, ``flop_per_s``,
    ``work_per_s``, ``peak_compute_per_s`` and per level ``<level>_bytes``, ``ai_<level>``,
    ``bytes_per_s_<level>``, ``peak_bytes_per_s_<level>``, ``ridge_<level>``,
    ``attainable_<level>``, ``pct_of_roof_<level>``, ``bound_<level>``, ``headroom_ns_<level>``.
    """
    t = table_of(table)
    _check(t)
    for lvl in levels:
        _level(lvl)
    a = _kernel_arrays(t, levels)
    out: dict[str, Any] = {c: t[c] for c in ("id", "kernel", "range", "device", "device_name")
                           if c in t.columns}
    names = {"precision": list(PRECISIONS), "judged_by": JUDGED_BY}
    for name, values in a.items():
        cats = names.get(name, BOUNDS if name.startswith("bound_") else None)
        out[name] = pd.Series(values if cats is None else _labels(values, cats), index=t.index)
    return pd.DataFrame(out, index=t.index)


#: joins the parts of a group named by several columns (``--by op,phase``)
GROUP_JOIN = " · "


def _group_codes(t: pd.DataFrame, by: str,
                 depth: int | None) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Group number of every kernel and the group names (labels computed once per value).

    ``by`` may name several columns separated by commas (``op,phase``): one group per
    combination, named by the parts joined with " · ".
    """
    if "," in by:
        parts = [b.strip() for b in by.split(",") if b.strip()]
        if len(parts) > 1:
            return _combined_codes(t, parts, depth)
        by = parts[0] if parts else by
    if by not in t.columns:
        groupable = [g for g in GROUPS if g in t.columns] + [
            c for c in t.columns if c not in GROUPS and c not in ("id", "nvtx")
            and not pd.api.types.is_float_dtype(t[c].dtype)]
        hint = (" (the LLM attribution fills it)" if by in ("phase", "category", "op") else "")
        raise UsageError(f"cannot group by {by!r}: the trace has no such column{hint}; "
                         f"group by one of: {', '.join(groupable)}")
    if depth is not None:
        if by != "range":
            raise UsageError("--depth applies only to grouping by range")
        if depth < 1:
            raise UsageError(f"--depth must be at least 1, got {depth}")
    col = t[by]
    if col.dtype == object:  # lists (nvtx) are not hashable
        col = col.map(lambda v: "/".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray))
                      else v)
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    names = [_name(v, by) for v in uniques]
    if depth is not None:
        names = _range_prefixes(t, codes, names, depth)
    # different values may share a name ("" and null ranges; prefixes): merge them
    merged, labels = pd.factorize(pd.Series(names, dtype=object))
    return merged[codes], [str(x) for x in labels]


def _combined_codes(t: pd.DataFrame, parts: list[str],
                    depth: int | None) -> tuple[npt.NDArray[np.intp], list[str]]:
    if depth is not None and "range" not in parts:
        raise UsageError("--depth applies only to grouping by range")
    combined = np.zeros(len(t), dtype=np.int64)
    names_per: list[list[str]] = []
    for part in parts:
        codes, names = _group_codes(t, part, depth if part == "range" else None)
        combined = combined * max(len(names), 1) + codes
        names_per.append(names)
    merged, firsts = pd.factorize(combined)
    labels: list[str] = []
    for value in firsts:
        pieces: list[str] = []
        rest = int(value)
        for names in reversed(names_per):
            rest, code = divmod(rest, max(len(names), 1))
            pieces.append(names[code])
        labels.append(GROUP_JOIN.join(reversed(pieces)))
    return merged.astype(np.intp), labels


def _name(value: Any, by: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return NO_RANGE if by == "range" else NO_VALUE
    if by == "range" and value == "":
        return NO_RANGE
    return str(value)


def _range_prefixes(t: pd.DataFrame, codes: npt.NDArray[np.intp], names: list[str],
                    depth: int) -> list[str]:
    """The first ``depth`` NVTX levels of each distinct range.

    The ``nvtx`` lists are used where present, so a range name containing "/" stays whole.
    """
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    nvtx = t["nvtx"] if "nvtx" in t.columns else None
    out: list[str] = []
    for code, name in enumerate(names):
        stack: Any = nvtx.iat[int(first[code])] if nvtx is not None else None
        if not isinstance(stack, (list, tuple, np.ndarray)):
            stack = [] if name == NO_RANGE else name.split("/")
        out.append("/".join(str(s) for s in list(stack)[:depth]) or NO_RANGE)
    return out


def _gsum(codes: npt.NDArray[np.intp], n: int, x: FloatArray) -> FloatArray:
    """Per-group sum skipping nulls; null where every value of the group is null."""
    known = ~np.isnan(x)
    s = np.bincount(codes, weights=np.where(known, x, 0.0), minlength=n)
    c = np.bincount(codes, weights=known.astype(np.float64), minlength=n)
    return np.where(c > 0, s, np.nan)


def _gmean(codes: npt.NDArray[np.intp], n: int, x: FloatArray, w: FloatArray) -> FloatArray:
    """Per-group mean of x weighted by w, over rows where both are known."""
    known = ~np.isnan(x) & ~np.isnan(w)
    s = np.bincount(codes, weights=np.where(known, x * w, 0.0), minlength=n)
    c = np.bincount(codes, weights=np.where(known, w, 0.0), minlength=n)
    return np.where(c > 0, _div(s, c), np.nan)


def summarize(table: TableLike, by: str = "range", level: str = "dram", depth: int | None = None,
              top: int | None = None) -> pd.DataFrame:
    """Time-weighted roofline numbers per group, heaviest group first (see the module doc).

    ``by`` is ``range`` (the full NVTX path, or its first ``depth`` levels), ``kernel``,
    ``device``, ``phase``/``category``/``op`` (filled by LLM attribution) or any column of the
    table. ``top`` keeps the ``top`` groups with the most GPU time.
    """
    t = table_of(table)
    _check(t)
    _level(level)
    if top is not None and top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    codes, uniques = _group_codes(t, by, depth)
    n = len(uniques)
    dur = _num(t, "duration_ns")
    time_ns = _gsum(codes, n, dur)
    labels = list(PRECISIONS)
    work_sums = np.column_stack([_gsum(codes, n, _num(t, PRECISIONS[p][0])) for p in labels])
    idx, has_work = _dominant(work_sums)
    is_int8 = has_work & (idx == labels.index(INT8))
    flop = _gsum(codes, n, _num(t, "flop"))
    ops_int8 = work_sums[:, labels.index(INT8)]
    work = np.where(is_int8, ops_int8, flop)
    roofline = has_work | (flop > 0)
    work = np.where(roofline, work, np.nan)
    time_s = time_ns * 1e-9
    # each group's compute ceiling: time-weighted mean of its kernels' peaks of its precision
    peaks = np.column_stack([_gmean(codes, n, _num(t, PRECISIONS[p][1]), dur) for p in labels])
    peak_c = np.where(roofline & has_work, peaks[np.arange(n), idx], np.nan)

    out: dict[str, Any] = {
        "group": np.asarray(uniques, dtype=object),
        "kernels": np.bincount(codes, minlength=n).astype(np.int64),
        "time_ns": time_ns,
        "time_share": _div(time_ns, np.full(n, np.nansum(dur))),
        "flop": flop,
        "ops_int8": ops_int8,
    }
    bytes_ = {lvl: _gsum(codes, n, _num(t, BYTES_COLUMNS[lvl])) for lvl in LEVELS}
    for lvl in LEVELS:
        out[f"{lvl}_bytes"] = bytes_[lvl]
    for lvl in LEVELS:
        out[f"ai_{lvl}"] = _div(work, bytes_[lvl])
    out["flop_per_s"] = _div(flop, time_s)
    out["work_per_s"] = _div(work, time_s)
    precision = np.asarray(labels, dtype=object)[idx]
    precision[~(roofline & has_work)] = None
    out["precision"] = precision
    out["judged_by"] = np.where(roofline, "roofline", "bandwidth").astype(object)
    out["level"] = np.full(n, level, dtype=object)
    peak_bw = _gmean(codes, n, _num(t, PEAK_BW_COLUMNS[level]), dur)
    ai = out[f"ai_{level}"]
    out["peak_compute_per_s"] = peak_c
    out["peak_bytes_per_s"] = peak_bw
    out["ridge"] = _div(peak_c, peak_bw)
    roof = np.where(roofline, np.minimum(peak_c, ai * peak_bw), np.nan)
    out["roof_flop_per_s"] = roof
    out["pct_of_roof"] = np.where(roofline, _div(out["work_per_s"], roof),
                                  _div(_div(bytes_[level], time_s), peak_bw))
    out["pct_of_peak_compute"] = np.where(roofline, _div(out["work_per_s"], peak_c), np.nan)
    out["bytes_per_s"] = _div(bytes_[level], time_s)
    out["pct_of_peak_bandwidth"] = _div(out["bytes_per_s"], peak_bw)
    out["bound"] = np.asarray(_labels(_bound_codes(ai, out["ridge"], ~roofline), BOUNDS),
                              dtype=object)
    headroom = _gsum(codes, n, _kernel_arrays(t, (level,))[f"headroom_ns_{level}"])
    out["headroom_ns"] = headroom
    out["headroom_share"] = _div(headroom, np.full(n, np.nansum(dur)))
    df = pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))
    df = df.sort_values(["time_ns", "group"], ascending=[False, True], kind="stable",
                        na_position="last")
    if top is not None:
        df = df.head(top)
    return df.reset_index(drop=True)


def top_kernels(table: TableLike, n: int = 10, level: str = "dram") -> pd.DataFrame:
    """The ``n`` kernels with the most headroom at ``level`` (time lost below their roof)."""
    _level(level)
    if n < 1:
        raise UsageError(f"the number of kernels must be at least 1, got {n}")
    k = per_kernel(table, levels=(level,))
    cols = [c for c in ("id", "kernel", "range", "device") if c in k.columns]
    out = k[cols].copy()
    out["time_ns"] = k["duration_ns"]
    out["precision"] = k["precision"]
    out["judged_by"] = k["judged_by"]
    out["level"] = level
    out["ai"] = k[f"ai_{level}"]
    out["work_per_s"] = k["work_per_s"]
    out["roof_per_s"] = k[f"attainable_{level}"]
    out["bytes_per_s"] = k[f"bytes_per_s_{level}"]
    out["pct_of_roof"] = k[f"pct_of_roof_{level}"]
    out["bound"] = k[f"bound_{level}"]
    out["headroom_ns"] = k[f"headroom_ns_{level}"]
    out = out.sort_values("headroom_ns", ascending=False, kind="stable", na_position="last")
    return out.head(n).reset_index(drop=True)


# ------------------------------------------------------------------------------ rendering


def _plain(v: Any) -> Any:
    """A JSON-safe Python value: NaN, inf and pandas nulls become None."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts (JSON-safe: nulls and infinities are None)."""
    cols = list(df.columns)
    return [dict(zip(cols, (_plain(v) for v in row), strict=True))
            for row in df.itertuples(index=False, name=None)]


def to_json(df: pd.DataFrame) -> str:
    """The summary as a JSON list of groups, one per line-block, stable and diff-friendly."""
    return json.dumps(records(df), indent=1) + "\n"


def to_csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """``989e12, 'FLOP/s'`` -> ``'989 TFLOP/s'``; null -> ``'-'``."""
    if value is None or not math.isfinite(value):
        return "-" if value is None or math.isnan(value) else "inf"
    if value == 0:
        return f"0 {unit}".strip()
    exp = min(max(math.floor(math.log10(abs(value)) / 3), -4), 5)
    prefix = {-4: "p", -3: "n", -2: "µ", -1: "m", 0: "", 1: "k", 2: "M", 3: "G", 4: "T",
              5: "P"}[exp]
    scaled = value / 10 ** (3 * exp)
    text = f"{scaled:.{digits}g}"
    if "e" in text:
        text = f"{scaled:.0f}"
    return f"{text} {prefix}{unit}".strip()


def duration(ns: float | None) -> str:
    """Nanoseconds in the unit a reader expects (``1.23 ms``)."""
    if ns is None or not math.isfinite(ns):
        return "-"
    return si(ns * 1e-9, "s")


def elide(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, keeping what tells groups apart.

    An NVTX path keeps its first range and its innermost ones
    (``prefill/…/model.layers.0.mlp.up_proj``), since siblings differ at the leaf; other
    names (kernels, ``op · phase``) keep their start.
    """
    if len(text) <= width:
        return text
    if "/" in text:
        head, tail = text.split("/", 1)[0] + "/…/", text.rsplit("/", 1)[1]
        if len(head) + len(tail) <= width:
            parts = text.split("/")[1:]
            kept: list[str] = []
            while parts and len(head) + len("/".join([parts[-1], *kept])) <= width:
                kept.insert(0, parts.pop())
            return head + "/".join(kept)
        return "…/" + tail if len(tail) + 2 <= width else "…" + tail[-(width - 1):]
    return text[: width - 1] + "…"


def _ai(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _bytes_per_s(r: dict[str, Any], level: str) -> float | None:
    nbytes, time_ns = r[f"{level}_bytes"], r["time_ns"]
    return None if nbytes is None or not time_ns else nbytes / (time_ns * 1e-9)


def format_table(df: pd.DataFrame, width: int = 44) -> str:
    """A terminal table of :func:`summarize`'s result (a pure function returning text).

    Per group: kernels, GPU time and its share, arithmetic intensity at the level, achieved
    FLOP/s and % of the peak compute of its precision, achieved bytes/s at the level and % of
    that level's peak bandwidth, % of the roof at its intensity, bound, precision, headroom.
    """
    level = str(df["level"].iloc[0]) if len(df) and "level" in df.columns else "dram"
    lvl = LEVEL_LABELS.get(level, level)
    head = ["group", "kernels", "time", "share", f"AI {lvl}", "achieved", "% peak compute",
            f"{lvl} BW", "% peak BW", "% roof", "bound", "precision", "headroom"]
    rows: list[list[str]] = []
    for r in records(df):
        bw = r["judged_by"] == "bandwidth"
        unit = "OP/s" if r["precision"] == INT8 else "FLOP/s"
        bytes_per_s = r.get("bytes_per_s", _bytes_per_s(r, level))
        rows.append([
            elide(str(r["group"]), width),
            str(r["kernels"]),
            duration(r["time_ns"]),
            _pct(r["time_share"]),
            _ai(r[f"ai_{level}"]),
            "-" if bw else si(r["work_per_s"], unit),
            "-" if bw else _pct(r.get("pct_of_peak_compute")),
            si(bytes_per_s, "B/s"),
            _pct(r.get("pct_of_peak_bandwidth")),
            _pct(r["pct_of_roof"]),
            (r["bound"] or "-") + (" (bw)" if bw else ""),
            PRECISION_LABELS.get(r["precision"] or "", "-"),
            duration(r["headroom_ns"]),
        ])
    right = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12}
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    lines = [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    if any(r[10].endswith("(bw)") for r in rows):
        lines.append("(bw): no FLOPs, judged by bandwidth: % roof is % of peak bandwidth")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


#: the name ``roofprof.summary`` re-exports (the Python API mirrors ``roofprof summary``)
summary = summarize
