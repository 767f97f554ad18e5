"""Characteristics events: classified visits counted per window and zone, privacy applied."""

from __future__ import annotations

from typing import Any

import numpy as np

from agent.aggregate.characteristics import SEGMENTS
from agent.aggregate.privacy import LaplaceNoise
from agent.behaviour.models import ModelHolder
from agent.cli import CollectSink
from agent.config import AgentConfig, parse_config
from agent.observations import ItemEvent, Observation, Product, TrackEnd, TrackPoint
from agent.pipeline import Pipeline

T0 = 1_764_403_200.0
KIDS = Product("05012345678917", "childrens", "mid", False)


def config(**privacy: Any) -> AgentConfig:
    return parse_config(
        {
            "store": {
                "id": "s",
                "gateway_id": "g",
                "zones": [
                    {"id": "door", "kind": "entrance", "polygon": [[0, 0], [2, 0], [2, 2], [0, 2]]},
                    {"id": "aisle", "kind": "aisle", "polygon": [[2, 0], [9, 0], [9, 9], [2, 9]]},
                ],
            },
            "sources": {},
            "aggregation": {"window_s": 900, "visit_timeout_s": 5},
            "privacy": {"k": 5, **privacy},
        }
    )


def shoppers(n: int, buy_kids: int) -> list[Observation]:
    obs: list[Observation] = []
    for i in range(n):
        start = T0 + 65 * i  # one shopper in the aisle at a time
        for s in range(60):
            x, y = (1.0, 1.0) if s < 3 or s > 56 else (3.0 + (s % 10) * 0.5, 4.0)
            obs.append(TrackPoint(start + s, "cam", i, x, y))
        if i < buy_kids:
            obs.append(ItemEvent(start + 20, "rfid", "aisle", "picked", KIDS))
        obs.append(TrackEnd(start + 60, "cam", i))
    return obs


def run(cfg: AgentConfig, obs: list[Observation], seed: int | None = 7) -> list[dict[str, Any]]:
    sink = CollectSink()
    p = Pipeline(cfg, [sink], models=ModelHolder.start(None, _sensors()), noise_seed=seed)
    for o in sorted(obs, key=lambda o: o.t):
        p.push(o)
        p.advance(o.t - 1)
    p.finish(end_of_input=True)
    return [e for e in sink.events if e["type"] == "edge-agent.characteristics.v1"]


def _sensors() -> Any:
    from agent.fusion.features import SensorSet

    return SensorSet(camera=True, rfid=True, wifi=False)


def test_every_window_and_zone_gets_counts_and_sets() -> None:
    events = run(config(), shoppers(8, buy_kids=6))
    assert [e["subject"] for e in events] == ["store", "door", "aisle"]
    store = events[0]["data"]
    assert store["visits"] == 8
    assert store["characteristics"]["family_with_kids"] == 6
    assert store["characteristics"]["fitness"] == 0
    for first, second in zip(SEGMENTS[::2], SEGMENTS[1::2], strict=True):
        counted = [store["segments"][first], store["segments"][second]]
        # Each visit lands on one pole of each axis; small poles are hidden.
        assert sum(c for c in counted if c is not None) <= 8
        assert None in counted or sum(counted) == 8
    assert store["model"]["sensors"] == ["camera", "rfid"]
    assert store["privacy"]["noise"] == "none"


def test_small_groups_are_suppressed_and_listed() -> None:
    store = run(config(), shoppers(8, buy_kids=2))[0]["data"]
    assert store["characteristics"]["family_with_kids"] is None
    assert "characteristics.family_with_kids" in store["privacy"]["suppressed"]


def test_noise_is_reproducible_in_replay_and_fresh_live() -> None:
    cfg = config(epsilon=1.0)
    a = run(cfg, shoppers(30, buy_kids=20), seed=7)
    b = run(cfg, shoppers(30, buy_kids=20), seed=7)
    assert a == b
    assert a[0]["data"]["privacy"] == {
        "k": 5,
        "epsilon": 1.0,
        "noise": "laplace",
        "suppressed": a[0]["data"]["privacy"]["suppressed"],
    }
    lives = {str(run(cfg, shoppers(30, buy_kids=20), seed=None)[0]["data"]) for _ in range(3)}
    assert len(lives) > 1


def test_laplace_noise_has_the_promised_scale() -> None:
    noise = LaplaceNoise(epsilon=0.5, sensitivity=3, rng=np.random.default_rng(0))
    draws = np.array([noise(1000) for _ in range(20000)]) - 1000
    # Laplace(b) has mean absolute deviation b = sensitivity / epsilon = 6.
    assert abs(np.mean(np.abs(draws)) - 6.0) < 0.3
    assert min(noise(0) for _ in range(1000)) == 0  # clamped, never negative


def test_segments_are_expected_counts_so_unsure_models_do_not_erase_a_segment() -> None:
    from agent.aggregate.characteristics import ScopeCounts

    # Ten visits the model gives a 30 % chance of being showroomers each: about three
    # showroomers, not the zero that counting each visit on its likelier pole reports.
    c = ScopeCounts(visits=10, classified=10)
    c.expected = {"wanderer": 10 * 0.3, "indecisive": 2.5, "showroomer": 0.49, "bargain_hunter": 10}
    c.settle()
    assert c.segments["wanderer"] == 3 and c.segments["mission"] == 7
    assert c.segments["indecisive"] == 3  # half up, never banker's rounding (2.5 -> 2)
    assert c.segments["showroomer"] == 0 and c.segments["shopper"] == 10
    assert c.segments["bargain_hunter"] == 10 and c.segments["brand_conscious"] == 0
    assert all(
        c.segments[a] + c.segments[b] == 10
        for a, b in zip(SEGMENTS[::2], SEGMENTS[1::2], strict=True)
    )
