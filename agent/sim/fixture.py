"""Write a simulated recording as a fixture directory ``edge-agent replay`` accepts.

Files (names relative to the directory):

- ``fixture.toml``: the store's agent config with sources that read the feeds below;
- ``<camera>.detections.jsonl``: the detection layer per camera;
- ``<camera>.tracks.jsonl``: the same walks as recorded track points;
- ``<camera>.avi`` (with ``--video`` only): the rendered view, for the blob detector;
- ``<sensor>.pcap.gz``: a radiotap 802.11 capture per Wi-Fi sensor;
- ``<reader>.rfid.jsonl``: Zebra IoT Connector reads per RFID reader;
- ``catalogue.csv``: the generated products (GTIN, category, tier, promo);
- ``truth.jsonl``: what really happened (never read by the agent).

Sources are listed in ``fixture.toml`` only for the kinds this agent's config knows,
so the fixture always validates; the feeds are written whatever the agent reads.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.config import AgentConfig, ConfigError, SourcesConfig, describe_errors, parse_config
from agent.sim.calibration import DEFAULT, Calibration
from agent.sim.config import SIMULATION_TABLE, CameraSim, SimulationConfig
from agent.sim.homography import Homography, HomographyError
from agent.sim.layout import LayoutError, StoreLayout
from agent.sim.render_camera import track_lines
from agent.sim.render_detections import detection_lines
from agent.sim.render_rfid import CATALOGUE_FILE, reader_lines
from agent.sim.render_wifi import emissions, pcap_gz, sensor_packets
from agent.sim.scenario import Recording, simulate
from agent.sim.sensors import feed_fields, with_agent_sensors
from agent.sim.tomlwrite import dumps
from agent.sim.truth import truth_lines

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

FIXTURE_FILE = "fixture.toml"
TRUTH_FILE = "truth.jsonl"
VIDEO_SUFFIX = ".avi"
DROPPED_TABLES = (SIMULATION_TABLE, "sources", "mqtt", "outbox")
"""A fixture replays to the console: no broker, no outbox, and its own sources."""


def load_store(path: Path) -> tuple[dict[str, Any], AgentConfig, SimulationConfig]:
    """The raw TOML, the agent config and the simulation table of a store file.

    Raises:
        ConfigError: one line per problem, naming the file and the field.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror or e}"]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"{path}: not UTF-8 text at byte {e.start}"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{path}: not valid TOML: {e}"]) from None
    table = data.pop(SIMULATION_TABLE, None)
    if table is None:
        raise ConfigError(
            [
                f"{path}: no [{SIMULATION_TABLE}] table: the simulator needs the "
                "walls, stock and sensors (see agent/sim/README.md)"
            ]
        )
    lines: list[str] = []
    try:
        sim = SimulationConfig.model_validate(table)
    except ValidationError as e:
        lines += describe_errors(e, f"{path}: {SIMULATION_TABLE}")
    try:
        agent = parse_config(data, base_dir=path.resolve().parent, name=str(path))
    except ConfigError as e:
        lines += e.lines
    if lines:
        raise ConfigError(lines)
    sim = with_agent_sensors(agent, sim)
    lines = [f"{path}: {SIMULATION_TABLE}: {problem}" for problem in layout_problems(agent, sim)]
    if lines:
        raise ConfigError(lines)
    return data, agent, sim


def layout_problems(agent: AgentConfig, sim: SimulationConfig) -> list[str]:
    """What makes a valid-looking simulation table unusable, one line each."""
    problems: list[str] = []
    try:
        StoreLayout(agent, sim)
    except LayoutError as e:
        problems.append(str(e))
    zones = {z.id for z in agent.store.zones}
    for n, cam in enumerate(sim.cameras):
        try:
            Homography.fit(cam.floor_points, cam.image_points)
        except HomographyError as e:
            problems.append(f"cameras[{n}]: {e}")
    for n, sensor in enumerate(sim.wifi):
        if sensor.zone not in zones:
            problems.append(f"wifi[{n}].zone: '{sensor.zone}' is not in store.zones")
    for n, reader in enumerate(sim.rfid):
        for m, antenna in enumerate(reader.antennas):
            if antenna.zone not in zones:
                problems.append(
                    f"rfid[{n}].antennas[{m}].zone: '{antenna.zone}' is not in store.zones"
                )
    ids = [c.id for c in sim.cameras] + [s.id for s in sim.wifi] + [r.id for r in sim.rfid]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"sensor id '{dup}' is used twice")
    return problems


def _camera(rec: Recording, cam: CameraSim, video: bool) -> dict[str, Any]:
    # The detection layer (or the video) goes through the agent's own tracker.
    feed: dict[str, Any] = (
        {"url": f"{cam.id}{VIDEO_SUFFIX}", "start": rec.sim.start}
        if video
        else {"detections": f"{cam.id}.detections.jsonl"}
    )
    entry: dict[str, Any] = {"id": cam.id, **feed, "fps": cam.fps}
    if video:
        entry["detector"] = {"type": "blob"}
    entry["calibration"] = [
        {"image": list(i), "floor": list(f)}
        for i, f in zip(cam.image_points, cam.floor_points, strict=True)
    ]
    return entry


