"""The shopper simulator: deterministic, parseable by the agent's own sources, truthful."""

from __future__ import annotations

import gzip
import io
import json
import threading
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agent.config import load_config
from agent.sim.calibration import DEFAULT
from agent.sim.fixture import load_store, make_fixture
from agent.sim.homography import Homography
from agent.sim.render_rfid import CATALOGUE_FILE
from agent.sim.scenario import Recording, simulate
from agent.sources.base import SourceContext
from agent.sources.recorded import RecordedSource, RecordedSourceConfig
from agent.sources.registry import build_sources
from agent.sources.wifi.capture import CaptureReader
from agent.sources.wifi.dot11 import Decoder

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "agent" / "sim" / "stores" / "demo-store.toml"
MINUTES = 4.0


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, Path]:
    out = tmp_path_factory.mktemp("sim")
    rec, _ = make_fixture(DEMO, out, MINUTES, seed=5, command="test")
    return rec, out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 9), ("b", 9), ("c", 10)):
        make_fixture(DEMO, tmp_path / name, 1.5, seed=seed, command="test")
        runs[name] = {p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())}
    assert runs["a"] == runs["b"]
    assert runs["a"].keys() == runs["c"].keys()
    differing = [n for n in runs["a"] if runs["a"][n] != runs["c"][n]]
    assert "truth.jsonl" in differing and "cam-floor.tracks.jsonl" in differing


def test_every_feed_parses_with_the_agents_own_sources(recording: tuple[Recording, Path]) -> None:
    rec, out = recording
    config = load_config(out / "fixture.toml")
    kinds = {k for k in type(config.sources).model_fields if getattr(config.sources, k)}
    assert {"camera", "wifi", "rfid"} <= kinds
    context = SourceContext(
        replay=True, base_dir=str(out), store_zones=tuple(z.id for z in config.store.zones)
    )
    # The recorded tracks are not listed (the cameras are), but must replay too.
    tracks = [
        RecordedSource(RecordedSourceConfig(id=c.id, path=out / f"{c.id}.tracks.jsonl"), context)
        for c in rec.sim.cameras
    ]
    seen: dict[str, Counter[str]] = {}
    for source in [*build_sources(config.sources, context), *tracks]:
        counts: Counter[str] = Counter(
            type(o).__name__ for o in source.observations(threading.Event())
        )
        health = source.health()
        # No line, frame or read of a simulated feed may be rejected as malformed.
        rejected = ("skipped_lines", "malformed", "malformed_frames", "failed_frames")
        bad = {k: v for k, v in health.items() if k in rejected and v}
        assert not bad, f"{source.id}: {bad}"
        seen.setdefault(source.id, Counter()).update(counts)
        source.close()
    for cam in rec.sim.cameras:
        # Tracker tracks plus recorded tracks, both present.
        assert seen[cam.id]["TrackPoint"] > 0 and seen[cam.id]["TrackEnd"] > 1
    assert sum(seen[s.id]["DeviceSighting"] for s in rec.sim.wifi) > 0
    assert sum(seen[r.id]["ItemEvent"] for r in rec.sim.rfid) > 0


def test_detection_boxes_stand_on_the_true_floor_positions(
    recording: tuple[Recording, Path],
) -> None:
    rec, out = recording
    cam = rec.sim.cameras[1]
    h = Homography.fit(cam.floor_points, cam.image_points)
    lines = (out / f"{cam.id}.detections.jsonl").read_text().splitlines()
    assert len(lines) == int(MINUTES * 60 * cam.fps)
    frames = [json.loads(line) for line in lines]
    assert [f["frame"] for f in frames] == list(range(len(frames)))
    # The camera's clock is a little off, as real ones are, and steady.
    skew = frames[0]["t"] - rec.start
    assert abs(skew) <= rec.calibration.clock_skew_s
    assert frames[-1]["t"] == pytest.approx(rec.start + skew + (len(frames) - 1) / cam.fps)
    # Every true position in view should have a detected box whose feet map back to
    # within half a metre, most of the time (misses and occlusion are allowed).
    matched = total = 0
    for traj in rec.walk.trajectories.values():
        for t, x, y in zip(traj.t[::25], traj.x[::25], traj.y[::25], strict=True):
            frame = round(t * cam.fps)
            if frame >= len(frames):
                continue
            u, v = h.to_image(x, y)
            if not (0 <= u < cam.width and 0 <= v < cam.height):
                continue
            total += 1
            feet = [h.to_floor((b[0] + b[2]) / 2, b[3]) for b in frames[frame]["boxes"]]
            if any(abs(fx - x) < 0.5 and abs(fy - y) < 0.5 for fx, fy in feet):
                matched += 1
    assert total > 50
    assert 0.6 < matched / total < 0.99  # a detector misses some, never all


