"""Text columns of big tables: dictionary-typed, made once per distinct value.

The kernel and timing tables' text columns are pandas categoricals
(``roofprof.tables.schema.TEXT``): categories are the distinct values as ``str``, sorted, and each
row holds a small integer code (-1: null). A run's million launches hold a few hundred kernel names,
grids and paths, so a column costs a code per row and each distinct string once, in memory and in
Parquet.

:func:`taken` makes the column from distinct values (in any order, repeats and nulls allowed) and
each row's code; :func:`text` from any values (strings, a ``string`` column, a categorical of any
categories) by coding them first; :func:`concat` concatenates tables whose text columns have
different categories (pandas would fall back to plain strings); :func:`canonical` gives every
text column of a table read from elsewhere (Parquet, a concat) the sorted ``str`` categories.
Values are what ``pd.array(values, dtype="string")`` holds: the same strings and nulls (None,
NaN and NA are null; any other value is its ``str``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: rows per Arrow take: one take of a million long strings grows its buffer by doubling (twice
#: the column's size at its peak); pieces of this many rows are sized nearly exactly
PIECE = 1 << 18
#: rows per piece where list cells are hashed and compared (temporaries of a few tens of MB)
ROWS = 1 << 20


def arrow_text() -> Any:
    """The Arrow type of a text column in Parquet: one index width for every file and chunk."""
    return pa.dictionary(pa.int32(), pa.string())


def is_text(values: Any) -> bool:
    """Whether ``values`` (a Series or array) is a dictionary-typed text column."""
    return isinstance(getattr(values, "dtype", None), pd.CategoricalDtype)


def take(array: Any, indices: Any) -> Any:
    """``array.take(indices, allow_fill=True)`` (-1: null); a ``string`` column in pieces."""
    indices = np.asarray(indices, dtype=np.int64)
    if not (isinstance(array.dtype, pd.StringDtype) and array.dtype.storage == "pyarrow") or \
            len(indices) <= PIECE:
        return array.take(indices, allow_fill=True)
    pieces = [array.take(indices[i:i + PIECE], allow_fill=True).__arrow_array__()
              for i in range(0, len(indices), PIECE)]
    chunks = pa.chunked_array([c for p in pieces for c in p.chunks], type=pieces[0].type)
    return type(array)(chunks)


def _as_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if value is None or (not isinstance(value, (list, tuple)) and bool(pd.isna(value))):
        return None
    return str(value)


def taken(distinct: Any, codes: Any) -> Any:
    """The text column (a ``pd.Categorical``) whose row i is ``distinct[codes[i]]`` (null where
    the code is -1 or the value is null)."""
    values = [_as_str(v) for v in distinct]
    cats = sorted({v for v in values if v is not None})
    where = {v: i for i, v in enumerate(cats)}
    # each distinct value's category, and -1 at the end for code -1 (null)
    remap = np.asarray([-1 if v is None else where[v] for v in values] + [-1], dtype=np.int32)
    codes = np.asarray(codes, dtype=np.int64)
    if len(remap) > 1 and len(codes):
        codes = remap[codes]
    else:
        codes = np.full(len(codes), -1, dtype=np.int32)
    return pd.Categorical.from_codes(codes, dtype=text_dtype(cats))


def text_dtype(categories: Sequence[str]) -> Any:
    """The dtype of a text column holding ``categories`` (distinct ``str``, sorted)."""
    return pd.CategoricalDtype(pd.Index(list(categories), dtype="str"), ordered=False)


def nulls(n: int) -> Any:
    """A text column of ``n`` nulls."""
    return taken([], np.full(n, -1, dtype=np.int64))


def text(values: Any) -> Any:
    """``values`` as a text column (a ``pd.Categorical``), converting each distinct value once;
    a text column already in canonical form is returned as it is (no copy)."""
    if is_text(values):
        cat: Any = values.array if isinstance(values, pd.Series) else values
        cats = cat.categories
        if cats.dtype == "str" and not cat.ordered and cats.is_monotonic_increasing \
                and cats.is_unique:
            return cat
        codes = np.asarray(cat.codes, dtype=np.int64)
        return taken(list(cats), codes)
    codes, distinct = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return taken(list(distinct), codes)


def per_value(values: Any, function: Any) -> Any:
    """``function(values)`` (a Series in, an equally long Series or DataFrame out), computed on a
    text column's distinct values only and taken for every row (index kept)."""
    if not is_text(values):
        return function(values)
    cats = pd.Series(values.cat.categories, dtype="string")
    codes = np.asarray(values.cat.codes, dtype=np.int64)
    result = function(pd.concat([cats, pd.Series([pd.NA], dtype="string")], ignore_index=True))
    out = result.iloc[np.where(codes < 0, len(cats), codes)]  # null rows: the result of NA
    out.index = values.index
    return out


def strings(values: Any) -> Any:
    """``values`` as a text column (see :func:`text`; the name its callers knew)."""
    return text(values)


