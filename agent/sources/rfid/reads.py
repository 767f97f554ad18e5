"""Vendor tag-read JSON to ``TagRead``: Zebra IoT Connector and Impinj IoT interface.

Zebra IoT Connector (FX7500, FX9600, ATR7000) data event, one object per read
(or a JSON array of them when the connector batches)::

    {"type": "SIMPLE", "timestamp": "2024-03-05T10:37:46.548-0800",
     "data": {"idHex": "3074257bf7194e4000001a85", "antenna": 1, "peakRssi": -53,
              "eventNum": 46, "format": "epc", "reads": 3}}

Impinj IoT device interface (R700) tag inventory event::

    {"timestamp": "2024-03-05T18:37:46.548Z", "hostname": "impinj-14-2b-7e",
     "eventType": "tagInventory",
     "tagInventoryEvent": {"epc": "MHQle/cZTkAAABqF", "epcHex": "3074257BF7194E4000001A85",
                           "antennaPort": 1, "peakRssiCdbm": -5300,
                           "lastSeenTime": "2024-03-05T18:37:46.540Z"}}

Other Impinj event types (antenna connected, inventory status, ...) are skipped
without counting them as errors. A bad payload raises ``ReadError`` whose message
names the field and never quotes its value: an EPC must not reach a log line.
Where the vendors' documents left a field unconfirmed, ``docs/rfid.md`` says so.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import datetime
from typing import Any, NamedTuple

MAX_EPC_HEX = 124
"""The EPC bank holds at most 496 bits; a longer id is a corrupt payload."""

MIN_EPC_HEX = 4
RSSI_RANGE = (-128.0, 20.0)
"""Plausible dBm: readers report about -90 to -20; outside this range is a unit error."""

MAX_ANTENNA = 65535
"""LLRP antenna ids are 16-bit; vendors number ports from 1."""

MAX_SEEN_COUNT = 10_000
"""A tag answers at most a few hundred times a second; a bigger count is corrupt."""

CENTI = 100.0
"""Impinj reports RSSI in hundredths of a dBm (``peakRssiCdbm``)."""

_HEX = frozenset("0123456789abcdefABCDEF")


class TagRead(NamedTuple):
    """One tag heard by one antenna.

    ``epc`` is the raw EPC in upper-case hex: an in-memory handle that the pipeline
    cuts down to a product and never copies into an event, a log or a summary.
    """

    t: float
    epc: str
    antenna: int
    rssi: float | None
    seen: int = 1
    """Reads the report stands for: readers that aggregate per period count them."""


class ReadError(ValueError):
    """A payload that cannot become a TagRead; the message names the field."""


class NotARead(Exception):
    """A well-formed vendor event that carries no tag read (e.g. antenna status)."""


def parse_time(value: Any, name: str) -> float:
    """ISO 8601 with a zone (``Z``, ``+00:00`` or ``-0800``) or epoch seconds."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = _parse_time_compat(value, name)
        if parsed.tzinfo is None:
            raise ReadError(f"field '{name}' has no time zone")
        t = parsed.timestamp()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        t = float(value)
    else:
        raise ReadError(f"field '{name}' must be an ISO 8601 time")
    if not math.isfinite(t) or t < 0:
        raise ReadError(f"field '{name}' is out of range")
    return t


