"""A one-line progress bar on stderr, only for a person watching a long replay."""

from __future__ import annotations

import sys
import time
from typing import TextIO

SHOW_AFTER_S = 2.0
"""Short replays finish before a bar would help; they print nothing."""
REDRAW_EVERY_S = 0.2


class Progress:
    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def update(self, fraction: float, count: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._start < SHOW_AFTER_S or now - self._last_draw < REDRAW_EVERY_S:
            return
        self._last_draw = now
        width = 30
        filled = int(width * min(max(fraction, 0.0), 1.0))
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} "
            f"{count:,} observations {now - self._start:.0f} s"
        )
        self.stream.flush()
        self._drawn = True

    def done(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
