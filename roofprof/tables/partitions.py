"""Datasets: many traces (runs, hosts, ranks) as one hive-partitioned folder of Parquet files.

Layout: ``DIR/run=RUN/host=HOST/rank=N/part-<uuid>.parquet``. Each file is a roofprof trace as
:func:`roofprof.inputs.load.write_parquet` writes it (the kernel table's schema, roofprof metadata
kept per file, written atomically), so a file of a dataset is also a trace on its own.
:func:`roofprof.datasets.write.append` adds one file; the partition values (``run``, ``host``,
``rank``) live in the folder names, and the file's ``host`` column is set to its partition's
host so that every reader (pandas, DuckDB's hive partitioning) sees the same value.

This module knows the layout and ``--where``; ``roofprof.inputs.load`` reads and writes the files
(``dataset_write.append``, ``trace.read_dataset``, and ``trace.load`` of a dataset folder).

Inputs (:func:`expand`): every command that takes a trace path takes a quoted glob too
(``'runs/*/rank*.parquet'``, ``'fleet-*'``, ``**`` for any depth); the files and folders it
matches, sorted, are read as one input, each keeping its own label (:func:`labels`). A pattern
matching nothing is an error naming it. A matched file inside ``run=/host=/rank=`` folders keeps
its partition values (:func:`values_of`), so ``--where`` selects among such files too.

``--where`` (:func:`parse_where`) selects partitions before anything is read: clauses on the
partition columns joined by ``and`` (``rank = 3``, ``rank in (0, 1)``, ``host != 'n1'``,
``rank >= 8 and run = 'a'``). It is parsed here and evaluated on the folder names in Python;
nothing the user writes reaches a query engine as SQL.

What a dataset may hold is checked on both sides. Written (:func:`folder`): a run or host name
that can be a folder name on any system (:func:`check_value`), a rank from 0 to 2**63 - 1 (what
every engine reads as a 64-bit integer). Read (:func:`parts`, every reader's listing): a
partition folder whose value could not have been written is an :class:`InputError` naming it,
as is a folder that cannot be listed (never a partition silently missing); each selected file
must be a readable, non-empty file that begins and ends as Parquet does (a file cut short, of
zero bytes or of another kind is named, with what to do, before any engine reads it: 8 bytes
a file); hidden names (an atomic write in progress, ``.part-*.tmp``) are not dataset files.
The same file reached twice (a link) or byte-identical copies in one partition are read as they
are, each counted, and named in one :class:`~roofprof.errors.DataWarning`: a file added twice
or copied by hand is the usual cause. Copies in different partitions are not warned about: the
same trace put on several ranks is how datasets are tried out.
"""

from __future__ import annotations

import filecmp
import glob
import operator
import os
import re
import stat
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, SupportsIndex

from roofprof.errors import DataWarning, InputError, UsageError, option

#: partition columns, outermost first, and whether their values are integers
PARTITIONS: tuple[str, ...] = ("run", "host", "rank")
INTEGER_PARTITIONS: frozenset[str] = frozenset({"rank"})
#: the values a run or host name may take (they become folder names): the whole name, no
#: trailing newline (``$`` would allow one)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_NAME_RULE = "letters, digits, '_', '.' and '-', at most 128, starting with a letter or digit"
#: the largest rank: every engine reads a rank as a 64-bit signed integer
MAX_RANK = 2**63 - 1
_RANK = re.compile(r"[0-9]+")
#: how every Parquet file begins and ends
_MAGIC = b"PAR1"
#: the copies a warning names at most; the bytes of two files' ends compared first
_SHOWN = 5
_TAIL = 1 << 16
DEFAULTS: dict[str, str | int] = {"run": "default", "host": "default", "rank": 0}

PartitionValue = str | int


@dataclass(frozen=True)
class Part:
    """One file of a dataset and its partition values."""

    path: Path
    values: dict[str, PartitionValue]


def check_value(column: str, value: object) -> PartitionValue:
    """A partition value as stored, or :class:`UsageError` naming what is allowed: a rank is
    a whole number from 0 to :data:`MAX_RANK` (any integer type, never a bool or a string),
    a run or host name a folder name on any system (:data:`_NAME`)."""
    if column in INTEGER_PARTITIONS:
        number = operator.index(value) if isinstance(value, SupportsIndex) \
            and not isinstance(value, bool) else None  # numpy's integers too
        if number is None or not 0 <= number <= MAX_RANK:
            raise UsageError(f"{option(column)} must be a whole number from 0 to {MAX_RANK} "
                             f"(it names the folder {column}=N), got {value!r}")
        return number
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise UsageError(f"{option(column)} {value!r}: use {_NAME_RULE} (it names the "
                         f"folder {column}=NAME)")
    return value


