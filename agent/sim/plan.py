"""What each person means to do: a list of legs (walk to a point, stay, handle items).

A shopper's plan is drawn when they arrive, from their latent traits: how many
zones, which ones, in what order, detours, dwell, picks, returns, the fitting room
and the checkout. The walk itself (timing, crowding) is left to the pedestrian
model, and item actions get their timestamps when the leg is actually reached.

Example:
    >>> leg = Leg(target=(1.0, 2.0), zone="rack", dwell_s=10.0, kind="stop")
    >>> leg.actions
    []
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal

from agent.config import DOOR_KINDS
from agent.observations import ItemAction
from agent.sim.calibration import Calibration
from agent.sim.catalogue import Catalogue, TaggedItem
from agent.sim.layout import StoreLayout, ZoneArea
from agent.sim.people import Person, Traits

LegKind = Literal["stop", "detour", "fitting", "checkout", "door", "outside"]
DETOUR_DWELL_MAX_S = 4.0
"""A detour is a glance, not a stop."""
STAFF_LEGS = 400
"""Enough staff errands for a whole day at a few minutes each."""
STAFF_DWELL_RANGE_S = (20.0, 240.0)
MAX_PICKS_PER_STOP = 4
WINDOW_GLANCE_S = (3.0, 20.0)
LEG_PATIENCE_S = 120.0
"""Someone who has not reached a target in this long (a crowd, a blocked aisle) gives up
on it and carries on from where they stand. The walk enforces it; plans use it to bound
when a visit's returned items are surely back on the shelf."""
SPAWN_MARGIN_S = 120.0
"""A crowded pavement can hold back a shopper's first step by this much at most."""


@dataclass(frozen=True, slots=True)
class PlannedAction:
    at: float  # fraction of the leg's dwell when it happens
    item: TaggedItem
    action: ItemAction


@dataclass(slots=True)
class Leg:
    target: tuple[float, float]
    zone: str | None
    dwell_s: float
    kind: LegKind
    actions: list[PlannedAction] = field(default_factory=list)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: means here are below 10, so it is exact and cheap.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _zone_weight(area: ZoneArea, traits: Traits, cal: Calibration) -> float:
    stock = area.stock
    assert stock is not None
    weight = 1.0
    weight += cal.set_zone_weight * sum(1 for c in stock.categories if c in traits.sets)
    if stock.promo or area.zone.kind in ("promo", "clearance"):
        weight += cal.promo_weight_per_bargain * traits.bargain
    if stock.price_tier == "premium":
        weight += cal.premium_weight_per_brand * (1.0 - traits.bargain)
    return weight


def _choose_zones(
    rng: random.Random, zones: list[ZoneArea], traits: Traits, cal: Calibration
) -> list[ZoneArea]:
    n = 1 + _poisson(
        rng, cal.zones_base * (1.0 - traits.wander) * 0.5 + cal.zones_per_wander * traits.wander
    )
    n = min(n, len(zones))
    # Mission shoppers follow their needs sharply; wanderers drift (flatter weights).
    sharpness = 1.0 + 2.0 * (1.0 - traits.wander)
    pool = list(zones)
    chosen: list[ZoneArea] = []
    while pool and len(chosen) < n:
        weights = [_zone_weight(z, traits, cal) ** sharpness for z in pool]
        pick = rng.choices(range(len(pool)), weights=weights)[0]
        chosen.append(pool.pop(pick))
    return chosen


def _order(
    rng: random.Random, stops: list[ZoneArea], start: tuple[float, float], traits: Traits
) -> list[ZoneArea]:
    """Mission shoppers walk an efficient (nearest-next) route; wanderers mostly do not."""
    if rng.random() < traits.wander:
        rng.shuffle(stops)
        return stops
    ordered, here, pool = [], start, list(stops)
    while pool:
        nearest = min(pool, key=lambda z: math.dist(here, z.area.centroid.coords[0]))
        pool.remove(nearest)
        ordered.append(nearest)
        here = nearest.area.centroid.coords[0]
    return ordered


