"""Wires sources to the core and the core to sinks: threads, queues, shutdown.

Replay: one thread, a timestamp-ordered merge of the recorded sources, as fast as
the CPU allows, deterministic. Live: each source in its own thread feeding its own
bounded queue (full: the oldest observation is dropped and counted); the core
merges them and advances the watermark to the slowest active source, so one
silent sensor cannot hold windows open forever (see ``idle_after_s``).
"""

from __future__ import annotations

import heapq
import logging
import math
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from types import FrameType
from typing import Any

from agent import __version__
from agent.behaviour.models import ModelHolder
from agent.config import AgentConfig
from agent.observations import Observation
from agent.pipeline import Pipeline
from agent.publish.events import envelope
from agent.publish.sink import Sink
from agent.sources.base import Source, SourceContext
from agent.sources.registry import build_sources

log = logging.getLogger(__name__)

MAX_FUTURE_S = 60.0
"""Live observations stamped further ahead of the wall clock than this are refused:
a sensor with a wrong clock must not open windows hours ahead."""
RESTART_BACKOFF_S = (1.0, 60.0)
"""A crashed source is restarted after 1 s, doubling to at most a minute."""
REPLAY_NOISE_SEED = 0
"""Replays are for testing: their noise is reproducible and protects nothing."""
CORE_WAKE_S = 0.2
"""The core wakes at least this often to advance the watermark on the wall clock."""


def context_for(config: AgentConfig, base_dir: str, replay: bool) -> SourceContext:
    return SourceContext(
        replay=replay,
        base_dir=base_dir,
        store_zones=tuple(z.id for z in config.store.zones),
    )


@dataclass
class ReplayResult:
    observations: int
    events: dict[str, int]
    interrupted: bool


def replay(
    config: AgentConfig,
    sinks: list[Sink],
    base_dir: str = ".",
    stop: threading.Event | None = None,
    on_progress: Callable[[float, int], None] | None = None,
    pipeline: Pipeline | None = None,
    models: ModelHolder | None = None,
) -> ReplayResult:
    """Replay every configured source, merged by timestamp, to the sinks.

    ``on_progress(fraction, observations)`` is called about every 4096 observations.
    A replay's privacy noise (if configured) is seeded from the store id, so the same
    fixture gives the same bytes; a given ``pipeline`` replaces the default one.
    """
    stop = stop or threading.Event()
    sources = build_sources(config.sources, context_for(config, base_dir, replay=True))
    if pipeline is None:
        pipeline = Pipeline(config, sinks, models=models, noise_seed=REPLAY_NOISE_SEED)
    reorder_s = config.aggregation.reorder_s
    count = 0
    try:
        merged: Iterator[Observation] = heapq.merge(
            *(s.observations(stop) for s in sources), key=attrgetter("t")
        )
        for obs in merged:
            pipeline.push(obs)
            pipeline.advance(obs.t - reorder_s)
            count += 1
            if on_progress is not None and count % 4096 == 0:
                on_progress(_fraction(sources), count)
            if stop.is_set():
                break
        pipeline.finish(end_of_input=not stop.is_set())
    finally:
        for s in sources:
            s.close()
    return ReplayResult(count, dict(pipeline.events_out), stop.is_set())


def _fraction(sources: list[Source]) -> float:
    done = total = 0
    for s in sources:
        p = s.progress()
        if p is not None:
            done, total = done + p[0], total + p[1]
    return done / total if total else 0.0


class BoundedQueue:
    """A source's queue: bounded, drops the oldest when full, counts every drop."""

    def __init__(self, maxsize: int, wake: threading.Event) -> None:
        self._items: deque[Observation] = deque()
        self._lock = threading.Lock()
        self._wake = wake
        self.maxsize = maxsize
        self.dropped = 0

    def put(self, item: Observation) -> None:
        with self._lock:
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
        self._wake.set()

    def take_all(self) -> list[Observation]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class _SourceState:
    source: Source
    queue: BoundedQueue
    thread: threading.Thread | None = None
    state: str = "starting"
    last_t: float | None = None
    last_wall: float = field(default_factory=time.monotonic)
    restarts: int = 0
    future: int = 0


