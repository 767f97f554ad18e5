"""RFID reads per second through the source, against a bare json.loads loop, in one run.

- baseline: ``json.loads`` of every line of the recording (the least any JSON feed
  must do per read);
- subject: the recorded-reads ``RfidSource`` over the same file: read the line,
  parse the Zebra event, cut the EPC to its GTIN (cached), look the product up in
  the catalogue, run the per-tag interaction state machine, yield ItemEvents.

The recording is a store in motion: shelves full of resting tags read several
times a second with misses and cross-reads, and a share of them picked, tried on,
returned and bought. Best of ``ROUNDS`` each, interleaved, single-threaded; rates
are reads per second of this process's CPU time (one core's worth), because the
machine may be shared and wall time then measures the neighbours too.

Run: .venv/bin/python bench/rfid.py [--reads N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from agent.config import parse_config
from agent.observations import ItemEvent
from agent.sources.base import SourceContext
from agent.sources.registry import build_sources
from agent.sources.rfid.synth import ReadScript, sgtin96

READS = 400_000
ROUNDS = 3
TARGET_RATE = 200_000.0
TARGET_RATIO = 0.3
PRODUCTS = 400
SHELVES = 8
ANTENNAS = [
    *({"port": i + 1, "zone": f"shelf-{i + 1}", "role": "shelf"} for i in range(SHELVES)),
    {"port": 9, "zone": "fitting", "role": "fitting_room"},
    {"port": 10, "zone": "till", "role": "checkout"},
]


def recording(path: Path, reads: int) -> int:
    """Write a header and about ``reads`` Zebra events; returns the reads written."""
    rng = random.Random(5)
    script = ReadScript(seed=6, rate_hz=4.0, miss=0.3)
    span = 600.0
    reads_per_tag = span * script.rate_hz * (1 - script.miss) * (1 + script.duplicate)
    tags = max(10, round(reads / reads_per_tag))
    for n in range(tags):
        epc = sgtin96("0614141", f"{100000 + n % PRODUCTS:06d}", 1_000_000 + n)
        shelf = 1 + n % SHELVES
        if n % 5:  # most tags rest all along
            script.stay(epc, shelf, 0.0, span)
        else:  # a fifth are handled: picked, tried on or bought, some returned
            leave = rng.uniform(60, 300)
            script.stay(epc, shelf, 0.0, leave)
            dest = rng.choice([9, 10, 1 + (n + 1) % SHELVES])
            script.stay(epc, dest, leave + 20, min(span, leave + 200))
        if n % 7 == 0:  # cross-reads on the neighbouring shelf
            script.stay(epc, 1 + (shelf % SHELVES), 0.0, span, rssi=-70.0, rate_hz=0.5)
    lines = script.zebra_lines()
    header = {"edge_agent_rfid": 1, "catalogue": "catalogue.csv", "antennas": ANTENNAS}
    path.write_text(json.dumps(header) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def catalogue(path: Path) -> None:
    from agent.sources.rfid.epc import EpcDecoder

    decoder = EpcDecoder()
    rows = ["gtin,category,price_tier,promo"]
    cats = ["formal_wear", "children", "protein", "ready_to_eat", "apparel"]
    for n in range(PRODUCTS):
        gtin = decoder.gtin_of(sgtin96("0614141", f"{100000 + n:06d}", 1))
        rows.append(f"{gtin},{cats[n % len(cats)]},{'low' if n % 3 else 'premium'},{n % 4 == 0}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def baseline(path: Path) -> float:
    start = time.process_time()
    loads = json.loads
    with path.open("rb") as f:
        for line in f:
            loads(line)
    return time.process_time() - start


def subject(path: Path) -> tuple[float, int, dict[str, int]]:
    cfg = parse_config(
        {
            "store": {"id": "bench", "gateway_id": "g1"},
            "sources": {
                "rfid": [
                    {
                        "id": "rfid-bench",
                        "protocol": "recorded",
                        "path": str(path),
                        "catalogue": str(path.parent / "catalogue.csv"),
                        "antennas": ANTENNAS,
                    }
                ]
            },
        }
    )
    (source,) = build_sources(cfg.sources, SourceContext(replay=True))
    stop = threading.Event()
    start = time.process_time()
    events = sum(1 for o in source.observations(stop) if isinstance(o, ItemEvent))
    elapsed = time.process_time() - start
    health = source.health()
    source.close()
    return elapsed, events, health


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=READS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reads.jsonl"
        n = recording(path, args.reads)
        catalogue(Path(tmp) / "catalogue.csv")
        base_s, subj_s = float("inf"), float("inf")
        for _ in range(ROUNDS):
            base_s = min(base_s, baseline(path))
            elapsed, events, health = subject(path)
            subj_s = min(subj_s, elapsed)
    base_rate, subj_rate = n / base_s, n / subj_s
    ratio = subj_rate / base_rate
    print(
        f"reads: {n}, tags: {health['tags_seen']}, item events: {events} "
        f"({', '.join(f'{k[7:]} {v}' for k, v in health.items() if k.startswith('events_'))})"
    )
    print(f"baseline json.loads:          {base_rate:12,.0f} lines/s")
    print(f"RfidSource (decode+track):    {subj_rate:12,.0f} reads/s")
    print(
        f"ratio: {ratio:.2f} (target >= {TARGET_RATIO}); rate target >= {TARGET_RATE:,.0f} reads/s"
    )
    print("load average during the run: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    ok = ratio >= TARGET_RATIO and subj_rate >= TARGET_RATE
    print("targets met" if ok else "TARGETS MISSED (a loaded machine lowers both rates; rerun)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
