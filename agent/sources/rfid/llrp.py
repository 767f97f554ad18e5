"""LLRP (EPCglobal Low Level Reader Protocol, TCP 5084) readers through sllurp.

sllurp is GPL-3.0, so it lives in the optional ``llrp`` extra and is imported only
when an LLRP reader is configured. sllurp runs the LLRP client state machine on its
own socket thread (capabilities, config, ROSpec with an immediate start trigger);
its tag-report callback only appends to a bounded deque, and reports are parsed on
the source's thread. We own reconnection: sllurp's own retry waits a fixed minute,
ours backs off from 1 s doubling to ``reconnect_max_s``.

sllurp logs raw message bytes at DEBUG and the undecodable ones on errors; a log
filter drops both (an EPC must not reach a log) and counts decode failures as
malformed messages. After a malformed message the byte stream may have lost its
framing, so the connection is dropped and made again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import Any

from sllurp.llrp import THREAD_NAME_PREFIX, LLRPReaderClient, LLRPReaderConfig

from agent.sources.rfid.config import LlrpConfig
from agent.sources.rfid.feed import Problems, ReadFeed
from agent.sources.rfid.reads import (
    ReadError,
    TagRead,
    antenna_field,
    count_field,
    epc_hex_field,
    rssi_field,
)

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.02
"""Wait when no report is queued (see mqtt_feed: no lock in the reader's callbacks)."""

QUEUE_SIZE = 50_000
"""Tag reports held between sllurp's thread and ours; beyond it the oldest are dropped."""

SOCKET_TIMEOUT_S = 5.0
"""Connect timeout; a reader on the LAN answers in milliseconds."""

KEEPALIVES_MISSED = 3
"""Periods of total silence after which the link is taken for dead: one lost
KEEPALIVE can be a busy reader, three in a row is a reader that is gone."""

DISCONNECT_WAIT_S = 2.0
"""How long a polite LLRP stop (DELETE_ROSPEC, CLOSE) may take before we cut the socket."""

MICROSECONDS = 1_000_000.0

TAG_CONTENT = {
    "EnableROSpecID": False,
    "EnableSpecIndex": False,
    "EnableInventoryParameterSpecID": False,
    "EnableAntennaID": True,
    "EnableChannelIndex": False,
    "EnablePeakRSSI": True,
    "EnableFirstSeenTimestamp": True,
    "EnableLastSeenTimestamp": True,
    "EnableTagSeenCount": True,
    "EnableAccessSpecID": False,
}
"""What each tag report carries: the antenna, RSSI and timestamps the pipeline needs."""

HEARD_MESSAGES = ("KEEPALIVE", "RO_ACCESS_REPORT", "READER_EVENT_NOTIFICATION")
"""Any of these proves the reader is there; sllurp acknowledges keepalives itself."""

ClientFactory = Callable[[str, int, Any], Any]
"""Makes an sllurp LLRPReaderClient for (host, port, LLRPReaderConfig)."""


def default_client(host: str, port: int, config: Any) -> Any:
    return LLRPReaderClient(host, port, config, timeout=SOCKET_TIMEOUT_S)


class SllurpLogGuard(logging.Filter):
    """Keeps sllurp's raw-byte dumps out of the logs and counts its decode failures.

    Logging is process-wide, so one guard sits on sllurp's loggers and every LLRP
    feed registers with it under the name of its reader's socket thread: that is
    how a decode failure is counted against the reader that sent the frame.
    """

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, int] = {}

    @classmethod
    def installed(cls) -> SllurpLogGuard:
        """The guard on sllurp's loggers, installed on first use."""
        loggers = [logging.getLogger(name) for name in SLLURP_LOGGERS]
        for existing in loggers[0].filters:
            if isinstance(existing, cls):
                return existing
        guard = cls()
        for logger in loggers:
            logger.addFilter(guard)
        return guard

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return False  # sllurp's debug output includes hex dumps of tag reports
        text = str(record.msg)
        if text.startswith(("Failed to decode", "Exception encountered in main loop")):
            # A frame sllurp could not take apart: counted, and its dump kept out.
            if record.threadName in self.failures:
                self.failures[record.threadName] += 1
            return False
        return not ("decode" in text.lower() or "message format" in text)


SLLURP_LOGGERS = ("sllurp.llrp", "sllurp.llrp_proto")


def parse_tag_report(tag: Any) -> TagRead:
    """One sllurp tag report dict (EPC, AntennaID, PeakRSSI, timestamps) to a TagRead."""
    if not isinstance(tag, dict):
        raise ReadError("tag report is not a parameter set")
    raw = tag.get("EPC-96", tag.get("EPC"))
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ReadError("parameter 'EPC' is not hexadecimal") from None
    epc = epc_hex_field(raw, "EPC")
    if "AntennaID" not in tag:
        raise ReadError("parameter 'AntennaID' is missing")
    stamp = tag.get("LastSeenTimestampUTC", tag.get("FirstSeenTimestampUTC"))
    if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > 0:
        t = stamp / MICROSECONDS
    elif stamp is None:
        t = time.time()  # a reader configured without timestamps: arrival time
    else:
        raise ReadError("parameter 'LastSeenTimestampUTC' is not a time")
    return TagRead(
        t,
        epc,
        antenna_field(tag["AntennaID"], "AntennaID"),
        rssi_field(tag.get("PeakRSSI"), "PeakRSSI"),
        count_field(tag.get("TagSeenCount"), "TagSeenCount"),
    )


