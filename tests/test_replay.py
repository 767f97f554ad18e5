"""Replays through the real command: deterministic, checked, tolerant of bad lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support import REPO, read_jsonl, run_cli

DEMO = REPO / "fixtures" / "demo-store"


def copy_demo(tmp_path: Path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target)
    return target


def test_demo_replay_matches_expected_events() -> None:
    result = run_cli("replay", str(DEMO), "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ")
    expected = read_jsonl((DEMO / "expected.jsonl").read_text())
    assert {e["type"] for e in expected} >= {"edge-agent.traffic.v1"}
    assert len(expected) >= 20


@pytest.mark.parametrize(
    "fixture", sorted(p.parent.name for p in (REPO / "fixtures").glob("*/fixture.toml"))
)
def test_every_fixture_replays_to_its_expected_events(fixture: str) -> None:
    result = run_cli("replay", str(REPO / "fixtures" / fixture), "--check", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_two_replays_give_identical_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run_cli("replay", str(DEMO), "--out", str(a)).returncode == 0
    assert run_cli("replay", str(DEMO), "--out", str(b)).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() == (DEMO / "expected.jsonl").read_bytes()


def test_console_output_is_one_cloudevent_per_line() -> None:
    result = run_cli("replay", str(DEMO))
    assert result.returncode == 0
    events = read_jsonl(result.stdout)
    assert events
    for e in events:
        assert e["specversion"] == "1.0"
        assert len(e["id"]) == 26
        assert e["source"] == "urn:edge-agent:demo-store:gw-1"
        assert e["time"].endswith("Z")
    assert "replayed" in result.stderr  # the summary goes to the log, not stdout


def test_garbage_line_gives_one_warning_naming_it_and_the_rest_replays(tmp_path: Path) -> None:
    fixture = copy_demo(tmp_path)
    feed = fixture / "cam-door.detections.jsonl"
    lines = feed.read_text().splitlines(keepends=True)
    lines.insert(99, '{"t": oops, "frame": 12, "boxes": []}\n')
    feed.write_text("".join(lines))
    result = run_cli("replay", str(fixture), "--check")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1
    assert f"{feed}:100: skipped: not valid JSON" in warnings[0]
    assert "oops" not in result.stderr


def test_check_reports_a_readable_diff_and_exits_1(tmp_path: Path) -> None:
    fixture = copy_demo(tmp_path)
    expected = read_jsonl((fixture / "expected.jsonl").read_text())
    expected[0]["data"]["footfall"]["in"] += 1
    dropped = expected.pop(3)
    (fixture / "expected.jsonl").write_text("".join(json.dumps(e) + "\n" for e in expected))
    result = run_cli("replay", str(fixture), "--check")
    assert result.returncode == 1
    assert "MISMATCH" in result.stderr
    assert f"unexpected: edge-agent.traffic.v1 {dropped['subject']}" in result.stderr
    changed = [line for line in result.stderr.splitlines() if "changed:" in line]
    assert len(changed) == 1
    assert "data.footfall.in: expected" in changed[0]


def test_write_expected_round_trips(tmp_path: Path) -> None:
    fixture = copy_demo(tmp_path)
    (fixture / "expected.jsonl").unlink()
    assert run_cli("replay", str(fixture), "--write-expected").returncode == 0
    assert (fixture / "expected.jsonl").read_bytes() == (DEMO / "expected.jsonl").read_bytes()


def test_bad_fixture_config_exits_1_with_field_path(tmp_path: Path) -> None:
    fixture = copy_demo(tmp_path)
    cfg = fixture / "fixture.toml"
    cfg.write_text(cfg.read_text().replace("window_s = 300", "window_s = 301"))
    result = run_cli("replay", str(fixture))
    assert result.returncode == 1
    assert (
        result.stderr.strip() == f"{cfg}: aggregation.window_s: must divide 86400 (a day) "
        "evenly, got 301"
    )


def test_inspect_recorded_feed_summarises_without_identifiers(tmp_path: Path) -> None:
    feed = tmp_path / "f.jsonl"
    feed.write_text(
        '{"type":"track","t":10,"track":424242,"x":1,"y":1}\n'
        '{"type":"device","t":11,"token":"0123456789abcdef","rssi":-50,"kind":"probe",'
        '"randomised":false}\n'
        "garbage\n"
        '{"type":"track","t":9,"track":424242,"x":1,"y":2}\n'
    )
    result = run_cli("inspect", str(feed))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["observations"] == 3
    assert summary["by_type"] == {"device": 1, "track": 2}
    assert summary["distinct_tracks"] == 1
    assert summary["out_of_order"] == 1
    assert summary["problem_lines"] == [{"line": 3, "reason": "not valid JSON"}]
    assert summary["time_span"]["seconds"] == 2
    assert "424242" not in result.stdout
    assert "0123456789abcdef" not in result.stdout


def test_inspect_unknown_or_missing_file_exits_1(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    result = run_cli("inspect", str(other), str(tmp_path / "missing.jsonl"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"{other}: not a feed file edge-agent understands"
    assert lines[1].startswith(f"{tmp_path / 'missing.jsonl'}: cannot read")


def test_version_and_help() -> None:
    from agent import __version__

    assert run_cli("--version").stdout.strip() == f"edge-agent {__version__}"
    help_text = run_cli("--help").stdout
    for command in ("run", "replay", "inspect", "check-config"):
        assert command in help_text
