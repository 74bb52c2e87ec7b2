"""Test oracle: where in a report the bytes are values roofprof reads (not structure).

Walks a report with the wire helpers (``parsers.ncu_rep_wire``) and lists, as absolute byte
ranges, everything a flipped byte may legitimately change in the kernel table: the payload of
each metric result roofprof reads, kernel names, NVTX messages, the string table's names, the
process record. A flip anywhere else must leave the table as it was or be reported as damage.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

from parsers import ncu_rep_reader, ncu_rep_wire
from roofprof.tables.metrics import wanted_metrics


@dataclass
class Spans:
    starts: list[int] = field(default_factory=list)
    items: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, start: int, end: int, kind: str) -> None:
        self.items.append((start, end, kind))

    def freeze(self) -> Spans:
        self.items.sort()
        self.starts = [s for s, _, _ in self.items]
        return self

    def kind_at(self, offset: int) -> str | None:
        i = bisect.bisect_right(self.starts, offset)
        for start, end, kind in self.items[max(0, i - 64):i]:
            if start <= offset < end:
                return kind
        return None


def metric_entries(record: bytes) -> list[tuple[int, int, int, int]]:
    """(entry start, body start, end, name id) of each metric result, offsets in ``record``."""
    out = []
    for f, w, a, b in ncu_rep_wire.fields(record):
        if f == 13 and w == 2:
            nid = ncu_rep_wire.uint_field(record[a:b], 1)
            start = a - 1 - len(varint_bytes(b - a))
            out.append((start, a, b, -1 if nid is None else nid))
    return out


def varint_bytes(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def value_spans(path: Path) -> Spans:
    names = set(wanted_metrics()) | set(ncu_rep_reader.IDENTITY_METRICS.values())
    strings: list[str] = []
    spans = Spans()
    size = path.stat().st_size
    with open(path, "rb") as fh:
        ncu_rep_wire.read_file_header(fh, size)
        for unit in ncu_rep_wire.walk(fh, size):
            if isinstance(unit, ncu_rep_wire.Block):
                strings += unit.strings
                _block_spans(path, unit, spans)
            elif isinstance(unit, tuple) and unit[1] is not None:
                base = unit[0] + 4
                record = unit[1]
                for f, w, a, b in ncu_rep_wire.fields(record):
                    if f in (6, 7, 21) and w == 2:
                        spans.add(base + a, base + b, {6: "name", 7: "name", 21: "nvtx"}[f])
                for _, body, end, nid in metric_entries(record):
                    if 0 <= nid < len(strings) and strings[nid] in names:
                        spans.add(base + body + 1 + len(varint_bytes(nid)), base + end, "value")
    return spans.freeze()


def _block_spans(path: Path, block: ncu_rep_wire.Block, spans: Spans) -> None:
    with open(path, "rb") as fh:
        fh.seek(block.offset)
        n = int.from_bytes(fh.read(4), "little")
        header = fh.read(n)
    base = block.offset + 4
    for f, w, a, b in ncu_rep_wire.fields(header):
        if f == 4 and w == 2:
            spans.add(base + a, base + b, "metric name")
        elif f in (3, 6) and w == 2:
            spans.add(base + a, base + b, "session" if f == 3 else "process")
