"""Visits from Wi-Fi presence alone, for stores (or parts) without cameras.

A phone that becomes present in a zone (``agent.sources.wifi.presence``: signal
with hysteresis, passers-by filtered out) opens a visit; its zone stays follow the
zone it was last found present in; it closes once it has been present nowhere for
``timeout_s``. Items attach by zone and time exactly as with cameras.

Limits, measured in the model card: a phone that changes its random MAC mid-visit
becomes two visits (tokens are never linked), phones left at home are no visits,
and there is no walked path, so path features stay missing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from agent.config import AgentConfig
from agent.fusion.visits import OpenVisit, close_visit
from agent.observations import (
    DeviceActivity,
    DeviceSighting,
    VisitEntered,
    VisitEvent,
    VisitOpened,
    ZoneEntered,
    ZoneLeft,
    ZoneStay,
)
from agent.sources.wifi.config import PresenceConfig
from agent.sources.wifi.presence import Presence, PresenceEvent, Sensor
from agent.store import StoreLayout

SWEEP_S = 1.0
"""Visits that left are looked for once a second of event time, not on every frame."""


def wifi_visit_builder(config: AgentConfig, layout: StoreLayout) -> WifiVisitBuilder | None:
    """The Wi-Fi visit builder for a store whose only spine is Wi-Fi, else None."""
    wifi = list(getattr(config.sources, "wifi", []))
    if not wifi:
        return None
    sensors = {w.id: Sensor(w.zone, w.position[0], w.position[1]) for w in wifi}
    agg = config.aggregation
    return WifiVisitBuilder(
        layout, sensors, wifi[0].presence, agg.visit_timeout_s, agg.max_open_visits
    )


class WifiVisitBuilder:
    """Builds visits from phone presence, with bounded memory.

    Args:
        layout: the store's zones.
        sensors: each Wi-Fi source id's zone and position.
        presence: signal thresholds (the first Wi-Fi source's; sensors of one store
            are installed alike).
        timeout_s: a phone present nowhere this long has left.
        max_open: most visits held at once; beyond it the stalest closes early.
    """

    def __init__(
        self,
        layout: StoreLayout,
        sensors: Mapping[str, Sensor],
        presence: PresenceConfig,
        timeout_s: float,
        max_open: int,
    ) -> None:
        self.layout = layout
        self.presence = Presence(sensors, presence)
        self.timeout_s = timeout_s
        self.max_open = max_open
        self.evicted = 0
        self._next_visit = 1
        self._open: dict[str, OpenVisit] = {}  # token -> visit, least recently seen first
        self._activity: dict[str, list[int]] = {}  # token -> [sightings, data frames]
        self._next_sweep = float("-inf")

    @property
    def open_count(self) -> int:
        return len(self._open)

    def open_visits(self) -> Iterator[OpenVisit]:
        return iter(self._open.values())

    def on_sighting(self, s: DeviceSighting) -> list[VisitEvent]:
        events: list[VisitEvent] = []
        for change in self.presence.add(s):
            events.extend(self._apply(change))
        v = self._open.get(s.token)
        if v is not None:
            v.last_t = max(v.last_t, s.t)
            activity = self._activity[s.token]
            activity[0] += 1
            activity[1] += s.kind == "data"
        return events

    def _apply(self, change: PresenceEvent) -> list[VisitEvent]:
        events: list[VisitEvent] = []
        v = self._open.pop(change.token, None)
        if change.state == "entered":
            if v is None:
                # Sensors hear the whole store, not a doorway: a phone becomes present
                # wherever its owner first lingers, so every Wi-Fi visit counts as an
                # arrival (footfall in = visitors carrying a phone with Wi-Fi on).
                entered = True
                v = OpenVisit(
                    self._next_visit,
                    change.t,
                    change.t,
                    0.0,
                    0.0,
                    ("wifi", 0),
                    set(),
                    entered=entered,
                    opened=True,
                )
                self._next_visit += 1
                self._activity[change.token] = [0, 0]
                events.append(VisitOpened(change.t, v.visit, entered))
                events.append(VisitEntered(change.t, v.visit))
            if v.zone is not None and v.zone != change.zone:
                stay = ZoneStay(v.zone, v.zone_since, max(change.t, v.zone_since))
                v.stays.append(stay)
                events.append(ZoneLeft(stay.leave, v.visit, stay))
            if v.zone != change.zone:
                events.append(ZoneEntered(max(change.t, v.zone_since), v.visit, change.zone))
                v.zone, v.zone_since = change.zone, max(change.t, v.zone_since)
            v.last_t = max(v.last_t, change.t)
        elif v is not None and v.zone == change.zone:
            stay = ZoneStay(v.zone, v.zone_since, max(change.t, v.zone_since))
            v.stays.append(stay)
            events.append(ZoneLeft(stay.leave, v.visit, stay))
            v.zone = None
            v.last_t = max(v.last_t, change.t)
        if v is not None:
            self._open[change.token] = v
        while len(self._open) > self.max_open:
            self.evicted += 1
            events.extend(self._close(next(iter(self._open))))
        return events

    def expire(self, watermark: float) -> list[VisitEvent]:
        events: list[VisitEvent] = []
        for change in self.presence.expire(watermark):
            events.extend(self._apply(change))
        if watermark < self._next_sweep:
            return events
        self._next_sweep = watermark + SWEEP_S
        for token in [t for t, v in self._open.items() if v.zone is None]:
            if self._open[token].last_t + self.timeout_s <= watermark:
                events.extend(self._close(token))
        return events

    def close_all(self) -> list[VisitEvent]:
        events: list[VisitEvent] = []
        for change in self.presence.finish():
            events.extend(self._apply(change))
        for token in list(self._open):
            events.extend(self._close(token))
        return events

    def _close(self, token: str) -> list[VisitEvent]:
        v = self._open.pop(token)
        sightings, data = self._activity.pop(token, [0, 0])
        device = DeviceActivity(sightings, data, randomised=False) if sightings else None
        return close_visit(v, max(v.last_t, v.zone_since), device, "wifi")