def test_purchases_and_picks_in_truth_show_in_the_rfid_reads(
    recording: tuple[Recording, Path],
) -> None:
    rec, out = recording
    reader = rec.sim.rfid[0]
    port_zone = {a.port: a.zone for a in reader.antennas}
    reads: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in (out / f"{reader.id}.rfid.jsonl").read_text().splitlines()[1:]:
        event = json.loads(line)
        reads[event["data"]["idHex"]].append(
            (event["timestamp"], port_zone[event["data"]["antenna"]])
        )
    truth = [json.loads(line) for line in (out / "truth.jsonl").read_text().splitlines()]
    people = [r for r in truth if r["type"] == "person"]
    actions = [(p, i) for p in people for i in p["items"]]
    assert any(i["action"] == "picked" for _, i in actions)
    checkout_zones = {z.id for z in rec.agent.store.zones if z.kind == "checkout"}
    for person, item in actions:
        epc = rec.catalogue.items[item["item"]].epc
        zones = {zone for _, zone in reads[epc]}
        assert rec.catalogue.items[item["item"]].product.zone in zones
        if item["action"] == "purchased":
            assert zones & checkout_zones, "a bought item must be read at the checkout"
            assert person["kind"] == "shopper"


def test_truth_and_catalogue_carry_no_identifiers(recording: tuple[Recording, Path]) -> None:
    rec, out = recording
    epcs = {i.epc.lower() for i in rec.catalogue.items}
    texts = {
        name: (out / name).read_text().lower()
        for name in ("truth.jsonl", "fixture.toml", CATALOGUE_FILE)
    }
    for name, text in texts.items():
        leaked = [e for e in epcs if e in text]
        assert not leaked, f"{name} holds EPCs"
    # The MACs the phones used are in the captures (raw input), never in the truth.
    macs = set()
    for sensor in rec.sim.wifi:
        raw = gzip.decompress((out / f"{sensor.id}.pcap.gz").read_bytes())
        for offset in range(len(raw) - 16):
            if raw[offset : offset + 2] == b"\x40\x00":  # probe request frame control
                macs.add(raw[offset + 10 : offset + 16].hex())
    assert macs
    truth = texts["truth.jsonl"]
    assert not [
        m for m in macs if m in truth or ":".join(m[i : i + 2] for i in range(0, 12, 2)) in truth
    ]


def test_people_of_every_kind_go_where_they_should(recording: tuple[Recording, Path]) -> None:
    rec, _ = recording
    assert {p.kind for p in rec.people} >= {"shopper", "staff", "passerby"}
    shoppers = [p for p in rec.people if p.kind == "shopper"]
    assert shoppers and all(p.labels for p in shoppers)
    # Passers-by never set foot in a store zone; shoppers all do.
    for p in rec.people:
        traj = rec.walk.trajectories.get(p.pid)
        if traj is None or traj.left is None:
            continue  # still on the way when the recording ended
        inside = any(rec.layout.zone_at(x, y) for x, y in zip(traj.x, traj.y, strict=True))
        assert inside == (p.kind != "passerby"), p.kind


def test_wifi_captures_rotate_random_macs_and_count_sequence_numbers(
    recording: tuple[Recording, Path],
) -> None:
    rec, out = recording
    probes = 0
    local = 0
    backwards = 0
    for sensor in rec.sim.wifi:
        # Per transmitter and frame kind: QoS data keeps its own per-TID counter.
        last_seq: dict[tuple[bytes, str], tuple[float, int]] = {}
        raw = io.BytesIO(gzip.decompress((out / f"{sensor.id}.pcap.gz").read_bytes()))
        reader = CaptureReader(raw, sensor.id)
        decoder = Decoder()
        for _, t, _, data in reader.packets():
            frame = decoder.decode(data)
            if frame is None:
                continue
            assert frame.channel == sensor.channel and frame.rssi is not None
            assert rec.calibration.sensitivity_dbm <= frame.rssi < 0
            if frame.kind == "probe":
                probes += 1
                local += bool(frame.address[0] & 0x02)
            previous = last_seq.get((frame.address, frame.kind))
            if previous is not None and (frame.seq - previous[1]) % 4096 > 2048:
                backwards += 1
            last_seq[(frame.address, frame.kind)] = (t, frame.seq)
        assert reader.error is None
    assert probes > 20
    # Most phones probe from random addresses (calibration: 80 % of phones).
    assert 0.5 < local / probes < 0.98
    # Sequence counters only run forwards per address (each sensor hears a subset).
    assert backwards == 0


