"""Text columns made once per distinct value hold what pandas makes from every value, as
dictionary-typed columns (sorted ``str`` categories), through concat, Arrow and Parquet; list
cells read from Parquet are shared by equal cells and hold what Arrow holds."""

from __future__ import annotations

import math
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from roofprof.tables import columns
from roofprof.tables.columns import (
    PIECE,
    arrow_text,
    concat,
    read_parquet_text,
    shared_lists,
    strings,
    take,
    taken,
    text,
    to_arrow,
)

_VALUES = st.one_of(st.sampled_from(["gemm", "", "a/b", "é", "x" * 300]), st.text(max_size=4),
                    st.sampled_from([None, math.nan, pd.NA]), st.integers(-3, 3))


def _same(got: object, want: pd.api.extensions.ExtensionArray) -> None:
    """``got`` is a text column in canonical form holding ``want``'s strings and nulls."""
    assert isinstance(got, pd.Categorical)
    cats = list(got.categories)
    assert cats == sorted(set(cats))
    assert got.categories.dtype == "str"
    assert not got.ordered
    assert set(cats) == {v for v in want.dropna()}  # only the values it holds
    pd.testing.assert_extension_array_equal(pd.array(np.asarray(got, dtype=object),
                                                     dtype="string"), want)


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, max_size=30), st.sampled_from(["list", "object", "series", "string"]))
def test_strings_equal_pandas_from_every_value(values: list[object], kind: str) -> None:
    want = pd.array(values, dtype="string")
    given_values: object = values if kind == "list" else \
        np.asarray(values, dtype=object) if kind == "object" else \
        pd.Series(values, dtype=object) if kind == "series" else want
    _same(strings(given_values), want)
    got = text(given_values)
    assert text(got) is got  # canonical already: no copy


def test_taken_fills_null_for_code_minus_one() -> None:
    got = taken(["b", "a", "b", None], np.asarray([1, -1, 0, 2, 3]))  # repeats, nulls
    _same(got, pd.array(["a", None, "b", "b", None], dtype="string"))
    _same(taken([], np.full(3, -1)), pd.array([None] * 3, dtype="string"))
    _same(strings(pd.Series(["a", None], dtype="str")), pd.array(["a", None], dtype="string"))
    unsorted = pd.Categorical(["z", "a", None], categories=["z", "a"])
    _same(text(unsorted), pd.array(["z", "a", None], dtype="string"))


def test_a_long_string_column_is_taken_in_pieces_with_the_same_values() -> None:
    codes = np.random.default_rng(1).integers(-1, 4, PIECE * 2 + 7)
    distinct = np.asarray(["gemm", "x" * 300, "", "attention", None], dtype=object)
    plain = pd.array(distinct[:4], dtype="string")
    got = take(plain, codes)
    pd.testing.assert_extension_array_equal(got, pd.array(distinct[codes], dtype="string"))
    assert got.__arrow_array__().num_chunks == 3  # type: ignore[attr-defined]
    coded = taken(distinct[:4], codes)
    _same(coded, pd.array(distinct[codes], dtype="string"))
    order = np.random.default_rng(2).permutation(len(codes))
    _same(take(coded, order), pd.array(distinct[codes][order], dtype="string"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "", "é"])),
                         max_size=6), min_size=1, max_size=4))
def test_a_concat_of_tables_of_different_categories_stays_dictionary_typed(
        parts: list[list[str | None]]) -> None:
    frames = [pd.DataFrame({"k": text(p), "v": np.arange(len(p))}) for p in parts]
    frames.append(pd.DataFrame({"v": [7]}))  # a table without the column: null there
    frames.append(pd.DataFrame({"k": pd.array(["plain", None], dtype="string"), "v": [8, 9]}))
    out = concat(frames, ignore_index=True)
    flat = [v for p in parts for v in p] + [None, "plain", None]
    _same(out["k"].array, pd.array(flat, dtype="string"))
    assert out["v"].tolist() == [*(i for p in parts for i in range(len(p))), 7, 8, 9]


