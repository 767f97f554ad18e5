"""Read packets from pcap and pcapng files, gzip-compressed or not.

The reader streams the file in large chunks and stops at the first structural
problem (a truncated record, an impossible length, a damaged block), keeping every
packet before it and recording one ``CaptureError`` that names the byte offset.
Offsets are counted in the uncompressed capture, which is what ``tshark`` and
``editcap`` report too.

Example:
    >>> import io
    >>> reader = CaptureReader(io.BytesIO(b"not a capture"), "x.pcap")
    >>> list(reader.packets()), str(reader.error)
    ([], 'x.pcap: byte 0: not a pcap or pcapng file')
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator
from io import BufferedIOBase
from pathlib import Path

CHUNK_BYTES = 1 << 20
"""Large reads keep the per-packet cost in parsing, not in system calls."""

MAX_PACKET_BYTES = 262_144
"""libpcap's largest snapshot length; a longer record is a corrupt length field."""

MAX_BLOCK_BYTES = 16 * 1024 * 1024
"""No pcapng block we read is near this; a larger length is corruption, not data."""

PCAP_MAGICS: dict[bytes, tuple[str, float]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER = 0x1A2B3C4D
PCAPNG_IDB, PCAPNG_EPB, PCAPNG_OPB, PCAPNG_SPB = 1, 6, 2, 3
OPTION_TSRESOL, OPTION_TSOFFSET = 9, 14
GZIP_MAGIC = b"\x1f\x8b"
RADIOTAP = 127  # the link type the first-byte filter understands

Packet = tuple[int, float, int, bytes]
"""(byte offset of the record, capture time UTC seconds, link type, link-layer bytes)."""


class CaptureError(ValueError):
    """The capture is damaged at a byte offset; the message is one line for the log."""

    def __init__(self, name: str, offset: int, reason: str) -> None:
        super().__init__(f"{name}: byte {offset}: {reason}")
        self.offset = offset
        self.reason = reason


class _Stream:
    """A chunked buffer over a binary stream that knows the absolute offset."""

    def __init__(self, raw: BufferedIOBase) -> None:
        self._raw = raw
        self.buf = b""
        self.pos = 0  # parsing position in buf
        self.base = 0  # absolute offset of buf[0]

    def need(self, count: int) -> bool:
        """Make ``count`` bytes from ``pos`` available; False at end of stream."""
        while self.pos + count > len(self.buf):
            # read1: one underlying read, so a gzip stream that ends early still hands
            # over what it decompressed before the damage.
            more = self._raw.read1(max(CHUNK_BYTES, count))
            if not more:
                return False
            self.base += self.pos
            self.buf = self.buf[self.pos :] + more
            self.pos = 0
        return True

    @property
    def offset(self) -> int:
        return self.base + self.pos

    @property
    def end(self) -> int:
        """Offset just past the bytes read so far."""
        return self.base + len(self.buf)

    @property
    def leftover(self) -> int:
        return len(self.buf) - self.pos


class CaptureReader:
    """Yields the packets of one capture stream; ``error`` says where it broke, if it did.

    Args:
        raw: the (decompressed) capture bytes.
        name: how the capture is named in error lines (its path).
        first_bytes: if given, radiotap packets whose 802.11 frame starts with another
            byte are counted in ``filtered`` and not yielded: most of the air is
            beacons and acknowledgements, and they never become Python objects.
    """

    def __init__(
        self, raw: BufferedIOBase, name: str, first_bytes: frozenset[int] | None = None
    ) -> None:
        self._stream = _Stream(raw)
        self.name = name
        self.error: CaptureError | None = None
        self.format = "unknown"
        self._wanted = first_bytes
        self.filtered = 0  # radiotap packets dropped by the first-byte filter

    @property
    def offset(self) -> int:
        """Bytes of the (uncompressed) capture parsed so far."""
        return self._stream.offset

    def _fail(self, offset: int, reason: str) -> None:
        self.error = CaptureError(self.name, offset, reason)

    def packets(self) -> Iterator[Packet]:
        s = self._stream
        try:
            if not s.need(4):
                self._fail(0, "not a pcap or pcapng file" if s.leftover else "empty file")
                return
            magic = s.buf[:4]
            if magic in PCAP_MAGICS:
                self.format = "pcap"
                yield from self._pcap(*PCAP_MAGICS[magic])
            elif struct.unpack("<I", magic)[0] == PCAPNG_SHB:
                self.format = "pcapng"
                yield from self._pcapng()
            else:
                self._fail(0, "not a pcap or pcapng file")
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            reason = "compressed stream ends early" if isinstance(e, EOFError) else "bad gzip data"
            self._fail(s.end, reason)

    def _pcap(self, order: str, scale: float) -> Iterator[Packet]:
        s = self._stream
        if not s.need(24):
            self._fail(0, "pcap file header truncated")
            return
        linktype = struct.unpack_from(order + "I", s.buf, 20)[0] & 0x0FFFFFFF
        s.pos = 24
        record = struct.Struct(order + "IIII")
        unpack = record.unpack_from
        wanted = self._wanted if linktype == RADIOTAP else None
        # The hot loop works on locals and syncs the stream only to refill or yield:
        # attribute access per record costs more than the parsing itself.
        buf, pos = s.buf, s.pos
        filtered = 0
        while True:
            if pos + 16 > len(buf):
                s.pos = pos
                if not s.need(16):
                    if s.leftover:
                        self._fail(s.offset, "packet record header truncated")
                    break
                buf, pos = s.buf, s.pos
            seconds, fraction, captured, _ = unpack(buf, pos)
            if captured > MAX_PACKET_BYTES:
                s.pos = pos
                self._fail(s.offset, f"packet length {captured} exceeds {MAX_PACKET_BYTES}")
                break
            end = pos + 16 + captured
            if end > len(buf):
                s.pos = pos
                if not s.need(16 + captured):
                    self._fail(s.offset, f"packet truncated ({captured} bytes announced)")
                    break
                buf, pos = s.buf, s.pos
                end = pos + 16 + captured
            if wanted is not None and captured >= 4:
                frame_at = pos + 16 + (buf[pos + 18] | buf[pos + 19] << 8)
                if frame_at < end and buf[frame_at] not in wanted:
                    filtered += 1
                    pos = end
                    continue
            s.pos = pos
            self.filtered = filtered
            yield s.base + pos, seconds + fraction * scale, linktype, buf[pos + 16 : end]
            pos = end
        self.filtered = filtered

    def _pcapng(self) -> Iterator[Packet]:
        s = self._stream
        order = "<"
        interfaces: list[tuple[int, float, int]] = []  # link type, seconds per unit, offset
        while True:
            if not s.need(12):
                if s.leftover:
                    self._fail(s.offset, "block header truncated")
                return
            block_type = struct.unpack_from(order + "I", s.buf, s.pos)[0]
            if block_type == PCAPNG_SHB:
                magic = s.buf[s.pos + 8 : s.pos + 12]
                order = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">"
                if struct.unpack(order + "I", magic)[0] != PCAPNG_BYTE_ORDER:
                    self._fail(s.offset, "section header has no byte-order magic")
                    return
                interfaces = []
            total = struct.unpack_from(order + "I", s.buf, s.pos + 4)[0]
            if total < 12 or total % 4 or total > MAX_BLOCK_BYTES:
                self._fail(s.offset, f"block length {total} is not a valid block length")
                return
            if not s.need(total):
                self._fail(s.offset, f"block truncated ({total} bytes announced)")
                return
            start = s.pos
            trailer = struct.unpack_from(order + "I", s.buf, start + total - 4)[0]
            if trailer != total:
                self._fail(s.offset, "block lengths at start and end differ")
                return
            body = s.buf[start + 8 : start + total - 4]
            try:
                packet = self._block(block_type, body, order, interfaces)
            except (struct.error, IndexError):
                self._fail(s.offset, f"block of type {block_type} is inconsistent")
                return
            if packet is not None:
                yield (s.base + start, *packet)
            s.pos = start + total

    def _block(
        self, block_type: int, body: bytes, order: str, interfaces: list[tuple[int, float, int]]
    ) -> tuple[float, int, bytes] | None:
        if block_type == PCAPNG_IDB:
            linktype = struct.unpack_from(order + "H", body, 0)[0]
            scale, offset = _interface_options(body[8:], order)
            interfaces.append((linktype, scale, offset))
            return None
        if block_type == PCAPNG_EPB:
            iface, high, low, captured = struct.unpack_from(order + "IIII", body, 0)
            data_at = 20
        elif block_type == PCAPNG_OPB:
            iface, _, high, low, captured = struct.unpack_from(order + "HHIII", body, 0)
            data_at = 20
        else:
            return None  # simple packets (no time), statistics, names, custom blocks
        if iface >= len(interfaces):
            raise IndexError(iface)
        if captured > MAX_PACKET_BYTES or data_at + captured > len(body):
            raise IndexError(captured)
        linktype, scale, offset = interfaces[iface]
        if self._wanted is not None and linktype == RADIOTAP and captured >= 4:
            frame_at = data_at + (body[data_at + 2] | body[data_at + 3] << 8)
            if frame_at < data_at + captured and body[frame_at] not in self._wanted:
                self.filtered += 1
                return None
        stamp = (high << 32 | low) * scale + offset
        return stamp, linktype, body[data_at : data_at + captured]


def _interface_options(options: bytes, order: str) -> tuple[float, int]:
    """Seconds per timestamp unit and the timestamp offset of an interface."""
    scale, offset, at = 1e-6, 0, 0
    while at + 4 <= len(options):
        code, length = struct.unpack_from(order + "HH", options, at)
        value = options[at + 4 : at + 4 + length]
        if code == 0:
            break
        if code == OPTION_TSRESOL and length == 1:
            exponent = value[0] & 0x7F
            scale = 2.0**-exponent if value[0] & 0x80 else 10.0**-exponent
        elif code == OPTION_TSOFFSET and length == 8:
            offset = struct.unpack(order + "q", value)[0]
        at += 4 + length + (-length % 4)
    return scale, offset


def open_capture(path: Path) -> tuple[BufferedIOBase, bool]:
    """Open a capture for reading, through gzip when its first bytes say so.

    Returns:
        The stream and whether it is compressed.

    Raises:
        OSError: the file cannot be opened.
    """
    raw = path.open("rb")
    if raw.read(2) != GZIP_MAGIC:
        raw.seek(0)
        return raw, False
    raw.close()
    return gzip.open(path, "rb"), True
