"""Learned layouts of a report's metric results: decode a record by comparison, not a walk.

A kernel of roofprof's metric set holds ~400 metric results and a ``--set full`` kernel ~2,200;
walking them one by one in Python costs ~0.3 us each. Records of one report list their metrics
in the same order and with the same sizes, except some launch metrics (grid size, kernel name,
occupancy tables) whose values, and so sizes, change from kernel to kernel.

:class:`MetricLayouts` learns from the first record walked: the entries up to the last
``launch__*`` metric form the *prefix*, walked for every record; the rest is kept as a
:class:`Layout`: every byte the walk reads (each entry's tag, length and name id, and all of a
wanted metric's entry but a double's 8 payload bytes). A record whose bytes equal the layout's
at all those positions decodes exactly as the walk would; its doubles are gathered at the
layout's offsets (one NumPy comparison and one gather). After OBSERVE records the prefix is
segmented too: the entries seen to change size, and the wanted ones, are walked; runs of the
others become layouts of their own. Any mismatch falls back to the walk, and a record that
differs where the first did not teaches the layouts again: a layout only ever saves time.
A layout is made when the next record needs it, not when its record is walked: a report of
one kernel (a ``--set full`` one holds ~2,200 metrics) makes none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Layout:
    """The bytes a walk branches on, for the metric entries after ``prefix``, relative to them."""

    length: int
    mask: np.ndarray      # uint8 per byte of the entries: 0xFF where compared, else 0
    expect: bytes         # the entries' bytes & mask
    f64_pos: np.ndarray   # offsets of double payloads of wanted metrics
    f64_slot: np.ndarray  # their slots
    other: list[tuple[int, int, int]]  # (slot, body start, body end) decoded by metric_value
    nids: frozenset[int]  # the name ids of its entries (all different)
    mask_int: int | None = None  # the mask and expected bytes as integers (short layouts)
    expect_int: int = 0


class MetricLayouts:
    """Learned layouts of the metric entries of one report's records (see the module doc)."""

    MAX = 8

    #: records whose leading entries are compared with the first before segmenting them
    OBSERVE = 4
    #: a run of unvarying leading entries shorter than this is walked rather than compared
    MIN_RUN = 8

    def __init__(self) -> None:
        self.prefix = 0
        self.reference: list[tuple[int, int]] | None = None  # (size, name id) of each entry
        self._layouts: list[Layout] = []
        #: the last record learnt from, made a layout only once another record needs it (a
        #: report of one kernel, often a ``--set full`` one, never does)
        self._pending: tuple[bytes, list[tuple[int, int, int, int]], dict[int, int],
                             int] | None = None
        #: leading entries seen to change size; the rest of the prefix is compared, not walked
        self.vary: set[int] = set()
        self.observed = 0
        self.segmented: list[int | Layout] | None = None

    @property
    def layouts(self) -> list[Layout]:
        """The layouts learnt, most recent first."""
        if self._pending is not None:
            self._layouts.insert(0, _layout(*self._pending))
            del self._layouts[self.MAX:]
            self._pending = None
        return self._layouts

    @property
    def observing(self) -> bool:
        return self.segmented is None and self.observed < self.OBSERVE

    def observe(self, entries: list[tuple[int, int, int, int]], tail: Layout, buf: bytes,
                want: dict[int, int], numeric: int) -> None:
        """A record matched ``tail`` after walking its prefix ``entries``: note which of them
        changed size; after OBSERVE records (or on a change once segmented), segment the
        prefix: runs of entries that never changed size become layouts of their own."""
        reference = self.reference or []
        if [e[3] for e in entries] != [r[1] for r in reference[:len(entries)]]:
            return
        changed = {i for i, e in enumerate(entries) if e[2] - e[0] != reference[i][0]}
        self.observed += 1
        if changed <= self.vary and self.segmented is not None:
            return
        self.vary |= changed
        if self.observed < self.OBSERVE:
            return
        # wanted metrics among them (launch configuration) are walked too: their values change
        walked = self.vary | {i for i, e in enumerate(entries) if e[3] in want}
        steps: list[int | Layout] = []
        walk = 0
        i = 0
        while i < len(entries):
            j = i
            while j < len(entries) and j not in walked:
                j += 1
            if j - i >= self.MIN_RUN:
                if walk:
                    steps.append(walk)
                steps.append(_layout(buf, entries[i:j], want, numeric))
                walk = 0
            else:
                walk += j - i
            if j < len(entries):
                walk += 1  # entry j varies: walked
            i = j + 1
        if walk:
            steps.append(walk)
        self.segmented = [*steps, tail]

    def learn(self, entries: list[tuple[int, int, int, int]], buf: bytes,
              want: dict[int, int], numeric: int, launch: set[int]) -> None:
        """Adopt a walked record: ``entries`` are (start, body start, end, name id);
        ``launch``: name ids of launch__* metrics (grid, block, registers, kernel name...),
        the ones whose sizes differ from kernel to kernel: the prefix covers them all."""
        layouts = self.layouts
        shape = [(e[2] - e[0], e[3]) for e in entries]
        if self.reference is None:
            self.reference = shape
            last = [i for i, e in enumerate(entries) if e[3] in launch]
            self.prefix = last[-1] + 1 if last else 0
        elif [s[1] for s in shape] != [s[1] for s in self.reference]:
            self.prefix = max(self.prefix, len(shape))  # another metric set: no shared layout
        else:
            differ = [i for i, (a, b) in enumerate(zip(shape, self.reference, strict=True))
                      if a[0] != b[0]]
            if differ and differ[-1] + 1 > self.prefix:
                self.prefix = differ[-1] + 1
                layouts.clear()
            self.segmented = None
            self.observed = 0
            self.vary |= {i for i in differ if i < self.prefix}

        tail = entries[self.prefix:]
        if tail:
            self._pending = (buf, tail, want, numeric)


