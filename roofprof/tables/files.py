"""Safe output files: a file appears complete, with the usual permissions, or not at all; the
files of one command appear together or not at all; and a command never writes over one of its
own inputs.

* :func:`atomic_output` writes one file (a temporary file renamed over it), :func:`atomic_outputs`
  several as one set (a Markdown report and its figures), :func:`output_set` makes every atomic
  write inside a block one set (a dataset file per rank);
* :func:`check_destination` tells, before any work, an output no file can be written to (a
  folder, a missing folder);
* :func:`refuse_inputs` refuses an output that is one of the command's inputs, a file of an input
  dataset, or another of its outputs.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import stat
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from roofprof.errors import OutputError, UsageError
from roofprof.tables.partitions import expand_all, values_of

PathArg = str | os.PathLike[str]

#: the files of the :func:`output_set` being written (output, its temporary file), if any
_SET: contextvars.ContextVar[list[tuple[Path, Path | None]] | None] = contextvars.ContextVar(
    "roofprof_output_set", default=None)


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
    with atomic_outputs([path]) as (fh,):
        yield fh


@contextlib.contextmanager
def atomic_outputs(paths: Sequence[PathArg]) -> Iterator[list[BinaryIO]]:
    """Yield one binary file per path of ``paths``, written as one set: each to a temporary
    file in its output's folder, all renamed over their outputs only when the block ends
    without error (a report and its figures appear together or not at all).

    Every output is checked before any file is made (a folder, a missing folder: an
    :class:`OutputError`); on any failure afterwards, an exception in the block, Ctrl-C, a
    folder that cannot be written or a rename that fails, every temporary file is removed and
    the outputs renamed already are put back as they were, so none of them changes. Each
    output is written as :func:`atomic_output` writes one (permissions, links, devices).
    """
    outs = [check_destination(p) for p in paths]
    if len(set(outs)) != len(outs):
        twice = next(o for o in outs if outs.count(o) > 1)
        raise OutputError(f"cannot write {twice} twice in one command; choose different "
                          "output files")
    temps: list[Path | None] = []
    handles: list[BinaryIO] = []
    try:
        for out in outs:
            tmp, fh = _open(out)
            temps.append(tmp)
            handles.append(fh)
        try:
            yield list(handles)  # the caller's list: closed here whatever it does with it
            for fh in handles:
                fh.close()
        except OSError as exc:  # the block's writes: a full disk, a quota
            raise OutputError(f"cannot write {', '.join(map(str, outs))}: "
                              f"{exc.strerror or exc}") from None
        pending = _SET.get()
        if pending is None:
            _rename_all(outs, temps)
        else:  # renamed with the rest of the set (output_set), which owns them now
            pending += zip(outs, temps, strict=True)
            temps = []
    finally:
        for fh in handles:
            fh.close()
        for tmp in temps:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def output_set() -> Iterator[None]:
    """Make every file written atomically inside the block (:func:`atomic_output`,
    :func:`atomic_outputs`, so every Parquet file, figure and page) one of a set: each stays
    a temporary file until the block ends without error, then all are renamed together (as
    :func:`atomic_outputs` renames its own); on any failure none of them appears and no
    temporary file is left. ``convert --rank-by`` writes its files per rank so. A set inside
    a set is part of the outer one."""
    if _SET.get() is not None:
        yield
        return
    pending: list[tuple[Path, Path | None]] = []
    token = _SET.set(pending)
    try:
        try:
            yield
        finally:
            _SET.reset(token)
        _rename_all([out for out, _tmp in pending], [tmp for _out, tmp in pending])
    finally:
        for _out, tmp in pending:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


def check_destination(path: PathArg) -> Path:
    """Where the file for ``path`` goes (a symbolic link: the file it points to), checked:
    not a folder, in a folder that exists (an :class:`OutputError` otherwise). Commands check
    their outputs so before the work, and every write does."""
    out = Path(path)
    if out.is_dir():
        raise OutputError(f"cannot write {out}: it is a directory; choose a file name")
    if out.exists() and not out.is_file():  # a device or a pipe: written directly
        return out
    if out.is_symlink():
        out = Path(os.path.realpath(out))
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {out}: folder {folder} does not exist; create it or "
                          "choose another output")
    return out


def _open(out: Path) -> tuple[Path | None, BinaryIO]:
    """The temporary file of ``out`` (None for a device or a pipe, opened as it is) and its
    handle, with the permissions ``out`` has or a new file would get."""
    try:
        if out.exists() and not out.is_file():
            return None, open(out, "wb")  # closed by atomic_outputs
        try:
            mode = stat.S_IMODE(out.stat().st_mode)
        except OSError:
            mode = 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:  # a folder that cannot be written
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, mode)
        return Path(tmp), os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise


def _rename_all(outs: Sequence[Path], temps: Sequence[Path | None]) -> None:
    """Rename each temporary file over its output; where one fails (or Ctrl-C comes), put
    back the outputs renamed before it: each is kept first as a hard link (a hidden name
    beside it), never needed for the last one."""
    done: list[tuple[Path, bool, Path | None]] = []  # output, existed, its old file
    try:
        for i, (out, tmp) in enumerate(zip(outs, temps, strict=True)):
            if tmp is None:
                continue
            existed = out.exists()
            old = _keep(out) if existed and i < len(outs) - 1 else None
            try:
                os.replace(tmp, out)
            except BaseException as exc:
                if old is not None:
                    old.unlink(missing_ok=True)
                if isinstance(exc, OSError):
                    raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
                raise
            done.append((out, existed, old))
    except BaseException:
        for out, existed, old in reversed(done):
            with contextlib.suppress(OSError):
                if old is not None:
                    os.replace(old, out)
                elif not existed:
                    out.unlink(missing_ok=True)
        raise
    finally:
        for _out, _existed, old in done:
            if old is not None:
                old.unlink(missing_ok=True)


def _keep(out: Path) -> Path | None:
    """A second name of ``out``'s current file (a hard link), to put it back; None where the
    file system makes no links."""
    old = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.old")
    try:
        os.link(out, old)
    except OSError:
        return None
    return old


def write_text(path: PathArg, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_output(path) as fh:
        fh.write(text.encode("utf-8"))


def refuse_inputs(outputs: PathArg | Sequence[PathArg],
                  inputs: Iterable[PathArg | None]) -> None:
    """Raise :class:`UsageError` if one of ``outputs`` (a path, or every file a command
    writes: a report and its figures) is one of ``inputs`` (same file, any spelling), a file
    of an input dataset folder, or another of the outputs.

    ``summary run.csv -o run.csv`` would otherwise replace the export with its own summary.
    A glob pattern among ``inputs`` stands for the paths it matches.
    """
    outs = [Path(outputs)] if isinstance(outputs, str | os.PathLike) else \
        [Path(o) for o in outputs]
    # a glob's matches are the inputs (an output matching the pattern is read when it exists)
    sources = expand_all(g for g in inputs if g is not None)
    for i, out in enumerate(outs):
        for other in outs[:i]:
            if _same(out, other):
                raise UsageError(f"{other} and {out} are the same file, both written by this "
                                 "command: choose different output files")
        for source in sources:
            if _same(out, source):
                raise UsageError(f"{out} is also an input of this command ({source}); writing "
                                 "it would destroy that input: choose another output file")
            if source.is_dir() and values_of(out) and out.resolve().is_relative_to(
                    source.resolve()):
                raise UsageError(f"{out} is a file of the dataset {source}, an input of this "
                                 "command; writing it would change that input: choose an "
                                 f"output outside {source}")


def _same(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (or would, where one does not exist yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return a.resolve() == b.resolve()
