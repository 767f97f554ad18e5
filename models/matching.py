"""Replay a simulated fixture through the agent and pair its visits with the truth.

The agent's visits are anonymous by design, so a visit is matched to the simulated
shopper whose zone stays it overlaps most in time (greedy, one to one). Visits of
staff, passers-by and unmatched fragments are left out of training.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.aggregate.characteristics import MIN_VISIT_S
from agent.behaviour.models import ModelHolder
from agent.config import load_config
from agent.fusion.features import SensorSet, StoreShape, visit_features
from agent.fusion.visits import STOP_MIN_S
from agent.observations import ItemEvent, Product, Visit, ZoneStay
from agent.pipeline import Pipeline
from agent.runtime import replay

MIN_MATCH_SHARE = 0.5
"""A visit is that shopper's only if they shared zones for half the visit or more
(camera visits), or their time spans overlap by half their union (Wi-Fi visits)."""


@dataclass
class VisitSample:
    visit: Visit
    store: StoreShape
    labels: dict[str, bool]
    person: int
    recording: str

    def features(self, sensors: SensorSet) -> np.ndarray:
        return visit_features(self.visit, self.store, sensors)


def _overlap(visit: Visit, zones: list[dict]) -> float:
    total = 0.0
    for stay in visit.stays:
        for z in zones:
            if z["zone"] == stay.zone:
                total += max(0.0, min(stay.leave, z["leave"]) - max(stay.enter, z["enter"]))
    return total


def collect_samples(fixture: Path, cameras: bool = True) -> list[VisitSample]:
    """Matched visits of one fixture; ``cameras=False`` replays it as a camera-less store."""
    config = load_config(fixture / "fixture.toml")
    if not cameras:
        sources = config.sources.model_copy(update={"camera": [], "recorded": []})
        config = config.model_copy(update={"sources": sources})
    visits: list[Visit] = []
    pipeline = Pipeline(config, [], models=ModelHolder(None), visit_observer=visits.append)
    replay(config, [], base_dir=str(fixture), pipeline=pipeline)
    persons = [
        p
        for p in map(json.loads, (fixture / "truth.jsonl").read_text().splitlines())
        if p.get("type") == "person" and p.get("kind") == "shopper" and p.get("labels")
    ]
    kinds = StoreShape.of(config.store.zones)
    eligible = [v for v in visits if v.entered and v.duration_s >= MIN_VISIT_S]
    pairs = []
    for vi, v in enumerate(eligible):
        for pi, p in enumerate(persons):
            left = math.inf if p["left"] is None else p["left"]  # still inside at the end
            first = -math.inf if p["first_seen"] is None else p["first_seen"]
            if left < v.start or first > v.end:
                continue
            if cameras:
                score = _overlap(v, p["zones"]) / max(v.duration_s, 1e-3)
            else:
                # A sensor's zone is coarse (it hears its neighbours' shoppers too), so
                # a phone's visit is matched by time alone: the overlap of the two spans.
                both = min(v.end, left) - max(v.start, first)
                score = both / (max(v.end, left) - min(v.start, first))
            if score >= MIN_MATCH_SHARE:
                pairs.append((score, vi, pi))
    pairs.sort(reverse=True)
    used_v: set[int] = set()
    used_p: set[int] = set()
    samples = []
    for _, vi, pi in pairs:
        if vi in used_v or pi in used_p:
            continue
        used_v.add(vi)
        used_p.add(pi)
        p = persons[pi]
        samples.append(VisitSample(eligible[vi], kinds, p["labels"], p["person"], fixture.name))
    print(
        f"{fixture.name}{'' if cameras else ' (no cameras)'}: {len(visits)} visits, "
        f"{len(eligible)} eligible, "
        f"{len(persons)} shoppers, {len(samples)} matched",
        flush=True,
    )
    return samples


def truth_samples(fixture: Path) -> list[VisitSample]:
    """Every shopper of a recording as perfect sensing would see them.

    The visit is built from the simulator's truth (zone stays, walked path, stops,
    item interactions), not from the feeds: a model trained and judged on these shows
    how far the features could go with no tracker, fusion or RFID loss, which splits
    the gap to the target into sensing loss and what the behaviour itself leaves open.
    Phones are left out (the truth has no sightings): judge these without Wi-Fi.
    """
    config = load_config(fixture / "fixture.toml")
    shape = StoreShape.of(config.store.zones)
    with (fixture / "catalogue.csv").open(newline="") as f:
        catalogue = {
            r["gtin"]: Product(r["gtin"], r["category"], r["price_tier"], r["promo"] == "true")
            for r in csv.DictReader(f)
        }
    samples = []
    for p in map(json.loads, (fixture / "truth.jsonl").read_text().splitlines()):
        if p.get("type") != "person" or p.get("kind") != "shopper" or not p.get("labels"):
            continue
        zones = p["zones"]
        if not zones or zones[-1]["leave"] - zones[0]["enter"] < MIN_VISIT_S:
            continue
        start, end = zones[0]["enter"], zones[-1]["leave"]
        path = [(x, y) for t, x, y in p["path"] if start <= t <= end]
        visit = Visit(
            start=start,
            end=end,
            entered=True,
            stays=tuple(ZoneStay(z["zone"], z["enter"], z["leave"]) for z in zones),
            path_m=sum(math.dist(a, b) for a, b in itertools.pairwise(path)),
            reach_m=max((math.dist(path[0], q) for q in path), default=0.0),
            stops=sum(
                1
                for s in p["stops"]
                if s["kind"] in ("stop", "fitting", "checkout")
                and s["leave"] - s["arrive"] >= STOP_MIN_S
            ),
            items=tuple(
                ItemEvent(i["t"], "rfid", i["zone"], i["action"], catalogue[i["gtin"]])
                for i in p["items"]
            ),
        )
        samples.append(VisitSample(visit, shape, p["labels"], p["person"], fixture.name))
    return samples
