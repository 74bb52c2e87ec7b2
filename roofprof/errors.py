"""roofprof's one error root.

Every failure the user can cause or fix is a :class:`RoofprofError` subclass carrying the exit
code the CLI returns. Messages say what went wrong, with which file, and what to do about it; the
CLI prints them as one line and never shows a traceback for them.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


class RoofprofError(Exception):
    """Base of all errors roofprof reports to users."""

    exit_code = 1


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
            raise InputError(f"{exc} (refused: --strict)") from None