def _pick(
    rng: random.Random, catalogue: Catalogue, zone: str, traits: Traits, at: float
) -> TaggedItem | None:
    items = catalogue.available(zone, at)
    if not items:
        return None
    weights = [
        (1.0 + 2.0 * (i.product.category in traits.sets))
        # Bargain hunters reach for promoted stock, brand-conscious shoppers for premium.
        * (1.0 + 2.0 * traits.bargain * i.product.promo)
        * (1.0 + 2.0 * (1.0 - traits.bargain) * (i.product.price_tier == "premium"))
        for i in items
    ]
    return rng.choices(items, weights=weights)[0]


def shopper_plan(
    person: Person,
    layout: StoreLayout,
    catalogue: Catalogue,
    cal: Calibration,
) -> list[Leg]:
    """The legs of one shopper's visit, from the door back to the pavement."""
    traits = person.traits
    assert traits is not None
    rng = random.Random(person.seed)
    legs: list[Leg] = [Leg(layout.door, layout.zone_at(*layout.door), 0.0, "door")]
    zones = _order(
        rng, _choose_zones(rng, layout.selling_zones(), traits, cal), layout.door, traits
    )
    if zones and rng.random() < cal.revisit_base + cal.revisit_per_indecisive * traits.indecisive:
        zones.append(rng.choice(zones))  # back to a shelf already seen
    carried: list[TaggedItem] = []
    dwell_scale = (
        1.0
        + cal.dwell_per_indecisive * traits.indecisive
        + cal.dwell_per_showroomer * traits.showroom
    )
    pick_mean = (
        cal.picks_base
        + cal.picks_per_indecisive * traits.indecisive
        + cal.picks_per_showroomer * traits.showroom
    ) * (cal.small_basket_picks if "small_basket" in traits.sets else 1.0)
    p_return = cal.return_base + cal.return_per_indecisive * traits.indecisive
    p_detour = cal.detour_base + cal.detour_per_wander * traits.wander
    for area in zones:
        if rng.random() < p_detour:
            legs.append(
                Leg(layout.random_point(rng), None, rng.uniform(0.0, DETOUR_DWELL_MAX_S), "detour")
            )
        leg = Leg(
            layout.point_in(area.zone.id, rng),
            area.zone.id,
            _lognormal(rng, cal.dwell_median_s * dwell_scale, cal.dwell_sigma),
            "stop",
        )
        for _ in range(min(_poisson(rng, pick_mean), MAX_PICKS_PER_STOP)):
            item = _pick(rng, catalogue, area.zone.id, traits, person.arrival)
            if item is None:
                break
            item.taken, item.back_by = True, math.inf
            t_pick = rng.uniform(0.1, 0.6)
            leg.actions.append(PlannedAction(t_pick, item, "picked"))
            if rng.random() < p_return:
                # Back on the shelf, but it stays reserved: plans are made at arrival and
                # must not hand one tagged unit to two people at once.
                leg.actions.append(PlannedAction(rng.uniform(t_pick + 0.1, 0.95), item, "returned"))
            else:
                carried.append(item)
        leg.actions.sort(key=lambda a: a.at)
        if leg.actions:  # stand where the first item is shelved
            leg.target = leg.actions[0].item.shelf
        legs.append(leg)
    fitting = layout.zones_of("fitting_room")
    p_fitting = cal.fitting_base + cal.fitting_per_indecisive * traits.indecisive
    kept = list(carried)
    if carried and fitting and rng.random() < p_fitting:
        room = rng.choice(fitting)
        leg = Leg(
            layout.point_in(room.zone.id, rng),
            room.zone.id,
            _lognormal(rng, cal.fitting_dwell_median_s, cal.dwell_sigma),
            "fitting",
        )
        kept = []
        for item in carried:
            leg.actions.append(PlannedAction(rng.uniform(0.05, 0.3), item, "fitting_room"))
            if rng.random() < cal.fitting_keep:
                kept.append(item)
            else:  # left in the fitting room
                leg.actions.append(PlannedAction(rng.uniform(0.7, 0.95), item, "returned"))
        legs.append(leg)
    # Convex in the score: the keenest showroomers almost never pay, mild ones often do.
    p_buy = (
        cal.buy_showroomer
        + (cal.buy_shopper - cal.buy_showroomer) * (1.0 - traits.showroom) ** cal.buy_curve
    )
    checkouts = layout.zones_of("checkout")
    if kept and checkouts and rng.random() < p_buy:
        till = rng.choice(checkouts)
        leg = Leg(
            layout.point_in(till.zone.id, rng),
            till.zone.id,
            _lognormal(rng, cal.checkout_dwell_median_s, cal.dwell_sigma * 0.6),
            "checkout",
        )
        leg.actions = [PlannedAction(rng.uniform(0.5, 0.9), i, "purchased") for i in kept]
        leg.actions.sort(key=lambda a: a.at)
        legs.append(leg)
    else:
        # Not buying: what is still carried goes back to its shelf on the way out.
        for item in kept:
            home = item.product.zone
            legs.append(
                Leg(
                    layout.point_in(home, rng),
                    home,
                    rng.uniform(3.0, 10.0),
                    "stop",
                    [PlannedAction(0.5, item, "returned")],
                )
            )
    legs.append(Leg(layout.exit, layout.zone_at(*layout.exit), 0.0, "door"))
    legs.append(Leg(layout.sim.outside[rng.randrange(2)], None, 0.0, "outside"))
    # What this shopper puts back is free for later plans once it is surely back: no
    # leg takes longer than the walk's patience plus its dwell.
    back_by = person.arrival + SPAWN_MARGIN_S
    for leg in legs:
        back_by += leg.dwell_s + LEG_PATIENCE_S
        for action in leg.actions:
            if action.action == "returned":
                action.item.back_by = back_by
    return legs


