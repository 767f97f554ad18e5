"""Driving paho's network I/O from our own select, so that new events can wake it.

paho's ``loop()`` waits in select on its own private wake-up pair; the publisher
needs to be woken when the runtime queues events. So the link calls paho's
documented external-loop API (``socket``, ``want_write``, ``loop_read``,
``loop_write``, ``loop_misc``) around a select that also watches a pair of ours.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

WAKE_DRAIN_BYTES = 4096
"""Wake-ups are single bytes; reading many at once clears a burst of them."""


class Pump:
    """Network I/O for one paho client, interruptible by ``wake``.

    Also keeps paho's first error line of a connection (a socket or TLS error),
    which says why a connection ended better than the disconnect reason does.
    """

    def __init__(self, client: mqtt.Client) -> None:
        self._client = client
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._errors = _FirstError()
        client.enable_logger(self._errors.logger)

    def wake(self) -> None:
        """End the current (or next) wait at once; safe from any thread."""
        # BlockingIOError: the pair is full, a wake-up is already pending;
        # OSError: closed at stop.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def run_once(self, timeout: float) -> MQTTErrorCode:
        """Wait up to ``timeout`` for the socket or a wake-up, then read, write, keep alive."""
        sock = self._client.socket()
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        # TLS may hold decrypted bytes that select cannot see.
        pending = getattr(sock, "pending", None)
        buffered = bool(pending and pending() > 0)
        want_write = [sock] if self._client.want_write() else []
        try:
            readable, writable, _ = select.select(
                [sock, self._wake_r], want_write, [], 0 if buffered else timeout
            )
        except (OSError, ValueError, TypeError):
            return MQTTErrorCode.MQTT_ERR_CONN_LOST  # the socket was closed under us
        if self._wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                self._wake_r.recv(WAKE_DRAIN_BYTES)
        if sock in readable or buffered:
            rc = self._client.loop_read()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
            if self._client.socket() is None:
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if writable or self._client.want_write():
            rc = self._client.loop_write()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
        return self._client.loop_misc()

    def take_error(self) -> str | None:
        """paho's first error line since the last call, if any."""
        return self._errors.take()

    def close(self) -> None:
        self._wake_w.close()
        self._wake_r.close()


class _FirstError(logging.Handler):
    """Keeps paho's first error line. Its logger is private and set to ERROR, so
    paho's per-packet debug lines (which include payload excerpts) are never even
    formatted, let alone written."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._first: str | None = None
        # Created directly, not via getLogger: private to this client, no propagation.
        self.logger = logging.Logger("paho", logging.ERROR)
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        # The first error says why; later ones are consequences ("not connected").
        if self._first is None:
            self._first = record.getMessage()

    def take(self) -> str | None:
        first, self._first = self._first, None
        return first
