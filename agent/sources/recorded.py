"""Anonymised observations recorded as JSON lines: the privacy-safe fixture layer.

One JSON object a line, with a ``type`` and an event time ``t`` (UTC seconds, or
an ISO 8601 string). The line formats are listed in ``fixtures/README.md``. A bad
line is skipped with one warning naming ``file:line`` and the reason, never the
line's content, and counted; the rest of the file goes on.

Example:
    >>> import io, json
    >>> line = json.dumps({"type": "track", "t": 10.0, "track": 1, "x": 1, "y": 2})
    >>> parse_line(json.loads(line), default_source="cam-1")
    TrackPoint(t=10.0, source='cam-1', track=1, x=1.0, y=2.0)
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from agent.configbase import ID_PATTERN, ExistingPath, Model
from agent.observations import (
    DeviceSighting,
    ItemEvent,
    Observation,
    Product,
    TrackEnd,
    TrackPoint,
)
from agent.sources.base import Source, SourceContext

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024
"""A recorded observation is a few hundred bytes; a longer line is a corrupt file."""


class RecordedSourceConfig(Model):
    id: str = Field(
        title="Source id",
        description="Unique id of this source; observations without a 'source' field get it.",
        pattern=ID_PATTERN,
    )
    path: ExistingPath = Field(
        title="File",
        description="JSON lines of recorded observations (relative to the config file).",
    )
    sensors: list[Literal["camera", "wifi", "rfid"]] = Field(
        default_factory=list,
        title="Stands for",
        description="Which live feeds the recording stands for; decides which behaviour "
        "model applies and which features are missing rather than zero.",
    )


class RecordError(ValueError):
    """A recorded line that cannot become an observation; the message is the reason."""


def _time(value: Any) -> float:
    if isinstance(value, bool):
        raise RecordError("field 't' must be a number or an ISO 8601 time")
    if isinstance(value, (int, float)):
        t = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise RecordError("field 't' is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise RecordError("field 't' has no time zone (add Z for UTC)")
        t = parsed.timestamp()
    else:
        raise RecordError("field 't' must be a number or an ISO 8601 time")
    if not math.isfinite(t) or t < 0:
        raise RecordError("field 't' is out of range")
    return t


def _field(record: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in record:
        raise RecordError(f"field '{name}' is missing")
    value = record[name]
    if isinstance(value, bool) and kind is not bool:
        raise RecordError(f"field '{name}' has the wrong type")
    if not isinstance(value, kind):
        raise RecordError(f"field '{name}' has the wrong type")
    return value


def _number(record: dict[str, Any], name: str) -> float:
    value = float(_field(record, name, (int, float)))
    if not math.isfinite(value):
        raise RecordError(f"field '{name}' is not a finite number")
    return value


def _optional_int(record: dict[str, Any], name: str) -> int | None:
    if record.get(name) is None:
        return None
    return int(_field(record, name, int))


def _track(r: dict[str, Any], t: float, src: str) -> Observation:
    track = int(_field(r, "track", int))
    return TrackPoint(t=t, source=src, track=track, x=_number(r, "x"), y=_number(r, "y"))


def _track_end(r: dict[str, Any], t: float, src: str) -> Observation:
    return TrackEnd(t=t, source=src, track=int(_field(r, "track", int)))


def _device(r: dict[str, Any], t: float, src: str) -> Observation:
    kind = _field(r, "kind", str)
    if kind not in ("probe", "data"):
        raise RecordError("field 'kind' must be 'probe' or 'data'")
    token = _field(r, "token", str)
    if len(token) != 16 or any(c not in "0123456789abcdef" for c in token):
        raise RecordError("field 'token' must be 16 lowercase hex digits")
    return DeviceSighting(
        t=t,
        source=src,
        token=token,
        rssi=_number(r, "rssi"),
        kind=kind,
        randomised=bool(_field(r, "randomised", bool)),
        channel=_optional_int(r, "channel"),
        seq=_optional_int(r, "seq"),
    )


def _item(r: dict[str, Any], t: float, src: str) -> Observation:
    action = _field(r, "action", str)
    if action not in ("picked", "returned", "fitting_room", "purchased"):
        raise RecordError("field 'action' must be picked, returned, fitting_room or purchased")
    p = _field(r, "product", dict)
    gtin = p.get("gtin")
    if gtin is not None and (not isinstance(gtin, str) or not gtin.isdigit() or len(gtin) != 14):
        raise RecordError("field 'product.gtin' must be 14 digits or null")
    tier = p.get("price_tier")
    if tier is not None and not isinstance(tier, str):
        raise RecordError("field 'product.price_tier' must be a string or null")
    product = Product(
        gtin=gtin,
        category=str(_field(p, "category", str)),
        price_tier=tier,
        promo=bool(p.get("promo", False)),
    )
    return ItemEvent(t=t, source=src, zone=_field(r, "zone", str), action=action, product=product)


PARSERS: dict[str, Callable[[dict[str, Any], float, str], Observation]] = {
    "track": _track,
    "track_end": _track_end,
    "device": _device,
    "item": _item,
}
RecordType = Literal["track", "track_end", "device", "item"]


def parse_line(record: Any, default_source: str) -> Observation:
    """Turn one decoded JSON line into an observation.

    Raises:
        RecordError: with a reason that never quotes the line's values.
    """
    if not isinstance(record, dict):
        raise RecordError("line is not a JSON object")
    kind = record.get("type")
    parser = PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise RecordError(f"field 'type' must be one of {', '.join(PARSERS)}")
    src = record.get("source", default_source)
    if not isinstance(src, str) or not src:
        raise RecordError("field 'source' must be a non-empty string")
    return parser(record, _time(_field(record, "t", (int, float, str))), src)


def read_records(
    path: Path, default_source: str
) -> Iterator[tuple[int, int, Observation | RecordError]]:
    """Yield (line number, bytes read so far, observation or the line's error)."""
    done = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            done += len(raw)
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield number, done, RecordError(f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            try:
                yield number, done, parse_line(json.loads(raw), default_source)
            except RecordError as e:
                yield number, done, e
            except (ValueError, UnicodeDecodeError):
                yield number, done, RecordError("not valid JSON")


class RecordedSource(Source):
    """Replays a recorded observation file. Live or replay, it reads as fast as it can."""

    def __init__(self, config: RecordedSourceConfig, context: SourceContext) -> None:
        super().__init__(config.id)
        self.path = config.path
        self.skipped = 0
        self.read = 0
        self._done = 0
        self._total = 0

    def observations(self, stop: threading.Event) -> Iterator[Observation]:
        try:
            self._total = self.path.stat().st_size
            for number, done, item in read_records(self.path, self.id):
                self._done = done
                if isinstance(item, RecordError):
                    self.skipped += 1
                    log.warning("%s:%d: skipped: %s", self.path, number, item)
                    continue
                self.read += 1
                yield item
                if stop.is_set():
                    return
        except OSError as e:
            log.error("%s: cannot read: %s", self.path, e.strerror or e)

    def health(self) -> dict[str, Any]:
        return {"observations": self.read, "skipped_lines": self.skipped}

    def progress(self) -> tuple[int, int] | None:
        return (self._done, self._total)
