"""The MQTT sink against a real mosquitto: delivery, order, outages, caps, status, login."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import jsonschema
import pytest
from jsonschema import FormatChecker

from agent.publish.mqtt import MqttSink
from agent.publish.outbox import Outbox
from tests.conftest import REPO, Broker, free_port
from tests.publish_helpers import (
    Subscriber,
    first_seen,
    make_event,
    mqtt_config,
    persistent_broker_config,
    retained_status,
    wait_until,
)

STORE, GATEWAY = "store-1", "gw-1"
ROOT = f"retail/v1/{STORE}/{GATEWAY}"
STATUS_SCHEMA = json.loads((REPO / "docs" / "schemas" / "status.v1.json").read_text())


def open_sink(tmp_path: Path, port: int, max_events: int = 100_000, **cfg: object) -> MqttSink:
    outbox = Outbox(tmp_path / "outbox.db", max_events=max_events)
    return MqttSink(mqtt_config(port, **cfg), outbox, STORE, GATEWAY, environ={})


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_events_arrive_in_order_with_status_online_then_stopped(
    broker: Broker, tmp_path: Path, protocol: str
) -> None:
    sub = Subscriber(broker.port)
    sink = open_sink(tmp_path, broker.port, protocol=protocol)
    try:
        for n in range(50):
            sink.emit("traffic", make_event(n, "traffic"))
            sink.emit("characteristics", make_event(n, "characteristics"))
        assert sink.drain(timeout_s=20) == 0
        wait_until(lambda: len(sub.on("characteristics")) >= 50, 10, "50 characteristics")
        assert sub.ids("traffic") == [make_event(n)["id"] for n in range(50)]
        assert sub.ids("characteristics") == [
            make_event(n, "characteristics")["id"] for n in range(50)
        ]
        first = sub.on("traffic")[0]
        assert first.topic == f"{ROOT}/traffic" and first.qos == 1
        assert first.json() == make_event(0)
        if protocol == "5":
            assert first.content_type == "application/cloudevents+json"
        status = retained_status(broker.port, f"{ROOT}/status")
        assert status is not None and status["state"] == "online"
        assert sink.health()["connected"] is True
        assert sink.health()["delivered"] == 100
    finally:
        sink.close(clean=True)
        sub.close()
    status = retained_status(broker.port, f"{ROOT}/status")
    assert status is not None and status["state"] == "stopped"
    jsonschema.Draft202012Validator(STATUS_SCHEMA, format_checker=FormatChecker()).validate(status)


def test_broker_restart_mid_stream_loses_nothing_and_keeps_order(
    tmp_path: Path,
) -> None:
    broker = Broker(port=free_port(), workdir=tmp_path)
    broker.extra_config = persistent_broker_config(broker)
    broker.start()
    sub = Subscriber(broker.port, topic=f"{ROOT}/#", persistent=True)
    sink = open_sink(tmp_path, broker.port)
    total = 300
    stop_feeding = threading.Event()

    def feed() -> None:
        # Events keep coming while the broker is away, as windows keep closing.
        for n in range(total):
            sink.emit("traffic" if n % 3 else "characteristics", make_event(n, "traffic"))
            time.sleep(0.005)
        stop_feeding.set()

    feeder = threading.Thread(target=feed)
    try:
        feeder.start()
        wait_until(lambda: sink.health()["delivered"] >= 60, 20, "60 delivered before the outage")
        broker.stop()
        time.sleep(1.5)
        assert sink.health()["connected"] is False
        broker.start()
        assert stop_feeding.wait(30)
        assert sink.drain(timeout_s=30) == 0
        wait_until(
            lambda: len(set(sub.ids("traffic") + sub.ids("characteristics"))) >= total,
            20,
            "every event at the subscriber",
        )
    finally:
        feeder.join()
        sink.close()
        sub.close()
        broker.stop()
    for suffix in ("traffic", "characteristics"):
        expected = [
            make_event(n)["id"] for n in range(total) if (n % 3 == 0) == (suffix != "traffic")
        ]
        got = sub.ids(suffix)
        assert first_seen(got) == expected, f"{suffix}: not every event in order"
        # A duplicate is a resend of the same event: same id, same payload.
        by_id: dict[str, bytes] = {}
        for message in sub.on(suffix):
            assert by_id.setdefault(message.json()["id"], message.payload) == message.payload


def test_full_outbox_while_broker_down_drops_oldest_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(port=free_port(), workdir=tmp_path)
    broker.extra_config = persistent_broker_config(broker)
    broker.start()
    sub = Subscriber(broker.port, topic=f"{ROOT}/#", persistent=True)
    broker.stop()
    sink = open_sink(tmp_path, broker.port, max_events=100)
    try:
        with caplog.at_level(logging.WARNING, logger="agent.publish"):
            for n in range(250):
                sink.emit("traffic", make_event(n))
        health = sink.health()
        assert health["outbox_depth"] == 100
        assert health["outbox_dropped_full"] == 150
        drop_lines = [r for r in caplog.records if "outbox full" in r.getMessage()]
        assert len(drop_lines) == 1, "one line when the burst starts, not one per drop"
        broker.start()
        assert sink.drain(timeout_s=20) == 0
        wait_until(lambda: len(sub.on("traffic")) >= 100, 10, "the newest 100")
        assert sub.ids("traffic") == [make_event(n)["id"] for n in range(150, 250)]
    finally:
        sink.close()
        sub.close()
        broker.stop()
    assert any("dropped 150 oldest events" in r.getMessage() for r in caplog.records)


def test_refused_login_is_reported_once_and_nothing_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Only the test subscriber has a login; the agent has none and is refused.
    passwords = tmp_path / "passwords"
    passwords.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "sub", "sub-pw"], check=True)
    broker = Broker(port=free_port(), workdir=tmp_path)
    persistent = persistent_broker_config(broker)
    broker.extra_config = persistent + f"allow_anonymous false\npassword_file {passwords}\n"
    broker.start()
    sub = Subscriber(broker.port, topic=f"{ROOT}/#", persistent=True, login=("sub", "sub-pw"))
    sink = open_sink(tmp_path, broker.port, reconnect_max_s=0.2)
    try:
        with caplog.at_level(logging.DEBUG, logger="agent.publish"):
            for n in range(20):
                sink.emit("traffic", make_event(n))
            wait_until(
                lambda: sum("failed again" in r.getMessage() for r in caplog.records) >= 3,
                15,
                "several refused attempts",
            )
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, errors
        assert "refused the connection" in errors[0] and "code 135" in errors[0]
        assert sink.health()["outbox_depth"] == 20
        assert "Not authorized" in str(sink.health()["last_error"])
        # The operator lets the agent in: everything queued is delivered, in order.
        broker.stop()
        broker.extra_config = persistent + f"password_file {passwords}\nallow_anonymous true\n"
        broker.start()
        assert sink.drain(timeout_s=20) == 0
        wait_until(lambda: len(sub.on("traffic")) >= 20, 10, "20 events")
        assert sub.ids("traffic") == [make_event(n)["id"] for n in range(20)]
    finally:
        sink.close()
        sub.close()
        broker.stop()


def test_health_is_qos0_and_skipped_while_disconnected(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker.port)
    sink = open_sink(tmp_path, broker.port)
    try:
        wait_until(lambda: sink.health()["connected"], 10, "connected")
        sink.emit("health", make_event(1, "health"))
        wait_until(lambda: len(sub.on("health")) == 1, 10, "the health event")
        assert sub.on("health")[0].qos == 0
        assert sink.outbox.depth == 0, "health never goes through the outbox"
        broker.stop()
        wait_until(lambda: not sink.health()["connected"], 10, "disconnected")
        sink.emit("health", make_event(2, "health"))
        assert sink.health()["health_skipped"] == 1
    finally:
        sink.close()
        sub.close()


def test_unknown_topic_is_refused(broker: Broker, tmp_path: Path) -> None:
    sink = open_sink(tmp_path, broker.port)
    try:
        with pytest.raises(ValueError, match="unknown topic 'visits'"):
            sink.emit("visits", make_event(1))
    finally:
        sink.close()


def test_an_outbox_that_goes_bad_is_reported_and_publishing_carries_on(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = open_sink(tmp_path, broker.port, reconnect_max_s=0.2)
    try:
        wait_until(lambda: sink.health()["connected"], 10, "connected")
        # Someone (a cleanup script, a bad disk) removes the table under the agent.
        with sqlite3.connect(tmp_path / "outbox.db") as other:
            other.execute("DROP TABLE events")
        with caplog.at_level(logging.ERROR, logger="agent.publish"):
            sink.emit("traffic", make_event(1))
            sink.emit("traffic", make_event(2))
            broker.stop()  # the connection flaps: on reconnect the outbox is read again
            broker.start()
            wait_until(lambda: "cannot read" in str(sink.health()["last_error"]), 10, "the error")
            time.sleep(1.0)  # several reconnect rounds
        lines = [r.getMessage() for r in caplog.records]
        assert sum("cannot write the outbox" in line for line in lines) == 1, lines
        assert sum("publisher stopped" in line for line in lines) == 1, lines
        assert sink.health()["unsendable"] == 2
        assert sink.health()["publisher_running"] is True
    finally:
        sink.close()


def test_a_stop_on_error_leaves_status_offline(broker: Broker, tmp_path: Path) -> None:
    sink = open_sink(tmp_path, broker.port)
    wait_until(lambda: sink.health()["connected"], 10, "connected")
    sink.close(clean=False)
    status = retained_status(broker.port, f"{ROOT}/status")
    assert status is not None and status["state"] == "offline"
