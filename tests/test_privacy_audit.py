"""The privacy audit: nothing the agent writes or sends carries an identifier.

A simulated store (cameras, two Wi-Fi sensors, an RFID reader) is replayed through
the real command to a real mosquitto through the outbox. Its raw feeds contain
known MACs and EPCs. Everything the agent printed, logged, published and wrote to
disk (the outbox database with its WAL and shared memory, anything else it left
in its directory) is searched for every MAC in every usual notation, every EPC
(hex, either case, as a tag URI), every device token the agent made, and for any
field that could carry a track id.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_config
from agent.observations import DeviceSighting
from agent.runtime import context_for
from agent.sources.registry import build_sources
from tests.conftest import Broker
from tests.publish_helpers import Subscriber, wait_until
from tests.support import REPO, run_cli

STORE = REPO / "agent" / "sim" / "stores" / "demo-store.toml"
FORBIDDEN_KEYS = {"track", "track_id", "token", "mac", "epc", "serial", "idhex", "address"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from agent.sim.fixture import make_fixture

    out = tmp_path_factory.mktemp("audit") / "store"
    make_fixture(STORE, out, minutes=5, seed=11, command="privacy audit")
    return out


def macs_in_captures(fixture: Path) -> set[bytes]:
    """Every transmitter and source address in the captures, read by tshark (not by us)."""
    found: set[bytes] = set()
    for capture in fixture.glob("*.pcap.gz"):
        raw = fixture / (capture.stem + ".plain")
        raw.write_bytes(gzip.decompress(capture.read_bytes()))
        fields = subprocess.run(
            ["tshark", "-r", str(raw), "-T", "fields", "-e", "wlan.sa", "-e", "wlan.ta"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        raw.unlink()
        for mac in re.findall(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}", fields):
            found.add(bytes.fromhex(mac.replace(":", "")))
    return found


def epcs_in_reads(fixture: Path) -> set[str]:
    found = set()
    for feed in fixture.glob("*.rfid.jsonl"):
        found.update(
            m.lower() for m in re.findall(r'"idHex":\s*"([0-9A-Fa-f]{24,})"', feed.read_text())
        )
    return found


def tokens_made(fixture: Path) -> set[str]:
    """The tokens the agent's own Wi-Fi sources make of these captures in a replay."""
    config = load_config(fixture / "fixture.toml")
    sources = build_sources(config.sources, context_for(config, str(fixture), replay=True))
    tokens = set()
    for source in sources:
        if source.id.startswith("wifi"):
            for obs in source.observations(threading.Event()):
                if isinstance(obs, DeviceSighting):
                    tokens.add(obs.token)
            source.close()
    return tokens


def notations(mac: bytes) -> set[bytes]:
    plain = mac.hex()
    forms = {plain, mac.hex(":"), mac.hex("-"), f"{plain[:4]}.{plain[4:8]}.{plain[8:]}"}
    return {f.encode() for f in forms} | {f.upper().encode() for f in forms} | {mac}


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {k.lower() for k in value} | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def test_no_identifier_reaches_output_logs_disk_or_mqtt(
    store: Path, broker: Broker, tmp_path: Path
) -> None:
    macs, epcs, tokens = macs_in_captures(store), epcs_in_reads(store), tokens_made(store)
    assert len(macs) > 20 and len(epcs) > 5 and len(tokens) > 20, "the audit needs identifiers"
    state = tmp_path / "state"
    state.mkdir()
    subscriber = Subscriber(broker.port)
    try:
        run = run_cli(
            "replay",
            str(store),
            "--mqtt",
            broker.url,
            "--outbox",
            str(state / "outbox.db"),
            "--log-level",
            "DEBUG",
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        wait_until(lambda: len(subscriber.on("traffic")) > 0, 20, "traffic events")
        wait_until(lambda: len(subscriber.on("characteristics")) > 0, 20, "characteristics")
    finally:
        subscriber.close()
    messages = subscriber.messages
    assert {m.topic.rsplit("/", 1)[1] for m in messages} >= {"traffic", "characteristics", "status"}

    haystack = run.stdout.encode() + run.stderr.encode()
    for m in messages:
        haystack += m.topic.encode() + m.payload
        assert not keys(m.json()) & FORBIDDEN_KEYS, f"{m.topic} has an identifier field"
    written = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name.startswith("outbox.db") for p in written)
    for path in written:
        haystack += path.read_bytes()
    lowered = haystack.lower()
    leaked_macs = [m.hex(":") for m in macs if any(n in haystack for n in notations(m))]
    assert leaked_macs == [], f"{len(leaked_macs)} MACs leaked"
    assert [e for e in epcs if e.encode() in lowered] == [], "an EPC leaked"
    assert b"urn:epc:" not in lowered, "an EPC tag URI leaked"
    assert [t for t in tokens if t.encode() in lowered] == [], "a device token leaked"
    for line in run.stdout.splitlines():
        assert not keys(json.loads(line)) & FORBIDDEN_KEYS
