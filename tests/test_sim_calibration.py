"""Simulated shoppers reproduce the calibration, and no behaviour axis is given away by
one feature: archetypes overlap as real shoppers do."""

from __future__ import annotations

import doctest
import importlib
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from agent.sim.calibration import DEFAULT
from agent.sim.catalogue import Catalogue
from agent.sim.fixture import load_store
from agent.sim.layout import StoreLayout
from agent.sim.people import AXES, Person, arrivals, draw_traits, passersby
from agent.sim.plan import Leg, passerby_plan, shopper_plan

STORE = Path(__file__).resolve().parent.parent / "fixtures" / "high-street-fashion" / "store.toml"
"""The held-out layout: seven selling zones, so zone counts are not capped by the store."""
SHOPPERS = 4000
SHARE_TOLERANCE = 0.025
"""Binomial 3-sigma for 4000 draws at p = 0.5 is 0.024."""
MAX_SINGLE_FEATURE_ACCURACY = 0.9


@dataclass
class PlanStats:
    labels: dict[str, bool]
    sets: tuple[str, ...]
    categories: list[str]  # of the items picked
    zones: int
    dwell_s: float
    picks: int
    returns: int
    changed_mind: int  # put back at the same stop it was picked at
    detours: int
    promo_share: float  # share of stops in promotion or clearance zones
    fitting: bool
    kept_after_fitting: int
    tried: int
    bought: int


def _stats(person: Person, legs: list[Leg], promo: set[str]) -> PlanStats:
    actions = [a for leg in legs for a in leg.actions]
    stops = [leg for leg in legs if leg.kind == "stop"]
    fitting = [leg for leg in legs if leg.kind == "fitting"]
    tried = sum(1 for a in actions if a.action == "fitting_room")
    left_in_room = sum(1 for leg in fitting for a in leg.actions if a.action == "returned")
    assert person.traits is not None
    return PlanStats(
        labels=person.labels,
        sets=person.traits.sets,
        categories=[a.item.product.category for a in actions if a.action == "picked"],
        zones=len({leg.zone for leg in legs if leg.kind == "stop"}),
        dwell_s=sum(leg.dwell_s for leg in legs if leg.kind == "stop"),
        picks=sum(1 for a in actions if a.action == "picked"),
        returns=sum(1 for a in actions if a.action == "returned"),
        changed_mind=sum(
            1
            for leg in legs
            if leg.kind == "stop"
            for a in leg.actions
            if a.action == "returned" and any(b.action == "picked" for b in leg.actions)
        ),
        detours=sum(1 for leg in legs if leg.kind == "detour"),
        promo_share=sum(leg.zone in promo for leg in stops) / max(1, len(stops)),
        fitting=bool(fitting),
        kept_after_fitting=tried - left_in_room,
        tried=tried,
        bought=sum(1 for a in actions if a.action == "purchased"),
    )


@pytest.fixture(scope="module")
def plans() -> list[PlanStats]:
    _, agent, sim = load_store(STORE)
    layout = StoreLayout(agent, sim)
    catalogue = Catalogue(layout, random.Random(1))
    everyone = arrivals(random.Random(2), 1.2 * 3600.0 * SHOPPERS / 150, 150.0, DEFAULT)
    people = [p for p in everyone if p.kind == "shopper"]
    promo = {z.zone.id for z in layout.selling_zones() if z.stock and z.stock.promo}
    out = []
    for person in people[:SHOPPERS]:
        legs = shopper_plan(person, layout, catalogue, DEFAULT)
        for item in catalogue.items:  # restock: every shopper meets a full shelf
            item.taken = False
        out.append(_stats(person, legs, promo))
    assert len(out) == SHOPPERS
    return out


def test_label_shares_match_the_calibration() -> None:
    rng = random.Random(3)
    traits = [draw_traits(rng, DEFAULT) for _ in range(SHOPPERS)]
    targets = {
        "wanderer": DEFAULT.share_wanderer,
        "indecisive": DEFAULT.share_indecisive,
        "showroomer": DEFAULT.share_showroomer,
        "bargain": DEFAULT.share_bargain,
    }
    for axis in AXES:
        share = sum(t.labels()[axis] for t in traits) / len(traits)
        assert abs(share - targets[axis]) < SHARE_TOLERANCE, (axis, share)
    for name, rate in DEFAULT.set_rates:
        share = sum(name in t.sets for t in traits) / len(traits)
        assert abs(share - rate) < SHARE_TOLERANCE, (name, share)


