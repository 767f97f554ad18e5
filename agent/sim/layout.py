"""The simulated store's floor: walkable area, zones, stock and where people go.

Built from the same config the agent uses (zones, kinds, polygons) plus its
``[simulation]`` table (walls, shelves, pavement, stock, sensors).

Example:
    >>> from agent.config import parse_config
    >>> from agent.sim.config import SimulationConfig
    >>> agent = parse_config({"store": {"id": "s", "gateway_id": "g", "zones": [
    ...     {"id": "door", "kind": "entrance", "polygon": [[4, 0], [6, 0], [6, 1], [4, 1]]},
    ...     {"id": "rack", "kind": "shelf", "polygon": [[0, 1], [10, 1], [10, 8], [0, 8]]}]}})
    >>> sim = SimulationConfig.model_validate({"walkable": [[[0, 0], [10, 0], [10, 8], [0, 8]],
    ...     [[-2, -2], [12, -2], [12, 0], [-2, 0]]], "outside": [[-1, -1], [11, -1]],
    ...     "stock": [{"zone": "rack", "categories": ["formal_wear"]}]})
    >>> layout = StoreLayout(agent, sim)
    >>> layout.zone_at(5.0, 4.0)
    'rack'
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.geometry.base import BaseGeometry

from agent.config import DOOR_KINDS, AgentConfig, Zone
from agent.sim.config import Point, SimulationConfig, ZoneStock

CLEARANCE_M = 0.35
"""Targets keep this far from walls and shelves: a person's radius plus a margin, so the
pedestrian model never gets a target outside its accessible area."""
SAMPLE_TRIES = 200
SELLING_KINDS = frozenset({"shelf", "promo", "clearance", "aisle", "other", "service"})


class LayoutError(ValueError):
    """The simulation table and the zones do not describe a usable store."""


@dataclass(frozen=True, slots=True)
class ZoneArea:
    zone: Zone
    area: BaseGeometry  # the zone's reachable floor, shrunk by the clearance
    stock: ZoneStock | None


class StoreLayout:
    """Geometry queries the planner and the renderers share."""

    def __init__(self, agent: AgentConfig, sim: SimulationConfig) -> None:
        self.agent = agent
        self.sim = sim
        floor: BaseGeometry = shapely.union_all([ShapelyPolygon(p) for p in sim.walkable])
        for obstacle in sim.obstacles:
            floor = floor.difference(ShapelyPolygon(obstacle))
        if floor.geom_type != "Polygon":
            raise LayoutError(
                f"walkable minus obstacles must be one connected area, got {floor.geom_type}"
            )
        self.floor = floor
        self._reachable = floor.buffer(-CLEARANCE_M)
        stock = {s.zone: s for s in sim.stock}
        ids = {z.id for z in agent.store.zones}
        for s in sim.stock:
            if s.zone not in ids:
                raise LayoutError(f"stock: zone '{s.zone}' is not in store.zones")
        self.zones: dict[str, ZoneArea] = {}
        for zone in agent.store.zones:
            area = ShapelyPolygon(zone.polygon).intersection(self._reachable)
            self.zones[zone.id] = ZoneArea(zone, area, stock.get(zone.id))
        self._shapes = [(z.id, ShapelyPolygon(z.polygon)) for z in agent.store.zones]
        # The shop floor proper: the zones past the door. The walkable area also holds
        # the pavement, and a detour there walks the shopper out and back in (two visits).
        inside = shapely.union_all(
            [z.area for z in self.zones.values() if z.zone.kind not in DOOR_KINDS]
        )
        self._inside = self._reachable if inside.is_empty else inside
        self.door = self._door("entrance")
        self.exit = self._door("exit") if self._has_kind("exit") else self.door
        for point in sim.outside:
            if not self._reachable.contains(ShapelyPoint(point)):
                raise LayoutError(f"outside: {list(point)} is not on the walkable floor")

    def _has_kind(self, kind: str) -> bool:
        return any(z.zone.kind == kind for z in self.zones.values())

    def _door(self, kind: str) -> Point:
        for z in self.zones.values():
            if z.zone.kind == kind and not z.area.is_empty:
                c = z.area.representative_point()
                return (round(c.x, 3), round(c.y, 3))
        raise LayoutError(f"store.zones: no reachable zone of kind '{kind}' (people need a door)")

    def zones_of(self, *kinds: str) -> list[ZoneArea]:
        return [z for z in self.zones.values() if z.zone.kind in kinds and not z.area.is_empty]

    def selling_zones(self) -> list[ZoneArea]:
        return [z for z in self.zones.values() if z.stock is not None and not z.area.is_empty]

    def zone_at(self, x: float, y: float) -> str | None:
        """The zone containing the point; where zones overlap the first listed wins."""
        p = ShapelyPoint(x, y)
        for zone_id, shape in self._shapes:
            if shape.covers(p):
                return zone_id
        return None

    def zones_at(self, xs: Sequence[float], ys: Sequence[float]) -> list[str | None]:
        """``zone_at`` for many points at once (vectorised; first listed zone wins)."""
        x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        found = np.full(len(x), -1)
        for n, (_, shape) in reversed(list(enumerate(self._shapes))):
            found[shapely.intersects_xy(shape, x, y)] = n
        names = [zone_id for zone_id, _ in self._shapes]
        return [names[i] if i >= 0 else None for i in found.tolist()]

    def point_in(
        self, zone_id: str, rng: random.Random, near: tuple[Point, float] | None = None
    ) -> Point:
        """A random reachable point inside the zone (within ``near``'s circle if given)."""
        area = self.zones[zone_id].area
        if near is not None:
            circle = ShapelyPoint(near[0]).buffer(near[1])
            inside = area.intersection(circle)
            if not inside.is_empty and inside.area > 0:
                area = inside
        return self._sample(area, rng)

    def random_point(self, rng: random.Random) -> Point:
        """A random reachable point anywhere on the shop floor past the door (detours)."""
        return self._sample(self._inside, rng)

    def is_reachable(self, point: Point) -> bool:
        return bool(self._reachable.contains(ShapelyPoint(point)))

    @staticmethod
    def _sample(area: BaseGeometry, rng: random.Random) -> Point:
        x0, y0, x1, y1 = area.bounds
        for _ in range(SAMPLE_TRIES):
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if area.contains(ShapelyPoint(x, y)):
                return (round(x, 3), round(y, 3))
        c = area.representative_point()
        return (round(c.x, 3), round(c.y, 3))
