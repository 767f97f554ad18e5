"""The broker fixture is real: a publish/subscribe round trip through mosquitto."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import Broker


def test_round_trip_through_real_mosquitto(broker: Broker) -> None:
    got: list[bytes] = []
    subscribed = threading.Event()
    received = threading.Event()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sub")
    sub.on_subscribe = lambda *a: subscribed.set()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.payload)
        received.set()

    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("t/#", qos=1)
    sub.loop_start()
    try:
        assert subscribed.wait(5)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        pub.publish("t/x", b"hello", qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        assert received.wait(5)
        assert got == [b"hello"]
    finally:
        sub.loop_stop()
        sub.disconnect()
