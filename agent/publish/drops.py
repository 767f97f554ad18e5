"""Counting dropped events and logging them once per burst, not once per event.

A broker outage that fills the outbox drops one event per new event for hours;
a line per drop would bury every other message, while silence would hide the
loss. So the first drop of a burst is logged at once, the running total at most
every ``SUMMARY_INTERVAL_S`` while it lasts, and the total when it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

SUMMARY_INTERVAL_S = 60.0
"""While a burst lasts, how often its running total is logged (one line a minute
is readable in journald and still shows that loss continues)."""


class DropCounter:
    """Counts drops of one kind and logs them once per burst.

    Args:
        what: what is dropped and why, as a log phrase ("oldest events: outbox full").
        log: where the lines go.
        clock: monotonic seconds, injectable for tests.

    Example:
        >>> drops = DropCounter("oldest events: outbox full", logging.getLogger("x"))
        >>> drops.add(3); drops.end_burst(); drops.total
        3
    """

    def __init__(
        self,
        what: str,
        log: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.total = 0
        self._log = log
        self._clock = clock
        self._in_burst = 0
        self._last_line = 0.0

    @property
    def in_burst(self) -> bool:
        """Drops were counted since the last ``end_burst``."""
        return self._in_burst > 0

    def add(self, count: int = 1) -> None:
        """Count ``count`` dropped events (they are part of the current burst)."""
        if count <= 0:
            return
        self.total += count
        now = self._clock()
        if self._in_burst == 0:
            self._log.warning("dropping %s", self.what)
            self._last_line = now
        self._in_burst += count
        if now - self._last_line >= SUMMARY_INTERVAL_S:
            self._log.warning("still dropping %s: %d so far", self.what, self._in_burst)
            self._last_line = now

    def end_burst(self) -> None:
        """The condition that caused drops is over: log the burst's total once."""
        if self._in_burst:
            self._log.warning("dropped %d %s", self._in_burst, self.what)
            self._in_burst = 0
