"""The recorded feed: every line kind parses; a bad line is one warning and skipped."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from agent.observations import DeviceSighting, ItemEvent, Product, TrackEnd, TrackPoint
from agent.sources.base import SourceContext
from agent.sources.recorded import RecordedSource, RecordedSourceConfig, RecordError, parse_line

DEVICE = {
    "type": "device",
    "t": 5,
    "token": "0123456789abcdef",
    "rssi": -61.5,
    "kind": "probe",
    "randomised": True,
    "channel": 6,
    "seq": 1200,
}
ITEM = {
    "type": "item",
    "t": "2025-11-29T08:00:01Z",
    "zone": "promo",
    "action": "picked",
    "product": {
        "gtin": "05012345678900",
        "category": "protein",
        "price_tier": "mid",
        "promo": True,
    },
}


def test_each_line_kind_becomes_its_observation() -> None:
    assert parse_line({"type": "track", "t": 1, "track": 4, "x": 1, "y": 2.5}, "cam") == (
        TrackPoint(1.0, "cam", 4, 1.0, 2.5)
    )
    assert parse_line({"type": "track_end", "t": 2, "source": "c2", "track": 4}, "cam") == (
        TrackEnd(2.0, "c2", 4)
    )
    assert parse_line(DEVICE, "w") == DeviceSighting(
        5.0, "w", "0123456789abcdef", -61.5, "probe", True, 6, 1200
    )
    assert parse_line(ITEM, "r") == ItemEvent(
        1764403201.0, "r", "promo", "picked", Product("05012345678900", "protein", "mid", True)
    )


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ([1, 2], "not a JSON object"),
        ({"type": "frame", "t": 1}, "field 'type' must be one of"),
        ({"type": "track", "t": 1, "track": 1, "x": 1}, "field 'y' is missing"),
        ({"type": "track", "t": 1, "track": "7", "x": 1, "y": 1}, "field 'track' has the wrong"),
        ({"type": "track", "t": True, "track": 1, "x": 1, "y": 1}, "field 't'"),
        ({"type": "track", "t": "2025-01-01T00:00:00", "track": 1, "x": 1, "y": 1}, "time zone"),
        ({"type": "track", "t": -5, "track": 1, "x": 1, "y": 1}, "out of range"),
        ({**DEVICE, "token": "AA:BB:CC:DD:EE:FF"}, "16 lowercase hex"),
        ({**DEVICE, "kind": "beacon"}, "'probe' or 'data'"),
        ({**ITEM, "action": "stolen"}, "field 'action' must be"),
        ({**ITEM, "product": {"gtin": "123", "category": "x"}}, "14 digits"),
    ],
)
def test_bad_records_name_the_reason_without_the_value(record: Any, reason: str) -> None:
    with pytest.raises(RecordError) as e:
        parse_line(record, "src")
    assert reason in str(e.value)
    assert "AA:BB" not in str(e.value)


def test_garbage_lines_are_skipped_with_one_warning_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "feed.jsonl"
    good = {"type": "track", "t": 1, "track": 1, "x": 1, "y": 1}
    secret = "de:ad:be:ef:00:01"
    path.write_text(
        json.dumps(good)
        + "\n"
        + "this is not json "
        + secret
        + "\n"
        + "\n"
        + json.dumps({**good, "t": 2, "x": "far"})
        + "\n"
        + "\xff\xfe garbage\n"
        + json.dumps({**good, "t": 3})
        + "\n"
    )
    source = RecordedSource(RecordedSourceConfig(id="cam", path=path), SourceContext())
    with caplog.at_level(logging.WARNING):
        got = list(source.observations(threading.Event()))
    assert [o.t for o in got] == [1.0, 3.0]
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        f"{path}:2: skipped: not valid JSON",
        f"{path}:4: skipped: field 'x' has the wrong type",
        f"{path}:5: skipped: not valid JSON",
    ]
    assert secret not in caplog.text
    assert source.health() == {"observations": 2, "skipped_lines": 3}
    assert source.progress() == (path.stat().st_size, path.stat().st_size)
