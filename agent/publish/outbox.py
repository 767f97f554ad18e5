"""The durable outbox: events wait here, in SQLite, until the broker acknowledges them.

paho keeps its session only in memory, so the outbox is the source of truth for
what still has to reach the broker. An event is committed here before anything
hands it to paho, and its row is deleted only when the broker's PUBACK arrives;
after a restart or a reconnect every remaining row is sent again, oldest first.

Durability: WAL with ``synchronous=FULL`` for inserts, so an accepted event
survives a power cut. Deletes after a PUBACK commit with ``synchronous=NORMAL``:
losing one to a power cut only means the event is sent once more, which the
at-least-once contract allows (consumers dedupe on the CloudEvents id), and it
keeps the fsync budget for the inserts that need it. ``secure_delete`` zeroes
delivered rows so delivered payloads do not linger in free pages.

Bounds: at most ``max_events`` rows and nothing older than ``max_age_s``; when
full, ``drop_oldest`` deletes the oldest rows and ``reject_new`` refuses the new
one. Every drop is counted (see ``health``) and logged once per burst.

Example:
    >>> import tempfile, pathlib
    >>> box = Outbox(pathlib.Path(tempfile.mkdtemp()) / "outbox.db")
    >>> box.put("traffic", "01J0", b"{}")
    True
    >>> [row.event_id for row in box.pending_after(0, 10)]
    ['01J0']
    >>> box.ack([box.pending_after(0, 10)[0].seq]); box.depth
    0
    >>> box.close()
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple, overload

import sqlite_utils

from agent.publish.drops import DropCounter

log = logging.getLogger(__name__)

Policy = Literal["drop_oldest", "reject_new"]

EXPIRE_EVERY_S = 1.0
"""Expired rows are looked for at most this often: the check is one indexed query,
but running it on every put would double the write cost for nothing."""

BUSY_TIMEOUT_S = 10.0
"""How long a statement waits for another process holding the file (a second agent
started by mistake, or ``sqlite3`` opened by a field engineer) before failing."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    -- AUTOINCREMENT: a seq is never reused, even after the table empties, so
    -- "everything after seq N" stays correct for the publisher's send pointer.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    event_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    queued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_queued_at ON events (queued_at);
