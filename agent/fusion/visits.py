"""The visit builder: camera tracks become anonymous visits with zone stays.

Cameras lose people (occlusion, a blind spot between two views) and hand them
over where their views overlap, so one person is often several tracks. A new track
continues an open visit instead of starting one when it appears where that visit
is (another camera already follows it), where it was lost a moment ago, or where
the same camera's track of it has just gone silent (the tracker restarted the
person under a new id). A visit opens when it first settles in a store zone, so
people walking past outside the door never become visits, and closes when it walks
out through the door, after its tracks have ended (plus a short grace for a
re-appearance) or after ``timeout_s`` without a point.

What leaves this module are visit events whose ``visit`` is a counter private to
this process; track ids stay here and are forgotten when the visit closes. Items
and phones are attached by ``agent.fusion.attach``.

Example:
    >>> from agent.config import Zone
    >>> from agent.store import StoreLayout
    >>> from agent.observations import TrackPoint, TrackEnd
    >>> door = Zone(id="door", kind="entrance", polygon=[(0, 0), (2, 0), (2, 2), (0, 2)])
    >>> vb = VisitBuilder(StoreLayout([door]), timeout_s=30, max_open=100)
    >>> [type(e).__name__ for e in vb.on_point(TrackPoint(0.0, "cam", 1, 1.0, 1.0))]
    ['VisitOpened', 'VisitEntered', 'ZoneEntered']
    >>> vb.on_end(TrackEnd(5.0, "cam", 1)), [type(e).__name__ for e in vb.close_all()]
    ([], ['ZoneLeft', 'VisitClosed'])
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from agent.config import DOOR_KINDS
from agent.fusion.attach import Attachments
from agent.observations import (
    DeviceActivity,
    TrackEnd,
    TrackPoint,
    Visit,
    VisitClosed,
    VisitEntered,
    VisitEvent,
    VisitOpened,
    ZoneEntered,
    ZoneLeft,
    ZoneStay,
)
from agent.store import StoreLayout

TrackKey = tuple[str, int]

STOP_RADIUS_M = 1.0
"""Box jitter moves a standing person's foot point by tens of centimetres; a person
who stays within a metre is standing, browsing a shelf."""
STOP_MIN_S = 4.0
"""Shorter pauses are walking hesitations, not stops to look at goods."""
HANDOVER_M = 1.5
"""Two cameras' floor positions of one person differ by calibration error and box
jitter, well under this; two different people are rarely this close for long."""
LIVE_S = 1.0
"""A track updated this recently is live: a new track near it on another camera is a
handover."""
SWITCH_FRAMES = 2.5
"""A new track next to a visit whose own track on the same camera has missed this many
frames is that track under a new id (the tracker lost the box and restarted it), not
someone else. On simulated recordings (demo store, 5 fps) such a switch left the old track
silent for 0.6-1 s in 171 of 198 cases, while a new person appearing beside a tracked one
found it updated within 0.4 s in 378 of 397."""
STITCH_S = 5.0
"""A lost person who reappears within this is the same person (occlusion, blind spot)."""
DEFAULT_FRAME_S = 0.2
"""Until a camera's frame interval is known, assume 5 fps (the simulator's and a common
setting for people counting)."""
MIN_FRAME_S = 0.005
"""Steps shorter than this are timestamp jitter within one frame, not a frame interval."""
WALK_MPS = 1.5
"""Brisk walking speed: how far a lost person can have gone per second of absence."""


@dataclass
class OpenVisit:
    """A person in view. Fusion-internal: never published or logged."""

    visit: int
    start: float
    last_t: float
    x: float
    y: float
    primary: TrackKey
    tracks: set[TrackKey]
    primary_t: float = -math.inf  # last point from the primary track
    opened: bool = False
    entered: bool = False
    zone: str | None = None
    zone_since: float = 0.0
    x0: float = 0.0
    y0: float = 0.0
    path_m: float = 0.0
    reach_m: float = 0.0
    stops: int = 0
    anchor: tuple[float, float, float] | None = None  # x, y, since: the current stop candidate
    stop_counted: bool = False
    ended_at: float | None = None  # every track of it has ended
    inside: bool = False  # has been beyond the door zones
    counted: bool = False  # its footfall entry was counted
    left_at: float | None = None  # walked out through the door at this time
    stays: list[ZoneStay] = field(default_factory=list)
    pending: str | None = None
    pending_since: float | None = None
    attached: Attachments = field(default_factory=Attachments)


class VisitBuilder:
    """Builds visits from camera tracks, with bounded memory.

    Args:
        layout: the store's zones.
        timeout_s: a visit unseen this long (event time) has left.
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
        self._has_inner = any(kind not in DOOR_KINDS for kind in layout.kind.values())
        self.evicted = 0
        self.stitched = 0
        self._next_visit = 1
        # Least recently seen first: a visit moves to the end on every point, so
        # expiry only ever looks at the front.
        self._open: dict[int, OpenVisit] = {}
        self._by_track: dict[TrackKey, int] = {}
        self._source_t: dict[str, float] = {}
        self._frame_s: dict[str, float] = {}

    @property
    def open_count(self) -> int:
        return len(self._open)

    def open_visits(self) -> Iterator[OpenVisit]:
        """Visits in the store now (not people seen only outside it)."""
        return (v for v in self._open.values() if v.opened)

    def on_point(self, p: TrackPoint) -> list[VisitEvent]:
        self._clock(p)
        key = (p.source, p.track)
        vid = self._by_track.get(key)
        if vid is None:
            return self._new_track(key, p)
        v = self._open.pop(vid)
        self._open[vid] = v
        v.last_t = max(v.last_t, p.t)
        if key != v.primary:
            if v.primary in v.tracks and p.t - v.primary_t < LIVE_S:
                return []  # a second camera's view of the same person: keeps it alive
            v.primary = key  # the camera that had it lost it: this one takes over
        v.primary_t = p.t
        return self._advance(v, p)

    def _left(self, v: OpenVisit, events: list[VisitEvent]) -> list[VisitEvent]:
        """Close a visit that walked out through the door, at the moment it did.

        The camera over the door often sees the pavement too; a track followed out
        there can jump to a passer-by or to the next shopper coming in, who would
        otherwise inherit the visit."""
        if v.left_at is not None:
            events.extend(self._close(v.visit, v.left_at))
        return events

    def _new_track(self, key: TrackKey, p: TrackPoint) -> list[VisitEvent]:
        v = self._continues(key, p)
        if v is not None:
            self.stitched += 1
            v.tracks.add(key)
            v.ended_at = None
            self._by_track[key] = v.visit
            self._open[v.visit] = self._open.pop(v.visit)
            if v.primary not in v.tracks or p.t - v.primary_t >= LIVE_S:
                v.primary = key  # its own track was lost: follow the new one
                v.last_t = max(v.last_t, p.t)
                v.primary_t = p.t
                return self._advance(v, p)
            v.last_t = max(v.last_t, p.t)
            return []
        v = OpenVisit(
            self._next_visit, p.t, p.t, p.x, p.y, key, {key}, primary_t=p.t, x0=p.x, y0=p.y
        )
        v.anchor = (p.x, p.y, p.t)
        self._next_visit += 1
        self._open[v.visit] = v
        self._by_track[key] = v.visit
        events = self._move(v, self.layout.zone_at(p.x, p.y), p.t)
        while len(self._open) > self.max_open:
            self.evicted += 1
            events.extend(self._close(next(iter(self._open)), None))
        return events

    def _continues(self, key: TrackKey, p: TrackPoint) -> OpenVisit | None:
        """The open visit this new track is the continuation of, if any: the nearest."""
        best: OpenVisit | None = None
        best_d = math.inf
        for v in self._open.values():
            d = math.hypot(p.x - v.x, p.y - v.y)
            gap = p.t - v.last_t
            same_camera = key[0] == v.primary[0]
            live = v.ended_at is None and (
                gap < self._switch_s(key[0]) if same_camera else gap < LIVE_S
            )
            if live:
                # Handover between overlapping cameras; on one camera it is someone else.
                if same_camera or d > HANDOVER_M:
                    continue
            elif gap > STITCH_S or d > HANDOVER_M + WALK_MPS * gap:
                continue
            elif v.inside and v.zone is not None and self.layout.kind[v.zone] in DOOR_KINDS:
                # Lost at the door on the way out: they left; whoever appears is new. One
                # lost there before ever getting further is still coming in.
                continue
            if d < best_d:
                best, best_d = v, d
        return best

    def _switch_s(self, source: str) -> float:
        """How long a track on ``source`` must be silent to count as switched."""
        return SWITCH_FRAMES * self._frame_s.get(source, DEFAULT_FRAME_S)

    def _clock(self, p: TrackPoint) -> None:
        """Learn each camera's frame interval: the shortest step between its frames."""
        last = self._source_t.get(p.source)
        self._source_t[p.source] = p.t
        if last is not None and p.t - last > MIN_FRAME_S:
            self._frame_s[p.source] = min(self._frame_s.get(p.source, math.inf), p.t - last)

    def _advance(self, v: OpenVisit, p: TrackPoint) -> list[VisitEvent]:
        v.path_m += math.hypot(p.x - v.x, p.y - v.y)
        v.x, v.y = p.x, p.y
        v.reach_m = max(v.reach_m, math.hypot(p.x - v.x0, p.y - v.y0))
        self._track_stop(v, p)
        return self._left(v, self._move(v, self.layout.zone_at(p.x, p.y), p.t))

    @staticmethod
    def _track_stop(v: OpenVisit, p: TrackPoint) -> None:
        ax, ay, since = v.anchor if v.anchor is not None else (p.x, p.y, p.t)
        if math.hypot(p.x - ax, p.y - ay) > STOP_RADIUS_M:
            v.anchor, v.stop_counted = (p.x, p.y, p.t), False
        elif not v.stop_counted and p.t - since >= STOP_MIN_S:
            v.stops += 1
            v.stop_counted = True

    def _move(self, v: OpenVisit, zone: str | None, t: float) -> list[VisitEvent]:
        """Debounced zone change: confirmed once the new zone has held ``zone_confirm_s``."""
        if zone == v.zone:
            v.pending = v.pending_since = None
            return []
        if zone != v.pending or v.pending_since is None:
            v.pending, v.pending_since = zone, t
        first = not v.opened and zone is not None and v.stays == [] and v.zone is None
        if not first and t - v.pending_since < self.zone_confirm_s:
            return []
        since = v.pending_since
        events: list[VisitEvent] = []
        if not v.opened:
            if zone is None:
                return []
            v.opened = True
            v.entered = not self.layout.has_entrance or self.layout.kind[zone] == "entrance"
            v.start = since
            v.x0, v.y0, v.path_m, v.reach_m, v.stops = v.x, v.y, 0.0, 0.0, 0
            events.append(VisitOpened(since, v.visit, v.entered))
            if v.entered and not (self.layout.has_entrance and self._has_inner):
                # Nothing beyond a door to walk on to: the entry counts as it opens.
                v.counted = True
                events.append(VisitEntered(since, v.visit))
        if v.zone is not None:
            stay = ZoneStay(v.zone, v.zone_since, since)
            v.stays.append(stay)
            events.append(ZoneLeft(since, v.visit, stay))
            if zone is None and v.inside and self.layout.kind[v.zone] in DOOR_KINDS:
                v.left_at = since
        if zone is not None:
            events.append(ZoneEntered(since, v.visit, zone))
            if not v.inside and self.layout.kind[zone] not in DOOR_KINDS:
                v.inside = True
                if v.entered and not v.counted:
                    v.counted = True
                    events.append(VisitEntered(since, v.visit))
        v.zone, v.zone_since = zone, since
        v.pending = v.pending_since = None
        return events

    def on_end(self, e: TrackEnd) -> list[VisitEvent]:
        """A track ended; its visit closes once every track of it has, after a grace."""
        key = (e.source, e.track)
        vid = self._by_track.pop(key, None)
        if vid is None:
            return []
        v = self._open[vid]
        v.tracks.discard(key)
        if not v.tracks:
            v.ended_at = v.last_t
        return []

    def expire(self, watermark: float) -> list[VisitEvent]:
        """Close visits that left: ended and not picked up again, or silent too long."""
        events: list[VisitEvent] = []
        while self._open:
            vid = next(iter(self._open))
            v = self._open[vid]
            ended = v.ended_at is not None and v.ended_at + STITCH_S <= watermark
            if not ended and v.last_t + self.timeout_s > watermark:
                break
            events.extend(self._close(vid, v.last_t))
        return events

    def close_all(self) -> list[VisitEvent]:
        """End of input: every open visit left at its last point."""
        events: list[VisitEvent] = []
        for vid in list(self._open):
            events.extend(self._close(vid, None))
        return events

    def _close(self, vid: int, t: float | None) -> list[VisitEvent]:
        v = self._open.pop(vid)
        for key in v.tracks:
            self._by_track.pop(key, None)
        if not v.opened:
            return []  # only ever seen outside the store's zones
        return close_visit(v, v.last_t if t is None else t, v.attached.device(), "camera")


def close_visit(
    v: OpenVisit, end: float, device: DeviceActivity | None, spine: str
) -> list[VisitEvent]:
    """Leave the current zone at ``end`` and hand on the closed, anonymous visit.

    Args:
        spine: the feed the visit was built from ("camera" or "wifi").
    """
    v.attached.settle()  # its undecided picks: decide them while it is still a candidate
    events: list[VisitEvent] = []
    if v.zone is not None:
        stay = ZoneStay(v.zone, v.zone_since, end)
        v.stays.append(stay)
        events.append(ZoneLeft(end, v.visit, stay))
    record = Visit(
        start=v.start,
        end=end,
        entered=v.entered,
        stays=tuple(v.stays),
        path_m=v.path_m if spine == "camera" else math.nan,
        reach_m=v.reach_m,
        stops=v.stops,
        items=tuple(v.attached.items),
        device=device,
        sensors=frozenset({spine, *v.attached.sensors}),
    )
    events.append(VisitClosed(end, v.visit, record, v.attached))
    return events
