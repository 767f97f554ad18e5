"""The feature vector of a closed visit: named, versioned, NaN where a sensor is missing.

The behaviour models are trained on exactly this vector; ``FEATURE_SCHEMA`` is
checked against each model's manifest entry so a model trained on another
definition is refused instead of silently misread.

A feature is NaN when the store has no sensor that could observe it (no RFID
readers: every item feature is NaN) or when it is undefined for the visit (the
share of premium items of a visit that handled none). Zero always means "observed,
and there were none".

Example:
    >>> from agent.observations import Visit, ZoneStay
    >>> v = Visit(start=0, end=100, entered=True, path_m=50.0, reach_m=20.0, stops=2,
    ...           stays=(ZoneStay("a", 0, 60), ZoneStay("p", 60, 100)))
    >>> shape = StoreShape({"a": "aisle", "p": "promo"}, size_m=25.0)
    >>> f = visit_features(v, shape, SensorSet(True, False, False))
    >>> value, tortuosity = FEATURE_INDEX["dwell_share_value"], FEATURE_INDEX["tortuosity"]
    >>> round(float(f[value]), 3), float(f[tortuosity])
    (0.4, 1.25)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from agent.config import Zone
from agent.observations import Visit

FEATURE_SCHEMA = 3
"""Bump on any change to the names, order or meaning below; retrain the models."""

NAN = math.nan

PRESENCE_FEATURES = (
    "duration_s",
    "zones_share",
    "zone_changes",
    "revisits",
    "max_stay_s",
    "dwell_share_aisle",
    "dwell_share_value",
    "dwell_share_fitting_room",
    "dwell_share_checkout",
    "checkout_visited",
)
"""Where and how long: known from cameras, or from Wi-Fi presence without them.
Zones count as a share of the store's zones, so a model carries over to a store
with more or fewer of them."""
PATH_FEATURES = (
    "path_per_size",
    "reach_share",
    "tortuosity",
    "speed_mps",
    "stops",
    "stops_per_min",
)
"""How the visit moved: only cameras see it. Distances are in units of the store's
size (the diagonal of its zones), so a big floor does not look like wandering."""
RFID_FEATURES = (
    "picks",
    "returns",
    "fitting_room_items",
    "purchases",
    "return_ratio",
    "kept_ratio",
    "promo_item_share",
    "premium_item_share",
    "budget_item_share",
    "categories_handled",
)
WIFI_FEATURES = (
    "device_linked",
    "device_sightings_per_min",
    "device_data_share",
)
FEATURES: tuple[str, ...] = PRESENCE_FEATURES + PATH_FEATURES + RFID_FEATURES + WIFI_FEATURES
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}

VALUE_ZONES = frozenset({"promo", "clearance"})
AISLE_ZONES = frozenset({"aisle", "shelf"})
_OTHER, _AISLE, _VALUE, _FITTING, _CHECKOUT = range(5)
"""Which dwell share a zone's stays count into (``StoreShape.zone_slots``)."""
_KIND_SLOTS = {
    **dict.fromkeys(AISLE_ZONES, _AISLE),
    **dict.fromkeys(VALUE_ZONES, _VALUE),
    "fitting_room": _FITTING,
    "checkout": _CHECKOUT,
}
# Rows for a missing sensor, and the RFID part of a visit that handled nothing:
# built once, copied into each row.
_NO_PATH = (NAN,) * len(PATH_FEATURES)
_NO_RFID = (NAN,) * len(RFID_FEATURES)
_NO_ITEMS = (0, 0, 0, 0, 0.0, NAN, NAN, NAN, NAN, 0)
_NO_WIFI = (NAN,) * len(WIFI_FEATURES)
_NO_DEVICE = (0.0, NAN, NAN)
_zone_of = attrgetter("zone")


@dataclass(frozen=True)
class StoreShape:
    """What features need to know of the store: zone kinds, how many, how big."""

    kinds: dict[str, str]
    size_m: float

    @property
    def zone_count(self) -> int:
        return max(len(self.kinds), 1)

    @cached_property
    def zone_slots(self) -> dict[str, int]:
        """Zone id -> the dwell share its stays count into, looked up once per stay."""
        return {zone: _KIND_SLOTS.get(kind, _OTHER) for zone, kind in self.kinds.items()}

    @classmethod
    def of(cls, zones: Sequence[Zone]) -> StoreShape:
        xs = [x for z in zones for x, _ in z.polygon] or [0.0]
        ys = [y for z in zones for _, y in z.polygon] or [0.0]
        size = math.hypot(max(xs) - min(xs), max(ys) - min(ys))
        return cls({z.id: z.kind for z in zones}, max(size, 1.0))


