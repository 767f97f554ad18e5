"""Footfall, occupancy and dwell per window, per zone and store-wide.

Windows are tumbling, aligned to UTC midnight, ``window_s`` long. A window is
settled (and handed on) when the watermark passes its end plus ``settle_s``: the
visit timeout, so a visit that left at 10:04:59 but is only known to have left
30 s later still counts as an exit in the 10:00 window.

Occupancy at a window's end is carried from window to window by entries and
exits, so it is exact whatever order the visit events of one window arrive in.
Mean occupancy is person-seconds in the zone divided by the observed span.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from agent.observations import (
    VisitClosed,
    VisitEntered,
    VisitEvent,
    VisitOpened,
    ZoneEntered,
    ZoneLeft,
)

log = logging.getLogger(__name__)

STORE = ""
"""The scope key of store-wide counts (zone ids are never empty)."""
MAX_EMPTY_S = 86400.0
"""Empty windows are published for gaps up to a day (a closed store overnight);
a longer jump (a clock set wrong, a recording replayed live) restarts the window
sequence at the new time instead of publishing thousands of empty windows."""


@dataclass(frozen=True, slots=True)
class ScopeTraffic:
    """Raw counts of one scope (a zone, or the store) in one window.

    ``dwell_s`` holds the individual dwell times so the privacy filter can decide
    whether percentiles may be published; they are never published themselves.
    """

    zone: str | None
    entries: int
    exits: int
    occupancy_end: int
    person_seconds: float
    present: int
    dwell_s: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class TrafficWindow:
    start: float
    end: float
    observed_from: float
    observed_to: float
    scopes: tuple[ScopeTraffic, ...]

    @property
    def complete(self) -> bool:
        return self.observed_from <= self.start and self.observed_to >= self.end


@dataclass
class _Counts:
    entries: int = 0
    exits: int = 0
    arrivals: int = 0
    departures: int = 0
    person_seconds: float = 0.0
    dwell_s: list[float] = field(default_factory=list)


@dataclass
class _Window:
    start: float
    end: float
    counts: dict[str, _Counts]


class TrafficAggregator:
    """Counts visit events into windows and releases settled windows in order.

    Args:
        zones: zone ids, in config order (the order of the published scopes).
        window_s: window length, seconds.
        settle_s: how long after a window's end its counts can still change.
    """

    def __init__(self, zones: list[str], window_s: float, settle_s: float) -> None:
        self.scopes = [STORE, *zones]
        self.window_s = window_s
        self.settle_s = settle_s
        self.observed_from: float | None = None
        self._windows: list[_Window] = []  # open windows, contiguous, oldest first
        self._ready: list[TrafficWindow] = []  # closed early by a time jump
        self.jumps = 0
        self._occupancy = dict.fromkeys(self.scopes, 0)  # at the end of the last closed window
        self._open_stays: dict[tuple[int, str], float] = {}  # (visit, scope) -> enter time

    def begin(self, t: float) -> None:
        """Observation starts at ``t`` (first observation of this run)."""
        if self.observed_from is None:
            self.observed_from = t
            self._extend_to(t)

    def on_event(self, event: VisitEvent) -> None:
        if isinstance(event, ZoneEntered):
            self._arrive(event.visit, event.zone, event.t, count_entry=True)
        elif isinstance(event, ZoneLeft):
            self._depart(event.visit, event.stay.zone, event.t, event.stay.enter, dwell=True)
        elif isinstance(event, VisitOpened):
            self._arrive(event.visit, STORE, event.t, count_entry=False)
        elif isinstance(event, VisitEntered):
            window = self._window_for(event.t)
            if window is not None:
                window.counts[STORE].entries += 1
        elif isinstance(event, VisitClosed):
            self._depart(
                event.visit, STORE, event.t, event.record.start, dwell=event.record.entered
            )

    def advance(self, watermark: float) -> list[TrafficWindow]:
        """Release every window settled by ``watermark``."""
        self._extend_to(watermark)
        done, self._ready = self._ready, []
        while self._windows and self._windows[0].end + self.settle_s <= watermark:
            done.append(self._close(self._windows[0].end))
        return done

    def flush(self, observed_to: float) -> list[TrafficWindow]:
        """Release every open window; the one holding ``observed_to`` ends there."""
        self._extend_to(observed_to)
        done, self._ready = self._ready, []
        while self._windows and self._windows[0].start <= observed_to:
            done.append(self._close(min(self._windows[0].end, observed_to)))
        self._windows.clear()
        return done

    # -- internals ---------------------------------------------------------

    def _window_for(self, t: float) -> _Window | None:
        """The open window holding ``t``; the oldest open one for a straggler."""
        self._extend_to(t)
        if not self._windows:
            return None
        index = int((t - self._windows[0].start) // self.window_s)
        return self._windows[max(0, min(index, len(self._windows) - 1))]

    def _extend_to(self, t: float) -> None:
        if self.observed_from is None:
            return
        if self._windows and t - self._windows[-1].end > MAX_EMPTY_S:
            self.jumps += 1
            last_end = self._windows[-1].end
            while self._windows:
                self._ready.append(self._close(self._windows[0].end))
            self.observed_from = max(self.observed_from, t)
            log.warning(
                "event time jumped %.0f s ahead; windows restart at the new time", t - last_end
            )
        if not self._windows:
            start = (max(t, self.observed_from) // self.window_s) * self.window_s
            self._windows.append(self._new(start))
        while self._windows[-1].end <= t:
            self._windows.append(self._new(self._windows[-1].end))

    def _new(self, start: float) -> _Window:
        return _Window(start, start + self.window_s, {s: _Counts() for s in self.scopes})

    def _arrive(self, visit: int, scope: str, t: float, count_entry: bool) -> None:
        window = self._window_for(t)
        if window is None:
            return
        c = window.counts[scope]
        c.arrivals += 1
        if count_entry:
            c.entries += 1
        self._open_stays[(visit, scope)] = t

    def _depart(self, visit: int, scope: str, t: float, enter: float, dwell: bool) -> None:
        if self._open_stays.pop((visit, scope), None) is None:
            return  # its arrival came before observation began, or was already dropped
        window = self._window_for(t)
        if window is None:
            return
        c = window.counts[scope]
        c.departures += 1
        c.exits += 1
        if dwell:
            c.dwell_s.append(t - enter)
        for w in self._windows:
            overlap = min(t, w.end) - max(enter, w.start)
            if overlap > 0:
                w.counts[scope].person_seconds += overlap

    def _close(self, observed_to: float) -> TrafficWindow:
        w = self._windows.pop(0)
        assert self.observed_from is not None
        span_from = max(w.start, self.observed_from)
        # Stays still open at the window's end were in the zone until then.
        for (_, scope), enter in self._open_stays.items():
            overlap = min(observed_to, w.end) - max(enter, w.start)
            if overlap > 0:
                w.counts[scope].person_seconds += overlap
        scopes = []
        for scope in self.scopes:
            c = w.counts[scope]
            present = self._occupancy[scope] + c.arrivals
            self._occupancy[scope] += c.arrivals - c.departures
            scopes.append(
                ScopeTraffic(
                    zone=scope or None,
                    entries=c.entries,
                    exits=c.exits,
                    occupancy_end=self._occupancy[scope],
                    person_seconds=c.person_seconds,
                    present=present,
                    dwell_s=tuple(sorted(c.dwell_s)),
                )
            )
        return TrafficWindow(w.start, w.end, span_from, observed_to, tuple(scopes))
