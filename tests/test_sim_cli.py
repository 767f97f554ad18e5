"""``edge-agent simulate`` end to end: a fixture that replays, checks, and leaks nothing."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "agent" / "sim" / "stores" / "demo-store.toml"


def agent(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def simulated(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("simulated") / "store"
    run = agent(
        "simulate", "--config", str(DEMO), "--minutes", "4", "--seed", "4", "--out", str(out)
    )
    return out, run


def test_simulate_writes_a_fixture_that_replays_and_checks(
    simulated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, run = simulated
    assert run.returncode == 0, run.stderr
    assert "simulate: walking" in run.stderr and "wrote" in run.stderr
    names = {p.name for p in out.iterdir()}
    assert {"fixture.toml", "expected.jsonl", "truth.jsonl", "catalogue.csv"} <= names
    assert (out / "expected.jsonl").read_text().count("\n") > 0
    check = agent("replay", str(out), "--check")
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("OK")


def test_replaying_a_simulation_leaks_no_identifier(
    simulated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, run = simulated
    assert run.returncode == 0, run.stderr
    epcs = set()
    for feed in out.glob("*.rfid.jsonl"):
        for line in feed.read_text().splitlines()[1:]:
            start = line.index('"idHex":"') + len('"idHex":"')
            epcs.add(line[start : start + 24].lower())
    assert epcs
    macs = set()
    for capture in out.glob("*.pcap.gz"):
        raw = gzip.decompress(capture.read_bytes())
        for at in range(len(raw) - 16):
            if raw[at : at + 2] == b"\x40\x00" and raw[at + 4 : at + 10] == b"\xff" * 6:
                macs.add(raw[at + 10 : at + 16].hex())
    assert macs
    replay = agent("replay", str(out), "--log-level", "DEBUG")
    assert replay.returncode == 0, replay.stderr
    said = (replay.stdout + replay.stderr + (out / "expected.jsonl").read_text()).lower()
    said_bare = said.replace(":", "").replace("-", "")
    assert not [e for e in epcs if e in said_bare], "an EPC reached the output"
    assert not [m for m in macs if m in said_bare], "a MAC reached the output"


def test_a_store_file_without_simulation_table_is_one_clear_error(tmp_path: Path) -> None:
    store = tmp_path / "store.toml"
    store.write_text('[store]\nid = "s"\ngateway_id = "g"\n')
    run = agent("simulate", "--config", str(store), "--minutes", "1", "--out", str(tmp_path / "o"))
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "[simulation]" in lines[0] and str(store) in lines[0]


def test_a_wrong_simulation_field_names_the_field(tmp_path: Path) -> None:
    store = tmp_path / "store.toml"
    text = DEMO.read_text().replace("arrivals_per_hour = 150", "arrivals_per_hour = -3")
    store.write_text(text.replace("staff = 2", "staff = 2\nshoppers = 9"))
    run = agent("simulate", "--config", str(store), "--minutes", "1", "--out", str(tmp_path / "o"))
    assert run.returncode == 1
    assert "simulation: arrivals_per_hour" in run.stderr
    assert "simulation: shoppers" in run.stderr
    assert not (tmp_path / "o").exists()


def test_an_unusable_layout_is_reported_before_anything_is_written(tmp_path: Path) -> None:
    store = tmp_path / "store.toml"
    text = DEMO.read_text().replace('zone = "promo"\ncategories', 'zone = "bakery"\ncategories')
    text = text.replace(
        "image_points = [[0, 720], [1280, 720], [1130, 60], [150, 60]]",
        "image_points = [[0, 0], [1, 1], [2, 2], [3, 3]]",
    )
    store.write_text(
        text.replace('zone = "entrance"\nposition = [2, 1]', 'zone = "x"\nposition = [2, 1]')
    )
    run = agent("simulate", "--config", str(store), "--minutes", "1", "--out", str(tmp_path / "o"))
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert any("stock: zone 'bakery' is not in store.zones" in line for line in lines)
    assert any("cameras[1]:" in line and "degenerate" in line for line in lines)
    assert any("wifi[0].zone: 'x'" in line for line in lines)
    assert all(line.startswith(f"{store}: simulation: ") for line in lines)
    assert not (tmp_path / "o").exists()