class LlrpFeed(ReadFeed):
    """Connects to an LLRP reader, starts inventory, yields its tag reports.

    Args:
        config: the reader's address and backoff cap.
        client_factory: makes the sllurp client (``default_client`` when None).
    """

    def __init__(self, config: LlrpConfig, client_factory: ClientFactory | None = None) -> None:
        self.config = config
        self.client_factory = client_factory or default_client
        self.problems = Problems(f"{config.id} (llrp {config.host}:{config.port})")
        self.guard = SllurpLogGuard.installed()
        self.thread_name = f"{THREAD_NAME_PREFIX}-{config.host}-{config.port}"
        """sllurp names its socket thread so; log records from it belong to this reader."""
        self.state = "starting"
        self.connects = 0
        self.disconnects = 0
        self.dropped = 0
        self.reports = 0
        self._queue: deque[Any] = deque(maxlen=QUEUE_SIZE)
        self._lost = threading.Event()
        self._client: Any = None
        self._heard = time.monotonic()
        self.silent_links = 0

    # sllurp callbacks: run on sllurp's socket thread; append or set only.
    def _on_tags(self, _reader: Any, tags: Any) -> None:
        queue = self._queue
        for tag in tags if isinstance(tags, list) else [tags]:
            if len(queue) == queue.maxlen:
                self.dropped += 1
            queue.append(tag)

    def _on_disconnected(self, _reader: Any) -> None:
        self._lost.set()

    def _on_message(self, _reader: Any, _message: Any) -> None:
        self._heard = time.monotonic()

    def _decode_failures(self) -> int:
        return self.guard.failures.get(self.thread_name, 0)

    def _connect(self) -> None:
        cfg = LLRPReaderConfig(
            {
                "antennas": [0],  # 0 = every antenna the reader has
                "report_every_n_tags": 1,
                "tag_content_selector": dict(TAG_CONTENT),
                "reconnect": False,
                "start_inventory": True,
                "reset_on_connect": True,
                "keepalive_interval": round(self.config.keepalive_s * 1000),
            }
        )
        client = self.client_factory(self.config.host, self.config.port, cfg)
        client.add_tag_report_callback(self._on_tags)
        client.add_disconnected_callback(self._on_disconnected)
        for message in HEARD_MESSAGES:
            client.add_message_callback(message, self._on_message)
        self._lost.clear()
        self._heard = time.monotonic()
        self._client = client
        client.connect()

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_alive():
                client.disconnect(timeout=DISCONNECT_WAIT_S)
            client.hard_disconnect()
        except Exception as e:  # a half-dead socket: closing is best effort
            log.debug("%s: while disconnecting: %s", self.config.id, type(e).__name__)

    def reads(self, stop: threading.Event) -> Iterator[TagRead]:
        self.guard.failures.setdefault(self.thread_name, 0)
        backoff = 1.0
        try:
            while not stop.is_set():
                try:
                    self._connect()
                except Exception as e:  # refused, unreachable, timed out, rejected
                    self._disconnect()
                    self.state = "reconnecting"
                    log.warning(
                        "%s: cannot connect to %s:%d (%s); retrying in %.0f s",
                        self.config.id,
                        self.config.host,
                        self.config.port,
                        type(e).__name__,
                        backoff,
                    )
                    stop.wait(backoff)
                    backoff = min(backoff * 2, self.config.reconnect_max_s)
                    continue
                self.connects += 1
                self.state = "connected"
                healthy = yield from self._pump(stop)
                self._disconnect()
                if stop.is_set():
                    break
                self.disconnects += 1
                self.state = "reconnecting"
                if healthy:
                    backoff = 1.0
                log.warning("%s: connection lost; reconnecting in %.0f s", self.config.id, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, self.config.reconnect_max_s)
        finally:
            self._disconnect()
            self.guard.failures.pop(self.thread_name, None)
            self.state = "stopped"

    def _pump(self, stop: threading.Event) -> Generator[TagRead, None, bool]:
        """Yield reports while the connection lives; True when it delivered any."""
        queue = self._queue
        failures_before = self._decode_failures()
        delivered = False
        while not stop.is_set():
            if self._decode_failures() != failures_before:
                self.problems.report(f"report {self.reports}", "undecodable LLRP message")
                return delivered
            if not queue:
                client = self._client
                if self._lost.is_set() or client is None or not client.is_alive():
                    return delivered
                silent = time.monotonic() - self._heard
                if silent > KEEPALIVES_MISSED * self.config.keepalive_s:
                    self.silent_links += 1
                    log.warning(
                        "%s: reader silent for %.0f s (no report, no keepalive)",
                        self.config.id,
                        silent,
                    )
                    return delivered
                time.sleep(IDLE_POLL_S)
                continue
            tag = queue.popleft()
            self.reports += 1
            try:
                read = parse_tag_report(tag)
            except ReadError as e:
                self.problems.report(f"report {self.reports}", e)
                continue
            delivered = True
            yield read
        return delivered

    def health(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "connects": self.connects,
            "disconnects": self.disconnects,
            "tag_reports": self.reports,
            "tag_reports_dropped": self.dropped,
            "malformed": self.problems.count,
            "silent_links": self.silent_links,
        }

    def close(self) -> None:
        self._disconnect()
