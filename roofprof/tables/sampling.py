"""Is a trace every launch of a run, or a sample? What its time shares are shares of.

A trace's ``meta["sampling"]`` says (written when the trace is built; :func:`sampling` derives it
for traces written before the key existed):

- ``{"kind": "run", ...}``: every launch of the run is in the table (a timing trace, a joined
  trace, an ncu recording without launch filters): time shares are the run's.
- ``{"kind": "sample", ...}``: ncu profiled some launches only (``--per-config`` =
  ``--filter-mode per-launch-config``, ``--count`` = ``--launch-count``, ``--skip`` =
  ``--launch-skip``): time shares are those of the samples, not of the run; join with a timing
  trace (``roofprof join``) for the run's.
- ``{"kind": "filtered", ...}``: every launch inside the NVTX ranges or kernel names asked for
  (``--nvtx-include`` / ``--nvtx-exclude`` / a user's ``--kernel-name``): shares are of those
  kernels of the run.
- ``{"kind": "unknown", ...}``: no record of how the counters were collected (a report made by
  plain ncu and read directly).

Each carries ``reasons`` (the options that decided, as the user can read them) and, for samples,
``options`` (the ncu option -> value pairs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: ncu options that profile some launches only
SAMPLING_OPTIONS = {"--filter-mode": "per-launch-config", "--launch-count": "--count",
                    "--launch-skip": "--skip", "-c": "--count", "-s": "--skip"}
FILTER_OPTIONS = ("--nvtx-include", "--nvtx-exclude", "--kernel-name", "-k",
                  "--kernel-name-base", "--devices")
#: roofprof record's default --kernel-name (NCCL left out; the second where ncu matches mangled
#: names, as with --per-config): not a user's filter
DEFAULT_KERNEL_FILTERS = ("regex:^(?!nccl)", r"regex:^(?!(?:_Z\w*?\d+)?nccl)")
KINDS = ("run", "sample", "filtered", "unknown")


def from_ncu_argv(argv: Sequence[str], command: Sequence[str] | None = None) -> dict[str, Any]:
    """``meta["sampling"]`` of a recording made with this ncu argv (``command``: the program's
    own argv, at the end of ``argv``, which is not read for options)."""
    args = list(argv)
    if command and args[len(args) - len(command):] == list(command):
        args = args[:len(args) - len(command)]
    options: dict[str, str] = {}
    for i, a in enumerate(args):
        name, _, inline = a.partition("=")
        if name in SAMPLING_OPTIONS or name in FILTER_OPTIONS:
            value = inline or (args[i + 1] if i + 1 < len(args) else "")
            options[name] = f"{options[name]},{value}" if name in options else value
    reasons: list[str] = []
    if options.get("--filter-mode") == "per-launch-config":
        count = options.get("--launch-count") or options.get("-c") or "?"
        reasons.append(f"each launch configuration profiled {count} time(s) "
                       f"(--per-config {count})")
    else:
        for opt in ("--launch-count", "-c"):
            if opt in options:
                reasons.append(f"at most {options[opt]} launch(es) profiled (--count)")
    for opt in ("--launch-skip", "-s"):
        if opt in options:
            reasons.append(f"the first {options[opt]} launch(es) skipped (--skip)")
    if reasons:
        return {"kind": "sample", "reasons": reasons, "options": options}
    filters = []
    if "--nvtx-include" in options:
        filters.append(f"only kernels inside NVTX ranges {options['--nvtx-include']}")
    if "--nvtx-exclude" in options:
        filters.append(f"kernels inside NVTX ranges {options['--nvtx-exclude']} left out")
    for opt in ("--kernel-name", "-k"):  # --kernel-name-base only says how names are read
        if opt in options and options[opt] not in DEFAULT_KERNEL_FILTERS:
            filters.append(f"only kernels matching {options[opt]}")
    if "--devices" in options:
        filters.append(f"only devices {options['--devices']}")
    if filters:
        return {"kind": "filtered", "reasons": filters, "options": options}
    return {"kind": "run", "reasons": ["every launch profiled"], "options": options}


def of_reports(argvs: Sequence[Sequence[str]], names: Sequence[Any]) -> dict[str, Any]:
    """``meta["sampling"]`` of a table read from several reports, from the ncu command line
    each report keeps: a sample if any is one, else filtered if any is, else the run's. Where
    the reports differ, each reason names its report."""
    facts = [from_ncu_argv(list(argv)) for argv in argvs]
    if all(f == facts[0] for f in facts):
        return facts[0]
    kind = next(k for k in ("sample", "filtered", "run") if any(f["kind"] == k for f in facts))
    reasons = [f"{name}: {r}" for name, f in zip(names, facts, strict=True)
               for r in f["reasons"]]
    return {"kind": kind, "reasons": reasons,
            "options": next(f["options"] for f in facts if f["kind"] == kind)}


def decisive(metas: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Of the metadata of the files one view reads together, the one whose sampling the view
    states: the first sampled or filtered one (read lazily: it stops there), else the first."""
    first: Mapping[str, Any] | None = None
    for meta in metas:
        first = meta if first is None else first
        if sampling(meta)["kind"] in ("sample", "filtered"):
            return meta
    return first or {}


