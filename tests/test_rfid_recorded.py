"""Recorded reads through the configured source, inspect, and the privacy guarantee."""

from __future__ import annotations

import base64
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from agent.config import ConfigError, parse_config
from agent.inspect import inspect_file
from agent.observations import ItemEvent
from agent.sources.base import SourceContext
from agent.sources.registry import build_sources
from agent.sources.rfid.reads import TagRead
from agent.sources.rfid.source import RfidSource
from agent.sources.rfid.synth import ReadScript, impinj_event, sgtin96, zebra_event

SERIAL_BASE = 274_877_906_000
"""Serials long and odd enough that finding one in an output cannot be a coincidence."""

ANTENNAS = [
    {"port": 1, "zone": "shelf-a", "role": "shelf"},
    {"port": 2, "zone": "shelf-b", "role": "shelf"},
    {"port": 3, "zone": "fitting", "role": "fitting_room"},
    {"port": 4, "zone": "till", "role": "checkout"},
]
ZONES = ["shelf-a", "shelf-b", "fitting", "till"]


def square(x: float) -> list[list[float]]:
    return [[x, 0.0], [x + 1, 0.0], [x + 1, 1.0], [x, 1.0]]


def store(zones: list[str]) -> dict[str, Any]:
    kinds = {"shelf-a": "shelf", "shelf-b": "shelf", "fitting": "fitting_room", "till": "checkout"}
    return {
        "id": "s1",
        "gateway_id": "g1",
        "zones": [
            {"id": z, "kind": kinds.get(z, "other"), "polygon": square(i)}
            for i, z in enumerate(zones)
        ],
    }


def epc(item: str, n: int) -> str:
    return sgtin96("0614141", item, SERIAL_BASE + n)


SUIT, SHAKE, BOLT = "812345", "100001", "100002"  # formal wear, protein, not catalogued
NOT_GS1 = "E2801160600002054CC4B5B7"


def scenario() -> ReadScript:
    """A suit picked and bought, a protein shake tried... and a non-GS1 tag resting."""
    s = ReadScript(seed=21)
    s.stay(epc(SHAKE, 50), 2, 0.0, 80.0, rssi=-55.0)  # keeps the reader busy
    s.stay(NOT_GS1, 2, 0.0, 80.0, rssi=-58.0)
    s.stay(epc(SUIT, 1), 1, 0.0, 20.0)
    s.stay(epc(SUIT, 1), 4, 35.0, 50.0, rssi=-45.0)
    s.stay(epc(SUIT, 2), 1, 0.0, 20.0)
    s.stay(epc(SUIT, 2), 3, 30.0, 45.0, rssi=-47.0)
    s.stay(epc(SUIT, 2), 1, 55.0, 80.0)
    s.stay(epc(BOLT, 3), 2, 0.0, 80.0)
    return s


BAD_LINES = {
    "this is not json": "not valid JSON",
    json.dumps(
        {"type": "SIMPLE", "timestamp": "2024-01-01T00:00:00Z", "data": {"antenna": 1}}
    ): "data.idHex",
    json.dumps(
        {
            "type": "SIMPLE",
            "timestamp": "2024-01-01T00:00:00Z",
            "data": {"idHex": "3074zz", "antenna": 1},
        }
    ): "data.idHex",
    json.dumps(
        {
            "type": "SIMPLE",
            "timestamp": "yesterday",
            "data": {"idHex": "3074257BF7194E4000001A85", "antenna": 1},
        }
    ): "timestamp",
    json.dumps(
        {
            "type": "SIMPLE",
            "timestamp": 5.0,
            "data": {"idHex": "3074257BF7194E4000001A85", "antenna": "one"},
        }
    ): "data.antenna",
    "42": "not a JSON object",
}


