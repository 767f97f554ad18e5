"""Visits per second through features and batched inference, beside the bare model call.

Run: .venv/bin/python bench/behaviour.py [--sensors camera,rfid,wifi] [--rounds 30]

Subject: a batch of closed visits -> ``feature_matrix`` -> the shipped model for the
sensor combination (what the characteristics counter does before each window is
published), recomputed from the Visit objects every round.
Baseline, in the same run: the bare onnxruntime call on the same, precomputed batch.
Targets (issue #8): at least 100,000 visits/s, and a ratio of at least 0.5.

The model is the one ``load_model`` picks from the shipped manifest, so after a
retrain the figures follow the new model; its name, version and training
hyperparameters are printed with them, and the subject's time is split into its
parts (per visit, median of interleaved rounds).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.behaviour.models import MANIFEST, load_model, shipped_models_dir
from agent.fusion.features import SensorSet, StoreShape, feature_matrix
from agent.observations import (
    DeviceActivity,
    ItemEvent,
    Product,
    Visit,
    ZoneStay,
)

BATCH = 1024
"""Visits per model call: the characteristics counter classifies at most this many
pending visits at once (MAX_PENDING in agent/aggregate/characteristics.py)."""
ROUNDS = 30
TARGET_RATE = 100_000
TARGET_RATIO = 0.5
ZONES = {
    f"z{i}": k
    for i, k in enumerate(
        ["entrance", "aisle", "aisle", "promo", "fitting_room", "checkout", "clearance"]
    )
}
SHAPE = StoreShape(ZONES, size_m=30.0)
SENSORS = SensorSet(camera=True, rfid=True, wifi=True)


def make_visits(n: int, rng: random.Random) -> list[Visit]:
    """Visits shaped like the simulated stores' (2-12 zone stays, 0-6 item events,
    a linked phone on 60%): the mean agent visit there has ~8 stays and ~1-3 items."""
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


def sensor_set(text: str) -> SensorSet:
    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = names - {"camera", "rfid", "wifi"}
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"sensors are camera, rfid, wifi; got {text!r}")
    return SensorSet("camera" in names, "rfid" in names, "wifi" in names)


def describe(name: str) -> str:
    """How the shipped model was trained, from its manifest."""
    manifest = json.loads((shipped_models_dir() / MANIFEST).read_text(encoding="utf-8"))
    hyper = manifest.get("training", {}).get("hyperparameters", {})
    entry = next(m for m in manifest["models"] if m["name"] == name)
    return (
        f"{hyper.get('n_estimators', '?')} trees/axis, depth {hyper.get('max_depth', '?')}, "
        f"learning rate {hyper.get('learning_rate', '?')}; sha256 {entry['sha256'][:12]}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sensors", type=sensor_set, default=SENSORS, help="e.g. camera,wifi")
    p.add_argument("--rounds", type=int, default=ROUNDS)
    args = p.parse_args()
    sensors: SensorSet = args.sensors

    model = load_model(shipped_models_dir(), sensors)
    visits = make_visits(BATCH, random.Random(1))
    batch = feature_matrix(visits, SHAPE, sensors)
    model.predict(batch)  # warm-up

    parts: dict[str, list[float]] = {"features": [], "inference": []}

    def subject() -> None:
        t0 = time.perf_counter()
        x = feature_matrix(visits, SHAPE, sensors)
        t1 = time.perf_counter()
        model.predict(x)
        t2 = time.perf_counter()
        parts["features"].append(t1 - t0)
        parts["inference"].append(t2 - t1)

    def baseline() -> None:
        model.predict(batch)

    runs: tuple[tuple[str, Callable[[], None]], ...] = (
        ("subject", subject),
        ("baseline", baseline),
    )
    times: dict[str, list[float]] = {name: [] for name, _ in runs}
    for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
        for name, fn in runs:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    def us(samples: list[float]) -> float:
        return float(np.median(samples)) / BATCH * 1e6

    rate = {k: BATCH / float(np.median(v)) for k, v in times.items()}
    ratio = rate["subject"] / rate["baseline"]
    print(
        f"model {model.name} {model.version} ({describe(model.name)}), "
        f"onnxruntime {onnxruntime.__version__}"
    )
    print(f"batch {BATCH} visits, {args.rounds} rounds; per visit (median):")
    print(f"  feature_matrix:  {us(parts['features']):6.2f} us")
    print(f"  model.predict:   {us(parts['inference']):6.2f} us")
    print(f"  subject total:   {us(times['subject']):6.2f} us")
    print(f"  bare onnxruntime:{us(times['baseline']):6.2f} us")
    print(f"features + batched inference: {rate['subject']:>10,.0f} visits/s")
    print(f"bare onnxruntime call:        {rate['baseline']:>10,.0f} visits/s")
    print(
        f"ratio subject/baseline:       {ratio:.2f} "
        f"(target >= {TARGET_RATIO}; absolute target {TARGET_RATE:,} visits/s: "
        f"{'met' if rate['subject'] >= TARGET_RATE else 'not met'})"
    )


if __name__ == "__main__":
    main()
