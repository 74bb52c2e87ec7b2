"""Which kernels form a group: the one grouping every view uses (tables, plots, HTML, sweeps).

:func:`group_kernels` gives each kernel a group number and each group its parts (one value per
grouping column: ``("qkv_proj", "prefill")`` for ``--by op,phase``) and a display name. Views
read the parts instead of splitting names. ``--by kernel`` groups by a kernel's full identity
(its demangled name), so two kernels that share a function name (cuBLAS's ``Kernel2`` runs both
the SIMT SGEMM and an INT8 GEMM) stay apart; their display names are made unique by
:func:`roofprof.analysis.labels.unique_labels`.

:func:`filter_kernels` keeps the kernels whose name, range, phase, category or op matches a
regular expression (``--filter``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from roofprof.analysis.labels import short_kernel, unique_labels
from roofprof.errors import UsageError, option

#: group names with a meaning beyond "the column of that name"
GROUPS: tuple[str, ...] = ("range", "kernel", "device", "phase", "category", "op", "trace")
NO_RANGE = "(no range)"
NO_VALUE = "(none)"
#: joins the parts of a group named by several columns (``--by op,phase``)
GROUP_JOIN = " · "
#: what ``--filter`` searches: a kernel is kept when any of these matches
FILTER_COLUMNS: tuple[str, ...] = ("kernel", "range", "phase", "category", "op")


@dataclass(frozen=True)
class Grouping:
    """Kernels in groups: ``codes[i]`` is kernel i's group; group g has ``parts[g]`` (one
    value per column of ``by``) and the display name ``names[g]`` (unique)."""

    by: tuple[str, ...]
    codes: npt.NDArray[np.intp]
    parts: list[tuple[str, ...]]
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)

    @property
    def label(self) -> str:
        """What the groups are, for a legend title (``op × phase``)."""
        words = {"range": "NVTX range", "kernel": "kernel", "trace": "trace"}
        return " × ".join(words.get(b, b) for b in self.by)


def parse_by(by: str) -> tuple[str, ...]:
    parts = tuple(b.strip() for b in by.split(",") if b.strip())
    if not parts:
        raise UsageError(f"{option('by')} needs a column name (range, kernel, phase, op, ...)")
    return parts


def group_kernels(table: pd.DataFrame, by: str, depth: int | None = None) -> Grouping:
    """Group the kernels of ``table`` by one column or several joined by commas."""
    columns = parse_by(by)
    if depth is not None:
        if "range" not in columns:
            raise UsageError(f"{option('depth')} applies only to grouping by range")
        if depth < 1:
            raise UsageError(f"{option('depth')} must be at least 1, got {depth}")
    combined = np.zeros(len(table), dtype=np.int64)
    per_part: list[list[str]] = []
    for col in columns:
        codes, names = _one(table, col, depth if col == "range" else None)
        combined = combined * max(len(names), 1) + codes
        per_part.append(names)
    codes, firsts = pd.factorize(combined)
    parts: list[tuple[str, ...]] = []
    for value in firsts:
        rest, pieces = int(value), []
        for names in reversed(per_part):
            rest, code = divmod(rest, max(len(names), 1))
            pieces.append(names[code])
        parts.append(tuple(reversed(pieces)))
    names = [GROUP_JOIN.join(p) for p in parts]
    return Grouping(columns, codes.astype(np.intp), parts, names)


def _one(t: pd.DataFrame, by: str, depth: int | None) -> tuple[npt.NDArray[np.intp], list[str]]:
    if by == "kernel" and "kernel" in t.columns:
        return _kernel_codes(t)
    if by == "trace" and "trace" not in t.columns:
        by = "source"
    if by not in t.columns:
        groupable = [g for g in GROUPS if g in t.columns] + [
            c for c in t.columns if c not in GROUPS and c not in ("id", "nvtx")
            and not pd.api.types.is_float_dtype(t[c].dtype)]
        hint = " (the LLM attribution fills it)" if by in ("phase", "category", "op") else ""
        raise UsageError(f"cannot group by {by!r}: the trace has no such column{hint}; "
                         f"group by one of: {', '.join(dict.fromkeys(groupable))}")
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
    return merged[codes].astype(np.intp), [str(x) for x in labels]


def _kernel_codes(t: pd.DataFrame) -> tuple[npt.NDArray[np.intp], list[str]]:
    """By full identity (demangled name where known), named by the function name, made unique."""
    names = t["kernel"].astype(object).where(t["kernel"].notna(), NO_VALUE)
    if "kernel_demangled" in t.columns:
        ident = t["kernel_demangled"].astype(object).where(t["kernel_demangled"].notna(), names)
    else:
        ident = names
    codes, uniques = pd.factorize(ident.map(str))
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    shown = [str(names.iat[int(i)]) for i in first]
    labels = unique_labels(shown, 10_000, longer=[short_kernel(str(u)) for u in uniques])
    return codes.astype(np.intp), labels


def _name(value: Any, by: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return NO_RANGE if by == "range" else NO_VALUE
    if by == "range" and value == "":
        return NO_RANGE
    return str(value)


def _range_prefixes(t: pd.DataFrame, codes: npt.NDArray[np.intp], names: list[str],
                    depth: int) -> list[str]:
    """The first ``depth`` NVTX levels of each distinct range (``nvtx`` lists where present,
    so a range name containing "/" stays whole)."""
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    nvtx = t["nvtx"] if "nvtx" in t.columns else None
    out: list[str] = []
    for code, name in enumerate(names):
        stack: Any = nvtx.iat[int(first[code])] if nvtx is not None else None
        if not isinstance(stack, (list, tuple, np.ndarray)):
            stack = [] if name == NO_RANGE else name.split("/")
        out.append("/".join(str(s) for s in list(stack)[:depth]) or NO_RANGE)
    return out


def filter_kernels(table: pd.DataFrame, pattern: str | None) -> pd.DataFrame:
    """The kernels whose name, range, phase, category or op matches ``pattern`` (a regex)."""
    if not pattern:
        return table
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"{option('filter')} {pattern!r} is not a valid regular expression: "
                         f"{exc}") from None
    keep = np.zeros(len(table), dtype=bool)
    for col in FILTER_COLUMNS:
        if col in table.columns:
            codes, uniques = pd.factorize(table[col].astype(object), use_na_sentinel=True)
            hit = np.asarray([rx.search(str(u)) is not None for u in uniques] + [False])
            keep |= hit[codes]  # code -1 (null) picks the trailing False
    if not keep.any():
        raise UsageError(f"no kernel, range, phase, category or op matches {option('filter')} "
                         f"{pattern!r}")
    return table[keep]