def test_companions_walk_with_their_shopper(tmp_path: Path) -> None:
    _, agent, sim = load_store(DEMO)
    # Everyone shops for children here, so families are common.
    sim = sim.model_copy(update={"arrivals_per_hour": 300.0})
    cal = replace(DEFAULT, set_rates=(("childrens", 1.0),), family_group=1.0)
    rec = simulate(agent, sim, 3.0, seed=2, cal=cal)
    companions = [p for p in rec.people if p.kind == "companion"]
    assert len(companions) >= 3
    checked = 0
    for c in companions:
        assert c.leader is not None
        mine, theirs = rec.walk.trajectories[c.pid], rec.walk.trajectories[c.leader.pid]
        gaps = [
            float(
                np.hypot(x - np.interp(t, theirs.t, theirs.x), y - np.interp(t, theirs.t, theirs.y))
            )
            for t, x, y in zip(mine.t, mine.x, mine.y, strict=True)
            if theirs.t[0] <= t <= theirs.t[-1]
        ]
        if len(gaps) > 100:
            checked += 1
            assert float(np.median(gaps)) < 2.5  # a step or two behind, in a crowd
        if theirs.left is not None:
            assert mine.left is not None and mine.left - theirs.left < 30.0
    assert checked >= 2


FIELD_CHECK = """
[[sources.camera]]
id = "cam-floor"
url = "rtsp://agent:${CAM_PASSWORD}@10.0.0.21:554/stream1"
fps = 4
calibration = [
  { image = [0, 720], floor = [3, 0] },
  { image = [1280, 720], floor = [20.5, 0] },
  { image = [1130, 60], floor = [20.5, 12.5] },
  { image = [150, 60], floor = [3, 12.5] },
]
lines = [{ id = "door", start = [3.0, 1.0], end = [3.0, 3.0] }]

[[sources.wifi]]
id = "wifi-till"
interface = "mon0"
zone = "checkout"
position = [17.0, 1.5]

[[sources.rfid]]
id = "rfid-floor"
protocol = "zebra_mqtt"
catalogue = "their-catalogue.csv"
mqtt = { host = "127.0.0.1", topic = "zebra/fx9600/data" }
antennas = [
  { port = 1, zone = "aisle-1", role = "shelf" },
  { port = 2, zone = "fitting-rooms", role = "fitting_room" },
  { port = 3, zone = "checkout", role = "checkout" },
]

[mqtt]
host = "broker.example.internal"
"""


def test_a_field_engineers_own_sensors_are_simulated_with_their_settings(tmp_path: Path) -> None:
    text = DEMO.read_text()
    # Their config: the demo's floor and stock, but no sensors in [simulation]; the
    # sensors are the [[sources.*]] they are about to install.
    text = text[: text.index("[[simulation.cameras]]")]
    head, simulation = text.split("\n[simulation]\n")
    store = tmp_path / "store.toml"
    store.write_text(head + FIELD_CHECK + "\n[simulation]\n" + simulation)
    (tmp_path / "their-catalogue.csv").write_text("gtin,category,price_tier,promo\n")
    out = tmp_path / "fixture"
    rec, _ = make_fixture(store, out, 2.0, seed=3, command="test")
    assert [c.id for c in rec.sim.cameras] == ["cam-floor"]
    assert [s.id for s in rec.sim.wifi] == ["wifi-till"]
    assert [r.id for r in rec.sim.rfid] == ["rfid-floor"]

    config = load_config(out / "fixture.toml")
    (camera,) = config.sources.camera
    assert camera.detections is not None and camera.url is None
    assert camera.fps == 4 and [line.id for line in camera.lines] == ["door"]
    (wifi,) = config.sources.wifi
    assert wifi.path is not None and wifi.interface is None and wifi.zone == "checkout"
    (reader,) = config.sources.rfid
    assert reader.protocol == "recorded"
    assert [(a.port, a.role) for a in reader.antennas] == [
        (1, "shelf"),
        (2, "fitting_room"),
        (3, "checkout"),
    ]
    assert reader.catalogue is not None and reader.catalogue.name == "catalogue.csv"
    assert config.mqtt is None  # a fixture replays to the console

    context = SourceContext(
        replay=True, base_dir=str(out), store_zones=tuple(z.id for z in config.store.zones)
    )
    for source in build_sources(config.sources, context):
        assert any(True for _ in source.observations(threading.Event())), source.id
        source.close()
