"""Helpers shared by tests: running the real CLI, writing small configs and feeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EDGE_AGENT = [sys.executable, "-m", "agent.cli"]


def run_cli(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run ``edge-agent ARGS`` as a real process from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [*EDGE_AGENT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kw.pop("cwd", REPO),
        env=env,
        **kw,
    )


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def read_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


SQUARE_STORE = """
[store]
id = "t-store"
gateway_id = "gw-t"

[[store.zones]]
id = "door"
kind = "entrance"
polygon = [[0, 0], [2, 0], [2, 2], [0, 2]]

[[store.zones]]
id = "aisle"
kind = "aisle"
polygon = [[2, 0], [10, 0], [10, 10], [2, 10]]
"""


def wait_until(predicate: Callable[[], bool], timeout: float = 10, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()
