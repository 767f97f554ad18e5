"""`edge-agent run` itself SIGKILLed with events queued, then restarted: all arrive.

The broker is away while the live agent turns a feed into windows, so its events
wait in the outbox; the agent is killed with SIGKILL (no flush, no clean stop);
the broker comes back and the agent is started again on the same outbox. Every
event that was in the outbox reaches a subscriber, with the ids it had.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import Broker
from tests.publish_helpers import Subscriber, retained_status, wait_until
from tests.support import REPO, SQUARE_STORE

STATUS = "retail/v1/t-store/gw-t/status"


def queued_ids(outbox: Path) -> list[str]:
    """The outbox's rows, read-only, as a second reader beside the agent."""
    try:
        with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=5) as db:
            return [row[0] for row in db.execute("SELECT event_id FROM events ORDER BY seq")]
    except sqlite3.Error:
        return []


def agent(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "run", "--config", str(config)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def config_file(path: Path, feed: Path, broker: Broker, outbox: Path) -> Path:
    path.write_text(
        SQUARE_STORE
        + f'[[sources.recorded]]\nid = "cam"\npath = "{feed}"\nsensors = ["camera"]\n'
        + "[aggregation]\nwindow_s = 10\nvisit_timeout_s = 1\nreorder_s = 1\n"
        + "zone_confirm_s = 0\n[privacy]\nk = 2\n"
        + f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n[outbox]\npath = "{outbox}"\n'
    )
    return path


def test_sigkilled_agent_delivers_everything_queued_after_restart(
    broker: Broker, tmp_path: Path
) -> None:
    outbox = tmp_path / "state" / "outbox.db"
    fifo = tmp_path / "feed.fifo"
    os.mkfifo(fifo)
    broker.stop()  # away: nothing can be delivered, everything queues
    first = agent(config_file(tmp_path / "first.toml", fifo, broker, outbox))
    writer = open(fifo, "w")  # noqa: SIM115 - kept open: a live feed that never ends
    try:
        now = float(int(time.time()))
        for track in range(3):  # 40 s of three shoppers, ending now: four windows close
            for i in range(40):
                t = now - 40 + i
                writer.write(f'{{"type":"track","t":{t},"track":{track},"x":5,"y":5}}\n')
        writer.flush()
        wait_until(lambda: len(queued_ids(outbox)) >= 12, 30, "windows queued in the outbox")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        writer.close()
    before = queued_ids(outbox)
    assert len(before) >= 12 and len(set(before)) == len(before)

    broker.start()
    sub = Subscriber(broker.port)
    try:
        empty = tmp_path / "empty.jsonl"
        empty.write_text("")
        second = agent(config_file(tmp_path / "second.toml", empty, broker, outbox))
        _, stderr = second.communicate(timeout=60)
        assert second.returncode == 0, stderr
        assert f"holds {len(before)} undelivered events" in stderr
        got = sub.ids("traffic") + sub.ids("characteristics")
        wait_until(
            lambda: set(before) <= set(sub.ids("traffic") + sub.ids("characteristics")),
            20,
            "every queued event delivered",
        )
        got = sub.ids("traffic") + sub.ids("characteristics")
    finally:
        sub.close()
    assert set(before) <= set(got)
    assert queued_ids(outbox) == []
    assert (retained_status(broker.port, STATUS) or {}).get("state") == "stopped"
