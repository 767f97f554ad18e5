"""Radiotap headers: where the signal, channel and flags fields sit.

A radiotap header (https://www.radiotap.org) is ``version, pad, length`` and one or
more 32-bit presence bitmaps; each set bit adds a field, aligned to its natural
size counted from the start of the header. Where a field sits therefore depends
only on the presence bitmaps, so the offsets are computed once per distinct bitmap
and cached (a capture from one driver has two or three distinct bitmaps). Vendor
namespaces carry their own length inside the data, so those layouts are computed
per frame and never cached.

Example:
    >>> layouts = LayoutCache()
    >>> header = bytes([0, 0, 10, 0, 0x22, 0, 0, 0, 0x10, 0xC4])  # flags + dBm signal
    >>> layout = layouts.get(header, 10)
    >>> layout.flags, layout.signal
    (8, 9)
"""

from __future__ import annotations

from dataclasses import dataclass

# (alignment, size) of the radiotap-namespace fields, by presence bit 0..27.
FIELD_SHAPES: tuple[tuple[int, int], ...] = (
    (8, 8),  # 0 TSFT
    (1, 1),  # 1 flags
    (1, 1),  # 2 rate
    (2, 4),  # 3 channel: frequency, flags
    (1, 2),  # 4 FHSS
    (1, 1),  # 5 antenna signal, dBm
    (1, 1),  # 6 antenna noise, dBm
    (2, 2),  # 7 lock quality
    (2, 2),  # 8 TX attenuation
    (2, 2),  # 9 dB TX attenuation
    (1, 1),  # 10 dBm TX power
    (1, 1),  # 11 antenna index
    (1, 1),  # 12 antenna signal, dB
    (1, 1),  # 13 antenna noise, dB
    (2, 2),  # 14 RX flags
    (2, 2),  # 15 TX flags
    (1, 1),  # 16 RTS retries
    (1, 1),  # 17 data retries
    (4, 8),  # 18 XChannel: flags, frequency, channel, max power
    (1, 3),  # 19 MCS
    (4, 8),  # 20 A-MPDU status
    (2, 12),  # 21 VHT
    (8, 12),  # 22 timestamp
    (2, 12),  # 23 HE
    (2, 12),  # 24 HE-MU
    (2, 6),  # 25 HE-MU other user
    (1, 1),  # 26 zero-length PSDU
    (2, 4),  # 27 L-SIG
)
BIT_FLAGS = 1
BIT_CHANNEL = 3
BIT_SIGNAL = 5
BIT_XCHANNEL = 18
BIT_TLV = 28  # radiotap v1 TLV list: the fixed-layout fields end here
BIT_RADIOTAP_NS = 29
BIT_VENDOR_NS = 30
BIT_EXT = 31
VENDOR_NS_SHAPE = (2, 6)  # OUI[3], sub-namespace, skip length (u16)

FLAG_FCS_AT_END = 0x10
FLAG_BAD_FCS = 0x40

MAX_PRESENCE_WORDS = 16
"""Real drivers use up to four (one per antenna plus one); more is a corrupt header."""


class RadiotapError(ValueError):
    """The header cannot be parsed; the message says why (never any frame bytes)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Absolute offsets (from the header start) of the fields we read, -1 if absent.

    ``signal`` is the first dBm antenna signal, which drivers fill with the combined
    signal of all chains; per-antenna values follow in later namespaces. ``end`` is
    where the last field we know of ends; fields past an unknown one are unknown.
    """

    flags: int
    channel: int
    xchannel: int
    signal: int
    end: int
    need: int  # the header length the fields we read require
    vendor: bool = False  # a vendor namespace moves later fields: bitmaps alone do not decide


def _align(offset: int, alignment: int) -> int:
    return (offset + alignment - 1) & ~(alignment - 1)


def _presence_end(header: bytes, length: int) -> int:
    """Offset just past the last presence bitmap."""
    end = 8
    while header[end - 1] & 0x80:  # bit 31 of the little-endian word: another follows
        end += 4
        if end > length:
            raise RadiotapError("presence bitmaps run past the header length")
        if (end - 4) // 4 > MAX_PRESENCE_WORDS:
            raise RadiotapError(f"more than {MAX_PRESENCE_WORDS} presence bitmaps")
    return end


VendorChecks = tuple[tuple[int, int], ...]
"""(offset, value) of each vendor skip length a layout depends on."""


