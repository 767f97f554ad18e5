"""The interface every source implements."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.observations import Observation


@dataclass(frozen=True)
class SourceContext:
    """What a source may know about the agent it runs in.

    Args:
        replay: True when the source feeds a deterministic replay (read files as
            fast as possible, no pacing, no reconnect loops).
        base_dir: the directory of the config file, for relative paths.
        store_zones: ids of the store's zones, for sources that map antennas or
            sensors to zones.
        shared: objects shared by sources of one kind (for example the Wi-Fi
            hashing key, which all Wi-Fi sensors must share to count one phone
            once); keyed by the kind's name.
    """

    replay: bool = False
    base_dir: str = "."
    store_zones: tuple[str, ...] = ()
    shared: dict[str, Any] = field(default_factory=dict)


class Source(ABC):
    """One configured feed.

    ``observations`` yields in event-time order (small disorder is absorbed by
    the core's reorder buffer). It returns when the feed ends (end of a file) or
    when ``stop`` is set; a live feed that loses its device reconnects inside
    the iterator and reports its state through ``health``. It must never raise
    for bad input: a bad record is counted, logged once with its position, and
    skipped.
    """

    def __init__(self, source_id: str) -> None:
        self.id = source_id

    @abstractmethod
    def observations(self, stop: threading.Event) -> Iterator[Observation]:
        """Yield observations until the feed ends or ``stop`` is set."""

    def health(self) -> dict[str, Any]:
        """State and counters for the health topic (no identifiers)."""
        return {}

    def progress(self) -> tuple[int, int] | None:
        """(bytes done, bytes total) for file feeds, None for live ones."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release devices, sockets and files. Called once, after the loop ends."""
