"""The framing of an Nsight Compute report and the protobuf wire format, read by hand.

A report (``.ncu-rep``) is, as written by Nsight Compute 2025.3 (file format version 7)::

    b"NVR\\0"  u32 n  FileHeader[n]                          (FileHeader: 1 = format version)
    then blocks, to the end of the file:
        u32 n  BlockHeader[n]                                 (1 = sources, 2 = results,
                                                               3 = session details,
                                                               4 = string table, 5 = payload
                                                               size, 6 = process, 7-9 = range,
                                                               command-list, graph results)
        payload: (sources + results) entries of  u32 n  message[n], sources first

All integers are little-endian; messages are protobuf (proto2) messages. The field numbers were
worked out from the bundled fixtures with NVIDIA's own reader as the oracle, then checked against
the message definitions Nsight Compute 2025.3 ships in ``extras/FileFormat`` (which carry no
licence of their own: they are neither copied nor compiled here, only their field numbers used).
Blocks with range, command-list or graph results (range replay, graph profiling) are refused
(:class:`Unsupported`): this reader decodes kernel results only.

:func:`walk` checks every length against what follows (a block's entries must fill its payload
exactly) and yields the units one at a time, so a report is read
in memory proportional to its largest record, never to the file.

A report that ends inside a unit (a killed ncu, a full disk) is *cut*: every complete result
before the cut is still yielded, then :class:`Cut` says what was lost. Any other inconsistency is
*damage*: a :class:`Damaged` error naming the byte offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

MAGIC = b"NVR\x00"

#: FileHeader.Version values this reader has been checked against, with the ncu that wrote them
KNOWN_VERSIONS = {7: "Nsight Compute 2025.3"}

#: a single record above this is not believed (the largest seen, a --set full kernel, is ~1 MB)
MAX_UNIT = 1 << 31


class Damaged(Exception):
    """The bytes at ``offset`` do not follow the format."""

    def __init__(self, offset: int, what: str) -> None:
        super().__init__(f"byte {offset:,}: {what}")
        self.offset = offset
        self.what = what


class Unsupported(Damaged):
    """Valid, but a kind of content this reader does not decode."""


class UnknownVersion(Exception):
    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


@dataclass
class Cut:
    """Where a cut report ends and what the last, incomplete block promised."""

    offset: int          # start of the first incomplete unit
    size: int            # the file's size
    missing_bytes: int   # bytes the incomplete unit (block or entry) still needed
    #: results the incomplete block's header announced but that are not complete (None: unknown)
    lost_results: int | None


@dataclass
class Block:
    offset: int
    num_sources: int = 0
    num_results: int = 0
    payload_size: int = 0
    session: bytes = b""
    strings: list[str] = field(default_factory=list)
    process: bytes = b""
    #: range, command-list and graph results (not kernel launches; not decoded)
    num_other: int = 0


# ------------------------------------------------------------------------------- wire format

def varint(buf: bytes, p: int) -> tuple[int, int]:
    """Decode the varint at ``p``; returns (value, position after it). IndexError past the end."""
    b = buf[p]
    if b < 0x80:
        return b, p + 1
    value = b & 0x7F
    shift = 7
    p += 1
    while True:
        b = buf[p]
        p += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, p
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def skip(buf: bytes, p: int, wire: int) -> int:
    """Position after a field's value of wire type ``wire`` starting at ``p``."""
    if wire == 0:
        while buf[p] >= 0x80:
            p += 1
        return p + 1
    if wire == 2:
        n, p = varint(buf, p)
        return p + n
    if wire == 1:
        return p + 8
    if wire == 5:
        return p + 4
    raise ValueError(f"wire type {wire} (groups and unknown types never appear in reports)")


