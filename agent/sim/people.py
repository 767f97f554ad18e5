"""Who walks through the simulated store: shoppers with latent traits, staff, passers-by.

A shopper's four behaviour axes are latent scores in (0, 1):
``Phi(spread * (z + Phi^-1(share)))`` with ``z`` standard normal, so the share of the
population above 0.5 (the label) matches the calibration. ``archetype_spread`` pushes
most shoppers towards one pole (archetypes) while a minority sits in between.
Behaviour is then drawn from distributions whose parameters move with the scores,
never from the label: two shoppers either side of 0.5 behave almost alike, as real
ones do.

Example:
    >>> import random
    >>> traits = draw_traits(random.Random(1), DEFAULT)
    >>> sorted(traits.labels())
    ['bargain', 'indecisive', 'showroomer', 'wanderer']
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

from agent.sim.calibration import DEFAULT, Calibration

PersonKind = Literal["shopper", "companion", "staff", "passerby"]
AXES = ("wanderer", "indecisive", "showroomer", "bargain")
_NORMAL = NormalDist()
COMPANION_GAP_S = 0.8
"""Companions step onto the pavement just behind the shopper they are with."""


@dataclass(frozen=True, slots=True)
class Traits:
    """Latent scores (0..1) on the four axes and the shopper's characteristic sets."""

    wander: float
    indecisive: float
    showroom: float
    bargain: float
    sets: tuple[str, ...]

    def labels(self) -> dict[str, bool]:
        """The ground-truth label of each axis: the score is above one half."""
        scores = (self.wander, self.indecisive, self.showroom, self.bargain)
        return {axis: score > 0.5 for axis, score in zip(AXES, scores, strict=True)}


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone's radio behaviour; its MACs are drawn when it is rendered."""

    randomised: bool
    associated: bool
    active: float  # share of the visit with the screen on (more probing, data)


@dataclass(slots=True)
class Person:
    pid: int
    kind: PersonKind
    arrival: float  # seconds after the recording start
    speed: float
    traits: Traits | None
    phone: Phone | None
    origin: int  # which pavement end (0 or 1) they come from
    seed: int  # their own random stream, so one person's draws never shift another's
    labels: dict[str, bool] = field(default_factory=dict)
    leader: Person | None = None  # a companion walks with this shopper


def _latent(rng: random.Random, share: float, spread: float) -> float:
    return _NORMAL.cdf(spread * (rng.gauss(0.0, 1.0) + _NORMAL.inv_cdf(share)))


def draw_traits(rng: random.Random, cal: Calibration) -> Traits:
    sets = tuple(name for name, rate in cal.set_rates if rng.random() < rate)
    return Traits(
        wander=_latent(rng, cal.share_wanderer, cal.archetype_spread),
        indecisive=_latent(rng, cal.share_indecisive, cal.archetype_spread),
        showroom=_latent(rng, cal.share_showroomer, cal.archetype_spread),
        bargain=_latent(rng, cal.share_bargain, cal.archetype_spread),
        sets=sets,
    )


def draw_phone(rng: random.Random, cal: Calibration, traits: Traits | None) -> Phone | None:
    if rng.random() >= cal.phone_owned or rng.random() >= cal.wifi_enabled:
        return None
    showroom = traits.showroom if traits else 0.0
    associated = rng.random() < cal.associated_base + cal.associated_per_showroomer * showroom
    return Phone(
        randomised=rng.random() < cal.randomised_probe,
        associated=associated,
        active=min(1.0, 0.15 + 0.7 * showroom + rng.uniform(0.0, 0.2)),
    )


def _speed(rng: random.Random, mean: float, sd: float) -> float:
    # Clamp to speeds people actually walk at; the tails of a normal are not people.
    return round(min(max(rng.gauss(mean, sd), 0.5), 1.8), 3)


def arrivals(
    rng: random.Random, duration_s: float, per_hour: float, cal: Calibration
) -> list[Person]:
    """Shoppers arriving as a Poisson process over the recording."""
    people: list[Person] = []
    t = rng.expovariate(per_hour / 3600.0)
    while t < duration_s:
        traits = draw_traits(rng, cal)
        people.append(
            Person(
                pid=0,
                kind="shopper",
                arrival=round(t, 2),
                speed=_speed(rng, cal.walk_speed_mean, cal.walk_speed_sd),
                traits=traits,
                phone=draw_phone(rng, cal, traits),
                origin=rng.randrange(2),
                seed=rng.getrandbits(32),
                labels=traits.labels(),
            )
        )
        people.extend(_companions(rng, people[-1], cal))
        t += rng.expovariate(per_hour / 3600.0)
    return people


def _companions(rng: random.Random, leader: Person, cal: Calibration) -> list[Person]:
    """A family shopping for children often comes in together: they walk with the shopper."""
    assert leader.traits is not None
    if "childrens" not in leader.traits.sets or rng.random() >= cal.family_group:
        return []
    count = 1 + (rng.random() < cal.family_second_companion)
    return [
        Person(
            pid=0,
            kind="companion",
            arrival=round(leader.arrival + COMPANION_GAP_S * (n + 1), 2),
            speed=leader.speed,
            traits=None,
            # Half of companions are children, who carry no phone.
            phone=draw_phone(rng, cal, None) if rng.random() < 0.5 else None,
            origin=leader.origin,
            seed=rng.getrandbits(32),
            leader=leader,
        )
        for n in range(count)
    ]


def passersby(
    rng: random.Random, duration_s: float, per_hour: float, cal: Calibration
) -> list[Person]:
    people: list[Person] = []
    if per_hour <= 0:
        return people
    t = rng.expovariate(per_hour / 3600.0)
    while t < duration_s:
        people.append(
            Person(
                pid=0,
                kind="passerby",
                arrival=round(t, 2),
                speed=_speed(rng, cal.passerby_speed_mean, cal.walk_speed_sd),
                traits=None,
                phone=draw_phone(rng, cal, None),
                origin=rng.randrange(2),
                seed=rng.getrandbits(32),
            )
        )
        t += rng.expovariate(per_hour / 3600.0)
    return people


def staff(rng: random.Random, count: int, cal: Calibration = DEFAULT) -> list[Person]:
    return [
        Person(
            pid=0,
            kind="staff",
            arrival=0.0,
            speed=_speed(rng, cal.walk_speed_mean + 0.1, cal.walk_speed_sd),
            traits=None,
            # Staff phones sit on the store network all day with one stable address.
            phone=Phone(randomised=False, associated=True, active=0.1),
            origin=0,
            seed=rng.getrandbits(32),
        )
        for _ in range(count)
    ]


def population(
    rng: random.Random,
    duration_s: float,
    shoppers_per_hour: float,
    passersby_per_hour: float,
    staff_count: int,
    cal: Calibration,
) -> list[Person]:
    """Everyone in the recording, in arrival order, numbered from 1."""
    people = (
        staff(rng, staff_count, cal)
        + arrivals(rng, duration_s, shoppers_per_hour, cal)
        + passersby(rng, duration_s, passersby_per_hour, cal)
    )
    # Stable sort: a companion arriving with its shopper stays behind them.
    people.sort(key=lambda p: p.arrival)
    for n, person in enumerate(people, start=1):
        person.pid = n
    return people
