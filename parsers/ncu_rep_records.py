"""Decode an Nsight Compute result record (one profiled kernel) into the kernel table's inputs.

A result record (``ProfileResult``; field numbers worked out from the fixtures with NVIDIA's
reader as the oracle, then checked against the definitions Nsight Compute ships) holds, among
others: 6 function name, 7 demangled name, 13 metric results (repeated; each 1 = name id into
the report's string table, 2 = value: 1 string, 2 float, 3 double, 4 uint32, 5 uint64; 3 =
per-instance values, 4 = category), 17 sections, 19 rule results, 21 NVTX state. Launch
configuration, device and context/stream ids are metrics (``launch__*``,
``device__attribute_*``), as NVIDIA's reader exposes them.

Only the metrics roofprof wants are decoded; the others are skipped by their length, and so are
sections, rule results and every other field. Damage raises
:class:`parsers.ncu_rep_wire.Damaged` with the byte offset.

Checks that make damage an error, never a silently different table: top-level fields come in
number order, each once (13, 17, 18 and 19 repeat), with the wire type the format uses, and no
other number; a metric's name id is in the string table and appears once per kernel (but the
PM sampler settings ncu writes twice, byte for byte). Layouts of repeated records
(``parsers.ncu_rep_layouts``) make the metric results fast to decode.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parsers.ncu_rep_layouts import Layout, MetricLayouts, apply_layout
from parsers.ncu_rep_wire import Damaged, fields, skip, varint

#: the fields of a result record (ProfileResult) in format version 7, number -> wire type, as
#: Nsight Compute 2025.3's extras/FileFormat/ProfilerReport.proto declares them; any other
#: number is damage (a newer layout comes with a new format version, refused before)
RESULT_WIRE = {1: 0, 2: 0, 3: 0, 4: 0, 5: 2, 6: 2, 7: 2, 8: 0, 9: 2, 10: 2, 11: 2, 12: 2, 13: 2,
               14: 0, 15: 2, 16: 0, 17: 2, 18: 2, 19: 2, 20: 0, 21: 2, 22: 0, 23: 0, 24: 2,
               25: 2, 26: 2, 27: 2, 28: 2, 29: 0, 30: 0, 31: 2, 32: 2, 33: 2, 34: 2, 35: 5}
_REPEATED = {13, 17, 18, 19}  # metric results, sections, section comments, rule results
_MISSING = object()
#: name prefixes the decoder tracks: launch metrics (their sizes vary from kernel to kernel)
#: and the profiler's settings (which ncu may write twice in one record)
_SPECIAL = ("launch__", "profiler__")
_METRIC_TAG = 0x6A  # field 13, wire type 2
_F64 = struct.Struct("<d").unpack_from
_F32 = struct.Struct("<f").unpack_from


def metric_value(buf: bytes, q: int, end: int, base: int) -> Any:
    """The value of the metric result body ``buf[q:end]``: int, float, str, or None (none).

    The usual body is ``08 id 12 n <one value field> [1a ... per-instance] [20 flags]``; it is
    decoded in place. Anything else goes through the general walk (:func:`_metric_value_any`),
    which also applies protobuf's rule that the last occurrence of a field wins.
    """
    try:
        if buf[q] != 0x08:
            return _metric_value_any(buf[q:end], base + q)
        p = q + 1
        while buf[p] >= 0x80:
            p += 1
        p += 1
        if buf[p] != 0x12 or buf[p + 1] >= 0x80:
            return _metric_value_any(buf[q:end], base + q)
        vend = p + 2 + buf[p + 1]
        tag = buf[p + 2]
        v = p + 3
        if tag == 0x19:
            value: Any = _F64(buf, v)[0]
            after = v + 8
        elif tag in (0x28, 0x20):  # uint64, uint32
            value, after = varint(buf, v)
        elif tag == 0x15:
            value = _F32(buf, v)[0]
            after = v + 4
        elif tag == 0x0A and buf[v] < 0x80:
            after = v + 1 + buf[v]
            value = buf[v + 1:after].decode("utf-8", "replace")
        else:
            return _metric_value_any(buf[q:end], base + q)
        if after != vend or vend > end:
            return _metric_value_any(buf[q:end], base + q)
        p = vend
        while p < end:  # per-instance values (3) and flags (4) may follow; another value may not
            tag = buf[p]
            if tag == 0x1A:
                n, p = varint(buf, p + 1)
                p += n
            elif tag == 0x20:
                p = skip(buf, p + 1, 0)
            else:
                return _metric_value_any(buf[q:end], base + q)
        if p != end:
            raise Damaged(base + q, "a metric result's fields overrun it")
        return value
    except (IndexError, ValueError):
        raise Damaged(base + q, "a metric result is cut short") from None


def _metric_value_any(body: bytes, base: int) -> Any:
    value: Any = None
    for f, w, a, b in fields(body, base):
        if f == 2:
            if w != 2:
                raise Damaged(base + a, f"a metric value has wire type {w}")
            sub = body[a:b]
            for vf, vw, va, vb in fields(sub, base + a):
                expected = {1: 2, 2: 5, 3: 1, 4: 0, 5: 0}.get(vf)
                if expected is None:
                    continue
                if vw != expected:
                    raise Damaged(base + a + va, f"metric value field {vf} has wire type {vw}")
                if vf == 1:
                    value = sub[va:vb].decode("utf-8", "replace")
                elif vf == 2:
                    value = _F32(sub, va)[0]
                elif vf == 3:
                    value = _F64(sub, va)[0]
                else:
                    value = varint(sub, va)[0]
        elif f in (1, 4) and w != 0:
            raise Damaged(base + a, f"metric result field {f} has wire type {w}")
    return value


def nvtx_stack(buf: bytes, base: int) -> list[str]:
    """Push/pop ranges open at the launch, outermost first; other domains as DOMAIN@name.

    NvtxState: 1 = domains (1 id, 2 name), 2 = the launching thread (1 thread id, 2 = per domain:
    1 domain id, 3 = push/pop ranges, each 1 = message). The default domain
    comes first, as ``parsers.ncu_rep_nvidia`` orders them.
    """
    names: dict[int, str] = {}
    per_domain: list[tuple[int, list[str]]] = []
    for f, w, a, b in fields(buf, base):
        if f == 1 and w == 2:
            sub = buf[a:b]
            did, name = 0, ""
            if len(sub) > 4 and sub[0] == 0x08 and sub[1] < 0x80 and sub[2] == 0x12 \
                    and sub[3] < 0x80 and 4 + sub[3] <= len(sub):
                # 1 id, 2 name, then the domain's registered strings (not needed: each range
                # carries its message)
                names[sub[1]] = sub[4:4 + sub[3]].decode("utf-8", "replace")
                continue
            for df, dw, da, db in fields(sub, base + a):
                if df == 1 and dw == 0:
                    did = varint(sub, da)[0]
                elif df == 2 and dw == 2:
                    name = sub[da:db].decode("utf-8", "replace")
            names[did] = name
        elif f == 2 and w == 2:
            thread = buf[a:b]
            for tf, tw, ta, tb in fields(thread, base + a):
                if tf == 2 and tw == 2:
                    per_domain += _thread_domains(thread[ta:tb], base + a + ta)
    default = [(d, r) for d, r in per_domain if names.get(d) == "<default domain>"]
    others = [(d, r) for d, r in per_domain if names.get(d) != "<default domain>"]
    stack: list[str] = []
    for did, ranges in default + others:
        name = names.get(did, "")
        stack += ranges if name == "<default domain>" else [f"{name}@{r}" for r in ranges]
    return stack


def _thread_domains(domain: bytes, base: int) -> list[tuple[int, list[str]]]:
    did = 0
    ranges: list[str] = []
    for f, w, a, b in fields(domain, base):
        if f == 1 and w == 0:
            did = varint(domain, a)[0]
        elif f == 3 and w == 2:
            rng = domain[a:b]
            text = ""
            for rf, rw, ra, rb in fields(rng, base + a):
                if rf == 1 and rw == 2:
                    text = rng[ra:rb].decode("utf-8", "replace")
            ranges.append(text)
    return [(did, ranges)]


# ------------------------------------------------------------------------------- a record

@dataclass(slots=True)
class Decoded:
    row: np.ndarray            # one float per wanted metric (NaN: absent)
    ident: dict[int, Any]      # identity slot -> value as the report holds it
    function: str
    demangled: str
    nvtx: list[str]
    metrics: int               # metric results the record holds (wanted or not)
    seen: set[int] = field(default_factory=set)  # metric name ids met so far
    repeats: dict[int, bytes] = field(default_factory=dict)  # first entry of repeatable ids


class ResultDecoder:
    """Decodes the result records of one report; ``slot_of`` maps each metric name wanted to
    its slot (the same for every report: the caller builds it once).

    Slots below ``numeric`` go to the float row, the rest (identity) keep their type.
    """

    def __init__(self, slot_of: Mapping[str, int], numeric: int) -> None:
        self.slot_of = slot_of
        self.numeric = numeric
        #: slots the caller reads from ``Decoded.ident``, in its order
        self.identity_slots: tuple[int, ...] = ()
        self.strings = 0
        self.want: dict[int, int] = {}
        self.layouts = MetricLayouts()
        self._nvtx: dict[bytes, list[str]] = {}
        # launch metrics and names repeat from kernel to kernel: decode each distinct body once
        self._values: dict[bytes, Any] = {}
        self._names: dict[bytes, str] = {}
        self.repeatable: set[int] = set()  # name ids a record may repeat (identical entries)
        self.launch: set[int] = set()  # name ids of launch__* metrics

    def add_strings(self, strings: list[str]) -> None:
        """A block's string table: appended to the report's (name ids count across blocks).

        A table holds 300-2,300 names, read once per report: the wanted ones are found by one
        set intersection rather than a look-up per name (names are unique in the tables ncu
        writes; a repeated one is looked up name by name, every id of it wanted)."""
        first = self.strings
        self.strings += len(strings)
        ids = dict(zip(strings, range(first, self.strings), strict=True))
        slot_of = self.slot_of
        if len(ids) == len(strings):
            for name in slot_of.keys() & ids.keys():
                self.want[ids[name]] = slot_of[name]
        else:
            for nid, name in enumerate(strings, first):
                if name in slot_of:
                    self.want[nid] = slot_of[name]
        for nid, name in enumerate(strings, first):
            if name.startswith(_SPECIAL):
                (self.launch if name.startswith("launch__") else self.repeatable).add(nid)

    def decode(self, buf: bytes, base: int, row: np.ndarray | None = None) -> Decoded:
        """Decode one result record; metric values go to ``row`` (all NaN), or a new row."""
        out = Decoded(np.full(self.numeric, np.nan) if row is None else row, {}, "", "", [], 0)
        n = len(buf)
        p = 0
        learn = True
        nvtx = b""
        last = 0
        while p < n:
            if buf[p] == _METRIC_TAG:
                if last > 13:
                    raise Damaged(base + p, f"a metric result after field {last}")
                p = self._metrics(buf, p, out, base, learn)
                learn = False
                last = 13
                continue
            try:
                key = buf[p]
                if key < 0x80:
                    q = p + 1
                elif buf[p + 1] < 0x80:
                    key = (key & 0x7F) | (buf[p + 1] << 7)
                    q = p + 2
                else:
                    key, q = varint(buf, p)
                number, wire = key >> 3, key & 7
                if wire == 2:
                    length = buf[q]
                    if length < 0x80:
                        q += 1
                    else:
                        length, q = varint(buf, q)
                    end = q + length
                else:
                    end = skip(buf, q, wire)
            except (IndexError, ValueError) as exc:
                raise Damaged(base + p, f"not a protobuf field ({exc})") from None
            # ncu writes fields in number order, each known field once (13, 17, 19 repeat):
            # a damaged tag that turns one field into another is caught here, not dropped
            if RESULT_WIRE.get(number) != wire or end > n or number < last or (
                    number == last and number not in _REPEATED):
                raise Damaged(base + p, f"field {number} (wire type {wire}) does not fit a "
                                        f"kernel record here (after field {last})")
            last = number
            if number == 6:
                out.function = self._name(buf[q:end])
            elif number == 7:
                out.demangled = self._name(buf[q:end])
            elif number == 21:
                nvtx = buf[q:end]
                nvtx_base = base + q
            p = end
        if nvtx:
            stack = self._nvtx.get(nvtx)
            if stack is None:
                stack = self._nvtx[nvtx] = nvtx_stack(nvtx, nvtx_base)
            out.nvtx = stack
        return out

    def _metrics(self, buf: bytes, start: int, out: Decoded, base: int, learn: bool) -> int:
        """Decode the run of metric results at ``start``; returns the position after it."""
        lay = self.layouts
        if learn and lay.layouts:
            arr = np.frombuffer(buf, dtype=np.uint8)
            if lay.segmented is not None:
                end = self._segments(buf, arr, start, out, base, lay.segmented)
                if end is not None:
                    return end
                out.metrics = 0
                out.seen.clear()
            observed: list[tuple[int, int, int, int]] | None = (
                [] if lay.observing or lay.segmented is not None else None)
            p = self._walk(buf, start, lay.prefix, out, base, observed)
            if out.metrics == lay.prefix and p < len(buf) and buf[p] == _METRIC_TAG:
                for layout in lay.layouts:
                    if self._apply(buf, arr, p, out, base, layout):
                        if observed is not None:
                            lay.observe(observed, layout, buf, self.want, self.numeric)
                        return p + layout.length
            out.metrics = 0
            out.seen.clear()
        entries: list[tuple[int, int, int, int]] | None = [] if learn else None
        p = self._walk(buf, start, None, out, base, entries)
        if entries:
            lay.learn(entries, buf, self.want, self.numeric, self.launch)
        return p

    def _apply(self, buf: bytes, arr: np.ndarray, p: int, out: Decoded, base: int,
               layout: Layout) -> bool:
        if not out.seen.isdisjoint(layout.nids):
            return False  # an earlier metric repeats one of the layout's: walk, and say so
        if not apply_layout(arr, p, len(buf), layout, out.row, buf):
            return False
        for slot, a, b in layout.other:
            self._store(out, slot, self._value(buf, p + a, p + b, base))
        out.metrics += len(layout.nids)
        out.seen |= layout.nids
        return True

    def _segments(self, buf: bytes, arr: np.ndarray, p: int, out: Decoded, base: int,
                  steps: list[int | Layout]) -> int | None:
        """Decode by a segmented layout: walk the entries that vary, compare the runs that do
        not; None (and nothing to trust in ``out``'s counts) at the first mismatch."""
        for step in steps:
            if isinstance(step, int):
                before = out.metrics
                p = self._walk(buf, p, step, out, base, None)
                if out.metrics - before != step:
                    return None
            else:
                if not self._apply(buf, arr, p, out, base, step):
                    return None
                p += step.length
        return p

    def _walk(self, buf: bytes, p: int, limit: int | None, out: Decoded, base: int,
              entries: list[tuple[int, int, int, int]] | None) -> int:
        n = len(buf)
        want = self.want
        count = 0
        seen = out.seen
        strings = self.strings
        repeatable = self.repeatable
        values = self._values
        numeric = self.numeric
        if limit is None:
            limit = n
        try:
            while p < n and buf[p] == _METRIC_TAG and count < limit:
                length = buf[p + 1]
                if length < 0x80:
                    q = p + 2
                else:
                    length, q = varint(buf, p + 1)
                end = q + length
                if end > n:
                    raise Damaged(base + p, "a metric result runs past the end of its kernel")
                if buf[q] == 0x08 and buf[q + 1] < 0x80:
                    nid = buf[q + 1]
                elif buf[q] == 0x08 and buf[q + 2] < 0x80:
                    nid = (buf[q + 1] & 0x7F) | (buf[q + 2] << 7)
                else:
                    nid = _name_id(buf[q:end], base + q)
                if nid >= strings:
                    raise Damaged(base + q, f"metric name id {nid:,} is not in the report's "
                                            f"string table ({strings:,} names)")
                if nid in seen:
                    # ncu 2025.3 writes the PM sampler's settings (profiler__pmsampler_*) twice
                    # in --set full reports, byte for byte; any other repeat is a damaged name
                    # id that turned one metric into another
                    if nid not in repeatable or out.repeats.get(nid) != buf[p:end]:
                        raise Damaged(base + q, f"metric name id {nid:,} appears twice in one "
                                                "kernel")
                elif nid in repeatable:
                    out.repeats[nid] = buf[p:end]
                seen.add(nid)
                slot = want.get(nid)
                if slot is not None:
                    body = buf[q:end]
                    value = values.get(body, _MISSING)
                    if value is _MISSING:
                        value = self._value(buf, q, end, base)
                    if slot >= numeric:
                        out.ident[slot] = value
                    elif value is not None and not isinstance(value, str):
                        out.row[slot] = value
                if entries is not None:
                    entries.append((p, q, end, nid))
                p = end
                count += 1
        except IndexError:
            raise Damaged(base + p, "a metric result is cut short") from None
        out.metrics += count
        return p

    def _name(self, raw: bytes) -> str:
        name = self._names.get(raw)
        if name is None:
            name = self._names[raw] = raw.decode("utf-8", "replace")
            if len(self._names) > 65536:
                self._names.clear()
        return name

    def _value(self, buf: bytes, q: int, end: int, base: int) -> Any:
        body = buf[q:end]
        if body in self._values:
            return self._values[body]
        value = metric_value(buf, q, end, base)
        if len(self._values) > 65536:
            self._values.clear()
        self._values[body] = value
        return value

    def _store(self, out: Decoded, slot: int, value: Any) -> None:
        if slot >= self.numeric:
            out.ident[slot] = value
        elif value is not None and not isinstance(value, str):
            out.row[slot] = float(value)


def _name_id(body: bytes, base: int) -> int:
    nid = None
    for f, w, a, _ in fields(body, base):
        if f == 1 and w == 0:
            nid = varint(body, a)[0]
    if nid is None:
        raise Damaged(base, "a metric result has no name id")
    return nid
