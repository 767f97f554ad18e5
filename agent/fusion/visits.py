"""The visit builder: camera tracks become anonymous visits with zone stays.

A visit opens with a track's first point, follows it through the store's zones and
closes at the track's end or after ``timeout_s`` without a point. What it hands on
are visit events (opened, zone entered, zone left, closed) whose ``visit`` is a
counter private to this process; the track id stays here and is forgotten when
the visit closes.

Example:
    >>> from agent.config import Zone
    >>> from agent.store import StoreLayout
    >>> from agent.observations import TrackPoint, TrackEnd
    >>> door = Zone(id="door", kind="entrance", polygon=[(0, 0), (2, 0), (2, 2), (0, 2)])
    >>> vb = VisitBuilder(StoreLayout([door]), timeout_s=30, max_open=100)
    >>> [type(e).__name__ for e in vb.on_point(TrackPoint(0.0, "cam", 1, 1.0, 1.0))]
    ['VisitOpened', 'ZoneEntered']
    >>> [type(e).__name__ for e in vb.on_end(TrackEnd(5.0, "cam", 1))]
    ['ZoneLeft', 'VisitClosed']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agent.observations import (
    TrackEnd,
    TrackPoint,
    Visit,
    VisitClosed,
    VisitEvent,
    VisitOpened,
    ZoneEntered,
    ZoneLeft,
    ZoneStay,
)
from agent.store import StoreLayout


@dataclass
class _OpenVisit:
    visit: int
    start: float
    last_t: float
    x: float
    y: float
    entered: bool
    zone: str | None
    zone_since: float
    path_m: float = 0.0
    stays: list[ZoneStay] = field(default_factory=list)
    pending: str | None = None
    pending_since: float | None = None


class VisitBuilder:
    """Builds visits from camera tracks, with bounded memory.

    Args:
        layout: the store's zones.
        timeout_s: a track unseen this long (event time) has left.
        max_open: most visits held at once; beyond it the stalest closes early and
            ``evicted`` counts it (seen in health).
        zone_confirm_s: a visit changes zone only after this long in the new one,
            back-dated to when it got there, so box jitter along a zone edge never
            counts one person as many entries.
    """

    def __init__(
        self, layout: StoreLayout, timeout_s: float, max_open: int, zone_confirm_s: float = 1.0
    ) -> None:
        self.layout = layout
        self.timeout_s = timeout_s
        self.zone_confirm_s = zone_confirm_s
        self.max_open = max_open
        self.evicted = 0
        self._next_visit = 1
        # Insertion order is kept as "least recently seen first": a visit is moved
        # to the end on every point, so expiry only ever looks at the front.
        self._open: dict[tuple[str, int], _OpenVisit] = {}

    @property
    def open_count(self) -> int:
        return len(self._open)

    def on_point(self, p: TrackPoint) -> list[VisitEvent]:
        key = (p.source, p.track)
        events: list[VisitEvent] = []
        v = self._open.pop(key, None)
        zone = self.layout.zone_at(p.x, p.y)
        if v is None:
            entered = not self.layout.has_entrance or (
                zone is not None and self.layout.kind[zone] == "entrance"
            )
            v = _OpenVisit(self._next_visit, p.t, p.t, p.x, p.y, entered, zone, p.t)
            self._next_visit += 1
            events.append(VisitOpened(p.t, v.visit, entered))
            if zone is not None:
                events.append(ZoneEntered(p.t, v.visit, zone))
        else:
            v.path_m += math.hypot(p.x - v.x, p.y - v.y)
            v.x, v.y = p.x, p.y
            if p.t > v.last_t:
                v.last_t = p.t
            events.extend(self._move(v, zone, p.t))
        self._open[key] = v
        while len(self._open) > self.max_open:
            self.evicted += 1
            stalest = next(iter(self._open))
            events.extend(self._close(stalest, self._open[stalest].last_t))
        return events

    def _move(self, v: _OpenVisit, zone: str | None, t: float) -> list[VisitEvent]:
        """Debounced zone change: confirmed once the new zone has held ``zone_confirm_s``."""
        if zone == v.zone:
            v.pending = v.pending_since = None
            return []
        if zone != v.pending or v.pending_since is None:
            v.pending, v.pending_since = zone, t
        if t - v.pending_since < self.zone_confirm_s:
            return []
        since = v.pending_since
        events: list[VisitEvent] = []
        if v.zone is not None:
            stay = ZoneStay(v.zone, v.zone_since, since)
            v.stays.append(stay)
            events.append(ZoneLeft(since, v.visit, stay))
        if zone is not None:
            events.append(ZoneEntered(since, v.visit, zone))
        v.zone, v.zone_since = zone, since
        v.pending = v.pending_since = None
        return events

    def on_end(self, e: TrackEnd) -> list[VisitEvent]:
        v = self._open.get((e.source, e.track))
        if v is None:
            return []
        return self._close((e.source, e.track), max(v.last_t, e.t))

    def expire(self, watermark: float) -> list[VisitEvent]:
        """Close every visit unseen since ``watermark - timeout_s``; it left at its last point."""
        events: list[VisitEvent] = []
        while self._open:
            key = next(iter(self._open))
            v = self._open[key]
            if v.last_t + self.timeout_s > watermark:
                break
            events.extend(self._close(key, v.last_t))
        return events

    def close_all(self) -> list[VisitEvent]:
        """End of input: every open visit left at its last point."""
        events: list[VisitEvent] = []
        for key in list(self._open):
            events.extend(self._close(key, self._open[key].last_t))
        return events

    def _close(self, key: tuple[str, int], t: float) -> list[VisitEvent]:
        v = self._open.pop(key)
        events: list[VisitEvent] = []
        if v.zone is not None:
            stay = ZoneStay(v.zone, v.zone_since, t)
            v.stays.append(stay)
            events.append(ZoneLeft(t, v.visit, stay))
        record = Visit(
            start=v.start, end=t, entered=v.entered, stays=tuple(v.stays), path_m=v.path_m
        )
        events.append(VisitClosed(t, v.visit, record))
        return events
