"""Footfall, occupancy and dwell from tracks whose truth the test controls."""

from __future__ import annotations

from typing import Any

from agent.behaviour.models import ModelHolder
from agent.cli import CollectSink
from agent.config import AgentConfig, parse_config
from agent.observations import Observation, TrackEnd, TrackPoint
from agent.pipeline import Pipeline

T0 = 1_764_403_200.0  # a window boundary (08:00:00Z)


def config(k: int = 2, **aggregation: Any) -> AgentConfig:
    return parse_config(
        {
            "store": {
                "id": "s",
                "gateway_id": "g",
                "zones": [
                    {"id": "door", "kind": "entrance", "polygon": [[0, 0], [2, 0], [2, 2], [0, 2]]},
                    {
                        "id": "aisle",
                        "kind": "aisle",
                        "polygon": [[2, 0], [10, 0], [10, 10], [2, 10]],
                    },
                ],
            },
            "aggregation": {
                "window_s": 60,
                "visit_timeout_s": 5,
                "zone_confirm_s": 1,
                **aggregation,
            },
            "privacy": {"k": k},
        }
    )


def shopper(track: int, start: float, aisle_s: float, source: str = "cam") -> list[Observation]:
    """Door for 2 s, aisle for ``aisle_s`` s, back through the door, track ends."""
    obs: list[Observation] = []
    t = start
    for _ in range(3):
        obs.append(TrackPoint(t, source, track, 1.0, 1.0))
        t += 1
    for _ in range(int(aisle_s)):
        obs.append(TrackPoint(t, source, track, 5.0, 5.0))
        t += 1
    for _ in range(3):
        obs.append(TrackPoint(t, source, track, 1.0, 1.0))
        t += 1
    obs.append(TrackEnd(t, source, track))
    return obs


def run(
    observations: list[Observation], cfg: AgentConfig | None = None, end_of_input: bool = True
) -> list[dict[str, Any]]:
    sink = CollectSink()
    cfg = cfg or config()
    p = Pipeline(cfg, [sink], models=ModelHolder(None))
    for obs in sorted(observations, key=lambda o: o.t):
        p.push(obs)
        p.advance(obs.t - cfg.aggregation.reorder_s)
    p.finish(end_of_input=end_of_input)
    return [
        e["data"] | {"_id": e["id"], "_subject": e["subject"]}
        for e in sink.events
        if e["type"] == "edge-agent.traffic.v1"
    ]


def by(events: list[dict[str, Any]], subject: str, start: str) -> dict[str, Any]:
    [match] = [
        e for e in events if e["_subject"] == subject and e["window"]["start"][11:19] == start
    ]
    return match


def test_one_shopper_counts_in_out_and_dwell() -> None:
    store = by(run(shopper(1, T0, aisle_s=20), config(k=2)), "store", "08:00:00")
    # k=2 hides the single shopper: 1 is in 1..k-1.
    assert store["footfall"] == {"in": None, "out": None}
    events = run(shopper(1, T0, aisle_s=20), _k1())
    store = by(events, "store", "08:00:00")
    assert store["footfall"] == {"in": 1, "out": 1}
    assert store["dwell_s"] == {"n": 1, "p50": 25.0, "p90": 25.0}  # first to last point
    aisle = by(events, "aisle", "08:00:00")
    assert aisle["footfall"] == {"in": 1, "out": 1}
    assert aisle["dwell_s"]["p50"] == 20.0
    assert aisle["occupancy"]["end"] == 0


def _k1() -> AgentConfig:
    # k is at least 2 in config; tests of raw counting lift the filter by hand.
    cfg = config()
    return cfg.model_copy(update={"privacy": cfg.privacy.model_copy(update={"k": 1})})


def test_jitter_along_a_zone_edge_is_not_counted_as_entries() -> None:
    obs: list[Observation] = []
    for i in range(40):  # a person standing on the door/aisle edge, boxes jittering
        x = 2.05 if i % 2 else 1.95
        obs.append(TrackPoint(T0 + i * 0.5, "cam", 1, x, 1.0))
    events = run(obs, _k1())
    aisle = by(events, "aisle", "08:00:00")
    door = by(events, "door", "08:00:00")
    assert aisle["footfall"]["in"] == 0
    assert door["footfall"]["in"] == 1


def test_exit_known_only_after_timeout_lands_in_its_own_window() -> None:
    # Last seen at 08:00:58 without a track end; the timeout (5 s) expires in the
    # next window, but the exit belongs to the 08:00 window.
    obs = [TrackPoint(T0 + 50 + i, "cam", 1, 1.0 if i < 3 else 5.0, 1.0) for i in range(9)]
    obs += [TrackPoint(T0 + 70 + i, "cam", 2, 1.0, 1.0) for i in range(30)]  # keeps time moving
    events = run(obs, _k1(), end_of_input=False)
    assert by(events, "store", "08:00:00")["footfall"] == {"in": 1, "out": 1}
    assert by(events, "store", "08:01:00")["footfall"]["out"] == 0


