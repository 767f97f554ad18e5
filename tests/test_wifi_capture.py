"""Damaged captures: one error line with the byte offset, and every frame before it kept.

Also ``edge-agent inspect`` on pcap and pcapng, run as the real command.
"""

from __future__ import annotations

import doctest
import gzip
import importlib
import json
import logging
import threading
from pathlib import Path

import pytest

from agent.sources.base import SourceContext
from agent.sources.wifi import synth
from agent.sources.wifi.config import WifiSourceConfig
from agent.sources.wifi.source import WifiSource
from tests.support import run_cli

START = 1_700_000_000.0
AP = bytes.fromhex("f0b429000001")


def phone(i: int) -> bytes:
    return bytes([0x3C, 0x22, 0xFB, 0x10, 0x00, i])


def probes(count: int) -> list[synth.Packet]:
    return [
        (START + i, synth.radiotap_frame(synth.probe_request(phone(i % 5), i), signal=-40 - i % 50))
        for i in range(count)
    ]


def read_all(path: Path) -> tuple[WifiSource, list[float]]:
    config = WifiSourceConfig(id="w1", path=path, zone="door", position=(1.0, 1.0))
    source = WifiSource(config, SourceContext(replay=True))
    return source, [s.t for s in source.sightings(threading.Event())]


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_truncated_pcap_keeps_frames_before_the_cut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cut.pcap"
    offsets = synth.write_pcap(path, probes(20))
    data = path.read_bytes()
    path.write_bytes(data[: offsets[12] + 30])  # record 12 loses its tail
    source, times = read_all(path)
    assert times == [START + i for i in range(12)]
    lines = errors(caplog)
    assert len(lines) == 1
    assert f"byte {offsets[12]}" in lines[0] and str(path) in lines[0]
    assert source.health()["frames"] == 12


def test_impossible_record_length_stops_with_its_offset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "corrupt.pcap"
    offsets = synth.write_pcap(path, probes(10))
    data = bytearray(path.read_bytes())
    data[offsets[4] + 8 : offsets[4] + 12] = (10**9).to_bytes(4, "little")  # captured length
    path.write_bytes(bytes(data))
    _, times = read_all(path)
    assert len(times) == 4
    (line,) = errors(caplog)
    assert f"byte {offsets[4]}" in line and "packet length" in line


def test_damaged_pcapng_block_and_truncated_gzip(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "damaged.pcapng"
    offsets = synth.write_pcapng(path, probes(10))
    data = bytearray(path.read_bytes())
    data[offsets[6] + 4] ^= 0x04  # the block's leading length no longer matches its trailer
    path.write_bytes(bytes(data))
    _, times = read_all(path)
    assert len(times) == 6
    assert f"byte {offsets[6]}" in errors(caplog)[0]

    caplog.clear()
    gz = tmp_path / "cut.pcap.gz"
    synth.write_pcap(gz, probes(200))
    gz.write_bytes(gz.read_bytes()[:-400])  # the compressed stream ends early
    _, times = read_all(gz)
    assert 0 < len(times) < 200
    assert times == [START + i for i in range(len(times))]
    (line,) = errors(caplog)
    assert "compressed stream ends early" in line or "truncated" in line


def test_malformed_frames_are_skipped_with_offsets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    packets = probes(6)
    good = synth.radiotap_frame(synth.probe_request(phone(9), 1))
    packets[2] = (START + 2, good[:30])  # 802.11 header cut short
    packets[4] = (START + 4, b"\x00\x00\xff\x00" + good[4:])  # radiotap length past the end
    path = tmp_path / "bad-frames.pcap"
    offsets = synth.write_pcap(path, packets)
    source, times = read_all(path)
    assert times == [START + i for i in (0, 1, 3, 5)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"byte {offsets[2]}" in w for w in warnings)
    assert any(f"byte {offsets[4]}" in w for w in warnings)
    assert source.health()["malformed_frames"] == 2
    assert not errors(caplog)  # the capture itself is fine


def test_not_a_capture_is_one_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "notes.pcap"
    path.write_text("shopping list\n")
    _, times = read_all(path)
    assert times == []
    (line,) = errors(caplog)
    assert "byte 0" in line and "not a pcap or pcapng file" in line


@pytest.mark.parametrize("name", ["air.pcap", "air.pcapng", "air.pcapng.gz"])
def test_inspect_summarises_a_capture(tmp_path: Path, name: str) -> None:
    packets = probes(8)
    packets.append((START + 9, synth.radiotap_frame(synth.data_frame(phone(1), AP, 5))))
    packets.append((START + 10, synth.radiotap_frame(synth.beacon(AP, 3))))
    packets.append((START + 11, b"\x00\x00\x08\x00\x00\x00\x00\x00"))  # radiotap, no frame
    path = tmp_path / name
    writer = synth.write_pcap if ".pcap" in name and "pcapng" not in name else synth.write_pcapng
    offsets = writer(path, packets)
    result = run_cli("inspect", str(path))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    if isinstance(summary, list):
        summary = summary[0]
    assert summary["format"] == "802.11 capture"
    assert summary["container"] == ("pcapng" if "pcapng" in name else "pcap")
    assert summary["frames"] == 11
    assert summary["probe_requests"] == 8
    assert summary["data_frames"] == 1
    assert summary["distinct_tokens"] == 5
    assert summary["randomised_share"] == 0.0
    assert summary["estimated_devices"] == 5
    assert summary["rssi_dbm"] == {"min": -60.0, "max": -40.0}
    assert summary["time_span"]["seconds"] == 9.0
    assert summary["malformed"] == [
        {"offset": offsets[10], "reason": "radiotap header with no 802.11 frame"}
    ]
    assert summary["capture_error"] is None


def test_inspect_reports_where_a_capture_breaks(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    offsets = synth.write_pcap(path, probes(5))
    path.write_bytes(path.read_bytes()[: offsets[3] + 5])
    summary = json.loads(run_cli("inspect", str(path)).stdout)
    if isinstance(summary, list):
        summary = summary[0]
    assert summary["probe_requests"] == 3
    assert summary["capture_error"]["offset"] == offsets[3]


def test_gzip_of_a_pcap_reads_like_the_pcap(tmp_path: Path) -> None:
    plain = tmp_path / "a.pcap"
    synth.write_pcap(plain, probes(30))
    packed = tmp_path / "a.pcap.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_all(plain)[1] == read_all(packed)[1]


@pytest.mark.parametrize(
    "module",
    [
        "radiotap",
        "dot11",
        "capture",
        "anonymise",
        "config",
        "source",
        "presence",
        "devices",
        "synth",
        "crowd",
        "sighting",
        "inspect",
        "linker",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"agent.sources.wifi.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_inspect_never_links_a_randomised_mac_across_the_key_rotation(tmp_path: Path) -> None:
    private = bytes.fromhex("da0000000042")
    before = 1_700_000_000.0 - 1_700_000_000.0 % 86400 + 4 * 3600 - 30  # 03:59:30 UTC
    packets = [
        (before + i * 60.0, synth.radiotap_frame(synth.probe_request(private, 10 + i)))
        for i in range(2)
    ]
    path = tmp_path / "midnight-shift.pcap"
    synth.write_pcap(path, packets)
    summary = json.loads(run_cli("inspect", str(path)).stdout)
    if isinstance(summary, list):
        summary = summary[0]
    assert summary["distinct_tokens"] == 2  # the same MAC, hashed with two days' keys
    assert summary["estimated_devices"] == 2  # and not linked back together
