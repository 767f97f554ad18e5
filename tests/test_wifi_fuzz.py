"""The parsers never raise anything but their own errors, on any bytes.

A short Hypothesis run for the suite; ``bench/wifi_fuzz.py`` runs a million
mutated inputs. Every strategy starts from real frames and captures and mutates
them, so the search reaches deep into the headers instead of dying at byte 0.
"""

from __future__ import annotations

import io
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.sources.base import SourceContext
from agent.sources.wifi import synth
from agent.sources.wifi.capture import CaptureReader
from agent.sources.wifi.config import WifiSourceConfig
from agent.sources.wifi.dot11 import Decoder, Frame, MalformedFrame
from agent.sources.wifi.radiotap import Layout, RadiotapError, compute_layout
from agent.sources.wifi.source import WifiSource

PHONE = bytes.fromhex("da22fb000001")
SEEDS = [
    synth.radiotap_frame(frame, shape=shape, bad_fcs=bad)
    for frame in (
        synth.probe_request(PHONE, 17),
        synth.data_frame(PHONE, bytes.fromhex("f0b429000001"), 9, "qos-null"),
        synth.beacon(bytes.fromhex("f0b429000001"), 3),
    )
    for shape in synth.DRIVER_SHAPES
    for bad in (False, True)
]
FUZZ = settings(
    max_examples=300,
    derandomize=True,  # the suite must be deterministic; the bench explores at random
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "set", "cut", "insert", "drop"]))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x80, 0x7F, 0x20, 0x40]))
        elif action == "cut":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at]
    return bytes(data)


def check_decode(raw: bytes) -> None:
    try:
        frame = Decoder().decode(raw)
    except MalformedFrame as e:
        assert str(e)
        return
    assert frame is None or isinstance(frame, Frame)
    if frame is not None:
        assert len(frame.address) == 6 and 0 <= frame.seq < 4096
        assert frame.rssi is None or -128 <= frame.rssi <= 127


@FUZZ
@given(mutated(SEEDS))
def test_decode_mutated_frames(raw: bytes) -> None:
    check_decode(raw)


@FUZZ
@given(st.binary(max_size=96))
def test_decode_arbitrary_bytes(raw: bytes) -> None:
    check_decode(raw)


@FUZZ
@given(st.binary(min_size=8, max_size=80), st.integers(0, 255))
def test_radiotap_layout_of_any_header(header: bytes, length: int) -> None:
    length = max(8, min(length, len(header)))
    try:
        layout, _ = compute_layout(header, length)
    except RadiotapError:
        return
    assert isinstance(layout, Layout)
    assert layout.need <= length


def capture_bytes(pcapng: bool) -> bytes:
    packets = [(1_700_000_000.0 + i, raw) for i, raw in enumerate(SEEDS[:8])]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seed"
        (synth.write_pcapng if pcapng else synth.write_pcap)(path, packets)
        return path.read_bytes()


CAPTURES = [capture_bytes(False), capture_bytes(True)]


@FUZZ
@given(mutated(CAPTURES))
def test_capture_reader_on_damaged_files(data: bytes) -> None:
    reader = CaptureReader(io.BytesIO(data), "fuzz.pcap")
    last = -1
    for offset, _, _, raw in reader.packets():
        assert offset > last and len(raw) <= len(data)
        last = offset
    assert reader.error is None or 0 <= reader.error.offset <= len(data)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(mutated(CAPTURES))
def test_source_survives_damaged_captures(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "damaged.pcap"
    path.write_bytes(data)
    config = WifiSourceConfig(id="w", path=path, zone="z", position=(0.0, 0.0))
    sightings = list(WifiSource(config, SourceContext(replay=True)).sightings(threading.Event()))
    assert all(len(s.token) == 16 for s in sightings)
