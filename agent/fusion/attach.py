"""Attach RFID item interactions and Wi-Fi phones to the visits they belong to.

Neither feed says who: an item event says which zone, a sighting which sensor
(and so which zone). Fusion attributes by co-occurrence:

- a pick is seen when the item leaves the shelf antenna's field, that is when its
  picker walks off: with several visits at that zone it waits ``PICK_DEFER_S`` and
  goes to the one that left the zone nearest that moment, else the one there longest;
- a return, try-on or purchase goes to the visit carrying a unit of that product
  (picked, not yet put back or bought), else to the visit in that zone longest (someone
  who just walked in rarely handles stock); ties go to the earliest visit so replays
  stay deterministic. A return is confirmed only once the item has rested on its shelf
  a while, often after its carrier walked out, so a closed visit is held back from
  counting for ``linger_s`` past its end and can still receive the items it carried;
- a phone goes with the visit it shared zones with most often over the whole visit,
  not one instant, so a phone passing a queue is not given to everyone in it.

Tokens live here only while their visit is open and are never handed on: a closed
visit carries counts (``DeviceActivity``), not the token.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.observations import DeviceActivity, DeviceSighting, ItemEvent, Visit, VisitClosed

if TYPE_CHECKING:
    from agent.fusion.visits import OpenVisit

MAX_TOKENS_PER_VISIT = 16
"""Bounds memory per visit; a crowded zone can put dozens of phones beside one person,
but the true companion is among the first heard and keeps being heard."""
PICK_DEFER_S = 8.0
"""A pick is seen when the item leaves the shelf antenna's field, that is when the
shopper carrying it walks off. On a simulated demo-store hour the picker's visit left the
shelf's zone within 8 s of that moment in about half the picks, while others stayed: so
a pick waits this long and goes to whoever left nearest its moment."""
MAX_HELD = 5000
"""Closed visits held for late items at once; beyond it the one due first is counted
now (bounds memory if a burst of visits closes together)."""
MIN_DEVICE_HITS = 3
"""Fewer shared sightings than this is chance, not a phone carried round the store."""


@dataclass
class _DeviceHits:
    sightings: int = 0
    data_frames: int = 0
    randomised: bool = False


def _near(v: OpenVisit, item: ItemEvent) -> bool:
    """In the item's zone, or just left it: an antenna's field reaches past its zone's
    edge, so a picker is often a step into the next zone when the item leaves it."""
    if v.zone == item.zone or v.pending == item.zone:
        return True
    last = v.stays[-1] if v.stays else None
    return last is not None and last.zone == item.zone and item.t - last.leave <= PICK_DEFER_S


@dataclass
class _Pick:
    """A pick waiting to see which of the people at the shelf walks off with the item."""

    item: ItemEvent
    candidates: list[OpenVisit]
    done: bool = False

    def decide(self) -> None:
        if self.done:
            return
        self.done = True
        best = min(self.candidates, key=self._score)
        best.attached.add(self.item)

    def _score(self, v: OpenVisit) -> tuple[int, float, int]:
        """Lowest wins: left the zone near the pick's moment, else longest there."""
        t, zone = self.item.t, self.item.zone
        stays = [(s.enter, s.leave) for s in v.stays if s.zone == zone]
        if v.zone == zone:
            stays.append((v.zone_since, math.inf))
        elif v.pending == zone and v.pending_since is not None:
            stays.append((v.pending_since, math.inf))
        around = [(e, lv) for e, lv in stays if e <= t + PICK_DEFER_S and lv >= t - PICK_DEFER_S]
        if not around:
            return (2, 0.0, v.visit)
        enter, leave = min(around, key=lambda s: abs(s[1] - t))
        if abs(leave - t) <= PICK_DEFER_S:
            return (0, abs(leave - t), v.visit)
        return (1, enter - t, v.visit)


@dataclass
class Attachments:
    """What fusion attached to one open visit."""

    items: list[ItemEvent] = field(default_factory=list)
    hits: dict[str, _DeviceHits] = field(default_factory=dict)
    sensors: set[str] = field(default_factory=set)
    picks: list[_Pick] = field(default_factory=list)  # undecided picks it may have made

    def add(self, item: ItemEvent) -> None:
        self.items.append(item)
        self.sensors.add("rfid")

    def settle(self) -> None:
        """Decide every pick this visit might have made (it is closing), in time order."""
        for pick in self.picks:
            pick.decide()
        self.picks.clear()
        self.items.sort(key=lambda i: i.t)

    def device(self) -> DeviceActivity | None:
        """The companion phone's activity, if one was heard with it often enough."""
        if not self.hits:
            return None
        best = max(self.hits.values(), key=lambda h: (h.sightings, h.data_frames))
        if best.sightings < MIN_DEVICE_HITS:
            return None
        return DeviceActivity(best.sightings, best.data_frames, best.randomised)


