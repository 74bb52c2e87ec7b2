"""Why a group of the generated query (:mod:`roofprof.datasets.sql`) has unmeasured kernels,
in ``roofprof.analysis.roofline``'s own words.

The query packs each kernel's missing inputs into ``flags`` (as
``roofprof.analysis.reasons.kernel_reasons`` packs them) and counts the kernels of each group per
combination; :func:`flag_texts` turns each combination into roofline's text by running
``roofline.kernel_numbers`` on one representative kernel, and :func:`group_reasons` gives each
unknown or partial group its members' most common reason, as ``roofline.group_numbers`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from roofprof.analysis.roofline import (
    BYTES_COLUMNS,
    L1_BLIND_MIN_BYTES,
    PEAK_BW_COLUMNS,
    kernel_numbers,
)
from roofprof.tables.metrics import PRECISIONS


def needs_reasons(df: pd.DataFrame) -> bool:
    """Whether a summary's rows have a group with unmeasured kernels (unknown or partial),
    whose reason the query of kernels per missing input gives."""
    cov = pd.to_numeric(df["coverage"], errors="coerce").to_numpy(dtype=np.float64)
    return bool((df["bound"] == "unknown").any() or not np.all(cov == 1.0))


def reason_texts(bits: Any, level: str) -> list[str | None]:
    """The kernel reason of each combination of missing inputs (rows of ``bits``, packed as
    in ``sql.summary_sql``), from ``roofline.kernel_numbers`` itself on one representative
    kernel per combination, so the texts are roofline's."""
    k = len(PRECISIONS)
    nan = np.nan
    rows = []
    for b in bits:
        unc, none, nopeak = b[:k], b[k], b[k + 1:2 * k + 1]
        no_dur, no_bytes, no_bw, tma, unjoined = b[2 * k + 1:]
        row: dict[str, Any] = {"duration_ns": nan if no_dur else 1e6,
                               PEAK_BW_COLUMNS[level]: nan if no_bw else 1.0,
                               "counters_from": "none" if unjoined else "signature"}
        for i, (work, peak) in enumerate(PRECISIONS.values()):
            row[work] = nan if unc[i] or none else (1.0 if nopeak[i] else 0.0)
            row[peak] = 1.0 if unc[i] else nan
        if tma:  # cc >= 9.0, DRAM traffic, few L1 bytes (roofline.L1_BLIND_MIN_BYTES)
            row.update({"cc": "9.0", BYTES_COLUMNS["dram"]: 4 * L1_BLIND_MIN_BYTES,
                        BYTES_COLUMNS[level]: 0.0})
        else:
            row[BYTES_COLUMNS[level]] = nan if no_bytes else 1.0
        rows.append(row)
    reason = kernel_numbers(pd.DataFrame(rows), level)["reason"]
    return [r if isinstance(r, str) else None for r in reason]


def flag_texts(packed: Any, level: str) -> list[str | None]:
    """The kernel reason of each packed ``flags`` value of ``sql.kernel_sql``."""
    flags = np.asarray(packed, dtype=np.int64)
    bits = (flags[:, None] >> np.arange(2 * len(PRECISIONS) + 6, dtype=np.int64)) & 1 == 1
    return reason_texts(bits, level)


def group_reasons(df: pd.DataFrame, whys: pd.DataFrame, level: str) -> list[str | None]:
    """``roofline.group_numbers``' reason of each unknown or partial group ("3 of 10 kernels:
    no FP8 tensor work counter"): the members' most common reason."""

    out: list[str | None] = [None] * len(df)
    if whys.empty:
        return out
    texts = flag_texts(whys["flags"], level)
    per_group: dict[str, dict[str, int]] = {}
    for g, text, n in zip(whys["group"], texts, whys["n"], strict=True):
        if text:
            counts = per_group.setdefault(str(g), {})
            counts[text] = counts.get(text, 0) + int(n)
    cover = pd.to_numeric(df["coverage"], errors="coerce").to_numpy(dtype=np.float64)
    for i, (g, bound, kernels) in enumerate(zip(df["group"], df["bound"], df["kernels"],
                                                strict=True)):
        found = per_group.get(str(g))
        if (bound == "unknown" or cover[i] != 1.0) and found:
            common = max(sorted(found), key=lambda t: found[t])
            out[i] = f"{sum(found.values())} of {int(kernels)} kernels: {common}"
    return out
