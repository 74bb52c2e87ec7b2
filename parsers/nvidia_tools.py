"""Where NVIDIA's command-line tools are: Nsight Compute's ``ncu`` (``roofprof record`` runs it;
the report reader falls back to its CSV export) and Nsight Systems' ``nsys`` (exports a
``.nsys-rep`` to SQLite)."""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

from roofprof.errors import NcuNotFoundError


def find_ncu(explicit: str | None = None) -> str:
    """Locate ncu: ``--ncu``, ``$ROOFPROF_NCU``, PATH, /usr/local/cuda/bin, /opt/nvidia/..."""
    looked: list[str] = []
    env = os.environ.get("ROOFPROF_NCU")
    for label, candidate in (("--ncu", explicit), ("$ROOFPROF_NCU", env)):
        if candidate:
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
            raise NcuNotFoundError(
                f"{label} names {candidate!r}, which is not an executable file; "
                "point it at the ncu binary of an Nsight Compute install"
            )
    found = shutil.which("ncu")
    if found:
        return found
    looked.append("PATH")
    fixed = ["/usr/local/cuda/bin/ncu"]
    installs = sorted(glob.glob("/opt/nvidia/nsight-compute/*/ncu"), key=_version_key, reverse=True)
    for candidate in fixed + installs:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    looked += [*fixed, "/opt/nvidia/nsight-compute/*/ncu"]
    raise NcuNotFoundError(
        "could not find Nsight Compute's ncu (looked in " + ", ".join(looked) + "); install "
        "Nsight Compute (it ships with the CUDA toolkit) and put ncu on PATH, or pass "
        "--ncu PATH or set ROOFPROF_NCU"
    )


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(p) for p in re.findall(r"\d+", version))


def find_nsys() -> str | None:
    """nsys on PATH, in /usr/local/cuda/bin or under /opt/nvidia."""
    found = shutil.which("nsys")
    if found:
        return found
    for pattern in ("/usr/local/cuda/bin/nsys", "/opt/nvidia/nsight-systems/*/bin/nsys",
                    "/opt/nvidia/nsight-compute/*/host/target-linux-x64/nsys"):
        for candidate in sorted(glob.glob(pattern), reverse=True):
            if os.access(candidate, os.X_OK):
                return candidate
    return None