def _layout(buf: bytes, tail: list[tuple[int, int, int, int]], want: dict[int, int],
            numeric: int) -> Layout:
    """Positions to compare: every byte of each entry up to its name id; for a wanted metric,
    every byte of the entry but a double's 8 payload bytes (those are gathered)."""
    origin = tail[0][0]
    ranges: list[int] = []  # start, end, start, end...: in order, none overlapping
    f64_pos: list[int] = []
    f64_slot: list[int] = []
    other: list[tuple[int, int, int]] = []
    for start, body, end, nid in tail:
        slot = want.get(nid)
        if slot is None and buf[body] == 0x08:
            ranges += (start, body + 1 + _varint_size(nid))
            continue
        value_at = (_scalar_double(buf, body, end)
                    if slot is not None and slot < numeric else None)
        if value_at is None:
            ranges += (start, end)
        else:
            ranges += (start, value_at, value_at + 8, end)
        if slot is None:
            continue
        if value_at is not None:
            f64_pos.append(value_at - origin)
            f64_slot.append(slot)
        else:
            other.append((slot, body - origin, end - origin))
    length = tail[-1][2] - origin
    # the mask is runs of compared and skipped bytes, alternately, from the first start on
    runs = np.diff(np.fromiter(ranges, dtype=np.int64, count=len(ranges)) - origin,
                   append=length)
    mask = np.repeat(np.tile(_COMPARED_SKIPPED, len(ranges) // 2), runs)
    region = np.frombuffer(buf, dtype=np.uint8, count=length, offset=origin)
    expect = (region & mask).tobytes()
    return Layout(
        length=length, mask=mask, expect=expect,
        f64_pos=np.fromiter(f64_pos, dtype=np.int64, count=len(f64_pos)),
        f64_slot=np.fromiter(f64_slot, dtype=np.int64, count=len(f64_slot)),
        other=other, nids=frozenset(e[3] for e in tail),
        mask_int=int.from_bytes(mask.tobytes(), "little") if length <= _SHORT else None,
        expect_int=int.from_bytes(expect, "little"),
    )


#: layouts up to this many bytes are compared as integers
_SHORT = 2048
#: the values of a mask's runs, alternately
_COMPARED_SKIPPED = np.array([0xFF, 0], dtype=np.uint8)


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def _scalar_double(buf: bytes, body: int, end: int) -> int | None:
    """Offset of the double payload if the body is ``08 id 12 09 19 <8 bytes> [...]``."""
    p = body
    if buf[p] != 0x08:
        return None
    while buf[p + 1] >= 0x80:
        p += 1
    p += 2
    if p + 11 <= end and buf[p] == 0x12 and buf[p + 1] == 0x09 and buf[p + 2] == 0x19:
        return p + 3
    return None


_OFFSETS8 = np.arange(8, dtype=np.int64)


def apply_layout(arr: np.ndarray, at: int, end: int, layout: Layout, row: np.ndarray,
                 buf: bytes = b"") -> bool:
    """Fill ``row`` from the entries at ``at`` if they match ``layout``; False if they do not.

    Short layouts are compared as Python integers (cheaper than NumPy's call overhead)."""
    if at + layout.length > end:
        return False
    if layout.mask_int is not None and buf:
        if int.from_bytes(buf[at:at + layout.length], "little") & layout.mask_int \
                != layout.expect_int:
            return False
    else:
        masked = arr[at:at + layout.length] & layout.mask
        if masked.tobytes() != layout.expect:
            return False
    if len(layout.f64_pos):
        raw = arr[(layout.f64_pos + at)[:, None] + _OFFSETS8]
        row[layout.f64_slot] = raw.view("<f8").ravel()
    return True


# ------------------------------------------------------------------------------------ NVTX
