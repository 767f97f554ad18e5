"""Walking with JuPedSim: everyone's floor trajectory and the times their plans happen.

JuPedSim's collision-free speed model (Tordeux et al. 2016) moves every agent; we
steer each one directly (a direct-steering stage) along the shortest path that
JuPedSim's routing engine finds on the walkable floor, one corner at a time. A
dwell is an agent standing at its target; a companion is steered after the shopper
they came with. The simulation object is made by an injected factory, so a caller
can choose the model or its step (the benchmark runs JuPedSim's default beside ours).

Example (needs the ``sim`` extra)::

    crowd = Crowd(layout, [(person, make_plan) for ...])
    result = crowd.run(duration_s=900)
    result.trajectories[person.pid].t  # control ticks, seconds after the start
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.sim.layout import StoreLayout
from agent.sim.people import Person
from agent.sim.plan import LEG_PATIENCE_S, Leg

DT_S = 0.05
"""Model step. The speed model is first order, so 5 cm steps at walking pace are stable
and four times cheaper than JuPedSim's 0.01 s default."""
CONTROL_DT_S = 0.2
"""Steering and recording rate: fast enough for 5 fps detections, cheap to store."""
CORNER_TOLERANCE_M = 0.6
"""An intermediate corner counts as passed within this distance (people cut corners)."""
TARGET_TOLERANCE_M = 0.4
SPAWN_JITTER_M = 0.6
FOLLOW_GAP_M = 1.2
"""A companion keeps within about this of the shopper they are with."""


@dataclass(slots=True)
class ItemHappening:
    t: float
    pid: int
    item: int
    action: str
    zone: str | None


@dataclass(slots=True)
class Trajectory:
    pid: int
    t: list[float] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    left: float | None = None  # seconds after start when they left the floor


@dataclass(slots=True)
class _Walker:
    person: Person
    legs: list[Leg]
    agent_id: int
    leg: int = 0
    corners: list[tuple[float, float]] = field(default_factory=list)
    dwell_until: float | None = None
    leg_started: float = 0.0
    done_actions: int = 0
    following: bool = False  # a companion steered after their shopper


@dataclass(slots=True)
class WalkResult:
    trajectories: dict[int, Trajectory]
    items: list[ItemHappening]
    stops: list[tuple[int, str, str | None, float, float]]  # pid, kind, zone, arrive, leave


SimulationFactory = Callable[[Any], Any]
"""Builds a JuPedSim simulation for a shapely floor polygon."""


def jupedsim_factory(floor: Any) -> Any:
    import jupedsim as jps

    return jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=floor, dt=DT_S)


