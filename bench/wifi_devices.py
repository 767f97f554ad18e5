"""Distinct-device estimate against the truth, beside the naive count of tokens.

Crowds of simulated phones (``agent.sources.wifi.crowd``, two populations: one
where most phones randomise at every scan, one where most keep an address for
minutes and 40% are passers-by) are written as real captures, read by the
Wi-Fi source, and fed to ``DeviceEstimator``. Printed per crowd: the truth, the
naive token count and its error, the estimate and its error, and the ratio of the
two errors. The figures in docs/wifi.md come from this script.

Run: .venv/bin/python bench/wifi_devices.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
from pathlib import Path

from agent.sources.base import SourceContext
from agent.sources.wifi import synth
from agent.sources.wifi.config import WifiSourceConfig
from agent.sources.wifi.crowd import BEHAVIOUR_SHARES, MIXED_SHARES, Behaviour, simulate_crowd
from agent.sources.wifi.devices import DeviceEstimator
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


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in SCENARIOS:
            naive_mean, mean = run(scenario, Path(tmp))
            print(f"mean absolute error: naive token count {naive_mean:.0%}, estimate {mean:.0%}")
            print(f"ratio: the estimate's error is {naive_mean / mean:.1f}x smaller than counting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
