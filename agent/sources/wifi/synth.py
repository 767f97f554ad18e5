"""Write real radiotap 802.11 frames and pcap / pcapng captures.

For tests, benchmarks and the simulator: the bytes follow the radiotap, IEEE 802.11,
pcap and pcapng specifications, so ``tshark`` reads them like a driver's capture.
Several driver shapes are offered (one bitmap; per-antenna namespaces as ath9k and
iwlwifi emit; a vendor namespace; FCS appended), because real captures differ.

Example:
    >>> frame = radiotap_frame(probe_request(bytes.fromhex("02aabbccddee"), seq=1))
    >>> frame[:2]
    b'\\x00\\x00'
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterable, Sequence
from io import BufferedIOBase
from pathlib import Path
from typing import Literal

BROADCAST = b"\xff" * 6
DriverShape = Literal["minimal", "multi-antenna", "vendor", "fcs"]
DRIVER_SHAPES: tuple[DriverShape, ...] = ("minimal", "multi-antenna", "vendor", "fcs")

# Radiotap presence bits used here (see radiotap.FIELD_SHAPES for all of them).
_TSFT, _FLAGS, _RATE, _CHANNEL, _SIGNAL, _ANTENNA, _RX_FLAGS, _MCS = 0, 1, 2, 3, 5, 11, 14, 19
_ALIGN = {
    _TSFT: 8,
    _FLAGS: 1,
    _RATE: 1,
    _CHANNEL: 2,
    _SIGNAL: 1,
    _ANTENNA: 1,
    _RX_FLAGS: 2,
    _MCS: 1,
}
_NS_RADIOTAP, _NS_VENDOR, _EXT = 1 << 29, 1 << 30, 1 << 31
_CHANNEL_FLAGS_2GHZ_OFDM = 0x00C0
_CHANNEL_FLAGS_5GHZ_OFDM = 0x0140
_VENDOR_OUI = b"\x00\x11\x22"  # any OUI: parsers must skip the data by its length


def _channel_field(frequency: int) -> bytes:
    flags = _CHANNEL_FLAGS_2GHZ_OFDM if frequency < 3000 else _CHANNEL_FLAGS_5GHZ_OFDM
    return struct.pack("<HH", frequency, flags)


def _namespaces_bytes(
    namespaces: Sequence[dict[int, bytes] | bytes],
) -> tuple[list[int], bytes]:
    """Presence words and field data; a ``bytes`` namespace is vendor data."""
    words: list[int] = []
    data = bytearray()
    base = 4 + 4 * len(namespaces)  # header start to the first field

    def pad(alignment: int) -> None:
        while (base + len(data)) % alignment:
            data.append(0)

    for index, namespace in enumerate(namespaces):
        following = namespaces[index + 1] if index + 1 < len(namespaces) else None
        if isinstance(namespace, bytes):
            word = 0x1  # vendor bits are the vendor's business: any will do
            data.extend(namespace)
        else:
            word = 0
            for bit in sorted(namespace):
                word |= 1 << bit
                pad(_ALIGN[bit])
                data.extend(namespace[bit])
        if isinstance(following, bytes):
            word |= _NS_VENDOR | _EXT
            pad(2)
            data.extend(_VENDOR_OUI + b"\x00" + struct.pack("<H", len(following)))
        elif following is not None:
            word |= _NS_RADIOTAP | _EXT
        words.append(word)
    return words, bytes(data)


def radiotap_frame(
    frame: bytes,
    *,
    signal: int | None = -60,
    frequency: int | None = 2437,
    shape: DriverShape = "minimal",
    bad_fcs: bool = False,
) -> bytes:
    """``frame`` (an 802.11 frame without FCS) behind a radiotap header."""
    flags = 0x00
    trailer = b""
    if shape == "fcs" or bad_fcs:
        flags |= 0x10
        checksum = zlib.crc32(frame) ^ (0xFFFFFFFF if bad_fcs else 0)
        trailer = struct.pack("<I", checksum)
    if bad_fcs:
        flags |= 0x40
    first: dict[int, bytes] = {_FLAGS: bytes([flags])}
    if frequency is not None:
        first[_CHANNEL] = _channel_field(frequency)
    if signal is not None:
        first[_SIGNAL] = struct.pack("<b", signal)
    namespaces: list[dict[int, bytes] | bytes] = [first]
    if shape == "multi-antenna":
        # As ath9k/iwlwifi: TSFT, rate, RX flags, then one namespace per chain.
        first.update({_TSFT: struct.pack("<Q", 123456789), _RATE: b"\x02", _RX_FLAGS: b"\x00\x00"})
        for chain in range(2):
            antenna: dict[int, bytes] = {_ANTENNA: bytes([chain])}
            if signal is not None:
                antenna[_SIGNAL] = struct.pack("<b", max(-128, signal - 1 - chain))
            namespaces.append(antenna)
    elif shape == "vendor":
        first[_MCS] = b"\x07\x00\x07"
        namespaces.append(b"\xde\xad\xbe")  # odd length on purpose: realigns what follows
        namespaces.append({_ANTENNA: b"\x01", _RX_FLAGS: b"\x00\x00"})
    words, data = _namespaces_bytes(namespaces)
    length = 4 + 4 * len(words) + len(data)
    header = struct.pack("<BBH", 0, 0, length) + b"".join(struct.pack("<I", w) for w in words)
    return header + data + frame + trailer


def _seq_control(seq: int) -> bytes:
    return struct.pack("<H", (seq & 0xFFF) << 4)


def probe_request(address: bytes, seq: int, ssid: bytes = b"") -> bytes:
    """A probe request from ``address`` (wildcard SSID unless given)."""
    header = b"\x40\x00\x00\x00" + BROADCAST + address + BROADCAST + _seq_control(seq)
    rates = b"\x01\x08\x02\x04\x0b\x16\x0c\x12\x18\x24"
    return header + b"\x00" + bytes([len(ssid)]) + ssid + rates


def data_frame(
    address: bytes,
    bssid: bytes,
    seq: int,
    subtype: Literal["data", "null", "qos-data", "qos-null"] = "null",
    to_ap: bool = True,
) -> bytes:
    """A data or null frame; ``to_ap`` False makes it the access point's, to a client."""
    first = {"data": 0x08, "null": 0x48, "qos-data": 0x88, "qos-null": 0xC8}[subtype]
    protected = 0x40 if subtype in ("data", "qos-data") else 0
    if to_ap:
        second, a1, a2, a3 = 0x01, bssid, address, BROADCAST
    else:
        second, a1, a2, a3 = 0x02, address, bssid, bssid
    header = bytes([first, second | protected]) + b"\x00\x00" + a1 + a2 + a3 + _seq_control(seq)
    if subtype.startswith("qos"):
        header += b"\x00\x00"
    if protected:
        # CCMP header then ciphertext: tshark stops at the protected flag.
        return header + b"\x01\x00\x00\x20\x00\x00\x00\x00" + bytes(range(24)) + b"\x00" * 8
    return header