def test_the_doorway_alone_is_not_an_entry() -> None:
    # One person steps into the doorway and turns back; another is picked up again in
    # the doorway on the way out, under a new track, after the camera lost them inside.
    glance = [TrackPoint(T0 + i, "cam", 1, 1.0, 1.0) for i in range(6)]
    glance += [TrackPoint(T0 + 6, "cam", 1, -1.0, 1.0), TrackEnd(T0 + 7, "cam", 1)]
    leaving = [TrackPoint(T0 + 20 + i, "cam", 2, 1.0, 1.0) for i in range(4)]
    leaving += [TrackPoint(T0 + 24, "cam", 2, -1.0, 1.0), TrackEnd(T0 + 25, "cam", 2)]
    obs = glance + leaving + shopper(3, T0 + 30, aisle_s=10)
    store = by(run(obs, _k1()), "store", "08:00:00")
    assert store["footfall"]["in"] == 1  # only the shopper who walked on into the aisle
    door = by(run(obs, _k1()), "door", "08:00:00")
    assert door["footfall"]["in"] == 4  # the door zone saw all three, the shopper twice


def test_occupancy_is_carried_across_windows_and_mean_is_person_seconds() -> None:
    obs = [TrackPoint(T0 + 30 + i, "cam", 1, 5.0, 5.0) for i in range(91)]  # 08:00:30-08:02:00
    events = run(obs, _k1(), end_of_input=False)
    first, second = by(events, "store", "08:00:00"), by(events, "store", "08:01:00")
    assert first["occupancy"]["end"] == 1
    assert second["occupancy"]["end"] == 1
    assert second["footfall"] == {"in": 0, "out": 0}
    # In the store for the second half of the first window (observed from 08:00:30).
    assert first["occupancy"]["mean"] == 1.0
    assert first["window"]["complete"] is False
    assert second["occupancy"]["mean"] == 1.0
    # Appeared mid-store (not in the entrance): occupancy yes, footfall in no.
    assert first["footfall"]["in"] == 0


def test_small_counts_are_suppressed_and_listed() -> None:
    obs = [o for n in range(3) for o in shopper(n, T0 + n, aisle_s=10)]
    events = run(obs, config(k=5))
    store = by(events, "store", "08:00:00")
    assert store["footfall"] == {"in": None, "out": None}
    assert store["dwell_s"] == {"n": None, "p50": None, "p90": None}
    assert store["privacy"] == {
        "k": 5,
        "suppressed": [
            "footfall.in",
            "footfall.out",
            "occupancy.mean",
            "dwell_s.n",
            "dwell_s.p50",
            "dwell_s.p90",
        ],
    }
    obs = [o for n in range(6) for o in shopper(n, T0 + n, aisle_s=10)]
    store = by(run(obs, config(k=5)), "store", "08:00:00")
    assert store["footfall"] == {"in": 6, "out": 6}
    assert store["privacy"]["suppressed"] == []


def test_ids_are_stable_and_partial_windows_get_their_own() -> None:
    obs = [o for n in range(6) for o in shopper(n, T0 + 5 * n, aisle_s=30)]
    a = run(obs, config())
    b = run(obs, config())
    assert [e["_id"] for e in a] == [e["_id"] for e in b]
    assert len({e["_id"] for e in a}) == len(a)
    # The same window seen only from 08:00:20 (a restart) is a different event.
    late = run([o for o in obs if o.t >= T0 + 20], config())
    assert by(late, "store", "08:00:00")["_id"] != by(a, "store", "08:00:00")["_id"]


def test_two_cameras_tracks_with_equal_ids_are_different_people() -> None:
    far = [
        TrackPoint(o.t, o.source, o.track, o.x + 3.0, o.y + 4.0) if isinstance(o, TrackPoint) else o
        for o in shopper(7, T0, aisle_s=10, source="cam-b")
    ]
    obs = shopper(7, T0, aisle_s=10, source="cam-a") + far
    store = by(run(obs, _k1()), "store", "08:00:00")
    assert store["footfall"]["in"] == 1  # cam-b's person starts mid-store: not an entry
    assert store["occupancy"]["mean"] is not None
    assert store["footfall"]["out"] == 2


def test_one_person_seen_by_two_overlapping_cameras_is_one_visit() -> None:
    obs = shopper(7, T0, aisle_s=10, source="cam-a") + shopper(3, T0, aisle_s=10, source="cam-b")
    store = by(run(obs, _k1()), "store", "08:00:00")
    assert store["footfall"] == {"in": 1, "out": 1}


def test_a_track_lost_and_found_nearby_continues_its_visit() -> None:
    first = [TrackPoint(T0 + i, "cam", 1, 1.0 + 0.5 * i, 1.0) for i in range(10)]
    lost = [TrackEnd(T0 + 10, "cam", 1)]
    # Reappears 3 s later, 2 m on: an occlusion, not a new shopper.
    second = [TrackPoint(T0 + 13 + i, "cam", 2, 7.5 + 0.5 * i, 1.0) for i in range(10)]
    second.append(TrackEnd(T0 + 23, "cam", 2))
    store = by(run(first + lost + second, _k1()), "store", "08:00:00")
    assert store["footfall"] == {"in": 1, "out": 1}
    assert store["dwell_s"]["p50"] == 22.0


