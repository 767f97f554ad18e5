"""The typed observations and visit records every stage shares.

Sources turn raw feeds into these and anonymise at that boundary: nothing here
carries a MAC address, an EPC serial number or a pixel. Track ids and device tokens
are in-memory handles that only fusion reads; they never reach an event, a log line
or disk. Every timestamp ``t`` is event time in UTC seconds since the epoch.

Example:
    >>> p = TrackPoint(t=1700000000.0, source="cam-1", track=3, x=1.5, y=2.0)
    >>> p.t
    1700000000.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from agent.fusion.attach import Attachments

ItemAction = Literal["picked", "returned", "fitting_room", "purchased"]
SightingKind = Literal["probe", "data"]


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """A tracked person's floor position from one camera.

    Args:
        t: event time, UTC seconds.
        source: the camera's configured id.
        track: the tracker's in-memory id, unique per camera while it runs.
        x: floor position east of the store origin, metres.
        y: floor position north of the store origin, metres.
    """

    t: float
    source: str
    track: int
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class TrackEnd:
    """The tracker gave up on a track (left the view or lost for too long)."""

    t: float
    source: str
    track: int


@dataclass(frozen=True, slots=True)
class DeviceSighting:
    """A phone heard by a Wi-Fi sensor, already anonymised.

    Args:
        token: keyed hash of the MAC (hex, 64 bits); the key lives in memory only
            and rotates daily, so a token cannot be linked across days.
        rssi: received signal strength, dBm.
        kind: ``probe`` for probe requests, ``data`` for client-to-AP data frames.
        randomised: the MAC was locally administered (a privacy MAC).
        channel: the 802.11 channel, when the capture says.
        seq: the 802.11 sequence number, used only to estimate distinct devices.
    """

    t: float
    source: str
    token: str
    rssi: float
    kind: SightingKind
    randomised: bool
    channel: int | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Product:
    """The product part of a tag: never the serial number.

    ``gtin`` is None when the EPC was not a GS1 product code the catalogue knows.
    """

    gtin: str | None
    category: str
    price_tier: str | None = None
    promo: bool = False


@dataclass(frozen=True, slots=True)
class ItemEvent:
    """A shopper's interaction with a tagged item, inferred from RFID reads."""

    t: float
    source: str
    zone: str
    action: ItemAction
    product: Product


Observation = TrackPoint | TrackEnd | DeviceSighting | ItemEvent


@dataclass(frozen=True, slots=True)
class ZoneStay:
    """One continuous stay of a visit in one zone."""

    zone: str
    enter: float
    leave: float

    @property
    def dwell_s(self) -> float:
        return self.leave - self.enter


@dataclass(frozen=True, slots=True)
class DeviceActivity:
    """What the phone that went round with a visit did, as counts only.

    Args:
        sightings: frames heard from it while it shared a zone with the visit.
        data_frames: of those, data or null frames: the phone was in use.
        randomised: it used a privacy (locally administered) MAC.
    """

    sightings: int
    data_frames: int
    randomised: bool


@dataclass(frozen=True, slots=True)
class Visit:
    """A closed, anonymous visit: what fusion hands to features and aggregation.

    Args:
        start: first observation of the visit.
        end: last observation of the visit.
        entered: first seen in an entrance zone (or the store has none), so its
            start is a real arrival and its duration a real dwell time.
        stays: the zone stays in time order.
        path_m: walked floor distance, metres (NaN when no camera followed it).
        reach_m: farthest floor distance from where it was first seen, metres.
        stops: times it stood still (within a small radius) for a few seconds.
        items: the item interactions attributed to it, in time order.
        device: the phone that went round with it, if one could be linked.
        sensors: which kinds of feed contributed ("camera", "wifi", "rfid").
    """

    start: float
    end: float
    entered: bool
    stays: tuple[ZoneStay, ...]
    path_m: float
    reach_m: float = 0.0
    stops: int = 0
    items: tuple[ItemEvent, ...] = ()
    device: DeviceActivity | None = None
    sensors: frozenset[str] = frozenset({"camera"})

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class ZoneEntered:
    """A visit entered a zone. ``visit`` is an in-memory counter, never published."""

    t: float
    visit: int
    zone: str


@dataclass(frozen=True, slots=True)
class ZoneLeft:
    t: float
    visit: int
    stay: ZoneStay


@dataclass(frozen=True, slots=True)
class VisitOpened:
    t: float
    visit: int
    entered: bool


@dataclass(frozen=True, slots=True)
class VisitEntered:
    """One footfall entry: a visit that came in at an entrance went on into the store.

    Counted then, not when the visit opened in the doorway: someone who steps into
    the doorway and turns back, or a shopper on the way out whom a camera picks up
    again in the doorway, is no entry.
    """

    t: float
    visit: int


@dataclass(frozen=True, slots=True)
class VisitClosed:
    """A visit closed. ``attached`` is fusion's in-memory state of it, so an item
    confirmed after the shopper left can still be given to them (never published)."""

    t: float
    visit: int
    record: Visit
    attached: Attachments | None = field(default=None, compare=False, repr=False)


VisitEvent = ZoneEntered | ZoneLeft | VisitOpened | VisitEntered | VisitClosed
