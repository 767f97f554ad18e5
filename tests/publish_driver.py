"""A small agent process for the crash tests: feeds numbered events through a real MqttSink.

    python -m tests.publish_driver --port P --outbox FILE --count N [--batch B]

Waits until connected, prints ``connected``, and with ``--go-on-stdin`` waits for a
line on stdin before feeding (so a test can look at the broker first). Prints
``queued K`` after each committed batch (K events in total so far), then
``idle`` and waits; SIGTERM closes the sink cleanly (retained status ``stopped``)
and prints ``left D`` with the events still in the outbox. The tests SIGKILL it
at chosen moments and start it again on the same outbox.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from agent.publish.mqtt import MqttSink
from agent.publish.outbox import Outbox
from tests.publish_helpers import make_event, mqtt_config

CONNECT_TIMEOUT_S = 10.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--outbox", required=True)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--max-inflight", type=int, default=5)
    parser.add_argument("--go-on-stdin", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sink = MqttSink(
        mqtt_config(args.port, max_inflight=args.max_inflight),
        Outbox(Path(args.outbox)),
        "store-1",
        "gw-1",
        environ={},
    )
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while not sink.health()["connected"] and time.monotonic() < deadline:
        time.sleep(0.02)
    print("connected" if sink.health()["connected"] else "not connected", flush=True)
    if args.go_on_stdin:
        sys.stdin.readline()
    done = 0
    while done < args.count and not stop.is_set():
        n = min(args.batch, args.count - done)
        sink.emit_many([("traffic", make_event(i)) for i in range(done, done + n)])
        done += n
        print(f"queued {done}", flush=True)
    print("idle", flush=True)
    stop.wait()
    # A kill can land between a batch's commit and its "queued" line, so the outbox
    # may hold a few events more than the test counted: let them go before closing.
    sink.drain(10.0)
    sink.close(clean=True)
    print(f"left {Outbox(Path(args.outbox)).depth}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