class Crowd:
    """Runs the pedestrian model for a population with plans.

    Args:
        layout: the floor.
        plans: each person with their legs, in arrival order.
        factory: makes the JuPedSim simulation (injected for tests).
    """

    def __init__(
        self,
        layout: StoreLayout,
        plans: list[tuple[Person, Callable[[], list[Leg]]]],
        factory: SimulationFactory = jupedsim_factory,
    ) -> None:
        import jupedsim as jps

        self._jps = jps
        self.layout = layout
        self.sim = factory(layout.floor)
        self.routing = jps.RoutingEngine(layout.floor)
        self.stage = self.sim.add_direct_steering_stage()
        self.journey = self.sim.add_journey(jps.JourneyDescription([self.stage]))
        self.pending = list(plans)
        self.walkers: dict[int, _Walker] = {}
        self.by_pid: dict[int, int] = {}  # person to agent id, while on the floor
        self.result = WalkResult({}, [], [])

    def run(
        self, duration_s: float, on_progress: Callable[[float], None] | None = None
    ) -> WalkResult:
        steps_per_control = max(1, round(CONTROL_DT_S / self.sim.delta_time()))
        ticks = int(duration_s / CONTROL_DT_S) + 1
        for tick in range(ticks):
            now = round(tick * CONTROL_DT_S, 3)
            self._spawn(now)
            self._control(now)
            for _ in range(steps_per_control):
                self.sim.iterate()
            if on_progress is not None and tick % 300 == 0:
                on_progress(now / duration_s)
        return self.result

    def _spawn(self, now: float) -> None:
        while self.pending and self.pending[0][0].arrival <= now:
            person, make_plan = self.pending[0]
            start = self._start_point(person)
            params = self._jps.CollisionFreeSpeedModelAgentParameters(
                position=start,
                journey_id=self.journey,
                stage_id=self.stage,
                desired_speed=person.speed,
                radius=0.2,
            )
            try:
                agent_id = self.sim.add_agent(params)
            except RuntimeError:
                return  # someone stands on the spawn point: try again next tick
            self.pending.pop(0)
            walker = _Walker(person, make_plan(), agent_id, leg_started=now)
            self.walkers[agent_id] = walker
            self.by_pid[person.pid] = agent_id
            self.result.trajectories[person.pid] = Trajectory(person.pid)
            if person.kind == "companion":
                walker.following = True
                self.sim.agent(agent_id).target = start
            else:
                self._route(walker, start, now)

    def _start_point(self, person: Person) -> tuple[float, float]:
        if person.kind == "staff":
            import random

            return self.layout.random_point(random.Random(person.seed))
        x, y = self.layout.sim.outside[person.origin]
        # Spread arrivals a little so two people arriving together do not collide.
        jitter = (person.seed % 1000) / 1000.0 * SPAWN_JITTER_M - SPAWN_JITTER_M / 2
        point = (x, y + jitter)
        return point if self.layout.is_reachable(point) else (x, y)

    def _route(self, walker: _Walker, here: tuple[float, float], now: float) -> None:
        target = walker.legs[walker.leg].target
        path = self.routing.compute_waypoints(here, target)
        walker.corners = [tuple(p) for p in path[1:]] or [target]
        walker.dwell_until = None
        walker.leg_started = now
        self.sim.agent(walker.agent_id).target = walker.corners[0]

    def _control(self, now: float) -> None:
        finished: list[int] = []
        for agent in self.sim.agents():
            walker = self.walkers[agent.id]
            x, y = agent.position
            traj = self.result.trajectories[walker.person.pid]
            traj.t.append(now)
            traj.x.append(x)
            traj.y.append(y)
            if self._advance(walker, agent, (x, y), now):
                finished.append(agent.id)
        for agent_id in finished:
            walker = self.walkers.pop(agent_id)
            del self.by_pid[walker.person.pid]
            self.result.trajectories[walker.person.pid].left = now
            self.sim.mark_agent_for_removal(agent_id)

    def _follow(self, walker: _Walker, agent: Any, here: tuple[float, float], now: float) -> bool:
        """Steer a companion after their shopper; False once the shopper has gone."""
        leader = walker.person.leader
        leader_agent = self.by_pid.get(leader.pid) if leader is not None else None
        if leader_agent is None:
            if leader is not None and leader.pid not in self.result.trajectories:
                return True  # the shopper has not stepped in yet: wait
            walker.following = False
            if self.layout.zone_at(*here) is None:  # already out: the nearest pavement end
                walker.leg = len(walker.legs) - 1
                walker.legs[-1].target = min(
                    self.layout.sim.outside, key=lambda end: math.dist(here, end)
                )
            self._route(walker, here, now)  # on with their own plan: out of the door
            return False
        there = self.sim.agent(leader_agent).position
        if math.dist(here, there) > FOLLOW_GAP_M:
            path = self.routing.compute_waypoints(here, there)
            agent.target = tuple(path[1]) if len(path) > 1 else there
        else:
            agent.target = here  # close enough: stand with them
        return True

    def _advance(self, walker: _Walker, agent: Any, here: tuple[float, float], now: float) -> bool:
        """Move the walker's plan on; True when they have left the floor."""
        if walker.following and self._follow(walker, agent, here, now):
            return False
        leg = walker.legs[walker.leg]
        if walker.dwell_until is None:
            corner = walker.corners[0]
            last = len(walker.corners) == 1
            near = math.dist(here, corner) < (TARGET_TOLERANCE_M if last else CORNER_TOLERANCE_M)
            if near and not last:
                walker.corners.pop(0)
                agent.target = walker.corners[0]
                return False
            if not near and now - walker.leg_started < LEG_PATIENCE_S:
                return False
            walker.dwell_until = now + leg.dwell_s
            walker.leg_started = now
            walker.done_actions = 0
            agent.target = here  # stand here for the dwell
        self._act(walker, leg, now)
        if now < walker.dwell_until:
            return False
        self.result.stops.append((walker.person.pid, leg.kind, leg.zone, walker.leg_started, now))
        walker.leg += 1
        if walker.leg >= len(walker.legs):
            return True
        self._route(walker, here, now)
        return False

    def _act(self, walker: _Walker, leg: Leg, now: float) -> None:
        while walker.done_actions < len(leg.actions):
            planned = leg.actions[walker.done_actions]
            at = walker.leg_started + planned.at * leg.dwell_s
            if at > now:
                return
            self.result.items.append(
                ItemHappening(
                    round(at, 3), walker.person.pid, planned.item.index, planned.action, leg.zone
                )
            )
            walker.done_actions += 1
