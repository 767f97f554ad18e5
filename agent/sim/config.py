"""The ``[simulation]`` table of a store config: what the simulator needs beyond the agent's.

The agent's own config already names the store's zones, their kinds and polygons.
The simulator also needs the walls and shelves people walk around, what each zone
stocks, where the sensors hang and how busy the store is. That lives in one extra
table of the same TOML file, so a field engineer keeps one file per store; the
simulator strips it before validating the rest as an ``AgentConfig``.

Example:
    >>> cfg = SimulationConfig.model_validate(
    ...     {"walkable": [[[0, 0], [10, 0], [10, 8], [0, 8]]], "outside": [[0, -1], [10, -1]]}
    ... )
    >>> cfg.arrivals_per_hour
    120.0
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from agent.configbase import ID_PATTERN, Model

Point = tuple[float, float]
Polygon = list[Point]

SIMULATION_TABLE = "simulation"
"""The TOML table this module owns inside a store config."""


class ZoneStock(Model):
    zone: str = Field(title="Zone id", description="A zone of the store config.")
    categories: list[str] = Field(
        min_length=1,
        title="Categories",
        description="Product categories shelved in this zone (catalogue 'category' values).",
    )
    price_tier: str = Field(
        default="mid",
        title="Price tier",
        description="Tier of the products stocked here: budget, mid or premium.",
    )
    promo: bool = Field(
        default=False,
        title="Promotion",
        description="Products here are on promotion (bargain hunters seek them).",
    )
    products: int = Field(
        default=6,
        ge=1,
        le=200,
        title="Products",
        description="Distinct products (GTINs) stocked in this zone.",
    )
    units: int = Field(
        default=3,
        ge=1,
        le=50,
        title="Units per product",
        description="Tagged units of each product on the shelf when the recording starts.",
    )


class CameraSim(Model):
    id: str = Field(pattern=ID_PATTERN, title="Camera id", description="Source id of the camera.")
    width: int = Field(default=1280, ge=64, title="Width", description="Image width, pixels.")
    height: int = Field(default=720, ge=64, title="Height", description="Image height, pixels.")
    fps: float = Field(
        default=5.0,
        gt=0,
        le=30,
        title="Detection rate",
        description="Frames per second written to the detection layer.",
    )
    image_points: list[Point] = Field(
        min_length=4,
        title="Image points",
        description="Pixel positions [u, v] of floor marks, paired in order with floor_points.",
    )
    floor_points: list[Point] = Field(
        min_length=4,
        title="Floor points",
        description="Floor positions [x, y] in metres of the same marks.",
    )

    @model_validator(mode="after")
    def _paired(self) -> CameraSim:
        if len(self.image_points) != len(self.floor_points):
            raise ValueError(
                f"image_points has {len(self.image_points)} points but floor_points has "
                f"{len(self.floor_points)}; they are pairs"
            )
        return self


class WifiSensorSim(Model):
    id: str = Field(pattern=ID_PATTERN, title="Sensor id", description="Source id of the sensor.")
    zone: str = Field(title="Zone", description="The store zone the sensor covers.")
    position: Point = Field(title="Position", description="Floor position [x, y], metres.")
    channel: int = Field(
        default=6, ge=1, le=14, title="Channel", description="2.4 GHz channel it listens on."
    )


class AntennaSim(Model):
    port: int = Field(ge=1, le=32, title="Port", description="Reader antenna port number.")
    zone: str = Field(title="Zone", description="The zone this antenna watches.")
    position: Point = Field(title="Position", description="Floor position [x, y], metres.")
    range_m: float = Field(
        default=3.0, gt=0, le=15, title="Range", description="Nominal read range, metres."
    )


class RfidReaderSim(Model):
    id: str = Field(pattern=ID_PATTERN, title="Reader id", description="Source id of the reader.")
    antennas: list[AntennaSim] = Field(
        min_length=1, title="Antennas", description="Antennas wired to this reader."
    )


class SimulationConfig(Model):
    start: str = Field(
        default="2026-03-07T10:00:00Z",
        title="Start",
        description="UTC time the recording starts (ISO 8601 with Z).",
    )
    arrivals_per_hour: float = Field(
        default=120.0,
        gt=0,
        le=5000,
        title="Arrivals",
        description="Mean shopper arrivals per hour (a Poisson process).",
    )
    passersby_per_hour: float = Field(
        default=300.0,
        ge=0,
        le=20000,
        title="Passers-by",
        description="People per hour walking past outside the entrance without coming in.",
    )
    staff: int = Field(
        default=2, ge=0, le=50, title="Staff", description="Staff on the floor all recording."
    )
    walkable: list[Polygon] = Field(
        min_length=1,
        title="Walkable floor",
        description="Polygons whose union is the floor people walk on, the pavement "
        "outside the door included.",
    )
    obstacles: list[Polygon] = Field(
        default_factory=list,
        title="Obstacles",
        description="Shelves, racks and counters cut out of the walkable floor.",
    )
    outside: tuple[Point, Point] = Field(
        title="Pavement ends",
        description="Two points on the pavement outside, left and right of the door, where "
        "people appear and vanish.",
    )
    stock: list[ZoneStock] = Field(
        default_factory=list, title="Stock", description="What each selling zone shelves."
    )
    cameras: list[CameraSim] = Field(
        default_factory=list, title="Cameras", description="Cameras and their floor homography."
    )
    wifi: list[WifiSensorSim] = Field(
        default_factory=list, title="Wi-Fi sensors", description="Monitor-mode Wi-Fi sensors."
    )
    rfid: list[RfidReaderSim] = Field(
        default_factory=list, title="RFID readers", description="Fixed RFID readers."
    )
    track_hz: float = Field(
        default=1.0,
        gt=0,
        le=10,
        title="Track rate",
        description="Rate of the recorded track points written beside the detection layer.",
    )

    @field_validator("start")
    @classmethod
    def _utc(cls, value: str) -> str:
        if not value.endswith("Z"):
            raise ValueError("must be a UTC ISO 8601 time ending in Z")
        return value
