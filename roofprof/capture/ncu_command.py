"""What ``roofprof record`` asks Nsight Compute for: its options (:class:`RecordOptions`), the
files it writes, and the ncu command line they make (:func:`build_ncu_command`, which
``--dry-run`` prints): roofprof's metric set, NVTX range filters, the kernel filter that leaves
NCCL out, sampling (``--per-config`` with mangled names, so template instances count apart).
Pure: nothing here runs ncu (``roofprof.capture.record`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from roofprof.errors import UsageError, option
from roofprof.tables.metrics import LAUNCH_METRICS

#: NCCL kernels wait for their peers while ncu serialises launches: they can hang under ncu.
NCCL_PATTERN = "nccl"
#: what may stand before a kernel's function name when ncu matches mangled names
#: (``_Z40ncclDevKernel_...``, ``_ZN2at6native29vectorized_elementwise_kernel...``): the Itanium
#: prefix up to a name's length. An anchored ``--kernel`` regex then matches at the start of the
#: name or of any of its mangled components (a namespace too).
MANGLED_PREFIX = r"(?:_Z\w*?\d+)?"


@dataclass
class RecordOptions:
    """What ``roofprof record`` was asked to do (mirrors its CLI options)."""

    command: Sequence[str]
    output: Path
    ncu: str | None = None
    ranges: Sequence[str] = ()
    exclude_ranges: Sequence[str] = ()
    kernel: str | None = None
    skip: int | None = None
    count: int | None = None
    per_config: int | None = None
    device: str | None = None
    nvtx_scope: Literal["thread", "process"] = "thread"
    clock_control: Literal["none", "base"] = "none"
    cache_control: Literal["all", "none"] = "all"
    replay_mode: Literal["kernel", "application", "range", "app-range"] = "kernel"
    include_nccl: bool = False
    #: embed kernel binaries (SASS) in the report: ~4 MB per cuBLAS kernel, not needed for rooflines
    import_sass: bool = False
    force: bool = False
    chip: str | None = None
    ncu_args: Sequence[str] = ()


def _output_stem(output: Path) -> Path:
    name = output.name
    for suffix in (".ncu-rep", ".parquet"):
        if name.endswith(suffix):
            return output.with_name(name[: -len(suffix)])
    return output


def report_path(output: Path) -> Path:
    stem = _output_stem(output)
    return stem.with_name(stem.name + ".ncu-rep")


def parquet_path(output: Path) -> Path:
    stem = _output_stem(output)
    return stem.with_name(stem.name + ".parquet")


def kernel_filter(user_regex: str | None, include_nccl: bool,
                  mangled: bool = False) -> str | None:
    """The ``--kernel-name`` value: the user's regex, with NCCL kernels left out by default.
    ``mangled``: ncu matches mangled names (``--kernel-name-base mangled``, which ``--per-config``
    sets); an anchored regex and the NCCL exclusion then skip the mangling prefix."""
    prefix = MANGLED_PREFIX if mangled else ""
    if user_regex and user_regex.startswith("^"):
        inner = prefix + user_regex[1:]
        anchored = f"^{inner}"
    else:
        inner = f".*(?:{user_regex})"
        anchored = user_regex or ""
    if include_nccl:
        return f"regex:{anchored}" if user_regex else None
    if not user_regex:
        return f"regex:^(?!{prefix}{NCCL_PATTERN})"
    return f"regex:^(?!{prefix}{NCCL_PATTERN})(?={inner})"


def _users_name_base(opts: RecordOptions) -> str | None:
    """The ``--kernel-name-base`` the user passed in ``--ncu-args`` ("" when it has no value)."""
    args = list(opts.ncu_args)
    for i, a in enumerate(args):
        if a.startswith("--kernel-name-base="):
            return a.partition("=")[2]
        if a == "--kernel-name-base":
            return args[i + 1] if i + 1 < len(args) else ""
    return None


def name_base(opts: RecordOptions) -> str | None:
    """The ``--kernel-name-base`` roofprof passes: ``mangled`` with ``--per-config``, where ncu's
    per-launch-config filter then tells template instances apart (by function name, one
    ``vectorized_elementwise_kernel`` functor stood for all of them: 37 configurations for 57 on
    a 2-layer Llama, 57 of 57 mangled; H200, ncu 2025.3.1). None when the user sets it."""
    if _users_name_base(opts) is not None:
        return None
    return "mangled" if opts.per_config is not None else None


def _matches_mangled(opts: RecordOptions) -> bool:
    """Whether ncu will match kernel filters against mangled names (the user's base, or ours)."""
    users = _users_name_base(opts)
    return (users if users is not None else name_base(opts)) == "mangled"


def _nvtx_filter(name: str) -> str:
    # ncu's syntax: a trailing "/" selects push/pop ranges; "domain@range/" a non-default domain
    return name if name.endswith("/") else name + "/"


def build_ncu_command(opts: RecordOptions, ncu: str, metrics: Sequence[str]) -> list[str]:
    """The full ncu argv for a recording (what ``--dry-run`` prints)."""
    if not opts.command:
        raise UsageError("no program to record: put it after --, e.g. roofprof record -o t -- "
                         "python serve.py")
    settings = {
        "--nvtx-push-pop-scope": opts.nvtx_scope,
        "--target-processes": "all",
        "--clock-control": opts.clock_control,
        "--cache-control": opts.cache_control,
        "--replay-mode": opts.replay_mode,
        "--print-summary": "none",
        "--import-sass": "yes" if opts.import_sass else "no",
    }
    argv = [ncu, "--metrics", ",".join([*metrics, *LAUNCH_METRICS]), "--nvtx"]
    for flag, value in settings.items():
        # one the user passes in --ncu-args wins: ncu is not known to accept an option twice
        if not any(a == flag or a.startswith(flag + "=") for a in opts.ncu_args):
            argv += [flag, value]
    argv += ["-o", str(_output_stem(opts.output))]
    if opts.force:
        argv.append("-f")
    for name in opts.ranges:
        argv += ["--nvtx-include", _nvtx_filter(name)]
    for name in opts.exclude_ranges:
        argv += ["--nvtx-exclude", _nvtx_filter(name)]
    base = name_base(opts)
    if base:
        argv += ["--kernel-name-base", base]
    kfilter = kernel_filter(opts.kernel, opts.include_nccl, _matches_mangled(opts))
    if kfilter:
        argv += ["--kernel-name", kfilter]
    if opts.skip is not None:
        argv += ["--launch-skip", str(opts.skip)]
    if opts.per_config is not None:
        if opts.count is not None:
            raise UsageError(f"{option('per_config')} N already limits how often each launch "
                             f"configuration is profiled; drop {option('count')} or "
                             f"{option('per_config')}")
        argv += ["--filter-mode", "per-launch-config", "--launch-count", str(opts.per_config)]
    elif opts.count is not None:
        argv += ["--launch-count", str(opts.count)]
    if opts.device is not None:
        argv += ["--devices", opts.device]
    argv += list(opts.ncu_args)
    argv += list(opts.command)
    return argv


def describe_filters(opts: RecordOptions) -> str:
    parts = [f"--range {r}" for r in opts.ranges]
    parts += [f"--exclude-range {r}" for r in opts.exclude_ranges]
    if opts.kernel:
        parts.append(f"--kernel {opts.kernel}")
    if opts.skip is not None:
        parts.append(f"--skip {opts.skip}")
    if opts.count is not None:
        parts.append(f"--count {opts.count}")
    if opts.per_config is not None:
        parts.append(f"--per-config {opts.per_config}")
    if opts.device is not None:
        parts.append(f"--device {opts.device}")
    return " ".join(parts)