def canonical(df: Any, columns: Sequence[str]) -> Any:
    """``df`` with each of ``columns`` it holds (a schema's text columns) as a text column in
    canonical form (sorted ``str`` categories); plain strings of older files are coded."""
    for col in columns:
        if col in df.columns:
            converted = text(df[col])
            if converted is not df[col].array:
                df[col] = pd.Series(converted, index=df.index)
    return df


def concat(frames: Sequence[Any], **kwargs: Any) -> Any:
    """``pd.concat(frames, **kwargs)`` keeping text columns dictionary-typed: a column that is
    text in any frame is text in the result, over the union of the frames' categories."""
    frames = list(frames)
    names = {c for f in frames for c in f.columns if is_text(f[c])}
    if not names:
        return pd.concat(frames, **kwargs)
    out = []
    unions: dict[str, list[str]] = {}
    coded: list[dict[str, Any]] = []
    for f in frames:
        cols = {c: text(f[c]) for c in names if c in f.columns}
        coded.append(cols)
        for c, cat in cols.items():
            unions.setdefault(c, []).extend(cat.categories)
    dtypes = {c: text_dtype(sorted(set(u))) for c, u in unions.items()}
    for f, cols in zip(frames, coded, strict=True):
        g = f.copy(deep=False)
        for c, dtype in dtypes.items():  # a frame without the column: nulls of the union
            cat = cols[c] if c in cols else nulls(len(f))
            g[c] = pd.Series(cat, index=f.index).cat.set_categories(dtype.categories)
        out.append(g)
    return pd.concat(out, **kwargs)


# --------------------------------------------------------------------------- Arrow and Parquet


def to_arrow(df: Any) -> Any:
    """``df`` as an Arrow table: text columns as :func:`arrow_text` (each distinct string stored
    once), list cells converted once per distinct cell object (shared cells are common)."""
    arrays, names = [], []
    for col in df.columns:
        values = df[col]
        if is_text(values):
            arr = arrow_text_array(values)
        elif values.dtype == object and len(values) and isinstance(values.iloc[0], list):
            obj = values.to_numpy()
            codes, first = _by_identity(obj)
            arr = pa.array(list(obj[first]), from_pandas=True).take(pa.array(codes))
        else:
            arr = pa.Array.from_pandas(values)
        arrays.append(arr)
        names.append(str(col))
    table = pa.Table.from_arrays(arrays, names=names)
    like = pa.Table.from_pandas(df.head(0), preserve_index=False)  # pandas' own metadata
    return table.replace_schema_metadata(like.schema.metadata)


def arrow_text_array(values: Any) -> Any:
    """A text column (or any values, coded first) as an Arrow array of :func:`arrow_text`: its
    codes and its categories, never a string per row."""
    cat = text(values)
    codes = np.asarray(cat.codes, dtype=np.int32)
    indices: Any = pa.array(codes, mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices,
                                          pa.array(list(cat.categories), type=pa.string()))


def _by_identity(obj: Any) -> tuple[Any, Any]:
    """Codes of object cells by identity, and a row of each code."""
    _, first, codes = np.unique(np.fromiter(map(id, obj), dtype=np.int64, count=len(obj)),
                                return_index=True, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), first


def read_parquet_text(path: Any, columns: Sequence[str], lists: Sequence[str] = (),
                      skip: Sequence[str] = (), only: Sequence[str] | None = None,
                      batch_rows: int | None = None) -> Any:
    """``pq.read_table(path)`` with ``columns`` (text columns) and the values of ``lists`` (list
    columns of text) read as dictionaries straight from Parquet's dictionary pages, whether the
    file stored them as dictionaries or not; the columns in ``skip`` not read, only those in
    ``only`` where given. With ``batch_rows``: an iterator of tables of at most that many rows,
    read one row group at a time (``iter_batches`` cannot read a list column whose dictionary
    pages come out in several chunks: seen on a 10M-launch timing table)."""
    file = pq.ParquetFile(path)
    schema = file.schema
    leaves = [schema.column(i).path for i in range(len(schema))]
    wanted = set(columns) | {p for p in leaves if p.split(".")[0] in lists and "." in p}
    names = [n for n in file.schema_arrow.names if n not in skip and (only is None or n in only)]
    dictionary = [p for p in leaves if p in wanted]
    if batch_rows is None:
        return pq.read_table(path, columns=names, read_dictionary=dictionary)
    return _pieces(pq.ParquetFile(path, read_dictionary=dictionary), names, batch_rows)


def _pieces(file: Any, names: list[str], rows: int) -> Iterator[Any]:
    """The row groups of a Parquet file, one at a time, cut into tables of at most ``rows``."""
    for group in range(file.num_row_groups):
        table = file.read_row_group(group, columns=names)
        for lo in range(0, table.num_rows, rows):
            yield table.slice(lo, rows)


