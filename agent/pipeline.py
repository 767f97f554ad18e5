"""The event-time core: reorder buffer, visits, aggregation, privacy, envelope, sinks.

The pipeline has no threads and no clock of its own: the runtime pushes
observations and advances the watermark, in live mode and in replay alike, so a
replay of the same input produces the same events, byte for byte.

A watermark W promises that no observation older than W will be pushed again;
one that is older all the same is late: counted per source and dropped.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import math
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from agent.aggregate.characteristics import CharacteristicsCounter
from agent.aggregate.privacy import LaplaceNoise, characteristics_data, traffic_data
from agent.aggregate.traffic import TrafficAggregator, TrafficWindow
from agent.behaviour.models import AXES, ModelHolder
from agent.config import AgentConfig
from agent.fusion.attach import Attacher
from agent.fusion.features import SensorSet, StoreShape
from agent.fusion.visits import VisitBuilder
from agent.fusion.wifi_visits import WifiVisitBuilder, wifi_visit_builder
from agent.observations import (
    DeviceSighting,
    ItemEvent,
    Observation,
    TrackEnd,
    TrackPoint,
    Visit,
    VisitClosed,
    VisitEvent,
)
from agent.publish.events import envelope, iso
from agent.publish.sink import Event, Sink
from agent.store import StoreLayout

log = logging.getLogger(__name__)


class ReorderBuffer:
    """Holds observations until the watermark passes them, then yields them in time order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Observation]] = []
        self._seq = 0  # ties keep arrival order, so equal timestamps stay deterministic
        self.watermark = -math.inf
        self.late: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, obs: Observation) -> bool:
        if obs.t < self.watermark:
            if not self.late[obs.source]:
                log.warning(
                    "source %s: observation %.1f s behind the watermark dropped as late "
                    "(reorder allowance too small, or its clock lags); further ones are counted",
                    obs.source,
                    self.watermark - obs.t,
                )
            self.late[obs.source] += 1
            return False
        heapq.heappush(self._heap, (obs.t, self._seq, obs))
        self._seq += 1
        return True

    def release(self, watermark: float) -> Iterator[Observation]:
        self.watermark = max(self.watermark, watermark)
        while self._heap and self._heap[0][0] <= self.watermark:
            yield heapq.heappop(self._heap)[2]

    def drain(self) -> Iterator[Observation]:
        while self._heap:
            yield heapq.heappop(self._heap)[2]


def store_sensors(config: AgentConfig) -> SensorSet:
    """Which kinds of feed the store has, from its configured sources."""
    have: set[str] = set()
    for kind in type(config.sources).model_fields:
        for source in getattr(config.sources, kind):
            if kind in ("camera", "wifi", "rfid"):
                have.add(kind)
            have.update(getattr(source, "sensors", ()))
    return SensorSet(camera="camera" in have, rfid="rfid" in have, wifi="wifi" in have)


ITEM_LINGER_MARGIN_S = 10.0
"""Beyond the return settle time: the put-back itself and a reader cycle or two."""
MAX_ITEM_LINGER_S = 120.0
"""A closed visit is held at most this long, whatever return_settle_s says: windows
are published this much after they end, at the latest."""


def item_linger_s(config: AgentConfig) -> float:
    """How long a closed visit waits for the returns of items it carried.

    An item counts as returned only once it has rested on its shelf for the reader's
    ``return_settle_s``; a shopper putting things back on the way out has often left
    by then. Without RFID nothing can arrive late, and visits are counted at once.
    """
    settle = [r.interactions.return_settle_s for r in config.sources.rfid]
    if not settle:
        return 0.0
    return min(max(settle) + ITEM_LINGER_MARGIN_S, MAX_ITEM_LINGER_S)


def sensor_zones(config: AgentConfig) -> dict[str, str]:
    """Source id -> zone, for every configured source that covers one zone."""
    zones: dict[str, str] = {}
    for kind in type(config.sources).model_fields:
        for source in getattr(config.sources, kind):
            zone = getattr(source, "zone", None)
            if isinstance(zone, str):
                zones[source.id] = zone
    return zones