def sampling(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A trace's sampling facts: its ``meta["sampling"]``, else derived from its ncu command."""
    stored = meta.get("sampling")
    if isinstance(stored, dict) and stored.get("kind") in KINDS:
        return stored
    argv = meta.get("record_argv")
    if argv:
        return from_ncu_argv(argv, meta.get("command"))
    return {"kind": "unknown", "reasons": ["how the counters were collected is not recorded"]}


def time_shares_of(meta: Mapping[str, Any]) -> str:
    """What a trace's time shares are shares of: ``"run"`` (every launch), ``"samples"``
    (profiled launches only: not the run's), ``"filtered"`` (every launch inside the filters)
    or ``"unknown"``."""
    kind = sampling(meta)["kind"]
    return {"run": "run", "sample": "samples", "filtered": "filtered"}.get(kind, "unknown")


def label(meta: Mapping[str, Any]) -> str:
    """One line for views: what the time shares mean ("" when they are the run's)."""
    facts = sampling(meta)
    if facts["kind"] == "sample":
        return ("sampled trace: time shares are of the profiled launches, not of the run ("
                + "; ".join(facts["reasons"]) + "); join with a timing trace for the run's")
    if facts["kind"] == "filtered":
        return "filtered trace: " + "; ".join(facts["reasons"])
    return ""


def in_scope(ranges: Any, kernels: Any, facts: Mapping[str, Any]) -> np.ndarray | None:
    """Which launches (their NVTX paths ``ranges``, "a/b/c", and kernel names) a recording
    with sampling ``facts`` could have profiled: inside one of its ``--nvtx-include`` ranges,
    inside none of its ``--nvtx-exclude`` ones, and matching its ``--kernel-name`` (``regex:``
    or exact). A push/pop spec "a/b/" matches a path holding a then b, one inside the other.
    None when the recording had no such filter (every launch could have been profiled)."""
    options = facts.get("options") or {}

    def specs(opt: str) -> list[list[str]]:
        return [[p for p in spec.split("/") if p]
                for spec in str(options.get(opt) or "").split(",") if spec.strip("/")]

    include, exclude = specs("--nvtx-include"), specs("--nvtx-exclude")
    name = options.get("--kernel-name") or options.get("-k")
    if not include and not exclude and not name:
        return None

    def holds(path: list[str], spec: list[str]) -> bool:
        n = len(spec)
        return any(path[i:i + n] == spec for i in range(len(path) - n + 1))

    codes, paths = pd.factorize(pd.Series(ranges).astype("string").fillna(""))
    split = [str(p).split("/") if p else [] for p in paths]
    ok = np.asarray([(not include or any(holds(p, s) for s in include))
                     and not any(holds(p, s) for s in exclude) for p in split], dtype=bool)
    mask: np.ndarray = ok[codes] if len(codes) else np.zeros(0, dtype=bool)
    if name:
        kcodes, knames = pd.factorize(pd.Series(kernels).astype("string").fillna(""))
        text = str(name)
        if text.startswith("regex:"):
            pattern = re.compile(text[len("regex:"):])
            kok = np.asarray([bool(pattern.search(str(k))) for k in knames], dtype=bool)
        else:
            kok = np.asarray([str(k) == text for k in knames], dtype=bool)
        mask &= kok[kcodes]
    return mask
