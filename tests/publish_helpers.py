"""Helpers for the MQTT publishing tests: a recording subscriber, events, waiting."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.publish.config import MqttConfig
from tests.conftest import Broker

STAY_USER = (
    # mosquitto started as root drops to the "mosquitto" user, which cannot read the
    # test's private tmp dir (persistence files, certificates, its own log).
    "user root\n" if os.geteuid() == 0 else ""
)

PERSISTENT_BROKER = STAY_USER + (
    # Subscriptions and queued QoS 1 messages survive a broker restart, so the
    # test subscriber misses nothing the agent delivered while it was away.
    "persistence true\n"
    "persistence_location {dir}/\n"
    "max_queued_messages 0\n"
    "max_inflight_messages 0\n"
)


def persistent_broker_config(broker: Broker) -> str:
    return PERSISTENT_BROKER.format(dir=broker.workdir)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    content_type: str | None

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """A real MQTT subscriber on its own paho client that records what it receives.

    ``persistent`` keeps the broker-side session (clean_session false), so that,
    with a persistent broker, messages published while it reconnects are queued.
    """

    def __init__(
        self,
        port: int,
        topic: str = "#",
        persistent: bool = False,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._topic = topic
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-sub-{port}",
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(1, 1)
        if login:
            self.client.username_pw_set(*login)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        props = None
        if persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.client.connect(
            "127.0.0.1", port, keepalive=10, clean_start=not persistent, properties=props
        )
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("test subscriber did not subscribe within 10 s")

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(self._topic, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        content_type = getattr(msg.properties, "ContentType", None) if msg.properties else None
        with self._lock:
            self.messages.append(
                Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, content_type)
            )

    def on(self, suffix: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith("/" + suffix)]

    def ids(self, suffix: str) -> list[str]:
        return [m.json()["id"] for m in self.on(suffix)]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def retained_status(port: int, topic: str, timeout_s: float = 5.0) -> dict[str, Any] | None:
    """Read the retained status as a fresh subscriber would (None when nothing is retained)."""
    got: list[bytes] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:
            got.append(bytes(msg.payload))
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        done.wait(timeout_s)
    finally:
        client.loop_stop()
        client.disconnect()
    return json.loads(got[-1]) if got else None


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


def make_event(n: int, kind: str = "traffic") -> dict[str, Any]:
    """A CloudEvents structured-mode event like the aggregator's, numbered ``n``."""
    return {
        "specversion": "1.0",
        "id": f"01TEST{kind[:4].upper()}{n:016d}",
        "source": "edge-agent/store-1/gw-1",
        "type": f"retail.{kind}.v1",
        "time": "2026-11-29T06:00:00Z",
        "dataschema": f"https://example.invalid/schemas/{kind}.v1.json",
        "data": {"zone": "entrance", "window_start": "2026-11-29T06:00:00Z", "n": n},
    }


def mqtt_config(port: int, **overrides: Any) -> MqttConfig:
    """A config for the test broker with a short reconnect ceiling (tests wait less)."""
    fields: dict[str, Any] = {"host": "127.0.0.1", "port": port, "reconnect_max_s": 0.5}
    fields.update(overrides)
    return MqttConfig(**fields)


def first_seen(ids: list[str]) -> list[str]:
    """The ids in order of first arrival (duplicates from resends removed)."""
    seen: set[str] = set()
    out = []
    for i in ids:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out
