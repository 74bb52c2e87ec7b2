"""The cells of an Nsight Systems SQLite export, read by the role of their column, never trusting
their type; and what the reader tells the user about those it could not use.

SQLite is dynamically typed: whatever a column's declared type, any cell may hold NULL, an
integer, a real, text or a blob. Every column roofprof takes is read through :func:`typed`, in
SQL, so that a table of millions of rows comes back as one int64 array per column: the value
where the cell holds an integer in its column's range (:class:`Role`: a time, an id, a launch
dimension), :data:`NULL` where it holds NULL and :data:`BAD` where it holds anything else (text,
a real, a blob, a negative or out-of-range integer). The raw cells behind a code are read again,
a few rows at a time, only to say what they held (:meth:`Rows.cells`). What is done with a bad
cell is the caller's (a kernel without a start cannot stand, a bad id is null).

:class:`Findings` gathers what one export held that could not be used: the null cells (through
``roofprof.tables.checks.Issues``, as every input's), and by kind (:data:`KINDS`) the rows left
out or otherwise unusable, each kind a :class:`roofprof.tables.checks.Tally` (how many, the
first few described); it warns once per kind and file
(:class:`~roofprof.errors.DataWarning`: an error under ``--strict``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roofprof.tables.checks import Issues, Tally

__all__ = ["BAD", "CORRELATION", "DANGLING", "DIM", "ID", "KINDS", "NAME", "NULL", "TEXT", "TIME",
           "Findings", "Role", "Rows", "Tally", "columns", "names", "quoted", "read_rows", "shown",
           "texts", "why"]

#: the codes of a typed column that are not values (every role's values are >= 0)
NULL, BAD = -1, -2
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Role:
    """What a column holds: integers from ``low`` to ``high``, or text (``text``: read as
    :data:`TEXT` where the cell holds text, the text itself read apart); ``what`` names it in
    messages."""

    what: str
    low: int = 0
    high: int = INT64_MAX
    text: bool = False


#: why an id that is an integer names nothing
DANGLING = "names no string of StringIds"
#: the code of a text cell that holds text
TEXT = 0
NAME = Role("a name", text=True)
#: the largest time is a range's "never ended" (``parsers.stacks.NEVER_CLOSED_NS``)
TIME = Role("a time", 0, INT64_MAX - 1)
ID = Role("an id")
#: CUPTI's correlation ids are 32-bit
CORRELATION = Role("a correlation id", 0, 2**32 - 1)
#: a grid or block extent (CUDA's largest is gridDim.x, 2**31 - 1)
DIM = Role("a launch dimension", 1, 2**31 - 1)


def quoted(name: str) -> str:
    """An SQL identifier (``end`` is a keyword; a table's name comes from the file)."""
    return '"' + name.replace('"', '""') + '"'


def typed(column: str, role: Role) -> str:
    """SQL: the column's integer where it holds one in the role's range (a text role: TEXT
    where it holds text), else NULL or BAD."""
    c = quoted(column)
    if role.text:
        return f"CASE WHEN {c} IS NULL THEN {NULL} WHEN typeof({c}) = 'text' THEN {TEXT} " \
               f"ELSE {BAD} END"
    return (f"CASE WHEN {c} IS NULL THEN {NULL} WHEN typeof({c}) = 'integer' AND {c} BETWEEN "
            f"{role.low} AND {role.high} THEN {c} ELSE {BAD} END")


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    """The names of the table's columns."""
    return {str(r[1]) for r in db.execute(f"PRAGMA table_info({quoted(table)})")}


@dataclass
class Rows:
    """Typed columns of one table's rows (``where``: the rows read): each row's ``rowid`` and
    each column's codes (the value, :data:`NULL` or :data:`BAD`)."""

    db: sqlite3.Connection
    table: str
    rowid: np.ndarray
    codes: dict[str, np.ndarray]
    roles: dict[str, Role]

    def __len__(self) -> int:
        return len(self.rowid)

    def get(self, column: str) -> np.ndarray:
        """The column's codes; all :data:`NULL` where the table lacks it."""
        if column in self.codes:
            return self.codes[column]
        return np.full(len(self), NULL, dtype=np.int64)

    def take(self, keep: np.ndarray) -> Rows:
        """The rows where ``keep`` (a mask or positions)."""
        return Rows(self.db, self.table, self.rowid[keep],
                    {c: v[keep] for c, v in self.codes.items()}, self.roles)

    def cells(self, positions: Sequence[int], column: str) -> list[tuple[Any, str]]:
        """The raw value and SQLite type of ``column`` in the rows at ``positions`` (a few)."""
        ids = [int(self.rowid[p]) for p in positions]
        found = {int(r[0]): (r[1], str(r[2])) for r in self.db.execute(
            f"SELECT rowid, {quoted(column)}, typeof({quoted(column)}) FROM "
            f"{quoted(self.table)} WHERE rowid IN ({','.join(map(str, ids))})")}
        return [found.get(i, (None, "null")) for i in ids]

    def label(self, position: int) -> str:
        """How a row is named in messages: ``CUPTI_ACTIVITY_KIND_KERNEL row 17 (correlationId
        1234)``, by its rowid and, where readable, its correlation id."""
        corr = int(self.codes["correlationId"][position]) if "correlationId" in self.codes \
            else NULL
        which = f" (correlationId {corr})" if corr >= 0 else ""
        return f"{self.table} row {int(self.rowid[position])}{which}"

    def raw(self, position: int, column: str) -> str:
        """The raw cell of ``column`` in one row, for a message."""
        ((raw, kind),) = self.cells([position], column)
        return shown(raw, kind)

    def said(self, position: int, column: str) -> str:
        """``column = raw (why)`` of one row, for a message."""
        ((raw, kind),) = self.cells([position], column)
        return f"{column} = {shown(raw, kind)} ({why(raw, kind, self.roles[column])})"

    def left_out(self, bad: np.ndarray, cols: tuple[str, ...], tally: Tally,
                 nullable: tuple[str, ...] = ()) -> None:
        """Count the rows ``bad`` in ``tally``, describing the first few by their unusable
        cells among ``cols`` (NULL is usable in ``nullable``)."""
        where = np.flatnonzero(bad)
        said = []
        for p in where[:tally.room()].tolist():
            cells = [self.said(p, c) for c in cols if c in self.codes and (
                self.codes[c][p] == BAD or (self.codes[c][p] == NULL and c not in nullable))]
            said.append(f"{self.label(p)}: {', '.join(cells)}")
        tally.add(len(where), said)

    def report(self, issues: Issues, positions: np.ndarray, column: str,
               reason: str | None = None) -> None:
        """The cells of ``column`` at ``positions`` read as null: counted, the first few
        (those ``issues`` still shows) described, with why (``reason``, else by their raw
        value)."""
        room = max(0, Issues.SHOWN - len(issues.cells))
        first = positions[:room].tolist()
        for p, (raw, kind) in zip(first, self.cells(first, column), strict=True):
            issues.bad_cell(self.label(p), column, shown(raw, kind),
                            reason or why(raw, kind, self.roles[column]))
        issues.ncells += len(positions) - len(first)

    def references(self, issues: Issues, column: str, strings: dict[int, str]
                   ) -> np.ndarray:
        """The strings the ids of ``column`` name (None where none); its unreadable ids (NULL
        included: nsys names everything) and those that name no string of ``StringIds``
        reported."""
        codes = self.get(column)
        named, dangling = names(codes, strings)
        if column in self.codes:
            self.report(issues, np.flatnonzero(codes < 0), column)
            self.report(issues, np.flatnonzero(dangling), column, DANGLING)
        return named


def read_rows(db: sqlite3.Connection, table: str, roles: dict[str, Role],
              where: str = "") -> Rows:
    """The typed columns ``roles`` (those the table has) of the table's rows matching
    ``where`` (an SQL condition), in rowid order."""
    have = columns(db, table)
    roles = {c: r for c, r in roles.items() if c in have}
    select = ", ".join(["rowid", *(typed(c, r) for c, r in roles.items())])
    cond = f" WHERE {where}" if where else ""
    rows = db.execute(f"SELECT {select} FROM {quoted(table)}{cond} ORDER BY rowid").fetchall()
    arr = np.array(rows, dtype=np.int64).reshape(-1, 1 + len(roles))
    return Rows(db, table, arr[:, 0].copy(),
                {c: arr[:, i + 1].copy() for i, c in enumerate(roles)}, roles)


def texts(rows: Rows, column: str, where: str = "") -> np.ndarray:
    """The text of ``column`` (a :data:`NAME` column of ``rows``) in each row, None where the
    cell holds no text: the rows ``read_rows`` read with the same ``where``."""
    c = quoted(column)
    cond = f" WHERE {where}" if where else ""
    out = np.empty(len(rows), dtype=object)
    out[:] = [r[0] for r in rows.db.execute(
        f"SELECT CASE WHEN typeof({c}) = 'text' THEN {c} END FROM {quoted(rows.table)}{cond} "
        "ORDER BY rowid")]
    return out


def shown(raw: Any, kind: str) -> str:
    """A raw cell for a message, cut to 40 characters (a cell may hold megabytes)."""
    if kind == "null":
        return "NULL"
    if kind == "blob":
        data = bytes(raw)
        return f"x'{data[:16].hex()}{'...' if len(data) > 16 else ''}'"
    text = repr(raw) if kind == "real" else str(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def why(raw: Any, kind: str, role: Role) -> str:
    """Why a raw cell is not a value of ``role``."""
    if kind == "null":
        return "missing"
    if role.text:
        return f"{'a blob' if kind == 'blob' else 'a number'}, not text"
    if kind == "integer":
        return "negative" if int(raw) < 0 else f"out of range for {role.what}"
    if kind == "real":
        return "beyond 64-bit integers" if abs(float(raw)) >= 2.0**63 else "not an integer"
    return f"{'text' if kind == 'text' else 'a blob'}, not an integer"


def names(codes: np.ndarray, strings: dict[int, str]) -> tuple[np.ndarray, np.ndarray]:
    """The strings that id ``codes`` name (None where none), and where an id names no string
    (a dangling reference: not NULL or BAD, and not in ``StringIds``)."""
    if not len(codes):
        return np.empty(0, dtype=object), np.zeros(0, dtype=bool)
    ids, inverse = np.unique(codes, return_inverse=True)
    looked = np.empty(len(ids), dtype=object)
    looked[:] = [strings.get(i) for i in ids.tolist()]
    missing = np.array([i >= 0 and i not in strings for i in ids.tolist()], dtype=bool)
    return looked[inverse], missing[inverse]


#: what each kind of problem says, and what was done (``{n}``: how many, ``{listed}``: the
#: first few described); each ends with "(--strict refuses such input)"
KINDS = {
    "kernels_out": "{n} kernel record(s) left out, for want of a usable start time (start): "
                   "{listed}. Fix the export or export the report again",
    "durations": "{n} kernel record(s) without a usable duration (end missing, not a time, or "
                 "not after start): {listed}. Kept with duration unknown: duration_ns is null "
                 "and end_ns is the start",
    "unlaunched": "{n} kernel record(s) match no launch call of CUPTI_ACTIVITY_KIND_RUNTIME or "
                  "CUPTI_ACTIVITY_KIND_DRIVER (by globalPid and correlationId): {listed}. They "
                  "have no thread, launch API or annotation path",
    "calls_out": "{n} launch call(s) left out, for want of a usable correlationId, globalTid or "
                 "start: {listed}. Kernels they launched have no thread, launch API or "
                 "annotation path",
    "ranges_out": "{n} NVTX push/pop range(s) of NVTX_EVENTS left out of the annotation paths: "
                  "{listed}. Kernels they enclosed lack those levels: phases, ranges and ops "
                  "may be incomplete",
    "nodes_out": "{n} CUDA graph node creation event(s) of CUDA_GRAPH_NODE_EVENTS left out, for "
                 "want of a usable graphNodeId, globalTid, start or originalGraphNodeId: "
                 "{listed}",
    "uncaptured": "{n} CUDA graph node kernel(s) have no creation event of their node "
                  "(graphNodeId) in CUDA_GRAPH_NODE_EVENTS: {listed}. Their annotation path is "
                  "their replay's launch only, without the ranges open at their capture",
    "strings_out": "{n} row(s) of StringIds left out (id not an integer or value not text): "
                   "{listed}. Names that refer to them are null",
    "gpus_out": "{n} row(s) of TARGET_INFO_GPU left out, for want of a usable device id: "
                "{listed}",
    "no_gpu": "{n} kernel record(s) on a device that TARGET_INFO_GPU does not describe: "
              "{listed}. Their device_name and cc are null",
}


@dataclass
class Findings:
    """What one export held that could not be used: null cells (``issues``, warned as every
    input's null values are), rows by kind of problem (:data:`KINDS`), and notes on missing
    tables and columns. :meth:`emit` warns once per kind."""

    issues: Issues
    tallies: dict[str, Tally] = field(default_factory=dict)

    def __getitem__(self, kind: str) -> Tally:
        return self.tallies.setdefault(kind, Tally())

    def note(self, text: str) -> None:
        self.issues.note(f"{text} (--strict refuses such input)")

    def emit(self) -> None:
        for kind, template in KINDS.items():
            tally = self.tallies.get(kind)
            if tally is not None and tally.n:
                self.note(template.format(n=tally.n, listed=tally.text()))
        self.issues.emit(stacklevel=4)
