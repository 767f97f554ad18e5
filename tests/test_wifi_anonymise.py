"""Tokens: one key for all sensors, rotated daily at local time, deterministic in replay."""

from __future__ import annotations

import hmac
import re
import threading
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.config import ConfigError, parse_config
from agent.observations import DeviceSighting
from agent.sources.base import SourceContext
from agent.sources.recorded import parse_line
from agent.sources.wifi import synth
from agent.sources.wifi.anonymise import Anonymiser, KeyRing
from agent.sources.wifi.config import WifiSourceConfig
from agent.sources.wifi.source import WifiSource

PARIS = ZoneInfo("Europe/Paris")
PHONE = bytes.fromhex("3c22fb000001")
PRIVATE = bytes.fromhex("da11223344ff")  # locally administered: a privacy MAC
STAFF = bytes.fromhex("0019aa00beef")


def paris(*args: int) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()  # type: ignore[misc]


def capture(path: Path, frames: list[tuple[float, bytes, int]]) -> Path:
    synth.write_pcap(
        path,
        [(t, synth.radiotap_frame(synth.probe_request(mac, 1), signal=s)) for t, mac, s in frames],
    )
    return path


def sightings(path: Path, context: SourceContext, **config: object) -> list[DeviceSighting]:
    cfg = WifiSourceConfig.model_validate(
        {"id": path.stem, "path": path, "zone": "door", "position": (0.0, 0.0), **config}
    )
    return list(WifiSource(cfg, context).sightings(threading.Event()))


def test_tokens_are_16_hex_and_accepted_by_recorded_fixtures(tmp_path: Path) -> None:
    path = capture(tmp_path / "a.pcap", [(paris(2026, 3, 1, 12), PHONE, -50)])
    (s,) = sightings(path, SourceContext(replay=True))
    assert re.fullmatch(r"[0-9a-f]{16}", s.token)
    line = {
        "type": "device",
        "t": s.t,
        "token": s.token,
        "rssi": s.rssi,
        "kind": s.kind,
        "randomised": s.randomised,
        "channel": s.channel,
        "seq": s.seq,
    }
    assert parse_line(line, default_source=s.source) == s


def test_two_sensors_share_one_key(tmp_path: Path) -> None:
    t = paris(2026, 3, 1, 12)
    context = SourceContext(replay=False)
    first = sightings(capture(tmp_path / "s1.pcap", [(t, PHONE, -50)]), context)
    second = sightings(capture(tmp_path / "s2.pcap", [(t + 1, PHONE, -70)]), context)
    assert first[0].token == second[0].token
    assert first[0].source != second[0].source
    # Another agent (another context) has its own key: the same phone is unlinkable.
    other = sightings(capture(tmp_path / "s3.pcap", [(t, PHONE, -50)]), SourceContext())
    assert other[0].token != first[0].token


def test_key_rotates_at_the_configured_local_time(tmp_path: Path) -> None:
    frames = [
        (paris(2026, 3, 1, 3, 59), PHONE, -50),
        (paris(2026, 3, 1, 3, 59, 59), PHONE, -50),
        (paris(2026, 3, 1, 4, 0, 1), PHONE, -50),  # after 04:00 Paris: new key
        (paris(2026, 3, 1, 22, 0), PRIVATE, -50),
        (paris(2026, 3, 2, 5, 0), PRIVATE, -50),
    ]
    got = sightings(
        capture(tmp_path / "day.pcap", frames),
        SourceContext(),
        rotate_at="04:00",
        timezone="Europe/Paris",
    )
    tokens = [s.token for s in got]
    assert tokens[0] == tokens[1] != tokens[2]
    assert tokens[3] != tokens[4]  # a randomised MAC is never linked across a rotation
    assert [s.randomised for s in got] == [False, False, False, True, True]


def test_rotation_destroys_the_old_key() -> None:
    keys = iter([b"\x01" * 32, b"\x02" * 32])
    ring = KeyRing(time(4), PARIS, replay=False, random_bytes=lambda n: next(keys))
    old = ring.key(paris(2026, 3, 1, 12))
    assert bytes(old) == b"\x01" * 32
    new = ring.key(paris(2026, 3, 2, 12))
    assert bytes(old) == b"\x00" * 32  # overwritten in place
    assert bytes(new) == b"\x02" * 32 and ring.rotations == 1
    # A late frame from the old day is hashed with the current key: the old one is gone.
    assert ring.key(paris(2026, 3, 2, 3)) is new