class LiveRuntime:
    """Runs the agent until SIGTERM/SIGINT or until every source has ended."""

    def __init__(
        self,
        config: AgentConfig,
        sinks: list[Sink],
        base_dir: str = ".",
        models: ModelHolder | None = None,
    ) -> None:
        self.config = config
        self.sinks = sinks
        self.stop = threading.Event()
        self._wake = threading.Event()
        self.pipeline = Pipeline(config, sinks, models=models)
        ctx = context_for(config, base_dir, replay=False)
        size = config.runtime.queue_size
        self.states = [
            _SourceState(s, BoundedQueue(size, self._wake))
            for s in build_sources(config.sources, ctx)
        ]
        self._started = time.monotonic()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            log.info("received %s: stopping", signal.Signals(signum).name)
            self.stop.set()
            self._wake.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self) -> None:
        for st in self.states:
            st.thread = threading.Thread(
                target=self._feed, args=(st,), name=f"source-{st.source.id}", daemon=True
            )
            st.thread.start()
        log.info("edge-agent %s running with %d source(s)", __version__, len(self.states))
        next_health = time.monotonic() + self.config.runtime.health_interval_s
        reorder_s = self.config.aggregation.reorder_s
        ended = False
        while not self.stop.is_set():
            self._wake.wait(CORE_WAKE_S)
            self._wake.clear()
            self._take()
            watermark, ended = self._watermark()
            if ended:
                break
            self.pipeline.advance(watermark - reorder_s)
            if time.monotonic() >= next_health:
                next_health += self.config.runtime.health_interval_s
                self._emit_health()
        self.stop.set()
        for st in self.states:
            if st.thread is not None:
                st.thread.join(timeout=5)
        self._take()
        self.pipeline.finish(end_of_input=ended)
        for st in self.states:
            st.source.close()
        log.info("stopped: %s", "every source ended" if ended else "on request")

    def _feed(self, st: _SourceState) -> None:
        delay = RESTART_BACKOFF_S[0]
        while not self.stop.is_set():
            st.state = "running"
            try:
                for obs in st.source.observations(self.stop):
                    st.queue.put(obs)
                st.state = "ended"
                self._wake.set()
                return
            except Exception as e:  # a source bug must not take the agent down
                st.state = "failed"
                st.restarts += 1
                log.error(
                    "source %s failed (%s: %s); restarting in %.0f s",
                    st.source.id,
                    type(e).__name__,
                    e,
                    delay,
                )
                self.stop.wait(delay)
                delay = min(delay * 2, RESTART_BACKOFF_S[1])

    def _take(self) -> None:
        horizon = time.time() + MAX_FUTURE_S
        for st in self.states:
            items = st.queue.take_all()
            if items:
                st.last_wall = time.monotonic()
            for obs in items:
                if obs.t > horizon:
                    st.future += 1
                    if st.future == 1:
                        log.warning(
                            "source %s: observation stamped %.0f s in the future refused; "
                            "check the sensor's clock (further ones are counted)",
                            st.source.id,
                            obs.t - time.time(),
                        )
                    continue
                st.last_t = obs.t if st.last_t is None else max(st.last_t, obs.t)
                self.pipeline.push(obs)

    def _watermark(self) -> tuple[float, bool]:
        """(event-time watermark, every source has ended)."""
        now_wall, now_mono = time.time(), time.monotonic()
        idle_after = self.config.runtime.idle_after_s
        marks = []
        for st in self.states:
            if st.state == "ended" and not len(st.queue):
                continue
            idle = now_mono - st.last_wall >= idle_after
            if idle:
                marks.append(now_wall if st.last_t is None else max(st.last_t, now_wall))
            else:
                marks.append(st.last_t if st.last_t is not None else -math.inf)
        if not marks:
            return math.inf, True
        return min(marks), False

    def health(self) -> dict[str, Any]:
        sources = {}
        for st in self.states:
            own = st.source.health()
            # While its thread runs, the source knows best (connecting, reconnecting...);
            # once it failed or ended, the runtime does.
            state = own.pop("state", st.state) if st.state == "running" else st.state
            own.pop("state", None)
            sources[st.source.id] = {
                **own,
                "state": state,
                "queued": len(st.queue),
                "dropped": st.queue.dropped,
                "restarts": st.restarts,
                "future_refused": st.future,
            }
        return {
            "agent_version": __version__,
            "uptime_s": round(time.monotonic() - self._started, 1),
            "sources": sources,
            "pipeline": self.pipeline.health(),
            "sinks": {type(s).__name__: s.health() for s in self.sinks},
            "python": sys.version.split()[0],
        }

    def _emit_health(self) -> None:
        store = self.config.store
        now = time.time()
        event = envelope(
            kind="health",
            store_id=store.id,
            gateway_id=store.gateway_id,
            key=[now],
            id_time=now,
            time=now,
            subject="gateway",
            data={"store_id": store.id, "gateway_id": store.gateway_id, **self.health()},
        )
        for sink in self.sinks:
            sink.emit("health", event)
