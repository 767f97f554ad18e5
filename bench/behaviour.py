"""Visits per second through features and batched inference, beside the bare model call.

Run: .venv/bin/python bench/behaviour.py

Subject: closed visits -> ``visit_features`` -> stacked batch -> the shipped model
(what the characteristics counter does before each window is published).
Baseline, in the same run: the bare onnxruntime call on the same, precomputed batch.
Targets (issue #8): at least 100,000 visits/s, and a ratio of at least 0.5.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.behaviour.models import load_model, shipped_models_dir
from agent.fusion.features import SensorSet, StoreShape, feature_matrix, feature_row
from agent.observations import (
    DeviceActivity,
    ItemEvent,
    Product,
    Visit,
    ZoneStay,
)

BATCH = 1024
ROUNDS = 20
ZONES = {
    f"z{i}": k
    for i, k in enumerate(
        ["entrance", "aisle", "aisle", "promo", "fitting_room", "checkout", "clearance"]
    )
}
SHAPE = StoreShape(ZONES, size_m=30.0)
SENSORS = SensorSet(camera=True, rfid=True, wifi=True)


def make_visits(n: int, rng: random.Random) -> list[Visit]:
    visits = []
    products = [
        Product("05012345678900", c, t, p)
        for c, t, p in [
            ("protein", "premium", False),
            ("childrens", "budget", True),
            ("formal_wear", "mid", False),
        ]
    ]
    for _ in range(n):
        t, stays = 0.0, []
        for _ in range(rng.randint(2, 12)):
            d = rng.uniform(5, 120)
            stays.append(ZoneStay(rng.choice(list(ZONES)), t, t + d))
            t += d
        items = tuple(
            ItemEvent(
                rng.uniform(0, t),
                "rfid",
                "z1",
                rng.choice(["picked", "returned", "purchased"]),  # type: ignore[arg-type]
                rng.choice(products),
            )
            for _ in range(rng.randint(0, 6))
        )
        device = (
            DeviceActivity(rng.randint(3, 50), rng.randint(0, 20), True)
            if rng.random() < 0.6
            else None
        )
        visits.append(
            Visit(
                start=0.0,
                end=t,
                entered=True,
                stays=tuple(stays),
                path_m=rng.uniform(10, 400),
                reach_m=rng.uniform(3, 30),
                stops=rng.randint(0, 15),
                items=items,
                device=device,
            )
        )
    return visits


def main() -> None:
    model = load_model(shipped_models_dir(), SENSORS)
    visits = make_visits(BATCH, random.Random(1))
    batch = feature_matrix([feature_row(v, SHAPE, SENSORS) for v in visits])
    model.predict(batch)  # warm-up

    def subject() -> None:
        x = feature_matrix([feature_row(v, SHAPE, SENSORS) for v in visits])
        model.predict(x)

    def baseline() -> None:
        model.predict(batch)

    times = {"subject": [], "baseline": []}
    for _ in range(ROUNDS):  # interleaved, so machine noise hits both alike
        for name, fn in (("subject", subject), ("baseline", baseline)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    rate = {k: BATCH / float(np.median(v)) for k, v in times.items()}
    print(f"batch {BATCH} visits, {ROUNDS} rounds, model {model.name} {model.version}")
    print(f"features + batched inference: {rate['subject']:>10,.0f} visits/s")
    print(f"bare onnxruntime call:        {rate['baseline']:>10,.0f} visits/s")
    print(
        f"ratio subject/baseline:       {rate['subject'] / rate['baseline']:.2f} "
        f"(target >= 0.5; absolute target 100,000 visits/s)"
    )


if __name__ == "__main__":
    main()
