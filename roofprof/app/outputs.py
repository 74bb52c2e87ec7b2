"""May a command's output replace the file that is there? The one overwrite policy.

Every command that writes a file follows it (the command line applies it before any work,
:func:`roofprof.cli.common.refuse_own_inputs`):

* a file that holds measurements, anything roofprof reads as an input (a Parquet trace,
  timing or joined table, an Nsight Compute report or CSV export, a PyTorch profiler trace,
  an Nsight Systems report), is never replaced without ``-f``/``--force``: it may be a capture
  that cannot be made again (a production run's timing, a joined table whose inputs are gone);
* any other file (a summary's table, JSON or CSV, a plot, a report page) is a view of
  measurements kept elsewhere: cheap to make again, so it is replaced, atomically;
* an output that is one of the command's own inputs is refused even with ``--force``.

``record`` and ``trace`` write new captures: they refuse any existing output without
``--force`` (their own check, stricter than this one).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from roofprof.errors import UsageError, option

#: the first bytes of a Parquet file: every table roofprof writes, and other tools' tables
PARQUET_MAGIC = b"PAR1"


def measurements(path: str | os.PathLike[str]) -> str | None:
    """What measurements the regular file at ``path`` holds (its format, as messages name it),
    by its content as :func:`parsers.detect` reads it (a format known by its suffix only, by
    its suffix); None where there is no such file, or it holds none (a view, an empty file)."""
    p = Path(path)
    if not p.is_file():  # nothing there, a folder, a device or a pipe
        return None
    from parsers import FORMATS, SNIFF_BYTES  # the formats' sniffers: once a file is there

    try:
        with open(p, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:  # unreadable: writing it will say why
        return None
    if head.startswith(PARQUET_MAGIC):
        return "a Parquet table: a trace, timing or joined table"
    for f in FORMATS:
        if (head and f.sniff(head)) or (f.by_suffix and p.name.endswith(f.suffixes)):
            return f.description
    return None


def refuse_to_replace(outputs: Sequence[str | os.PathLike[str]], *, force: bool = False,
                      can_force: bool = True) -> None:
    """The policy for a command about to write ``outputs``: a :class:`UsageError` naming the
    first that exists and holds :func:`measurements`, unless ``force``; its fix is
    ``--force`` where the command takes it (``can_force``), else removing the file."""
    if force:
        return
    for out in outputs:
        held = measurements(out)
        if held is None:
            continue
        fix = f"pass {option('force')} to replace it" if can_force else "remove it first"
        raise UsageError(f"{out} exists and holds measurements ({held}), which roofprof "
                         f"never replaces unasked: {fix}, or choose another output file")
