"""A million mutated inputs through the Wi-Fi parsers: no exception escapes, nothing hangs.

Inputs start from real frames in every radiotap shape (and from real pcap and
pcapng files) and are mutated at random: bit flips, interesting bytes, cuts,
insertions, deletions, and now and then pure noise. Targets:

- ``Decoder.decode`` (radiotap + 802.11), one long-lived decoder so its layout
  cache meets every variant, may only return or raise ``MalformedFrame``;
- ``compute_layout`` on raw radiotap headers may only raise ``RadiotapError``;
- ``CaptureReader`` + ``FrameScan`` on damaged files may not raise at all.

A SIGALRM watchdog fails the run if any single input takes longer than a second.
Run: .venv/bin/python bench/wifi_fuzz.py [--inputs N] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import time as clock_time
from datetime import timezone
from pathlib import Path
from types import FrameType

from agent.sources.wifi import synth
from agent.sources.wifi.anonymise import Anonymiser, KeyRing
from agent.sources.wifi.capture import CaptureReader
from agent.sources.wifi.dot11 import Decoder, MalformedFrame
from agent.sources.wifi.radiotap import RadiotapError, compute_layout
from agent.sources.wifi.source import FrameScan

INPUTS = 1_000_000
HANG_S = 1  # any single input slower than this is a hang (normal: microseconds)
INTERESTING = (0x00, 0x01, 0x02, 0x7F, 0x80, 0xFE, 0xFF, 0x20, 0x40, 0x10)
PHONE = bytes.fromhex("da22fb000001")
AP = bytes.fromhex("f0b429000001")


class Hang(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


def seeds() -> list[bytes]:
    frames = [
        synth.probe_request(PHONE, 17, ssid=b"shop"),
        synth.data_frame(PHONE, AP, 9, "qos-null"),
        synth.data_frame(PHONE, AP, 9, "data"),
        synth.beacon(AP, 3),
        synth.ack(PHONE),
    ]
    return [
        synth.radiotap_frame(f, shape=shape, bad_fcs=bad, frequency=freq)
        for f in frames
        for shape in synth.DRIVER_SHAPES
        for bad in (False, True)
        for freq in (2437, 5180, None)
    ]


def mutate(rng: random.Random, data: bytes) -> bytes:
    if rng.random() < 0.02:
        return rng.randbytes(rng.randrange(0, 64))
    out = bytearray(data)
    for _ in range(rng.randrange(1, 8)):
        if not out:
            break
        at = rng.randrange(len(out))
        roll = rng.random()
        if roll < 0.4:
            out[at] ^= 1 << rng.randrange(8)
        elif roll < 0.6:
            out[at] = rng.choice(INTERESTING)
        elif roll < 0.7:
            del out[at:]
        elif roll < 0.85:
            out[at:at] = rng.randbytes(rng.randrange(1, 9))
        else:
            del out[at : at + rng.randrange(1, 5)]
    return bytes(out)


def capture_seeds() -> list[bytes]:
    packets = [(1_700_000_000.0 + i, raw) for i, raw in enumerate(seeds()[:40:3])]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, writer in (("a.pcap", synth.write_pcap), ("a.pcapng", synth.write_pcapng)):
            path = Path(tmp) / name
            writer(path, packets)
            out.append(path.read_bytes())
    return out


def run(
    label: str, count: int, target: Callable[[bytes], None], make: Callable[[], bytes]
) -> tuple[int, Counter[str], float]:
    escaped: Counter[str] = Counter()
    slowest = 0.0
    started = time.perf_counter()
    for _ in range(count):
        data = make()
        signal.alarm(HANG_S)
        t0 = time.perf_counter()
        try:
            target(data)
        except Hang:
            escaped["hang"] += 1
        except Exception as e:  # the point: anything that escapes is a finding
            if not escaped:
                traceback.print_exc()
            escaped[type(e).__name__] += 1
        finally:
            signal.alarm(0)
        slowest = max(slowest, time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    print(
        f"{label:<28} {count:>9,} inputs  {count / elapsed:>10,.0f}/s  "
        f"slowest {slowest * 1e6:>8,.0f} µs  escaped: {dict(escaped) or 'none'}"
    )
    return count, escaped, slowest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=INPUTS)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    signal.signal(signal.SIGALRM, _alarm)
    frame_seeds = seeds()
    header_seeds = [raw[: raw[2] | raw[3] << 8] for raw in frame_seeds]
    file_seeds = capture_seeds()
    decoder = Decoder()

    def decode(raw: bytes) -> None:
        with contextlib.suppress(MalformedFrame):
            decoder.decode(raw)

    def layout(header: bytes) -> None:
        # The contract: at least the 8 fixed bytes, length within the bytes given.
        if len(header) < 8:
            return
        length = min(len(header), max(8, header[2] | header[3] << 8))
        with contextlib.suppress(RadiotapError):
            compute_layout(header, length)

    def whole_file(data: bytes) -> None:
        ring = KeyRing(clock_time(4), timezone.utc, replay=True)
        scan = FrameScan("fuzz", Anonymiser(ring, frozenset()), keep_problems=10)
        reader = CaptureReader(io.BytesIO(data), "fuzz")
        for _ in scan.sightings(reader.packets()):
            pass

    total = args.inputs
    plan = [
        (
            "decode (radiotap + 802.11)",
            int(total * 0.6),
            decode,
            lambda: mutate(rng, rng.choice(frame_seeds)),
        ),
        (
            "radiotap layout",
            int(total * 0.3),
            layout,
            lambda: mutate(rng, rng.choice(header_seeds)),
        ),
        (
            "capture reader + scan",
            total - int(total * 0.6) - int(total * 0.3),
            whole_file,
            lambda: mutate(rng, rng.choice(file_seeds)),
        ),
    ]
    done = 0
    failures = 0
    for label, count, target, make in plan:
        n, escaped, _ = run(label, count, target, make)
        done += n
        failures += sum(escaped.values())
    print(f"total: {done:,} mutated inputs, {failures} escaped exceptions or hangs")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