def test_people_walking_past_outside_the_door_are_not_visits() -> None:
    outside = [TrackPoint(T0 + i, "cam", 1, -2.0 + 0.1 * i, -1.0) for i in range(30)]
    events = run(outside, _k1())
    store = by(events, "store", "08:00:00")
    assert store["footfall"] == {"in": 0, "out": 0}
    assert store["occupancy"] == {"end": 0, "mean": 0.0}


def test_open_visit_cap_bounds_memory_and_counts_evictions() -> None:
    cfg = config(max_open_visits=10)
    sink = CollectSink()
    p = Pipeline(cfg, [sink], models=ModelHolder(None))
    for n in range(100):  # a hundred people, each standing apart from the others
        p.push(TrackPoint(T0 + n * 0.01, "cam", n, 4.0 * (n % 10), 4.0 * (n // 10)))
    p.advance(T0 + 2)
    assert p.visits.open_count == 10
    assert p.health()["visits_evicted"] == 90


def test_a_jump_of_days_restarts_windows_instead_of_publishing_thousands() -> None:
    obs = shopper(1, T0, aisle_s=10) + shopper(2, T0 + 30 * 86400, aisle_s=10)
    events = run(obs, _k1())
    store = [e for e in events if e["_subject"] == "store"]
    assert len(store) <= 3  # not the 43,000 empty minutes in between
    assert sum(e["footfall"]["in"] for e in store) == 2
    assert store[0]["window"]["start"] == "2025-11-29T08:00:00.000Z"
    assert store[-1]["window"]["start"] == "2025-12-29T08:00:00.000Z"


def walk(
    track: int, t0: float, points: list[tuple[float, float]], fps: float = 5.0
) -> list[Observation]:
    """One camera's track through ``points``, a frame each, at ``fps``."""
    return [TrackPoint(t0 + n / fps, "cam", track, x, y) for n, (x, y) in enumerate(points)]


def line(a: tuple[float, float], b: tuple[float, float], frames: int) -> list[tuple[float, float]]:
    return [
        (a[0] + (b[0] - a[0]) * f / frames, a[1] + (b[1] - a[1]) * f / frames)
        for f in range(frames)
    ]


def test_a_track_the_tracker_restarts_on_the_same_camera_is_still_one_shopper() -> None:
    # In through the door and along the aisle; the tracker drops the box for 0.7 s and
    # starts a new id where the old one was: the same person.
    first = walk(1, T0, line((1, 1), (5, 5), 30))
    second = walk(2, T0 + 6.5, line((5.1, 5.1), (5.1, 5.1), 40) + line((5, 5), (1, 1), 20))
    obs = [*first, TrackEnd(T0 + 9, "cam", 1), *second, TrackEnd(T0 + 20, "cam", 2)]
    store = by(run(obs, _k1()), "store", "08:00:00")
    assert store["footfall"] == {"in": 1, "out": 1}


def test_two_people_side_by_side_on_one_camera_stay_two_visits() -> None:
    # A second person appears a metre from one the camera is following frame by frame.
    first = walk(1, T0, line((1, 1), (5, 5), 30) + line((5, 5), (1, 1), 30))
    second = walk(2, T0 + 0.2, line((1.5, 1), (5.5, 5), 30) + line((5.5, 5), (1.5, 1), 30))
    store = by(run(first + second, _k1()), "store", "08:00:00")
    assert store["footfall"] == {"in": 2, "out": 2}


def test_a_visit_ends_at_the_door_even_if_its_track_goes_on_outside() -> None:
    # The door camera sees the pavement: the track follows the shopper out, then jumps
    # to someone coming in (an identity switch the tracker cannot see). Two visits.
    path = line((5, 5), (1, 1), 20) + line((1, 1), (1, -3), 20)  # out onto the pavement
    path += line((1, -3), (1, 1), 20) + line((1, 1), (5, 5), 20) + line((5, 5), (1, 1), 20)
    path += line((1, 1), (1, -3), 10)
    obs = walk(1, T0, [(1.0, 1.0)] * 10 + path)
    store = by(run(obs, _k1()), "store", "08:00:00")
    assert store["footfall"] == {"in": 2, "out": 2}
    assert store["dwell_s"]["n"] == 2


def test_a_shopper_lost_in_the_doorway_on_the_way_in_is_one_visit() -> None:
    first = walk(1, T0, [(1.0, 1.0)] * 5)
    second = walk(2, T0 + 2.5, line((1.2, 1.0), (5, 5), 30) + line((5, 5), (1, 1), 30))
    obs = [*first, TrackEnd(T0 + 1.5, "cam", 1), *second]
    store = by(run(obs, _k1()), "store", "08:00:00")
    assert store["footfall"] == {"in": 1, "out": 1}
