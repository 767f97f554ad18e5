"""Config of ``[[sources.rfid]]``: one table per reader, told apart by ``protocol``.

Example (TOML)::

    [[sources.rfid]]
    id = "rfid-floor"
    protocol = "zebra_mqtt"
    catalogue = "catalogue.csv"
    mqtt = { host = "127.0.0.1", topic = "zebra/fx9600/data" }
    antennas = [
      { port = 1, zone = "shelf-a", role = "shelf" },
      { port = 2, zone = "fitting", role = "fitting_room" },
      { port = 3, zone = "till", role = "checkout" },
    ]
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from agent.configbase import ID_PATTERN, ExistingPath, Model, first_repeat
from agent.sources.rfid.interactions import SWEEP_INTERVAL_S, Antenna, Role, Thresholds


class AntennaConfig(Model):
    port: int = Field(
        ge=1, le=65535, title="Antenna port", description="The reader's antenna port number."
    )
    zone: str = Field(
        title="Zone", description="Store zone id the antenna covers.", pattern=ID_PATTERN
    )
    role: Role = Field(
        title="Role",
        description="shelf, fitting_room, checkout or exit: what a tag resting here means.",
    )

    def antenna(self) -> Antenna:
        return Antenna(zone=self.zone, role=self.role)


class InteractionConfig(Model):
    """Tuning of the per-tag state machine; docs/rfid.md gives the reasons."""

    settle_reads: int = Field(
        default=4,
        ge=1,
        le=1000,
        title="Settle reads",
        description="Reads in one zone before that zone can claim a tag.",
    )
    settle_s: float = Field(
        default=2.0,
        ge=0,
        le=600,
        title="Settle time",
        description="Seconds those reads must span: an item resting, not carried past.",
    )
    return_settle_s: float = Field(
        default=20.0,
        ge=0,
        le=3600,
        title="Return settle time",
        description="Seconds a handled item must rest on a shelf before it counts as "
        "returned there (a shopper holding it while browsing that shelf is not a return).",
    )
    away_settle_s: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        title="Away settle time",
        description="Seconds a handled item must rest on a shelf in another zone than "
        "the one it was picked from before it counts as returned (left) there; shorter "
        "rests are a shopper browsing with it in hand or basket.",
    )
    miss_tolerance_s: float = Field(
        default=3.0,
        gt=0,
        le=600,
        title="Miss tolerance",
        description="Longest gap between reads of a tag that still counts as continuous.",
    )
    absent_after_s: float = Field(
        default=4.0,
        gt=0,
        le=600,
        title="Absent after",
        description="Silence in its zone after which a tag has left it (a pick); keep it "
        "below aggregation.reorder_s.",
    )
    hysteresis_db: float = Field(
        default=6.0,
        ge=0,
        le=60,
        title="Hysteresis",
        description="dB by which another zone must out-read the tag's current zone "
        "while that zone still hears it (rejects cross-reads).",
    )
    outage_gap_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        title="Outage gap",
        description="A gap with no read at all longer than this is a reader outage, "
        "not every tag leaving.",
    )
    tag_ttl_s: float = Field(
        default=1800.0,
        gt=0,
        le=7 * 86400,
        title="Tag time-to-live",
        description="A tag unread this long is forgotten.",
    )
    max_tags: int = Field(
        default=50_000,
        ge=10,
        le=10_000_000,
        title="Tag cap",
        description="Tags tracked at once; beyond it the least recently read is dropped "
        "and counted in health.",
    )

    def thresholds(self) -> Thresholds:
        return Thresholds(**self.model_dump())


class _ReaderBase(Model):
    id: str = Field(title="Source id", description="Unique id of this reader.", pattern=ID_PATTERN)
    antennas: list[AntennaConfig] = Field(
        default_factory=list,
        title="Antennas",
        description="Antenna port to zone and role; reads on unlisted ports are counted "
        "and skipped. A recorded file's header line may supply them instead.",
    )
    catalogue: ExistingPath | None = Field(
        default=None,
        title="Catalogue",
        description="CSV or SQLite file mapping GTIN to category, price tier and promo "
        "(relative to the config file); without it every product is 'unknown'.",
    )
    interactions: InteractionConfig = Field(
        default_factory=InteractionConfig,
        title="Interaction inference",
        description="Thresholds of the per-tag state machine.",
    )

    def max_lateness_s(self) -> float:
        """How far behind the newest read an item event's time can be: a pick is
        dated at the tag's last shelf read and known ``absent_after_s`` (plus one
        sweep) later."""
        return self.interactions.absent_after_s + SWEEP_INTERVAL_S

    @field_validator("antennas")
    @classmethod
    def _unique_ports(cls, value: list[AntennaConfig]) -> list[AntennaConfig]:
        repeated = first_repeat(a.port for a in value)
        if repeated is not None:
            raise ValueError(f"antenna port {repeated} is listed twice")
        return value


class ReaderTlsConfig(Model):
    ca_file: ExistingPath | None = Field(
        default=None,
        title="CA certificate",
        description="PEM file of the CA that signed the broker's certificate; "
        "none uses the system trust store.",
    )
    cert_file: ExistingPath | None = Field(
        default=None,
        title="Client certificate",
        description="PEM client certificate, for brokers that require one.",
    )
    key_file: ExistingPath | None = Field(
        default=None, title="Client key", description="PEM private key of the client certificate."
    )


class ReaderMqttConfig(Model):
    host: str = Field(title="Broker host", description="Broker the reader publishes to.")
    port: int = Field(
        default=1883, ge=1, le=65535, title="Broker port", description="1883 for plain MQTT."
    )
    topic: str = Field(
        title="Topic",
        description="Topic (wildcards allowed) the reader publishes tag data on.",
        min_length=1,
    )
    client_id: str | None = Field(
        default=None,
        title="Client id",
        description="MQTT client id; default edge-agent-rfid-{source id}.",
    )
    username_env: str | None = Field(
        default=None,
        title="Username variable",
        description="Environment variable holding the broker user name (unset: no login).",
    )
    password_env: str | None = Field(
        default=None,
        title="Password variable",
        description="Environment variable holding the broker password.",
    )
    keepalive_s: int = Field(
        default=30, ge=5, le=3600, title="Keepalive", description="Seconds between MQTT pings."
    )
    queue_size: int = Field(
        default=50_000,
        ge=100,
        le=10_000_000,
        title="Queue size",
        description="Messages held between the MQTT thread and the source; when full "
        "the oldest is dropped and counted.",
    )
    tls: ReaderTlsConfig | None = Field(
        default=None,
        title="TLS",
        description="Connect to the broker with TLS (port 8883 usually) when set.",
    )
    reconnect_max_s: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        title="Reconnect backoff cap",
        description="Reconnect delays double from 1 s up to this.",
    )


class RecordedReadsConfig(_ReaderBase):
    protocol: Literal["recorded"] = Field(
        title="Protocol", description="Recorded reads: Zebra/Impinj JSON, one event a line."
    )
    path: ExistingPath = Field(title="File", description="The JSON lines file of reads.")


class ZebraMqttConfig(_ReaderBase):
    protocol: Literal["zebra_mqtt"] = Field(
        title="Protocol", description="A Zebra reader's IoT Connector data events over MQTT."
    )
    mqtt: ReaderMqttConfig = Field(title="MQTT", description="Where the reader publishes.")


class ImpinjMqttConfig(_ReaderBase):
    protocol: Literal["impinj_mqtt"] = Field(
        title="Protocol", description="An Impinj reader's IoT interface events over MQTT."
    )
    mqtt: ReaderMqttConfig = Field(title="MQTT", description="Where the reader publishes.")


class LlrpConfig(_ReaderBase):
    protocol: Literal["llrp"] = Field(
        title="Protocol", description="An LLRP reader (needs the 'llrp' extra, sllurp)."
    )
    host: str = Field(title="Reader host", description="Host name or address of the reader.")
    port: int = Field(
        default=5084,
        ge=1,
        le=65535,
        title="Reader port",
        description="LLRP TCP port (5084 is the IANA-assigned one).",
    )
    keepalive_s: float = Field(
        default=10.0,
        ge=1,
        le=600,
        title="Keepalive",
        description="The reader is asked for an LLRP KEEPALIVE this often; silence for "
        "three periods means the link is dead (a reader that lost power sends no FIN) "
        "and it is reconnected.",
    )
    reconnect_max_s: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        title="Reconnect backoff cap",
        description="Reconnect delays double from 1 s up to this.",
    )

    @model_validator(mode="after")
    def _extra_installed(self) -> LlrpConfig:
        # sllurp is GPL-3.0 and optional: say how to get it instead of failing at start.
        if importlib.util.find_spec("sllurp") is None:
            raise ValueError(
                "protocol 'llrp' needs the optional 'llrp' extra: pip install 'edge-agent[llrp]'"
            )
        return self


RfidSourceConfig = Annotated[
    RecordedReadsConfig | ZebraMqttConfig | ImpinjMqttConfig | LlrpConfig,
    Field(discriminator="protocol"),
]
"""One RFID reader; ``protocol`` picks the feed."""
