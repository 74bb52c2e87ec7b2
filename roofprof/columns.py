"""String columns of big tables, made once per distinct value.

A pandas ``string`` column built from a million Python strings converts each one; a run's
million launches hold a few hundred kernel names, grids and paths. :func:`taken` makes the column
from the distinct values and each row's code (one Arrow ``take``), :func:`strings` from any
values by coding them first. Both give what ``pd.array(values, dtype="string")`` gives: the same
values, nulls (None, NaN, NA) and Arrow type (an array already of that dtype is returned as it
is, not copied).
"""

from __future__ import annotations

from typing import Any

#: rows per Arrow take: one take of a million long strings grows its buffer by doubling (twice
#: the column's size at its peak); pieces of this many rows are sized nearly exactly
PIECE = 1 << 18


def take(array: Any, indices: Any) -> Any:
    """``array.take(indices, allow_fill=True)`` (-1: null); a ``string`` column in pieces."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    indices = np.asarray(indices, dtype=np.int64)
    if not (isinstance(array.dtype, pd.StringDtype) and array.dtype.storage == "pyarrow") or \
            len(indices) <= PIECE:
        return array.take(indices, allow_fill=True)
    pieces = [array.take(indices[i:i + PIECE], allow_fill=True).__arrow_array__()
              for i in range(0, len(indices), PIECE)]
    chunks = pa.chunked_array([c for p in pieces for c in p.chunks], type=pieces[0].type)
    return type(array)(chunks)


def taken(distinct: Any, codes: Any) -> Any:
    """The ``string`` column whose row i is ``distinct[codes[i]]`` (null where the code is -1)."""
    import pandas as pd

    return take(pd.array(list(distinct), dtype="string"), codes)


def strings(values: Any) -> Any:
    """``pd.array(values, dtype="string")``, converting each distinct value once."""
    import pandas as pd

    if isinstance(getattr(values, "dtype", None), pd.StringDtype):  # already strings
        if isinstance(values, pd.api.extensions.ExtensionArray) and \
                values.dtype == pd.StringDtype():
            return values  # a column of the dtype asked for (``taken``'s): no copy
        return pd.array(values, dtype="string")
    codes, distinct = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    if not all(type(v) is str for v in distinct):  # others convert by their own rules
        return pd.array(values, dtype="string")
    return taken(distinct, codes)