def folder(directory: str | os.PathLike[str], run: str, host: str, rank: int) -> Path:
    """The partition folder of run/host/rank in the dataset at ``directory`` (values checked)."""
    values = {"run": check_value("run", run), "host": check_value("host", host),
              "rank": check_value("rank", rank)}
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: {option('dataset')} must be a folder")
    return root.joinpath(*(f"{c}={values[c]}" for c in PARTITIONS))


def new_file(folder: Path) -> Path:
    """A new file name in a partition folder (names never collide between writers)."""
    return folder / f"part-{uuid.uuid4().hex}.parquet"


def is_dataset(path: str | os.PathLike[str]) -> bool:
    """True for a folder holding run=/host=/rank= folders (with files or not: a dataset
    without files is then told so by :func:`parts`, not taken for a report)."""
    p = Path(path)
    return p.is_dir() and any(d.is_dir() for d in p.glob("run=*/host=*/rank=*"))


def parts(directory: str | os.PathLike[str], where: str | None = None) -> list[Part]:
    """The dataset's files (sorted) whose partition values satisfy ``where``, each checked
    (module docstring: folder names, readable Parquet files, copies warned about)."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; give a dataset made with "
                         "`roofprof convert ... --dataset DIR`")
    test = parse_where(where)
    out: list[Part] = []
    for f in _listing(root):
        values = _folder_values(f.parent.relative_to(root).parts, f.parent)
        if test(values):
            out.append(Part(f, values))
    if not out:
        what = f" matching --where {where!r}" if where else ""
        raise InputError(f"{root}: no dataset files{what} (files live in "
                         "run=*/host=*/rank=*/*.parquet; `roofprof convert INPUT --dataset "
                         f"{root}` adds one)")
    _warn_copies(root, [(p, _check_file(p)) for p in out])
    return out


def redo(part: Part) -> str:
    """What to do about a damaged dataset file: the command that adds its input again."""
    root = part.path.parents[len(PARTITIONS)]
    again = " ".join(f"--{c} {part.values[c]}" for c in PARTITIONS)
    return (f"remove it from the dataset (and add its input again: `roofprof convert INPUT "
            f"--dataset {root} {again}`)")


def _listing(root: Path) -> list[Path]:
    """The ``*.parquet`` files of the run=*/host=*/rank=* folders under ``root``, sorted;
    hidden names (an atomic write in progress) left out. A folder that cannot be listed is an
    error naming it: a partition is never missing silently."""
    level = [root]
    for column in PARTITIONS:
        level = [d for folder in level for d in _entries(folder)
                 if d.name.startswith(f"{column}=") and d.is_dir()]
    return sorted(f for folder in level for f in _entries(folder)
                  if f.name.endswith(".parquet") and not f.name.startswith("."))


def _entries(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as found:
            return [folder / e.name for e in found]
    except OSError as exc:
        raise InputError(f"{folder}: cannot list this dataset folder ({exc.strerror or exc}); "
                         "fix its permissions, or move it out of the dataset") from None


def _folder_values(names: Sequence[str], at: Path) -> dict[str, PartitionValue]:
    """The partition values of the folders ``names`` (run=, host=, rank=, in order), each one
    :func:`folder` could have written; else an :class:`InputError` naming the folder ``at``
    (a rank no engine reads as a 64-bit integer, a name that is not a folder name anywhere)."""
    values: dict[str, PartitionValue] = {}
    for column, name in zip(PARTITIONS, names, strict=True):
        raw = name.partition("=")[2]
        if column in INTEGER_PARTITIONS:
            ok = bool(_RANK.fullmatch(raw)) and int(raw) <= MAX_RANK
            rule = f"a whole number from 0 to {MAX_RANK}"
        else:
            ok = bool(_NAME.fullmatch(raw))
            rule = _NAME_RULE
        if not ok:
            raise InputError(f"{at}: the folder {name!r} is not a partition roofprof reads "
                             f"({column} takes {rule}); rename the folder or move it out of "
                             "the dataset")
        values[column] = int(raw) if column in INTEGER_PARTITIONS else raw
    return values


def _check_file(part: Part) -> os.stat_result:
    """``part``'s file status, once it is known to be a readable file that begins and ends as
    Parquet does (8 bytes read); else an :class:`InputError` naming it and what to do."""
    path = part.path
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{path}: not a file (a folder or a device named like a dataset "
                             "file); move it out of the dataset")
        with open(path, "rb") as fh:
            head = fh.read(len(_MAGIC))
            fh.seek(max(st.st_size - len(_MAGIC), 0))
            tail = fh.read(len(_MAGIC))
    except OSError as exc:
        raise InputError(f"{path}: cannot read this dataset file ({exc.strerror or exc}); make "
                         f"it readable, or {redo(part)}") from None
    if st.st_size == 0:
        why = "an empty file (0 bytes): a copy or a write that did not finish"
    elif head != _MAGIC:
        why = "not a Parquet file"
    elif tail != _MAGIC or st.st_size < 3 * len(_MAGIC):
        why = "a Parquet file cut short (it does not end as one): a copy that did not finish"
    else:
        return st
    raise InputError(f"{path}: {why}; {redo(part)}")


def _warn_copies(root: Path, files: list[tuple[Part, os.stat_result]]) -> None:
    """One :class:`DataWarning` naming the files read twice: the same file reached by two
    names (a link), or a byte-identical copy of another file of its partition."""
    first: dict[tuple[int, int], Path] = {}
    by_size: dict[tuple[Path, int], list[Path]] = {}
    copies: list[tuple[Path, Path]] = []
    for part, st in files:
        path = part.path
        same = first.setdefault((st.st_dev, st.st_ino), path)
        if same != path:
            copies.append((path, same))
            continue
        alike = by_size.setdefault((path.parent, st.st_size), [])
        original = next((p for p in alike if _same_bytes(p, path, st.st_size)), None)
        if original is not None:
            copies.append((path, original))
        else:
            alike.append(path)
    if copies:
        shown = "; ".join(f"{c.relative_to(root)} (the same as {o.relative_to(root)})"
                          for c, o in copies[:_SHOWN])
        more = f"; and {len(copies) - _SHOWN} more" if len(copies) > _SHOWN else ""
        warnings.warn(f"{root}: {len(copies)} dataset file(s) are the same as another one, so "
                      f"their kernels are counted twice: {shown}{more}. Each is read; remove "
                      "the copies (a file added twice, or copied by hand)", DataWarning,
                      stacklevel=3)


def _same_bytes(a: Path, b: Path, size: int) -> bool:
    """Whether two files of ``size`` bytes are byte-identical: their ends first (a roofprof
    file's footer holds when it was written, so two writes differ there), then the whole."""
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            fa.seek(max(size - _TAIL, 0))
            fb.seek(max(size - _TAIL, 0))
            if fa.read() != fb.read():
                return False
        return filecmp.cmp(a, b, shallow=False)
    except OSError:  # read a moment ago: whatever failed now, the reader will name it
        return False



# ----------------------------------------------------------------------------------- inputs

_GLOB_CHARS = frozenset("*?[")


def is_pattern(path: str | os.PathLike[str]) -> bool:
    """True for a glob pattern (``*``, ``?`` or ``[`` in it) that is not an existing path."""
    text = os.fspath(path)
    return any(c in _GLOB_CHARS for c in text) and not os.path.exists(text)


def expand(path: str | os.PathLike[str]) -> list[Path]:
    """The files and folders ``path`` names: itself, or the sorted matches of a glob pattern
    (``**`` matches any depth; hidden names, such as atomic writes in progress, never match).
    A pattern matching nothing is an :class:`InputError` naming it."""
    if not is_pattern(path):
        return [Path(path)]
    text = os.fspath(path)
    found = sorted(Path(m) for m in glob.glob(text, recursive=True))
    if not found:
        raise InputError(f"{text}: the pattern matches no file or folder; check it (quote it "
                         "so that roofprof, not the shell, expands it)")
    return found


def expand_all(paths: Any) -> list[Path]:
    """:func:`expand` of each path, in the order given (a file named twice is read twice)."""
    return [p for given in paths for p in expand(given)]


def values_of(path: str | os.PathLike[str]) -> dict[str, PartitionValue]:
    """The partition values of a dataset file from its folders (``.../run=a/host=n1/rank=3/
    part-x.parquet``); empty for a file outside such folders; an :class:`InputError` where
    a value could not have been written (:func:`parts`)."""
    parents = Path(path).parent.parts[-len(PARTITIONS):]
    if len(parents) != len(PARTITIONS):
        return {}
    for column, name in zip(PARTITIONS, parents, strict=True):
        key, sep, _ = name.partition("=")
        if key != column or not sep:
            return {}
    return _folder_values(parents, Path(path).parent)


def labels(paths: Any) -> list[str]:
    """A short, distinct label per input: its file name without the suffix (``rank3``), or,
    where two names are alike, its path below the inputs' common folder (``a/rank3``);
    a dataset file is named by its partition (``run=r1/host=n7/rank=3``)."""
    items = [Path(p) for p in paths]
    out = []
    for p in items:
        values = values_of(p)
        out.append("/".join(f"{c}={values[c]}" for c in PARTITIONS) if values
                   else label_of(p))
    if len(set(out)) == len(out) or len(items) < 2:
        return out
    try:
        common = Path(os.path.commonpath([p.resolve() for p in items]))
        below = [_stem(p.resolve().relative_to(common).as_posix()) for p in items]
    except ValueError:  # different drives
        below = []
    if len(set(below)) == len(items) and "." not in below:
        return below
    return [f"{i + 1}:{n}" for i, n in enumerate(out)]  # a file given twice


def _stem(name: str) -> str:
    for suffix in (".parquet", ".ncu-rep", ".csv"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def label_of(source: str | os.PathLike[str]) -> str:
    """A trace's short name: its file name without the suffix (``batch_16``); a pattern's
    name without its wildcards (``rank*.parquet`` -> ``rank``)."""
    name = _stem(os.path.basename(os.fspath(source).rstrip("/\\")))
    if is_pattern(source):
        name = re.sub(r"\[[^\]]*\]|[*?]", "", name).strip("_-.") or "traces"
    return name


# ------------------------------------------------------------------------------------ where

_TOKEN = re.compile(r"\s*(?:(?P<str>'[^']*')|(?P<num>-?\d+)|(?P<op><=|>=|!=|<>|=|<|>)"
                    r"|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_.\-]*))")
_OPS: dict[str, Any] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise UsageError(f"{option('where')} {text!r}: cannot read {text[pos:].strip()!r}; "
                             "write clauses like \"rank = 3\", \"host in ('a', 'b')\" joined by "
                             "and")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_where(text: str | None) -> Any:
    """A test of partition values from ``--where``: ``column op literal`` or
    ``column in (literal, ...)`` clauses joined by ``and``; columns are run, host, rank."""
    if text is None or not text.strip():
        return lambda values: True
    toks = _tokens(text)
    clauses: list[tuple[str, str, list[PartitionValue]]] = []
    i = 0

    def bad(why: str) -> UsageError:
        return UsageError(f"{option('where')} {text!r}: {why}")

    def literal(col: str) -> PartitionValue:
        nonlocal i
        if i >= len(toks):
            raise bad(f"a value is missing after {col}")
        kind, tok = toks[i]
        i += 1
        if col in INTEGER_PARTITIONS:
            if kind != "num":
                raise bad(f"{col} takes an integer, got {tok}")
            return int(tok)
        if kind == "str":
            return tok[1:-1]
        if kind in ("word", "num"):
            return tok
        raise bad(f"{col} takes a name, got {tok}")

    while True:
        if i >= len(toks) or toks[i][0] != "word" or toks[i][1].lower() not in PARTITIONS:
            got = toks[i][1] if i < len(toks) else "nothing"
            raise bad(f"expected a partition column ({', '.join(PARTITIONS)}), got {got}")
        col = toks[i][1].lower()
        i += 1
        if i < len(toks) and toks[i] == ("word", toks[i][1]) and toks[i][1].lower() == "in":
            i += 1
            if i >= len(toks) or toks[i] != ("punct", "("):
                raise bad("in needs a list in parentheses")
            i += 1
            values = [literal(col)]
            while i < len(toks) and toks[i] == ("punct", ","):
                i += 1
                values.append(literal(col))
            if i >= len(toks) or toks[i] != ("punct", ")"):
                raise bad("the list after in is not closed")
            i += 1
            clauses.append((col, "in", values))
        elif i < len(toks) and toks[i][0] == "op":
            op = toks[i][1]
            i += 1
            clauses.append((col, op, [literal(col)]))
        else:
            raise bad(f"expected a comparison after {col}")
        if i == len(toks):
            break
        if toks[i][0] != "word" or toks[i][1].lower() != "and":
            raise bad(f"expected and, got {toks[i][1]}")
        i += 1

    def test(values: dict[str, PartitionValue]) -> bool:
        for col, op, lits in clauses:
            v = values.get(col)
            if v is None or (col in INTEGER_PARTITIONS and not isinstance(v, int)):
                return False
            if op == "in":
                if v not in lits:
                    return False
            elif not _OPS[op](v, lits[0]):
                return False
        return True

    return test
