"""The agent's configuration: one TOML file validated by strict pydantic models.

Unknown fields are errors, every field has a title and a description (they become
``docs/config.schema.json``), relative paths are taken from the config file's
directory, and secrets come from environment variables named in the file.

Example:
    >>> cfg = parse_config({"store": {"id": "s1", "gateway_id": "g1"}})
    >>> cfg.aggregation.window_s
    300
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from agent.behaviour.rules import DEFAULT_RULES, CharacteristicRule
from agent.configbase import ID_PATTERN, ConfigPath, Model, first_repeat
from agent.publish.config import MqttConfig, OutboxConfig
from agent.sources.camera.config import CameraSourceConfig
from agent.sources.recorded import RecordedSourceConfig
from agent.sources.rfid.config import RfidSourceConfig
from agent.sources.wifi.config import WifiSourceConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ZoneKind = Literal[
    "entrance",
    "exit",
    "aisle",
    "shelf",
    "promo",
    "clearance",
    "fitting_room",
    "checkout",
    "service",
    "other",
]
DOOR_KINDS = frozenset({"entrance", "exit"})
"""Zone kinds people come in and go out through."""


class Zone(Model):
    id: str = Field(
        title="Zone id",
        description="Unique id; appears in events and topics.",
        pattern=ID_PATTERN,
    )
    kind: ZoneKind = Field(
        title="Kind", description="What the zone is for; drives features and footfall."
    )
    polygon: list[tuple[float, float]] = Field(
        title="Floor polygon",
        description="Corners [x, y] in metres on the store floor plan, in order.",
        min_length=3,
    )

    @field_validator("polygon")
    @classmethod
    def _has_area(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        area2 = sum(
            x1 * y2 - x2 * y1
            for (x1, y1), (x2, y2) in zip(value, value[1:] + value[:1], strict=True)
        )
        if abs(area2) < 1e-9:
            raise ValueError("polygon has no area (corners in a line or repeated)")
        return value


class StoreConfig(Model):
    id: str = Field(
        title="Store id",
        description="Store identifier used in topics and events.",
        pattern=ID_PATTERN,
    )
    gateway_id: str = Field(
        title="Gateway id",
        description="This gateway's identifier within the store.",
        pattern=ID_PATTERN,
    )
    zones: list[Zone] = Field(
        default_factory=list,
        title="Zones",
        description="Floor zones; where they overlap, the first listed wins.",
    )

    @field_validator("zones")
    @classmethod
    def _unique_zone_ids(cls, value: list[Zone]) -> list[Zone]:
        repeated = first_repeat(z.id for z in value)
        if repeated is not None:
            raise ValueError(f"zone id '{repeated}' is used twice")
        return value


class SourcesConfig(Model):
    recorded: list[RecordedSourceConfig] = Field(
        default_factory=list,
        title="Recorded feeds",
        description="Anonymised observations recorded as JSON lines (fixtures, tests).",
    )
    rfid: list[RfidSourceConfig] = Field(
        default_factory=list,
        title="RFID readers",
        description="RFID readers (Zebra or Impinj over MQTT, LLRP, or recorded reads); "
        "'protocol' picks which. See docs/rfid.md.",
    )
    wifi: list[WifiSourceConfig] = Field(
        default_factory=list,
        title="Wi-Fi sensors",
        description="802.11 monitor-mode interfaces or radiotap captures; MACs are hashed "
        "at capture. See docs/wifi.md.",
    )
    camera: list[CameraSourceConfig] = Field(
        default_factory=list,
        title="Cameras",
        description="Video files, RTSP streams or USB cameras (or a simulated detection "
        "layer); persons become floor positions, no pixel leaves the camera. See docs/camera.md.",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> SourcesConfig:
        seen: set[str] = set()
        for kind in type(self).model_fields:
            for source in getattr(self, kind):
                if source.id in seen:
                    raise ValueError(f"source id '{source.id}' is used twice")
                seen.add(source.id)
        return self


class AggregationConfig(Model):
    window_s: int = Field(
        default=300,
        ge=10,
        le=86400,
        title="Window",
        description="Length of a counting window in seconds; windows align to UTC midnight, "
        "so it must divide 86400.",
    )
    reorder_s: float = Field(
        default=5.0,
        ge=0,
        le=600,
        title="Reorder allowance",
        description="How late (event time) an observation may arrive and still be used.",
    )
    visit_timeout_s: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        title="Visit timeout",
        description="A track unseen this long has left; windows are published this much "
        "later so its exit lands in the right one.",
    )
    zone_confirm_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        title="Zone confirmation",
        description="A person changes zone only after this long inside the new one, so "
        "jitter along a zone edge is not counted as entries.",
    )
    max_open_visits: int = Field(
        default=5000,
        ge=10,
        title="Open visit cap",
        description="Bound on visits held in memory; beyond it the stalest is closed "
        "and counted in health.",
    )

    @field_validator("window_s")
    @classmethod
    def _divides_day(cls, value: int) -> int:
        if 86400 % value:
            raise ValueError(f"must divide 86400 (a day) evenly, got {value}")
        return value


class PrivacyConfig(Model):
    k: int = Field(
        default=5,
        ge=2,
        le=1000,
        title="k",
        description="Any count from 1 to k-1 is published as null (k-anonymity threshold).",
    )
    epsilon: float | None = Field(
        default=None,
        gt=0,
        le=100,
        title="Epsilon",
        description="Differential-privacy budget per characteristics window: Laplace noise "
        "is added to every count (smaller: more noise). None: no noise.",
    )


class BehaviourConfig(Model):
    models_dir: ConfigPath | None = Field(
        default=None,
        title="Models directory",
        description="Directory with manifest.json and ONNX files; none: the models shipped "
        "with the agent. A model that fails its checks is refused and the shipped one used.",
    )
    characteristics: list[CharacteristicRule] = Field(
        default_factory=lambda: list(DEFAULT_RULES),
        title="Characteristic sets",
        description="Rules over handled items that define the sets counted in characteristics "
        "events; adding a set is a config change.",
    )

    @field_validator("characteristics")
    @classmethod
    def _unique_names(cls, value: list[CharacteristicRule]) -> list[CharacteristicRule]:
        repeated = first_repeat(r.name for r in value)
        if repeated is not None:
            raise ValueError(f"characteristic set '{repeated}' is defined twice")
        return value


class RuntimeConfig(Model):
    queue_size: int = Field(
        default=10_000,
        ge=10,
        title="Queue size",
        description="Per-source queue of observations in live mode; when full the oldest "
        "is dropped and counted.",
    )
    idle_after_s: float = Field(
        default=10.0,
        gt=0,
        title="Idle after",
        description="A live source silent this long (wall clock) stops holding back the "
        "watermark, so windows still close when nobody is in the store.",
    )
    health_interval_s: float = Field(
        default=60.0,
        ge=1,
        title="Health interval",
        description="Seconds between health events in live mode.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", title="Log level", description="Lowest level written to stderr."
    )


class AgentConfig(Model):
    store: StoreConfig = Field(title="Store", description="The store and its floor zones.")
    sources: SourcesConfig = Field(
        default_factory=SourcesConfig, title="Sources", description="Feeds, one list per kind."
    )
    mqtt: MqttConfig | None = Field(
        default=None,
        title="MQTT",
        description="Broker to publish to; without it events go to the console.",
    )
    outbox: OutboxConfig = Field(
        default_factory=OutboxConfig,
        title="Outbox",
        description="Durable queue between the aggregator and the broker.",
    )
    aggregation: AggregationConfig = Field(
        default_factory=AggregationConfig,
        title="Aggregation",
        description="Windows, lateness and visit timeouts.",
    )
    behaviour: BehaviourConfig = Field(
        default_factory=BehaviourConfig,
        title="Behaviour",
        description="Behaviour models and characteristic-set rules.",
    )
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig,
        title="Privacy",
        description="What is suppressed before anything leaves the agent.",
    )
    runtime: RuntimeConfig = Field(
        default_factory=RuntimeConfig,
        title="Runtime",
        description="Queues, health and logging.",
    )

    @model_validator(mode="after")
    def _reorder_covers_late_sources(self) -> AgentConfig:
        """A source whose observations arrive later than the reorder allowance would
        have them dropped as late, every time: refuse that config instead."""
        for kind in type(self.sources).model_fields:
            for i, source in enumerate(getattr(self.sources, kind)):
                lateness = getattr(source, "max_lateness_s", None)
                if lateness is not None and lateness() >= self.aggregation.reorder_s:
                    raise ValueError(
                        f"aggregation.reorder_s: {self.aggregation.reorder_s:g} s must exceed "
                        f"how late sources.{kind}[{i}] can deliver ({lateness():g} s)"
                    )
        return self


class ConfigError(Exception):
    """Config problems, one line each, ready to print."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def describe_errors(error: ValidationError, prefix: str) -> list[str]:
    """One line per problem: ``PREFIX: field.path: reason``."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        # Drop pydantic's function-name parts of union/validator locations.
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and "[" in p))
        message = str(item["msg"]).removeprefix("Value error, ")
        # Whole-config checks name their own field path at the start of the message.
        lines.append(f"{prefix}: {_location(loc)}: {message}" if loc else f"{prefix}: {message}")
    return lines


def parse_config(
    data: dict[str, Any], base_dir: Path | None = None, name: str = "config"
) -> AgentConfig:
    """Validate a decoded config mapping.

    Raises:
        ConfigError: one line per problem, each naming the field path.
    """
    try:
        return AgentConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as e:
        raise ConfigError(describe_errors(e, name)) from None


def load_config(path: Path) -> AgentConfig:
    """Read and validate a TOML config file.

    Raises:
        ConfigError: the file is missing, not TOML, or has invalid fields.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror or e}"]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"{path}: not UTF-8 text at byte {e.start}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{path}: not valid TOML: {e}"]) from None
    return parse_config(data, base_dir=path.resolve().parent, name=str(path))


def json_schema() -> str:
    """The JSON Schema of the config file, as committed in docs/config.schema.json."""
    schema = AgentConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "edge-agent configuration"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m agent.config > docs/config.schema.json
    sys.stdout.write(json_schema())
