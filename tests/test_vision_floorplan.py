"""Homography from known points, zones, and entrance lines with hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from agent.vision.floorplan import (
    CalibrationError,
    FloorPlan,
    LineConfig,
    LineCounter,
    zone_of,
)

# A camera looking down a 6 m x 10 m aisle at an angle: the true homography.
TRUE_H = np.array([[0.02, 0.004, -3.0], [0.0005, 0.035, -2.0], [0.00002, 0.0009, 1.0]])


def project(h: np.ndarray, x: float, y: float) -> tuple[float, float]:
    v = h @ np.array([x, y, 1.0])
    return (float(v[0] / v[2]), float(v[1] / v[2]))


def test_homography_maps_known_points_to_the_floor() -> None:
    image_points = [(100, 400), (1800, 420), (1500, 1000), (300, 1050), (960, 700)]
    plan = FloorPlan.from_pairs([(p, project(TRUE_H, *p)) for p in image_points])
    rng = np.random.default_rng(3)
    for x, y in rng.uniform([0, 300], [1920, 1080], size=(50, 2)):
        got = plan.to_floor(float(x), float(y))
        want = project(TRUE_H, float(x), float(y))
        assert got == pytest.approx(want, abs=1e-3)  # a millimetre


def test_calibration_problems_are_named() -> None:
    square = [((0, 0), (0, 0)), ((100, 0), (1, 0)), ((100, 100), (1, 1)), ((0, 100), (0, 1))]
    with pytest.raises(CalibrationError, match="at least 4"):
        FloorPlan.from_pairs(square[:3])
    in_a_line = [((i * 10, i * 10), (i, i)) for i in range(4)]
    with pytest.raises(CalibrationError, match=r"homography|off the fitted"):
        FloorPlan.from_pairs(in_a_line)
    mistyped = [*square, ((50, 50), (3.0, 0.5))]  # the centre should be (0.5, 0.5)
    with pytest.raises(CalibrationError, match="point 4 is"):
        FloorPlan.from_pairs(mistyped)


def test_zones_are_floor_polygons() -> None:
    zones = [("door", [(0, 0), (2, 0), (2, 1), (0, 1)]), ("aisle", [(0, 0), (10, 0), (10, 5)])]
    assert zone_of((1, 0.5), zones) == "door"  # the first listed wins where they overlap
    assert zone_of((8, 1), zones) == "aisle"
    assert zone_of((1, 4), zones) is None


def door() -> LineCounter:
    # The door is the line x = 5 from y = 0 to y = 4; walking from start to end (north),
    # the store (x < 5) is on the left.
    return LineCounter.from_config(
        LineConfig(id="door", start=(5, 0), end=(5, 4), hysteresis_m=0.3)
    )


def test_line_counts_each_passage_once_in_its_direction() -> None:
    line = door()
    for x in np.linspace(8, 2, 30):  # walk in
        line.observe(1, (float(x), 2.0))
    for x in np.linspace(2, 8, 30):  # and out again
        line.observe(1, (float(x), 2.0))
    for x in np.linspace(8, 2, 30):  # someone else walks in
        line.observe(2, (float(x), 1.0))
    assert (line.inbound, line.outbound) == (2, 1)


def test_jitter_on_the_line_never_counts() -> None:
    line = door()
    rng = np.random.default_rng(5)
    # Standing in the doorway: the foot point jitters 0.2 m either side for a minute.
    for _ in range(600):
        line.observe(1, (5 + float(rng.uniform(-0.25, 0.25)), 2.0))
    assert (line.inbound, line.outbound) == (0, 0)
    # A jittery but real passage counts exactly once.
    for x in np.linspace(6, 4, 40):
        line.observe(1, (float(x) + float(rng.uniform(-0.2, 0.2)), 2.0))
    assert (line.inbound, line.outbound) == (1, 0)


def test_walking_past_the_end_of_the_line_is_not_a_crossing() -> None:
    line = door()
    for x in np.linspace(8, 2, 30):
        line.observe(1, (float(x), 9.0))  # 5 m beyond the door's end
    assert (line.inbound, line.outbound) == (0, 0)


def test_line_config_rejects_a_point() -> None:
    with pytest.raises(ValueError, match="no length"):
        LineConfig(id="door", start=(1, 1), end=(1, 1))
