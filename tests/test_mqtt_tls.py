"""TLS with client certificates against a real mosquitto (require_certificate true)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.publish.config import TlsConfig
from agent.publish.mqtt import MqttSink
from agent.publish.outbox import Outbox
from tests.conftest import Broker, free_port
from tests.publish_helpers import (
    STAY_USER,
    Subscriber,
    make_event,
    mqtt_config,
    retained_status,
    wait_until,
)
from tests.publish_pki import Pki, make_pki, mosquitto_tls_config

ROOT = "retail/v1/store-1/gw-1"


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Broker, int, Pki]]:
    """A broker whose first listener is TLS-only with client certificates; the second,
    plain one is for the test's own subscriber."""
    pki = make_pki(tmp_path / "pki")
    plain_port = free_port()
    broker = Broker(port=free_port(), workdir=tmp_path)
    broker.extra_config = (
        STAY_USER + mosquitto_tls_config(pki) + f"listener {plain_port} 127.0.0.1\n"
    )
    broker.start()
    wait_until(lambda: _listening(plain_port), 5, "the plain listener")
    try:
        yield broker, plain_port, pki
    finally:
        broker.stop()


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def open_sink(tmp_path: Path, port: int, tls: TlsConfig) -> MqttSink:
    outbox = Outbox(tmp_path / "outbox.db")
    config = mqtt_config(port, tls=tls, reconnect_max_s=0.2)
    return MqttSink(config, outbox, "store-1", "gw-1", environ={})


def test_delivery_over_tls_with_a_client_certificate(
    tls_broker: tuple[Broker, int, Pki], tmp_path: Path
) -> None:
    broker, plain_port, pki = tls_broker
    sub = Subscriber(plain_port)
    tls = TlsConfig(ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key)
    sink = open_sink(tmp_path, broker.port, tls)
    try:
        for n in range(20):
            sink.emit("traffic", make_event(n))
        assert sink.drain(timeout_s=20) == 0
        wait_until(lambda: len(sub.on("traffic")) >= 20, 10, "20 events over TLS")
        assert sub.ids("traffic") == [make_event(n)["id"] for n in range(20)]
        status = retained_status(plain_port, f"{ROOT}/status")
        assert status is not None and status["state"] == "online"
    finally:
        sink.close()
        sub.close()


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("wrong CA", "certificate was not accepted"),
        ("no client certificate", "connect"),
    ],
)
def test_tls_failure_is_reported_once_and_events_stay_queued(
    tls_broker: tuple[Broker, int, Pki],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    case: str,
    expect: str,
) -> None:
    broker, _, pki = tls_broker
    if case == "wrong CA":
        tls = TlsConfig(ca_file=pki.other_ca, cert_file=pki.client_cert, key_file=pki.client_key)
    else:
        tls = TlsConfig(ca_file=pki.ca)
    with caplog.at_level(logging.DEBUG, logger="agent.publish"):
        sink = open_sink(tmp_path, broker.port, tls)
        try:
            for n in range(10):
                sink.emit("traffic", make_event(n))
            wait_until(
                lambda: sum("failed again" in r.getMessage() for r in caplog.records) >= 2,
                15,
                "repeated failed attempts",
            )
            time.sleep(0.2)
            health = sink.health()
        finally:
            sink.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert expect in errors[0]
    assert health["connected"] is False and health["outbox_depth"] == 10
    assert Outbox(tmp_path / "outbox.db").depth == 10, "everything stays queued on disk"
