"""Attach RFID item interactions and Wi-Fi phones to the visits they belong to.

Neither feed says who: an item event says which zone, a sighting which sensor
(and so which zone). Fusion attributes by co-occurrence:

- an item interaction goes to the visit standing in that zone longest at that
  moment (picking takes standing at the shelf; someone who just walked in rarely
  picks), ties to the earliest visit so replays stay deterministic;
- a phone goes with the visit it shared zones with most often over the whole visit,
  not one instant, so a phone passing a queue is not given to everyone in it.

Tokens live here only while their visit is open and are never handed on: a closed
visit carries counts (``DeviceActivity``), not the token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.observations import DeviceActivity, DeviceSighting, ItemEvent

if TYPE_CHECKING:
    from agent.fusion.visits import OpenVisit

MAX_TOKENS_PER_VISIT = 16
"""Bounds memory per visit; a crowded zone can put dozens of phones beside one person,
but the true companion is among the first heard and keeps being heard."""
MIN_DEVICE_HITS = 3
"""Fewer shared sightings than this is chance, not a phone carried round the store."""


@dataclass
class _DeviceHits:
    sightings: int = 0
    data_frames: int = 0
    randomised: bool = False


@dataclass
class Attachments:
    """What fusion attached to one open visit."""

    items: list[ItemEvent] = field(default_factory=list)
    hits: dict[str, _DeviceHits] = field(default_factory=dict)
    sensors: set[str] = field(default_factory=set)

    def device(self) -> DeviceActivity | None:
        """The companion phone's activity, if one was heard with it often enough."""
        if not self.hits:
            return None
        best = max(self.hits.values(), key=lambda h: (h.sightings, h.data_frames))
        if best.sightings < MIN_DEVICE_HITS:
            return None
        return DeviceActivity(best.sightings, best.data_frames, best.randomised)


class Attacher:
    """Routes items and sightings to open visits.

    Args:
        sensor_zones: Wi-Fi sensor id -> the store zone it covers.
    """

    def __init__(self, sensor_zones: dict[str, str]) -> None:
        self.sensor_zones = sensor_zones
        self.items_unattributed = 0
        self.sightings_unplaced = 0

    def on_item(self, item: ItemEvent, visits: Iterable[OpenVisit]) -> bool:
        best: OpenVisit | None = None
        best_stay = -1.0
        for v in visits:
            if v.zone == item.zone:
                stay = item.t - v.zone_since
            elif v.pending == item.zone and v.pending_since is not None:
                stay = item.t - v.pending_since
            else:
                continue
            if stay > best_stay or (
                stay == best_stay and best is not None and v.visit < best.visit
            ):
                best, best_stay = v, stay
        if best is None:
            self.items_unattributed += 1
            return False
        best.attached.items.append(item)
        best.attached.sensors.add("rfid")
        return True

    def on_sighting(self, s: DeviceSighting, visits: Iterable[OpenVisit]) -> None:
        zone = self.sensor_zones.get(s.source)
        if zone is None:
            self.sightings_unplaced += 1
            return
        for v in visits:
            if v.zone != zone:
                continue
            hits = v.attached.hits.get(s.token)
            if hits is None:
                if len(v.attached.hits) >= MAX_TOKENS_PER_VISIT:
                    continue
                hits = v.attached.hits[s.token] = _DeviceHits(randomised=s.randomised)
            hits.sightings += 1
            if s.kind == "data":
                hits.data_frames += 1
            v.attached.sensors.add("wifi")
