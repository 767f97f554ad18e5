"""Runs a source's observation loop on its own thread, as the runtime does in live mode."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agent.observations import ItemEvent
from agent.sources.base import Source


class Runner:
    """Collects a live source's item events until closed."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.stop = threading.Event()
        self.events: list[ItemEvent] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for obs in self.source.observations(self.stop):
            if isinstance(obs, ItemEvent):
                self.events.append(obs)

    def wait(self, check: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out; health={self.source.health()}"
            time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.source.close()
        assert not self.thread.is_alive()
