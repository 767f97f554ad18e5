"""Live capture through a real AF_PACKET socket, and its errors in plain words.

No monitor-mode radio exists on a test machine, so the end-to-end test sends
radiotap frames over the loopback interface with a second raw socket and tells the
source (through its injectable sysfs directory) that ``lo`` is a radiotap device.
The socket, the kernel path and the parsing are the real ones.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.observations import DeviceSighting
from agent.sources.base import SourceContext
from agent.sources.wifi import synth
from agent.sources.wifi.config import WifiSourceConfig
from agent.sources.wifi.live import ARPHRD_IEEE80211_RADIOTAP, LiveCapture, LiveCaptureError
from agent.sources.wifi.source import WifiSource
from tests.support import REPO, wait_until

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need CAP_NET_RAW")


def fake_sysfs(tmp_path: Path, interface: str, kind: int) -> Path:
    (tmp_path / "net" / interface).mkdir(parents=True)
    (tmp_path / "net" / interface / "type").write_text(f"{kind}\n")
    return tmp_path / "net"


def test_without_cap_net_raw_the_error_names_the_capability() -> None:
    code = (
        "import os\n"
        "from agent.sources.wifi.live import LiveCapture, LiveCaptureError\n"
        "if os.geteuid() == 0: os.setgid(65534); os.setuid(65534)  # drops every capability\n"
        "try:\n    LiveCapture('lo').open()\nexcept LiveCaptureError as e:\n    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "CAP_NET_RAW" in result.stdout and "AmbientCapabilities" in result.stdout


@needs_root
def test_wrong_or_missing_interface_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(LiveCaptureError, match=r"not in monitor mode.*hardware type 772"):
        LiveCapture("lo").open()
    with pytest.raises(LiveCaptureError, match="interface nosuch0 does not exist"):
        LiveCapture("nosuch0").open()


@needs_root
def test_source_logs_the_problem_and_ends(caplog: pytest.LogCaptureFixture) -> None:
    config = WifiSourceConfig(id="w-live", interface="nosuch0", zone="door", position=(0, 0))
    source = WifiSource(config, SourceContext(replay=False))
    assert list(source.observations(threading.Event())) == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["wifi source w-live: interface nosuch0 does not exist"]
    assert source.health()["state"] == "failed"


@needs_root
def test_frames_from_a_raw_socket_become_sightings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sysfs = fake_sysfs(tmp_path, "lo", ARPHRD_IEEE80211_RADIOTAP)
    config = WifiSourceConfig(id="w-live", interface="lo", zone="door", position=(0, 0))
    source = WifiSource(config, SourceContext(replay=False), sysfs=sysfs)
    stop = threading.Event()
    got: list[DeviceSighting] = []
    phones = [bytes([0x3C, 0x22, 0xFB, 0, 0, i]) for i in range(5)]

    def consume() -> None:
        for sighting in source.sightings(stop):
            got.append(sighting)
            if len({s.token for s in got}) == len(phones):
                stop.set()

    reader = threading.Thread(target=consume)
    reader.start()
    try:
        sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        sender.bind(("lo", 0))
        deadline = threading.Event()
        for _ in range(50):  # until the reader's socket is open and has heard them all
            sender.send(synth.radiotap_frame(synth.probe_request(phones[0], 1))[:20])  # cut
            for i, mac in enumerate(phones):
                sender.send(synth.radiotap_frame(synth.probe_request(mac, i), signal=-40 - i))
            if deadline.wait(0.1) or stop.is_set():
                break
        sender.close()
    finally:
        stop.set()
        reader.join(10)
    assert not reader.is_alive()
    assert len({s.token for s in got}) == len(phones)
    assert {s.rssi for s in got} == {-40.0, -41.0, -42.0, -43.0, -44.0}
    assert {s.kind for s in got} == {"probe"} and not any(s.randomised for s in got)
    health = source.health()
    assert health["state"] == "stopped" and health["malformed_frames"] >= 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("wifi source w-live on lo: packet" in w for w in warnings)


TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name: str) -> int:
    """A real TAP interface (vanishes when the descriptor closes), brought up."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    subprocess.run(["ip", "link", "set", name, "up"], check=True, timeout=10)
    return fd


@needs_root
@pytest.mark.skipif(
    not Path("/dev/net/tun").exists() or shutil.which("ip") is None,
    reason="needs a TUN/TAP device and iproute2",
)
def test_a_vanished_interface_is_reopened_when_it_returns(tmp_path: Path) -> None:
    name = f"ewifi{os.getpid() % 10000}"
    sysfs = fake_sysfs(tmp_path, name, ARPHRD_IEEE80211_RADIOTAP)
    capture = LiveCapture(name, sysfs=sysfs, reconnect_s=0.2)
    stop = threading.Event()
    heard: list[bytes] = []
    frame = synth.radiotap_frame(synth.probe_request(bytes.fromhex("3c22fb000077"), 1))
    fd = open_tap(name)
    reader = threading.Thread(
        target=lambda: heard.extend(raw for *_, raw in capture.packets(stop)), daemon=True
    )
    try:
        reader.start()
        assert wait_until(lambda: (os.write(fd, frame), bool(heard))[1], 10)
        os.close(fd)  # the interface disappears, as when a USB radio is unplugged
        fd = -1
        assert wait_until(lambda: capture.state == "reconnecting", 10)
        count = len(heard)
        fd = open_tap(name)  # it comes back under the same name
        assert wait_until(lambda: (os.write(fd, frame), len(heard) > count)[1], 10)
        assert capture.reconnects >= 1 and capture.state == "up"
        assert set(heard) == {frame}
    finally:
        stop.set()
        reader.join(5)
        if fd >= 0:
            os.close(fd)
    assert capture.state == "stopped"
