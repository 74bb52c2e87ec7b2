"""Why a roofline number is unknown, in words: per kernel, which counter, peak or duration is
missing (or that a join gave it no counters); per group with unmeasured members (unknown, or
partial: ``roofprof.analysis.roofline``'s coverage), its members' most common reason.

``roofprof.analysis.roofline`` computes the numbers and calls these; the out-of-core engines
(``roofprof.datasets.sql``) pack the same missing inputs into flags and get their texts from
``roofline.kernel_numbers`` itself, so every engine says the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

#: the reason of a joined launch that took no counters (``counters_from`` none)
UNJOINED = "no counters joined (no profiled launch of its kernel instance and configuration)"


def kernel_reasons(names: Sequence[str], uncounted: npt.NDArray[np.bool_],
                   no_counters: npt.NDArray[np.bool_], per_p: FloatArray, dur: FloatArray,
                   nbytes: FloatArray, bw: FloatArray, tma: npt.NDArray[np.bool_],
                   level: str) -> npt.NDArray[Any]:
    """Why each kernel's numbers are unknown (None where they are known). ``names``: the
    precisions' labels in the column order of ``uncounted`` and ``per_p``; ``level``: the
    memory level's label (``DRAM``)."""
    flags = np.column_stack([uncounted, no_counters, np.isnan(per_p), np.isnan(dur),
                             np.isnan(nbytes), np.isnan(bw), tma])
    # one text per distinct combination of missing things (cheap for millions of kernels):
    # the flags of a kernel packed into one integer
    packed = flags.astype(np.int64) @ (np.int64(1) << np.arange(flags.shape[1], dtype=np.int64))
    codes, _ = pd.factorize(packed)
    combos = flags[pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()] \
        if len(codes) else flags[:0]
    texts: list[str | None] = []
    k = len(names)
    for row in combos:
        unc, none, nopeak = row[:k], row[k], row[k + 1: 2 * k + 1]
        no_dur, no_bytes, no_bw, no_l1 = row[2 * k + 1:]
        why: list[str] = []
        if no_dur:
            why.append("no duration")
        if none:
            why.append("no FLOP counters")
        else:
            miss = [p for p, u in zip(names, unc, strict=True) if u]
            if miss:
                why.append(f"no {', '.join(miss)} work counter")
            nop = [p for p, u in zip(names, nopeak, strict=True) if u]
            if nop:
                why.append(f"no {', '.join(nop)} peak")
        if no_l1:
            why.append("L1TEX did not see its traffic (TMA): fewer L1 bytes than half its "
                       "DRAM bytes")
        elif no_bytes:
            why.append(f"no {level} bytes counter")
        if no_bw:
            why.append(f"no {level} bandwidth peak")
        texts.append("; ".join(why) or None)
    return np.asarray(texts, dtype=object)[codes.reshape(-1)]


def group_reasons(reason: npt.NDArray[Any], codes: npt.NDArray[np.intp], n: int,
                  unknown: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    """The reason of each group flagged in ``unknown`` (an unknown or a partial one), "3 of 10
    kernels: no FP8 tensor work counter": how many of its members have a reason, of how many,
    and the most common one (ties: the first in alphabetical order, as
    ``roofprof.datasets.reasons.group_reasons`` breaks them). One pass over the kernels,
    whatever the number of groups."""
    out = np.full(n, None, dtype=object)
    has = np.asarray([isinstance(r, str) and bool(r) for r in reason], dtype=bool)
    keep = has & unknown[codes]
    if not keep.any():
        return out
    members = np.bincount(codes, minlength=n)
    counts = pd.DataFrame({"g": codes[keep], "r": reason[keep]}).groupby(
        ["g", "r"], sort=True).size().reset_index(name="n")
    counts = counts.sort_values(["g", "n", "r"], ascending=[True, False, True], kind="stable")
    first = counts.drop_duplicates("g")
    with_reason = counts.groupby("g")["n"].sum()
    for g, r in zip(first["g"], first["r"], strict=True):
        out[g] = f"{int(with_reason[g])} of {int(members[g])} kernels: {r}"
    return out