def staff_plan(person: Person, layout: StoreLayout) -> list[Leg]:
    rng = random.Random(person.seed)
    zones = [
        z for z in layout.zones.values() if not z.area.is_empty and z.zone.kind not in DOOR_KINDS
    ]
    legs = []
    for _ in range(STAFF_LEGS):
        area = rng.choice(zones)
        legs.append(
            Leg(
                layout.point_in(area.zone.id, rng),
                area.zone.id,
                rng.uniform(*STAFF_DWELL_RANGE_S),
                "stop",
            )
        )
    return legs


def companion_plan(person: Person, layout: StoreLayout) -> list[Leg]:
    """A companion follows their shopper (steered by the walk); then this: out the door."""
    return [
        Leg(layout.exit, layout.zone_at(*layout.exit), 0.0, "door"),
        Leg(layout.sim.outside[random.Random(person.seed).randrange(2)], None, 0.0, "outside"),
    ]


def passerby_plan(person: Person, layout: StoreLayout, cal: Calibration) -> list[Leg]:
    """Along the pavement; now and then a pause at the shop window by the door."""
    rng = random.Random(person.seed)
    end = layout.sim.outside[1 - person.origin]
    legs = []
    if rng.random() < cal.window_glance:
        (x0, y0), (x1, y1) = layout.sim.outside
        # The point of the pavement line nearest the door, give or take a step.
        f = ((layout.door[0] - x0) * (x1 - x0) + (layout.door[1] - y0) * (y1 - y0)) / (
            (x1 - x0) ** 2 + (y1 - y0) ** 2
        )
        f = min(max(f + rng.uniform(-0.05, 0.05), 0.0), 1.0)
        window = (round(x0 + f * (x1 - x0), 3), round(y0 + f * (y1 - y0), 3))
        if layout.is_reachable(window):
            legs.append(Leg(window, None, rng.uniform(*WINDOW_GLANCE_S), "detour"))
    legs.append(Leg(end, None, 0.0, "outside"))
    return legs
