"""Distinct-device estimate against the truth, beside the naive count of tokens.

Crowds of simulated phones (``agent.sources.wifi.crowd``, two populations: one
where most phones randomise at every scan, one where most keep an address for
minutes and 40% are passers-by) are written as real captures, read by the
Wi-Fi source, and fed to ``DeviceEstimator``. Printed per crowd: the truth, the
naive token count and its error, the estimate and its error, and the ratio of the
two errors; then the precision of ``TokenLinker`` on the same populations. The
figures in docs/wifi.md come from this script.

Run: .venv/bin/python bench/wifi_devices.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
from datetime import time, timezone
from pathlib import Path

from agent.observations import DeviceSighting
from agent.sources.base import SourceContext
from agent.sources.wifi import synth
from agent.sources.wifi.anonymise import Anonymiser, KeyRing
from agent.sources.wifi.config import WifiSourceConfig
from agent.sources.wifi.crowd import BEHAVIOUR_SHARES, MIXED_SHARES, Behaviour, simulate_crowd
from agent.sources.wifi.devices import DeviceEstimator
from agent.sources.wifi.dot11 import Decoder, is_randomised
from agent.sources.wifi.linker import TokenLinker
from agent.sources.wifi.source import WifiSource

CROWDS = [(10, s) for s in range(1, 4)] + [(50, s) for s in range(1, 4)]
CROWDS += [(200, s) for s in range(1, 3)] + [(500, 1)]
DURATION_S = 3600.0


Scenario = tuple[str, tuple[tuple[Behaviour, float], ...], float]
SCENARIOS: list[Scenario] = [
    ("per-scan randomisation, all visitors", BEHAVIOUR_SHARES, 0.0),
    ("mostly timed rotation, 40% passers-by", MIXED_SHARES, 0.4),
]


def measure(phones: int, seed: int, tmp: Path, scenario: Scenario) -> tuple[int, int, int]:
    _, shares, passers_by = scenario
    crowd = simulate_crowd(
        phones, seed, duration_s=DURATION_S, shares=shares, passers_by=passers_by
    )
    path = tmp / f"crowd-{phones}-{seed}.pcap"
    synth.write_pcap(path, [(f.t, f.raw) for f in crowd])
    config = WifiSourceConfig(id="w", path=path, zone="z", position=(0.0, 0.0))
    estimator = DeviceEstimator()
    for sighting in WifiSource(config, SourceContext(replay=True)).sightings(threading.Event()):
        estimator.add(sighting)
    path.unlink()
    return len({f.phone for f in crowd}), estimator.tokens, estimator.devices


def run(scenario: Scenario, tmp: Path) -> tuple[float, float]:
    naive_errors: list[float] = []
    errors: list[float] = []
    print(f"== {scenario[0]}")
    print(
        f"{'phones':>6} {'seed':>4} {'truth':>5} {'tokens':>7} {'naive err':>9} "
        f"{'estimate':>8} {'est. err':>8}"
    )
    for phones, seed in CROWDS:
        truth, tokens, devices = measure(phones, seed, tmp, scenario)
        naive = (tokens - truth) / truth
        error = (devices - truth) / truth
        naive_errors.append(abs(naive))
        errors.append(abs(error))
        print(
            f"{phones:>6} {seed:>4} {truth:>5} {tokens:>7} {naive:>+9.0%} "
            f"{devices:>8} {error:>+8.0%}"
        )
    return statistics.mean(naive_errors), statistics.mean(errors)


def linker_precision(phones: int, scenario: Scenario) -> tuple[int, float]:
    """Links the TokenLinker makes on one crowd, and the share joining one phone's tokens."""
    _, shares, passers_by = scenario
    crowd = simulate_crowd(phones, 1, duration_s=DURATION_S, shares=shares, passers_by=passers_by)
    ring = KeyRing(time(4), timezone.utc, replay=True)
    ring.add_replay_material(b"bench")
    anonymiser, decoder, linker = Anonymiser(ring, frozenset()), Decoder(), TokenLinker()
    owner: dict[str, int] = {}
    good = bad = 0
    for f in crowd:
        frame = decoder.decode(f.raw)
        assert frame is not None and frame.rssi is not None
        token = anonymiser.token(frame.address, f.t)
        assert token is not None
        new = token not in owner
        owner.setdefault(token, f.phone)
        sighting = DeviceSighting(
            f.t,
            "w",
            token,
            float(frame.rssi),
            frame.kind,
            is_randomised(frame.address),
            frame.channel,
            frame.seq,
        )
        handle = linker.handle(sighting)
        if new and handle != token:
            good, bad = (good + 1, bad) if owner[handle] == f.phone else (good, bad + 1)
    return good + bad, good / max(1, good + bad)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in SCENARIOS:
            naive_mean, mean = run(scenario, Path(tmp))
            print(f"mean absolute error: naive token count {naive_mean:.0%}, estimate {mean:.0%}")
            print(f"ratio: the estimate's error is {naive_mean / mean:.1f}x smaller than counting")
    print("== TokenLinker precision (links joining tokens of one phone), seed 1")
    for scenario in SCENARIOS:
        for phones in (50, 200, 500):
            links, precision = linker_precision(phones, scenario)
            print(
                f"{scenario[0]:<40} {phones:>4} phones: {links:>5} links, precision {precision:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