def test_arrivals_follow_the_configured_rate() -> None:
    hours = 20.0
    people = arrivals(random.Random(4), hours * 3600, 150.0, DEFAULT)
    shoppers = [p for p in people if p.kind == "shopper"]
    assert abs(len(shoppers) / hours - 150.0) < 150.0 * 0.05
    # Families: companions come only with shoppers who shop for children.
    companions = [p for p in people if p.kind == "companion"]
    assert companions
    assert all(c.leader is not None and c.leader.traits is not None for c in companions)
    assert all("childrens" in c.leader.traits.sets for c in companions)  # type: ignore[union-attr]
    with_family = {id(c.leader) for c in companions}
    childrens = [p for p in shoppers if p.traits and "childrens" in p.traits.sets]
    assert abs(len(with_family) / len(childrens) - DEFAULT.family_group) < 0.08


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_axes_move_behaviour_the_calibrated_way(plans: list[PlanStats]) -> None:
    wander = [p for p in plans if p.labels["wanderer"]]
    mission = [p for p in plans if not p.labels["wanderer"]]
    assert _mean([p.zones for p in mission]) + 0.8 < _mean([p.zones for p in wander])
    assert _mean([p.detours for p in mission]) < _mean([p.detours for p in wander])
    # A wanderer still walks many of their hops straight.
    hops = sum(p.zones for p in wander)
    assert sum(p.detours for p in wander) / hops < 0.8

    def return_rate(group: list[PlanStats]) -> float:
        return sum(p.changed_mind for p in group) / max(1, sum(p.picks for p in group))

    decisive = [p for p in plans if not p.labels["indecisive"]]
    indecisive = [p for p in plans if p.labels["indecisive"]]
    assert return_rate(decisive) + 0.15 < return_rate(indecisive)
    assert return_rate(decisive) > 0.05  # a decisive shopper sometimes returns an item

    def conversion(group: list[PlanStats]) -> float:
        return sum(p.bought > 0 for p in group) / len(group)

    showroomers = [p for p in plans if p.labels["showroomer"]]
    shoppers = [p for p in plans if not p.labels["showroomer"]]
    assert conversion(showroomers) < 0.6 * conversion(shoppers)
    assert conversion(showroomers) > 0.01  # some showroomers still buy
    assert _mean([p.dwell_s for p in shoppers]) < _mean([p.dwell_s for p in showroomers])

    bargain = [p for p in plans if p.labels["bargain"]]
    brand = [p for p in plans if not p.labels["bargain"]]
    assert _mean([p.promo_share for p in brand]) + 0.05 < _mean([p.promo_share for p in bargain])

    tried = sum(p.tried for p in plans)
    kept = sum(p.kept_after_fitting for p in plans)
    assert tried > 100
    assert abs(kept / tried - DEFAULT.fitting_keep) < 0.07


def test_characteristic_sets_show_in_what_is_picked(plans: list[PlanStats]) -> None:
    for need, category in (("childrens", "childrens"), ("formal_wear", "formal_wear")):
        having = [p for p in plans if need in p.sets]
        others = [p for p in plans if need not in p.sets]

        def share(group: list[PlanStats], category: str = category) -> float:
            picked = [c for p in group for c in p.categories]
            return sum(c == category for c in picked) / max(1, len(picked))

        assert share(having) > 1.5 * share(others), need
        assert share(others) > 0  # others still pick some: sets overlap, never a rule
    small = [len(p.categories) for p in plans if "small_basket" in p.sets]
    rest = [len(p.categories) for p in plans if "small_basket" not in p.sets]
    assert _mean(small) < 0.8 * _mean(rest)


def test_no_axis_is_separable_by_one_feature(plans: list[PlanStats]) -> None:
    features = {
        "zones": lambda p: p.zones,
        "dwell": lambda p: p.dwell_s,
        "picks": lambda p: p.picks,
        "returns": lambda p: p.returns,
        "detours": lambda p: p.detours,
        "promo share": lambda p: p.promo_share,
        "fitting": lambda p: float(p.fitting),
        "bought": lambda p: p.bought,
    }
    for axis in AXES:
        labels = np.array([p.labels[axis] for p in plans])
        for name, feature in features.items():
            values = np.array([float(feature(p)) for p in plans])
            best = _best_threshold_accuracy(values, labels)
            assert best < MAX_SINGLE_FEATURE_ACCURACY, (axis, name, best)


def _best_threshold_accuracy(
    values: npt.NDArray[np.float64], labels: npt.NDArray[np.bool_]
) -> float:
    """Best balanced accuracy of any rule "value >= threshold" (or its reverse)."""
    thresholds = np.unique(values)
    above = values[None, :] >= thresholds[:, None]  # thresholds x shoppers
    true_pos = (above & labels).sum(axis=1) / labels.sum()
    true_neg = (~above & ~labels).sum(axis=1) / (~labels).sum()
    balanced = (true_pos + true_neg) / 2
    return float(np.maximum(balanced, 1 - balanced).max())


def test_store_level_rates_fall_in_published_ranges(plans: list[PlanStats]) -> None:
    n = len(plans)
    # Apparel store conversion (traffic-counter vendors): 20-40 %.
    assert 0.2 < sum(p.bought > 0 for p in plans) / n < 0.45
    # Fitting-room use: a minority of visits, most of them with picks.
    assert 0.1 < sum(p.fitting for p in plans) / n < 0.4
    assert 1.0 < _mean([p.zones for p in plans]) < 5.0


def test_some_passers_by_pause_at_the_window_but_never_come_in() -> None:
    _, agent, sim = load_store(STORE)
    layout = StoreLayout(agent, sim)
    people = passersby(random.Random(6), 3600.0 * 10, 300.0, DEFAULT)
    paused = 0
    for person in people:
        legs = passerby_plan(person, layout, DEFAULT)
        assert all(layout.zone_at(*leg.target) is None for leg in legs)  # all on the pavement
        paused += any(leg.kind == "detour" for leg in legs)
    assert abs(paused / len(people) - DEFAULT.window_glance) < 0.03


@pytest.mark.parametrize(
    "module",
    ["catalogue", "config", "homography", "layout", "people", "plan", "tomlwrite"],
)
def test_docstring_examples_run(module: str) -> None:
    imported = importlib.import_module(f"agent.sim.{module}")
    result = doctest.testmod(imported)
    assert result.attempted > 0 and result.failed == 0
