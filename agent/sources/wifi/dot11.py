"""802.11 frames behind radiotap: keep probe requests and client-to-AP data, skip the rest.

A phone reveals itself by probe requests (management subtype 4) and, once
associated, by data and null-data frames it sends to its access point (To-DS set,
From-DS clear). Everything else (beacons, acknowledgements, the access point's own
traffic) is skipped after reading one byte. The transmitter address is the second
address field in both cases; the sequence number sits in bits 4-15 of the sequence
control field at byte 22.

Example:
    >>> from agent.sources.wifi.synth import radiotap_frame, probe_request
    >>> raw = radiotap_frame(probe_request(bytes.fromhex("02aabbccddee"), seq=7), signal=-50)
    >>> frame = Decoder().decode(raw)
    >>> frame.kind, frame.rssi, frame.seq
    ('probe', -50, 7)
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.observations import SightingKind
from agent.sources.wifi.radiotap import (
    FLAG_BAD_FCS,
    FLAG_FCS_AT_END,
    Layout,
    LayoutCache,
    RadiotapError,
    channel_number,
)

LINKTYPE_IEEE802_11_RADIOTAP = 127
"""The only link type that carries the signal strength we need (pcap, pcapng, AF_PACKET)."""

MIN_RADIOTAP = 8  # version, pad, length, one presence bitmap
HEADER_802_11 = 24  # frame control .. sequence control: all we read of a frame
FCS_LEN = 4

# First frame-control byte (protocol version 0): subtype << 4 | type << 2.
PROBE_REQUEST = 0x40
DATA_FRAMES = frozenset({0x08, 0x48, 0x88, 0xC8})  # data, null, QoS data, QoS null
WANTED_FIRST_BYTES = DATA_FRAMES | {PROBE_REQUEST}
"""Frames whose first byte is not one of these are skipped before any parsing."""
TO_DS_ONLY = 0x01  # second frame-control byte, DS bits: to the AP, not from it
DS_BITS = 0x03
GROUP_BIT = 0x01  # first octet of a MAC: multicast or broadcast
LOCAL_BIT = 0x02  # first octet of a MAC: locally administered (randomised)


class MalformedFrame(ValueError):
    """A frame that cannot be parsed; the message is the reason, never its bytes."""


@dataclass(slots=True)  # not frozen: a frozen init costs a microsecond per frame
class Frame:
    """The parts of one frame a sighting needs; ``address`` is the raw transmitter MAC.

    The address must be hashed before anything leaves the source; only the
    parsers, the anonymiser and the tshark cross-check test ever see it.
    """

    kind: SightingKind
    address: bytes
    seq: int
    rssi: int | None
    channel: int | None


class Decoder:
    """Parses radiotap 802.11 frames and counts why frames were not kept.

    Counters: ``skipped`` (other frame types), ``group`` (multicast/broadcast
    transmitter), ``bad_fcs`` (the driver flagged a checksum failure).
    """

    def __init__(self) -> None:
        self._layouts = LayoutCache()
        # Layouts without a vendor namespace, by their presence bitmaps (which alone
        # decide them); the validating LayoutCache is only asked on a miss.
        self._by_bitmaps: dict[bytes, Layout] = {}
        self.skipped = 0
        self.group = 0
        self.bad_fcs = 0

    def decode(self, raw: bytes) -> Frame | None:
        """The frame's sighting fields, or None for a frame we do not need.

        Raises:
            MalformedFrame: truncated or inconsistent radiotap or 802.11 header.
        """
        size = len(raw)
        if size < MIN_RADIOTAP:
            raise MalformedFrame(f"{size} bytes is shorter than a radiotap header")
        if raw[0] != 0:
            raise MalformedFrame(f"radiotap version {raw[0]} is not 0")
        length = raw[2] | raw[3] << 8
        if length < MIN_RADIOTAP or length > size:
            raise MalformedFrame(f"radiotap length {length} outside 8..{size}")
        if length == size:
            raise MalformedFrame("radiotap header with no 802.11 frame")
        first = raw[length]
        if first != PROBE_REQUEST:
            if first not in DATA_FRAMES:
                self.skipped += 1
                return None
            if length + 2 > size:
                raise MalformedFrame("802.11 header truncated at 1 bytes")
            if raw[length + 1] & DS_BITS != TO_DS_ONLY:
                self.skipped += 1
                return None
        # Fast path: the presence bitmaps name a cached layout (nearly every frame).
        bitmaps_end = 8
        while raw[bitmaps_end - 1] >= 0x80 and bitmaps_end + 4 <= length:
            bitmaps_end += 4
        bitmaps = raw[4:bitmaps_end]
        cached = self._by_bitmaps.get(bitmaps)
        if cached is not None and cached.need <= length:
            layout = cached
        else:
            try:
                layout = self._layouts.get(raw, length)
            except RadiotapError as e:
                raise MalformedFrame(str(e)) from None
            if not layout.vendor and len(self._by_bitmaps) < LayoutCache.MAX_ENTRIES:
                self._by_bitmaps[bitmaps] = layout
        flags = raw[layout.flags] if layout.flags >= 0 else 0
        end = size - FCS_LEN if flags & FLAG_FCS_AT_END else size
        if length + HEADER_802_11 > end:
            raise MalformedFrame(f"802.11 header truncated at {end - length} bytes")
        if flags & FLAG_BAD_FCS:
            self.bad_fcs += 1
            return None
        address = raw[length + 10 : length + 16]
        if address[0] & GROUP_BIT:
            self.group += 1
            return None
        rssi: int | None = None
        if layout.signal >= 0:
            rssi = raw[layout.signal]
            if rssi > 127:
                rssi -= 256  # a signed byte
        channel: int | None = None
        if layout.channel >= 0:
            channel = channel_number(raw[layout.channel] | raw[layout.channel + 1] << 8)
        elif layout.xchannel >= 0:
            channel = raw[layout.xchannel + 6] or None
        return Frame(
            kind="probe" if first == PROBE_REQUEST else "data",
            address=address,
            seq=(raw[length + 22] | raw[length + 23] << 8) >> 4,
            rssi=rssi,
            channel=channel,
        )


def is_randomised(address: bytes) -> bool:
    """A locally administered address: what phones use as a privacy MAC."""
    return bool(address[0] & LOCAL_BIT)
