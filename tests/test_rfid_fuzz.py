"""Fuzzing the RFID parsing paths and the state machine: bad input is counted, never fatal."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.observations import Product
from agent.sources.rfid.interactions import ROLES, Antenna, InteractionTracker, Thresholds
from agent.sources.rfid.parser import ReadParser
from agent.sources.rfid.reads import NotARead, ReadError, TagRead, events_of, parse_any, parse_zebra
from agent.sources.rfid.recorded import Header, read_lines
from agent.sources.rfid.synth import impinj_event, sgtin96, zebra_event

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)

READ = TagRead(1_700_000_000.25, sgtin96("0614141", "812345", 7), 2, -51.0)
FIELD_VALUES = st.one_of(
    json_values,
    st.sampled_from(
        ["3074257BF7194E4000001A85", "2024-01-01T00:00:00Z", "MHQle/cZTkAAABqF", 1, -50, 0, 70000]
    ),
)


def parse_or_reject(event: Any) -> TagRead | None:
    """The contract: a TagRead, or ReadError/NotARead; anything else is a bug."""
    try:
        read = parse_any(event)
    except (ReadError, NotARead):
        return None
    assert math.isfinite(read.t) and read.t >= 0
    assert 0 < read.antenna <= 65535
    assert read.rssi is None or -128 <= read.rssi <= 20
    int(read.epc, 16)
    return read


@FUZZ
@given(json_values)
def test_any_json_value_is_a_read_or_a_rejection(value: Any) -> None:
    for event in events_of(value):
        parse_or_reject(event)


@FUZZ
@given(st.sampled_from(["zebra", "impinj"]), st.data())
def test_vendor_events_with_fields_replaced(kind: str, data: st.DataObject) -> None:
    event = zebra_event(READ) if kind == "zebra" else impinj_event(READ)
    inner = event["data"] if kind == "zebra" else event["tagInventoryEvent"]
    target = data.draw(st.sampled_from([event, inner]))
    key = data.draw(st.sampled_from([*target.keys(), "extra"]))
    if data.draw(st.booleans()):
        target[key] = data.draw(FIELD_VALUES)
    else:
        target.pop(key, None)
    parse_or_reject(event)


def outcome(parse: Any, event: Any) -> TagRead | str:
    try:
        return parse(event)  # type: ignore[no-any-return]
    except ReadError as e:
        return f"ReadError: {e}"
    except NotARead:
        return "NotARead"


@FUZZ
@given(st.data())
def test_fast_parser_agrees_with_the_plain_one(data: st.DataObject) -> None:
    event = zebra_event(READ)
    stamp = data.draw(
        st.one_of(
            st.sampled_from(
                [
                    "2024-03-05T10:37:46.548-0800",
                    "2024-03-05T10:37:46Z",
                    "2024-03-05T10:37:46.5.5Z",
                    "2024-03-05T10:37:46.Z",
                    "2024-03-05",
                    "2024-03-05T10:37:46.123456789+00:00",
                    "2024-03-05T10:37:46.548",
                ]
            ),
            st.text(max_size=40),
            st.from_regex(
                r"20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]"
                r"(\.[0-9]{0,7})?(Z|[+-][0-2][0-9]:?[0-5][0-9])?",
                fullmatch=True,
            ),
        )
    )
    event["timestamp"] = stamp
    event["data"]["idHex"] = data.draw(
        st.one_of(st.just(READ.epc), st.text("0123456789abcdefxX", max_size=30))
    )
    event["data"]["peakRssi"] = data.draw(
        st.one_of(st.none(), st.floats(), st.integers(), st.booleans())
    )
    parser = ReadParser()
    for _ in range(2):  # the second time through the caches
        fast, plain = outcome(parser.zebra, event), outcome(parse_zebra, event)
        if isinstance(fast, TagRead) and isinstance(plain, TagRead):
            assert fast._replace(t=0.0) == plain._replace(t=0.0)
            assert fast.t == pytest.approx(plain.t, abs=1e-6)
        else:
            assert fast == plain


@FUZZ
@given(st.binary(max_size=2000))
def test_recorded_file_of_random_bytes(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(raw)
    for number, done, items in read_lines(path):
        assert number >= 1 and 0 < done <= len(raw)
        for item in items:
            assert isinstance(item, (TagRead, ReadError, Header))


@FUZZ
@given(st.lists(st.text(max_size=200), max_size=20))
def test_recorded_file_of_random_lines_keeps_good_ones(tmp_path: Path, lines: list[str]) -> None:
    good = json.dumps(zebra_event(READ))
    path = tmp_path / "fuzz.jsonl"
    path.write_text(
        "\n".join([good, *[line.replace("\n", " ") for line in lines], good]) + "\n",
        encoding="utf-8",
        errors="surrogatepass" if False else "strict",
    )
    found = [i for _, _, items in read_lines(path) for i in items if isinstance(i, TagRead)]
    assert found[0] == found[-1] == TagRead(READ.t, READ.epc, READ.antenna, -51.0)


reads_strategy = st.lists(
    st.tuples(
        st.integers(0, 5),  # tag
        st.floats(0, 600, allow_nan=False),  # time
        st.integers(0, 6),  # antenna
        st.one_of(st.none(), st.floats(-100, -20, allow_nan=False)),
    ),
    max_size=300,
)


@FUZZ
@given(reads_strategy, st.integers(2, 20))
def test_state_machine_on_arbitrary_streams(reads: list[Any], cap: int) -> None:
    antennas = [Antenna(f"z{i}", ROLES[i % len(ROLES)]) for i in range(7)]
    tracker = InteractionTracker(
        Thresholds(max_tags=cap, tag_ttl_s=120.0, settle_s=0.5, settle_reads=2), "fuzz"
    )
    product = Product(None, "unknown")
    for tag, t, antenna, rssi in sorted(reads, key=lambda r: r[1]):
        tracker.observe(f"tag{tag}", t, antennas[antenna], rssi, lambda _: product)
        assert len(tracker) <= cap
    zones = {a.zone for a in antennas}
    for event in tracker.drain():
        assert event.zone in zones and event.source == "fuzz"
        assert 0 <= event.t <= tracker.now


def test_llrp_report_frames_with_flipped_bytes() -> None:
    pytest.importorskip("sllurp", reason="the LLRP source needs the 'llrp' extra (sllurp)")
    pytest.importorskip("llrpkit", reason="needs llrpkit (dev extra) to build LLRP frames")
    from llrpkit.protocol import messages, params
    from sllurp.llrp import LLRPMessage
    from sllurp.llrp_errors import LLRPError

    from agent.sources.rfid.llrp import parse_tag_report

    def report(epc: bytes) -> bytes:
        trd = params.TagReportData(
            epc_parameter=params.EPC_96(epc=epc),
            antenna_id=params.AntennaID(antenna_id=3),
            peak_rssi=params.PeakRSSI(peak_rssi=-52),
            last_seen_timestamp_utc=params.LastSeenTimestampUTC(microseconds=1_700_000_000_000_000),
        )
        frame: bytes = messages.RO_ACCESS_REPORT(tag_report_datas=[trd]).to_bytes(message_id=9)
        return frame

    epc = bytes.fromhex(READ.epc)
    decoded = LLRPMessage(msgbytes=report(epc)).msgdict["RO_ACCESS_REPORT"]["TagReportData"]
    assert parse_tag_report(decoded[0]) == TagRead(1_700_000_000.0, READ.epc, 3, -52.0)

    @FUZZ
    @given(st.data())
    def flipped(data: st.DataObject) -> None:
        frame = bytearray(report(epc))
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(10, len(frame) - 1))  # keep the header: sllurp frames it
            frame[at] = data.draw(st.integers(0, 255))
        try:
            tags = LLRPMessage(msgbytes=bytes(frame)).msgdict["RO_ACCESS_REPORT"]
        except (LLRPError, ValueError, KeyError, IndexError, TypeError, Exception):
            return  # sllurp rejects it: the feed counts that and reconnects
        for tag in tags.get("TagReportData", []):
            with contextlib.suppress(ReadError):
                parse_tag_report(tag)

    flipped()
