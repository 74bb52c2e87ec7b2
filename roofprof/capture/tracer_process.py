"""What the tracer hook learns from, and sets up in, the traced process: which CUPTI library it
loaded, NVTX routed to CUPTI for every domain, and the names of the GPUs its kernels ran on.
Light: only the standard library at import (the hook runs inside the user's program).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable
from typing import Any

#: CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR (cuda.h)
CC_MAJOR, CC_MINOR = 75, 76


def devices(ids: Iterable[int], errors: list[str]) -> dict[int, dict[str, str]]:
    """Name and compute capability of the CUDA devices ``ids`` (CUPTI's device ids are the
    process's device ordinals), through the driver API the program has initialised; a device
    the driver does not describe is left out (its rows' ``device_name`` stays null)."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError as exc:
        errors.append(f"device names: {exc!r}")
        return {}
    out: dict[int, dict[str, str]] = {}
    for ordinal in ids:
        dev, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        name = ctypes.create_string_buffer(256)
        if cuda.cuDeviceGet(ctypes.byref(dev), int(ordinal)) or \
                cuda.cuDeviceGetName(name, len(name), dev) or \
                cuda.cuDeviceGetAttribute(ctypes.byref(major), CC_MAJOR, dev) or \
                cuda.cuDeviceGetAttribute(ctypes.byref(minor), CC_MINOR, dev):
            errors.append(f"device names: the driver did not describe device {ordinal}")
            continue
        out[int(ordinal)] = {"name": name.value.decode(errors="replace"),
                             "cc": f"{major.value}.{minor.value}"}
    return out


def loaded_library(name: str = "libcupti.so") -> str | None:
    """The path of the shared library ``name`` this process has loaded (from /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split(maxsplit=5)[-1].strip()
                if os.path.basename(path).startswith(name):
                    return path
    except OSError:
        return None
    return None


def nvtx_domains_on(errors: list[str]) -> None:
    """Make the ``nvtx`` package emit its ranges under CUPTI.

    Since 0.2.1x the package asks NVTX whether a tool enables a domain
    (``nvtxDomainIsEnabled``) and turns the domain into a no-op when the answer is no. CUPTI
    13.0 does not answer (seen on an H100: ``torch.cuda.nvtx`` ranges reached CUPTI, the nvtx
    package's did not), so every domain is taken as enabled in a traced process. CUPTI records
    named domains' ranges but not the default domain's through ``nvtxDomainRangePushEx`` (NULL
    handle), so the default domain becomes the domain named "NVTX", as Nsight Systems names it.
    """
    import importlib.util

    if importlib.util.find_spec("nvtx") is None:
        return
    try:
        from nvtx._lib import lib

        handle = lib.DomainHandle

        def enabled_domain(cls: Any, name: str | None = None) -> Any:
            obj = object.__new__(cls)
            obj.handle = handle("NVTX" if name is None else name)
            return obj

        lib.Domain.__new__ = staticmethod(enabled_domain)
    except Exception as exc:  # an nvtx release without these names: its ranges may be lost
        errors.append(f"nvtx package: could not enable its domains ({exc!r}); its ranges may "
                      "be missing (torch.cuda.nvtx ranges are not affected)")