def fields(buf: bytes, base: int = 0) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value start, value end) of each field of a message.

    For length-delimited fields the value is the payload (after the length). Raises
    :class:`Damaged` (offsets shifted by ``base``) where the bytes are not a message.
    """
    n = len(buf)
    p = 0
    while p < n:
        start = p
        try:
            key, p = varint(buf, p)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise ValueError("field number 0")
            if wire == 2:
                length, p = varint(buf, p)
                end = p + length
            else:
                end = skip(buf, p, wire)
        except (IndexError, ValueError) as exc:
            raise Damaged(base + start, f"not a protobuf field ({exc})") from None
        if end > n:
            raise Damaged(base + start, f"field {number} runs {end - n:,} bytes past its message")
        yield number, wire, p, end
        p = end


def strings_of(buf: bytes, number: int, base: int = 0) -> list[str]:
    return [buf[a:b].decode("utf-8", "replace") for f, w, a, b in fields(buf, base)
            if f == number and w == 2]


def string_table(buf: bytes, base: int = 0) -> list[str]:
    """The names of a block's string table (repeated field 1): :func:`strings_of`'s result.

    A report's table holds hundreds to thousands of metric names, read once per report: the
    usual layout (each entry ``0a len name``) is read in one tight loop; anything else (another
    field, a length past the end) goes through the general walk, which names the damage."""
    out: list[str] = []
    n = len(buf)
    p = 0
    try:
        while p < n:
            if buf[p] != 0x0A:
                return strings_of(buf, 1, base)
            length = buf[p + 1]
            if length < 0x80:
                p += 2
            else:
                length, p = varint(buf, p + 1)
            end = p + length
            if end > n:
                return strings_of(buf, 1, base)
            out.append(buf[p:end].decode("utf-8", "replace"))
            p = end
    except (IndexError, ValueError):
        return strings_of(buf, 1, base)
    return out


def uint_field(buf: bytes, number: int, base: int = 0) -> int | None:
    """The last varint field ``number`` of a message (protobuf: the last one wins)."""
    value = None
    for f, w, a, _ in fields(buf, base):
        if f == number and w == 0:
            value = varint(buf, a)[0]
    return value


# ------------------------------------------------------------------------------- framing

def _u32(fh: BinaryIO) -> int | None:
    raw = fh.read(4)
    return int.from_bytes(raw, "little") if len(raw) == 4 else None


def read_file_header(fh: BinaryIO, size: int) -> int:
    """Check the magic and the file header; returns the format version (position after it)."""
    if fh.read(4) != MAGIC:
        raise Damaged(0, "the file does not start like an Nsight Compute report (NVR\\0)")
    n = _u32(fh)
    if n is None or n > 64 or 8 + n > size:
        raise Damaged(4, "the file header is cut or damaged")
    header = fh.read(n)
    version = uint_field(header, 1, 8)
    if version is None:
        raise Damaged(8, "the file header holds no format version")
    if version not in KNOWN_VERSIONS:
        raise UnknownVersion(version)
    return version


def parse_block_header(buf: bytes, offset: int) -> Block:
    block = Block(offset=offset)
    base = offset + 4
    last = 0
    for f, w, a, b in fields(buf, base):
        # fields come once each, in number order: a damaged tag is caught, not skipped
        if f <= last or _BLOCK_WIRE.get(f) != w:
            raise Damaged(base + a, f"block header field {f} (wire type {w}) does not fit here "
                                    f"(after field {last})")
        last = f
        if f in (1, 2, 5, 7, 8, 9):
            value = varint(buf, a)[0]
            if f == 1:
                block.num_sources = value
            elif f == 2:
                block.num_results = value
            elif f == 5:
                block.payload_size = value
            else:
                block.num_other += value
        elif f == 3:
            block.session = buf[a:b]
        elif f == 4:
            block.strings = string_table(buf[a:b], base + a)
        elif f == 6:
            block.process = buf[a:b]
    return block


#: BlockHeader fields (number -> wire type): sources, results, session, strings, payload, process,
#: then range, command-list and graph results (range replay, graph profiling)
_BLOCK_WIRE = {1: 0, 2: 0, 3: 2, 4: 2, 5: 0, 6: 2, 7: 0, 8: 0, 9: 0}


def walk(fh: BinaryIO, size: int) -> Iterator[Block | tuple[int, bytes | None] | Cut]:
    """Yield each block (its parsed header), then its entries as (offset, message or None).

    Sources (embedded binaries and source files) are skipped with a seek and yielded as None.
    A cut report ends with a :class:`Cut`; damage raises :class:`Damaged`.
    """
    pos = fh.tell()
    while pos < size:
        hlen = _u32(fh)
        if hlen is None or pos + 4 + hlen > size:
            yield Cut(pos, size, (4 + (hlen or 0)) - (size - pos), None)
            return
        if hlen > MAX_UNIT:
            raise Damaged(pos, f"a block header of {hlen:,} bytes")
        block = parse_block_header(fh.read(hlen), pos)
        if block.num_other:
            raise Unsupported(pos, f"a block holds {block.num_other} range, command-list or "
                                   "graph result(s) (range replay or graph profiling)")
        payload_start = pos + 4 + hlen
        payload_end = payload_start + block.payload_size
        entries = block.num_sources + block.num_results
        if block.payload_size < 4 * entries:
            raise Damaged(pos, f"a block header announces {entries:,} entries in a payload of "
                               f"{block.payload_size:,} bytes")
        yield block
        if not block.num_sources and payload_end <= size:
            # results only, all in the file: one read for the whole payload
            payload = fh.read(block.payload_size)
            q = 0
            for _ in range(entries):
                m = int.from_bytes(payload[q:q + 4], "little")
                if q + 4 + m > block.payload_size:
                    raise Damaged(payload_start + q, f"an entry of {m:,} bytes runs past the end "
                                                     f"of its block (byte {payload_end:,})")
                yield payload_start + q, payload[q + 4:q + 4 + m]
                q += 4 + m
            if q != block.payload_size:
                raise Damaged(payload_start + q, f"the block's entries end at byte "
                                                 f"{payload_start + q:,} but its header says "
                                                 f"{payload_end:,}")
            pos = payload_end
            continue
        p = payload_start
        for i in range(entries):
            n = _u32(fh)
            if n is None or p + 4 + n > size:
                if payload_end <= size:  # the block claims to end in the file: not a cut
                    raise Damaged(p, "an entry runs past the end of its block")
                done = max(0, i - block.num_sources)
                yield Cut(p, size, p + 4 + (n or 0) - size, block.num_results - done)
                return
            if p + 4 + n > payload_end:
                raise Damaged(p, f"an entry of {n:,} bytes runs past the end of its block "
                                 f"(byte {payload_end:,})")
            if i < block.num_sources:
                fh.seek(n, 1)
                yield p, None
            else:
                yield p, fh.read(n)
            p += 4 + n
        if p != payload_end:
            if payload_end > size:
                yield Cut(p, size, payload_end - size, 0)
                return
            raise Damaged(p, f"the block's entries end at byte {p:,} but its header says "
                             f"{payload_end:,}")
        pos = p
