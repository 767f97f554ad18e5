"""The 802.11 parser against tshark, frame by frame, on captures the test writes.

Every frame of every radiotap shape (one bitmap, per-antenna namespaces, vendor
namespace, FCS appended, bad FCS) in pcap (µs and ns, both byte orders), pcapng
and gzip is decoded by us and by tshark; type, transmitter address, signal,
sequence number, channel and time must agree.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.sources.wifi import synth
from agent.sources.wifi.capture import CaptureReader, open_capture
from agent.sources.wifi.dot11 import Decoder, Frame

AP = bytes.fromhex("f0b429000001")
TSHARK_FIELDS = [
    "frame.number",
    "frame.time_epoch",
    "wlan.fc.type_subtype",
    "wlan.fc.ds",
    "wlan.sa",
    "radiotap.dbm_antsignal",
    "wlan.seq",
    "radiotap.channel.freq",
    "radiotap.flags.badfcs",
]


def tshark() -> str:
    found = shutil.which("tshark")
    if found is None:
        pytest.fail("tshark is not installed: run `make test`, which installs it")
    return found


def mixed_air(seed: int, count: int) -> list[synth.Packet]:
    """Frames of every kind we keep and skip, in every radiotap shape."""
    rng = random.Random(seed)
    packets: list[synth.Packet] = []
    t = 1_700_000_000.0
    for i in range(count):
        t += rng.uniform(0.0001, 0.5)
        mac = bytes([rng.choice([0x02, 0x3C, 0xDA, 0x00])]) + rng.randbytes(5)
        seq = rng.randrange(4096)
        pick = i % 7
        if pick == 0:
            frame = synth.probe_request(mac, seq, ssid=b"shop" if rng.random() < 0.5 else b"")
        elif pick in (1, 2):
            subtype = rng.choice(["data", "null", "qos-data", "qos-null"])
            frame = synth.data_frame(mac, AP, seq, subtype)  # type: ignore[arg-type]
        elif pick == 3:
            frame = synth.data_frame(mac, AP, seq, "qos-data", to_ap=False)
        elif pick == 4:
            frame = synth.beacon(AP, seq)
        elif pick == 5:
            frame = synth.ack(mac)
        else:
            frame = synth.probe_request(b"\x01" + mac[1:], seq)  # group address: dropped
        shape = synth.DRIVER_SHAPES[i % len(synth.DRIVER_SHAPES)]
        frequency = rng.choice([2412, 2437, 2462, 2484, 5180, 5745, None])
        signal = (
            rng.choice([rng.randint(-100, -20), None]) if i % 11 == 0 else rng.randint(-95, -25)
        )
        bad = i % 13 == 0
        packets.append(
            (
                round(t, 6),
                synth.radiotap_frame(
                    frame, signal=signal, frequency=frequency, shape=shape, bad_fcs=bad
                ),
            )
        )
    return packets


def tshark_rows(path: Path) -> list[dict[str, str]]:
    command = [tshark(), "-r", str(path), "-o", "wlan.check_fcs:TRUE", "-T", "fields"]
    for name in TSHARK_FIELDS:
        command += ["-e", name]
    command += ["-E", "separator=\t", "-E", "occurrence=f"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    return [dict(zip(TSHARK_FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def our_frames(path: Path) -> list[tuple[float, Frame | None]]:
    stream, _ = open_capture(path)
    decoder = Decoder()
    with stream:
        reader = CaptureReader(stream, str(path))
        frames = [(t, decoder.decode(raw)) for _, t, _, raw in reader.packets()]
    assert reader.error is None
    return frames


def expected_kind(row: dict[str, str]) -> str | None:
    """What we should make of a frame, from tshark's dissection."""
    if row["radiotap.flags.badfcs"] in ("1", "True"):
        return None
    subtype = int(row["wlan.fc.type_subtype"], 16)
    group = int(row["wlan.sa"].split(":")[0], 16) & 1 if row["wlan.sa"] else 1
    if subtype == 0x0004 and not group:
        return "probe"
    to_ap = row["wlan.fc.ds"] in ("0x01", "1", "0x1")
    if subtype in (0x20, 0x24, 0x28, 0x2C) and to_ap and not group:
        return "data"
    return None


def assert_agree(path: Path, packets: list[synth.Packet]) -> int:
    rows = tshark_rows(path)
    ours = our_frames(path)
    assert len(rows) == len(ours) == len(packets)
    kept = 0
    for row, (t, frame) in zip(rows, ours, strict=True):
        where = f"frame {row['frame.number']}"
        assert abs(float(row["frame.time_epoch"]) - t) < 2e-6, where
        kind = expected_kind(row)
        if kind is None:
            assert frame is None, where
            continue
        assert frame is not None, where
        kept += 1
        assert frame.kind == kind, where
        assert frame.address.hex(":") == row["wlan.sa"], where
        assert frame.seq == int(row["wlan.seq"]), where
        signal = row["radiotap.dbm_antsignal"]
        assert frame.rssi == (int(signal) if signal else None), where
        freq = row["radiotap.channel.freq"]
        assert (frame.channel is None) == (not freq), where
    return kept


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("micro.pcap", {}),
        ("nano-big-endian.pcap", {"nanoseconds": True, "big_endian": True}),
        ("compressed.pcap.gz", {}),
    ],
)
def test_pcap_frames_match_tshark(tmp_path: Path, name: str, options: dict[str, Any]) -> None:
    packets = mixed_air(seed=len(name), count=400)
    path = tmp_path / name
    synth.write_pcap(path, packets, **options)
    kept = assert_agree(path, packets)
    assert kept > 100  # the check covered plenty of frames we keep, not only skips


@pytest.mark.parametrize("tsresol", [6, 9, 0x80 | 20])
def test_pcapng_frames_match_tshark(tmp_path: Path, tsresol: int) -> None:
    packets = mixed_air(seed=tsresol, count=300)
    path = tmp_path / f"r{tsresol}.pcapng"
    synth.write_pcapng(path, packets, tsresol=tsresol)
    assert assert_agree(path, packets) > 80


def test_every_driver_shape_yields_signal_and_channel(tmp_path: Path) -> None:
    mac = bytes.fromhex("3c22fb000042")
    for shape in synth.DRIVER_SHAPES:
        raw = synth.radiotap_frame(synth.probe_request(mac, 99), signal=-47, shape=shape)
        frame = Decoder().decode(raw)
        assert frame is not None, shape
        assert (frame.kind, frame.rssi, frame.seq, frame.channel) == ("probe", -47, 99, 6), shape


def test_bad_fcs_frames_are_counted_not_kept() -> None:
    decoder = Decoder()
    frame = synth.probe_request(bytes.fromhex("3c22fb000042"), 1)
    assert decoder.decode(synth.radiotap_frame(frame, bad_fcs=True)) is None
    assert decoder.bad_fcs == 1
