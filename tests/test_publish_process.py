"""Whole processes against a real mosquitto: SIGKILL mid-stream, last will, the CLI replay."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from agent.publish.outbox import Outbox
from tests.conftest import REPO, Broker
from tests.publish_helpers import Subscriber, first_seen, make_event, retained_status, wait_until

STATUS = "retail/v1/store-1/gw-1/status"


class Driver:
    """tests/publish_driver.py as a child process, read line by line."""

    def __init__(self, port: int, outbox: Path, count: int, go_on_stdin: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.publish_driver", "--port", str(port)]
            + ["--outbox", str(outbox), "--count", str(count), "--batch", "200"]
            + (["--go-on-stdin"] if go_on_stdin else []),
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.queued = 0

    def wait_for(self, prefix: str, until: int = 0) -> str:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("queued "):
                self.queued = int(line.split()[1])
            if line.startswith(prefix) and (not until or self.queued >= until):
                return line.strip()
        raise AssertionError(f"driver ended before {prefix!r}: {self.stderr()}")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        line = self.wait_for("left")
        self.proc.wait(10)
        return line


def test_sigkill_mid_stream_then_restart_delivers_everything_queued(
    broker: Broker, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    sub = Subscriber(broker.port)
    try:
        first = Driver(broker.port, outbox, count=20_000, go_on_stdin=True)
        assert first.wait_for("connected") == "connected"
        assert (retained_status(broker.port, STATUS) or {}).get("state") == "online"
        first.go()
        first.wait_for("queued", until=1000)
        first.kill()
        queued = first.queued
        assert queued < 20_000, "killed before it finished feeding"
        # The broker saw the socket die without DISCONNECT and published the will.
        wait_until(
            lambda: (retained_status(broker.port, STATUS) or {}).get("state") == "offline",
            10,
            "the last will (offline)",
        )
        left = Outbox(outbox)
        in_outbox = left.depth
        left.close()
        assert in_outbox > 0, "the kill should leave undelivered events behind"

        second = Driver(broker.port, outbox, count=0)
        second.wait_for("idle")
        wait_until(
            lambda: len(set(sub.ids("traffic"))) >= queued, 30, "every queued event delivered"
        )
        assert (retained_status(broker.port, STATUS) or {}).get("state") == "online"
        assert second.stop() == "left 0"
    finally:
        sub.close()
    got = first_seen(sub.ids("traffic"))
    assert got[:queued] == [make_event(n)["id"] for n in range(queued)]
    status = retained_status(broker.port, STATUS)
    assert status is not None and status["state"] == "stopped"


def test_replay_cli_exits_3_when_the_broker_is_away_and_the_next_run_delivers(
    broker: Broker, tmp_path: Path
) -> None:
    fixture = REPO / "fixtures" / "demo-store"
    cmd = [str(Path(sys.executable).parent / "edge-agent"), "replay", str(fixture)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_AGENT_")}
    outbox = tmp_path / "replay-outbox.db"
    url = f"mqtt://127.0.0.1:{broker.port}"

    def replay(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cmd, "--mqtt", url, "--outbox", str(outbox), *extra],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    port = broker.port
    broker.stop()
    away = replay("--drain-timeout", "0.5")
    assert away.returncode == 3, away.stderr
    queued = re.search(r"(\d+) events still queued", away.stderr)
    assert queued is not None, away.stderr
    produced = re.search(r"replayed \d+ observations: (.*)", away.stderr)
    assert produced is not None, away.stderr
    per_topic = {t: int(n) for n, t in re.findall(r"(\d+) (\w+)", produced.group(1))}
    assert int(queued.group(1)) == sum(per_topic.values()) > 0
    assert str(outbox) in away.stderr

    broker.start()
    assert broker.port == port
    sub = Subscriber(port)
    try:
        again = replay()
        assert again.returncode == 0, again.stderr
        total = 2 * sum(per_topic.values())
        wait_until(lambda: len(sub.messages) >= total, 10, "both runs' events")
    finally:
        sub.close()
    for topic, count in per_topic.items():
        ids = sub.ids(topic)
        # The run that found no broker goes first, then this run: the same events,
        # in the same order, with the same ids (consumers dedupe on them).
        assert len(ids) == 2 * count
        assert ids[:count] == ids[count:]
        assert len(set(ids)) == count


def test_run_publishes_through_the_outbox_and_leaves_status_stopped(
    broker: Broker, tmp_path: Path
) -> None:
    # The fixture (its feeds beside its config), plus a broker and an outbox.
    fixture = shutil.copytree(REPO / "fixtures" / "demo-store", tmp_path / "store")
    outbox = tmp_path / "outbox.db"
    config = fixture / "fixture.toml"
    with config.open("a") as f:
        f.write(f'\n[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n')
        f.write(f'\n[outbox]\npath = "{outbox}"\n')
    sub = Subscriber(broker.port)
    try:
        run = subprocess.run(
            [str(Path(sys.executable).parent / "edge-agent"), "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert Outbox(outbox).depth == 0, "a clean stop waits for the acknowledgements"
        wait_until(lambda: len(sub.on("traffic")) > 0, 10, "traffic events")
    finally:
        sub.close()
    ids = sub.ids("traffic") + sub.ids("characteristics")
    assert len(ids) == len(set(ids))
    assert sub.on("traffic")[0].topic == "retail/v1/demo-store/gw-1/traffic"
    status = retained_status(broker.port, "retail/v1/demo-store/gw-1/status")
    assert (status or {}).get("state") == "stopped"
