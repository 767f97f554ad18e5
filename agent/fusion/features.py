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
from itertools import chain

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
_SLOTS = 5
_OTHER, _AISLE, _VALUE, _FITTING, _CHECKOUT = range(_SLOTS)
"""Which dwell share a zone's stays count into (``StoreShape.slot_of_code``)."""
_KIND_SLOTS = {
    **dict.fromkeys(AISLE_ZONES, _AISLE),
    **dict.fromkeys(VALUE_ZONES, _VALUE),
    "fitting_room": _FITTING,
    "checkout": _CHECKOUT,
}
_ACTIONS = {"picked": 0, "returned": 1, "fitting_room": 2, "purchased": 3}
"""Item action -> its column in the per-visit action counts."""
_PICKED, _RETURNED, _TRIED, _BOUGHT = _ACTIONS.values()


@dataclass(frozen=True)
class StoreShape:
    """What features need to know of the store: zone kinds, how many, how big."""

    kinds: dict[str, str]
    size_m: float

    @property
    def zone_count(self) -> int:
        return max(len(self.kinds), 1)

    @cached_property
    def zone_codes(self) -> dict[str, int]:
        """Zone id -> a small integer, the zone's index in ``kinds``."""
        return {zone: i for i, zone in enumerate(self.kinds)}

    @cached_property
    def slot_of_code(self) -> tuple[int, ...]:
        """Zone code -> the dwell share its stays count into."""
        return tuple(_KIND_SLOTS.get(kind, _OTHER) for kind in self.kinds.values())

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


def feature_matrix(
    visits: Sequence[Visit], store: StoreShape, sensors: SensorSet
) -> npt.NDArray[np.float32]:
    """The model's float32 input for a batch of visits, N x len(FEATURES).

    Column by column over the whole batch: one Python pass per attribute gathers
    the visits' numbers (and their stays' and items'), then numpy sums them per
    visit. It runs once per batch ahead of the model, and is about 1.6 times as fast as
    building each visit's row in Python (bench/behaviour.py); the arithmetic is the
    same float64 in the same order, so the values are too.
    """
    n = len(visits)
    out = np.full((n, len(FEATURES)), NAN, dtype=np.float32)  # float64 results round in
    start = _floats([v.start for v in visits])
    end = _floats([v.end for v in visits])
    duration = np.maximum(end - start, 1e-3)  # NaN stays NaN
    minutes = duration / 60.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if sensors.camera or sensors.wifi:
            _presence(visits, store, duration, out)
        if sensors.camera:
            _path(visits, store, duration, minutes, out)
        if sensors.rfid:
            _items(visits, out)
        if sensors.wifi:
            _device(visits, minutes, out)
    return out


def visit_features(visit: Visit, store: StoreShape, sensors: SensorSet) -> npt.NDArray[np.float32]:
    """The feature vector of one visit, in ``FEATURES`` order."""
    row: npt.NDArray[np.float32] = feature_matrix([visit], store, sensors)[0]
    return row


Ints = npt.NDArray[np.intp]
Floats = npt.NDArray[np.float64]
Out = npt.NDArray[np.float32]


def _floats(values: Sequence[float]) -> Floats:
    """A list of Python numbers as a float64 array: packing them as doubles and reading
    the bytes back is over twice as fast as ``np.fromiter`` or ``np.array`` on a list."""
    return np.frombuffer(struct.pack(f"{len(values)}d", *values), dtype=np.float64)


def _ints(values: Sequence[int]) -> Ints:
    """A list of small counts or codes as an integer array (exact below 2**53)."""
    return _floats(values).astype(np.intp)


def _owners(counts: Ints) -> Ints:
    """The batch index of the visit each flattened stay or item belongs to."""
    return np.repeat(np.arange(len(counts)), counts)


