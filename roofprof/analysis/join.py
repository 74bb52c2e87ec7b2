"""Join a timing table (every launch timed) with a kernel table (counters of some launches).

Each timed launch takes its counters from, in this order:

1. ``launch``: the same launch. When the counters hold exactly as many launches of a kernel,
   grid, block, device and annotation path (``range``) as the timing does, the two are the same
   program's launches of it: they are paired in launch order (timing by start time, counters by
   ncu's id, which follows launch order).
2. ``signature``: the mean of the profiled launches of the same kernel, template instance
   (``parsers.kernel_names.template_key``: ncu's and the demangler's spellings agree on it), grid,
   block and device in the same ``phase`` and ``op``, else in the same phase, else in any; last,
   only for a launch whose template instance is unknown (its name not demangled), of the same
   function base name, grid, block and device (the key says which: ``counters_key``). Another
   template instance is another kernel: its counters are never used (ncu's ``--filter-mode
   per-launch-config`` counts configurations by function base name, so ``--per-config 1`` can
   profile one instance of ``vectorized_elementwise_kernel`` for all of them; the others stay
   unmatched and the report says why). Where phases or ops differ, the closest samples are
   used. Each row says how many samples (``counters_samples``) and how far apart they were
   (``counters_spread``: (max - min) / mean of FLOPs and DRAM bytes, the larger).
3. ``none``: no profiled launch of that kernel and configuration; counters stay null.

The joined table is a kernel table (schema v1) whose ``duration_ns`` is the timed duration of
every launch, plus the provenance columns ``counters_from``, ``counters_key``,
``counters_samples``, ``counters_spread`` and the timing columns ``start_ns``, ``end_ns``,
``duration_from``, ``correlation_id``, ``launch_api``, ``graph_node_id``, ``nvtx_source``.
``meta["join"]`` holds coverage by time, the unmatched kernels and the signatures whose samples
disagree by more than ``spread`` in work or bytes (reported, and still averaged: the report
says which).

The matching is vectorised over integer codes (:func:`match`); ``roofprof.app.join``
writes the table in chunks, so a run of tens of millions of launches joins in bounded memory.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from parsers.kernel_names import template_key
from roofprof.analysis.join_report import Match, report
from roofprof.errors import InputError
from roofprof.tables.columns import arrow_text, arrow_text_array, canonical, shared_lists, text
from roofprof.tables.kernels import Trace
from roofprof.tables.sampling import in_scope, sampling
from roofprof.tables.schema import ATTRIBUTION, IDENTITY, MEASURED, TEXT, dtype_of, empty_meta
from roofprof.tables.timing import COLUMNS
from roofprof.version import __version__

if TYPE_CHECKING:
    from roofprof.tables.timing import TimingTrace

SIGNATURE = ("kernel", "grid", "block", "device")
#: the key of each level (1: same launch; 2-4: signatures, most specific first); ``template``
#: is the template instance (``parsers.kernel_names.template_key`` of the demangled name)
LEVEL_KEYS: tuple[tuple[str, ...], ...] = (
    ("kernel", "template", "grid", "block", "device", "range"),
    ("kernel", "template", "grid", "block", "device", "phase", "op"),
    ("kernel", "template", "grid", "block", "device", "phase"),
    ("kernel", "template", "grid", "block", "device"),
    SIGNATURE,
)
SIGNATURE_LEVELS = tuple(range(2, len(LEVEL_KEYS) + 1))
ALL_LEVELS = (1, *SIGNATURE_LEVELS)
KEYS = tuple(",".join(k) for k in LEVEL_KEYS)
FROM = ("none", "launch", "signature")
#: counters that must agree between samples of one signature (work and bytes)
AGREE = ("flop", "dram_bytes")
COUNTERS = tuple(c for c in (*MEASURED, "flop") if c != "duration_ns")
TIMING_EXTRA = ("start_ns", "end_ns", "duration_from", "correlation_id", "launch_api",
                "graph_node_id", "nvtx_source")
#: timing columns the join never reads (the range instances' times, for latency): ``roofprof
#: join`` leaves them out when it reads a timing table (1.4 GB of lists at 10M launches)
UNUSED_TIMING = ("nvtx_start_ns", "nvtx_end_ns")
PROVENANCE = ("counters_from", "counters_key", "counters_samples", "counters_spread")


@functools.lru_cache(maxsize=65536)
def _template(name: str | None) -> str:
    if name and name.startswith("_Z"):  # not demangled (no c++filt where it was traced)
        return ""
    return template_key(name)


def _templates(df: pd.DataFrame) -> pd.Series:
    """``template_key`` of each row's demangled name, computed once per distinct name."""
    if "kernel_demangled" not in df:
        return pd.Series([""] * len(df), index=df.index, dtype=object)
    codes, uniques = pd.factorize(df["kernel_demangled"], use_na_sentinel=False)
    mapped = [_template(u if isinstance(u, str) else None) for u in uniques]
    cats = pd.Index(mapped).unique()
    keys = pd.Categorical.from_codes(cats.get_indexer(pd.Index(mapped))[codes], categories=cats)
    return pd.Series(keys, index=df.index)