def beacon(bssid: bytes, seq: int, ssid: bytes = b"store-guest") -> bytes:
    header = b"\x80\x00\x00\x00" + BROADCAST + bssid + bssid + _seq_control(seq)
    fixed = struct.pack("<QHH", 0, 100, 0x0401)
    return header + fixed + b"\x00" + bytes([len(ssid)]) + ssid + b"\x01\x01\x82"


def ack(receiver: bytes) -> bytes:
    return b"\xd4\x00\x00\x00" + receiver


Packet = tuple[float, bytes]
"""(capture time in UTC seconds, link-layer bytes)."""

LINKTYPE_RADIOTAP = 127


def _open(path: Path) -> BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "wb", compresslevel=1)
    return path.open("wb")


def write_pcap(
    path: Path,
    packets: Iterable[Packet],
    *,
    nanoseconds: bool = False,
    big_endian: bool = False,
    linktype: int = LINKTYPE_RADIOTAP,
) -> list[int]:
    """Write a classic pcap file (gzip when ``path`` ends in .gz).

    Returns:
        The byte offset of each packet record (in the uncompressed file).
    """
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    scale = 1_000_000_000 if nanoseconds else 1_000_000
    offsets: list[int] = []
    position = 24
    with _open(path) as out:
        out.write(struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype))
        record = struct.Struct(order + "IIII")
        for t, data in packets:
            seconds = int(t)
            fraction = round((t - seconds) * scale)
            out.write(record.pack(seconds, fraction, len(data), len(data)))
            out.write(data)
            offsets.append(position)
            position += 16 + len(data)
    return offsets


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def write_pcapng(
    path: Path,
    packets: Iterable[Packet],
    *,
    tsresol: int = 6,
    linktype: int = LINKTYPE_RADIOTAP,
    extra_blocks: bool = True,
) -> list[int]:
    """Write a pcapng file: section header, interface, enhanced packet blocks.

    ``tsresol`` is the if_tsresol option byte (6 = microseconds, 9 = nanoseconds,
    0x80 | n = 2^-n). ``extra_blocks`` adds a name-resolution block and a custom
    option, which readers must skip. Returns each packet block's byte offset.
    """
    units = float(2 ** (tsresol & 0x7F)) if tsresol & 0x80 else float(10**tsresol)
    end_of_options = b"\x00\x00\x00\x00"
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _option(4, b"edge-agent synth")
    idb = struct.pack("<HHI", linktype, 0, 65535) + _option(2, b"mon0")
    idb += _option(9, bytes([tsresol])) + end_of_options
    head = _block(0x0A0D0D0A, shb + end_of_options) + _block(1, idb)
    if extra_blocks:
        head += _block(4, b"\x00\x00\x00\x00")  # an empty name-resolution block
    offsets: list[int] = []
    position = len(head)
    with _open(path) as out:
        out.write(head)
        for t, data in packets:
            stamp = round(t * units)
            body = struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, len(data), len(data))
            body += data + b"\x00" * (-len(data) % 4)
            if extra_blocks:
                body += _option(1, b"synth") + end_of_options
            block = _block(6, body)
            out.write(block)
            offsets.append(position)
            position += len(block)
    return offsets
