"""Wi-Fi source throughput against tshark on the same million-frame capture.

The capture (generated once into .cache/, about 100 MB) mixes what a store's air
carries: access-point beacons and acknowledgements, phones' probe requests (most
with randomised MACs), client-to-AP data and null frames, and the AP's own data,
in the four radiotap shapes of the synth module. Both sides read the whole file:

- subject: ``WifiSource.observations`` (parse, hash, build DeviceSightings);
- baseline: ``tshark -r FILE -Y "wlan.fc.type_subtype == 4" -T fields -e wlan.sa
  -e radiotap.dbm_antsignal``, as the issue specifies.

Run: .venv/bin/python bench/wifi.py [--frames N]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from agent.sources.base import SourceContext
from agent.sources.wifi import synth
from agent.sources.wifi.config import WifiSourceConfig
from agent.sources.wifi.source import WifiSource

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "wifi"
FRAMES = 1_000_000
SEED = 4
START = 1_700_000_000.0
FRAME_GAP_S = 0.0005  # 2000 frames/s: a busy 2.4 GHz channel


def store_air(frames: int, seed: int) -> Iterator[synth.Packet]:
    """A deterministic mix of a store's Wi-Fi traffic."""
    rng = random.Random(seed)
    aps = [bytes([0xF0, 0xB4, 0x29, 0, 0, i]) for i in range(6)]
    phones = [bytes([0x3C, 0x22, 0xFB, 0, i >> 8, i & 0xFF]) for i in range(300)]
    shapes = synth.DRIVER_SHAPES
    for i in range(frames):
        t = START + i * FRAME_GAP_S
        roll = rng.random()
        shape = shapes[i % len(shapes)]
        signal = rng.randint(-95, -30)
        seq = i & 0xFFF
        if roll < 0.30:  # probe request, 3 in 4 from a randomised address
            mac = (
                bytes([0x02 | (rng.getrandbits(8) & 0xFC)]) + rng.randbytes(5)
                if rng.random() < 0.75
                else rng.choice(phones)
            )
            frame = synth.probe_request(mac, seq)
        elif roll < 0.50:  # client to AP
            frame = synth.data_frame(
                rng.choice(phones),
                rng.choice(aps),
                seq,
                rng.choice(("null", "qos-null", "qos-data")),
            )
        elif roll < 0.75:
            frame = synth.beacon(rng.choice(aps), seq)
        elif roll < 0.90:
            frame = synth.ack(rng.choice(phones))
        else:  # AP to client
            frame = synth.data_frame(
                rng.choice(phones), rng.choice(aps), seq, "qos-data", to_ap=False
            )
        yield t, synth.radiotap_frame(frame, signal=signal, shape=shape)


def capture(frames: int) -> Path:
    path = CACHE / f"store-air-{frames}-{SEED}.pcap"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        synth.write_pcap(partial, store_air(frames, SEED))
        partial.rename(path)
    return path


def run_source(path: Path) -> tuple[float, int, int]:
    config = WifiSourceConfig(id="bench", path=path, zone="entrance", position=(0.0, 0.0))
    source = WifiSource(config, SourceContext(replay=True))
    started = time.perf_counter()
    sightings = sum(1 for _ in source.observations(threading.Event()))
    elapsed = time.perf_counter() - started
    return elapsed, source.frames, sightings


def run_tshark(path: Path) -> tuple[float, int]:
    command = [
        "tshark",
        "-r",
        str(path),
        "-Y",
        "wlan.fc.type_subtype == 4",
        "-T",
        "fields",
        "-e",
        "wlan.sa",
        "-e",
        "radiotap.dbm_antsignal",
    ]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=True)
    elapsed = time.perf_counter() - started
    return elapsed, result.stdout.count(b"\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=FRAMES)
    args = parser.parse_args()
    if shutil.which("tshark") is None:
        print("tshark is not installed: run `make tools`", file=sys.stderr)
        return 1
    path = capture(args.frames)
    size_mb = path.stat().st_size / 1e6
    print(f"capture: {path.name}, {args.frames} frames, {size_mb:.0f} MB")
    source_s, frames, sightings = run_source(path)
    tshark_s, probes = run_tshark(path)
    source_rate = frames / source_s
    tshark_rate = args.frames / tshark_s
    print(
        f"edge-agent wifi source: {source_rate:12,.0f} frames/s "
        f"({source_s:.2f} s, {sightings} sightings)"
    )
    print(
        f"tshark (probe filter):  {tshark_rate:12,.0f} frames/s "
        f"({tshark_s:.2f} s, {probes} probe requests)"
    )
    print(f"ratio: {source_rate / tshark_rate:.1f}x tshark (target: 5x)")
    # Both sides share the machine; a loaded one slows both, not always equally.
    print("load average during the run: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
