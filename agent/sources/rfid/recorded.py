"""Recorded reads: the fixture layer. One reader event per line, as the reader sent it.

A line is a Zebra IoT Connector data event or an Impinj IoT interface event (see
``reads``), or a JSON array of them. An optional first line describes the
recording so that it is self-contained for ``edge-agent inspect`` and replay::

    {"edge_agent_rfid": 1, "catalogue": "catalogue.csv",
     "antennas": [{"port": 1, "zone": "shelf-a", "role": "shelf"}]}

(``catalogue`` is optional and relative to the recording's directory.)

The exact format is in ``docs/rfid.md``. A bad line is skipped with one warning
naming ``file:line`` and the reason, never the line's content.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from agent.sources.rfid.config import AntennaConfig
from agent.sources.rfid.feed import Problems, ReadFeed
from agent.sources.rfid.parser import ReadParser
from agent.sources.rfid.reads import NotARead, ReadError, TagRead, events_of

HEADER_KEY = "edge_agent_rfid"
HEADER_VERSION = 1
MAX_LINE_BYTES = 256 * 1024
"""A batched line of a few hundred reads fits; a longer line is a corrupt file."""

_ANTENNAS = TypeAdapter(list[AntennaConfig])


class Header:
    """The recording's own description: its antenna map and catalogue file."""

    def __init__(self, antennas: list[AntennaConfig], catalogue: str | None = None) -> None:
        self.antennas = antennas
        self.catalogue = catalogue


def parse_header(doc: Any) -> Header | None:
    """The header a line holds, None when it is not one.

    Raises:
        ReadError: a header with an unknown version or a bad antenna list.
    """
    if not isinstance(doc, dict) or HEADER_KEY not in doc:
        return None
    if doc[HEADER_KEY] != HEADER_VERSION:
        raise ReadError(f"header '{HEADER_KEY}' must be {HEADER_VERSION}")
    catalogue = doc.get("catalogue")
    if catalogue is not None and not isinstance(catalogue, str):
        raise ReadError("header 'catalogue' must be a file name")
    try:
        antennas = _ANTENNAS.validate_python(doc.get("antennas", []))
    except ValidationError as e:
        first = e.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReadError(f"header antennas: {where}: {first['msg']}") from None
    if len({a.port for a in antennas}) != len(antennas):
        raise ReadError("header antennas: a port is listed twice")
    return Header(antennas, catalogue)


Item = TagRead | ReadError | Header
Line = tuple[int, int, list[Item]]


def line_items(raw: bytes, parser: ReadParser) -> list[Item]:
    """What one line holds: reads, errors (one per bad event), or the header.

    Events that are not reads (Impinj antenna or status events) give nothing.
    """
    if len(raw) > MAX_LINE_BYTES:
        return [ReadError(f"line longer than {MAX_LINE_BYTES} bytes")]
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return [ReadError("not valid JSON")]
    try:
        header = parse_header(doc)
    except ReadError as e:
        return [e]
    if header is not None:
        return [header]
    out: list[Item] = []
    for event in events_of(doc):
        try:
            out.append(parser.any(event))
        except ReadError as e:
            out.append(e)
        except NotARead:
            pass
    return out


def read_lines(path: Path, parser: ReadParser | None = None) -> Iterator[Line]:
    """Yield (line number, bytes read so far, what the line held) for every line."""
    parser = parser or ReadParser()
    done = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            done += len(raw)
            if raw.strip():
                yield number, done, line_items(raw, parser)


def read_header(path: Path) -> Header | None:
    """The header of a recording, when its first non-blank line is one."""
    for _, _, items in read_lines(path):
        return items[0] if items and isinstance(items[0], Header) else None
    return None


class RecordedFeed(ReadFeed):
    """Reads a recording as fast as the consumer takes them (replay or live)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems = Problems(str(path))
        self._done = 0
        self._total = 0

    def reads(self, stop: threading.Event) -> Iterator[TagRead]:
        problems = self.problems
        parser = ReadParser()
        zebra = parser.zebra
        loads = json.loads
        try:
            self._total = self.path.stat().st_size
            with self.path.open("rb") as f:
                for number, raw in enumerate(f, start=1):
                    self._done += len(raw)
                    # The common line, one Zebra event, takes the short way; anything
                    # else (header, batch, Impinj, blank or bad line) the general one.
                    try:
                        doc = loads(raw) if len(raw) <= MAX_LINE_BYTES else None
                    except (ValueError, UnicodeDecodeError):
                        doc = None
                    if (
                        type(doc) is dict
                        and "data" in doc
                        and "eventType" not in doc
                        and "tagInventoryEvent" not in doc
                        and HEADER_KEY not in doc
                    ):
                        try:
                            yield zebra(doc)
                        except ReadError as e:
                            problems.report(f"line {number}", e)
                    elif raw.strip():
                        for item in line_items(raw, parser):
                            if isinstance(item, ReadError):
                                problems.report(f"line {number}", item)
                            elif isinstance(item, TagRead):
                                yield item
                    if stop.is_set():
                        return
        except OSError as e:
            problems.report("file", f"cannot read: {e.strerror or e}")

    def health(self) -> dict[str, Any]:
        return {"malformed": self.problems.count}

    def progress(self) -> tuple[int, int] | None:
        return (self._done, self._total)
