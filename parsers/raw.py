"""What a parser returns: plain columns, never roofprof's table types.

A counters format (Nsight Compute report or CSV export) reads into :class:`RawKernels`:
identity columns and one float column per Nsight Compute metric, in canonical units; loading
(``roofprof.inputs.derive.build_table``) evaluates the metric table over them into the kernel
table. A timing format (Kineto, Nsight Systems, roofprof's own tracer) reads into
:class:`RawTiming`: column arrays of the timing table's columns and each launch's annotation
stack; loading (``roofprof.inputs.timing.build``) makes the timing table of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from parsers.stacks import Stack


@dataclass
class RawKernels:
    """What a parser read: identity columns plus metric columns (canonical units)."""

    identity: pd.DataFrame
    metrics: pd.DataFrame
    #: facts about the input for the trace's metadata (ncu version, format, ...)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class RawTiming:
    """What a timing source read: one entry per kernel launch in each of ``rows`` (column
    arrays, any subset of ``roofprof.tables.timing.COLUMNS``), its annotation stack
    (``stacks``, see :mod:`parsers.stacks`) and where that came from (``nvtx_sources``, one of
    ``roofprof.tables.timing.NVTX_SOURCES``), the input (``source``), and facts about it for the
    table's metadata (``meta``; its ``timing`` entry gains ``launches`` and ``nvtx_source``
    counts when the table is built)."""

    rows: dict[str, Any]
    stacks: Sequence[Stack]
    nvtx_sources: Sequence[str]
    source: str
    meta: dict[str, Any] = field(default_factory=dict)