def write_recording(path: Path, with_header: bool = True) -> ReadScript:
    s = scenario()
    reads = s.sorted_reads()
    lines: list[str] = []
    if with_header:
        lines.append(
            json.dumps({"edge_agent_rfid": 1, "catalogue": "catalogue.csv", "antennas": ANTENNAS})
        )
    half = len(reads) // 2
    lines += [json.dumps(zebra_event(r)) for r in reads[:half]]
    lines += list(BAD_LINES)
    # the Impinj form, a batched Zebra line, and an Impinj non-read event
    lines.append(json.dumps([zebra_event(r) for r in reads[half : half + 5]]))
    lines += [json.dumps(impinj_event(r)) for r in reads[half + 5 :]]
    lines.append(
        json.dumps(
            {
                "timestamp": "2024-01-01T00:00:00Z",
                "eventType": "antennaConnected",
                "antennaConnectedEvent": {"antennaPort": 1},
            }
        )
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (path.parent / "catalogue.csv").write_text(
        "gtin,category,price_tier,promo\n"
        f"80614141123458,formal_wear,premium,no\n"
        f"{gtin_of(SHAKE)},protein,mid,yes\n",
        encoding="utf-8",
    )
    return s


def gtin_of(item: str) -> str:
    from agent.sources.rfid.epc import EpcDecoder

    gtin = EpcDecoder().gtin_of(epc(item, 0))
    assert gtin is not None
    return gtin


def config_for(tmp_path: Path, **reader: Any) -> dict[str, Any]:
    entry = {
        "id": "rfid-1",
        "protocol": "recorded",
        "path": "reads.jsonl",
        "catalogue": "catalogue.csv",
        **reader,
    }
    return {"store": store(ZONES), "sources": {"rfid": [entry]}}


def run_source(source: RfidSource) -> list[ItemEvent]:
    out = [o for o in source.observations(threading.Event()) if isinstance(o, ItemEvent)]
    source.close()
    return out


def test_recorded_reads_become_item_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_recording(tmp_path / "reads.jsonl")
    cfg = parse_config(config_for(tmp_path, antennas=ANTENNAS), base_dir=tmp_path)
    context = SourceContext(replay=True, base_dir=str(tmp_path), store_zones=tuple(ZONES))
    with caplog.at_level(logging.WARNING):
        (source,) = build_sources(cfg.sources, context)
        assert isinstance(source, RfidSource)
        events = run_source(source)
    got = [(e.action, e.zone, e.product.category, e.product.price_tier) for e in events]
    assert got == [
        ("picked", "shelf-a", "formal_wear", "premium"),
        ("picked", "shelf-a", "formal_wear", "premium"),
        ("fitting_room", "fitting", "formal_wear", "premium"),
        ("purchased", "till", "formal_wear", "premium"),
        ("returned", "shelf-a", "formal_wear", "premium"),
    ]
    health = source.health()
    assert health["malformed"] == len(BAD_LINES)
    assert health["tags_seen"] == 5
    assert health["tags_not_gs1_product"] == 1
    assert health["events_picked"] == 2 and health["events_purchased"] == 1
    first_bad = 2 + len(scenario().sorted_reads()) // 2
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"line {first_bad}: skipped: not valid JSON" in m for m in messages)
    assert source.progress() == ((tmp_path / "reads.jsonl").stat().st_size,) * 2


def test_header_supplies_the_antenna_map_and_catalogue(tmp_path: Path) -> None:
    write_recording(tmp_path / "reads.jsonl")
    cfg = parse_config(config_for(tmp_path, catalogue=None), base_dir=tmp_path)
    (source,) = build_sources(cfg.sources, SourceContext(store_zones=tuple(ZONES)))
    events = run_source(source)
    assert len(events) == 5
    assert {e.product.category for e in events} == {"formal_wear"}


