"""The store floor: which zone a floor position is in.

Example:
    >>> from agent.config import Zone
    >>> layout = StoreLayout([Zone(id="door", kind="entrance",
    ...                             polygon=[(0, 0), (2, 0), (2, 2), (0, 2)])])
    >>> layout.zone_at(1.0, 1.0), layout.zone_at(5.0, 5.0)
    ('door', None)
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.config import Zone


def contains(polygon: Sequence[tuple[float, float]], x: float, y: float) -> bool:
    """Even-odd rule: is (x, y) inside the polygon? Points on an edge may go either way."""
    inside = False
    n = len(polygon)
    x1, y1 = polygon[n - 1]
    for x2, y2 in polygon:
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
        x1, y1 = x2, y2
    return inside


class StoreLayout:
    """Zones of one store, looked up by floor position. The first listed zone wins."""

    def __init__(self, zones: Sequence[Zone]) -> None:
        self.zones = list(zones)
        self.kind = {z.id: z.kind for z in self.zones}
        self._boxes = [
            (
                min(p[0] for p in z.polygon),
                min(p[1] for p in z.polygon),
                max(p[0] for p in z.polygon),
                max(p[1] for p in z.polygon),
            )
            for z in self.zones
        ]
        self.has_entrance = any(z.kind == "entrance" for z in self.zones)

    def zone_at(self, x: float, y: float) -> str | None:
        """The id of the zone containing (x, y), or None outside every zone."""
        for zone, (x0, y0, x1, y1) in zip(self.zones, self._boxes, strict=True):
            if x0 <= x <= x1 and y0 <= y <= y1 and contains(zone.polygon, x, y):
                return zone.id
        return None
