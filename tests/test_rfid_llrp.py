"""The LLRP source against an LLRP reader emulator speaking real LLRP bytes over TCP.

The emulator is llrpkit's (MIT). Three of its behaviours differ from LLRP 1.0.1
where sllurp relies on the standard, so the test subclass corrects them:
ENABLE_EVENTS_AND_REPORTS has no response; DELETE_ROSPEC with id 0 means every
ROSpec; a ROSpec with an Immediate start trigger starts when it is enabled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("sllurp", reason="the LLRP source needs the 'llrp' extra (sllurp)")
llrpkit_emulator = pytest.importorskip("llrpkit.emulator", reason="needs llrpkit (dev extra)")
from llrpkit.protocol import messages  # noqa: E402

from agent.config import parse_config  # noqa: E402
from agent.sources.base import SourceContext  # noqa: E402
from agent.sources.registry import build_sources  # noqa: E402
from agent.sources.rfid.llrp import LlrpFeed, parse_tag_report  # noqa: E402
from agent.sources.rfid.reads import ReadError  # noqa: E402
from agent.sources.rfid.source import RfidSource  # noqa: E402
from agent.sources.rfid.synth import sgtin96  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.source_runner import Runner  # noqa: E402

IMMEDIATE = 1
"""ROSpecStartTriggerType Immediate (LLRP 1.0.1, 10.2.1.1.1)."""

UNKNOWN_MESSAGE_TYPE = 900
"""A message type LLRP does not define: sllurp cannot decode such a frame."""


class StandardEmulator(llrpkit_emulator.LLRPEmulator):  # type: ignore[misc]
    async def _handle_message(self, msg: Any) -> None:
        if isinstance(msg, messages.ENABLE_EVENTS_AND_REPORTS):
            return
        if isinstance(msg, messages.DELETE_ROSPEC) and msg.ro_spec_id == 0:
            self._rospecs.clear()
            self._sync_reporting()
            await self._send(
                messages.DELETE_ROSPEC_RESPONSE(llrp_status=self._status_ok()),
                message_id=msg.message_id,
            )
            return
        await super()._handle_message(msg)
        if isinstance(msg, messages.ENABLE_ROSPEC):
            spec, state = self._rospecs.get(msg.ro_spec_id, (None, None))
            trigger = spec.ro_boundary_spec.ro_spec_start_trigger if spec else None
            if state == "Enabled" and int(trigger.ro_spec_start_trigger_type) == IMMEDIATE:
                self._rospecs[msg.ro_spec_id] = (spec, "Active")
                self._sync_reporting()

    frozen = False
    """A reader that lost power: the TCP connection stays up, nothing comes through."""

    async def _send(self, msg: Any, *, message_id: int = 0) -> None:
        if not self.frozen:
            await super()._send(msg, message_id=message_id)

    async def _handle_client(self, reader: Any, writer: Any) -> None:
        self.frozen = False  # powered up again: a new connection works
        await super()._handle_client(reader, writer)

    async def send_garbage(self) -> None:
        header = ((1 << 10) | UNKNOWN_MESSAGE_TYPE).to_bytes(2, "big")
        frame = header + (14).to_bytes(4, "big") + (7).to_bytes(4, "big") + b"\xde\xad\xbe\xef"
        if self._writer is not None:
            self._writer.write(frame)
            await self._writer.drain()


SHELF_TAG = sgtin96("0614141", "812345", 274_877_906_001)
TILL_TAG = sgtin96("0614141", "812346", 274_877_906_002)
SHELF_GTIN, TILL_GTIN = "80614141123458", "80614141123465"  # indicator, prefix, item, check


class Reader:
    """The emulator on its own asyncio loop, started, stopped and restarted on one port."""

    def __init__(self, port: int, empty: bool = False) -> None:
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        tags = [
            llrpkit_emulator.EmulatedTag(
                epc=bytes.fromhex(SHELF_TAG), antennas=(1,), rssi_dbm=-50.0
            ),
            llrpkit_emulator.EmulatedTag(
                epc=bytes.fromhex(TILL_TAG), antennas=(2,), rssi_dbm=-48.0
            ),
        ]
        self.emulator = StandardEmulator(
            port=port, tags=[] if empty else tags, reads_per_sec=40.0, antenna_count=2
        )

    def call(self, factory: Callable[[], Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(10)

    def start(self) -> None:
        self.emulator.port = self.port
        self.call(self.emulator.start)

    def stop(self) -> None:
        self.call(self.emulator.stop)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def reader() -> Iterator[Reader]:
    r = Reader(free_port())
    r.start()
    try:
        yield r
    finally:
        r.close()


def llrp_source(port: int, keepalive_s: float = 10.0) -> RfidSource:
    cfg = parse_config(
        {
            "store": {"id": "s1", "gateway_id": "g1"},
            "sources": {
                "rfid": [
                    {
                        "id": "rfid-llrp",
                        "protocol": "llrp",
                        "host": "127.0.0.1",
                        "port": port,
                        "reconnect_max_s": 1,
                        "keepalive_s": keepalive_s,
                        "interactions": {"settle_s": 0.5, "settle_reads": 3},
                        "antennas": [
                            {"port": 1, "zone": "shelf-a", "role": "shelf"},
                            {"port": 2, "zone": "till", "role": "checkout"},
                        ],
                    }
                ]
            },
        }
    )
    (source,) = build_sources(cfg.sources, SourceContext())
    assert isinstance(source, RfidSource)
    return source


def test_llrp_reads_become_item_events(reader: Reader) -> None:
    run = Runner(llrp_source(reader.port))
    try:
        run.wait(lambda: any(e.action == "purchased" for e in run.events))
        health = run.source.health()
        assert health["state"] == "connected" and health["malformed"] == 0
        assert health["reads"] > 10 and health["reads_unmapped_antenna"] == 0
        bought = [e for e in run.events if e.action == "purchased"]
        assert bought[0].zone == "till" and bought[0].product.gtin == TILL_GTIN
        assert not [e for e in run.events if e.product.gtin == SHELF_GTIN]  # it never moved
        assert abs(bought[0].t - time.time()) < 30  # the reader's own UTC timestamps
    finally:
        run.close()


def test_llrp_reader_restart_and_malformed_frames_are_survived(
    reader: Reader, caplog: pytest.LogCaptureFixture
) -> None:
    source = llrp_source(reader.port)
    run = Runner(source)
    try:
        with caplog.at_level(logging.DEBUG):
            run.wait(lambda: source.health().get("reads", 0) > 5)
            reader.call(reader.emulator.send_garbage)
            run.wait(lambda: source.health()["malformed"] >= 1)
            before = source.health()["reads"]
            run.wait(lambda: source.health()["reads"] > before + 5)  # reconnected, reading
            reader.stop()  # the reader goes away...
            run.wait(lambda: source.health()["state"] == "reconnecting")
            time.sleep(1.5)  # ...for a while: at least one failed retry
            reader.start()
            before = source.health()["reads"]
            run.wait(lambda: source.health()["reads"] > before + 5)
        health = source.health()
        assert health["connects"] >= 3 and health["disconnects"] >= 2
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "undecodable LLRP message" in logged
        for epc in (SHELF_TAG, TILL_TAG):
            assert epc.lower() not in logged.lower()
        assert str(274_877_906_001) not in logged
        assert json.dumps(health).lower().count(SHELF_TAG.lower()) == 0
    finally:
        run.close()


def test_a_silent_reader_is_reconnected(reader: Reader) -> None:
    source = llrp_source(reader.port, keepalive_s=1.0)
    run = Runner(source)
    try:
        run.wait(lambda: source.health().get("reads", 0) > 5)
        reader.emulator.frozen = True  # power cut: no FIN, no report, no keepalive
        run.wait(lambda: source.health()["silent_links"] >= 1)
        before = source.health()["reads"]
        run.wait(lambda: source.health()["reads"] > before + 5)  # a new link reads again
        assert source.health()["connects"] >= 2
    finally:
        run.close()


def test_keepalives_hold_a_quiet_link_open() -> None:
    quiet = Reader(free_port(), empty=True)  # no tag in any field: no reports at all
    quiet.start()
    source = llrp_source(quiet.port, keepalive_s=1.5)
    run = Runner(source)
    try:
        run.wait(lambda: source.health()["state"] == "connected")
        time.sleep(5.0)  # longer than three keepalive periods
        health = source.health()
        assert health["silent_links"] == 0 and health["connects"] == 1
        assert health["state"] == "connected" and health["tag_reports"] == 0
    finally:
        run.close()
        quiet.close()


def test_unreachable_reader_backs_off_without_raising() -> None:
    source = llrp_source(free_port())  # nobody listens there
    run = Runner(source)
    try:
        run.wait(lambda: source.health()["state"] == "reconnecting")
        assert source.health()["connects"] == 0
    finally:
        run.close()


@pytest.mark.parametrize(
    "report",
    [
        {"EPC-96": b"zz74257bf7194e4000001a85", "AntennaID": 1},
        {"EPC-96": b"3074257bf7194e4000001a85"},
        {"EPC-96": b"3074257bf7194e4000001a85", "AntennaID": 0},
        {"EPC-96": b"3074257bf7194e4000001a85", "AntennaID": 1, "PeakRSSI": 400},
        {"EPC-96": b"3074257bf7194e4000001a85", "AntennaID": 1, "LastSeenTimestampUTC": "x"},
        {"EPC-96": b"\xff\xfe", "AntennaID": 1},
        "not a report",
    ],
)
def test_bad_tag_reports_are_read_errors(report: Any) -> None:
    with pytest.raises(ReadError):
        parse_tag_report(report)


def test_feed_is_what_the_protocol_picks(reader: Reader) -> None:
    assert isinstance(llrp_source(reader.port).feed, LlrpFeed)
