"""The event envelope: CloudEvents 1.0, structured JSON mode, with deterministic ids.

An event's ``id`` is a ULID whose time part is the window start and whose other
80 bits come from SHA-256 of the event's key (store, gateway, type, window start,
zone). A window recomputed after a crash therefore carries the same id, and
consumers dedupe on it. A window seen only in part also keys on the part seen,
so the two pieces of a window split by a restart stay two events.

Example:
    >>> ulid(0, bytes(10))
    '00000000000000000000000000'
    >>> len(event_id(["s1", "g1", "traffic", 1700000000, "door"], 1700000000))
    26
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from agent.publish.sink import Event

SPEC_VERSION = "1.0"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TYPE_PREFIX = "edge-agent"
SCHEMA_VERSION = {"traffic": 1, "characteristics": 1, "health": 1}
"""The major version of each payload's schema (docs/schemas/); bumped on any breaking change."""


def ulid(ms: int, entropy: bytes) -> str:
    """Encode a 48-bit millisecond time and 80 bits of entropy as a 26-char ULID."""
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"ULID time must be 0..2^48-1 ms, got {ms}")
    value = (ms << 80) | int.from_bytes(entropy[:10].rjust(10, b"\0"), "big")
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def event_id(key: Sequence[object], time_s: float) -> str:
    """The deterministic id of the event with this key, sorted by ``time_s``."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in key).encode()).digest()
    return ulid(round(time_s * 1000), digest)


def iso(t: float) -> str:
    """UTC time with milliseconds and a Z, as every timestamp in our payloads."""
    return (
        datetime.fromtimestamp(t, tz=timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def envelope(
    *,
    kind: str,
    store_id: str,
    gateway_id: str,
    key: Sequence[object],
    id_time: float,
    time: float,
    subject: str,
    data: dict[str, Any],
) -> Event:
    """Wrap ``data`` as a CloudEvents 1.0 structured-mode event."""
    version = SCHEMA_VERSION[kind]
    return {
        "specversion": SPEC_VERSION,
        "id": event_id([store_id, gateway_id, kind, *key], id_time),
        "source": f"urn:edge-agent:{store_id}:{gateway_id}",
        "type": f"{TYPE_PREFIX}.{kind}.v{version}",
        "subject": subject,
        "time": iso(time),
        "datacontenttype": "application/json",
        "dataschema": f"urn:edge-agent:schema:{kind}:{version}",
        "data": data,
    }


def dumps(event: Event) -> str:
    """The one serialisation used everywhere, so equal events are equal bytes."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
