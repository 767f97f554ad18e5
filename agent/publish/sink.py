"""The interface every sink implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

Event = dict[str, Any]
"""A CloudEvents 1.0 structured-mode event, ready to serialise as JSON."""


class Sink(ABC):
    """Receives events in the order the core produces them.

    ``emit`` must not lose an event it accepted: a sink that can fail (a broker)
    persists first. ``close`` flushes and releases; ``clean`` tells whether the
    agent stopped on purpose (for the retained status topic).
    """

    @abstractmethod
    def emit(self, topic: str, event: Event) -> None:
        """Accept one event for ``topic`` (``traffic``, ``characteristics``, ``health``)."""

    def emit_many(self, events: Iterable[tuple[str, Event]]) -> None:
        """Accept several events at once; sinks that persist do it in one commit."""
        for topic, event in events:
            self.emit(topic, event)

    def health(self) -> dict[str, Any]:
        """State and counters for the health topic (queue depth, drops, connection)."""
        return {}

    def close(self, clean: bool = True) -> None:  # noqa: B027 - optional hook
        """Flush and release."""
