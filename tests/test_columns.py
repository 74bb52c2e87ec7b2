"""String columns made once per distinct value are what pandas makes from every value."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from roofprof.columns import PIECE, strings, take, taken

_VALUES = st.one_of(st.sampled_from(["gemm", "", "a/b", "é", "x" * 300]), st.text(max_size=4),
                    st.sampled_from([None, math.nan, pd.NA]), st.integers(-3, 3))


def _same(got: object, want: pd.api.extensions.ExtensionArray) -> None:
    assert isinstance(got, type(want))
    assert got.dtype == want.dtype
    pd.testing.assert_extension_array_equal(got, want)
    assert got._pa_array.type == want._pa_array.type  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, max_size=30), st.sampled_from(["list", "object", "series"]))
def test_strings_equal_pandas_from_every_value(values: list[object], kind: str) -> None:
    given_values: object = values if kind == "list" else \
        np.asarray(values, dtype=object) if kind == "object" else pd.Series(values, dtype=object)
    _same(strings(given_values), pd.array(values, dtype="string"))


def test_taken_fills_null_for_code_minus_one() -> None:
    got = taken(["a", "b"], np.asarray([1, -1, 0, 1]))
    _same(got, pd.array(["b", None, "a", "b"], dtype="string"))
    _same(taken([], np.full(3, -1)), pd.array([None] * 3, dtype="string"))
    _same(strings(pd.Series(["a", None], dtype="str")), pd.array(["a", None], dtype="string"))


def test_a_long_column_is_taken_in_pieces_with_the_same_values() -> None:
    codes = np.random.default_rng(1).integers(-1, 4, PIECE * 2 + 7)
    distinct = np.asarray(["gemm", "x" * 300, "", "attention", None], dtype=object)
    got = taken(distinct[:4], codes)
    _same(got, pd.array(distinct[codes], dtype="string"))  # code -1: the last, None
    assert got.__arrow_array__().num_chunks == 3  # type: ignore[attr-defined]
    order = np.random.default_rng(2).permutation(len(codes))
    _same(take(got, order), pd.array(distinct[codes][order], dtype="string"))
