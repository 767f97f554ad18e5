"""Config models of the MQTT sink and the outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from agent.configbase import ConfigPath, Model


class TlsConfig(Model):
    ca_file: ConfigPath | None = Field(
        default=None,
        title="CA certificate",
        description="PEM file of the CA that signed the broker's certificate; "
        "None uses the system trust store.",
    )
    cert_file: ConfigPath | None = Field(
        default=None,
        title="Client certificate",
        description="PEM client certificate, for brokers that require one.",
    )
    key_file: ConfigPath | None = Field(
        default=None, title="Client key", description="PEM private key of the client certificate."
    )

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


class MqttConfig(Model):
    host: str = Field(title="Broker host", description="Host name or address of the broker.")
    port: int = Field(
        default=1883,
        ge=1,
        le=65535,
        title="Broker port",
        description="1883 for plain MQTT, 8883 for MQTT over TLS.",
    )
    protocol: Literal["5", "3.1.1"] = Field(
        default="5", title="MQTT version", description="Protocol version spoken to the broker."
    )
    tls: TlsConfig | None = Field(
        default=None, title="TLS", description="Connect with TLS when set."
    )
    topic_prefix: str = Field(
        default="retail/v1",
        title="Topic prefix",
        description="Topics are {prefix}/{store_id}/{gateway_id}/{traffic|characteristics|...}.",
        pattern=r"^[^#+]+$",
    )
    client_id: str | None = Field(
        default=None,
        title="Client id",
        description="MQTT client id; default edge-agent-{store_id}-{gateway_id}.",
    )
    username: str | None = Field(
        default=None,
        title="Username",
        description="Broker user name; when unset, read from the variable named by username_env.",
    )
    username_env: str = Field(
        default="EDGE_AGENT_MQTT_USERNAME",
        title="Username variable",
        description="Environment variable holding the broker user name (unset: no login).",
    )
    password_env: str = Field(
        default="EDGE_AGENT_MQTT_PASSWORD",
        title="Password variable",
        description="Environment variable holding the broker password; never put it in the file.",
    )
    keepalive_s: int = Field(
        default=30,
        ge=5,
        le=3600,
        title="Keepalive",
        description="Seconds between pings; the broker sends the last will after 1.5x this.",
    )
    max_inflight: int = Field(
        default=20,
        ge=1,
        le=1000,
        title="Max in flight",
        description="QoS 1 messages sent but not yet acknowledged; paho's own queue is kept "
        "this small, the outbox holds the backlog.",
    )
    reconnect_max_s: float = Field(
        default=60.0,
        ge=0.1,
        le=3600,
        title="Longest reconnect delay",
        description="Reconnect delays grow exponentially up to this, with full jitter so that "
        "a store's gateways do not reconnect in step after a broker restart.",
    )


class OutboxConfig(Model):
    path: ConfigPath = Field(
        default=Path("outbox.db"),
        validate_default=True,
        title="Outbox file",
        description="SQLite file holding events until the broker acknowledges them.",
    )
    max_events: int = Field(
        default=100_000,
        ge=100,
        title="Capacity",
        description="Most events kept while the broker is unreachable.",
    )
    max_age_s: int = Field(
        default=7 * 86400,
        ge=60,
        title="Maximum age",
        description="Events older than this are dropped (counted) instead of sent.",
    )
    policy: Literal["drop_oldest", "reject_new"] = Field(
        default="drop_oldest",
        title="When full",
        description="Which events to drop when the outbox is full.",
    )
