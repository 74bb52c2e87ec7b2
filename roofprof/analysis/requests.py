"""Per-request latency from a timing trace where the program puts each request in a range.

A request is one instance of a range whose name matches ``--per-request REGEX`` (e.g. NVTX
``request`` around one generation). Its steps are the phase ranges (``prefill``, ``decode``,
``mixed``, ... : a range whose own name the phase rules of ``roofprof.inputs.attribution``
recognise) that ran inside it: on the same thread of the same trace, starting and ending within it.
Each step produces the request's next token, so, per request:

- ``e2e_ns``: the request range's own duration (what the caller waited);
- ``ttft_ns``: time to first token, from the request's start to the end of its first step
  (queueing inside the range included);
- ``tpot_ns``: time per output token after the first, (end of the last step - end of the first)
  / (steps - 1); null for a request of one step. With speculative decoding a step can emit
  several tokens: then this is the time per step;
- ``steps`` and ``kernels``.

A request without steps inside it has null ``ttft_ns`` and ``tpot_ns``, and is counted in the
table (``without steps``), so the user is told. Requests whose ranges are not on the launching
thread (continuous batching shares each step between requests) have no steps here: per-request
latency needs per-request ranges around the steps, as the module doc says. Percentiles
interpolate linearly (numpy's default), over the requests that have the metric.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from roofprof.errors import InputError, option
from roofprof.inputs.attribution import UNKNOWN_PHASE, phase_of

PERCENTILES = (50, 90, 99)
#: the per-request metrics, in the order shown, with their labels
METRICS = {"ttft_ns": "time to first token", "tpot_ns": "time per output token",
           "e2e_ns": "request (end to end)"}


def per_request(inst: pd.DataFrame, request: str) -> pd.DataFrame:
    """One row per request instance (see the module doc) from ``latency.instances``."""
    try:
        pattern = re.compile(request)
    except re.error as exc:
        raise InputError(f"invalid {option('per_request')} regular expression: {exc}") from None
    is_request = inst["range"].map(lambda n: bool(pattern.search(str(n)))).to_numpy(bool)
    if not is_request.any():
        seen = ", ".join(sorted({str(n) for n in inst["range"]})[:12]) or "none"
        raise InputError(f"no range matches {option('per_request')} {request!r} (ranges that "
                         f"launched kernels: {seen})")
    names = {str(n) for n in inst["range"]}
    phase_names = {n for n in names if phase_of([n]) != UNKNOWN_PHASE}
    steps = inst[inst["range"].astype(str).isin(phase_names) & ~is_request]
    rows = []
    for _, r in inst[is_request].iterrows():
        inside = steps[(steps["source"] == r["source"]) & (steps["thread_id"] == r["thread_id"])
                       & (steps["start_ns"] >= r["start_ns"]) & (steps["end_ns"] <= r["end_ns"])]
        ends = np.sort(inside["end_ns"].to_numpy(np.int64))
        n = len(ends)
        rows.append({
            "request": r["range"], "source": r["source"], "thread_id": r["thread_id"],
            "start_ns": int(r["start_ns"]), "end_ns": int(r["end_ns"]),
            "e2e_ns": float(r["wall_ns"]),
            "ttft_ns": float(ends[0] - r["start_ns"]) if n else np.nan,
            "tpot_ns": float(ends[-1] - ends[0]) / (n - 1) if n > 1 else np.nan,
            "steps": n, "kernels": int(r["kernels"])})
    return pd.DataFrame(rows)


def percentiles(req: pd.DataFrame) -> pd.DataFrame:
    """One row per metric: ``metric``, ``label``, ``n`` (requests that have it), p50, p90,
    p99 and max (ns; null where no request has it)."""
    rows = []
    for col, label in METRICS.items():
        v = req[col].to_numpy("float64")
        v = v[~np.isnan(v)]
        rec: dict[str, Any] = {"metric": col, "label": label, "n": len(v)}
        for p in PERCENTILES:
            rec[f"p{p}_ns"] = float(np.percentile(v, p)) if len(v) else np.nan
        rec["max_ns"] = float(v.max()) if len(v) else np.nan
        rows.append(rec)
    return pd.DataFrame(rows)