class Pipeline:
    """Observations in, events out to every sink."""

    def __init__(
        self,
        config: AgentConfig,
        sinks: list[Sink],
        models: ModelHolder | None = None,
        noise_seed: int | None = None,
        visit_observer: Callable[[Visit], None] | None = None,
    ) -> None:
        """
        Args:
            models: the behaviour models; default: load them as the config says.
            noise_seed: seeds the privacy noise for a reproducible replay; None (live)
                seeds it from the OS, so nobody can recompute and subtract it.
            visit_observer: called with every closed visit (training and diagnosis
                tools); a visit carries no identifier, only counts and zone stays.
        """
        self.visit_observer = visit_observer
        self.config = config
        self.sinks = sinks
        self.layout = StoreLayout(config.store.zones)
        self.sensors = store_sensors(config)
        self.models = models or ModelHolder.start(config.behaviour.models_dir, self.sensors)
        self.noise_seed = noise_seed
        agg = config.aggregation
        self.reorder = ReorderBuffer()
        self.visits: VisitBuilder | WifiVisitBuilder = VisitBuilder(
            self.layout, agg.visit_timeout_s, agg.max_open_visits, agg.zone_confirm_s
        )
        if not self.sensors.camera:
            # Without cameras, phones present in zones are the spine of a visit.
            self.visits = wifi_visit_builder(config, self.layout) or self.visits
        linger = item_linger_s(config)
        # Zone changes are back-dated by up to zone_confirm_s, exits are known only
        # visit_timeout_s after the last point, and a closed visit waits up to linger
        # for items it carried out of reach: a window waits for all of them.
        self.traffic = TrafficAggregator(
            [z.id for z in config.store.zones],
            agg.window_s,
            settle_s=max(agg.visit_timeout_s, linger) + agg.zone_confirm_s,
        )
        self.attacher = Attacher(sensor_zones(config), linger)
        self.characteristics = CharacteristicsCounter(
            [z.id for z in config.store.zones],
            StoreShape.of(config.store.zones),
            list(config.behaviour.characteristics),
            self.sensors,
            agg.window_s,
        )
        self.counts: Counter[str] = Counter()
        self.events_out: Counter[str] = Counter()
        self.last_t: float | None = None

    # -- driving -----------------------------------------------------------

    def push(self, obs: Observation) -> None:
        if self.reorder.push(obs):
            self.traffic.begin(obs.t)

    def advance(self, watermark: float) -> None:
        for obs in self.reorder.release(watermark):
            self._process(obs)
        self.attacher.resolve(watermark)
        self._visit_events(self.visits.expire(watermark))
        self._count_visits(self.attacher.release(watermark))
        for window in self.traffic.advance(watermark):
            self._publish_traffic(window)

    def finish(self, end_of_input: bool) -> None:
        """Flush everything. At the end of a recording every visit has left; at a
        shutdown the people inside are still inside and stay in the occupancy."""
        for obs in self.reorder.drain():
            self._process(obs)
        if self.last_t is None:
            return
        if end_of_input:
            self._visit_events(self.visits.close_all())
        else:
            self._visit_events(self.visits.expire(self.last_t))
        self._count_visits(self.attacher.release())
        for window in self.traffic.flush(self.last_t):
            self._publish_traffic(window)

    def health(self) -> dict[str, Any]:
        return {
            "observations": dict(sorted(self.counts.items())),
            "late": dict(sorted(self.reorder.late.items())),
            "buffered": len(self.reorder),
            "open_visits": self.visits.open_count,
            "closed_visits_held": self.attacher.held_count,
            "visits_evicted": self.visits.evicted,
            "items_unattributed": self.attacher.items_unattributed,
            "items_after_close": self.attacher.items_after_close,
            "sightings_unplaced": self.attacher.sightings_unplaced,
            "events": dict(sorted(self.events_out.items())),
        }

    # -- stages ------------------------------------------------------------

    def _process(self, obs: Observation) -> None:
        self.last_t = obs.t if self.last_t is None else max(self.last_t, obs.t)
        visits = self.visits
        if isinstance(obs, TrackPoint):
            self.counts["track_point"] += 1
            if isinstance(visits, VisitBuilder):
                self._visit_events(visits.on_point(obs))
        elif isinstance(obs, TrackEnd):
            self.counts["track_end"] += 1
            if isinstance(visits, VisitBuilder):
                self._visit_events(visits.on_end(obs))
        elif isinstance(obs, DeviceSighting):
            self.counts["device_sighting"] += 1
            if isinstance(visits, WifiVisitBuilder):
                self._visit_events(visits.on_sighting(obs))
            else:
                self.attacher.on_sighting(obs, visits.open_visits())
        elif isinstance(obs, ItemEvent):
            self.counts["item_event"] += 1
            self.attacher.on_item(obs, self.visits.open_visits())

    def _visit_events(self, events: list[VisitEvent]) -> None:
        for event in events:
            self.traffic.on_event(event)
            if isinstance(event, VisitClosed):
                self._count_visits(self.attacher.hold(event))

    def _count_visits(self, records: list[Visit]) -> None:
        for record in records:
            self.characteristics.on_visit(record, self.models.model)
            if self.visit_observer is not None:
                self.visit_observer(record)

    def _noise(self, window_start: float) -> LaplaceNoise | None:
        epsilon = self.config.privacy.epsilon
        if epsilon is None:
            return None
        if self.noise_seed is None:
            seed = secrets.randbits(64)
        else:
            key = f"{self.noise_seed}|{self.config.store.id}|{window_start}".encode()
            seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
        # One visit adds 1 to the visit count, 1 per axis and 1 per set it is in, in
        # the store scope and in every zone it stayed in: that bounds the L1 change.
        per_scope = 1 + len(AXES) + len(self.config.behaviour.characteristics)
        sensitivity = per_scope * (1 + len(self.config.store.zones))
        return LaplaceNoise(epsilon, sensitivity, np.random.default_rng(seed))

    def _publish_traffic(self, window: TrafficWindow) -> None:
        """Publish one window: its traffic events, then its characteristics events,
        handed to each sink in one call (one durable commit for the whole window)."""
        store = self.config.store
        out: list[tuple[str, Event]] = []
        span = {
            "start": iso(window.start),
            "end": iso(window.end),
            "observed_from": iso(window.observed_from),
            "observed_to": iso(window.observed_to),
            "complete": window.complete,
        }
        part: list[object] = [] if window.complete else [window.observed_from, window.observed_to]
        for scope in window.scopes:
            zone = (
                None
                if scope.zone is None
                else {"id": scope.zone, "kind": self.layout.kind[scope.zone]}
            )
            data = {
                "store_id": store.id,
                "gateway_id": store.gateway_id,
                "window": span,
                "zone": zone,
                **traffic_data(window, scope, self.config.privacy.k),
            }
            event = envelope(
                kind="traffic",
                store_id=store.id,
                gateway_id=store.gateway_id,
                key=[window.start, scope.zone or "store", *part],
                id_time=window.start,
                time=window.observed_to,
                subject=scope.zone or "store",
                data=data,
            )
            out.append(("traffic", event))
        out += self._characteristics_events(window, span, part)
        for topic, _ in out:
            self.events_out[topic] += 1
        for sink in self.sinks:
            sink.emit_many(out)

    def _characteristics_events(
        self, window: TrafficWindow, span: dict[str, Any], part: list[object]
    ) -> list[tuple[str, Event]]:
        store = self.config.store
        out: list[tuple[str, Event]] = []
        model = self.models.model
        counts = self.characteristics.take(window.start, model)
        noise = self._noise(window.start)
        for scope_id, scope_counts in counts.items():
            zone = None if not scope_id else {"id": scope_id, "kind": self.layout.kind[scope_id]}
            data = {
                "store_id": store.id,
                "gateway_id": store.gateway_id,
                "window": span,
                "zone": zone,
                **characteristics_data(
                    scope_counts, self.config.privacy.k, noise, classified=model is not None
                ),
                "model": None
                if model is None
                else {"name": model.name, "version": model.version, "sensors": list(model.sensors)},
            }
            data["privacy"] = data.pop("privacy")  # keep privacy last, as in traffic
            event = envelope(
                kind="characteristics",
                store_id=store.id,
                gateway_id=store.gateway_id,
                key=[window.start, scope_id or "store", *part],
                id_time=window.start,
                time=window.observed_to,
                subject=scope_id or "store",
                data=data,
            )
            out.append(("characteristics", event))
        return out