@dataclass(frozen=True)
class SensorSet:
    """Which kinds of feed the store has: decides NaN versus zero."""

    camera: bool
    rfid: bool
    wifi: bool

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n in ("camera", "rfid", "wifi") if getattr(self, n))


def feature_row(visit: Visit, store: StoreShape, sensors: SensorSet) -> list[float]:
    """The feature values of one visit, in ``FEATURES`` order, as a plain list.

    Plain Python on purpose: a visit's features are a few dozen numbers, and
    building a list and converting a whole batch at once is several times faster
    than writing into a numpy row per visit (see bench/behaviour.py). It runs once
    per closed visit ahead of the model, so it is written for speed: one dict look-up
    per stay, no max() calls, constant rows for missing sensors.
    """
    duration = visit.end - visit.start
    if duration < 1e-3:  # max(duration, 1e-3), NaN kept as max() keeps it
        duration = 1e-3
    minutes = duration / 60.0
    camera = sensors.camera
    if camera or sensors.wifi:
        slots = store.zone_slots
        aisle = value = fitting = checkout = 0.0
        longest = 0.0
        visited_checkout = 0.0
        stays = visit.stays
        for stay in stays:
            d = stay.leave - stay.enter
            if d > longest:
                longest = d
            slot = slots.get(stay.zone, _OTHER)
            if slot == _OTHER:
                continue
            if slot == _AISLE:
                aisle += d
            elif slot == _VALUE:
                value += d
            elif slot == _FITTING:
                fitting += d
            else:
                checkout += d
                visited_checkout = 1.0
        changes = len(stays)
        distinct = len(set(map(_zone_of, stays)))
        row = [
            duration,
            distinct / store.zone_count,
            changes,
            changes - distinct,
            longest,
            aisle / duration,
            value / duration,
            fitting / duration,
            checkout / duration,
            visited_checkout,
        ]
    else:
        row = [NAN] * len(PRESENCE_FEATURES)
    if camera:
        path = visit.path_m
        size = store.size_m
        span = 2.0 * visit.reach_m
        if span < 1.0:  # max(span, 1.0), NaN kept as max() keeps it
            span = 1.0
        row += (
            path / size,
            visit.reach_m / size,
            # A walk straight to the farthest point and back scores 1; wandering more.
            path / span,
            path / duration,
            visit.stops,
            visit.stops / minutes,
        )
    else:
        row += _NO_PATH
    if not sensors.rfid:
        row += _NO_RFID
    elif not visit.items:
        row += _NO_ITEMS
    else:
        picks = returns = tried = bought = handled = promo = premium = budget = 0
        categories = set()
        for item in visit.items:
            action = item.action
            if action == "returned":
                returns += 1
                continue
            if action == "fitting_room":
                tried += 1
                continue
            if action == "picked":
                picks += 1
            else:
                bought += 1
            handled += 1
            product = item.product
            categories.add(product.category)
            promo += product.promo
            tier = product.price_tier
            premium += tier == "premium"
            budget += tier == "budget"
        row += (
            picks,
            returns,
            tried,
            bought,
            returns / picks if picks else 0.0,
            1.0 - returns / picks if picks else NAN,
            promo / handled if handled else NAN,
            premium / handled if handled else NAN,
            budget / handled if handled else NAN,
            len(categories),
        )
    device = visit.device
    if not sensors.wifi:
        row += _NO_WIFI
    elif device is None:
        row += _NO_DEVICE
    else:
        row += (1.0, device.sightings / minutes, device.data_frames / device.sightings)
    return row


def visit_features(visit: Visit, store: StoreShape, sensors: SensorSet) -> npt.NDArray[np.float32]:
    """The feature vector of one visit, in ``FEATURES`` order."""
    return np.array(feature_row(visit, store, sensors), dtype=np.float32)


_ROW = struct.Struct(f"{len(FEATURES)}d")


def feature_matrix(rows: list[list[float]]) -> npt.NDArray[np.float32]:
    """Stack feature rows into the model's float32 input, N x len(FEATURES).

    Each row is packed as native doubles and the whole batch read by numpy at once:
    half the time of ``np.array(rows)``, which converts the nested lists element by
    element (bench/behaviour.py). The float32 values are the same, NaN included.
    """
    pack = _ROW.pack
    doubles = np.frombuffer(b"".join([pack(*row) for row in rows]), dtype=np.float64)
    return doubles.astype(np.float32).reshape(len(rows), len(FEATURES))
