"""The record each input format module exposes as ``FORMAT`` (``parsers/__init__.py`` lists
them): how to recognise the format and how to read it into plain columns; and the check every
input passes before it is opened (:func:`regular_file`)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parsers.raw import RawKernels, RawTiming
from roofprof.errors import InputError

#: what a path that is not a regular file is, for messages
_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def regular_file(path: Path) -> None:
    """Refuse, before it is opened, an input that is not a regular file (a link to one is one):
    opening a named pipe blocks until something writes to it, and a device or a socket may
    never end; a directory is not a report."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, not a report or export")
    if not stat.S_ISREG(mode):
        kind = next((text for test, text in _KINDS if test(mode)), "not a regular file")
        raise InputError(f"{path}: is {kind}, not a file; roofprof reads reports and traces "
                         "from regular files: write it to a file first")


@dataclass(frozen=True)
class Format:
    name: str
    suffixes: tuple[str, ...]
    #: True if the file's first bytes look like this format
    sniff: Callable[[bytes], bool]
    description: str
    #: a counters format: read(path, **options), options the keyword arguments in ``options``
    read: Callable[..., RawKernels] | None = None
    #: a timing format (every launch timed, no counters): its launches and their annotations
    timing: Callable[[Path], RawTiming] | None = None
    #: chosen by its suffix when no format recognises the content (an opaque container)
    by_suffix: bool = False
    #: reading options this format accepts (``reader``, ``strict``); others are not passed
    options: tuple[str, ...] = ()
