"""Live mode as a real process: sources in threads, signals, health, bounded queues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from agent.observations import TrackPoint
from agent.publish.events import iso
from agent.runtime import BoundedQueue
from tests.support import REPO, SQUARE_STORE, read_jsonl, run_cli, wait_until

T0 = 1_764_403_200.0


def track_lines(track: int, start: float, seconds: int, x: float = 5.0) -> str:
    return "".join(
        f'{{"type":"track","t":{start + i},"track":{track},"x":{x},"y":5}}\n'
        for i in range(seconds)
    )


def live_config(tmp_path: Path, feed: Path, extra: str = "") -> Path:
    cfg = tmp_path / "agent.toml"
    cfg.write_text(
        SQUARE_STORE
        + f'[[sources.recorded]]\nid = "cam"\npath = "{feed}"\n'
        + "[aggregation]\nwindow_s = 60\nvisit_timeout_s = 5\n[privacy]\nk = 2\n"
        + extra
    )
    return cfg


def test_run_ends_when_every_source_has_ended(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(track_lines(n, T0 + n, 100) for n in range(3)))
    out = tmp_path / "events.jsonl"
    result = run_cli("run", "--config", str(live_config(tmp_path, feed)), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "every source ended" in result.stderr
    events = read_jsonl(out.read_text())
    store = [e["data"] for e in events if e["subject"] == "store" and "traffic" in e["type"]]
    assert [s["window"]["start"][11:19] for s in store] == ["08:00:00", "08:01:00"]
    assert store[-1]["footfall"]["out"] is None or store[-1]["footfall"]["out"] >= 2


def test_sigterm_flushes_the_open_window_as_incomplete_and_exits_0(tmp_path: Path) -> None:
    fifo = tmp_path / "feed.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "events.jsonl"
    # Live timestamps (about now) in day-long windows, so all points share one window.
    cfg = live_config(tmp_path, fifo, "[runtime]\nhealth_interval_s = 1\n")
    cfg.write_text(cfg.read_text().replace("window_s = 60", "window_s = 86400"))
    base = float(int(time.time()) - 30)
    next_midnight = (base // 86400 + 1) * 86400
    if base + 21 >= next_midnight:
        base = next_midnight  # at most 30 s ahead: inside the agent's future allowance
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "run", "--config", str(cfg), "--out", str(out)],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = open(fifo, "w")  # noqa: SIM115 - held open across the signal on purpose
    try:
        for n in range(3):
            writer.write(track_lines(n, base + n, 20))
        writer.flush()
        # A health event (every second) proves the core is running and has read the feed.
        assert wait_until(lambda: out.exists() and '"observations":60' in out.read_text(), 15)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
    finally:
        writer.close()
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert "received SIGTERM: stopping" in stderr
    assert "stopped: on request" in stderr
    events = read_jsonl(out.read_text())
    health = [e for e in events if e["type"] == "edge-agent.health.v1"]
    assert health and health[0]["data"]["sources"]["cam"]["state"] in ("running", "ended")
    store = [e["data"] for e in events if e["subject"] == "store" and "traffic" in e["type"]]
    assert len(store) == 1
    assert store[0]["window"]["complete"] is False, store[0]
    assert store[0]["window"]["observed_to"] == iso(base + 21)
    # Still inside at shutdown: occupancy, not exits.
    assert store[0]["occupancy"]["end"] == 3
    assert store[0]["footfall"]["out"] == 0


def test_bounded_queue_drops_the_oldest_and_counts() -> None:
    wake = threading.Event()
    q = BoundedQueue(3, wake)
    for i in range(5):
        q.put(TrackPoint(float(i), "cam", 1, 0.0, 0.0))
    assert wake.is_set()
    assert q.dropped == 2
    assert [o.t for o in q.take_all()] == [2.0, 3.0, 4.0]
    assert len(q) == 0


def test_a_source_that_crashes_is_restarted_and_reported(tmp_path: Path) -> None:
    # A directory where a feed file should be: reading it fails at run time.
    feed = tmp_path / "feed.jsonl"
    feed.write_text(track_lines(1, T0, 5))
    cfg = live_config(tmp_path, feed)
    feed.unlink()
    feed.mkdir()
    result = run_cli("run", "--config", str(cfg), timeout=60)
    assert result.returncode == 0
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert f"{feed}: cannot read" in errors[0]
