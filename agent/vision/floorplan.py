"""From image pixels to the store floor: homography, zones and entrance lines.

Each camera is calibrated with at least four points whose image pixel and floor
position (metres, store coordinates) a field engineer measured. The homography
maps a person's foot point (bottom centre of the box) onto the floor; everything
after the camera works in metres.

Entrance lines count directional crossings. A person's box jitters by several
pixels from frame to frame, which near a line would count one passage many times;
so a track must be ``hysteresis_m`` clear of the line on one side, then as clear
on the other side, for one crossing to count.

Example:
    >>> plan = FloorPlan.from_pairs([((0, 0), (0, 0)), ((100, 0), (1, 0)),
    ...                              ((100, 100), (1, 1)), ((0, 100), (0, 1))])
    >>> [round(v, 3) for v in plan.to_floor(50, 50)]
    [0.5, 0.5]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator

from agent.configbase import ID_PATTERN, Model

Point = tuple[float, float]

MIN_PAIRS = 4
"""A plane-to-plane homography has 8 degrees of freedom: four point pairs."""
MAX_REPROJECTION_M = 0.5
"""Calibration points the fitted homography misses by more than half a metre mean
a mistyped point or points not on the floor plane (a shelf top, a wall)."""


class CalibrationPoint(Model):
    image: tuple[float, float] = Field(
        title="Image point", description="[x, y] pixel in the camera image (origin top left)."
    )
    floor: tuple[float, float] = Field(
        title="Floor point", description="[x, y] of the same spot on the floor plan, metres."
    )


class LineConfig(Model):
    id: str = Field(
        title="Line id", description="Name of the line, e.g. 'door'.", pattern=ID_PATTERN
    )
    start: tuple[float, float] = Field(
        title="Start", description="[x, y] floor point, metres, where the line starts."
    )
    end: tuple[float, float] = Field(
        title="End", description="[x, y] floor point, metres, where the line ends."
    )
    hysteresis_m: float = Field(
        default=0.3,
        gt=0,
        le=5,
        title="Hysteresis",
        description="Distance a person must be clear of the line on each side for a "
        "crossing to count; absorbs box jitter.",
    )

    @field_validator("end")
    @classmethod
    def _has_length(cls, value: tuple[float, float], info: object) -> tuple[float, float]:
        data = getattr(info, "data", {})
        start = data.get("start")
        if start is not None and math.dist(start, value) < 1e-6:
            raise ValueError("line has no length (start and end are the same point)")
        return value


class CalibrationError(ValueError):
    """The calibration points do not define a usable homography."""


@dataclass(frozen=True)
class FloorPlan:
    """Maps image pixels of one camera onto the floor (metres)."""

    homography: npt.NDArray[np.float64]

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[Point, Point]]) -> FloorPlan:
        """Fit the homography to (image point, floor point) pairs.

        Raises:
            CalibrationError: fewer than four pairs, points in a line, or a fit
                that misses a calibration point by more than half a metre.
        """
        if len(pairs) < MIN_PAIRS:
            raise CalibrationError(
                f"calibration needs at least {MIN_PAIRS} image/floor point pairs, got {len(pairs)}"
            )
        image = np.asarray([p[0] for p in pairs], dtype=np.float64)
        floor = np.asarray([p[1] for p in pairs], dtype=np.float64)
        plan, errors = _fit(image, floor)
        if plan is not None and float(errors.max()) <= MAX_REPROJECTION_M:
            return plan
        # Name the culprit: the one point without which the others fit.
        for left_out in range(len(pairs) if len(pairs) > MIN_PAIRS else 0):
            keep = np.arange(len(pairs)) != left_out
            rest, rest_errors = _fit(image[keep], floor[keep])
            if rest is not None and float(rest_errors.max()) <= MAX_REPROJECTION_M:
                miss = float(np.linalg.norm(rest.to_floor_many(image[~keep]) - floor[~keep]))
                raise CalibrationError(
                    f"calibration point {left_out} is {miss:.2f} m off the floor plane the "
                    f"other points define (limit {MAX_REPROJECTION_M} m): check its image "
                    "and floor coordinates"
                )
        if plan is None:
            raise CalibrationError(
                "calibration points do not define a homography (three or more in a line?)"
            )
        worst = int(np.argmax(errors))
        raise CalibrationError(
            f"calibration point {worst} is {errors[worst]:.2f} m off the fitted floor plane "
            f"(limit {MAX_REPROJECTION_M} m): check its image and floor coordinates"
        )

    def to_floor(self, x: float, y: float) -> Point:
        """One image pixel to floor metres."""
        fx, fy = self.to_floor_many(np.asarray([[x, y]], dtype=np.float64))[0]
        return (float(fx), float(fy))

    def to_floor_many(self, points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """(N, 2) image pixels to (N, 2) floor metres."""
        if len(points) == 0:
            return np.zeros((0, 2))
        moved = cv2.perspectiveTransform(
            points.reshape(-1, 1, 2).astype(np.float64), self.homography
        )
        out: npt.NDArray[np.float64] = np.asarray(moved, dtype=np.float64).reshape(-1, 2)
        return out


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd rule; a point exactly on an edge may fall either way."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True):
        if (y1 > y) != (y2 > y):
            cross_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross_x:
                inside = not inside
    return inside


def zone_of(point: Point, zones: Sequence[tuple[str, Sequence[Point]]]) -> str | None:
    """The first zone (id, polygon) containing the floor point, or None."""
    for zone_id, polygon in zones:
        if point_in_polygon(point, polygon):
            return zone_id
    return None


@dataclass
class LineCounter:
    """Directional crossings of one floor line, with hysteresis, over many tracks.

    ``inbound`` counts crossings from the line's right side to its left side when
    walking from ``start`` to ``end`` (set the line so that the store is on the left).
    Per-track state is a side (+1, -1) kept in memory and dropped when a track ends.
    """

    line_id: str
    start: Point
    end: Point
    hysteresis_m: float
    inbound: int = 0
    outbound: int = 0
    _side: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: LineConfig) -> LineCounter:
        return cls(config.id, config.start, config.end, config.hysteresis_m)

    def signed_distance(self, point: Point) -> float:
        """Metres from the line, positive on its left (store side)."""
        (x1, y1), (x2, y2) = self.start, self.end
        length = math.hypot(x2 - x1, y2 - y1)
        return ((x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1)) / length

    def _within_span(self, point: Point) -> bool:
        """The point projects onto the segment (people walking past its ends do not count)."""
        (x1, y1), (x2, y2) = self.start, self.end
        dx, dy = x2 - x1, y2 - y1
        along = ((point[0] - x1) * dx + (point[1] - y1) * dy) / (dx * dx + dy * dy)
        return -0.1 <= along <= 1.1

    def observe(self, track: int, point: Point) -> int:
        """Feed a track's floor position; returns +1 (in), -1 (out) or 0."""
        distance = self.signed_distance(point)
        if abs(distance) < self.hysteresis_m:
            return 0  # in the dead band: no evidence of a side
        side = 1 if distance > 0 else -1
        previous = self._side.get(track)
        self._side[track] = side
        if previous is None or previous == side or not self._within_span(point):
            return 0
        if side > 0:
            self.inbound += 1
            return 1
        self.outbound += 1
        return -1

    def forget(self, track: int) -> None:
        self._side.pop(track, None)


def _fit(
    image: npt.NDArray[np.float64], floor: npt.NDArray[np.float64]
) -> tuple[FloorPlan | None, npt.NDArray[np.float64]]:
    """Least-squares homography (every point trusted; a bad one must be reported, not
    silently dropped as RANSAC would) and each point's error in metres."""
    matrix, _ = cv2.findHomography(image, floor, 0)
    if matrix is None or not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-12:
        return None, np.zeros(0)
    plan = FloorPlan(np.asarray(matrix, dtype=np.float64))
    errors: npt.NDArray[np.float64] = np.linalg.norm(plan.to_floor_many(image) - floor, axis=1)
    return plan, errors
