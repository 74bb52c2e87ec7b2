"""A JSON document read in one pass, in memory bounded by what the caller keeps.

Chrome-trace files (PyTorch profiler / Kineto) are one top-level object whose ``traceEvents``
array holds nearly all of the file: read whole, a 1 GiB trace took its text plus every event
in memory. :func:`read_object` reads the file once, as plain or gzip text through a buffer
refilled in chunks: the streamed array's elements are decoded one at a time
(``json.JSONDecoder.raw_decode``) and handed to the caller, who keeps the few it uses; the
object's other keys are decoded whole. The values are those ``json.load`` gives.

Every failure is one :class:`~roofprof.errors.InputError` naming the file: a damaged gzip
stream, text that is not UTF-8, invalid JSON (with its line and column, as ``json.load`` counts
them), an element nested deeper than the decoder follows (never a ``RecursionError``).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from roofprof.errors import InputError

__all__ = ["Document", "read_object"]

#: characters read per refill
CHUNK = 1 << 20
#: a value that ends this close to the end of the buffer may continue past it (a number cut
#: in two decodes as its first part): it is decoded again once more text is read
_MARGIN = 32
_NOT_SPACE = re.compile(r"[^ \t\n\r]")
#: what follows an element of an array: blanks, "," or "]", blanks
_AFTER = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
_DECODER = json.JSONDecoder()
#: the decoder's scanner, which raw_decode calls (an element at a time, without its frame)
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
#: the characters a JSON value may start with (json.load's NaN and Infinity included)
_VALUE_START = frozenset('[{"-0123456789tfnNI')


@dataclass
class Document:
    """What :func:`read_object` read: the top-level object's keys other than the streamed one
    (None: the top level is a JSON value other than an object, not read further), and how many
    elements the streamed array had (None: the key is absent, or not an array: then its value
    is in ``fields``)."""

    fields: dict[str, Any] | None
    streamed: int | None


class _Text:
    """The file's text through a buffer: ``buf[pos:]`` is what is not yet consumed. Counts the
    lines and columns of what it dropped, so that an error's place is the file's."""

    def __init__(self, fh: IO[str], path: Path) -> None:
        self.fh, self.path = fh, path
        self.buf, self.pos, self.eof = "", 0, False
        self.line, self.column = 1, 0  # of buf[0]: 1-based line, 0-based column

    def fill(self) -> None:
        """Drop what is consumed and read more: at least as much as is pending, so that a
        long value is decoded again only a few times."""
        done = self.buf[:self.pos]
        newlines = done.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(done) - done.rfind("\n") - 1
        else:
            self.column += len(done)
        rest = self.buf[self.pos:]
        more = self.fh.read(max(CHUNK, len(rest)))
        self.eof = not more
        self.buf, self.pos = rest + more, 0

    def peek(self) -> str:
        """The next character after blanks ('' at the end of the file), not consumed."""
        while True:
            found = _NOT_SPACE.search(self.buf, self.pos)
            if found:
                self.pos = found.start()
                return self.buf[self.pos]
            self.pos = len(self.buf)
            if self.eof:
                return ""
            self.fill()

    def expect(self, chars: str, message: str) -> str:
        """Consume the next character, one of ``chars``; else invalid JSON (``message``)."""
        c = self.peek()
        if not c or c not in chars:
            self.fail(message, self.pos)
        self.pos += 1
        return c

    def value(self, where: str) -> Any:
        """Decode the JSON value that starts at the next character."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or not _maybe_cut(exc, len(self.buf)):
                    self.fail(exc.msg, exc.pos)
                self.fill()
                continue
            except RecursionError:
                raise InputError(f"{self.path}: {where} nests lists or objects deeper than "
                                 "the JSON reader follows (about a thousand levels; a trace "
                                 "nests a few): the file is damaged or not a trace") from None
            except ValueError as exc:  # an integer of more digits than Python converts
                raise InputError(f"{self.path}: {where} holds a number Python cannot read "
                                 f"({exc}); the file is damaged or not a trace") from None
            if end > len(self.buf) - _MARGIN and not self.eof:
                self.fill()  # it may go on past the buffer: decode it again with more text
                continue
            self.pos = end
            return value

    def element(self, where: str) -> tuple[Any, bool]:
        """Decode the array element at the next character and consume the "," or "]" after
        it; the element and whether it was the last. Nearly every element takes the first
        lines alone: one decoding and one match, well inside the buffer."""
        buf, pos = self.buf, self.pos
        try:
            value, end = _SCAN(buf, pos)
        except (StopIteration, ValueError, RecursionError):
            pass  # below: read on, or say what is wrong
        else:
            after = _AFTER.match(buf, end)
            if after is not None and after.end() < len(buf) - _MARGIN:
                self.pos = after.end()
                return value, after.group(1) == "]"
        value = self.value(where)
        return value, self.expect(",]", "Expecting ',' delimiter") == "]"

    def fail(self, message: str, pos: int) -> NoReturn:
        """Invalid JSON at ``buf[pos]``: one error with the file's line and column."""
        before = self.buf[:pos]
        newlines = before.count("\n")
        line = self.line + newlines
        column = pos - before.rfind("\n") if newlines else self.column + pos + 1
        raise InputError(f"{self.path}: not valid JSON at line {line} column {column} "
                         f"({message}); the trace is truncated or damaged, export it again"
                         ) from None


