"""Simulated store-minutes per wall-clock second, against JuPedSim's default step, in one run.

- subject: ``edge-agent simulate``'s whole path for the demo layout at 200 shopper
  arrivals an hour (plus companions, staff and passers-by) for one store hour: JuPedSim walks at
  our 0.05 s step, then every feed (detections, tracks, pcaps, RFID reads, truth) is
  rendered to a temporary directory. Target (the issue's): a speed factor of 60 or
  more, an hour of store in a minute of wall clock (1 store-minute per wall second;
  the issue's "60 store-minutes per second" would be an hour in one second, which the
  pedestrian model alone cannot do: JuPedSim's steps take about 5 s per store hour).
- baseline: the walking stage alone at JuPedSim's default 0.01 s step, over the first
  ``BASELINE_MINUTES`` of the same population, beside the same stage at our step:
  what the coarser (still stable, first-order model) step buys.

Run: .venv/bin/python bench/sim.py [--minutes N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.sim.fixture import load_store, write_fixture
from agent.sim.scenario import simulate
from agent.sim.walk import DT_S

STORE = Path(__file__).resolve().parent.parent / "agent" / "sim" / "stores" / "demo-store.toml"
ARRIVALS_PER_HOUR = 200.0
BASELINE_MINUTES = 10.0
JUPEDSIM_DEFAULT_DT_S = 0.01
TARGET_SPEED = 60.0


def jupedsim_at(dt: float) -> Any:
    def factory(floor: Any) -> Any:
        import jupedsim as jps

        return jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=floor, dt=dt)

    return factory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=60.0, help="store minutes (default 60)")
    args = parser.parse_args()
    raw, agent, sim = load_store(STORE)
    sim = sim.model_copy(update={"arrivals_per_hour": ARRIVALS_PER_HOUR})

    started = time.perf_counter()
    rec = simulate(agent, sim, args.minutes, seed=1)
    walked = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_fixture(raw, rec, Path(tmp), "bench")
        size = sum(f.stat().st_size for f in files)
    done = time.perf_counter()
    shoppers = sum(1 for p in rec.people if p.kind == "shopper")
    total = done - started
    speed = args.minutes * 60 / total
    print(
        f"subject: {args.minutes:g} store minutes, {shoppers} shoppers, "
        f"{len(rec.people) - shoppers} companions, staff and passers-by, "
        f"{size / 1e6:.1f} MB of feeds"
    )
    print(f"  walk {walked - started:.1f} s + render {done - walked:.1f} s = {total:.1f} s wall")
    print(
        f"  {args.minutes / total:.2f} store-minutes per wall second "
        f"(speed x{speed:.0f}; target x{TARGET_SPEED:g}: "
        f"{'met' if speed >= TARGET_SPEED else 'NOT met'})"
    )

    timings = {}
    for name, dt in (("ours", DT_S), ("jupedsim default", JUPEDSIM_DEFAULT_DT_S)):
        t0 = time.perf_counter()
        simulate(agent, sim, BASELINE_MINUTES, seed=1, factory=jupedsim_at(dt))
        timings[name] = time.perf_counter() - t0
    print(f"walking only, {BASELINE_MINUTES:g} store minutes:")
    for name, seconds in timings.items():
        dt = DT_S if name == "ours" else JUPEDSIM_DEFAULT_DT_S
        print(
            f"  {name:>16} (dt {dt:g} s): {seconds:6.2f} s wall, "
            f"{BASELINE_MINUTES / seconds:6.2f} store-minutes per second"
        )
    print(f"  ratio (default / ours): {timings['jupedsim default'] / timings['ours']:.1f}x")


if __name__ == "__main__":
    main()
