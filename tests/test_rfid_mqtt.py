"""Zebra and Impinj reader feeds over MQTT, through a real mosquitto (and its restart)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import parse_config
from agent.sources.base import SourceContext
from agent.sources.registry import build_sources
from agent.sources.rfid.source import RfidSource
from agent.sources.rfid.synth import ReadScript, impinj_event, sgtin96, zebra_event
from tests.conftest import Broker, free_port
from tests.publish_helpers import STAY_USER
from tests.publish_pki import make_pki, mosquitto_tls_config
from tests.source_runner import Runner

TOPIC = "store/rfid/fx9600/data"
SUIT = sgtin96("0614141", "812345", 274_877_906_011)
SHIRT = sgtin96("0614141", "812346", 274_877_906_012)
ANTENNAS = [
    {"port": 1, "zone": "shelf-a", "role": "shelf"},
    {"port": 2, "zone": "fitting", "role": "fitting_room"},
    {"port": 3, "zone": "till", "role": "checkout"},
]


def mqtt_source(broker: Broker, protocol: str, tls: dict[str, str] | None = None) -> RfidSource:
    cfg = parse_config(
        {
            "store": {"id": "s1", "gateway_id": "g1"},
            "sources": {
                "rfid": [
                    {
                        "id": "rfid-mqtt",
                        "protocol": protocol,
                        "antennas": ANTENNAS,
                        "mqtt": {
                            "host": "127.0.0.1",
                            "port": broker.port,
                            "topic": TOPIC,
                            "reconnect_max_s": 1,
                            **({"tls": tls} if tls else {}),
                        },
                    }
                ]
            },
        }
    )
    (source,) = build_sources(cfg.sources, SourceContext())
    assert isinstance(source, RfidSource)
    return source


class Publisher:
    """Plays the reader: publishes its events to the broker at QoS 1."""

    def __init__(self, broker: Broker, port: int | None = None) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id="fake-reader"
        )
        self.client.connect("127.0.0.1", port or broker.port)
        self.client.loop_start()

    def send(self, payloads: list[Any]) -> None:
        for payload in payloads:
            data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
            self.client.publish(TOPIC, data, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(broker: Broker) -> Iterator[Publisher]:
    p = Publisher(broker)
    yield p
    p.close()


def story(t0: float) -> tuple[list[Any], list[Any]]:
    """Reads of a suit taken from the shelf and bought, and a shirt tried on: two halves."""
    s = ReadScript(seed=31, rate_hz=3.0)
    s.stay(SHIRT, 1, t0, t0 + 60.0, rssi=-60.0)  # keeps the reader's clock moving
    s.stay(SUIT, 1, t0, t0 + 10.0)
    s.stay(SUIT, 3, t0 + 20.0, t0 + 30.0)
    reads = s.sorted_reads()
    first = [r for r in reads if r.t < t0 + 15.0]
    second = [r for r in reads if r.t >= t0 + 15.0]
    return first, second


def test_zebra_reads_over_mqtt_with_malformed_messages(
    broker: Broker, publisher: Publisher, caplog: pytest.LogCaptureFixture
) -> None:
    run = Runner(mqtt_source(broker, "zebra_mqtt"))
    try:
        run.wait(lambda: run.source.health()["state"] == "connected")
        first, second = story(time.time())
        with caplog.at_level(logging.WARNING):
            publisher.send([zebra_event(r) for r in first])
            publisher.send([b"\x00\xff not json", {"data": {"antenna": 1}}, "[1, 2"])
            publisher.send([[zebra_event(r) for r in second[:10]]])  # a batched message
            publisher.send([zebra_event(r) for r in second[10:]])
            run.wait(lambda: run.source.health()["reads"] == len(first) + len(second))
        assert [(e.action, e.zone) for e in run.events] == [
            ("picked", "shelf-a"),
            ("purchased", "till"),
        ]
        health = run.source.health()
        assert health["malformed"] == 3 and health["messages_dropped"] == 0
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "message" in logged and "not valid JSON" in logged
        assert SUIT.lower() not in logged.lower() and SUIT not in logged
    finally:
        run.close()


def test_impinj_reads_over_mqtt_survive_a_broker_restart(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    run = Runner(mqtt_source(broker, "impinj_mqtt"))
    try:
        run.wait(lambda: run.source.health()["state"] == "connected")
        first, second = story(time.time())
        publisher = Publisher(broker)
        publisher.send([impinj_event(r) for r in first])
        publisher.send(
            [
                {
                    "timestamp": "2024-01-01T00:00:00Z",
                    "eventType": "inventoryStatus",
                    "inventoryStatusEvent": {"inventoryStatus": "running"},
                }
            ]
        )
        run.wait(lambda: run.source.health()["reads"] == len(first))
        publisher.close()

        broker.stop(kill=True)  # the broker dies under the reader and the agent
        run.wait(lambda: run.source.health()["state"] == "reconnecting")
        time.sleep(1.5)  # a failed retry or two
        broker.start()
        run.wait(
            lambda: (
                run.source.health()["state"] == "connected" and run.source.health()["connects"] == 2
            )
        )

        publisher = Publisher(broker)  # subscribed again: the broker kept no session
        publisher.send([impinj_event(r) for r in second])
        publisher.close()
        run.wait(lambda: run.source.health()["reads"] == len(first) + len(second))
        assert [(e.action, e.zone) for e in run.events] == [
            ("picked", "shelf-a"),
            ("purchased", "till"),
        ]
        health = run.source.health()
        assert health["disconnects"] >= 1 and health["other_events"] == 1
        assert health["malformed"] == 0
    finally:
        run.close()


def test_unreachable_broker_is_retried_in_the_background(broker: Broker) -> None:
    source = mqtt_source(broker, "zebra_mqtt")
    broker.stop()
    run = Runner(source)
    try:
        time.sleep(1.0)
        assert source.health()["state"] in ("starting", "reconnecting")
        assert run.thread.is_alive()  # not fatal: the loop waits for the broker
        broker.start()
        run.wait(lambda: source.health()["state"] == "connected")
    finally:
        run.close()


def test_zebra_reads_over_mqtt_with_tls_and_a_client_certificate(tmp_path: Path) -> None:
    """The reader's broker speaks TLS only and wants a client certificate."""
    pki = make_pki(tmp_path / "pki")
    plain = free_port()  # where the fake reader publishes
    broker = Broker(port=free_port(), workdir=tmp_path)
    broker.extra_config = STAY_USER + mosquitto_tls_config(pki) + f"listener {plain} 127.0.0.1\n"
    broker.start()
    tls = {
        "ca_file": str(pki.ca),
        "cert_file": str(pki.client_cert),
        "key_file": str(pki.client_key),
    }
    run = Runner(mqtt_source(broker, "zebra_mqtt", tls=tls))
    try:
        run.wait(lambda: run.source.health()["state"] == "connected")
        first, second = story(time.time())
        publisher = Publisher(broker, port=plain)
        publisher.send([zebra_event(r) for r in first + second])
        publisher.close()
        run.wait(lambda: run.source.health()["reads"] == len(first) + len(second))
        assert [(e.action, e.zone) for e in run.events] == [
            ("picked", "shelf-a"),
            ("purchased", "till"),
        ]
    finally:
        run.close()
        broker.stop()


def test_a_certificate_that_is_not_pem_is_one_error_line(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with caplog.at_level(logging.ERROR):
        run = Runner(mqtt_source(broker, "zebra_mqtt", tls={"ca_file": str(bad)}))
        run.thread.join(10)
    assert not run.thread.is_alive()  # the feed ended; the agent's other sources go on
    assert run.source.health()["state"] == "tls error"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "mqtt.tls" in errors[0]
    run.close()
