"""Nsight Compute reports (.ncu-rep) through NVIDIA's ``ncu_report`` (``--reader ncu-report``).

Every report of a file format version roofprof's own decoder knows is first checked by it
(``check_with_own_reader``): cut and damaged reports are refused before native code sees them.
A kernel NVIDIA's reader returns without any metric is a warning naming its position. A cut
report is always an error with this reader (``strict`` is accepted for the same signature):
keeping the kernels before the cut is roofprof's reader's job.

``ncu_report.load_report`` returns an empty context, without an error, for empty, truncated,
random or otherwise broken files (checked with ncu 2025.3.1: cutting a valid report anywhere
reads as 0 kernels). A report that reads as 0 kernels is therefore always reported as broken.

Where ``ncu_report`` is not installed but ``ncu`` is (a GPU host without network access), the
report is exported with ``ncu --import R --csv --page raw --print-units base`` and read by the CSV
parser instead.

``ncu_report`` exposes no process id or host name; those columns are null for reports read this
way (the CSV export carries them).

``IMetric.value()`` is in ncu's base units, which are roofprof's canonical ones (ns, byte, hz,
per second, per cycle). ``IMetric.unit()`` and ``IContext.get_version()`` are never called: with
ncu-report 2025.3.1 both crash the interpreter (SIGSEGV) once pyarrow is loaded in the same
process, which pandas does; ``tests/test_ncu_rep.py`` reads every fixture after importing pandas.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import re
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parsers.ncu_csv import read as read_csv
from parsers.ncu_rep_reader import UnknownFormatVersion, UnsupportedContent
from parsers.ncu_rep_reader import read as read_with_roofprof
from parsers.ncu_rep_wire import MAGIC
from parsers.nvidia_tools import find_ncu
from parsers.raw import RawKernels
from roofprof.errors import DataWarning, InputError, NcuError
from roofprof.tables.metrics import IDENTITY_METRICS, wanted_metrics

_IDENTITY_METRICS = {k: IDENTITY_METRICS[k] for k in ("device", "context", "stream",
                                                       "device_name")}


def _value(action: Any, name: str) -> Any:
    m = action.metric_by_name(name)
    return None if m is None else m.value()


def read(path: Path, strict: bool = False) -> RawKernels:
    command = check_with_own_reader(path)
    if importlib.util.find_spec("ncu_report") is None:
        return _read_via_ncu(path)
    with warnings.catch_warnings():
        # SWIG-generated module: "builtin type swigvarlink has no __module__ attribute"
        warnings.simplefilter("ignore", DeprecationWarning)
        import ncu_report
    atexit.register(_quiet_swig_at_exit)  # the same warning again at interpreter exit

    size = path.stat().st_size
    ctx = ncu_report.load_report(str(path))
    wanted = wanted_metrics()
    ident_rows: list[dict[str, Any]] = []
    metric_rows: list[list[float]] = []
    demangled = ncu_report.IAction.NameBase_DEMANGLED
    kid = 0
    empty: list[str] = []
    for r in range(ctx.num_ranges()):
        rng = ctx.range_by_idx(r)
        for i in range(rng.num_actions()):
            action = rng.action_by_idx(i)
            row = [np.nan] * len(wanted)
            for j, name in enumerate(wanted):
                m = action.metric_by_name(name)
                if m is not None:
                    row[j] = float(m.value())
            no_launch = action.metric_by_name(IDENTITY_METRICS["grid_size"]) is None
            if all(np.isnan(v) for v in row) and no_launch:
                empty.append(f"{kid + 1}")
            metric_rows.append(row)
            ident = {k: _value(action, v) for k, v in _IDENTITY_METRICS.items()}
            major = _value(action, IDENTITY_METRICS["cc_major"])
            minor = _value(action, IDENTITY_METRICS["cc_minor"])
            ident.update(
                id=kid,
                kernel=action.name(),
                kernel_demangled=action.name(demangled),
                cc=None if major is None else f"{major}.{minor}",
                grid=_dims(action, IDENTITY_METRICS["grid_dim"]),
                block=_dims(action, IDENTITY_METRICS["block_dim"]),
                nvtx=_nvtx_stack(action),
            )
            ident_rows.append(ident)
            kid += 1
    if kid == 0:
        what = ("the file does not start like an Nsight Compute report"
                if not _starts_with_magic(path) else
                f"NVIDIA's reader found no kernels in its {size:,} bytes: it is truncated or "
                "damaged (a report cut short reads as empty)")
        raise InputError(f"{path}: {what}; record or copy it again")
    if empty:
        more = f", and {len(empty) - 10} more" if len(empty) > 10 else ""
        warnings.warn(f"{path}: NVIDIA's reader returned kernel(s) {', '.join(empty[:10])}{more} "
                      "without any metric; their numbers are null", DataWarning, stacklevel=3)
    identity = pd.DataFrame(ident_rows)
    identity["range"] = identity["nvtx"].map("/".join)
    metrics = pd.DataFrame(metric_rows, columns=wanted)
    metrics = metrics.loc[:, metrics.notna().any(axis=0)]
    return RawKernels(identity=identity, metrics=metrics,
                      meta={"format": "ncu-rep", "ncu_version": ncu_version(path),
                            "ncu_command": command})


def check_with_own_reader(path: Path) -> str | None:
    """Validate the report with roofprof's decoder before NVIDIA's native code sees it; return
    the ncu command line the report keeps (NVIDIA's reader does not expose it).

    ncu-report 2025.3.1 reads a cut report as empty, 2026.3.1 reads the kernels before the cut
    and drops the rest without a word, and a damaged block header makes it abort the process
    (SIGABRT). A report of a format version roofprof's decoder does not know is left to
    NVIDIA's reader unchecked: that is what ``--reader ncu-report`` is for.
    """
    try:
        command = read_with_roofprof(path, strict=True, checking=True).meta.get("ncu_command")
    except (UnknownFormatVersion, UnsupportedContent):
        return None
    return str(command) if command else None


_TARGET = re.compile(rb"Nsight Compute Target\x12(?P<n>[\x01-\x7f])")


def ncu_version(path: Path) -> str | None:
    """The ncu version that wrote the report, from its header record ("2025.3.1.0 (build ...)").

    ``IContext.get_version()`` would say it but crashes next to pyarrow (see above); the header
    holds it as a length-prefixed string after "Nsight Compute Target".
    """
    with open(path, "rb") as fh:
        head = fh.read(4 << 20)
    m = _TARGET.search(head)
    if m is None:
        return None
    start = m.end()
    text = head[start:start + m.group("n")[0]].decode("utf-8", "replace")
    return text.split(" (")[0] or None


def _quiet_swig_at_exit() -> None:
    warnings.filterwarnings("ignore", message="builtin type swigvarlink",
                            category=DeprecationWarning)


def _starts_with_magic(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == MAGIC


def _dims(action: Any, prefix: str) -> str | None:
    dims = [_value(action, f"{prefix}_{axis}") for axis in "xyz"]
    if any(d is None for d in dims):
        return None
    return "(" + ", ".join(str(int(d)) for d in dims) + ")"


def _nvtx_stack(action: Any) -> list[str]:
    """Push/pop ranges around the launch, outermost first; other domains as DOMAIN@name."""
    state = action.nvtx_state()
    if state is None:
        return []
    stack: list[str] = []
    domains = [(d, state.domain_by_id(d)) for d in state.domains()]
    domains.sort(key=lambda dd: dd[1].name() != "<default domain>")  # default domain first
    for _, dom in domains:
        name = dom.name()
        for rng in dom.push_pop_ranges():
            stack.append(rng if name == "<default domain>" else f"{name}@{rng}")
    return stack


def _read_via_ncu(path: Path) -> RawKernels:
    """No ncu_report: let ncu export the report as CSV and read that."""
    try:
        ncu = find_ncu()
    except Exception:
        raise InputError(
            f"{path}: reading .ncu-rep files needs NVIDIA's ncu-report package (pip install "
            "ncu-report) or Nsight Compute's ncu; neither was found"
        ) from None
    fd, tmp = tempfile.mkstemp(suffix=".csv")
    os.close(fd)
    try:
        with open(tmp, "wb") as out:
            done = subprocess.run(
                [ncu, "--import", str(path), "--csv", "--page", "raw", "--print-units", "base"],
                stdout=out, stderr=subprocess.PIPE, env={**os.environ, "LC_ALL": "C"},
                check=False,
            )
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise NcuError(f"{path}: ncu could not export it ({' | '.join(err)})")
        raw = read_csv(Path(tmp))
    finally:
        os.unlink(tmp)
    raw.meta["format"] = "ncu-rep (via ncu --csv)"
    return raw
