"""The per-tag state machine: a noisy stream of reads in, item interactions out.

A reader reports every tag in its antennas' fields several times a second, with
varying RSSI, misses, duplicates, and cross-reads (a neighbouring antenna hearing
the tag weakly). Interactions are changes of where a tag *rests*:

    NEW ──settles on shelf──► SHELF ──silent absent_after_s──► CARRIED
    SHELF/CARRIED/FITTING ──rests on shelf──► SHELF            (returned)
    any ──settles in fitting room──► FITTING                   (fitting_room, once a carry)
    FITTING ──silent absent_after_s──► CARRIED                 (no event)
    any ──settles at checkout──► SOLD                          (purchased; final)
    any ──settles at exit──► GONE                              (no event; final)

A tag leaving SHELF for anything emits ``picked`` (from its shelf) first. A tag
first settling on a shelf emits nothing: it was there when the reader started.

"Settles" means a run of reads in one zone, each within ``miss_tolerance_s`` of
the previous, of at least ``settle_reads`` reads spanning ``settle_s``: a shopper
walking past a shelf with an item gives a short burst. A handled item counts as
returned only after resting ``return_settle_s`` on a shelf, because a shopper
holding it while browsing another rail looks, to the antenna, like a resting tag; on
a shelf in another zone than the one it was picked from, only after
``away_settle_s`` (minutes: browsing with an item in a basket lasts that long). A
carry (from a shelf until back on one) tries the item on once, however often it
goes in and out of the fitting room's field.
A report that stands for several reads (``seen``) counts as that many. While the
tag's current zone still hears it, another zone claims the tag only if its
smoothed RSSI is ``hysteresis_db`` stronger: that is what stops cross-reads.

Time is event time: the latest read's timestamp on this reader. A gap longer than
``outage_gap_s`` with no read at all means the reader (not the tags) was away, so
absence is counted again from the moment reads resumed instead of declaring every
tag picked. Memory is bounded: a tag unread for ``tag_ttl_s`` is forgotten, and
beyond ``max_tags`` the least recently read tag is dropped and counted.

``picked`` carries the time of the last read on the shelf, so it reaches the core
up to ``absent_after_s`` (plus one sweep) late; the core's reorder allowance must
be longer (it is 5 s by default, the threshold 4 s). Other events carry the time
of the read that decided them, so they are never late.

Example:
    >>> from agent.observations import Product
    >>> tracker = InteractionTracker(Thresholds(), source="rfid-1")
    >>> shelf, till = Antenna("shelf-a", "shelf"), Antenna("till-1", "checkout")
    >>> p = Product("80614141123458", "formal_wear")
    >>> for i in range(20):  # resting on the shelf, read 4 times a second
    ...     tracker.observe("tag", i / 4, shelf, -50.0, lambda key: p)
    >>> for i in range(20):  # then at the till
    ...     tracker.observe("tag", 30 + i / 4, till, -48.0, lambda key: p)
    >>> [(e.action, e.zone) for e in tracker.drain()]
    [('picked', 'shelf-a'), ('purchased', 'till-1')]
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agent.observations import ItemAction, ItemEvent, Product

Role = Literal["shelf", "fitting_room", "checkout", "exit"]
ROLES: tuple[Role, ...] = ("shelf", "fitting_room", "checkout", "exit")

NEW, SHELF, CARRIED, FITTING, SOLD, GONE = range(6)
STATE_NAMES = ("new", "shelf", "carried", "fitting_room", "sold", "gone")
FINAL = SOLD
"""States from SOLD on ignore further reads until the tag's time-to-live ends."""

RSSI_SMOOTHING = 0.2
"""EMA weight of a new RSSI sample: about the last 5 reads, enough to ride out
multipath fades of single reads without lagging a real move by more than a second."""

MAX_RUNS_PER_TAG = 4
"""Zones competing for one tag at once; a tag is rarely heard by more than 2-3."""

SWEEP_INTERVAL_S = 0.5
"""How often (event time) silent tags are checked; adds at most this to picked lateness."""


