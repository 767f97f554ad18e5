"""No MAC, in any notation, and no device token leaves the agent: not to MQTT, not to disk,
not to a log line, not in ``inspect``.

The demo store is replayed with two Wi-Fi sensors added (a crowd of phones, the
store's own handheld on the ignore list, a malformed frame), through the real
command, publishing to a real mosquitto through the outbox. Everything it prints,
logs, publishes and writes is scanned for every address the captures contain and
every token the source made of them.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from agent.sources.base import SourceContext
from agent.sources.wifi import synth
from agent.sources.wifi.config import WifiSourceConfig
from agent.sources.wifi.crowd import simulate_crowd
from agent.sources.wifi.dot11 import Decoder
from agent.sources.wifi.source import WifiSource
from tests.conftest import Broker
from tests.publish_helpers import Subscriber, wait_until
from tests.support import REPO, run_cli

DEMO = REPO / "fixtures" / "demo-store"
DEMO_START = 1_772_877_600.0  # the demo recording's start, 2026-03-07T10:00:00Z
STAFF = bytes.fromhex("0019aa00beef")
SENSORS = (("wifi-door", "entrance", 1.5, 1.0, 1), ("wifi-promo", "promo", 15.0, 7.0, 2))


def notations(mac: bytes) -> set[bytes]:
    """Every way a MAC is commonly written, as bytes to search for."""
    plain = mac.hex()
    forms = {plain, mac.hex(":"), mac.hex("-"), f"{plain[:4]}.{plain[4:8]}.{plain[8:]}"}
    texts = {f.encode() for f in forms} | {f.upper().encode() for f in forms}
    return texts | {mac}


def addresses(raw: bytes) -> set[bytes]:
    """The unicast address fields of a radiotap 802.11 frame."""
    start = raw[2] | raw[3] << 8
    found = set()
    for at in (4, 10, 16):
        mac = raw[start + at : start + at + 6]
        if len(mac) == 6 and not mac[0] & 1:
            found.add(mac)
    return found


def build_fixture(tmp_path: Path) -> tuple[Path, list[Path], set[bytes]]:
    fixture = tmp_path / "store"
    shutil.copytree(DEMO, fixture)
    macs: set[bytes] = {STAFF}
    captures = []
    config = (fixture / "fixture.toml").read_text()
    for name, zone, x, y, seed in SENSORS:
        crowd = simulate_crowd(25, seed, duration_s=900, start=DEMO_START)
        packets = [(f.t, f.raw) for f in crowd]
        staff = synth.probe_request(STAFF, 7)
        packets += [(DEMO_START + 30 * i, synth.radiotap_frame(staff)) for i in range(20)]
        packets.append((DEMO_START + 5, synth.radiotap_frame(staff)[:30]))  # malformed
        packets.sort(key=lambda p: p[0])
        for _, raw in packets:
            macs |= addresses(raw)
        path = fixture / f"{name}.pcapng"
        synth.write_pcapng(path, packets)
        captures.append(path)
        config += (
            f'\n[[sources.wifi]]\nid = "{name}"\npath = "{path.name}"\nzone = "{zone}"\n'
            f'position = [{x}, {y}]\nignore_macs = ["{STAFF.hex(":")}"]\n'
        )
    (fixture / "fixture.toml").write_text(config)
    return fixture, captures, macs


def tokens_of(captures: list[Path]) -> set[str]:
    """The tokens the replay makes (its key is derived from the same captures)."""
    context = SourceContext(replay=True)
    sources = [
        WifiSource(WifiSourceConfig(id=p.stem, path=p, zone="z", position=(0, 0)), context)
        for p in captures
    ]
    return {s.token for source in sources for s in source.sightings(threading.Event())}


def leaks(blob: bytes, macs: set[bytes], tokens: set[str]) -> list[str]:
    found = [f"MAC {m.hex()[:4]}…" for m in macs if any(n in blob for n in notations(m))]
    found += [f"token {t[:4]}…" for t in tokens if t.encode() in blob or bytes.fromhex(t) in blob]
    return found


def test_nothing_identifying_reaches_mqtt_disk_logs_or_inspect(
    tmp_path: Path, broker: Broker
) -> None:
    fixture, captures, macs = build_fixture(tmp_path)
    assert len(macs) > 200  # phones rotating addresses, the AP, the staff handheld
    tokens = tokens_of(captures)
    assert len(tokens) > 50
    inputs = {fixture / "fixture.toml", *captures}
    before = {p for p in fixture.rglob("*") if p.is_file()}

    subscriber = Subscriber(broker.port)
    try:
        published = run_cli(
            "replay",
            str(fixture),
            "--mqtt",
            broker.url,
            "--outbox",
            str(tmp_path / "out" / "outbox.sqlite"),
            "--log-level",
            "DEBUG",
        )
        assert published.returncode == 0, published.stderr
        wait_until(lambda: len(subscriber.messages) > 5, 10, "events on the broker")
    finally:
        subscriber.close()
    to_file = run_cli("replay", str(fixture), "--out", str(tmp_path / "out" / "events.jsonl"))
    assert to_file.returncode == 0, to_file.stderr
    inspected = run_cli("inspect", *map(str, captures))
    assert inspected.returncode == 0, inspected.stderr
    assert '"probe_requests"' in inspected.stdout

    outputs: dict[str, bytes] = {
        "replay stdout": published.stdout.encode(),
        "replay log": published.stderr.encode(),
        "file replay log": to_file.stderr.encode() + to_file.stdout.encode(),
        "inspect": inspected.stdout.encode() + inspected.stderr.encode(),
    }
    for message in subscriber.messages:
        outputs[f"mqtt {message.topic}"] = message.topic.encode() + message.payload
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p not in inputs]
    written = [p for p in written if p not in before or p.parent == tmp_path / "out"]
    assert any(p.name.startswith("outbox") for p in written)
    for path in written:
        outputs[str(path.relative_to(tmp_path))] = path.read_bytes()
    assert "malformed frame skipped" in published.stderr  # the bad frame was logged...
    for where, blob in outputs.items():
        assert leaks(blob, macs, tokens) == [], where  # ...without a trace of an identifier


def test_the_check_itself_finds_a_mac_in_each_notation() -> None:
    mac = bytes.fromhex("3c22fb0000aa")
    for text in ["3c:22:fb:00:00:aa", "3C-22-FB-00-00-AA", "3c22.fb00.00aa", "3C22FB0000AA"]:
        assert leaks(f"x {text} y".encode(), {mac}, set()), text
    assert leaks(b"\x00" + mac + b"\x00", {mac}, set())
    token = "0123456789abcdef"
    assert leaks(b"..." + bytes.fromhex(token), set(), {token})
    assert not leaks(b"3c:22:fb:00:00:ab", {mac}, {token})


def test_decoder_sees_the_addresses_the_scan_looks_for() -> None:
    raw = synth.radiotap_frame(synth.probe_request(STAFF, 1))
    frame = Decoder().decode(raw)
    assert frame is not None and frame.address in addresses(raw)
