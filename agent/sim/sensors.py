"""The store's own sensors, taken from its agent config, for a field engineer's check.

A field engineer simulates the configuration they are about to install: the
cameras (ids, rates, calibration), Wi-Fi sensors (zones, positions) and RFID
readers (antenna ports, zones, roles) come from the ``[[sources.*]]`` entries of
the same file, and the ``[simulation]`` table only adds what a config cannot know
(walls, stock, and where an antenna hangs when it says nothing). The fixture then
keeps every setting of those sources (tracker, presence thresholds, interaction
thresholds, entrance lines) and only points their feeds at the simulated files.

Example:
    >>> feed_fields("rfid", {"id": "r", "protocol": "zebra_mqtt", "mqtt": {}}, "r.jsonl")
    {'id': 'r', 'protocol': 'recorded', 'path': 'r.jsonl', 'catalogue': 'catalogue.csv'}
"""

from __future__ import annotations

import math
from typing import Any

from shapely.geometry import Polygon as ShapelyPolygon

from agent.config import AgentConfig
from agent.sim.config import AntennaSim, CameraSim, RfidReaderSim, SimulationConfig, WifiSensorSim
from agent.sim.render_rfid import CATALOGUE_FILE

DEFAULT_IMAGE = (1280, 720)
"""A camera config names calibration points, not its image size: assume 720p unless the
points lie beyond it."""
ANTENNA_RANGE_M = (1.5, 4.0)
"""An antenna placed at a zone's centre reads about half the zone's width, within this."""
FEED_FIELDS = {
    "camera": ("url", "detections", "start", "ffmpeg_options"),
    "wifi": ("path", "interface"),
    "rfid": ("path", "mqtt", "host", "port", "reconnect_max_s", "catalogue"),
}
"""Fields that say where a source's feed comes from; replaced by the simulated files."""


def _camera(source: Any) -> CameraSim:
    image = [tuple(p.image) for p in source.calibration]
    width = max(DEFAULT_IMAGE[0], math.ceil(max(u for u, _ in image)) + 1)
    height = max(DEFAULT_IMAGE[1], math.ceil(max(v for _, v in image)) + 1)
    return CameraSim.model_validate(
        {
            "id": source.id,
            "fps": min(source.fps, 30.0),
            "width": width,
            "height": height,
            "image_points": image,
            "floor_points": [tuple(p.floor) for p in source.calibration],
        }
    )


def _reader(source: Any, zones: dict[str, ShapelyPolygon]) -> RfidReaderSim:
    antennas = []
    for antenna in source.antennas:
        shape = zones[antenna.zone]
        centre = shape.representative_point()
        low, high = ANTENNA_RANGE_M
        reach = min(max(math.sqrt(shape.area) / 2, low), high)
        antennas.append(
            AntennaSim(
                port=antenna.port,
                zone=antenna.zone,
                position=(round(centre.x, 2), round(centre.y, 2)),
                range_m=round(reach, 2),
            )
        )
    return RfidReaderSim(id=source.id, antennas=antennas)


def with_agent_sensors(agent: AgentConfig, sim: SimulationConfig) -> SimulationConfig:
    """The simulation table plus every sensor of the agent's sources it does not list."""
    zones = {z.id: ShapelyPolygon(z.polygon) for z in agent.store.zones}
    sources = agent.sources
    cameras = list(sim.cameras)
    have = {c.id for c in cameras}
    cameras += [_camera(c) for c in getattr(sources, "camera", []) if c.id not in have]
    wifi = list(sim.wifi)
    have = {s.id for s in wifi}
    wifi += [
        WifiSensorSim(id=s.id, zone=s.zone, position=tuple(s.position))
        for s in getattr(sources, "wifi", [])
        if s.id not in have
    ]
    readers = list(sim.rfid)
    have = {r.id for r in readers}
    readers += [
        _reader(r, zones)
        for r in getattr(sources, "rfid", [])
        if r.id not in have and r.antennas and all(a.zone in zones for a in r.antennas)
    ]
    return sim.model_copy(update={"cameras": cameras, "wifi": wifi, "rfid": readers})


def feed_fields(kind: str, entry: dict[str, Any], feed: str) -> dict[str, Any]:
    """The user's source entry with its feed pointed at a simulated file."""
    kept = {k: v for k, v in entry.items() if k not in FEED_FIELDS.get(kind, ())}
    if kind == "camera":
        kept["detections"] = feed
    elif kind == "wifi":
        kept["path"] = feed
    elif kind == "rfid":
        kept["protocol"] = "recorded"
        kept["path"] = feed
        kept["catalogue"] = CATALOGUE_FILE
    return kept
