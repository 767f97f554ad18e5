"""Fusion: items and phones go to the right visit; features say missing, not zero."""

from __future__ import annotations

import math

import numpy as np

from agent.behaviour.rules import DEFAULT_RULES, CharacteristicRule
from agent.config import Zone
from agent.fusion.attach import MIN_DEVICE_HITS, Attacher
from agent.fusion.features import FEATURE_INDEX, FEATURES, SensorSet, StoreShape, visit_features
from agent.fusion.visits import VisitBuilder
from agent.observations import (
    DeviceSighting,
    ItemEvent,
    Product,
    TrackEnd,
    TrackPoint,
    Visit,
    VisitClosed,
    VisitEvent,
    ZoneStay,
)
from agent.store import StoreLayout

ZONES = [
    Zone(id="door", kind="entrance", polygon=[(0, 0), (2, 0), (2, 2), (0, 2)]),
    Zone(id="shelf", kind="aisle", polygon=[(2, 0), (6, 0), (6, 6), (2, 6)]),
    Zone(id="promo", kind="promo", polygon=[(6, 0), (10, 0), (10, 6), (6, 6)]),
]
PROTEIN = Product("05012345678900", "protein", "premium", False)


def closed(events: list[VisitEvent]) -> list[Visit]:
    return [e.record for e in events if isinstance(e, VisitClosed)]


class Store:
    """A visit builder and an attacher driven the way the pipeline drives them."""

    def __init__(self, sensor_zones: dict[str, str] | None = None, linger_s: float = 0.0) -> None:
        self.visits = VisitBuilder(StoreLayout(ZONES), timeout_s=10, max_open=100)
        self.attacher = Attacher(sensor_zones or {}, linger_s)
        self.done: list[Visit] = []

    def advance(self, watermark: float) -> None:
        for e in self.visits.expire(watermark):
            if isinstance(e, VisitClosed):
                self.done += self.attacher.hold(e)
        self.done += self.attacher.release(watermark)

    def point(self, t: float, track: int, x: float, y: float) -> None:
        self.done += closed(self.visits.on_point(TrackPoint(t, "cam", track, x, y)))

    def item(self, t: float, zone: str, action: str = "picked") -> bool:
        event = ItemEvent(t, "rfid", zone, action, PROTEIN)  # type: ignore[arg-type]
        return self.attacher.on_item(event, self.visits.open_visits())

    def sighting(self, t: float, token: str, kind: str = "probe") -> None:
        s = DeviceSighting(t, "wifi-1", token, -50.0, kind, True)  # type: ignore[arg-type]
        self.attacher.on_sighting(s, self.visits.open_visits())

    def finish(self) -> list[Visit]:
        self.done += closed(self.visits.close_all())
        return self.done


def test_item_goes_to_the_person_standing_at_the_shelf_not_the_one_walking_in() -> None:
    s = Store()
    for t in range(20):  # shopper 1 browses the shelf from t=2
        s.point(t, 1, 1.0 if t < 2 else 4.0, 1.0 if t < 2 else 3.0)
    for t in range(15, 20):  # shopper 2 walks in at t=17
        s.point(t, 2, 1.0 if t < 17 else 4.5, 1.0 if t < 17 else 3.5)
    assert s.item(19.5, "shelf")
    assert not s.item(19.6, "promo")  # nobody there: counted, not guessed
    assert s.attacher.items_unattributed == 1
    by_start = {v.start: v for v in s.finish()}
    assert len(by_start[0].items) == 1
    assert by_start[15].items == ()


def test_a_return_confirmed_after_the_carrier_walked_out_still_reaches_its_visit() -> None:
    # The item is confirmed back on its shelf only after resting there a while
    # (return_settle_s); by then the shopper who put it back has left the store.
    s = Store({"wifi-1": "shelf"}, linger_s=30.0)
    for t in range(26):  # in at the door, at the shelf from t=2 to 20, out by t=25
        s.point(t, 1, 1.0 if t < 2 or t > 20 else 4.0, 1.0 if t < 2 or t > 20 else 3.0)
        if 2 <= t <= 20:
            s.sighting(t, "aaaaaaaaaaaaaaaa")
    assert s.item(12, "shelf")  # picked
    s.visits.on_end(TrackEnd(25, "cam", 1))
    s.advance(31)  # closed (track ended, not picked up again), held, not yet counted
    assert s.done == [] and s.attacher.held_count == 1
    assert "aaaaaaaaaaaaaaaa" not in repr(s.attacher._held)  # its phone token is gone
    assert s.item(45, "shelf", "returned")  # nobody is in the store: the carrier gets it
    assert s.attacher.items_after_close == 1
    s.advance(54)
    assert s.done == []  # held until 30 s past its end
    s.advance(55)
    [visit] = s.done
    assert [i.action for i in visit.items] == ["picked", "returned"]
    assert "rfid" in visit.sensors
    assert visit.device is not None  # counted before its token was dropped
    assert not s.item(60, "shelf", "returned")  # counted and forgotten: nobody to give it
    assert s.attacher.items_unattributed == 1