def _column_codes(t: pd.Series, c: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of one column in the timing and the counters (equal values, equal codes; null is
    0) and their number. A categorical column (a large timing table) is coded through its
    categories, never row by row."""
    if not isinstance(t.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(pd.concat([t, c], ignore_index=True),
                                      use_na_sentinel=True)
        codes = codes.astype(np.int64) + 1
        return codes[:len(t)], codes[len(t):], len(uniques) + 1
    cats = pd.Index(pd.unique(np.concatenate([np.asarray(t.cat.categories, dtype=object),
                                              pd.unique(c.dropna().astype(object))])))
    mapping = np.concatenate([[-1], cats.get_indexer(t.cat.categories)]) + 1
    tc = mapping[t.cat.codes.to_numpy().astype(np.int64) + 1]
    cc = pd.Categorical(c.astype(object), categories=cats).codes.astype(np.int64) + 1
    return tc, cc, len(cats) + 1


class _Keys:
    """Integer keys of column combinations over the timing and the counters (codes cached per
    column; combined arithmetically while the product of cardinalities fits in int64)."""

    def __init__(self, timing: pd.DataFrame, counters: pd.DataFrame) -> None:
        self.t, self.c = timing, counters
        self.cache: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}

    def column(self, col: str) -> tuple[np.ndarray, np.ndarray, int]:
        if col not in self.cache:
            t = self.t[col] if col in self.t else pd.Series([None] * len(self.t), dtype=object)
            c = self.c[col] if col in self.c else pd.Series([None] * len(self.c), dtype=object)
            tc, cc, n = _column_codes(t, c)
            small = np.int32 if n < 2**31 else np.int64  # kept for every level: half the memory
            self.cache[col] = (tc.astype(small), cc, n)
        return self.cache[col]

    def key(self, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        kt = np.zeros(len(self.t), dtype=np.int64)
        kc = np.zeros(len(self.c), dtype=np.int64)
        card = 1
        for col in columns:
            ct, cc, n = self.column(col)
            if card * n >= 2**62:  # re-code what we have so far to keep within int64
                codes, uniques = pd.factorize(np.concatenate([kt, kc]))
                kt, kc, card = codes[:len(kt)].astype(np.int64), \
                    codes[len(kt):].astype(np.int64), len(uniques)
            kt, kc, card = kt * n + ct, kc * n + cc, card * n
        return kt, kc


def _lookup(groups: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Position of each key in the sorted ``groups``; -1 where absent."""
    if not len(groups):
        return np.full(len(keys), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(groups, keys), len(groups) - 1)
    return np.where(groups[pos] == keys, pos, -1)


def match(timing: pd.DataFrame, counters: pd.DataFrame) -> Match:
    """Find each timed launch's counters (see the module docstring)."""
    nt, nc = len(timing), len(counters)
    counters = counters.sort_values("id", kind="stable") if "id" in counters else counters
    counters = counters.reset_index(drop=True)
    tt, tc = _templates(timing), _templates(counters)
    keys = _Keys(timing.assign(template=tt), counters.assign(template=tc))
    # template instances need demangled names on both sides; else match on the rest
    known = bool((tt != "").any() and (tc != "").any())
    levels = tuple(cols if known else tuple(c for c in cols if c != "template")
                   for cols in LEVEL_KEYS)
    measured = np.column_stack([counters[c].to_numpy("float64", na_value=np.nan)
                                for c in COUNTERS]) \
        if nc else np.empty((0, len(COUNTERS)))
    level = np.zeros(nt, dtype=np.int8)
    index = np.full(nt, -1, dtype=np.int64)
    values, samples, spread = [measured], [np.ones(nc, dtype=np.int64)], [np.zeros(nc)]
    # 1. the same launch: as many launches in the counters as in the timing, paired in order
    kt, kc = keys.key(levels[0])
    groups, inverse, count_c = np.unique(kc, return_inverse=True, return_counts=True)
    pos = _lookup(groups, kt)
    hit = np.flatnonzero(pos >= 0)
    count_t = np.bincount(pos[hit], minlength=len(groups))
    rows = hit[(count_t == count_c)[pos[hit]]]
    if len(rows):
        g = pos[rows]
        rank_t = pd.Series(g).groupby(g).cumcount().to_numpy()
        order_c = np.argsort(inverse, kind="stable")  # by group, then launch order (id)
        first = np.concatenate([[0], np.cumsum(count_c)[:-1]])
        level[rows], index[rows] = 1, order_c[first[g] + rank_t]
    # 2... signatures: the mean of their samples
    agree = [COUNTERS.index(c) for c in AGREE]
    instance_known = (tt != "").to_numpy(dtype=bool) if known else np.zeros(nt, dtype=bool)
    other_instance = np.zeros(nt, dtype=bool)
    for lvl, columns in enumerate(levels[1:], start=2):
        kt, kc = keys.key(columns)
        groups, inverse, count = np.unique(kc, return_inverse=True, return_counts=True)
        frame = pd.DataFrame(measured).groupby(inverse)
        mean = frame.mean().to_numpy() if nc else np.empty((0, len(COUNTERS)))
        span = (frame.max() - frame.min()).to_numpy() if nc else mean
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(span[:, agree] == 0, 0.0, span[:, agree] / np.abs(mean[:, agree]))
        worst = np.max(np.where(np.isnan(rel), -np.inf, rel), axis=1, initial=-np.inf)
        values.append(mean)
        samples.append(count)
        spread.append(np.where(np.isinf(worst), np.nan, worst))
        todo = np.flatnonzero(level == 0)
        at = _lookup(groups, kt[todo])
        found = at >= 0
        if "template" not in columns:  # never another instance's counters
            other_instance[todo[found & instance_known[todo]]] = True
            found &= ~instance_known[todo]
        level[todo[found]], index[todo[found]] = lvl, at[found]
    return Match(level=level, index=index, values=values, samples=samples, spread=spread,
                 keys=tuple(",".join(cols) for cols in levels), other_instance=other_instance)


# ------------------------------------------------------------------------------ the table


def chunk_table(m: Match, part: pd.DataFrame, device_names: dict[int, str], lo: int) -> Any:
    """Rows ``lo:lo + len(part)`` of the joined table as an Arrow table (``part``: those rows
    of the timing table)."""
    hi = lo + len(part)
    lvl, idx = m.level[lo:hi], m.index[lo:hi]
    cols: dict[str, Any] = {}
    for col in (*IDENTITY, *ATTRIBUTION):
        kind = arrow_text() if dtype_of(col) == TEXT else pa.int64()
        if col == "nvtx":
            cols[col] = _nvtx(part)
        elif col in part:
            cols[col] = _arrow(part[col], kind)
        elif col == "id":
            cols[col] = pa.array(np.arange(lo, hi, dtype=np.int64))
        else:
            cols[col] = pa.nulls(hi - lo, type=kind)
    if device_names and "device_name" in part and part["device_name"].isna().any():
        names = part["device"].map(device_names).astype(object)
        cols["device_name"] = arrow_text_array(part["device_name"].astype(object).where(
            part["device_name"].notna(), names))
    cols["duration_ns"] = pa.array(part["duration_ns"].to_numpy("float64"))
    sources = [(rows, idx[rows], np.ascontiguousarray(m.values[lv - 1].T))
               for lv in ALL_LEVELS if len(rows := np.flatnonzero(lvl == lv))]
    for j, col in enumerate(COUNTERS):
        out = np.full(hi - lo, np.nan)
        for rows, src, by_column in sources:
            out[rows] = by_column[j][src]
        cols[col] = pa.array(out)
    has = lvl > 0
    key_names = list(dict.fromkeys(m.keys))  # without templates two levels share one key
    key_of = np.asarray([key_names.index(k) for k in m.keys], dtype=np.int8)
    cols["counters_from"] = pa.DictionaryArray.from_arrays(
        pa.array(np.minimum(lvl, 2).astype(np.int8), type=pa.int8()), pa.array(list(FROM)))
    cols["counters_key"] = pa.DictionaryArray.from_arrays(
        pa.array(key_of[np.where(has, lvl - 1, 0)], type=pa.int8(), mask=~has),
        pa.array(key_names))
    samp = np.zeros(hi - lo, dtype=np.int64)
    spr = np.full(hi - lo, np.nan)
    for lv in ALL_LEVELS:
        sel = lvl == lv
        samp[sel] = m.samples[lv - 1][idx[sel]]
        spr[sel] = m.spread[lv - 1][idx[sel]]
    cols["counters_samples"] = pa.array(samp, mask=~has)
    cols["counters_spread"] = pa.array(spr)
    for col in TIMING_EXTRA:
        if col in part:
            cols[col] = _arrow(part[col], arrow_text() if col in ("duration_from", "launch_api",
                                                              "nvtx_source")
                               else pa.int64())
    order = [*IDENTITY, *ATTRIBUTION, *MEASURED, "flop", *PROVENANCE,
             *(c for c in TIMING_EXTRA if c in cols)]
    return pa.table({c: cols[c] for c in order})


def _arrow(values: pd.Series, kind: Any) -> Any:
    """A column as an Arrow array of ``kind`` (one type for every chunk; text columns as the
    timing table's codes into its categories, the same dictionary in every chunk)."""
    if kind == arrow_text():
        return arrow_text_array(values)
    arr = pa.array(values, from_pandas=True)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr if arr.type == kind else arr.cast(kind)


def _nvtx(part: pd.DataFrame) -> Any:
    """The annotation lists, built once per distinct range and taken for every row."""
    codes, uniques = pd.factorize(part["range"], use_na_sentinel=False)
    if "nvtx" in part:
        first = pd.Series(range(len(codes))).groupby(codes).first().to_numpy()
        lists = [list(part["nvtx"].iloc[int(i)]) for i in first]
    else:
        lists = [str(u).split("/") if isinstance(u, str) and u else [] for u in uniques]
    return pa.array(lists, type=pa.list_(pa.string())).take(
        pa.array(codes.astype("int64"), type=pa.int64()))


def _prepare(timing: TimingTrace, counters: Trace) -> tuple[pd.DataFrame, pd.DataFrame]:
    # text columns coded once here (a table made elsewhere may hold plain strings), not per chunk
    t = canonical(timing.kernels.copy(deep=False), [c for c, d in COLUMNS.items() if d == TEXT])
    c = counters.kernels
    for name, df, src in (("timing", t, timing.meta), ("counters", c, counters.meta)):
        missing = [k for k in (*SIGNATURE, "range", "phase", "op") if k not in df]
        if missing:
            raise InputError(f"{', '.join(src.get('sources') or [name])}: the {name} table "
                             f"lacks {', '.join(missing)}; it cannot be joined")
    if not len(c):
        raise InputError(f"{', '.join(counters.meta.get('sources') or ['counters'])}: no "
                         "profiled kernels to take counters from")
    if not any(c[col].notna().any() for col in COUNTERS if col in c):
        raise InputError(f"{', '.join(counters.meta.get('sources') or ['counters'])}: no "
                         "counters to join (every counter is null: a timing trace?); give the "
                         "counters of the same run: its Nsight Compute report (roofprof record "
                         "--sample, .ncu-rep), CSV export or Parquet trace")
    if not len(t):
        raise InputError(f"{', '.join(timing.meta.get('sources') or ['timing'])}: no timed "
                         "kernel launches: nothing to join")
    ran, profiled = set(_device_names(t).values()), set(_device_names(c).values())
    if ran and profiled and not ran & profiled:  # another GPU runs other kernels, at its speed
        raise InputError(
            f"{', '.join(timing.meta.get('sources') or ['timing'])} ran on "
            f"{', '.join(sorted(ran))}, {', '.join(counters.meta.get('sources') or ['counters'])}"
            f" was profiled on {', '.join(sorted(profiled))}: one GPU's counters cannot stand "
            "for another's launches; join the recording made on the GPU the trace ran on")
    return t, c


def _meta(timing: TimingTrace, counters: Trace, facts: dict[str, Any]) -> dict[str, Any]:
    meta = {**empty_meta(), **{k: v for k, v in counters.meta.items() if k != "sampling"}}
    meta["sources"] = list(timing.meta.get("sources", [])) + list(counters.meta["sources"])
    meta["formats"] = list(timing.meta.get("formats", [])) + list(counters.meta["formats"])
    meta["roofprof_version"] = __version__
    meta["created"] = None
    meta["join"] = {"timing": timing.meta.get("sources", []),
                    "counters": counters.meta.get("sources", []),
                    "counters_sampling": counters.meta.get("sampling"), **facts}
    meta["sampling"] = {"kind": "run", "reasons": ["joined: every launch timed, counters by "
                                                   "launch or signature"]}
    return meta


@dataclass
class Matched:
    """A join before its table is made: the timing rows (text coded), the match, the report's
    facts, the joined table's metadata, and the counters' device names (ordinal -> name)."""

    timing: pd.DataFrame
    match: Match
    facts: dict[str, Any]
    meta: dict[str, Any]
    device_names: dict[int, str]


def matched(timing: TimingTrace, counters: Trace, spread: float = 0.05) -> Matched:
    """Check, match and report: what every way of making the joined table starts with."""
    t, c = _prepare(timing, counters)
    m = match(t, c)
    facts = report(m, t, spread, scope=_scope(t, counters))
    return Matched(t, m, facts, _meta(timing, counters, facts), _device_names(c))


def join(timing: TimingTrace, counters: Trace, spread: float = 0.05) -> Trace:
    """The joined kernel table in memory (see the module docstring;
    ``roofprof.app.join`` writes it to Parquet in chunks)."""
    j = matched(timing, counters, spread)
    table = chunk_table(j.match, j.timing, j.device_names, 0)
    df = table.drop_columns(["nvtx"]).to_pandas()
    df.insert(table.column_names.index("nvtx"), "nvtx", shared_lists(table.column("nvtx")))
    for col in (*IDENTITY, *ATTRIBUTION):
        if col != "nvtx":
            df[col] = pd.Series(text(df[col]), index=df.index) if dtype_of(col) == TEXT \
                else df[col].astype(dtype_of(col))
    df["counters_from"] = pd.Series(text(df["counters_from"]), index=df.index)
    df["counters_key"] = pd.Series(text(df["counters_key"]), index=df.index)
    return Trace(kernels=df, meta=j.meta)


def _scope(t: pd.DataFrame, counters: Trace) -> np.ndarray | None:
    """The timed launches ncu could have profiled (inside its NVTX and kernel-name filters);
    None when it had none."""
    return in_scope(t["range"], t["kernel"], sampling(counters.meta))


def _device_names(c: pd.DataFrame) -> dict[int, str]:
    if "device_name" not in c or "device" not in c:
        return {}
    pairs = c[["device", "device_name"]].dropna().drop_duplicates("device")
    return {int(d): str(n) for d, n in pairs.itertuples(index=False)}
