"""What the publisher writes or sends carries no secret and no payload outside MQTT.

The broker login must never reach logs, the outbox, health or MQTT payloads; event
contents go only to the broker (and the outbox until acknowledged), never to logs,
even at DEBUG, where paho would otherwise print payload excerpts.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest

from agent.publish.mqtt import MqttSink
from agent.publish.outbox import Outbox
from tests.conftest import Broker, free_port
from tests.publish_helpers import STAY_USER, Subscriber, make_event, mqtt_config, wait_until

PASSWORD = "s3cret-broker-password-4e1f"
WRONG = "wrong-broker-password-77ab"
MARKER = "zone-payload-marker-9d2c"


def event_with_marker(n: int) -> dict[str, object]:
    event = make_event(n)
    event["data"] = {"zone": MARKER, "n": n}
    return event


def test_login_and_payloads_stay_out_of_logs_outbox_and_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    passwords = tmp_path / "passwords"
    passwords.touch()
    for user, pw in (("gw-1", PASSWORD), ("sub", "sub-pw")):
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, pw], check=True)
    broker = Broker(
        port=free_port(),
        workdir=tmp_path,
        extra_config=STAY_USER + f"allow_anonymous false\npassword_file {passwords}\n",
    )
    broker.start()
    sub = Subscriber(broker.port, login=("sub", "sub-pw"))
    outbox_dir = tmp_path / "outbox"
    try:
        with caplog.at_level(logging.DEBUG):
            # First with the wrong password: refused, logged, retried.
            env = {"EDGE_AGENT_MQTT_USERNAME": "gw-1", "EDGE_AGENT_MQTT_PASSWORD": WRONG}
            config = mqtt_config(broker.port, reconnect_max_s=0.2)
            wrong = MqttSink(config, Outbox(outbox_dir / "o.db"), "store-1", "gw-1", environ=env)
            wrong.emit("traffic", event_with_marker(0))
            wait_until(lambda: wrong.health()["last_error"] is not None, 10, "a refusal")
            wrong_health = json.dumps(wrong.health())
            wrong.close()
            # Then with the right one: delivered.
            env["EDGE_AGENT_MQTT_PASSWORD"] = PASSWORD
            sink = MqttSink(config, Outbox(outbox_dir / "o.db"), "store-1", "gw-1", environ=env)
            for n in range(1, 5):
                sink.emit("traffic", event_with_marker(n))
            sink.emit("health", event_with_marker(99))
            assert sink.drain(timeout_s=20) == 0
            wait_until(lambda: len(sub.on("traffic")) >= 5, 10, "the events")
            health = json.dumps(sink.health())
            sink.close()
    finally:
        sub.close()
        broker.stop()

    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "Not authorized" in logs or "refused" in logs, "the refusal itself is logged"
    for secret in (PASSWORD, WRONG):
        assert secret not in logs
        assert secret not in wrong_health and secret not in health
        for message in sub.messages:
            assert secret.encode() not in message.payload
        for f in outbox_dir.iterdir():
            assert secret.encode() not in f.read_bytes(), f.name
    assert MARKER not in logs, "event contents must not be logged"
    assert [m.json()["data"]["zone"] for m in sub.on("traffic")] == [MARKER] * 5
    for f in outbox_dir.iterdir():
        assert MARKER.encode() not in f.read_bytes(), f"{f.name} kept delivered payloads"