def test_without_late_items_a_closed_visit_is_counted_at_once() -> None:
    s = Store(linger_s=0.0)
    for t in range(10):
        s.point(t, 1, 1.0 if t < 2 else 4.0, 1.0 if t < 2 else 3.0)
    s.visits.on_end(TrackEnd(9, "cam", 1))
    s.advance(15)
    assert len(s.done) == 1 and s.attacher.held_count == 0


def test_phone_goes_with_the_visit_it_shared_zones_with_all_along() -> None:
    s = Store({"wifi-1": "shelf", "wifi-2": "promo"})
    for t in range(60):
        s.point(t, 1, 4.0, 3.0)  # shopper 1 at the shelf the whole time
        if t % 5 == 0:
            s.sighting(t, "aaaaaaaaaaaaaaaa", kind="data" if t % 10 == 0 else "probe")
    for t in range(30, 33):  # shopper 2 passes through briefly: shares 1 sighting
        s.point(t, 2, 4.0, 1.0)
    visits = {v.start: v for v in s.finish()}
    mine = visits[0].device
    assert mine is not None
    assert mine.sightings == 12
    assert mine.data_frames == 6
    assert visits[30].device is None  # below MIN_DEVICE_HITS shared sightings
    assert MIN_DEVICE_HITS > 1


def test_features_distinguish_missing_sensor_from_zero() -> None:
    visit = Visit(
        start=0.0,
        end=120.0,
        entered=True,
        path_m=30.0,
        reach_m=10.0,
        stops=3,
        stays=(ZoneStay("door", 0, 10), ZoneStay("shelf", 10, 80), ZoneStay("promo", 80, 120)),
    )
    shape = StoreShape.of(ZONES)
    camera_only = visit_features(visit, shape, SensorSet(True, False, False))
    with_rfid = visit_features(visit, shape, SensorSet(True, True, True))
    assert math.isnan(camera_only[FEATURE_INDEX["picks"]])
    assert with_rfid[FEATURE_INDEX["picks"]] == 0.0  # observed: none picked
    assert math.isnan(with_rfid[FEATURE_INDEX["premium_item_share"]])  # undefined: no items
    assert with_rfid[FEATURE_INDEX["device_linked"]] == 0.0
    assert with_rfid[FEATURE_INDEX["dwell_share_value"]] == np.float32(40 / 120)
    assert with_rfid[FEATURE_INDEX["stops_per_min"]] == np.float32(1.5)
    assert len(with_rfid) == len(FEATURES)


def test_stops_count_standing_still_despite_box_jitter() -> None:
    s = Store()
    rng = np.random.default_rng(1)
    t = 0.0
    for x in np.linspace(1.0, 4.0, 8):  # walk in
        s.point(t, 1, float(x), 1.0)
        t += 0.5
    for _ in range(20):  # stand for 10 s, feet jittering by ~20 cm
        s.point(t, 1, 4.0 + rng.normal(0, 0.2), 3.0 + rng.normal(0, 0.2))
        t += 0.5
    s.visits.on_end(TrackEnd(t, "cam", 1))
    [visit] = s.finish()
    assert visit.stops == 1


def test_characteristic_rules_are_data() -> None:
    item = ItemEvent(1.0, "r", "shelf", "purchased", PROTEIN)
    visit = Visit(start=0, end=60, entered=True, stays=(), path_m=0, items=(item,) * 4)
    rules = {r.name: r for r in DEFAULT_RULES}
    assert rules["fitness"].matches(visit)
    assert not rules["small_basket"].matches(visit)  # four items: not a small basket
    organic = CharacteristicRule(name="organic", categories=["organic"])
    assert not organic.matches(visit)