def _parse_time_compat(value: str, name: str) -> datetime:
    """Python 3.10's fromisoformat lacks ``Z``, ``-0800`` and odd fraction lengths."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest[:9] if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{(digits + '000000')[:6]}{zone}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ReadError(f"field '{name}' is not an ISO 8601 time") from None


def epc_hex_field(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ReadError(f"field '{name}' must be a hex string")
    if not (MIN_EPC_HEX <= len(value) <= MAX_EPC_HEX) or len(value) % 2:
        raise ReadError(f"field '{name}' has an impossible length for an EPC")
    if not _HEX.issuperset(value):
        raise ReadError(f"field '{name}' is not hexadecimal")
    return value.upper()


def antenna_field(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReadError(f"field '{name}' must be an integer port number")
    if not 0 < value <= MAX_ANTENNA:
        raise ReadError(f"field '{name}' is out of range")
    return value


def rssi_field(value: Any, name: str, scale: float = 1.0) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReadError(f"field '{name}' must be a number")
    rssi = value / scale
    if not (RSSI_RANGE[0] <= rssi <= RSSI_RANGE[1]):
        raise ReadError(f"field '{name}' is out of range")
    return float(rssi)


def count_field(value: Any, name: str) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReadError(f"field '{name}' must be an integer")
    if not 1 <= value <= MAX_SEEN_COUNT:
        raise ReadError(f"field '{name}' is out of range")
    return value


def parse_zebra(event: Any) -> TagRead:
    """One Zebra IoT Connector data event (a JSON object) to a TagRead."""
    if not isinstance(event, dict):
        raise ReadError("event is not a JSON object")
    data = event.get("data")
    if not isinstance(data, dict):
        raise ReadError("field 'data' is missing or not an object")
    if "idHex" not in data:
        raise ReadError("field 'data.idHex' is missing")
    if "antenna" not in data:
        raise ReadError("field 'data.antenna' is missing (enable ANTENNA in tagMetaData)")
    return TagRead(
        parse_time(event.get("timestamp"), "timestamp"),
        epc_hex_field(data["idHex"], "data.idHex"),
        antenna_field(data["antenna"], "data.antenna"),
        rssi_field(data.get("peakRssi"), "data.peakRssi"),
        count_field(data.get("seenCount", data.get("reads")), "data.seenCount"),
    )


def parse_impinj(event: Any) -> TagRead:
    """One Impinj IoT interface event to a TagRead.

    Raises:
        NotARead: a valid event of another type (antenna, status, ...).
        ReadError: a tag inventory event that is malformed.
    """
    if not isinstance(event, dict):
        raise ReadError("event is not a JSON object")
    inventory = event.get("tagInventoryEvent")
    if inventory is None:
        if isinstance(event.get("eventType"), str):
            raise NotARead(event["eventType"])
        raise ReadError("field 'tagInventoryEvent' is missing")
    if not isinstance(inventory, dict):
        raise ReadError("field 'tagInventoryEvent' is not an object")
    if "epcHex" in inventory:
        epc = epc_hex_field(inventory["epcHex"], "tagInventoryEvent.epcHex")
    elif isinstance(inventory.get("epc"), str):
        try:
            raw = base64.b64decode(inventory["epc"], validate=True)
        except (binascii.Error, ValueError):
            raise ReadError("field 'tagInventoryEvent.epc' is not base64") from None
        epc = epc_hex_field(raw.hex(), "tagInventoryEvent.epc")
    else:
        raise ReadError("field 'tagInventoryEvent.epcHex' (or 'epc') is missing")
    if "antennaPort" not in inventory:
        raise ReadError("field 'tagInventoryEvent.antennaPort' is missing")
    when = inventory.get("lastSeenTime")
    return TagRead(
        parse_time(when, "tagInventoryEvent.lastSeenTime")
        if when is not None
        else parse_time(event.get("timestamp"), "timestamp"),
        epc,
        antenna_field(inventory["antennaPort"], "tagInventoryEvent.antennaPort"),
        rssi_field(inventory.get("peakRssiCdbm"), "tagInventoryEvent.peakRssiCdbm", CENTI),
    )


def parse_any(event: Any) -> TagRead:
    """A Zebra or Impinj event, told apart by their top-level fields."""
    if isinstance(event, dict) and ("tagInventoryEvent" in event or "eventType" in event):
        return parse_impinj(event)
    return parse_zebra(event)


def events_of(payload: Any) -> list[Any]:
    """A message holds one event object or, when the reader batches, a list of them."""
    if isinstance(payload, list):
        return payload
    return [payload]
