"""Sinks that need no broker: JSON lines on stdout, or appended to a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from agent.publish.events import dumps
from agent.publish.sink import Event, Sink


class ConsoleSink(Sink):
    """One event a line on stdout (or ``stream``), flushed at once for pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def emit(self, topic: str, event: Event) -> None:
        self.stream.write(dumps(event) + "\n")
        self.stream.flush()


class JsonLinesFileSink(Sink):
    """One event a line, appended to a file and flushed per event."""

    def __init__(self, path: Path, topics: frozenset[str] | None = None) -> None:
        self.path = path
        self.topics = topics
        self._file = path.open("a", encoding="utf-8")

    def emit(self, topic: str, event: Event) -> None:
        if self.topics is not None and topic not in self.topics:
            return
        self._file.write(dumps(event) + "\n")
        self._file.flush()

    def close(self, clean: bool = True) -> None:
        self._file.close()
