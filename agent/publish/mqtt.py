"""The MQTT sink: events go to the durable outbox first, then to the broker at QoS 1.

Topics are ``{prefix}/{store_id}/{gateway_id}/{traffic|characteristics|health|status}``
(docs/mqtt.md). ``traffic`` and ``characteristics`` are committed to the outbox
before paho sees them and leave it only on PUBACK: at least once, in order,
through broker outages and agent crashes; consumers dedupe on the CloudEvents
``id``. ``health`` is a QoS 0 snapshot: sent when connected, skipped (counted)
otherwise. ``status`` is retained: ``online`` on every connect, ``stopped`` on a
clean close, ``offline`` as the last will.

Example (needs a broker, so not run as a doctest)::

    sink = MqttSink.open(mqtt_config, outbox_config, "store-1", "gw-1")
    sink.emit("traffic", event)
    left = sink.drain(timeout_s=30)
    sink.close(clean=True)
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import paho.mqtt.client as mqtt

from agent.publish.config import MqttConfig, OutboxConfig
from agent.publish.drops import DropCounter
from agent.publish.events import dumps
from agent.publish.mqtt_client import (
    Backoff,
    StatusState,
    Topics,
    build_client,
    default_client_id,
    status_payload,
)
from agent.publish.mqtt_link import BrokerLink
from agent.publish.outbox import Outbox, OutboxError
from agent.publish.sink import Event, Sink

log = logging.getLogger(__name__)

QOS_BY_TOPIC = {"traffic": 1, "characteristics": 1, "health": 0}
"""Delivery level per topic: aggregates must arrive, health is a replaceable snapshot."""

STOP_TIMEOUT_S = 10.0
"""Upper bound on a close: the final status waits at most 5 s for its PUBACK."""

DRAIN_POLL_S = 0.2
"""How often ``drain`` re-checks the outbox between acknowledgements."""


class MqttSink(Sink):
    """Publishes events through an outbox to one MQTT broker.

    Args:
        config: the broker and client settings.
        outbox: the durable queue (opened by the caller, closed by ``close``).
        store_id: first id in the topic root.
        gateway_id: second id in the topic root.
        client: a paho client; by default one built from ``config``.
        models: model name -> version, carried in the status payload.
        backoff: reconnect delays; by default exponential up to ``reconnect_max_s``.
        environ: where the login is read from.
    """

    def __init__(
        self,
        config: MqttConfig,
        outbox: Outbox,
        store_id: str,
        gateway_id: str,
        client: mqtt.Client | None = None,
        models: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.topics = Topics.of(config, store_id, gateway_id)
        self._models = dict(models or {})
        if client is None:
            client_id = config.client_id or default_client_id(store_id, gateway_id)
            client = build_client(config, client_id, environ)
        self._unsendable = DropCounter("events the outbox could not take", log)
        self._closed = False
        self._link = BrokerLink(
            client,
            config,
            outbox,
            self.topics,
            self._status,
            backoff or Backoff(config.reconnect_max_s),
        )
        self._link.start()

    @classmethod
    def open(
        cls,
        config: MqttConfig,
        outbox_config: OutboxConfig,
        store_id: str,
        gateway_id: str,
        **kwargs: Any,
    ) -> MqttSink:
        """Open the outbox named in ``outbox_config`` and start publishing.

        Raises:
            OutboxError: the outbox file cannot be opened (one line naming it).
            TlsSetupError: a TLS file cannot be loaded (one line naming it).
        """
        outbox = Outbox(
            outbox_config.path,
            max_events=outbox_config.max_events,
            max_age_s=outbox_config.max_age_s,
            policy=outbox_config.policy,
        )
        try:
            return cls(config, outbox, store_id, gateway_id, **kwargs)
        except BaseException:
            outbox.close()
            raise

    def emit(self, topic: str, event: Event) -> None:
        """Accept one event; QoS 1 topics are committed to the outbox before returning."""
        if QOS_BY_TOPIC.get(topic) == 0:
            payload = self._encode(topic, event)
            if payload is not None:
                self._link.send_health(self.topics.event(topic), payload)
            return
        self.emit_many([(topic, event)])

    def emit_many(self, events: Iterable[tuple[str, Event]]) -> None:
        """Accept several QoS 1 events in one durable commit (one fsync for a window).

        Raises:
            ValueError: a topic is not one the sink publishes.
        """
        if self._closed:
            raise RuntimeError("emit on a closed MqttSink")
        rows: list[tuple[str, str, bytes, int]] = []
        for topic, event in events:
            qos = QOS_BY_TOPIC.get(topic)
            if qos is None:
                raise ValueError(f"unknown topic {topic!r}; expected one of {sorted(QOS_BY_TOPIC)}")
            if qos == 0:
                self.emit(topic, event)
                continue
            payload = self._encode(topic, event)
            if payload is not None:
                rows.append((self.topics.event(topic), str(event.get("id", "")), payload, qos))
        if not rows:
            return
        try:
            self.outbox.put_many(rows)
        except OutboxError as e:
            # Disk full or file gone: say so once per burst, keep running for the next window.
            if not self._unsendable.in_burst:
                log.error("%s", e)
            self._unsendable.add(len(rows))
            return
        self._unsendable.end_burst()
        self._link.wake()

    def drain(self, timeout_s: float) -> int:
        """Wait until the broker acknowledged everything queued, or ``timeout_s`` passed.

        Returns:
            how many events are still queued (they stay in the outbox for the next start).
        """
        deadline = time.monotonic() + timeout_s
        while self.outbox.depth > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._link.progress.wait(min(left, DRAIN_POLL_S))
            self._link.progress.clear()
        return self.outbox.depth

    def health(self) -> dict[str, Any]:
        """Connection state and counters for the health event (no identifiers)."""
        link = self._link
        return {
            "publisher_running": link.running,
            "connected": link.connected,
            **self.outbox.health(),
            "delivered": link.delivered,
            "health_skipped": link.health_skipped,
            "refused_by_broker": link.refused_by_broker,
            "unsendable": self._unsendable.total,
            "last_error": link.last_error,
        }

    def close(self, clean: bool = True) -> None:
        """Publish the final status (``stopped``, or ``offline`` when not clean), disconnect.

        Undelivered events stay in the outbox and are sent first on the next start.
        """
        if self._closed:
            return
        self._closed = True
        self._link.stop("stopped" if clean else "offline", STOP_TIMEOUT_S)
        self._unsendable.end_burst()
        self.outbox.close()

    def _status(self, state: StatusState) -> bytes:
        return status_payload(state, self._models)

    def _encode(self, topic: str, event: Event) -> bytes | None:
        try:
            return dumps(event).encode()
        except (TypeError, ValueError) as e:
            # A programming error upstream; say which topic, never the values.
            log.error("an event for %s is not JSON-serialisable (%s); dropped", topic, e)
            self._unsendable.add()
            return None
