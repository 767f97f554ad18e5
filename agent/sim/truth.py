"""Ground truth of a recording (``truth.jsonl``): never read by the agent.

Lines, each with a ``type``:

- ``recording``: store id, start, duration, seed, calibration;
- ``person``: one per person (``kind`` shopper, companion, staff or passerby; ``with``
  names the shopper a companion came with): arrival and
  leaving time, the behaviour labels and latent scores, characteristic sets, phone
  behaviour, the stops (zone, kind, arrive, leave), the walked path (every
  ``PATH_STEP_S``) and length, and the item actions with product GTIN and category;
- ``window``: per aggregation window, for shoppers only: store entries and exits and
  entries by behaviour label (zone ``*``; ``people_entered`` counts their companions
  too), and entries into each zone.

Items are named by GTIN and a per-recording item number, never by EPC serial;
people by a per-recording number; nothing here is an identifier of anyone real.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

import numpy as np

from agent.sim.people import AXES, Person
from agent.sim.scenario import Recording
from agent.sim.walk import Trajectory

PATH_STEP_S = 2.0
"""Path resolution in the truth: enough to redraw a visit, small enough to ship."""
STORE = "*"


def _t(rec: Recording, seconds: float | None) -> float | None:
    return None if seconds is None else round(rec.start + seconds, 3)


def path_length(traj: Trajectory) -> float:
    xs, ys = np.asarray(traj.x), np.asarray(traj.y)
    return float(np.hypot(np.diff(xs), np.diff(ys)).sum()) if len(xs) > 1 else 0.0


def zone_sequence(rec: Recording, traj: Trajectory) -> list[tuple[str, float, float]]:
    """(zone, enter, leave) runs along a trajectory, in seconds after start."""
    runs: list[tuple[str, float, float]] = []
    current, since = None, 0.0
    for t, zone in zip(traj.t, rec.layout.zones_at(traj.x, traj.y), strict=True):
        if zone != current:
            if current is not None:
                runs.append((current, since, t))
            current, since = zone, t
    if current is not None and traj.t:
        runs.append((current, since, traj.t[-1]))
    return runs


def person_record(rec: Recording, person: Person) -> dict[str, Any]:
    traj = rec.walk.trajectories.get(person.pid, Trajectory(person.pid))
    step = max(1, round(PATH_STEP_S / 0.2))
    items = [
        {
            "t": _t(rec, h.t),
            "item": h.item,
            "action": h.action,
            "zone": h.zone,
            "gtin": rec.catalogue.items[h.item].product.gtin,
            "category": rec.catalogue.items[h.item].product.category,
        }
        for h in rec.walk.items
        if h.pid == person.pid
    ]
    traits = person.traits
    return {
        "type": "person",
        "person": person.pid,
        "kind": person.kind,
        "with": person.leader.pid if person.leader is not None else None,
        "arrival": _t(rec, person.arrival),
        "first_seen": _t(rec, traj.t[0]) if traj.t else None,
        "left": _t(rec, traj.left),
        "labels": person.labels,
        "scores": None
        if traits is None
        else {
            "wanderer": round(traits.wander, 4),
            "indecisive": round(traits.indecisive, 4),
            "showroomer": round(traits.showroom, 4),
            "bargain": round(traits.bargain, 4),
        },
        "sets": [] if traits is None else list(traits.sets),
        "phone": None if person.phone is None else asdict(person.phone),
        "stops": [
            {"kind": kind, "zone": zone, "arrive": _t(rec, a), "leave": _t(rec, b)}
            for pid, kind, zone, a, b in rec.walk.stops
            if pid == person.pid
        ],
        "zones": [
            {"zone": z, "enter": _t(rec, a), "leave": _t(rec, b)}
            for z, a, b in zone_sequence(rec, traj)
        ],
        "path_m": round(path_length(traj), 2),
        "path": [
            [_t(rec, t), round(x, 2), round(y, 2)]
            for t, x, y in zip(traj.t[::step], traj.x[::step], traj.y[::step], strict=True)
        ],
        "items": items,
        "purchased": sum(1 for i in items if i["action"] == "purchased"),
    }


def window_records(
    rec: Recording, persons: list[dict[str, Any]], window_s: int
) -> list[dict[str, Any]]:
    """True shopper counts per window: zone entries, store entries and exits, visits by label.

    A shopper enters the store at their first zone stay and leaves it at their last
    one, if they left before the recording ended. Staff and passers-by are not counted.
    """
    zone_ids = [z.id for z in rec.agent.store.zones]
    first = math.floor(rec.start / window_s) * window_s
    end = rec.start + rec.duration_s
    shoppers = [p for p in persons if p["kind"] == "shopper" and p["zones"]]
    visitors = [p for p in persons if p["kind"] in ("shopper", "companion") and p["zones"]]
    out = []
    w = first
    while w < end:

        def inside(t: float | None, w: float = w) -> bool:
            return t is not None and w <= t < w + window_s

        entered = [p for p in shoppers if inside(p["zones"][0]["enter"])]
        people_entered = sum(1 for p in visitors if inside(p["zones"][0]["enter"]))
        labels = {axis: sum(1 for p in entered if p["labels"][axis]) for axis in AXES}
        out.append(
            {
                "type": "window",
                "start": w,
                "end": w + window_s,
                "zone": STORE,
                "entered": len(entered),
                "people_entered": people_entered,
                "exited": sum(1 for p in shoppers if p["left"] and inside(p["zones"][-1]["leave"])),
                "entered_by_label": labels,
            }
        )
        for zone in zone_ids:
            entries = sum(
                1 for p in shoppers for z in p["zones"] if z["zone"] == zone and inside(z["enter"])
            )
            out.append(
                {
                    "type": "window",
                    "start": w,
                    "end": w + window_s,
                    "zone": zone,
                    "entered": entries,
                }
            )
        w += window_s
    return out


def truth_lines(rec: Recording) -> list[str]:
    head = {
        "type": "recording",
        "store": rec.agent.store.id,
        "start": rec.start,
        "duration_s": rec.duration_s,
        "seed": rec.seed,
        "calibration": {k: v for k, v in asdict(rec.calibration).items()},
    }
    persons = [person_record(rec, p) for p in rec.people]
    windows = window_records(rec, persons, rec.agent.aggregation.window_s)
    return [json.dumps(x, separators=(",", ":")) for x in [head, *persons, *windows]]
