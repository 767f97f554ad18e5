"""Readers that publish tag reads over MQTT: Zebra IoT Connector, Impinj IoT interface.

The feed owns one paho client. Its callbacks never block and take no lock of
ours: a message is appended to a bounded deque (oldest dropped and counted when
full) and parsed on the source's thread. paho reconnects with exponential backoff
(1 s doubling to ``reconnect_max_s``) and retries the first connection too; every
(re)connect subscribes again, because a broker without a persistent session has
forgotten our subscription. The connection state shows in ``health``.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.sources.rfid.config import ReaderMqttConfig
from agent.sources.rfid.feed import Problems, ReadFeed
from agent.sources.rfid.reads import NotARead, ReadError, TagRead, events_of

log = logging.getLogger(__name__)

ClientFactory = Callable[[str], mqtt.Client]
"""Makes a paho client for a client id; tests and the runtime may pass their own."""

IDLE_POLL_S = 0.02
"""Wait when the deque is empty: short enough to add no visible latency, long
enough not to spin; polling keeps every lock out of paho's callbacks."""

MAX_PAYLOAD_BYTES = 1024 * 1024
"""A batch of reads is a few kB to a few hundred kB; a bigger message is refused."""


def default_client(client_id: str) -> mqtt.Client:
    return mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
    )


class MqttReadFeed(ReadFeed):
    """Subscribes to a reader's data topic and yields its reads.

    Args:
        config: broker, topic and queue settings.
        source_id: the reader's source id (default client id, log prefix).
        parse: turns one vendor event into a TagRead (``parse_zebra``/``parse_impinj``).
        client_factory: makes the paho client; ``default_client`` when None.
    """

    def __init__(
        self,
        config: ReaderMqttConfig,
        source_id: str,
        parse: Callable[[Any], TagRead],
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.config = config
        self.source_id = source_id
        self.parse = parse
        self.client_factory = client_factory or default_client
        self.problems = Problems(f"{source_id} (mqtt {config.host}:{config.port})")
        self.state = "starting"
        self.connects = 0
        self.disconnects = 0
        self.dropped = 0
        self.messages = 0
        self.other_events = 0
        self._queue: deque[bytes | bytearray] = deque(maxlen=config.queue_size)
        self._client: mqtt.Client | None = None

    # paho callbacks: run on paho's network thread; append or assign only.
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.state = f"refused: {reason}"
            return
        client.subscribe(self.config.topic, qos=0)
        self.connects += 1
        self.state = "subscribing"

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _m: Any, reasons: Any, _p: Any) -> None:
        refused = [r for r in reasons if getattr(r, "is_failure", False)]
        self.state = f"subscription refused: {refused[0]}" if refused else "connected"

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.disconnects += 1
        self.state = "reconnecting"

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        queue = self._queue
        if len(queue) == queue.maxlen:
            self.dropped += 1
        queue.append(message.payload)

    def _start(self) -> mqtt.Client:
        cfg = self.config
        client = self.client_factory(cfg.client_id or f"edge-agent-rfid-{self.source_id}")
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        user = os.environ.get(cfg.username_env) if cfg.username_env else None
        if user:
            password = os.environ.get(cfg.password_env) if cfg.password_env else None
            client.username_pw_set(user, password)
        if cfg.tls is not None:
            tls = cfg.tls
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.reconnect_delay_set(min_delay=1, max_delay=int(cfg.reconnect_max_s))
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        client.loop_start()
        self._client = client
        return client

    def reads(self, stop: threading.Event) -> Iterator[TagRead]:
        try:
            self._start()
        except (OSError, ssl.SSLError, ValueError) as e:
            # Unreadable certificates or a key that is not PEM: nothing can connect.
            self.state = "tls error"
            log.error("%s: mqtt.tls: cannot load the certificates: %s", self.source_id, e)
            self.close()
            return
        queue = self._queue
        problems = self.problems
        parse = self.parse
        try:
            while not stop.is_set():
                if not queue:
                    time.sleep(IDLE_POLL_S)
                    continue
                payload = queue.popleft()
                self.messages += 1
                position = f"message {self.messages}"
                if len(payload) > MAX_PAYLOAD_BYTES:
                    problems.report(position, f"longer than {MAX_PAYLOAD_BYTES} bytes")
                    continue
                try:
                    doc = json.loads(payload)
                except (ValueError, UnicodeDecodeError):
                    problems.report(position, "not valid JSON")
                    continue
                for event in events_of(doc):
                    try:
                        yield parse(event)
                    except ReadError as e:
                        problems.report(position, e)
                    except NotARead:
                        self.other_events += 1
        finally:
            self.close()

    def health(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "connects": self.connects,
            "disconnects": self.disconnects,
            "messages": self.messages,
            "messages_dropped": self.dropped,
            "malformed": self.problems.count,
            "other_events": self.other_events,
        }

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
            self.state = "stopped"
