"""The rows of an Nsight Compute CSV export, streamed: one record at a time, never the whole file.

What a file may hold besides the export, and what happens to it:

* a UTF-8 byte-order mark (Excel's "CSV UTF-8"): skipped;
* ncu's ``==PROF==`` lines and the program's own output before or between rows (``ncu --csv``
  run directly): skipped, only where a record starts (a quoted newline inside a kernel or range
  name belongs to its record, however many lines it spans);
* bytes that are not UTF-8: replaced by U+FFFD, and the lines named in a warning;
* a second export appended (a header line again): read as a second part when its columns and
  units are the same, refused when they differ;
* a last record cut short (the export was interrupted): left out, with a warning;
* a record in the middle with a wrong number of fields: refused (the file is damaged);
* cells of any size (``csv.field_size_limit`` is raised: a long NVTX name is still a name).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from roofprof.errors import InputError
from roofprof.tables.checks import Issues

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# csv refuses fields over 131,072 characters by default; a deep NVTX stack can be longer
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def is_header(fields: list[str]) -> bool:
    """The header row: it names the "ID" and "Kernel Name" columns (in any order)."""
    if "Kernel Name" not in fields:  # every data row: one scan in C
        return False
    return "ID" in fields or any(f.lstrip("\ufeff").strip() == "ID" for f in fields)


def _fields(text: str, path: Path, where: str) -> list[str]:
    try:
        return next(csv.reader((text,)), [])
    except csv.Error as exc:
        raise InputError(f"{path}: {where} is not valid CSV ({exc}); the file is damaged, "
                         "export it again") from None


class Rows:
    """Iterate the data records (units row included) of an export after its header."""

    def __init__(self, path: Path, issues: Issues) -> None:
        self.path = path
        self.issues = issues
        self.header: list[str] = []
        #: the header as written (a second export is recognised by it)
        self._header_fields: list[str] = []
        self.parts = 1
        self._bad_utf8: list[int] = []
        try:
            self._fh = open(path, "rb")  # noqa: SIM115 (closed by close(), after streaming)
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
        self._records = self._scan()
        self._find_header()

    def close(self) -> None:
        self._fh.close()
        if self.parts > 1:
            self.issues.note(f"holds {self.parts} exports one after another (the header "
                             "repeats); all were read")
        if self._bad_utf8:
            lines = ", ".join(map(str, self._bad_utf8[:5]))
            more = f" and {len(self._bad_utf8) - 5} more" if len(self._bad_utf8) > 5 else ""
            self.issues.note(f"line(s) {lines}{more} hold bytes that are not UTF-8; they are "
                             "shown as \ufffd in names (export the file again as UTF-8)")

    def _decode(self, raw: bytes, lineno: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._bad_utf8.append(lineno)
            return raw.decode("utf-8", "replace")

    def _scan(self) -> Iterator[tuple[str, str, bool]]:
        """(where, text, complete) of every record; junk lines between records are skipped.
        ``where`` reads "row R (line L)"; ``complete`` is False for a record the file ends
        inside of."""
        pending: list[str] = []
        start = 0
        open_quote = False
        row = 0
        for lineno, line in enumerate(self._fh, 1):
            raw = line
            if lineno == 1:
                if raw.startswith(_UTF16_BOMS):
                    raise InputError(f"{self.path}: a UTF-16 text file; save it as CSV UTF-8 "
                                     "or export it again with ncu --csv")
                raw = raw.removeprefix(_BOM)
            if not pending:
                if not raw.startswith(b'"'):
                    continue  # ncu's or the program's own output, or a blank line
                start = lineno
                row += 1
            pending.append(self._decode(raw, lineno))
            if raw.count(b'"') % 2:
                open_quote = not open_quote
            if not open_quote:
                yield f"row {row} (line {start})", "".join(pending), True
                pending = []
        if pending:
            yield f"row {row} (line {start})", "".join(pending), False

    def _find_header(self) -> None:
        try:
            for where, text, _complete in self._records:
                fields = _fields(text, self.path, where)
                if is_header(fields):
                    self._header_fields = fields
                    self.header = [h.lstrip("\ufeff").strip() for h in fields]
                    return
        finally:
            if not self.header:
                self.close()
        raise InputError(f"{self.path}: not an Nsight Compute CSV export (no header row "
                         'starting "ID",... with a "Kernel Name" column); export with: ncu '
                         "--import R --csv --page raw --print-units base")

    #: the details page leaves trailing rule columns out: records longer than this are padded
    pad_from: int | None = None
    #: the units row (``--print-units``), None when the export has none
    units: list[str] | None = None

    def __iter__(self) -> Iterator[tuple[str, list[str]]]:
        """(where, fields) of each data record; the units row is kept in ``units``."""
        n = len(self.header)
        first = True
        after_header = False
        bad: tuple[str, list[str]] | None = None
        for where, text, complete in self._records:
            if bad is not None:  # only the very last record may be cut short
                raise InputError(f"{self.path}: {bad[0]} has "
                                 f"{len(bad[1])} fields where the header has {n}; the file "
                                 "is damaged, export it again")
            if not complete:
                self._refuse_runaway_quote(where, text, n)
            fields = _fields(text, self.path, where)
            if is_header(fields):
                if fields != self._header_fields:
                    raise InputError(f"{self.path}: a second export with other columns starts "
                                     f"at {where}; split the file and read each part")
                self.parts += 1
                after_header = True
                continue
            if self.pad_from is not None and self.pad_from < len(fields) < n:
                fields += [""] * (n - len(fields))
            if not complete or len(fields) != n:
                bad = (where, fields)
                continue
            if (first or after_header) and self._is_units(fields):
                if first:
                    self.units = fields
                elif fields != self.units:
                    raise InputError(f"{self.path}: the export appended at {where} has "
                                     "other units; export both with --print-units base")
                first = after_header = False
                continue
            first = after_header = False
            yield where, fields
        if bad is not None:
            self.issues.note(f"the last row is incomplete ({bad[0]}): the export was cut "
                             "short; that kernel is left out")

    def _refuse_runaway_quote(self, where: str, text: str, n: int) -> None:
        """A quote never closed swallows the rows after it: that is damage, not a cut row."""
        swallowed = sum(1 for line in text.splitlines()[1:]
                        if line.startswith('"') and line.count('","') >= n - 2)
        if swallowed:
            raise InputError(f"{self.path}: a quote opened in {where} is never closed and "
                             f"swallows the {swallowed} row(s) after it; the file is damaged, "
                             "export it again")

    def _is_units(self, fields: list[str]) -> bool:
        key = "ID" if "ID" in self.header else "Kernel Name"
        return fields[self.header.index(key)] == ""
