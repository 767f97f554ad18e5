"""Durable publishing against a bare paho QoS 1 loop, on one mosquitto, in one run.

- baseline: one paho client publishes the same payloads at QoS 1 with the same
  in-flight window and waits for every PUBACK (no persistence at all);
- subject: ``MqttSink`` — every event committed to the SQLite outbox (WAL,
  synchronous=FULL) before paho sees it, deleted on its PUBACK. Events are handed
  over as the runtime does, a closed window at a time (``emit_many``, one fsync per
  window of ``WINDOW_EVENTS``); one event per commit is measured too, as a
  figure of the disk's fsync rate;
- drain: ``BACKLOG`` events queued while the broker is down, then the broker
  starts; the time from the broker's start to an empty outbox.

Throughput on a shared machine swings with other jobs, so rounds alternate and
the best of each is kept, and CPU time per event (this process only; the broker
is the same for both) is printed beside it as a steadier figure.

Run: .venv/bin/python bench/publish.py [--events N]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.publish.config import MqttConfig
from agent.publish.events import dumps
from agent.publish.mqtt import MqttSink
from agent.publish.mqtt_client import EVENT_CONTENT_TYPE, publish_properties
from agent.publish.outbox import Outbox

REPO = Path(__file__).resolve().parent.parent
EVENTS = 5000
SINGLE_EVENTS = 300
WINDOW_EVENTS = 50
"""Events of one closed window for a 24-zone store: traffic and characteristics for
each zone and the store (2 x 25), what the aggregator hands over at once."""
BACKLOG = 10_000
INFLIGHT = 20
TARGET_RATIO = 0.5
TARGET_DRAIN_S = 30.0
ROUNDS = 3
PROTOCOLS = ("5", "3.1.1")


def event(n: int) -> dict[str, Any]:
    """A traffic event the size of the real ones (about 450 bytes)."""
    return {
        "specversion": "1.0",
        "id": f"01BENCH{n:019d}",
        "source": "urn:edge-agent:bench-store:gw-1",
        "type": "edge-agent.traffic.v1",
        "subject": f"zone/aisle-{n % 24}",
        "time": "2026-11-29T06:05:00.000Z",
        "datacontenttype": "application/json",
        "dataschema": "urn:edge-agent:schema:traffic:1",
        "data": {
            "window_start": "2026-11-29T06:00:00.000Z",
            "window_end": "2026-11-29T06:05:00.000Z",
            "zone": f"aisle-{n % 24}",
            "footfall_in": 17,
            "footfall_out": 15,
            "occupancy_mean": 3.4,
            "occupancy_max": 7,
            "dwell_s": {"p50": 41.0, "p90": 180.5, "p99": 402.0},
        },
    }


class Mosquitto:
    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def bare_paho(port: int, payloads: list[bytes], protocol: str) -> tuple[float, float]:
    """(events/s, CPU µs/event) of a plain paho QoS 1 publish loop, until the last PUBACK.

    Same protocol and PUBLISH properties as the subject, so the wire carries the
    same bytes; only the outbox and the publisher loop are missing.
    """
    acked = 0
    done = threading.Event()

    def on_publish(*_: Any) -> None:
        nonlocal acked
        acked += 1
        if acked == len(payloads):
            done.set()

    config = MqttConfig(host="127.0.0.1", port=port, max_inflight=INFLIGHT, protocol=protocol)
    props = publish_properties(config, EVENT_CONTENT_TYPE)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="bench-bare",
        protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(INFLIGHT)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    start, cpu = time.perf_counter(), time.process_time()
    for payload in payloads:
        client.publish("bench/bare/traffic", payload, qos=1, properties=props)
    if not done.wait(120):
        raise RuntimeError("bare paho: not every PUBACK arrived")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    client.loop_stop()
    client.disconnect()
    return len(payloads) / elapsed, cpu * 1e6 / len(payloads)


def durable(
    port: int, workdir: Path, events: list[dict[str, Any]], batch: int, protocol: str
) -> float:
    """(events/s, CPU µs/event) through MqttSink, from the first emit to an empty outbox.

    Its CPU includes serialising the events, which the baseline gets done for it.
    """
    config = MqttConfig(host="127.0.0.1", port=port, max_inflight=INFLIGHT, protocol=protocol)
    path = workdir / f"outbox-{protocol}-{batch}.db"
    sink = MqttSink(config, Outbox(path), "bench", "gw-1", environ={})
    deadline = time.monotonic() + 10
    while not sink.health()["connected"] and time.monotonic() < deadline:
        time.sleep(0.01)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(events), batch):
        sink.emit_many([("traffic", e) for e in events[i : i + batch]])
    left = sink.drain(timeout_s=300)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    sink.close()
    path.unlink()
    if left:
        raise RuntimeError(f"durable path: {left} events not delivered")
    return len(events) / elapsed, cpu * 1e6 / len(events)


def drain_backlog(broker: Mosquitto, workdir: Path, count: int) -> tuple[float, float]:
    """Seconds from the broker's start to an empty outbox, and from the reconnect."""
    broker.stop()
    config = MqttConfig(
        host="127.0.0.1", port=broker.port, max_inflight=INFLIGHT, reconnect_max_s=1.0
    )
    sink = MqttSink(config, Outbox(workdir / "backlog.db"), "bench", "gw-1", environ={})
    for i in range(0, count, 500):
        sink.emit_many([("traffic", event(n)) for n in range(i, min(i + 500, count))])
    assert sink.outbox.depth == count
    broker.start()
    start = time.perf_counter()
    while not sink.health()["connected"]:
        time.sleep(0.005)
    connected = time.perf_counter()
    left = sink.drain(timeout_s=120)
    end = time.perf_counter()
    sink.close()
    if left:
        raise RuntimeError(f"drain: {left} events left")
    return end - start, end - connected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    (REPO / ".cache").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-publish-", dir=REPO / ".cache"))
    events = [event(n) for n in range(args.events)]
    payloads = [dumps(e).encode() for e in events]
    broker = Mosquitto(workdir)
    broker.start()
    best: dict[tuple[str, str], tuple[float, float]] = {}
    try:
        # Baseline and subject alternate, best of each kept: the gateway (and this
        # machine) runs other work, and a burst of it should not decide the ratio.
        for _ in range(args.rounds):
            for protocol in PROTOCOLS:
                rates = {
                    "bare": bare_paho(broker.port, payloads, protocol),
                    "durable": durable(broker.port, workdir, events, WINDOW_EVENTS, protocol),
                }
                for name, (rate, cpu) in rates.items():
                    old_rate, old_cpu = best.get((name, protocol), (0.0, float("inf")))
                    best[name, protocol] = (max(old_rate, rate), min(old_cpu, cpu))
        single, _ = durable(broker.port, workdir, events[:SINGLE_EVENTS], 1, "5")
        total_s, after_connect_s = drain_backlog(broker, workdir, BACKLOG)
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"{args.events} events of {len(payloads[0])} bytes, in-flight window {INFLIGHT}, "
        f"best of {args.rounds} alternating rounds"
    )
    ratios = []
    for protocol in PROTOCOLS:
        (base, base_cpu), (subject, subject_cpu) = best["bare", protocol], best["durable", protocol]
        ratios.append(subject / base)
        print(f"MQTT {protocol}")
        print(
            f"  baseline  bare paho QoS 1 publish loop:       {base:8.0f} events/s "
            f"{base_cpu:5.0f} µs CPU/event"
        )
        print(
            f"  subject   outbox + MQTT, {WINDOW_EVENTS}-event windows: {subject:8.0f} events/s "
            f"{subject_cpu:5.0f} µs CPU/event"
        )
        print(
            f"  ratio     {subject / base:.2f} events/s (target >= {TARGET_RATIO}), "
            f"{base_cpu / subject_cpu:.2f} CPU efficiency"
        )
    print(f"outbox + MQTT 5 with one fsync per event:           {single:8.0f} events/s")
    print(
        f"drain of {BACKLOG} queued events after the broker returns: {total_s:.2f} s "
        f"({after_connect_s:.2f} s after the reconnect; target < {TARGET_DRAIN_S:g} s)"
    )
    met = min(ratios) >= TARGET_RATIO and total_s < TARGET_DRAIN_S
    print("targets met" if met else "TARGETS MISSED (a loaded machine lowers the ratio; rerun)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