def _distinct(owner: Ints, codes: Ints, n: int) -> Ints:
    """How many different codes each visit has among its flattened entries."""
    if not len(codes):
        return np.zeros(n, dtype=np.intp)
    width = int(codes.max()) + 1
    if width > 64:  # too many for a bit mask per visit
        pairs = np.unique(owner * width + codes)
        distinct: Ints = np.bincount(pairs // width, minlength=n)
        return distinct
    masks = np.zeros(n, dtype=np.uint64)  # bit c set: the visit has code c
    np.bitwise_or.at(masks, owner, np.left_shift(np.uint64(1), codes.astype(np.uint64)))
    counts: Ints = np.bitwise_count(masks).astype(np.intp)
    return counts


def _presence(visits: Sequence[Visit], store: StoreShape, duration: Floats, out: Out) -> None:
    """Where and how long, from the zone stays."""
    n = len(visits)
    stays_of = [v.stays for v in visits]
    counts = _ints(list(map(len, stays_of)))
    stays = list(chain.from_iterable(stays_of))
    owner = _owners(counts)
    codes = store.zone_codes
    try:
        code = _ints([codes[s.zone] for s in stays])
    except KeyError:  # a zone the store does not list: give it a code of its own
        codes = dict(codes)
        code = _ints([codes.setdefault(s.zone, len(codes)) for s in stays])
    dwell = _floats([s.leave - s.enter for s in stays])
    slot_of = np.full(len(codes), _OTHER, dtype=np.intp)
    slot_of[: len(store.slot_of_code)] = store.slot_of_code
    slot = slot_of[code]
    by_slot = np.bincount(owner * _SLOTS + slot, weights=dwell, minlength=_SLOTS * n)
    by_slot = by_slot.reshape(n, _SLOTS)
    longest = np.zeros(n)
    stayed = counts > 0
    if stayed.any():
        first = (np.cumsum(counts) - counts)[stayed]
        longest[stayed] = np.fmax(np.fmax.reduceat(dwell, first), 0.0)  # NaN stays ignored
    distinct = _distinct(owner, code, n)
    col = FEATURE_INDEX
    out[:, col["duration_s"]] = duration
    out[:, col["zones_share"]] = distinct / store.zone_count
    out[:, col["zone_changes"]] = counts
    out[:, col["revisits"]] = counts - distinct
    out[:, col["max_stay_s"]] = longest
    out[:, col["dwell_share_aisle"]] = by_slot[:, _AISLE] / duration
    out[:, col["dwell_share_value"]] = by_slot[:, _VALUE] / duration
    out[:, col["dwell_share_fitting_room"]] = by_slot[:, _FITTING] / duration
    out[:, col["dwell_share_checkout"]] = by_slot[:, _CHECKOUT] / duration
    out[:, col["checkout_visited"]] = np.bincount(owner[slot == _CHECKOUT], minlength=n) > 0


def _path(
    visits: Sequence[Visit], store: StoreShape, duration: Floats, minutes: Floats, out: Out
) -> None:
    """How the visit moved. Distances are in units of the store's size."""
    path = _floats([v.path_m for v in visits])
    reach = _floats([v.reach_m for v in visits])
    stops = _floats([v.stops for v in visits])
    col = FEATURE_INDEX
    out[:, col["path_per_size"]] = path / store.size_m
    out[:, col["reach_share"]] = reach / store.size_m
    # A walk straight to the farthest point and back scores 1; wandering more.
    out[:, col["tortuosity"]] = path / np.maximum(2.0 * reach, 1.0)
    out[:, col["speed_mps"]] = path / duration
    out[:, col["stops"]] = stops
    out[:, col["stops_per_min"]] = stops / minutes


def _items(visits: Sequence[Visit], out: Out) -> None:
    """What the visit handled. Picked and purchased items count as handled."""
    n = len(visits)
    items_of = [v.items for v in visits]
    counts = _ints(list(map(len, items_of)))
    items = list(chain.from_iterable(items_of))
    owner = _owners(counts)
    action = _ints([_ACTIONS[i.action] for i in items])
    kinds = len(_ACTIONS)
    per = np.bincount(owner * kinds + action, minlength=kinds * n).reshape(n, kinds)
    picks = per[:, _PICKED]
    handled = (action == _PICKED) | (action == _BOUGHT)
    # A batch holds many units of a few products: look each product up once. The
    # items keep their products alive, so no two of them share an id() meanwhile.
    units = [i.product for i in items]
    ids = list(map(id, units))
    by_id = dict(zip(ids, units, strict=True))
    index = {pid: k for k, pid in enumerate(by_id)}
    products = list(by_id.values())
    categories = {c: k for k, c in enumerate({p.category for p in products})}
    of_item = _ints([index[pid] for pid in ids])
    promo = _floats([p.promo for p in products])[of_item]
    premium_unit = _floats([p.price_tier == "premium" for p in products])[of_item] > 0
    budget_unit = _floats([p.price_tier == "budget" for p in products])[of_item] > 0
    category = _ints([categories[p.category] for p in products])[of_item]
    who = owner[handled]
    n_handled = np.bincount(who, minlength=n)
    promo_sum = np.bincount(who, weights=promo[handled], minlength=n)
    premium = np.bincount(owner[handled & premium_unit], minlength=n)
    budget = np.bincount(owner[handled & budget_unit], minlength=n)
    returned = per[:, _RETURNED] / picks
    some = n_handled > 0
    col = FEATURE_INDEX
    out[:, col["picks"]] = picks
    out[:, col["returns"]] = per[:, _RETURNED]
    out[:, col["fitting_room_items"]] = per[:, _TRIED]
    out[:, col["purchases"]] = per[:, _BOUGHT]
    out[:, col["return_ratio"]] = np.where(picks > 0, returned, 0.0)
    out[:, col["kept_ratio"]] = np.where(picks > 0, 1.0 - returned, NAN)
    out[:, col["promo_item_share"]] = np.where(some, promo_sum / n_handled, NAN)
    out[:, col["premium_item_share"]] = np.where(some, premium / n_handled, NAN)
    out[:, col["budget_item_share"]] = np.where(some, budget / n_handled, NAN)
    out[:, col["categories_handled"]] = _distinct(who, category[handled], n)


def _device(visits: Sequence[Visit], minutes: Floats, out: Out) -> None:
    """The linked phone's activity; zero linked, NaN rates, when none was linked."""
    devices = [v.device for v in visits]
    sightings = _floats([NAN if d is None else d.sightings for d in devices])
    data = _floats([NAN if d is None else d.data_frames for d in devices])
    linked = ~np.isnan(sightings)
    col = FEATURE_INDEX
    out[:, col["device_linked"]] = linked
    out[:, col["device_sightings_per_min"]] = sightings / minutes  # NaN when none linked
    out[:, col["device_data_share"]] = data / sightings
