"""Behaviour segments and characteristic sets per window, per zone and store-wide.

A visit is counted once it has closed: in the window its end falls in, store-wide
and in every zone it stayed in. Only real shopper visits count: first seen at an
entrance (so the whole visit was observed) and at least ``MIN_VISIT_S`` long.
Visits wait in a small queue and are classified in one batch just before their
window is published, so onnxruntime sees batches, not single rows.

Segment counts are expected counts: each axis's second pole gets the sum of the
model's probabilities over the window's visits, rounded, and the first pole the
rest. Counting each visit on its likelier pole instead would push every share
towards the majority pole wherever the model is unsure (a model that finds 60 % of
showroomers and seldom raises a false alarm reports about 60 % of them); the sum
of calibrated probabilities does not (probabilistic classify-and-count, Bella et al. 2010,
"Quantification via probability estimators", IEEE ICDM). One visit still moves each
pair by exactly one, so the privacy sensitivity is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from agent.behaviour.models import AXES, LoadedModel
from agent.behaviour.rules import CharacteristicRule
from agent.fusion.features import SensorSet, StoreShape, feature_matrix
from agent.observations import Visit

MIN_VISIT_S = 20.0
"""Shorter visits are people turning round in the doorway or cutting through,
not shoppers whose behaviour means anything."""
MAX_PENDING = 1024
"""Classify early rather than hold more visits than this in memory."""
SEGMENTS = tuple(pole for axis in AXES for pole in axis)
STORE = ""


@dataclass
class ScopeCounts:
    visits: int = 0
    segments: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEGMENTS, 0))
    characteristics: dict[str, int] = field(default_factory=dict)
    classified: int = 0  # visits a model scored
    expected: dict[str, float] = field(  # sum of P(second pole) per axis
        default_factory=lambda: {second: 0.0 for _, second in AXES}
    )

    def settle(self) -> None:
        """Turn the summed probabilities into the published whole counts."""
        for first, second in AXES:
            # floor(x + 1/2), not round(): banker's rounding could move a count by two
            # when one visit is added, breaking the sensitivity of one per pair.
            n = min(math.floor(self.expected[second] + 0.5), self.classified)
            self.segments[second] = n
            self.segments[first] = self.classified - n


@dataclass
class _Pending:
    window: float
    scopes: tuple[str, ...]
    visit: Visit
    sets: tuple[str, ...]


class CharacteristicsCounter:
    """Counts classified visits into windows keyed by their start time.

    Windows are opened and closed by the traffic aggregator; ``take`` hands over
    the counts of one window when traffic publishes it, so both event types cover
    the same windows with the same observed spans.
    """

    def __init__(
        self,
        zones: list[str],
        shape: StoreShape,
        rules: list[CharacteristicRule],
        sensors: SensorSet,
        window_s: float,
    ) -> None:
        self.scopes = [STORE, *zones]
        self.shape = shape
        self.rules = rules
        self.sensors = sensors
        self.window_s = window_s
        self.released_until = -np.inf
        self.skipped_short = 0
        self._pending: list[_Pending] = []
        self._windows: dict[float, dict[str, ScopeCounts]] = {}

    def on_visit(self, visit: Visit, model: LoadedModel | None) -> None:
        if not visit.entered or visit.duration_s < MIN_VISIT_S:
            self.skipped_short += 1
            return
        window = (visit.end // self.window_s) * self.window_s
        if window + self.window_s <= self.released_until:
            window = self.released_until  # a straggler counts in the oldest open window
        scopes = (STORE, *sorted({s.zone for s in visit.stays}))
        sets = tuple(r.name for r in self.rules if r.matches(visit))
        self._pending.append(_Pending(window, scopes, visit, sets))
        if len(self._pending) >= MAX_PENDING:
            self.classify(model)

    def classify(self, model: LoadedModel | None) -> None:
        """Run the model over every pending visit in one batch and count them."""
        if not self._pending:
            return
        probabilities = None
        if model is not None:
            visits = [p.visit for p in self._pending]
            probabilities = model.predict(feature_matrix(visits, self.shape, self.sensors))
        for i, p in enumerate(self._pending):
            counts = self._windows.setdefault(p.window, self._empty())
            for scope in p.scopes:
                c = counts[scope]
                c.visits += 1
                for name in p.sets:
                    c.characteristics[name] += 1
                if probabilities is not None:
                    c.classified += 1
                    for (_, second), prob in zip(AXES, probabilities[i], strict=True):
                        c.expected[second] += float(prob)
        self._pending.clear()

    def take(self, start: float, model: LoadedModel | None) -> dict[str, ScopeCounts]:
        """The counts of the window starting at ``start``, now being published."""
        self.classify(model)
        self.released_until = max(self.released_until, start + self.window_s)
        counts = self._windows.pop(start, None) or self._empty()
        for scope in counts.values():
            scope.settle()
        return counts

    def _empty(self) -> dict[str, ScopeCounts]:
        return {
            s: ScopeCounts(characteristics={r.name: 0 for r in self.rules}) for s in self.scopes
        }
