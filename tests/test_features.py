"""The feature vector: every value of a hand-counted visit, and a batch that gives each
visit exactly the row it gets alone (the batch is computed column by column, so a
slip in the per-visit bookkeeping would hand one visit's numbers to another)."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from agent.fusion.features import (
    FEATURE_INDEX,
    FEATURES,
    SensorSet,
    StoreShape,
    feature_matrix,
    visit_features,
)
from agent.observations import DeviceActivity, ItemEvent, Product, Visit, ZoneStay

SHAPE = StoreShape(
    {
        "door": "entrance",
        "a1": "aisle",
        "a2": "aisle",
        "promo": "promo",
        "fit": "fitting_room",
        "till": "checkout",
    },
    size_m=20.0,
)
ALL = SensorSet(True, True, True)
SUIT = Product("05012345678900", "formal_wear", "premium", False)
SOCKS = Product("05012345678917", "childrens", "budget", True)
TEA = Product(None, "grocery", None, False)


def test_every_feature_of_a_hand_counted_visit() -> None:
    visit = Visit(
        start=100.0,
        end=400.0,  # 5 minutes
        entered=True,
        stays=(
            ZoneStay("door", 100, 110),
            ZoneStay("a1", 110, 200),  # the longest stay: 90 s
            ZoneStay("promo", 200, 260),
            ZoneStay("a1", 260, 300),  # a revisit
            ZoneStay("fit", 300, 330),
            ZoneStay("till", 330, 400),
        ),
        path_m=60.0,
        reach_m=12.0,
        stops=4,
        items=(
            ItemEvent(120, "r", "a1", "picked", SUIT),
            ItemEvent(130, "r", "a1", "picked", SOCKS),
            ItemEvent(210, "r", "promo", "picked", SOCKS),
            ItemEvent(220, "r", "promo", "returned", SOCKS),
            ItemEvent(310, "r", "fit", "fitting_room", SUIT),
            ItemEvent(390, "r", "till", "purchased", TEA),
        ),
        device=DeviceActivity(sightings=30, data_frames=6, randomised=True),
    )
    expected = {
        "duration_s": 300.0,
        "zones_share": 5 / 6,  # door, a1, promo, fit, till of the six zones
        "zone_changes": 6,
        "revisits": 1,
        "max_stay_s": 90.0,
        "dwell_share_aisle": 130 / 300,
        "dwell_share_value": 60 / 300,
        "dwell_share_fitting_room": 30 / 300,
        "dwell_share_checkout": 70 / 300,
        "checkout_visited": 1.0,
        "path_per_size": 60 / 20,
        "reach_share": 12 / 20,
        "tortuosity": 60 / 24,
        "speed_mps": 60 / 300,
        "stops": 4,
        "stops_per_min": 4 / 5,
        "picks": 3,
        "returns": 1,
        "fitting_room_items": 1,
        "purchases": 1,
        "return_ratio": 1 / 3,
        "kept_ratio": 2 / 3,
        "promo_item_share": 2 / 4,  # handled: three picks and one purchase
        "premium_item_share": 1 / 4,
        "budget_item_share": 2 / 4,
        "categories_handled": 3,
        "device_linked": 1.0,
        "device_sightings_per_min": 30 / 5,
        "device_data_share": 6 / 30,
    }
    assert set(expected) == set(FEATURES)
    row = visit_features(visit, SHAPE, ALL)
    got = {name: float(row[FEATURE_INDEX[name]]) for name in FEATURES}
    assert got == {k: float(np.float32(v)) for k, v in expected.items()}


def test_zones_past_sixty_four_are_still_counted_apart() -> None:
    kinds = {f"z{i}": "aisle" for i in range(70)}
    shape = StoreShape(kinds, size_m=50.0)
    visit = Visit(
        start=0,
        end=40,
        entered=True,
        stays=tuple(
            ZoneStay(z, 10 * i, 10 * i + 10) for i, z in enumerate(["z0", "z65", "z3", "z65"])
        ),
        path_m=10.0,
    )
    row = visit_features(visit, shape, SensorSet(True, False, False))
    assert row[FEATURE_INDEX["zones_share"]] == np.float32(3 / 70)
    assert row[FEATURE_INDEX["revisits"]] == 1


def random_visits(rng: random.Random, n: int) -> list[Visit]:
    zones = [*SHAPE.kinds, "not-in-config"]  # a zone the store does not list
    products = [SUIT, SOCKS, TEA]
    actions = ["picked", "returned", "fitting_room", "purchased"]
    visits = []
    for _ in range(n):
        start = rng.uniform(0, 1000)
        t, stays = start, []
        for _ in range(rng.choice([0, 1, 2, 5, 12])):
            d = rng.choice([0.0, rng.uniform(1, 100)])
            stays.append(ZoneStay(rng.choice(zones), t, t + d))
            t += d
        items = tuple(
            ItemEvent(t, "r", "a1", rng.choice(actions), rng.choice(products))  # type: ignore[arg-type]
            for _ in range(rng.choice([0, 0, 1, 3, 7]))
        )
        device = (
            DeviceActivity(rng.randint(1, 40), rng.randint(0, 10), True)
            if rng.random() < 0.5
            else None
        )
        visits.append(
            Visit(
                start=start,
                end=t + rng.choice([0.0, 5.0]),
                entered=rng.random() < 0.8,
                stays=tuple(stays),
                path_m=rng.choice([math.nan, rng.uniform(0, 300)]),
                reach_m=rng.choice([0.0, rng.uniform(0, 30)]),
                stops=rng.randint(0, 9),
                items=items,
                device=device,
            )
        )
    return visits


@pytest.mark.parametrize(
    "sensors", [SensorSet(*s) for s in itertools.product([False, True], repeat=3)], ids=str
)
def test_a_batch_gives_each_visit_the_row_it_gets_alone(sensors: SensorSet) -> None:
    visits = random_visits(random.Random(7), 400)
    batch = feature_matrix(visits, SHAPE, sensors)
    alone = np.stack([visit_features(v, SHAPE, sensors) for v in visits])
    assert batch.shape == (400, len(FEATURES)) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, alone)  # NaN where NaN, bit for bit elsewhere
    # the random visits reach the cases that matter: no stays, no items, no phone
    assert sensors.rfid is False or np.any(batch[:, FEATURE_INDEX["picks"]] > 0)
    assert feature_matrix([], SHAPE, sensors).shape == (0, len(FEATURES))
