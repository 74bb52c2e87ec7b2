"""roofprof's one error root.

Every failure the user can cause or fix is a :class:`RoofprofError` subclass carrying the exit
code the CLI returns. Messages say what went wrong, with which file, and what to do about it; the
CLI prints them as one line and never shows a traceback for them.

A message names the caller's options through :func:`option`: the library speaks of parameters
(``str(error)`` says ``top must be at least 1``), and the command line, which alone knows its
flags, shows the same error as ``--top must be at least 1`` (:func:`render` with its own
naming of flags).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

#: what surrounds an option's name in a message until it is rendered (never shown)
_MARK = "\x1f"


def option(name: str) -> str:
    """An option named in an error message: ``option("top")`` renders as ``top`` in the Python
    API and as ``--top`` on the command line."""
    return f"{_MARK}{name}{_MARK}"


def render(text: str, name: Callable[[str], str] = str) -> str:
    """``text`` with each :func:`option` in it named by ``name`` (by default the parameter)."""
    parts = text.split(_MARK)
    return "".join(name(p) if i % 2 else p for i, p in enumerate(parts))


class RoofprofError(Exception):
    """Base of all errors roofprof reports to users."""

    exit_code = 1

    def __str__(self) -> str:
        return render(super().__str__())

    @property
    def template(self) -> str:
        """The message with its options still marked (for :func:`render` by the CLI)."""
        return super().__str__()


class InputError(RoofprofError):
    """An input file is missing, unreadable, of an unknown format, or broken."""

    exit_code = 2


class UsageError(RoofprofError):
    """Options that contradict each other or name something that does not exist."""

    exit_code = 2


class NcuNotFoundError(RoofprofError):
    """The Nsight Compute command line (``ncu``) could not be found."""

    exit_code = 127


class NcuError(RoofprofError):
    """``ncu`` failed; the message carries the relevant tail of its output."""

    exit_code = 3


class OutputError(RoofprofError):
    """An output file could not be written."""

    exit_code = 4


class ExitError(RoofprofError):
    """A program roofprof ran failed or was interrupted: its exit code is roofprof's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class RoofprofWarning(UserWarning):
    """Something was incomplete but a result was still produced (e.g. a metric is missing)."""


class DataWarning(RoofprofWarning):
    """An input held values roofprof read as null, or rows it left out; an error under strict."""


@contextlib.contextmanager
def strict_mode(enabled: bool) -> Iterator[None]:
    """Turn every :class:`DataWarning` raised inside the block into an :class:`InputError`."""
    if not enabled:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        try:
            yield
        except DataWarning as exc:
            raise InputError(f"{exc} (refused: {option('strict')})") from None