def compute_layout(header: bytes, length: int) -> tuple[Layout, VendorChecks]:
    """Walk the presence bitmaps of ``header`` (``length`` bytes of radiotap).

    Returns:
        The layout and the vendor skip lengths it depends on: another header with
        the same bitmaps has the same layout if its skip lengths are the same.

    Raises:
        RadiotapError: the bitmaps or a vendor namespace run past ``length``.
    """
    words_end = _presence_end(header, length)
    offset = words_end
    found = {BIT_FLAGS: -1, BIT_CHANNEL: -1, BIT_XCHANNEL: -1, BIT_SIGNAL: -1}
    checks: list[tuple[int, int]] = []
    namespace = "radiotap"
    continuation = False  # a word extending the current namespace past bit 31
    vendor_skip = 0
    stopped = False  # a field of unknown size was announced: nothing later is known
    for word_at in range(4, words_end, 4):
        word = int.from_bytes(header[word_at : word_at + 4], "little")
        if stopped:
            pass
        elif namespace == "vendor":
            if not continuation:
                offset += vendor_skip  # vendor fields are opaque: skip their length
        elif continuation:
            stopped = bool(word & ((1 << BIT_RADIOTAP_NS) - 1))  # bits 32+ are undefined
        else:
            for bit in range(BIT_TLV):
                if not word & (1 << bit):
                    continue
                alignment, size = FIELD_SHAPES[bit]
                offset = _align(offset, alignment)
                if bit in found and found[bit] < 0:
                    found[bit] = offset
                offset += size
            # TLVs carry their own lengths; no fixed-layout field follows them.
            stopped = bool(word & (1 << BIT_TLV))
        if word & (1 << BIT_RADIOTAP_NS):
            namespace, continuation = "radiotap", False
        elif word & (1 << BIT_VENDOR_NS):
            namespace, continuation = "vendor", False
            if stopped:
                continue
            offset = _align(offset, VENDOR_NS_SHAPE[0])
            if offset + VENDOR_NS_SHAPE[1] > length:
                raise RadiotapError("vendor namespace runs past the header length")
            vendor_skip = int.from_bytes(header[offset + 4 : offset + 6], "little")
            checks.append((offset + 4, vendor_skip))
            offset += VENDOR_NS_SHAPE[1]
        else:
            continuation = True
    need = 0
    for bit, at in found.items():
        if at >= 0:
            need = max(need, at + FIELD_SHAPES[bit][1])
            if need > length:
                raise RadiotapError(f"field {bit} runs past the header length")
    layout = Layout(
        flags=found[BIT_FLAGS],
        channel=found[BIT_CHANNEL],
        xchannel=found[BIT_XCHANNEL],
        signal=found[BIT_SIGNAL],
        end=min(offset, length),
        need=need,
        vendor=bool(checks),
    )
    return layout, tuple(checks)


class LayoutCache:
    """Layouts by presence bitmaps, bounded because a corrupt capture could vary them."""

    MAX_ENTRIES = 256
    """Real captures need a handful; garbage must not grow memory without bound."""

    def __init__(self) -> None:
        self._layouts: dict[bytes, tuple[Layout, VendorChecks]] = {}

    def get(self, frame: bytes, length: int) -> Layout:
        """The layout of the radiotap header at the start of ``frame``.

        Raises:
            RadiotapError: the header is inconsistent.
        """
        end = _presence_end(frame, length)
        key = frame[4:end]
        cached = self._layouts.get(key)
        if cached is not None:
            layout, checks = cached
            if layout.need > length:
                pass  # same bitmaps, shorter header: recompute, which says what is wrong
            elif not checks or all(
                at + 2 <= length and frame[at] | frame[at + 1] << 8 == value for at, value in checks
            ):
                return layout
        layout, checks = compute_layout(frame, length)
        if len(self._layouts) >= self.MAX_ENTRIES:
            self._layouts.clear()
        self._layouts[key] = (layout, checks)
        return layout


def channel_number(frequency_mhz: int) -> int | None:
    """The IEEE channel number of a centre frequency (2.4, 5 and 6 GHz bands)."""
    if frequency_mhz == 2484:
        return 14
    if 2412 <= frequency_mhz <= 2472:
        return (frequency_mhz - 2407) // 5
    if 5955 <= frequency_mhz <= 7115:  # 6 GHz starts at channel 1 = 5955 MHz
        return (frequency_mhz - 5950) // 5
    if 5000 <= frequency_mhz < 5955:
        return (frequency_mhz - 5000) // 5
    return None
