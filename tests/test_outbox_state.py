"""A Hypothesis state machine over the outbox and the publisher's use of it.

Rules: enqueue, send (fill the in-flight window the way the MQTT link does),
PUBACK (the broker acknowledges one in-flight event), commit acks, disconnect
(the send pointer goes back to the oldest row) and restart (the process dies:
acknowledgements not yet committed are lost, the file is reopened).

Invariants: nothing acknowledged and committed is ever sent again; after a restart
only the in-flight window can be resent; nothing enqueued is lost unless counted
as dropped; the outbox is in enqueue order and sends per topic keep that order.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agent.publish.outbox import Outbox

FAST_DIR = "/dev/shm" if Path("/dev/shm").is_dir() else None
CAPACITY = 6
WINDOW = 3
TOPICS = ("traffic", "characteristics")


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # tmpfs when there is one: the machine checks logic, not the disk's fsync rate.
        self.dir = Path(tempfile.mkdtemp(prefix="outbox-sm-", dir=FAST_DIR))
        self.box = Outbox(self.dir / "o.db", max_events=CAPACITY)
        self.next_n = 0
        self.queue: list[str] = []  # model of the outbox: ids, oldest first
        self.topic_of: dict[str, str] = {}
        self.seq_of: dict[str, int] = {}
        self.inflight: list[str] = []  # handed to paho on this connection
        self.sent_upto = 0
        self.acked_uncommitted: list[str] = []
        self.committed: set[str] = set()
        self.dropped = 0
        self.dropped_before_restarts = 0
        self.last_sent_on_topic: dict[str, int] = {}
        self.abandoned: list[Outbox] = []

    def teardown(self) -> None:
        for box in [*self.abandoned, self.box]:
            box.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(topic=st.sampled_from(TOPICS), count=st.integers(1, 4))
    def enqueue(self, topic: str, count: int) -> None:
        batch = []
        for _ in range(count):
            event_id = f"e{self.next_n:05d}"
            self.next_n += 1
            self.topic_of[event_id] = topic
            batch.append((topic, event_id, event_id.encode(), 1))
            self.queue.append(event_id)
        assert self.box.put_many(batch) == min(count, CAPACITY)
        while len(self.queue) > CAPACITY:
            self.queue.pop(0)
            self.dropped += 1

    @rule()
    def send(self) -> None:
        rows = self.box.pending_after(self.sent_upto, WINDOW - len(self.inflight))
        for row in rows:
            assert row.event_id not in self.committed, "an acknowledged event was sent again"
            n = int(row.event_id[1:])
            topic = self.topic_of[row.event_id]
            assert n > self.last_sent_on_topic.get(topic, -1), f"{topic} out of order"
            self.last_sent_on_topic[topic] = n
            self.seq_of[row.event_id] = row.seq
            self.inflight.append(row.event_id)
            self.sent_upto = row.seq

    @precondition(lambda self: bool(self.inflight))
    @rule(data=st.data())
    def puback(self, data: st.DataObject) -> None:
        event_id = data.draw(st.sampled_from(self.inflight))
        self.inflight.remove(event_id)
        self.acked_uncommitted.append(event_id)

    @rule()
    def commit_acks(self) -> None:
        self.box.ack([self.seq_of[i] for i in self.acked_uncommitted])
        for event_id in self.acked_uncommitted:
            if event_id in self.queue:  # not already dropped as oldest
                self.queue.remove(event_id)
                self.committed.add(event_id)
        self.acked_uncommitted.clear()

    @rule()
    def disconnect(self) -> None:
        # The link takes the acks it already has, then forgets paho's state and
        # starts again from the oldest undelivered row.
        self.commit_acks()
        self._new_connection()

    @rule(crash=st.booleans())
    def restart(self, crash: bool) -> None:
        # The process stops: PUBACKs received but not committed are lost with it.
        # A crash leaves the old connection open and its WAL unmerged, as SIGKILL would.
        self.dropped_before_restarts += self.box.health()["outbox_dropped_full"]
        if crash:
            self.abandoned.append(self.box)
        else:
            self.box.close()
        self.box = Outbox(self.dir / "o.db", max_events=CAPACITY)
        self.acked_uncommitted.clear()
        self._new_connection()

    def _new_connection(self) -> None:
        self.inflight.clear()
        self.sent_upto = 0
        self.last_sent_on_topic.clear()

    @invariant()
    def outbox_matches_model_in_order(self) -> None:
        assert [r.event_id for r in self.box.pending_after(0, 10_000)] == self.queue
        assert self.box.depth == len(self.queue)

    @invariant()
    def nothing_lost_unless_counted(self) -> None:
        counted = self.dropped_before_restarts + self.box.health()["outbox_dropped_full"]
        assert counted == self.dropped
        assert len(self.queue) + len(self.committed) + self.dropped == self.next_n


TestOutboxStateMachine = OutboxMachine.TestCase
TestOutboxStateMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