def test_without_cameras_a_lingering_phone_is_a_visit_and_a_passer_by_is_not() -> None:
    from agent.fusion.wifi_visits import WifiVisitBuilder
    from agent.sources.wifi.config import PresenceConfig
    from agent.sources.wifi.presence import Sensor

    sensors = {"wifi-door": Sensor("door", 1.0, 1.0), "wifi-promo": Sensor("promo", 8.0, 3.0)}
    builder = WifiVisitBuilder(
        StoreLayout(ZONES), sensors, PresenceConfig(), timeout_s=30, max_open=100
    )
    attacher = Attacher({})
    events: list[VisitEvent] = []

    def hear(t: float, sensor: str, token: str, rssi: float, kind: str = "probe") -> None:
        s = DeviceSighting(t, sensor, token, rssi, kind, True)  # type: ignore[arg-type]
        events.extend(builder.on_sighting(s))

    for t in range(0, 120, 5):  # a shopper: two minutes at the door sensor, strong
        hear(float(t), "wifi-door", "aaaaaaaaaaaaaaaa", -55.0)
    for t in range(120, 400, 5):  # then five minutes in promo, phone in use
        hear(float(t), "wifi-promo", "aaaaaaaaaaaaaaaa", -60.0, kind="data")
        if t == 300:
            item = ItemEvent(300.0, "rfid", "promo", "picked", PROTEIN)
            assert attacher.on_item(item, builder.open_visits())
    for t in range(0, 20, 5):  # a passer-by: weak and brief
        hear(float(t), "wifi-door", "bbbbbbbbbbbbbbbb", -85.0)
    events.extend(builder.expire(1000.0))
    visits = [e.record for e in events if isinstance(e, VisitClosed)]
    assert len(visits) == 1
    [visit] = visits
    assert [s.zone for s in visit.stays] == ["door", "promo"]
    assert visit.sensors == frozenset({"wifi", "rfid"})
    assert len(visit.items) == 1
    assert visit.device is not None and visit.device.data_frames > 40
    assert math.isnan(visit.path_m)
    row = visit_features(visit, StoreShape.of(ZONES), SensorSet(False, True, True))
    assert math.isnan(row[FEATURE_INDEX["path_per_size"]])
    assert row[FEATURE_INDEX["zones_share"]] == np.float32(2 / 3)
    assert row[FEATURE_INDEX["dwell_share_value"]] > 0.5


def test_a_pick_goes_to_the_shopper_who_walks_off_with_it() -> None:
    # The reader sees a pick when the item leaves the shelf's field: when its picker walks
    # away. Shopper 1 browses the shelf all along; shopper 2 steps up, picks, walks off.
    s = Store()
    for t in range(50):
        s.point(t, 1, 1.0 if t < 2 else 4.0, 1.0 if t < 2 else 3.0)
        if 8 <= t < 31:
            s.point(t, 2, 1.0 if t < 10 else 4.5, 1.0 if t < 10 else 3.5)
        elif t >= 31:
            s.point(t, 2, 8.0, 3.0)  # in the promo zone now
        if t == 30:
            assert s.item(30.0, "shelf")  # undecided until it is seen who leaves
            assert all(not v.attached.items for v in s.visits.open_visits())
        s.attacher.resolve(t)
    by_start = {v.start: v for v in s.finish()}
    assert [i.action for i in by_start[8].items] == ["picked"]
    assert by_start[0].items == ()


def test_a_return_follows_the_visit_carrying_that_product() -> None:
    # Shopper 2 picks in promo, puts it back on the shelf at t=20 and walks off at 25;
    # the reader is sure it rests there only at t=40, when shopper 1 alone is at the shelf.
    s = Store()
    for t in range(50):
        s.point(t, 1, 1.0 if t < 2 else 4.0, 1.0 if t < 2 else 3.0)  # at the shelf
        x = 1.0 if t < 2 else 8.0 if t < 18 or t >= 25 else 4.5
        s.point(t, 2, x, 1.0 if t < 2 else 3.0)
        if t == 5:
            assert s.item(5.0, "promo")  # shopper 2 is alone in promo
        if t == 40:
            assert s.item(40.0, "shelf", "returned")
        s.attacher.resolve(t)
    visits = s.finish()
    carrier = next(v for v in visits if v.items and v.items[0].zone == "promo")
    assert [i.action for i in carrier.items] == ["picked", "returned"]
    assert sum(len(v.items) for v in visits) == 2