@dataclass(frozen=True, slots=True)
class Antenna:
    """Where an antenna reads: a store zone and what the zone is for."""

    zone: str
    role: Role


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The state machine's tuning; ``docs/rfid.md`` explains each default.

    Args:
        settle_reads: reads in a run before a zone can claim a tag.
        settle_s: span of that run, seconds: a rest, not a walk past.
        return_settle_s: span of a run on a shelf before a handled tag counts as
            returned there (a shopper holding it while browsing that shelf is not).
        away_settle_s: the same on a shelf in another zone than the one the tag was
            picked from: a shopper browsing with the item in hand or basket stands
            there for minutes; resting longer, it was left there (misplaced).
        miss_tolerance_s: longest gap inside a run; a longer one starts a new run.
        absent_after_s: silence on the current zone after which the tag has left it.
        hysteresis_db: RSSI margin a zone needs to take a tag its zone still hears.
        outage_gap_s: a gap with no read at all longer than this is a reader outage.
        tag_ttl_s: a tag unread this long is forgotten.
        max_tags: tags tracked at once; beyond it the least recently read is dropped.
    """

    settle_reads: int = 4
    settle_s: float = 2.0
    return_settle_s: float = 20.0
    away_settle_s: float = 300.0
    miss_tolerance_s: float = 3.0
    absent_after_s: float = 4.0
    hysteresis_db: float = 6.0
    outage_gap_s: float = 10.0
    tag_ttl_s: float = 1800.0
    max_tags: int = 50_000


class _Run:
    """Consecutive reads of one tag in one zone."""

    __slots__ = ("count", "last", "rssi", "start")

    def __init__(self, t: float, rssi: float | None, count: int) -> None:
        self.start = t
        self.last = t
        self.count = count
        self.rssi = rssi


class _Tag:
    __slots__ = (
        "home",
        "home_last",
        "home_rssi",
        "last",
        "origin",
        "product",
        "runs",
        "state",
        "tried",
    )

    def __init__(self, product: Product, t: float) -> None:
        self.product = product
        self.state = NEW
        self.origin: str | None = None  # the shelf zone it last rested on
        self.tried = False  # taken into a fitting room since it left that shelf
        self.home: Antenna | None = None
        self.home_last = t
        self.home_rssi: float | None = None
        self.runs: dict[str, _Run] = {}
        self.last = t


def _smooth(previous: float | None, sample: float | None) -> float | None:
    if sample is None:
        return previous
    if previous is None:
        return sample
    return previous + RSSI_SMOOTHING * (sample - previous)


class InteractionTracker:
    """Turns one reader's reads into ItemEvents; collect them with ``drain``.

    Args:
        thresholds: the tuning.
        source: the source id the events carry.
    """

    def __init__(self, thresholds: Thresholds, source: str) -> None:
        self.th = thresholds
        self.source = source
        self.now = 0.0
        self._resume = 0.0
        self._next_sweep = 0.0
        self._tags: OrderedDict[str, _Tag] = OrderedDict()  # least recently read first
        self._watch: OrderedDict[str, _Tag] = OrderedDict()  # resting tags, oldest home read first
        self._events: list[ItemEvent] = []
        self.evicted = 0
        self.expired = 0
        self.outages = 0
        self.left_unsold = 0
        self.actions: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._tags)

    @property
    def pending(self) -> list[ItemEvent]:
        """The events decided and not yet drained: the same list object for the
        tracker's lifetime, so a hot loop can test it without a call."""
        return self._events

    def drain(self) -> list[ItemEvent]:
        """The events decided since the last call, oldest decision first."""
        events = self._events[:]
        self._events.clear()
        return events

    def state_of(self, key: str) -> str | None:
        """The tag's state name, for tests and inspection."""
        tag = self._tags.get(key)
        return None if tag is None else STATE_NAMES[tag.state]

    def observe(
        self,
        key: str,
        t: float,
        where: Antenna,
        rssi: float | None,
        resolve: Callable[[str], Product],
        count: int = 1,
    ) -> None:
        """Feed one read.

        Args:
            key: the tag's in-memory identity (its EPC); never copied into an event.
            t: event time of the read, UTC seconds.
            where: the reading antenna's zone and role.
            rssi: signal strength in dBm, when the reader reports it.
            resolve: the tag's product from its key; called only when the tag is
                new (first read, or first since it expired or was evicted).
            count: reads this report stands for (a reader that aggregates reports
                per period says how often it heard the tag).
        """
        th = self.th
        if t > self.now:
            if self.now and t - self.now > th.outage_gap_s:
                self._resume = t
                self.outages += 1
            self.now = t
            if t >= self._next_sweep:
                self._sweep(t)
        tags = self._tags
        tag = tags.get(key)
        if tag is None:
            tag = tags[key] = _Tag(resolve(key), t)
            if len(tags) > th.max_tags:
                self._evict()
        else:
            tags.move_to_end(key)
            if t > tag.last:
                tag.last = t
        if tag.state >= FINAL:
            return
        home = tag.home
        if home is not None:
            if where == home:
                if t > tag.home_last:
                    tag.home_last = t
                tag.home_rssi = _smooth(tag.home_rssi, rssi)
                self._watch.move_to_end(key)
                return
            if t - max(tag.home_last, self._resume) > th.absent_after_s:
                self._left_home(key, tag)
        self._run(key, tag, t, where, rssi, count)

    def _run(
        self, key: str, tag: _Tag, t: float, where: Antenna, rssi: float | None, count: int
    ) -> None:
        th = self.th
        runs = tag.runs
        run = runs.get(where.zone)
        if run is None or t - run.last > th.miss_tolerance_s:
            if run is None and len(runs) >= MAX_RUNS_PER_TAG:
                del runs[min(runs, key=lambda z: runs[z].last)]
            run = runs[where.zone] = _Run(t, rssi, count)
        else:
            run.count += count
            if t > run.last:
                run.last = t
            run.rssi = _smooth(run.rssi, rssi)
        if run.count < th.settle_reads or run.last - run.start < th.settle_s:
            return
        if where.role == "shelf" and tag.state != NEW:
            # Back on a shelf only once it rests there, not held by a browsing shopper;
            # on another zone's shelf only after resting there far longer than a browse.
            own = tag.origin is None or tag.origin == where.zone
            if run.last - run.start < (th.return_settle_s if own else th.away_settle_s):
                return
        if tag.home is not None and t - tag.home_last <= th.miss_tolerance_s:
            # The current zone still hears the tag: only a clearly stronger zone wins.
            if run.rssi is None or tag.home_rssi is None:
                return
            if run.rssi < tag.home_rssi + th.hysteresis_db:
                return
        if len(runs) > 1 and run.rssi is not None:
            # Two new zones hear the tag: the stronger one is where it rests.
            recent = t - th.miss_tolerance_s
            for other in runs.values():
                if other is not run and other.last >= recent and (other.rssi or -999.0) > run.rssi:
                    return
        self._move(key, tag, t, where, run)

    def _emit(self, t: float, zone: str, action: ItemAction, product: Product) -> None:
        self._events.append(
            ItemEvent(t=t, source=self.source, zone=zone, action=action, product=product)
        )
        self.actions[action] = self.actions.get(action, 0) + 1

    def _left_home(self, key: str, tag: _Tag) -> None:
        home = tag.home
        assert home is not None
        if tag.state == SHELF:
            self._emit(max(tag.home_last, self._resume), home.zone, "picked", tag.product)
        tag.state = CARRIED
        tag.home = None
        self._watch.pop(key, None)

    def _move(self, key: str, tag: _Tag, t: float, where: Antenna, run: _Run) -> None:
        previous = tag.state
        if previous == SHELF and tag.home is not None:
            self._emit(max(tag.home_last, self._resume), tag.home.zone, "picked", tag.product)
        role = where.role
        tag.runs.clear()
        tag.home_last = run.last
        tag.home_rssi = run.rssi
        if role == "shelf" or role == "fitting_room":
            if role == "shelf":
                if previous != NEW:
                    self._emit(t, where.zone, "returned", tag.product)
                tag.origin, tag.tried = where.zone, False
            elif not tag.tried:  # one try-on, however often it is heard in and out
                self._emit(t, where.zone, "fitting_room", tag.product)
                tag.tried = True
            tag.state = SHELF if role == "shelf" else FITTING
            tag.home = where
            self._watch[key] = tag
            self._watch.move_to_end(key)
            return
        if role == "checkout":
            self._emit(t, where.zone, "purchased", tag.product)
            tag.state = SOLD
        else:
            self.left_unsold += 1
            tag.state = GONE
        tag.home = None
        self._watch.pop(key, None)

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_INTERVAL_S
        limit = now - self.th.absent_after_s
        if self._resume <= limit:
            watch = self._watch
            while watch:
                key, tag = next(iter(watch.items()))
                if tag.home_last >= limit:
                    break
                self._left_home(key, tag)
        expiry = now - self.th.tag_ttl_s
        tags = self._tags
        while tags:
            key, tag = next(iter(tags.items()))
            if tag.last >= expiry:
                break
            del tags[key]
            self._watch.pop(key, None)
            self.expired += 1

    def _evict(self) -> None:
        key, _ = self._tags.popitem(last=False)
        self._watch.pop(key, None)
        self.evicted += 1

    def counters(self) -> dict[str, int]:
        """Health counters: no identifiers, only counts."""
        return {
            "tags_tracked": len(self._tags),
            "tags_expired": self.expired,
            "tags_evicted": self.evicted,
            "reader_outages": self.outages,
            "left_via_exit_unsold": self.left_unsold,
            # a copy: health is read from another thread while reads add actions
            **{f"events_{k}": v for k, v in sorted(dict(self.actions).items())},
        }
