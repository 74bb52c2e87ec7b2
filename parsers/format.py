"""The record each input format module exposes as ``FORMAT`` (``parsers/__init__.py`` lists
them): how to recognise the format and how to read it into plain columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parsers.raw import RawKernels, RawTiming


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