def test_replay_is_deterministic_and_never_uses_a_live_key(tmp_path: Path) -> None:
    path = capture(tmp_path / "r.pcap", [(paris(2026, 3, 1, 12), PHONE, -50)])
    once = sightings(path, SourceContext(replay=True))
    twice = sightings(path, SourceContext(replay=True))
    assert once == twice
    live = sightings(path, SourceContext(replay=False))
    assert live[0].token != once[0].token
    # The replay key depends on the capture: another capture, other tokens.
    other = capture(tmp_path / "o.pcap", [(paris(2026, 3, 1, 12), PHONE, -51)])
    assert sightings(other, SourceContext(replay=True))[0].token != once[0].token
    with pytest.raises(RuntimeError):
        KeyRing(time(4), PARIS, replay=False).add_replay_material(b"x")


def test_ignored_devices_are_dropped_and_only_their_hash_is_kept(tmp_path: Path) -> None:
    t = paris(2026, 3, 1, 12)
    path = capture(tmp_path / "staff.pcap", [(t, STAFF, -40), (t + 1, PHONE, -40)])
    config = {"ignore_macs": ["00-19-AA-00-BE-EF"]}
    got = sightings(path, SourceContext(replay=True), **config)
    assert len(got) == 1 and got[0].t == t + 1
    cfg = WifiSourceConfig(id="w", interface="mon0", zone="z", position=(0, 0), **config)
    dumped = cfg.model_dump_json()
    assert "beef" not in dumped.lower() and "be-ef" not in dumped.lower()
    assert WifiSourceConfig.model_validate_json(dumped) == cfg  # hashes validate again


def test_group_addresses_are_ignored() -> None:
    ring = KeyRing(time(4), PARIS, replay=True)
    anonymiser = Anonymiser(ring, frozenset())
    assert anonymiser.token(PHONE, 0.0) is not None
    raw = synth.radiotap_frame(synth.probe_request(b"\x01\x00\x5e\x00\x00\x01", 1))
    from agent.sources.wifi.dot11 import Decoder

    decoder = Decoder()
    assert decoder.decode(raw) is None and decoder.group == 1


def test_config_errors_name_the_field_never_the_mac() -> None:
    store = {"id": "s", "gateway_id": "g"}
    bad = {
        "id": "w",
        "interface": "mon0",
        "zone": "z",
        "position": [0, 0],
        "ignore_macs": ["00:19:aa:00:be:ef", "00:19:aa:00:be:zz"],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config({"store": store, "sources": {"wifi": [bad]}})
    (line,) = caught.value.lines
    assert "sources.wifi[0].ignore_macs" in line
    assert "be:zz" not in line and "be:ef" not in line
    both = {"id": "w", "interface": "mon0", "path": "x.pcap", "zone": "z", "position": [0, 0]}
    with pytest.raises(ConfigError):
        parse_config({"store": store, "sources": {"wifi": [both]}})
    inverted = {**both, "path": None, "presence": {"enter_dbm": -80, "leave_dbm": -70}}
    with pytest.raises(ConfigError, match="leave_dbm"):
        parse_config({"store": store, "sources": {"wifi": [inverted]}})


def test_sensors_disagreeing_on_rotation_or_zone_are_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = capture(tmp_path / "z.pcap", [(paris(2026, 3, 1, 12), PHONE, -50)])
    context = SourceContext(replay=True, store_zones=("door", "aisle"))
    sightings(path, context)
    assert not caplog.records
    second = WifiSourceConfig(
        id="w2", path=path, zone="garden", position=(0, 0), rotate_at=time(5, 30)
    )
    WifiSource(second, context)
    messages = [r.getMessage() for r in caplog.records]
    assert any("zone 'garden' is not one of the store's zones" in m for m in messages)
    assert any("rotate_at differs" in m and "04:00" in m for m in messages)


def test_concurrent_sensors_never_hash_with_a_wiped_key() -> None:
    ring = KeyRing(time(4), PARIS, replay=False)
    zero_key_tokens = {
        hmac.digest(bytes(32), bytes([0x3C, 0, 0, 0, 0, i]), "sha256")[:8].hex() for i in range(256)
    }
    days = [paris(2026, 3, d, 12) for d in range(1, 30)]
    found: list[str] = []

    def sensor(offset: int) -> None:
        for day in days:
            for i in range(256):
                found.append(ring.token(bytes([0x3C, 0, 0, 0, 0, (i + offset) % 256]), day))

    threads = [threading.Thread(target=sensor, args=(n * 64,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 4 * 29 * 256
    assert not zero_key_tokens & set(found)
    assert ring.rotations == 28