def read_frame(path: Any, text_columns: Sequence[str], lists: Sequence[str],
               skip: Sequence[str] = (), only: Sequence[str] | None = None) -> Any:
    """A Parquet file as a DataFrame: ``text_columns`` dictionary-typed in canonical form
    (read as dictionaries, :func:`read_parquet_text`), each of ``lists`` it holds as list
    cells shared per distinct cell (:func:`shared_lists`), in the file's column order, the
    columns in ``skip`` left out (or only those in ``only`` read)."""
    return to_frame([read_parquet_text(path, text_columns, lists=lists, skip=skip, only=only)],
                    text_columns, lists)


def to_frame(held: list[Any], text_columns: Sequence[str], lists: Sequence[str]) -> Any:
    """The Arrow table in ``held`` (a one-item list, emptied: the table's only reference is
    then this function's, so its columns' memory goes as they are converted) as
    :func:`read_frame` makes it."""
    table = held.pop()
    order = list(table.column_names)
    cells = {c: table.column(c) for c in lists
             if c in order and pa.types.is_list(table.schema.field(c).type)}
    table = table.drop_columns(list(cells))  # the only reference to the whole table
    df = canonical(table.to_pandas(self_destruct=True, split_blocks=True), text_columns)
    del table
    for col, column in cells.items():
        df[col] = shared_lists(column)
    del cells
    # Arrow's allocator keeps what it freed for Arrow alone: give it back (a 10M-launch timing
    # table's key columns: 1.36 GB resident before, 0.5 GB after)
    pa.default_memory_pool().release_unused()
    return df[order]


def shared_lists(column: Any) -> Any:
    """An Arrow list column as an object array of Python lists, one list per distinct cell
    shared by the rows that hold it (null cells: an empty list each).

    Cells are told apart by a 64-bit hash of their values (a position-weighted sum, wrapping),
    then checked value by value against the cell they would share, so equal hashes never merge
    different cells; both in pieces of :data:`ROWS` rows (bounded temporaries at 10M rows).
    """
    arr: Any = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    out = np.empty(n, dtype=object)
    if not n:
        return out
    arr = arr.fill_null(pa.scalar([], type=arr.type)) if arr.null_count else arr
    lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    flat: Any = pc.list_flatten(arr)
    if pa.types.is_dictionary(flat.type):  # read as codes already (read_parquet_text)
        flat = flat.indices
    elif pa.types.is_string(flat.type) or pa.types.is_large_string(flat.type):
        flat = flat.dictionary_encode().indices
    values = np.full(len(flat), -1, dtype=np.int64) if pa.types.is_null(flat.type) else \
        flat.fill_null(-1).cast(pa.int64()).to_numpy(zero_copy_only=False)
    starts = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lengths)[:-1]])
    rng = np.random.default_rng(0)
    weights = rng.integers(1, 2**63, int(lengths.max(initial=0)) + 2, dtype=np.uint64) | 1
    key = np.empty(n, dtype=np.uint64)
    pieces = [(lo, min(lo + ROWS, n)) for lo in range(0, n, ROWS)]
    for lo, hi in pieces:  # weights[0] for the length, the others per position
        s, ln = starts[lo:hi] - starts[lo], lengths[lo:hi]
        pos = np.arange(int(s[-1] + ln[-1]), dtype=np.int64) - np.repeat(s, ln)
        v = values[starts[lo]:starts[lo] + len(pos)].astype(np.uint64)
        with np.errstate(over="ignore"):
            summed = np.concatenate([np.zeros(1, dtype=np.uint64),
                                     np.cumsum(v * weights[pos + 1])])
            key[lo:hi] = summed[s + ln] - summed[s] + ln.astype(np.uint64) * weights[0]
    codes, _ = pd.factorize(key)
    first = np.unique(codes, return_index=True)[1]
    rep = first[codes]
    own: list[Any] = []
    for lo, hi in pieces:
        s, ln, r = starts[lo:hi] - starts[lo], lengths[lo:hi], rep[lo:hi]
        same = ln == lengths[r]
        pos = np.arange(int(s[-1] + ln[-1]), dtype=np.int64) - np.repeat(s, ln)
        at = np.where(np.repeat(same, ln), np.repeat(starts[r], ln) + pos,
                      starts[lo] + s.repeat(ln) + pos)  # a cell of another length: itself
        differs = values[starts[lo]:starts[lo] + len(pos)] != values[at]
        own.append(lo + np.union1d(np.repeat(np.arange(hi - lo), ln)[differs],
                                   np.flatnonzero(~same)))
    made = arr.take(pa.array(first, type=pa.int64())).to_pylist()
    cells = np.empty(len(made), dtype=object)
    for i, cell in enumerate(made):
        cells[i] = cell
    out[:] = cells[codes]
    for i in np.concatenate(own).tolist():  # a collision of hashes: made on their own
        out[i] = arr[i].as_py()
    return out
