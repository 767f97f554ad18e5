"""EPC to GTIN (GS1 Tag Data Standard), keeping only the product part of a tag.

SGTIN-96 (header 0x30) and SGTIN-198 (header 0x36) both start with the same 58
product bits: header (8), filter (3), partition (3), then company prefix and item
reference (44 together). The serial follows. Decoding with epcpy costs tens of
microseconds, so results are cached on those 58 bits alone: the cache never holds
a serial, and every item of one product shares one entry.

Any other EPC (another GS1 scheme, a non-GS1 tag, garbage) is "not a product":
``gtin_of`` returns None and the caller counts it as unknown. Nothing here raises
for bad input and nothing here logs: callers own the counting.

Example:
    >>> decoder = EpcDecoder()
    >>> decoder.gtin_of("3074257BF7194E4000001A85")  # GS1 TDS SGTIN-96 example
    '80614141123458'
    >>> decoder.gtin_of("E2801160600002054CC4B5B7") is None  # a chip's factory EPC
    True
"""

from __future__ import annotations

from epcpy.epc_schemes.sgtin import SGTIN
from epcpy.utils.common import ConvertException
from epcpy.utils.parsers import hex_to_tag_encodable

SGTIN_HEADERS = frozenset({"30", "36"})
"""EPC headers of SGTIN-96 and SGTIN-198: the only schemes that carry a GTIN."""

PRODUCT_HEX_DIGITS = 15
"""The 58 product bits lie in the first 15 hex digits (60 bits); the last 2 are serial."""

SERIAL_BITS_IN_KEY = 2
"""Bits of the 15th hex digit that belong to the serial, shifted out of the cache key."""

MIN_HEX_DIGITS = {"30": 24, "36": 50}
"""SGTIN-96 is 96 bits; SGTIN-198 is 198 bits, so at least 50 hex digits."""

DEFAULT_CACHE_SIZE = 100_000
"""Distinct products cached; a large store carries well under this many GTINs."""

_HEX = frozenset("0123456789abcdefABCDEF")


def product_key(epc_hex: str) -> int | None:
    """The 58 product bits of an SGTIN EPC as an int, or None for any other EPC.

    Args:
        epc_hex: the EPC as read (hex digits, either case).

    Returns:
        An int that identifies the product and never the item, or None when the
        EPC is not an SGTIN of plausible length.
    """
    header = epc_hex[:2]
    if header not in SGTIN_HEADERS or len(epc_hex) < MIN_HEX_DIGITS[header]:
        return None
    head = epc_hex[:PRODUCT_HEX_DIGITS]
    if not _HEX.issuperset(head):
        return None
    return int(head, 16) >> SERIAL_BITS_IN_KEY


def _decode_gtin(epc_hex: str) -> str | None:
    try:
        tag = hex_to_tag_encodable(epc_hex)
    except (ConvertException, ValueError, KeyError, IndexError):
        return None
    if not isinstance(tag, SGTIN):
        return None
    try:
        gtin = str(tag.gtin())
    except (ConvertException, ValueError):
        return None
    # The tag object holds the serial; it goes out of scope here and only the GTIN
    # (a product identifier, the same for every item of the product) is kept.
    return gtin if len(gtin) == 14 and gtin.isdigit() else None


class EpcDecoder:
    """GTINs of EPCs, with a bounded cache keyed on product bits.

    Args:
        cache_size: most products remembered; when full the oldest entry goes.
    """

    def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._cache: dict[int, str | None] = {}
        self._cache_size = cache_size
        self.decoded = 0
        """epcpy decodes done (cache misses), for the benchmark and health."""

    def gtin_of(self, epc_hex: str) -> str | None:
        """The 14-digit GTIN of an SGTIN-96/198 EPC, or None for anything else."""
        key = product_key(epc_hex)
        if key is None:
            return None
        cache = self._cache
        if key in cache:
            return cache[key]
        gtin = _decode_gtin(epc_hex)
        if len(cache) >= self._cache_size:
            del cache[next(iter(cache))]
        cache[key] = gtin
        self.decoded += 1
        return gtin


def gtin_check_digit(first13: str) -> int:
    """The GS1 mod-10 check digit of the first 13 digits of a GTIN-14."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(first13))
    return (10 - total % 10) % 10


def normalise_gtin(text: str) -> str | None:
    """A GTIN-8/12/13/14 as 14 digits, or None when it is not one (bad check digit too)."""
    digits = text.strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        return None
    gtin = digits.zfill(14)
    if gtin_check_digit(gtin[:13]) != int(gtin[13]):
        return None
    return gtin
