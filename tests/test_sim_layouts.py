"""The simulator's extra training layouts: they load, walk deterministically, and are usable.

Each training layout added beside the demo store is simulated for a few minutes
(walk and truth only, no feed rendering, to stay fast); the same seed must give the
same truth bytes, every stop a shopper plans must be a zone of the store, and the
layout must let shoppers reach what it stocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point, Polygon

from agent.sim.fixture import load_store
from agent.sim.homography import Homography
from agent.sim.layout import StoreLayout
from agent.sim.scenario import Recording, simulate
from agent.sim.truth import truth_lines
from agent.sim.walk import TARGET_TOLERANCE_M

STORES = Path(__file__).resolve().parent.parent / "agent" / "sim" / "stores"
LAYOUTS = ("grocery-express", "department-floor")
MINUTES = 3.0
"""Long enough for a dozen shoppers to arrive and reach their first shelves."""
SEED = 3
ZONED_STOPS = ("stop", "fitting", "checkout", "door")
"""Leg kinds that target a zone (detours and the pavement do not)."""
REACH_M = TARGET_TOLERANCE_M + 0.1
"""A walker stands still once within the target tolerance of a target inside the zone, so
a stop begins at most this far outside its zone; one who gave up is metres away."""


def _run(name: str) -> tuple[Recording, bytes]:
    _, agent, sim = load_store(STORES / f"{name}.toml")
    rec = simulate(agent, sim, MINUTES, SEED)
    return rec, "\n".join(truth_lines(rec)).encode()


@pytest.fixture(scope="module", params=LAYOUTS)
def walked(request: pytest.FixtureRequest) -> tuple[str, Recording, bytes]:
    rec, truth = _run(request.param)
    return request.param, rec, truth


def _persons(truth: bytes, kind: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in truth.decode().splitlines()]
    return [r for r in records if r.get("type") == "person" and r["kind"] == kind]


def test_same_seed_same_truth_bytes(walked: tuple[str, Recording, bytes]) -> None:
    name, _, truth = walked
    _, again = _run(name)
    assert truth == again


def test_every_shopper_stop_is_a_zone_of_the_store(walked: tuple[str, Recording, bytes]) -> None:
    _, rec, truth = walked
    zones = {z.id for z in rec.agent.store.zones}
    shoppers = _persons(truth, "shopper")
    assert len(shoppers) >= 5, "too few shoppers arrived to say anything"
    stops = [s for p in shoppers for s in p["stops"] if s["kind"] in ZONED_STOPS]
    assert len(stops) >= 5 and any(s["kind"] == "stop" for s in stops), "nobody reached a shelf"
    assert {s["zone"] for s in stops} <= zones


def test_shoppers_reach_the_zones_they_set_out_for(walked: tuple[str, Recording, bytes]) -> None:
    """No aisle is blocked: each stop begins where its zone is, not where someone gave up."""
    _, rec, _ = walked
    shapes = {z.id: Polygon(z.polygon) for z in rec.agent.store.zones}
    shoppers = {p.pid for p in rec.people if p.kind == "shopper"}
    checked = 0
    for pid, kind, zone, arrive, _ in rec.walk.stops:
        if pid not in shoppers or zone is None or kind not in ZONED_STOPS:
            continue
        traj = rec.walk.trajectories[pid]
        at = traj.t.index(arrive)
        off = shapes[zone].distance(Point(traj.x[at], traj.y[at]))
        assert off <= REACH_M, f"person {pid} stopped {off:.1f} m outside {zone}"
        checked += 1
    assert checked >= 5


def test_shoppers_enter_by_the_entrance_and_pick_items(
    walked: tuple[str, Recording, bytes],
) -> None:
    _, rec, truth = walked
    kinds = {z.id: z.kind for z in rec.agent.store.zones}
    shoppers = [p for p in _persons(truth, "shopper") if p["zones"]]
    # The first zone a shopper steps into is the entrance: a door the agent counts them by.
    assert shoppers
    assert all(kinds[p["zones"][0]["zone"]] == "entrance" for p in shoppers)
    picked = [i for p in shoppers for i in p["items"] if i["action"] == "picked"]
    assert picked, "nobody picked anything in three minutes"


def test_truth_holds_no_epc(walked: tuple[str, Recording, bytes]) -> None:
    _, rec, truth = walked
    text = truth.decode().lower()
    assert not [i.epc for i in rec.catalogue.items if i.epc.lower() in text]


@pytest.mark.parametrize("name", LAYOUTS)
def test_layout_is_usable(name: str) -> None:
    _, agent, sim = load_store(STORES / f"{name}.toml")
    layout = StoreLayout(agent, sim)  # raises unless the floor is one connected area
    # Every zone has floor a person can stand on, and every stocked zone has an antenna
    # (stock is shelved within its reach).
    assert all(not z.area.is_empty for z in layout.zones.values())
    watched = {a.zone for reader in sim.rfid for a in reader.antennas}
    assert {s.zone for s in sim.stock} <= watched
    # Some camera sees every door (entrance and exit) where people cross it.
    doors = [z for z in layout.zones.values() if z.zone.kind in ("entrance", "exit")]
    assert doors
    for door in doors:
        point = door.area.representative_point()
        seen = []
        for cam in sim.cameras:
            u, v = Homography.fit(cam.floor_points, cam.image_points).to_image(point.x, point.y)
            seen.append(0 <= u < cam.width and 0 <= v < cam.height)
        assert any(seen), f"no camera sees {door.zone.id}"
