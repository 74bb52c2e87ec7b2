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
"""

from __future__ import annotations

import glob
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roofprof.errors import InputError, UsageError, option

#: partition columns, outermost first, and whether their values are integers
PARTITIONS: tuple[str, ...] = ("run", "host", "rank")
INTEGER_PARTITIONS: frozenset[str] = frozenset({"rank"})
#: the values a run or host name may take (they become folder names)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
DEFAULTS: dict[str, str | int] = {"run": "default", "host": "default", "rank": 0}

PartitionValue = str | int


@dataclass(frozen=True)
class Part:
    """One file of a dataset and its partition values."""

    path: Path
    values: dict[str, PartitionValue]


def check_value(column: str, value: object) -> PartitionValue:
    """A partition value as stored, or :class:`UsageError` naming what is allowed."""
    if column in INTEGER_PARTITIONS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"--{column} must be a non-negative integer, got {value!r}")
        return value
    if not isinstance(value, str) or not _NAME.match(value):
        raise UsageError(f"--{column} {value!r}: use letters, digits, '_', '.' and '-' "
                         "(at most 128, starting with a letter or digit)")
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
    """True for a folder holding Parquet files in run=/host=/rank= folders."""
    p = Path(path)
    return p.is_dir() and any(p.glob("run=*/host=*/rank=*/*.parquet"))


def parts(directory: str | os.PathLike[str], where: str | None = None) -> list[Part]:
    """The dataset's files (sorted) whose partition values satisfy ``where``."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; give a dataset made with "
                         "`roofprof convert ... --dataset DIR`")
    test = parse_where(where)
    out: list[Part] = []
    for f in sorted(root.glob("run=*/host=*/rank=*/*.parquet")):
        if f.name.startswith("."):  # an atomic write in progress
            continue
        values: dict[str, PartitionValue] = {}
        for folder in f.parent.relative_to(root).parts:
            key, _, raw = folder.partition("=")
            values[key] = int(raw) if key in INTEGER_PARTITIONS and raw.isdigit() else raw
        if test(values):
            out.append(Part(f, values))
    if not out:
        what = f" matching --where {where!r}" if where else ""
        raise InputError(f"{root}: no dataset files{what} (files live in "
                         "run=*/host=*/rank=*/*.parquet)")
    return out


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
    part-x.parquet``); empty for a file outside such folders."""
    parents = Path(path).parent.parts[-len(PARTITIONS):]
    if len(parents) != len(PARTITIONS):
        return {}
    values: dict[str, PartitionValue] = {}
    for column, name in zip(PARTITIONS, parents, strict=True):
        key, sep, raw = name.partition("=")
        if key != column or not sep:
            return {}
        values[key] = int(raw) if key in INTEGER_PARTITIONS and raw.isdigit() else raw
    return values


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