"""


class QueuedEvent(NamedTuple):
    """One row of the outbox, as handed to the publisher."""

    seq: int
    topic: str
    event_id: str
    payload: bytes
    qos: int


class OutboxError(Exception):
    """The outbox file cannot be opened or written (one line, names the file)."""


class Outbox:
    """A bounded, durable FIFO of events waiting for a broker acknowledgement.

    Thread-safe: the runtime thread puts while the publisher thread reads and
    acks; one connection guarded by a lock keeps puts and deletes serialised.

    Args:
        path: the SQLite file; created with its directory when missing.
        max_events: most rows kept; beyond it ``policy`` decides what is dropped.
        max_age_s: rows queued longer ago than this are dropped instead of sent.
        policy: ``drop_oldest`` (default) or ``reject_new`` when full.
        clock: wall-clock seconds (for ages), injectable for tests.
    """

    def __init__(
        self,
        path: Path,
        max_events: int = 100_000,
        max_age_s: float = 7 * 86400,
        policy: Policy = "drop_oldest",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, got {max_events}")
        self.path = path
        self.max_events = max_events
        self.max_age_s = max_age_s
        self.policy: Policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self.dropped_full = DropCounter(
            "oldest events: outbox full" if policy == "drop_oldest" else "new events: outbox full",
            log,
        )
        self.dropped_expired = DropCounter(f"events older than {max_age_s:g} s", log)
        self._next_expiry_check = 0.0
        self._expire_failing = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._db = sqlite_utils.Database(conn)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.conn.executescript(_SCHEMA)
            self._depth = int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        except OSError as e:
            raise OutboxError(f"{path}: cannot create the outbox: {e.strerror or e}") from None
        except sqlite3.Error as e:
            raise OutboxError(f"{path}: cannot open the outbox: {e}") from None
        if self._depth:
            log.info("outbox %s holds %d undelivered events; sending them first", path, self._depth)

    @property
    def depth(self) -> int:
        """Events not yet acknowledged by the broker."""
        return self._depth

    def put(self, topic: str, event_id: str, payload: bytes, qos: int = 1) -> bool:
        """Commit one event durably; returns False when ``reject_new`` refused it."""
        return self.put_many([(topic, event_id, payload, qos)]) == 1

    def put_many(self, events: Sequence[tuple[str, str, bytes, int]]) -> int:
        """Commit events (topic, event id, payload, qos) in one durable transaction.

        One fsync for the lot: the runtime hands over a closed window's events
        together, and a commit per event would cap the rate at the disk's fsyncs/s.

        Returns:
            how many were accepted (all, unless ``reject_new`` refused some).
        """
        now = self._clock()
        with self._lock:
            room = self.max_events - self._depth
            overflow = len(events) - room
            rejected = 0
            if overflow > 0 and self.policy == "reject_new":
                rejected = overflow
                events = events[: max(room, 0)]
            try:
                with self._transaction(durable=True) as conn:
                    if overflow > 0 and self.policy == "drop_oldest":
                        # Rows beyond capacity within this batch never reach the table.
                        events = events[-self.max_events :]
                        evict = max(self._depth + len(events) - self.max_events, 0)
                        evicted = conn.execute(
                            "DELETE FROM events WHERE seq IN "
                            "(SELECT seq FROM events ORDER BY seq LIMIT ?)",
                            (evict,),
                        ).rowcount
                        self._depth -= evicted
                    conn.executemany(
                        "INSERT INTO events (topic, event_id, payload, qos, queued_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(t, i, p, q, now) for t, i, p, q in events],
                    )
            except sqlite3.Error as e:
                raise OutboxError(f"{self.path}: cannot write the outbox: {e}") from None
            self._depth += len(events)
            if overflow > 0:
                self.dropped_full.add(overflow if self.policy == "drop_oldest" else rejected)
            else:
                self.dropped_full.end_burst()
            return len(events)

    @overload
    def pending_after(self, seq: int, limit: int) -> list[QueuedEvent]: ...

    @overload
    def pending_after(self, seq: int, limit: int, wait: bool) -> list[QueuedEvent] | None: ...

    def pending_after(self, seq: int, limit: int, wait: bool = True) -> list[QueuedEvent] | None:
        """The oldest ``limit`` undelivered events with a seq above ``seq``.

        With ``wait=False`` returns None instead of waiting while a put commits
        (the publisher then keeps serving the connection and tries again).
        """
        self._expire_if_due()
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            rows = self._db.execute(
                "SELECT seq, topic, event_id, payload, qos FROM events "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        except sqlite3.Error as e:
            raise OutboxError(f"{self.path}: cannot read the outbox: {e}") from None
        finally:
            self._lock.release()
        return [QueuedEvent(int(s), str(t), str(i), bytes(p), int(q)) for s, t, i, p, q in rows]

    def ack(self, seqs: Sequence[int], wait: bool = True) -> bool:
        """The broker acknowledged these events: delete them (unknown seqs are ignored).

        Returns False, deleting nothing, when ``wait`` is False and a put is
        committing (its fsync can take milliseconds the publisher should not block).
        """
        if not seqs:
            return True
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            with self._transaction(durable=False) as conn:
                before = conn.total_changes
                conn.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])
                self._depth -= conn.total_changes - before
        except sqlite3.Error as e:
            # Not fatal: the rows stay and are sent once more (at least once).
            log.error("%s: cannot delete delivered events: %s", self.path, e)
        finally:
            self._lock.release()
        if self._depth < self.max_events:
            self.dropped_full.end_burst()
        return True

    def expire(self) -> int:
        """Drop (and count) events queued longer ago than ``max_age_s``."""
        cutoff = self._clock() - self.max_age_s
        with self._lock:
            with self._transaction(durable=False) as conn:
                removed = conn.execute("DELETE FROM events WHERE queued_at < ?", (cutoff,)).rowcount
            self._depth -= removed
        if removed:
            self.dropped_expired.add(removed)
        else:
            self.dropped_expired.end_burst()
        return removed

    def health(self) -> dict[str, int]:
        """Counters for the health event."""
        return {
            "outbox_depth": self._depth,
            "outbox_dropped_full": self.dropped_full.total,
            "outbox_dropped_expired": self.dropped_expired.total,
        }

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        self.dropped_full.end_burst()
        self.dropped_expired.end_burst()
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as e:
                log.warning("%s: checkpoint at close failed: %s", self.path, e)
            self._db.conn.close()

    def _expire_if_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_expiry_check:
            self._next_expiry_check = now + EXPIRE_EVERY_S
            try:
                self.expire()
                self._expire_failing = False
            except sqlite3.Error as e:
                # Once per spell of failures: it is retried every second.
                if not self._expire_failing:
                    log.error("%s: cannot drop expired events: %s", self.path, e)
                self._expire_failing = True

    def _transaction(self, durable: bool) -> _Transaction:
        return _Transaction(self._db.conn, durable)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT with the fsync level chosen per transaction."""

    def __init__(self, conn: sqlite3.Connection, durable: bool) -> None:
        self._conn = conn
        self._durable = durable

    def __enter__(self) -> sqlite3.Connection:
        # The pragma must be set outside a transaction; it applies to the next commit.
        self._conn.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        else:
            self._conn.execute("ROLLBACK")