def _user_sources(raw: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The store file's own ``[[sources.KIND]]`` entries by id (a field check's sensors)."""
    entries = raw.get("sources", {}).get(kind, [])
    return {e["id"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}


def _sources(
    rec: Recording, video: bool = False, raw: dict[str, Any] | None = None
) -> dict[str, list[dict[str, Any]]]:
    kinds = set(SourcesConfig.model_fields)
    raw = raw or {}
    sources: dict[str, list[dict[str, Any]]] = {}
    if "camera" in kinds:
        mine = _user_sources(raw, "camera")
        sources["camera"] = []
        for c in rec.sim.cameras:
            if c.id in mine:  # keep the store's tracker, lines, rate; swap the feed
                entry = feed_fields("camera", mine[c.id], f"{c.id}.detections.jsonl")
                if video:
                    del entry["detections"]
                    entry.update(_camera(rec, c, video=True))
                    entry["calibration"] = mine[c.id]["calibration"]
            else:
                entry = _camera(rec, c, video)
            sources["camera"].append(entry)
    elif "recorded" in kinds:  # no camera source: replay the walks as recorded tracks
        sources["recorded"] = [
            {"id": c.id, "path": f"{c.id}.tracks.jsonl", "sensors": ["camera"]}
            for c in rec.sim.cameras
        ]
    if "wifi" in kinds:
        mine = _user_sources(raw, "wifi")
        sources["wifi"] = [
            feed_fields("wifi", mine[s.id], f"{s.id}.pcap.gz")
            if s.id in mine
            else {
                "id": s.id,
                "path": f"{s.id}.pcap.gz",
                "zone": s.zone,
                "position": list(s.position),
            }
            for s in rec.sim.wifi
        ]
    if "rfid" in kinds:
        mine = _user_sources(raw, "rfid")
        sources["rfid"] = [
            feed_fields("rfid", mine.get(r.id, {"id": r.id}), f"{r.id}.rfid.jsonl")
            for r in rec.sim.rfid
        ]
    return {k: v for k, v in sources.items() if v}


def fixture_toml(raw: dict[str, Any], rec: Recording, command: str, video: bool = False) -> str:
    config = {k: v for k, v in raw.items() if k not in DROPPED_TABLES}
    config["sources"] = _sources(rec, video, raw)
    head = (
        f"# Simulated recording of store '{rec.agent.store.id}': {rec.duration_s / 60:g} "
        f"minutes, seed {rec.seed}.\n# Made by: {command}\n"
        "# The same command makes the same bytes; truth.jsonl says what really happened.\n"
        "# <camera>.tracks.jsonl hold the same walks as recorded tracks: list them as\n"
        "# [[sources.recorded]] instead of the cameras to replay without the tracker.\n\n"
    )
    return head + dumps(config)


def write_fixture(
    raw: dict[str, Any],
    rec: Recording,
    out: Path,
    command: str,
    on_progress: Callable[[float], None] | None = None,
    video: bool = False,
) -> list[Path]:
    """Render every feed of ``rec`` into ``out``; returns the files written.

    With ``video`` each camera also gets a rendered video, and the fixture's cameras
    read those (motion-blob detector) instead of the detection layer.
    """
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: str | bytes) -> None:
        path = out / name
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        written.append(path)

    steps = len(rec.sim.cameras) * (3 if video else 2) + len(rec.sim.wifi) + len(rec.sim.rfid) + 2
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done / steps)

    put(CATALOGUE_FILE, rec.catalogue.csv())
    for n, cam in enumerate(rec.sim.cameras):
        put(f"{cam.id}.detections.jsonl", _joined(detection_lines(rec, cam, n)))
        tick()
        put(f"{cam.id}.tracks.jsonl", _joined(track_lines(rec, cam, n)))
        tick()
        if video:
            from agent.sim.render_video import write_video

            write_video(rec, cam, n, out / f"{cam.id}{VIDEO_SUFFIX}")
            written.append(out / f"{cam.id}{VIDEO_SUFFIX}")
            tick()
    frames = emissions(rec) if rec.sim.wifi else []
    for n, sensor in enumerate(rec.sim.wifi):
        put(f"{sensor.id}.pcap.gz", pcap_gz(sensor_packets(rec, sensor, n, frames)))
        tick()
    for n, reader in enumerate(rec.sim.rfid):
        put(f"{reader.id}.rfid.jsonl", _joined(reader_lines(rec, reader, n)))
        tick()
    put(TRUTH_FILE, _joined(truth_lines(rec)))
    tick()
    put(FIXTURE_FILE, fixture_toml(raw, rec, command, video))
    tick()
    return written


def _joined(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def make_fixture(
    store: Path,
    out: Path,
    minutes: float,
    seed: int,
    command: str,
    cal: Calibration = DEFAULT,
    on_progress: Callable[[str, float], None] | None = None,
    video: bool = False,
) -> tuple[Recording, list[Path]]:
    """Load a store file, simulate it and write the fixture directory."""
    raw, agent, sim = load_store(store)

    def walked(f: float) -> None:
        if on_progress is not None:
            on_progress("walking", f)

    def rendered(f: float) -> None:
        if on_progress is not None:
            on_progress("rendering", f)

    rec = simulate(agent, sim, minutes, seed, cal, on_progress=walked)
    files = write_fixture(raw, rec, out, command, on_progress=rendered, video=video)
    # The written config must load as the agent will load it: fail here, not in replay.
    from agent.config import load_config

    load_config(out / FIXTURE_FILE)
    return rec, files
