"""A dataset's files checked by their footers before an out-of-core engine reads them, and an
engine's error turned into one that names the file.

DuckDB and Spark read a dataset's files as one relation, so a file of another schema would fail
deep in the generated query with the engine's own words (a column type no user chose, no file
named), or worse, read as nulls (a column missing: the files are read by name) or add up with
tables of another kind. Before either engine runs, :func:`check` reads every selected file's
footer (its schema and roofprof metadata, no data: about 0.3 ms a file) and applies the checks
the in-memory reader (``roofprof.tables.kernels.read_parquet``) applies to the same file, with
``roofprof.tables.checks`` itself where it can:

* a footer that does not read, or no roofprof metadata, or metadata ``checks.trace_meta``
  refuses: an :class:`InputError` naming the file and what to do
  (``roofprof.tables.partitions.redo``);
* identity columns of another type (``checks.column_types``), a measured column that does not
  hold numbers, no ``duration_ns``: the same;
* measured columns absent though the metadata does not say no metric gave them: the warning
  the in-memory reader gives (they read as null);
* one kind of table: a timing table (every launch timed, no counters) among traces of counters,
  or the reverse, is refused, naming both files: their times are of different things.

:func:`engine_error` is what a query's failure becomes: the file the engine's message names, or
where it names none, the first file whose footer does not read now; else one message naming the
dataset (``--engine pandas`` reads the files one by one and names the damaged one).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from roofprof.errors import InputError, RoofprofWarning, option
from roofprof.tables import checks
from roofprof.tables.partitions import PARTITIONS, Part, redo
from roofprof.tables.schema import IDENTITY, MEASURED, upgrade
from roofprof.tables.stored import META_KEY
from roofprof.tables.timing import TABLE as TIMING

#: the columns whose values are quantities (numbers) in a kernel table
QUANTITIES: tuple[str, ...] = (*MEASURED, "flop")


@dataclass(frozen=True)
class Footer:
    """One dataset file as its footer describes it (checked)."""

    part: Part
    #: its columns, in file order
    names: tuple[str, ...]
    #: its roofprof metadata (``checks.trace_meta``, older fields filled)
    meta: dict[str, Any]

    @property
    def timing(self) -> bool:
        """Whether the file is a timing table (durations of every launch, no counters)."""
        return self.meta.get("table") == TIMING


def check(found: Sequence[Part]) -> list[Footer]:
    """The footer of every file of ``found``, each checked, all of one kind (module doc)."""
    footers = [read(part) for part in found]
    _one_kind(footers)
    return footers


def read(part: Part) -> Footer:
    """``part``'s footer, checked as the in-memory reader checks the file (module doc)."""
    path = part.path
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({first_line(exc)}); "
                         f"{redo(part)}") from None
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise InputError(f"{path}: a Parquet file but not a roofprof trace (no roofprof "
                         f"metadata); {redo(part)}")
    meta = upgrade(checks.trace_meta(raw, path))
    checks.column_types(schema, path, IDENTITY)
    footer = Footer(part, tuple(schema.names), meta)
    _quantities(schema, footer)
    return footer


def _quantities(schema: Any, footer: Footer) -> None:
    """The measured columns hold numbers (integers, floats, or nulls only); ``duration_ns``
    is there; one warning names those absent (read as null) that the metadata does not say
    no metric gave."""
    path = footer.part.path
    if "duration_ns" not in footer.names:
        raise InputError(f"{path}: the trace has no duration_ns column, so no time or rate "
                         f"can be computed; {redo(footer.part)}")
    for name in QUANTITIES:
        if name not in footer.names:
            continue
        t = schema.field(name).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)):
            raise InputError(f"{path}: column {name} holds {t} values, not numbers; the file "
                             f"was not written by roofprof: {redo(footer.part)}")
    missing = QUANTITIES if footer.timing else footer.meta.get("missing") or ()
    absent = [c for c in QUANTITIES if c not in footer.names and c not in missing]
    if absent:  # the in-memory reader's warning (checks.trace_columns), word for word
        warnings.warn(f"{path}: column(s) {', '.join(absent)} are not in the trace; read as "
                      "null (convert the report again with this roofprof to fill them)",
                      RoofprofWarning, stacklevel=4)


def _one_kind(footers: Sequence[Footer]) -> None:
    """Refuse a timing table among traces of counters, or the reverse (module doc), naming a
    file of the fewer kind (on a tie, of the first file's other kind) and one of the others."""
    timing = [f for f in footers if f.timing]
    counters = [f for f in footers if not f.timing]
    if not timing or not counters:
        return
    fewer, more = (timing, counters) if len(timing) < len(counters) or (
        len(timing) == len(counters) and footers[0] in counters) else (counters, timing)
    odd, other = fewer[0], more[0]

    def kind(f: Footer) -> str:
        return ("a timing table (every launch timed, no counters)" if f.timing
                else "a trace of counters")

    raise InputError(f"{odd.part.path}: {kind(odd)}, but {other.part.path} is {kind(other)}: "
                     "their times are of different launches and do not add up; keep each kind "
                     "in a dataset of its own (`roofprof join TIMING COUNTERS -o "
                     "joined.parquet` makes one table of a timing table and its counters)")


def first_line(exc: BaseException) -> str:
    """An exception's first line of text (an engine's message goes on with the query)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def engine_error(exc: BaseException, found: Sequence[Part], engine: str) -> InputError:
    """What ``engine``'s failure to read the files ``found`` becomes: an :class:`InputError`
    naming the file (module doc)."""
    text = first_line(exc)
    message = str(exc)
    for part in found:
        if str(part.path) in message:
            return InputError(f"{part.path}: {engine} cannot read this dataset file ({text}); "
                              f"{redo(part)}")
    with warnings.catch_warnings():  # the footers warned once already; only errors matter
        warnings.simplefilter("ignore")
        for part in found:
            try:
                read(part)
            except InputError as bad:
                return bad
    root = found[0].path.parents[len(PARTITIONS)] if found else Path(".")
    return InputError(f"{root}: {engine} cannot read the dataset ({text}); every file's "
                      "footer reads, so the damage is inside a file: "
                      f"{option('engine')} pandas reads the files one by one and names it")
