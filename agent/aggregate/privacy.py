"""The privacy filter: what of an aggregate may leave the agent.

k-anonymity on counts: any count from 1 to k-1 is published as null and its
field path listed in ``privacy.suppressed``. Zero is published: it describes no
one. Derived figures follow the counts they come from: dwell percentiles need at
least k dwell times, mean occupancy needs at least k visits present.

This protects against reading a small group off one event. It does not protect
against differencing across fields or windows (for example occupancy carried
from one window to the next); that is what calibrated noise is for: with
``privacy.epsilon`` set, every count of a characteristics window gets Laplace
noise scaled to the most one visit can change them (see docs/privacy.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agent.aggregate.characteristics import ScopeCounts
from agent.aggregate.traffic import ScopeTraffic, TrafficWindow

DWELL_PERCENTILES = (50, 90)
"""Median and the long tail: what store operations read dwell reports for."""


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


class KFilter:
    """Applies k-suppression while building one payload, recording what it hid."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.suppressed: list[str] = []

    def count(self, path: str, value: int) -> int | None:
        if 0 < value < self.k:
            self.suppressed.append(path)
            return None
        return value

    def needs(self, path: str, support: int, value: float) -> float | None:
        """Publish ``value`` only if it rests on at least k people (or on none)."""
        if 0 < support < self.k:
            self.suppressed.append(path)
            return None
        return value


def traffic_data(window: TrafficWindow, scope: ScopeTraffic, k: int) -> dict[str, Any]:
    """The published ``data`` of one traffic event (before the envelope)."""
    f = KFilter(k)
    footfall = {
        "in": f.count("footfall.in", scope.entries),
        "out": f.count("footfall.out", scope.exits),
    }
    span = window.observed_to - window.observed_from
    mean = round(scope.person_seconds / span, 2) if span > 0 else 0.0
    occupancy = {
        "end": f.count("occupancy.end", scope.occupancy_end),
        "mean": f.needs("occupancy.mean", scope.present, mean),
    }
    n = len(scope.dwell_s)
    dwell: dict[str, Any] = {"n": f.count("dwell_s.n", n)}
    for q in DWELL_PERCENTILES:
        value = round(percentile(scope.dwell_s, q), 1) if n else None
        dwell[f"p{q}"] = f.needs(f"dwell_s.p{q}", n, value) if value is not None else None
    return {
        "footfall": footfall,
        "occupancy": occupancy,
        "dwell_s": dwell,
        "privacy": {"k": k, "suppressed": f.suppressed},
    }


class LaplaceNoise:
    """Adds Laplace(sensitivity / epsilon) noise to a count, then rounds and clamps at 0.

    Rounding and clamping are post-processing: they keep the guarantee.

    Args:
        epsilon: privacy budget of one window's release.
        sensitivity: the most one visit can change the sum of all counts released
            for a window (L1), so the whole window is epsilon-DP for one visit.
        rng: the noise source; seeded from the OS in live mode.
    """

    def __init__(self, epsilon: float, sensitivity: float, rng: np.random.Generator) -> None:
        if epsilon <= 0 or sensitivity <= 0:
            raise ValueError("epsilon and sensitivity must be positive")
        self.epsilon = epsilon
        self.scale = sensitivity / epsilon
        self.rng = rng

    def __call__(self, count: int) -> int:
        return max(0, round(count + float(self.rng.laplace(0.0, self.scale))))


def characteristics_data(
    counts: ScopeCounts,
    k: int,
    noise: Callable[[int], int] | None,
    classified: bool,
) -> dict[str, Any]:
    """The privacy-filtered counts of one characteristics event.

    ``classified`` is False when no behaviour model was available: segments are
    then null without being listed as suppressed.
    """
    f = KFilter(k)

    def release(path: str, value: int) -> int | None:
        return f.count(path, noise(value) if noise is not None else value)

    return {
        "visits": release("visits", counts.visits),
        "segments": {
            name: release(f"segments.{name}", n) if classified else None
            for name, n in counts.segments.items()
        },
        "characteristics": {
            name: release(f"characteristics.{name}", n)
            for name, n in counts.characteristics.items()
        },
        "privacy": {
            "k": k,
            "epsilon": getattr(noise, "epsilon", None),
            "noise": "none" if noise is None else "laplace",
            "suppressed": f.suppressed,
        },
    }