def test_text_columns_keep_their_dictionary_type_through_parquet(tmp_path: Path) -> None:
    lists = [["decode", "layer.0"], []]
    df = pd.DataFrame({"kernel": taken(["gemm", "norm"], [1, 0, -1]),
                       "nvtx": pd.Series([lists[0], lists[1], lists[0]], dtype=object),
                       "n": pd.array([1, None, 3], dtype="Int64")})
    table = to_arrow(df)
    assert table.schema.field("kernel").type == arrow_text()
    pq.write_table(table, tmp_path / "t.parquet")
    back = pq.read_table(tmp_path / "t.parquet")
    assert back.schema.field("kernel").type == arrow_text()
    frame = back.to_pandas()
    _same(text(frame["kernel"]), pd.array(["norm", "gemm", None], dtype="string"))
    assert frame["n"].dtype == "Int64"
    cells = shared_lists(back.column("nvtx"))
    assert cells.tolist() == [lists[0], lists[1], lists[0]]
    assert cells[0] is cells[2]


def test_plain_string_parquet_reads_as_dictionaries(tmp_path: Path) -> None:
    paths = [["a", "b"], ["c"], ["z", "a"], ["a", "b"], []]
    old = pa.table({"kernel": pa.array(["gemm", None, "gemm", "norm", "gemm"], type=pa.string()),
                    "other": pa.array(["x", "y", "z", "x", "y"]), "nvtx": pa.array(paths)})
    pq.write_table(old, tmp_path / "old.parquet", row_group_size=2)  # a dictionary per group
    back = read_parquet_text(tmp_path / "old.parquet", ["kernel", "missing"], lists=["nvtx"])
    assert pa.types.is_dictionary(back.schema.field("kernel").type)
    assert pa.types.is_dictionary(back.schema.field("nvtx").type.value_type)
    assert back.schema.field("other").type == pa.string()
    _same(text(back.to_pandas()["kernel"]),
          pd.array(["gemm", None, "gemm", "norm", "gemm"], dtype="string"))
    cells = shared_lists(back.column("nvtx"))
    assert cells.tolist() == paths
    assert cells[0] is cells[3]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.integers(-2, 2), max_size=4)), max_size=40),
       st.sampled_from([pa.int64(), pa.string()]))
def test_shared_lists_hold_arrows_cells_and_share_equal_ones(
        cells: list[list[int] | None], kind: pa.DataType) -> None:
    values = [None if c is None else [str(v) if kind == pa.string() else v for v in c]
              for c in cells]
    column = pa.chunked_array([pa.array(values[:5], type=pa.list_(kind)),
                               pa.array(values[5:], type=pa.list_(kind))])
    for rows in (columns.ROWS, 3):  # one piece, and pieces of 3 rows
        with mock.patch.object(columns, "ROWS", rows):
            got = shared_lists(column)
        assert got.tolist() == [[] if v is None else v for v in values]
        for i in range(len(got)):
            for j in range(len(got)):
                assert (got[i] is got[j]) == (got[i] == got[j])


def test_cells_whose_hashes_collide_are_not_merged() -> None:
    """White-box: cells made to collide under shared_lists' hash (its weights for a column
    whose longest cell has 2 values) stay apart; equal cells are still shared."""
    w = [int(x) for x in np.random.default_rng(0).integers(1, 2**63, 4, dtype=np.uint64) | 1]
    mod = 2**64

    def signed(x: int) -> int:
        x %= mod
        return x - mod if x >= 2**63 else x

    lone = signed(-w[0] * pow(w[1], -1, mod))  # [lone] hashes as [] does
    a, b = 5, 7
    twin = [signed(a + w[2]), signed(b - w[1])]  # hashes as [a, b] does
    cells = [[a, b], [], [lone], twin, [a, b], [], [lone]]
    got = shared_lists(pa.array(cells, type=pa.list_(pa.int64())))
    assert got.tolist() == cells
    for i in range(len(got)):
        for j in range(len(got)):
            if got[i] is got[j]:
                assert got[i] == got[j]
    assert got[0] is got[4]
    assert got[1] is got[5]
