"""Safe output files: a file appears complete, with the usual permissions, or not at all, and a
command never writes over one of its own inputs."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from roofprof.errors import OutputError, UsageError
from roofprof.tables.partitions import expand_all

PathArg = str | os.PathLike[str]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: PathArg) -> Iterator[BinaryIO]:
    """Yield a binary file in ``path``'s folder; rename it over ``path`` when the block ends.

    On any exception (Ctrl-C included) the temporary file is removed and ``path`` is left as it
    was. A new file gets the permissions a plain ``open(path, "w")`` would give (mkstemp's are
    0600); a file replaced keeps its own. A symbolic link is written through, and a path that is
    not a regular file (``/dev/stdout``, a pipe) is written directly, as ``open`` would. OS
    errors become :class:`OutputError` naming the file.
    """
    out = Path(path)
    if out.is_dir():
        raise OutputError(f"cannot write {out}: it is a directory; choose a file name")
    if out.exists() and not out.is_file():  # a device or a pipe: nothing to replace
        try:
            with open(out, "wb") as fh:
                yield fh
        except OSError as exc:
            raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
        return
    if out.is_symlink():
        out = Path(os.path.realpath(out))
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {out}: folder {folder} does not exist; create it or "
                          "choose another output")
    try:
        mode = stat.S_IMODE(out.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: PathArg, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_output(path) as fh:
        fh.write(text.encode("utf-8"))


def refuse_inputs(output: PathArg, inputs: Iterable[PathArg | None]) -> None:
    """Raise :class:`UsageError` if ``output`` is one of ``inputs`` (same file, any spelling).

    ``summary run.csv -o run.csv`` would otherwise replace the export with its own summary.
    A glob pattern among ``inputs`` stands for the paths it matches.
    """
    out = Path(output)
    # a glob's matches are the inputs (an output matching the pattern is read when it exists)
    for source in expand_all(g for g in inputs if g is not None):
        try:
            same = os.path.samefile(out, source)
        except OSError:  # one of them does not exist (yet): compare where they would be
            same = out.resolve() == source.resolve()
        if same:
            raise UsageError(f"{out} is also an input of this command ({source}); writing it "
                             "would destroy that input: choose another output file")
