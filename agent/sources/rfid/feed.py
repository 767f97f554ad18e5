"""The interface every RFID feed implements, and its shared problem counter."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from agent.sources.rfid.reads import TagRead

log = logging.getLogger(__name__)

LOG_FIRST_PROBLEMS = 20
"""Problems logged one by one; after that one line per LOG_EVERY_PROBLEMS, so a
reader that sends garbage all day cannot fill the disk with our logs."""

LOG_EVERY_PROBLEMS = 1000


class Problems:
    """Counts malformed input and logs it without flooding (never the content)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.count = 0

    def report(self, position: str, reason: object) -> None:
        self.count += 1
        if self.count <= LOG_FIRST_PROBLEMS:
            log.warning("%s: %s: skipped: %s", self.where, position, reason)
        elif self.count % LOG_EVERY_PROBLEMS == 0:
            log.warning(
                "%s: %d malformed messages so far; latest at %s: %s",
                self.where,
                self.count,
                position,
                reason,
            )


class ReadFeed(ABC):
    """Where tag reads come from: a file, an MQTT topic or an LLRP connection.

    ``reads`` yields until the feed ends or ``stop`` is set; it never raises for
    bad input (it counts it) and reconnects by itself when a device goes away.
    """

    @abstractmethod
    def reads(self, stop: threading.Event) -> Iterator[TagRead]:
        """Yield reads in arrival order."""

    def health(self) -> dict[str, Any]:
        return {}

    def progress(self) -> tuple[int, int] | None:
        return None

    def close(self) -> None:  # noqa: B027 - most feeds hold nothing to release
        """Release sockets and files."""
