"""Building the paho client from config, the status payload, and the reconnect backoff.

Kept apart from the publisher loop so that tests and the benchmark can build a
client exactly as the agent does, and so that the loop reads as one thing.
"""

from __future__ import annotations

import json
import logging
import os
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent import __version__
from agent.publish.config import MqttConfig

StatusState = Literal["online", "stopped", "offline"]

PAHO_HEADROOM = 2
"""Slots in paho's own queue beyond the handed-over events: the retained status
message and one spare, so a status publish never fails because events fill it."""

HANDOFF_WINDOWS = 2
"""Rows handed to paho, in in-flight windows: paho sends the next one the moment a
PUBACK frees a slot, so the wire stays busy between two passes of the publisher
loop. Two windows keep paho's own queue small while not starving the window."""

FAILURE_REMINDER_S = 600.0
"""While connecting keeps failing, the error is repeated this often (store IT reading
the journal an hour into an outage should still see it), not on every attempt."""

BACKOFF_BASE_S = 0.5
"""First reconnect delay ceiling: short, because most outages are a broker restart."""

EVENT_CONTENT_TYPE = "application/cloudevents+json"
"""MQTT 5 Content Type of structured-mode CloudEvents (CloudEvents MQTT binding)."""


@dataclass(frozen=True)
class Topics:
    """The topic root ``{prefix}/{store_id}/{gateway_id}`` and the topics under it."""

    root: str

    @classmethod
    def of(cls, config: MqttConfig, store_id: str, gateway_id: str) -> Topics:
        return cls(f"{config.topic_prefix.rstrip('/')}/{store_id}/{gateway_id}")

    @property
    def status(self) -> str:
        return f"{self.root}/status"

    def event(self, suffix: str) -> str:
        return f"{self.root}/{suffix}"


def utc_now_iso(clock: Callable[[], float] = time.time) -> str:
    """The time as RFC 3339 UTC with seconds, as in the events' ``time`` field."""
    return datetime.fromtimestamp(clock(), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_payload(
    state: StatusState,
    models: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> bytes:
    """The retained status message: small, stable JSON documented in docs/mqtt.md.

    Example:
        >>> json.loads(status_payload("online", clock=lambda: 0))["time"]
        '1970-01-01T00:00:00Z'
    """
    body = {
        "state": state,
        "agent_version": __version__,
        "models": dict(models or {}),
        "time": utc_now_iso(clock),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def publish_properties(config: MqttConfig, content_type: str) -> Properties | None:
    """MQTT 5 PUBLISH properties naming the payload's content type (None for 3.1.1)."""
    if config.protocol != "5":
        return None
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = content_type
    return props


def credentials(config: MqttConfig, environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """(username, password) from config and the environment; empty when unset."""
    username = config.username or environ.get(config.username_env, "")
    return username, environ.get(config.password_env, "")


def build_client(
    config: MqttConfig,
    client_id: str,
    environ: Mapping[str, str] = os.environ,
) -> mqtt.Client:
    """A paho client set up from config: protocol, TLS, login, small in-memory queue.

    The will is set by the publisher before each connect (its payload carries a time).
    """
    v5 = config.protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        # 3.1.1: no broker session; the outbox, not the broker, holds what is unsent.
        clean_session=None if v5 else True,
    )
    # paho's queue is unbounded by default; the outbox is the backlog, so paho only
    # ever holds the in-flight window.
    client.max_inflight_messages_set(config.max_inflight)
    client.max_queued_messages_set(HANDOFF_WINDOWS * config.max_inflight + PAHO_HEADROOM)
    username, password = credentials(config, environ)
    if username:
        client.username_pw_set(username, password or None)
    if config.tls is not None:
        tls = config.tls
        try:
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        except (OSError, ssl.SSLError) as e:
            files = ", ".join(str(f) for f in (tls.ca_file, tls.cert_file, tls.key_file) if f)
            raise TlsSetupError(f"mqtt.tls: cannot load {files or 'the system CAs'}: {e}") from None
    return client


class TlsSetupError(ValueError):
    """A TLS file is unreadable or not a PEM certificate/key (one line, names the files)."""


def default_client_id(store_id: str, gateway_id: str) -> str:
    return f"edge-agent-{store_id}-{gateway_id}"


class Backoff:
    """Exponential reconnect delays with full jitter: uniform(0, min(cap, base * 2**n)).

    Full jitter spreads the reconnects of many gateways after a broker restart
    instead of having them all knock at the same instants.

    Example:
        >>> b = Backoff(cap_s=4, rng=random.Random(1))
        >>> all(0 <= b.next_delay() <= 4 for _ in range(10))
        True
    """

    def __init__(
        self, cap_s: float, base_s: float = BACKOFF_BASE_S, rng: random.Random | None = None
    ) -> None:
        self.cap_s = cap_s
        self.base_s = min(base_s, cap_s)
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        # The exponent is capped so 2**n cannot grow without bound over a long outage.
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        self._attempt = 0


def describe_connect_error(error: BaseException) -> str:
    """One line saying why a connection attempt failed, without secrets."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: the broker's certificate was not accepted: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake failed: {error.reason or error}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the broker running on that port?)"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError):
        return error.strerror or str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"


class ConnectFailures:
    """Failed connection attempts: one log line per series, a reminder while it lasts.

    Reasons can alternate within one outage (a TLS alert or a bare EOF, depending
    on timing), so a changed reason alone does not earn another line.
    """

    def __init__(
        self, broker: str, log: logging.Logger, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.broker = broker
        self.count = 0
        self._log = log
        self._clock = clock
        self._last_line = 0.0

    def failed(self, reason: str, queued: int) -> None:
        self.count += 1
        now = self._clock()
        if self.count == 1:
            self._log.error(
                "cannot connect to MQTT broker %s: %s; retrying with backoff, "
                "%d events stay queued",
                self.broker,
                reason,
                queued,
            )
            self._last_line = now
        elif now - self._last_line >= FAILURE_REMINDER_S:
            self._log.error(
                "still cannot connect to MQTT broker %s after %d attempts: %s; %d events queued",
                self.broker,
                self.count,
                reason,
                queued,
            )
            self._last_line = now
        else:
            self._log.debug("connect attempt %d failed again: %s", self.count, reason)

    def connected(self, queued: int) -> None:
        if self.count:
            self._log.info(
                "connected to %s after %d failed attempts; %d events queued",
                self.broker,
                self.count,
                queued,
            )
        else:
            self._log.info("connected to %s", self.broker)
        self.count = 0
