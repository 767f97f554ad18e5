"""The behaviour benchmark still runs against the shipped models and prints its verdict
(no timing is asserted here: the machines are shared; see bench/behaviour.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_behaviour_benchmark_runs_and_reports_its_ratio() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "behaviour.py"), "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "features + batched inference:" in done.stdout
    assert "ratio subject/baseline:" in done.stdout
    assert "behaviour-camera-rfid-wifi" in done.stdout
