"""CUDA graph replays that ``roofprof trace --graph-nodes none`` recorded at graph level.

Recording every kernel node of every replay costs a CUDA-graph decode loop 26-48% (CUPTI's
record per node); a graph-level record per replay costs it 7-16% (H100), but says only when
the replay ran (its span) and which launch call it came from (correlation id), not its kernels.
Each such replay becomes one row of the timing table: ``kernel`` "[CUDA graph N replay: nodes
not recorded]", its measured span as its duration, ``duration_from`` = ``replay`` (a kernel's
own record: ``launch``), and the annotation path of its launch. Phase, range and latency totals
stay measured; the replay's kernels, and so its roofline points, are unknown.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["DURATION_FROM", "add_replays", "replay_name"]

#: the values of the timing table's ``duration_from`` column, by code
DURATION_FROM = ("launch", "replay")


def replay_name(graph_id: int | None) -> str:
    graph = "" if graph_id is None else f" {graph_id}"
    return f"[CUDA graph{graph} replay: nodes not recorded]"


def add_replays(kernels: pd.DataFrame, graphs: pd.DataFrame, name_code: Callable[[str], int]
                ) -> pd.DataFrame:
    """``kernels`` (one process's kernel records: start, end, device_id, context_id,
    stream_id, correlation_id, grid_*, block_*, graph_id, graph_node_id, name_id) with a row
    per graph-level replay in ``graphs`` (start, end, device_id, context_id, stream_id,
    correlation_id, graph_id) appended, and ``from_code`` (index into :data:`DURATION_FROM`)
    on every row. ``name_code`` gives the code of a kernel name."""
    kernels = kernels.assign(from_code=np.int8(0))
    if not len(graphs):
        return kernels
    ids = graphs["graph_id"].to_numpy(np.int64)
    codes = {int(g): name_code(replay_name(int(g))) for g in np.unique(ids)}
    rows = pd.DataFrame({c: graphs[c].to_numpy(np.int64) for c in
                         ("start", "end", "device_id", "context_id", "stream_id",
                          "correlation_id", "graph_id")})
    rows = rows.assign(grid_x=0, grid_y=0, grid_z=0, block_x=0, block_y=0, block_z=0,
                       graph_node_id=0, name_id=[codes[int(g)] for g in ids],
                       from_code=np.int8(1))
    # one integer type (uint64 and int64 columns concatenate to float64: nanosecond
    # timestamps would lose their last digits)
    kernels = kernels.astype({c: np.int64 for c in kernels.columns if kernels[c].dtype.kind == "u"})
    return pd.concat([kernels, rows[list(kernels.columns)]], ignore_index=True)