def _maybe_cut(exc: json.JSONDecodeError, size: int) -> bool:
    """Whether the decoder may have failed only because the buffer ends (a string or a token
    cut in two), not because the text is wrong."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= size - _MARGIN


def read_object(path: Path, streamed: str, each: Callable[[int, Any], None]) -> Document:
    """Read the JSON object in ``path`` (plain or gzip text, UTF-8), calling
    ``each(index, element)`` for every element of its array ``streamed`` in order."""
    try:
        with open(path, "rb") as raw:
            # gzip where the name or the first two bytes say so (only those are read to tell)
            zipped = path.name.endswith(".gz") or raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") if zipped else nullcontext(raw) as data:
                text = io.TextIOWrapper(data, encoding="utf-8")
                return _object(_Text(text, path), streamed, each)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{path}: the gzip stream is truncated or damaged ({exc}); copy or "
                         "export the trace again") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason}); not a Kineto trace") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _object(text: _Text, streamed: str, each: Callable[[int, Any], None]) -> Document:
    first = text.peek()
    if first != "{":
        if first and first in _VALUE_START:
            return Document(fields=None, streamed=None)
        text.fail("Expecting value", text.pos)
    text.pos += 1
    fields: dict[str, Any] = {}
    count: int | None = None
    seen = False
    if text.peek() == "}":
        text.pos += 1
    else:
        while True:
            if text.peek() != '"':
                text.fail("Expecting property name enclosed in double quotes", text.pos)
            key = text.value("a key")
            text.expect(":", "Expecting ':' delimiter")
            if key == streamed:
                if seen:  # json.load would keep the second: the first was streamed already
                    raise InputError(f"{text.path}: the object holds {streamed} twice; the "
                                     "file is damaged, export it again")
                seen = True
                if text.peek() == "[":
                    count = _array(text, streamed, each)
                else:
                    fields[key] = text.value(key)
            else:
                fields[key] = text.value(key)
            if text.expect(",}", "Expecting ',' delimiter") == "}":
                break
    if text.peek():
        text.fail("Extra data", text.pos)
    return Document(fields=fields, streamed=count)


def _array(text: _Text, name: str, each: Callable[[int, Any], None]) -> int:
    """Stream the array at the next character to ``each``; its number of elements."""
    text.pos += 1  # the "["
    if text.peek() == "]":
        text.pos += 1
        return 0
    index, last = 0, False
    while not last:
        value, last = text.element(f"{name}[{index}]")
        each(index, value)
        index += 1
    return index
