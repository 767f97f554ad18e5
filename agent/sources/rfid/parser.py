"""The hot path of read parsing: the ``reads`` parsers with two small caches.

A reader repeats the same few thousand EPCs and its timestamps share their
second: validating an EPC once and converting an ISO 8601 time once per second
(then adding the fraction) keeps a read at a few microseconds. Any payload the
fast path does not like goes to the plain parsers in ``reads``, which produce the
exact error; so both paths accept and reject exactly the same events.

Example:
    >>> parser = ReadParser()
    >>> event = {"timestamp": "2024-03-05T10:37:46.548-0800",
    ...          "data": {"idHex": "3074257bf7194e4000001a85", "antenna": 1, "peakRssi": -53}}
    >>> parser.zebra(event)
    TagRead(t=1709663866.548, epc='3074257BF7194E4000001A85', antenna=1, rssi=-53.0, seen=1)
"""

from __future__ import annotations

import math
from typing import Any

from agent.sources.rfid.reads import (
    MAX_ANTENNA,
    MAX_SEEN_COUNT,
    RSSI_RANGE,
    ReadError,
    TagRead,
    epc_hex_field,
    parse_impinj,
    parse_time,
    parse_zebra,
)

CACHE_SIZE = 100_000
"""Entries per cache; a store's readers see tens of thousands of tags at most. When
full the cache starts over, which costs one slow parse per entry, nothing more."""

SECOND_PREFIX = 19
"""``YYYY-MM-DDTHH:MM:SS`` is 19 characters: the part shared by a second's reads."""

_FRACTION = ".0123456789"


class ReadParser:
    """Zebra and Impinj events to TagReads, fast for the payloads readers repeat."""

    def __init__(self) -> None:
        self._epcs: dict[str, str] = {}
        self._seconds: dict[str, float] = {}

    def time(self, value: Any, name: str) -> float:
        """``reads.parse_time``, converting each distinct second only once."""
        if type(value) is not str:
            return parse_time(value, name)
        rest = value[SECOND_PREFIX:]
        zone = rest.lstrip(_FRACTION)
        fraction = rest[: len(rest) - len(zone)]
        key = value[:SECOND_PREFIX] + zone
        base = self._seconds.get(key)
        if base is None:
            base = parse_time(key, name)
            if len(self._seconds) >= CACHE_SIZE:
                self._seconds.clear()
            self._seconds[key] = base
        if not fraction:
            return base
        if fraction[0] != "." or "." in fraction[1:] or len(fraction) == 1:
            return parse_time(value, name)  # not a fraction after all: exact error
        t = base + float(fraction)
        if not math.isfinite(t):
            raise ReadError(f"field '{name}' is out of range")
        return t

    def epc(self, value: Any, name: str) -> str:
        """``reads.epc_hex_field`` remembered per distinct EPC."""
        if type(value) is str:
            known = self._epcs.get(value)
            if known is not None:
                return known
        epc = epc_hex_field(value, name)
        if len(self._epcs) >= CACHE_SIZE:
            self._epcs.clear()
        self._epcs[value] = epc
        return epc

    def zebra(self, event: Any) -> TagRead:
        """``reads.parse_zebra``, fast."""
        try:
            data = event["data"]
            antenna = data["antenna"]
            epc = self.epc(data["idHex"], "data.idHex")
            stamp = event["timestamp"]
            rssi = data.get("peakRssi")
            count = data.get("seenCount", data.get("reads", 1))
        except (KeyError, TypeError, AttributeError, ReadError):
            return parse_zebra(event)  # raises the precise error
        if type(antenna) is not int or not 0 < antenna <= MAX_ANTENNA:
            return parse_zebra(event)
        if rssi is not None:
            if type(rssi) is not int and type(rssi) is not float:
                return parse_zebra(event)
            if not RSSI_RANGE[0] <= rssi <= RSSI_RANGE[1]:
                return parse_zebra(event)
            rssi = float(rssi)
        if type(count) is not int or not 1 <= count <= MAX_SEEN_COUNT:
            return parse_zebra(event)
        try:
            return TagRead(self.time(stamp, "timestamp"), epc, antenna, rssi, count)
        except ReadError:
            return parse_zebra(event)  # the plain parser's checks come in its order

    def impinj(self, event: Any) -> TagRead:
        """``reads.parse_impinj`` (Impinj feeds send one event per message: no fast path)."""
        return parse_impinj(event)

    def any(self, event: Any) -> TagRead:
        """A Zebra or Impinj event, told apart as ``reads.parse_any`` does."""
        if type(event) is dict and ("tagInventoryEvent" in event or "eventType" in event):
            return parse_impinj(event)
        return self.zebra(event)