@dataclass
class _Held:
    """A closed visit waiting ``linger_s`` for items confirmed after it left."""

    record: Visit
    attached: Attachments
    items_at_close: int

    def final(self) -> Visit:
        """The record, with the items that reached it after it closed."""
        items = self.attached.items
        if len(items) == self.items_at_close:
            return self.record
        items.sort(key=lambda i: i.t)
        return dataclasses.replace(
            self.record, items=tuple(items), sensors=self.record.sensors | {"rfid"}
        )


class Attacher:
    """Routes items and sightings to open visits, and late items to closed ones.

    Args:
        sensor_zones: Wi-Fi sensor id -> the store zone it covers.
        linger_s: how long (event time past its end) a closed visit can still receive
            a return, try-on or purchase of an item it carried; 0 counts it at once.
    """

    def __init__(self, sensor_zones: dict[str, str], linger_s: float = 0.0) -> None:
        self.sensor_zones = sensor_zones
        self.linger_s = linger_s
        self.items_unattributed = 0
        self.items_after_close = 0
        self.sightings_unplaced = 0
        self._picks: deque[_Pick] = deque()  # undecided, in event-time order
        self._held: list[tuple[float, int, _Held]] = []  # heap on (due, sequence)
        self._sequence = 0

    @property
    def held_count(self) -> int:
        return len(self._held)

    def hold(self, closed: VisitClosed) -> list[Visit]:
        """Take a closed visit; return the records now due for counting (this one at
        once when nothing can reach it late)."""
        if self.linger_s <= 0 or closed.attached is None:
            return [closed.record]
        attached = closed.attached
        attached.hits.clear()  # its phone is counted in the record: drop the tokens now
        self._sequence += 1
        entry = _Held(closed.record, attached, len(attached.items))
        heapq.heappush(self._held, (closed.t + self.linger_s, self._sequence, entry))
        if len(self._held) > MAX_HELD:
            return [heapq.heappop(self._held)[2].final()]
        return []

    def release(self, watermark: float | None = None) -> list[Visit]:
        """The held visits due by ``watermark`` (all of them when None), in due order."""
        held, out = self._held, []
        while held and (watermark is None or held[0][0] <= watermark):
            out.append(heapq.heappop(held)[2].final())
        return out

    def on_item(self, item: ItemEvent, visits: Iterable[OpenVisit]) -> bool:
        visits = list(visits)
        if item.action == "picked":
            here = [v for v in visits if _near(v, item)]
            if len(here) == 1:
                here[0].attached.add(item)
                return True
            if here:
                pick = _Pick(item, here)
                self._picks.append(pick)
                for v in here:
                    v.attached.picks.append(pick)
                return True
        if item.action != "picked":
            carrier = self._carrier(item, visits)
            if carrier is not None:
                carrier.add(item)
                return True
        best = self._in_zone(item, visits)
        if best is None:
            self.items_unattributed += 1
            return False
        best.attached.add(item)
        return True

    def resolve(self, watermark: float) -> None:
        """Decide the picks whose wait is over (event time ``watermark``)."""
        picks = self._picks
        while picks and picks[0].item.t + PICK_DEFER_S <= watermark:
            picks.popleft().decide()

    def _carrier(self, item: ItemEvent, visits: list[OpenVisit]) -> Attachments | None:
        """The visit carrying a unit of this product: it picked one and has not put it
        back or bought it, open or closed within ``linger_s``. Returns, try-ons and
        purchases follow a pick, often after the shopper has moved on or walked out, or
        while others crowd the shelf. One in the item's zone first, then the latest pick."""
        gtin = item.product.gtin
        if gtin is None:
            return None
        candidates = [(v.attached, v.zone == item.zone) for v in visits]
        candidates += [(h.attached, False) for _, _, h in self._held]
        best: Attachments | None = None
        best_key = (False, -math.inf)
        closed = False
        for n, (attached, here) in enumerate(candidates):
            carried, last_pick = 0, -math.inf
            for i in attached.items:
                if i.product.gtin != gtin:
                    continue
                if i.action == "picked":
                    carried, last_pick = carried + 1, max(last_pick, i.t)
                elif i.action in ("returned", "purchased"):
                    carried -= 1
            if carried <= 0:
                continue
            key = (here, last_pick)
            if key > best_key:
                best, best_key, closed = attached, key, n >= len(visits)
        self.items_after_close += closed
        return best

    @staticmethod
    def _in_zone(item: ItemEvent, visits: list[OpenVisit]) -> OpenVisit | None:
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
        return best

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
