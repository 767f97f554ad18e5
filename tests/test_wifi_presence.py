"""Zone presence by signal with hysteresis; passers-by outside the store are not visitors.

And the distinct-device estimate on crowds whose truth the test controls.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

from agent.observations import DeviceSighting
from agent.sources.base import SourceContext
from agent.sources.wifi import synth
from agent.sources.wifi.config import PresenceConfig, WifiSourceConfig
from agent.sources.wifi.crowd import BEHAVIOUR_SHARES, MIXED_SHARES, simulate_crowd
from agent.sources.wifi.devices import DeviceEstimator, maximum_matching
from agent.sources.wifi.linker import TokenLinker
from agent.sources.wifi.presence import Presence, PresenceEvent, Sensor
from agent.sources.wifi.source import WifiSource

SENSORS = {"w-door": Sensor("door", 0.0, 0.0), "w-back": Sensor("back", 20.0, 5.0)}
CONFIG = PresenceConfig(
    enter_dbm=-70, leave_dbm=-78, min_dwell_s=60, min_sightings=3, absent_after_s=120, smoothing=1.0
)
A = "a" * 16
B = "b" * 16


def feed(presence: Presence, plan: list[tuple[float, str, str, float]]) -> list[PresenceEvent]:
    events: list[PresenceEvent] = []
    for t, source, token, rssi in plan:
        events += presence.add(DeviceSighting(t, source, token, rssi, "probe", False))
    return events


def test_a_device_enters_after_the_minimum_dwell_dated_from_arrival() -> None:
    presence = Presence(SENSORS, CONFIG)
    events = feed(presence, [(t, "w-door", A, -60.0) for t in (0.0, 20.0, 40.0, 59.0)])
    assert events == []  # 59 s is still a passer-by's time
    events = feed(presence, [(61.0, "w-door", A, -60.0)])
    assert events == [PresenceEvent(0.0, A, "door", "entered", False)]
    assert presence.present("door") == 1 and presence.present("back") == 0


def test_hysteresis_keeps_a_device_at_the_edge_in_the_zone() -> None:
    presence = Presence(SENSORS, CONFIG)
    plan = [(t, "w-door", A, -60.0) for t in (0.0, 30.0, 61.0)]
    plan += [(90.0 + 10 * i, "w-door", A, -74.0 + (i % 2) * 6) for i in range(10)]  # -74/-68
    events = feed(presence, plan)
    assert [e.state for e in events] == ["entered"]  # between leave and enter: no flicker
    events = feed(presence, [(200.0, "w-door", A, -85.0)])
    assert events == [PresenceEvent(180.0, A, "door", "left", False)]


def test_weak_and_brief_devices_are_passers_by() -> None:
    presence = Presence(SENSORS, CONFIG)
    weak = [(t, "w-door", A, -82.0) for t in range(0, 300, 10)]  # the street outside
    brief = [(t, "w-door", B, -55.0) for t in (100.0, 110.0, 120.0)]  # walked past the door
    events = feed(presence, sorted(weak + brief))
    events += presence.finish()
    assert events == []
    assert presence.visitors == 0 and presence.passers_by == 2


def test_silence_ends_a_visit_and_zones_are_separate() -> None:
    presence = Presence(SENSORS, CONFIG)
    plan = [(t, "w-door", A, -60.0) for t in (0.0, 30.0, 61.0)]
    plan += [(t, "w-back", A, -65.0) for t in (70.0, 100.0, 140.0)]
    events = feed(presence, plan)
    assert [(e.zone, e.state) for e in events] == [("door", "entered"), ("back", "entered")]
    events = feed(presence, [(400.0, "w-back", B, -90.0)])  # time passes; A is silent
    assert sorted((e.zone, e.state, e.t) for e in events) == [
        ("back", "left", 140.0),
        ("door", "left", 61.0),
    ]
    assert presence.present("door") == presence.present("back") == 0


def test_unknown_sensor_is_counted_not_guessed() -> None:
    presence = Presence(SENSORS, CONFIG)
    assert feed(presence, [(0.0, "w-elsewhere", A, -40.0)]) == []
    assert presence.unknown_sensor == 1


def crowd_sightings(
    tmp_path: Path, phones: int, seed: int, mixed: bool
) -> tuple[list[DeviceSighting], int]:
    shares, passers_by = (MIXED_SHARES, 0.4) if mixed else (BEHAVIOUR_SHARES, 0.0)
    crowd = simulate_crowd(phones, seed, 1800, shares=shares, passers_by=passers_by)
    path = tmp_path / f"crowd-{phones}-{seed}-{mixed}.pcap"
    synth.write_pcap(path, [(f.t, f.raw) for f in crowd])
    config = WifiSourceConfig(id="w-door", path=path, zone="door", position=(0.0, 0.0))
    source = WifiSource(config, SourceContext(replay=True))
    return list(source.sightings(threading.Event())), len({f.phone for f in crowd})


def test_device_estimate_is_far_closer_to_the_truth_than_counting_tokens(
    tmp_path: Path,
) -> None:
    for phones, seed, mixed in ((20, 1, False), (60, 2, False), (60, 3, True)):
        got, truth = crowd_sightings(tmp_path, phones, seed, mixed)
        estimator = DeviceEstimator()
        for s in got:
            estimator.add(s)
        naive_error = abs(estimator.tokens - truth) / truth
        error = abs(estimator.devices - truth) / truth
        assert naive_error > 2.0  # randomisation: many addresses per phone
        assert error < 0.5, (phones, truth, estimator.devices)  # documented: docs/wifi.md
        assert error < naive_error / 5


def test_sequence_continuity_links_tokens_and_universal_macs_are_never_linked() -> None:
    estimator = DeviceEstimator()
    plan = [
        (0.0, A, True, 100),
        (45.0, B, True, 103),  # new address, counter carried on: the same phone
        (50.0, "c" * 16, False, 104),  # a universal MAC is its own device whatever its seq
        (90.0, "d" * 16, True, 3000),  # counter elsewhere, signal differs: another phone
    ]
    for t, token, randomised, seq in plan:
        rssi = -60.0 if token != "d" * 16 else -40.0
        estimator.add(DeviceSighting(t, "w", token, rssi, "probe", randomised, 6, seq))
    assert estimator.tokens == 4
    assert estimator.devices == 3
    assert estimator.linked == 1


def test_phones_scanning_side_by_side_stay_two_devices() -> None:
    estimator = DeviceEstimator()
    for scan in range(5):
        for phone, token_base in enumerate("ab"):
            token = token_base * 15 + str(scan)
            t = scan * 40.0 + phone * 0.2  # the same scans, a fraction of a second apart
            seq = (phone * 2000 + scan * 997) % 4096  # counters restart: no continuity
            estimator.add(DeviceSighting(t, "w", token, -60.0, "probe", True, 6, seq))
    estimator.add(DeviceSighting(1.0, "w", "e" * 16, -60.0, "data", True, 6, 1))
    assert estimator.tokens == 11
    assert estimator.devices == 3  # two probing phones and one associated phone


def reference_matching(edges: list[list[int]], right: int) -> int:
    """The textbook recursive augmenting-path matching."""
    owner = [-1] * right

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j not in seen:
                seen.add(j)
                if owner[j] < 0 or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(len(edges)))


def test_maximum_matching_agrees_with_a_recursive_reference() -> None:
    rng = random.Random(7)
    for _ in range(500):
        right = rng.randrange(1, 9)
        edges = [
            rng.sample(range(right), rng.randrange(0, min(right, 3) + 1))
            for _ in range(rng.randrange(0, 9))
        ]
        assert maximum_matching(edges, right) == reference_matching(edges, right)


def test_estimate_never_links_across_a_fold() -> None:
    estimator = DeviceEstimator()
    estimator.add(DeviceSighting(0.0, "w", A, -60.0, "probe", True, 6, 100))
    estimator.fold()  # the key rotated: tokens of the old day are only a count now
    estimator.add(DeviceSighting(30.0, "w", B, -60.0, "probe", True, 6, 101))
    assert (estimator.tokens, estimator.devices) == (2, 2)
    estimator.reset()
    assert (estimator.tokens, estimator.devices) == (0, 0)


def rotating_phone(counter_runs_on: bool) -> list[DeviceSighting]:
    """A phone standing in the door zone for 10 minutes, a new address every 90 s."""
    rng = random.Random(3)
    out = []
    seq = 200
    for scan in range(40):
        token = f"{scan // 6:016x}"  # a new random address every sixth scan
        if not counter_runs_on and scan % 6 == 0:
            seq = rng.randrange(4096)
        for probe in range(3):
            t = scan * 15.0 + probe * 0.02
            out.append(DeviceSighting(t, "w-door", token, -55.0, "probe", True, 6, seq))
            seq = (seq + 1) % 4096
    return out


def test_with_a_linker_a_visit_survives_mac_changes() -> None:
    plain = Presence(SENSORS, CONFIG)
    linked = Presence(SENSORS, CONFIG, TokenLinker())
    plain_events: list[PresenceEvent] = []
    linked_events: list[PresenceEvent] = []
    for s in rotating_phone(counter_runs_on=True):
        plain_events += plain.add(s)
        linked_events += linked.add(s)
    plain_events += plain.finish()
    linked_events += linked.finish()
    assert [e.state for e in linked_events] == ["entered", "left"]
    assert linked_events[0].t == 0.0 and linked_events[1].t == 585.04
    # Without it: a visit per address that stayed a minute (the last one did not).
    assert len([e for e in plain_events if e.state == "entered"]) == 6


def test_the_linker_does_not_guess_when_the_counter_restarts() -> None:
    linker = TokenLinker()
    handles = {linker.handle(s) for s in rotating_phone(counter_runs_on=False)}
    assert len(handles) == 7
    linker.reset()
    assert linker.handle(rotating_phone(counter_runs_on=True)[0]) == f"{0:016x}"
