"""Glue between the command line and the MQTT sink: overrides, opening, draining."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from agent.config import AgentConfig
from agent.publish.mqtt import MqttSink
from agent.publish.mqtt_client import TlsSetupError
from agent.publish.mqtt_url import mqtt_config_from_url
from agent.publish.outbox import OutboxError
from agent.publish.sink import Sink

log = logging.getLogger(__name__)

STOP_DRAIN_S = 5.0
"""On a clean stop of ``run``, how long to wait for queued events to be acknowledged;
what is left stays in the outbox for the next start (well inside systemd's 90 s
stop timeout)."""

EXIT_STILL_QUEUED = 3
"""Exit code of a replay whose events did not all reach the broker in time."""


def with_broker(config: AgentConfig, url: str | None, outbox: str | None) -> AgentConfig:
    """``config`` with the broker from ``--mqtt URL`` and the outbox from ``--outbox``.

    Raises:
        BrokerUrlError: the URL is unusable (one line).
    """
    update: dict[str, object] = {}
    if url is not None:
        update["mqtt"] = mqtt_config_from_url(url, base=config.mqtt)
    if outbox is not None:
        update["outbox"] = config.outbox.model_copy(update={"path": Path(outbox)})
    return config.model_copy(update=update) if update else config


class SinkSetupError(Exception):
    """The MQTT sink cannot start: outbox file or TLS files unusable (one line)."""


def open_mqtt_sink(config: AgentConfig, models: dict[str, str] | None = None) -> MqttSink:
    """The MQTT sink for ``config.mqtt`` with the configured outbox.

    Raises:
        SinkSetupError: the outbox or a TLS file cannot be opened (one line naming it).
    """
    assert config.mqtt is not None, "open_mqtt_sink needs config.mqtt"
    try:
        return MqttSink.open(
            config.mqtt, config.outbox, config.store.id, config.store.gateway_id, models=models
        )
    except (OutboxError, TlsSetupError) as e:
        raise SinkSetupError(str(e)) from None


def drain_sinks(sinks: Iterable[Sink], timeout_s: float) -> tuple[int, list[str]]:
    """Wait for every MQTT sink's outbox to empty; (events still queued, outbox paths)."""
    left = 0
    where: list[str] = []
    for sink in sinks:
        if isinstance(sink, MqttSink):
            remaining = sink.drain(timeout_s)
            if remaining:
                left += remaining
                where.append(str(sink.outbox.path))
    return left, where
