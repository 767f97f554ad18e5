"""Deployment files: the systemd unit is valid and runs the agent the README describes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

UNIT = REPO / "deploy" / "edge-agent.service"


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: `make test` installs it"
    agent = Path(sys.executable).parent / "edge-agent"
    assert agent.exists(), "install the package first (make test does)"
    unit = tmp_path / "edge-agent.service"
    unit.write_text(UNIT.read_text().replace("/opt/edge-agent/bin/edge-agent", str(agent)))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "edge-agent.service" in line
    ]
    assert problems == [], problems
    assert result.returncode == 0, result.stderr


def test_unit_checks_config_before_start_and_stops_with_sigterm() -> None:
    text = UNIT.read_text()
    assert "ExecStartPre=/opt/edge-agent/bin/edge-agent check-config" in text
    assert "ExecStart=/opt/edge-agent/bin/edge-agent run --config" in text
    assert "KillSignal=SIGTERM" in text
    assert "ORT_DISABLE_TELEMETRY=1" in text