def test_zone_mismatch_and_missing_catalogue_are_one_line_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_recording(tmp_path / "reads.jsonl", with_header=False)
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe garbage")
    antennas = [*ANTENNAS[:3], {"port": 4, "zone": "till-9", "role": "checkout"}]
    cfg = parse_config(
        config_for(tmp_path, antennas=antennas, catalogue="bad.csv"), base_dir=tmp_path
    )
    with caplog.at_level(logging.WARNING):
        (source,) = build_sources(cfg.sources, SourceContext(store_zones=tuple(ZONES)))
        events = run_source(source)
    messages = [r.getMessage() for r in caplog.records]
    assert any("till-9" in m and "not zones of the store" in m for m in messages)
    assert any("bad.csv" in m and "'unknown'" in m for m in messages)
    assert {e.product.category for e in events} == {"unknown"}
    assert ("purchased", "till-9") in [(e.action, e.zone) for e in events]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"antennas": [ANTENNAS[0], ANTENNAS[0]]}, "sources.rfid[0].recorded.antennas"),
        ({"protocol": "rfid-over-carrier-pigeon"}, "sources.rfid[0]"),
        ({"interactions": {"settle_reads": 0}}, "interactions.settle_reads"),
        ({"path": "missing.jsonl"}, "path"),
        ({"antennas": [{"port": 1, "zone": "a/b", "role": "shelf"}]}, "zone"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    write_recording(tmp_path / "reads.jsonl")
    with pytest.raises(ConfigError) as caught:
        parse_config(config_for(tmp_path, **change), base_dir=tmp_path)
    assert field in str(caught.value)


def test_inspect_summarises_without_identifiers(tmp_path: Path) -> None:
    write_recording(tmp_path / "reads.jsonl")
    summary = inspect_file(tmp_path / "reads.jsonl")
    assert summary["format"] == "recorded RFID reads"
    assert summary["distinct_tags"] == 5
    assert summary["distinct_products"] == 3
    assert summary["tags_not_gs1_product"] == 1
    assert summary["tags_by_category"] == {"formal_wear": 2, "protein": 1, "unknown": 2}
    assert summary["interactions"] == {
        "fitting_room": 1,
        "picked": 2,
        "purchased": 1,
        "returned": 1,
    }
    assert summary["problems"] == len(BAD_LINES)
    first_bad = 2 + len(scenario().sorted_reads()) // 2
    assert [p["line"] for p in summary["problem_lines"]] == list(
        range(first_bad, first_bad + len(BAD_LINES))
    )
    bare = tmp_path / "bare.jsonl"
    bare.write_text("\n".join((tmp_path / "reads.jsonl").read_text().splitlines()[1:]))
    plain = inspect_file(bare)
    assert plain["interactions"] is None and "antenna map" in plain["interactions_note"]


def identifiers(script: ReadScript) -> set[str]:
    """Every form an EPC or its serial could take in an output."""
    found: set[str] = set()
    for read in script.reads:
        found |= {read.epc, read.epc.lower(), base64.b64encode(bytes.fromhex(read.epc)).decode()}
        if read.epc.startswith("30"):
            found.add(str(int(read.epc, 16) & ((1 << 38) - 1)))  # the serial
    return found


def test_no_epc_or_serial_reaches_any_output(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = write_recording(tmp_path / "reads.jsonl")
    with (tmp_path / "reads.jsonl").open("a") as f:  # a bad line that carries an EPC
        f.write(
            json.dumps(
                {
                    "type": "SIMPLE",
                    "timestamp": "nope",
                    "data": {"idHex": script.reads[0].epc, "antenna": 1},
                }
            )
            + "\n"
        )
        bad_antenna = TagRead(79.0, script.reads[0].epc, 9, -50.0)
        f.write(json.dumps(zebra_event(bad_antenna)) + "\n")
    cfg = parse_config(config_for(tmp_path), base_dir=tmp_path)
    with caplog.at_level(logging.DEBUG):
        (source,) = build_sources(cfg.sources, SourceContext(store_zones=tuple(ZONES)))
        events = run_source(source)
        summary = inspect_file(tmp_path / "reads.jsonl")
    outputs = "\n".join(
        [repr(e) for e in events]
        + [json.dumps(source.health()), json.dumps(summary)]
        + [r.getMessage() for r in caplog.records]
    )
    assert events and caplog.records
    raw = (tmp_path / "reads.jsonl").read_text()
    assert all(r.epc.lower() in raw.lower() for r in script.reads)  # the check sees a leak
    leaked = sorted(i for i in identifiers(script) if i in outputs)
    assert leaked == []


def test_llrp_without_its_extra_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sllurp" else real(name, *a)
    )
    data = {
        "store": store(ZONES),
        "sources": {"rfid": [{"id": "r", "protocol": "llrp", "host": "10.0.0.9"}]},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data, name="c.toml")
    assert caught.value.lines == [
        "c.toml: sources.rfid[0].llrp: protocol 'llrp' needs the optional 'llrp' extra: "
        "pip install 'edge-agent[llrp]'"
    ]


def test_edge_agent_inspect_command_on_a_recording(tmp_path: Path) -> None:
    from tests.support import run_cli

    script = write_recording(tmp_path / "reads.jsonl")
    result = run_cli("inspect", str(tmp_path / "reads.jsonl"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["format"] == "recorded RFID reads" and summary["distinct_tags"] == 5
    assert not [i for i in identifiers(script) if i in result.stdout + result.stderr]
