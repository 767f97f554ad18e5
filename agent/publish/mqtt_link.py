"""The one thread that owns the paho client: connect, send from the outbox, take acks.

Every call on the paho client happens on this thread; paho callbacks run inside
``client.loop`` on the same thread and only record what happened, the loop acts
on it afterwards. Nothing publishes or blocks inside a callback.

Delivery: after every CONNACK the send pointer goes back to the start of the
outbox, so every undelivered row is sent again, oldest first, while at most
``max_inflight`` wait for their PUBACK (paho holds two windows' worth and sends the
next as soon as a slot frees). A row is deleted when its PUBACK arrives.
paho's own copy of unacknowledged messages is discarded on every disconnect,
so a message is never re-sent twice (once by paho, once from the outbox).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.reasoncodes import ReasonCode

from agent.publish.config import MqttConfig
from agent.publish.mqtt_client import (
    EVENT_CONTENT_TYPE,
    HANDOFF_WINDOWS,
    Backoff,
    ConnectFailures,
    StatusState,
    Topics,
    describe_connect_error,
    publish_properties,
)
from agent.publish.mqtt_pump import Pump
from agent.publish.outbox import Outbox, OutboxError

log = logging.getLogger(__name__)

LOOP_TIMEOUT_S = 0.05
"""Longest wait in select when nothing happens: new events wake the loop at once
(through a socket pair), so this only paces stop checks and keepalive."""

STATUS_ACK_TIMEOUT_S = 5.0
"""How long a clean stop waits for the broker to acknowledge the ``stopped`` status."""

RETRY_SOON_S = 0.001
"""Loop wait after the outbox was busy (a put committing): short, so the deferred
ack or read is retried as soon as the commit is done, not after a full idle wait."""

HEALTH_QUEUE = 4
"""Health events waiting for the link; they are periodic snapshots, so only the
latest few matter and older ones are dropped (counted) when the link lags."""


class BrokerLink:
    """Runs the connect / send / acknowledge loop on its own thread.

    Args:
        client: a paho client built by ``build_client`` (injected for tests).
        config: broker address, keepalive, window size.
        outbox: where events wait; rows are deleted here on PUBACK.
        topics: the topic root (for the status topic).
        status: makes the status payload for a state (online / stopped / offline).
        backoff: reconnect delays.
    """

    def __init__(
        self,
        client: mqtt.Client,
        config: MqttConfig,
        outbox: Outbox,
        topics: Topics,
        status: Callable[[StatusState], bytes],
        backoff: Backoff,
    ) -> None:
        self._client = client
        self._config = config
        self._outbox = outbox
        self._topics = topics
        self._status = status
        self._backoff = backoff
        self._event_props = publish_properties(config, EVENT_CONTENT_TYPE)
        self._status_props = publish_properties(config, "application/json")
        self._stopping = threading.Event()
        self._new_work = threading.Event()
        self.progress = threading.Event()
        """Set whenever acknowledged events leave the outbox (for ``drain``)."""
        self._stop_state: StatusState = "stopped"
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._health: deque[tuple[str, bytes]] = deque(maxlen=HEALTH_QUEUE)
        # State below is touched only on the link thread (callbacks run there too).
        self._connack: ReasonCode | None = None
        self._closed_reason: str | None = None
        self._acks: list[tuple[int, ReasonCode]] = []
        self._acked: list[int] = []  # seqs acknowledged, rows not yet deleted
        self._retry_soon = False
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq
        self._status_mid: int | None = None
        self._sent_upto = 0
        self._failures = ConnectFailures(f"{config.host}:{config.port}", log)
        self._refusing = False
        # Read by other threads for health; plain assignments are atomic.
        self.connected = False
        self.last_error: str | None = None
        self.delivered = 0
        self.health_skipped = 0
        self.refused_by_broker = 0
        self._pump = Pump(client)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish

    # ---- called from other threads -------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        """The link thread is alive (it should be until ``stop``)."""
        return self._thread.is_alive()

    def wake(self) -> None:
        """New rows are in the outbox: end the loop's wait at once."""
        self._new_work.set()
        self._pump.wake()

    def send_health(self, topic: str, payload: bytes) -> None:
        """Queue a QoS 0 health event; skipped (counted) when not connected."""
        if not self.connected:
            self.health_skipped += 1
            return
        if len(self._health) == HEALTH_QUEUE:
            self.health_skipped += 1
        self._health.append((topic, payload))

    def stop(self, state: StatusState, timeout_s: float) -> None:
        """Publish ``state`` as the retained status (if connected), disconnect, join."""
        self._stop_state = state
        self._stopping.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("MQTT link did not stop within %.0f s", timeout_s)

    # ---- paho callbacks: record only -----------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._connack = reason

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._closed_reason = str(reason)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        self._acks.append((mid, reason))

    def _closed_because(self) -> str:
        """Why the connection ended: paho's socket error when it logged one (TLS alerts)."""
        detail = self._pump.take_error()
        return detail or self._closed_reason or "closed"

    # ---- the link thread -------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._connect():
                    self._serve()
            except Exception as e:
                # An outbox that went bad (or a bug) must not silently end publishing:
                # say so once, drop the connection and start over after a backoff.
                message = str(e) if isinstance(e, OutboxError) else f"{type(e).__name__}: {e}"
                if message != self.last_error:
                    log.error("MQTT publisher stopped: %s; retrying with backoff", message)
                    if not isinstance(e, OutboxError):
                        log.debug("publisher failure", exc_info=True)
                self.last_error = message
                self.connected = False
                with contextlib.suppress(Exception):
                    self._commit_acks(wait=True)  # fewer resends if the outbox still works
                with contextlib.suppress(Exception):
                    self._client.disconnect()
                self._acked.clear()
            if not self._stopping.is_set():
                self._stopping.wait(self._backoff.next_delay())
        self._client.drop_out_messages()
        self._pump.close()

    def _connect(self) -> bool:
        self._connack = None
        self._closed_reason = None
        self._pump.take_error()
        self._acks.clear()
        self._inflight.clear()
        self._status_mid = None
        # Anything paho still holds from the last connection is in the outbox too.
        self._client.drop_out_messages()
        self._client.will_set(self._topics.status, self._status("offline"), qos=1, retain=True)
        try:
            self._client.connect(
                self._config.host,
                self._config.port,
                keepalive=self._config.keepalive_s,
                # MQTT 5: no broker session to resume; the outbox decides what is resent.
                # (3.1.1 gets clean_session from the client and refuses this argument.)
                clean_start=True if self._config.protocol == "5" else MQTT_CLEAN_START_FIRST_ONLY,
            )
        except Exception as e:  # any failure here (socket, TLS, DNS) is one failed attempt
            self._note_failure(describe_connect_error(e))
            return False
        return True

    def _serve(self) -> None:
        """Run one connection until it ends or the link is stopped."""
        while True:
            rc = self._pump.run_once(RETRY_SOON_S if self._retry_soon else LOOP_TIMEOUT_S)
            self._retry_soon = False
            if self._connack is not None and not self._on_connack():
                break
            self._take_acks()
            if rc != mqtt.MQTT_ERR_SUCCESS or self._closed_reason is not None:
                self._closed_reason = self._closed_reason or mqtt.error_string(rc)
                self._lost(self._closed_because())
                return
            if self._stopping.is_set():
                if self.connected:
                    self._shutdown()
                else:
                    self._client.disconnect()
                return
            if self.connected:
                self._fill_window()
                self._send_health()
        self._client.disconnect()

    def _on_connack(self) -> bool:
        reason, self._connack = self._connack, None
        assert reason is not None
        if reason.is_failure:
            self._note_failure(f"the broker refused the connection: {reason} (code {reason.value})")
            return False
        self._failures.connected(self._outbox.depth)
        if not self._refusing:
            # While the broker refuses events, keep backing off across reconnects
            # instead of resending every half second.
            self._backoff.reset()
        self.connected = True
        self._sent_upto = 0  # resend every undelivered row, oldest first
        self._new_work.set()
        info = self._client.publish(
            self._topics.status, self._status("online"), 1, True, self._status_props
        )
        self._status_mid = info.mid
        return True

    def _take_acks(self) -> None:
        if not self._acks:
            return
        done: list[int] = []
        refused: ReasonCode | None = None
        for mid, reason in self._acks:
            seq = self._inflight.pop(mid, None)
            if mid == self._status_mid:
                self._status_mid = None
            if seq is None:
                continue
            if reason.is_failure:
                refused = reason
            else:
                done.append(seq)
        self._acks.clear()
        self._acked.extend(done)
        self._commit_acks(wait=False)
        if done and refused is None and self._refusing:
            log.info("the broker accepts events again")
            self._refusing = False
        if refused is not None:
            # Keep the event: a refusal (ACL, quota) is a broker setting someone can
            # fix. Reconnecting (with growing backoff) is how it gets sent again.
            self.refused_by_broker += 1
            self.last_error = f"the broker refused an event: {refused} (code {refused.value})"
            if not self._refusing:
                log.error(
                    "%s; it stays queued and is sent again after reconnecting with backoff",
                    self.last_error,
                )
                self._refusing = True
            self._client.disconnect()

    def _commit_acks(self, wait: bool) -> None:
        """Delete acknowledged rows; without ``wait``, put it off while a put commits."""
        if not self._acked:
            return
        if not self._outbox.ack(self._acked, wait=wait):
            self._retry_soon = True
            return
        self.delivered += len(self._acked)
        self._acked.clear()
        self._new_work.set()
        self.progress.set()

    def _fill_window(self) -> None:
        room = HANDOFF_WINDOWS * self._config.max_inflight - len(self._inflight)
        if room <= 0 or not self._new_work.is_set():
            return
        rows = self._outbox.pending_after(self._sent_upto, room, wait=False)
        if rows is None:
            self._retry_soon = True  # a put is committing; serve the socket meanwhile
            return
        self._new_work.clear()
        for row in rows:
            info = self._client.publish(row.topic, row.payload, row.qos, False, self._event_props)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return  # the connection is going; the row is resent after reconnecting
            self._inflight[info.mid] = row.seq
            self._sent_upto = row.seq
        if len(rows) == room:
            self._new_work.set()  # there may be more behind the window

    def _send_health(self) -> None:
        while self._health:
            topic, payload = self._health.popleft()
            self._client.publish(topic, payload, 0, False, self._event_props)

    def _lost(self, reason: str) -> None:
        # Delete what was acknowledged before anything is resent from the oldest row.
        self._commit_acks(wait=True)
        was_connected = self.connected
        self.connected = False
        self._client.drop_out_messages()
        if was_connected and self._refusing:
            log.debug("disconnected after a refused event; reconnecting with backoff")
        elif was_connected:
            self.last_error = f"connection lost: {reason}"
            log.warning(
                "lost the connection to %s:%d (%s); %d events queued, reconnecting",
                self._config.host,
                self._config.port,
                reason,
                self._outbox.depth,
            )
        else:
            self._note_failure(f"connection closed before the broker accepted it: {reason}")

    def _note_failure(self, reason: str) -> None:
        self.last_error = reason
        self._failures.failed(reason, self._outbox.depth)

    def _shutdown(self) -> None:
        """Publish the final status, wait for its PUBACK (bounded), disconnect."""
        info = self._client.publish(
            self._topics.status, self._status(self._stop_state), 1, True, self._status_props
        )
        deadline = time.monotonic() + STATUS_ACK_TIMEOUT_S
        while not info.is_published() and time.monotonic() < deadline:
            if self._pump.run_once(LOOP_TIMEOUT_S) != mqtt.MQTT_ERR_SUCCESS:
                break
            self._take_acks()
        self._take_acks()
        self._commit_acks(wait=True)
        self.connected = False
        self._client.disconnect()
        self._pump.run_once(0)
