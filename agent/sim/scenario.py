"""One simulated recording: population, plans, walks, in memory, before any rendering.

Example (needs the ``sim`` extra)::

    recording = simulate(agent_config, sim_config, minutes=15, seed=7)
    len(recording.people)
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from agent.config import AgentConfig
from agent.sim.calibration import DEFAULT, Calibration
from agent.sim.catalogue import Catalogue
from agent.sim.config import SimulationConfig
from agent.sim.layout import StoreLayout
from agent.sim.people import Person, population
from agent.sim.plan import Leg, companion_plan, passerby_plan, shopper_plan, staff_plan
from agent.sim.walk import Crowd, SimulationFactory, WalkResult, jupedsim_factory

STREAM_LAYOUT, STREAM_PEOPLE = 1, 2
CLOCK_STREAM = 7919
"""Independent random streams per concern: more passers-by must not reshuffle the stock."""


@dataclass(frozen=True, slots=True)
class Recording:
    agent: AgentConfig
    sim: SimulationConfig
    layout: StoreLayout
    catalogue: Catalogue
    people: list[Person]
    walk: WalkResult
    start: float  # UTC epoch seconds of t = 0
    duration_s: float
    seed: int
    calibration: Calibration

    def clock(self, sensor_id: str) -> float:
        """Where this sensor's clock says the recording starts: true start plus its error.

        Each sensor's error is fixed for the recording and drawn from its id, so adding
        a sensor never moves another's clock.
        """
        rng = random.Random(self.seed * CLOCK_STREAM + zlib.crc32(sensor_id.encode()))
        return self.start + round(rng.uniform(-1.0, 1.0) * self.calibration.clock_skew_s, 3)


def epoch(iso_utc: str) -> float:
    return datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).timestamp()


def simulate(
    agent: AgentConfig,
    sim: SimulationConfig,
    minutes: float,
    seed: int,
    cal: Calibration = DEFAULT,
    factory: SimulationFactory = jupedsim_factory,
    on_progress: Callable[[float], None] | None = None,
) -> Recording:
    """Walk a store's population for ``minutes``; the same inputs give the same recording."""
    duration = minutes * 60.0
    layout = StoreLayout(agent, sim)
    catalogue = Catalogue(layout, random.Random(seed * 1000 + STREAM_LAYOUT))
    rng = random.Random(seed * 1000 + STREAM_PEOPLE)
    people = population(
        rng, duration, sim.arrivals_per_hour, sim.passersby_per_hour, sim.staff, cal
    )
    plans: list[tuple[Person, Callable[[], list[Leg]]]] = []
    for person in people:
        if person.kind == "shopper":
            plans.append((person, partial(shopper_plan, person, layout, catalogue, cal)))
        elif person.kind == "companion":
            plans.append((person, partial(companion_plan, person, layout)))
        elif person.kind == "staff":
            plans.append((person, partial(staff_plan, person, layout)))
        else:
            plans.append((person, partial(passerby_plan, person, layout, cal)))
    walk = Crowd(layout, plans, factory).run(duration, on_progress)
    return Recording(
        agent=agent,
        sim=sim,
        layout=layout,
        catalogue=catalogue,
        people=people,
        walk=walk,
        start=epoch(sim.start),
        duration_s=duration,
        seed=seed,
        calibration=cal,
    )
