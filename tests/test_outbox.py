"""The SQLite outbox on real files: durability, bounds, drops, bad files, privacy."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from agent.publish.outbox import Outbox, OutboxError


def ids(box: Outbox) -> list[str]:
    return [row.event_id for row in box.pending_after(0, 1_000_000)]


def test_events_survive_reopen_in_order_and_acks_delete(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "outbox.db"
    box = Outbox(path)
    for n in range(5):
        assert box.put("r/s/g/traffic", f"e{n}", f'{{"n":{n}}}'.encode())
    rows = box.pending_after(0, 2)
    box.ack([r.seq for r in rows])
    box.close()
    box = Outbox(path)
    assert box.depth == 3
    assert ids(box) == ["e2", "e3", "e4"]
    row = box.pending_after(0, 1)[0]
    assert (row.topic, row.payload, row.qos) == ("r/s/g/traffic", b'{"n":2}', 1)
    box.close()


def test_seq_is_never_reused_after_the_outbox_empties(tmp_path: Path) -> None:
    # The publisher sends "everything after seq N"; a reused seq would be skipped.
    box = Outbox(tmp_path / "o.db")
    box.put("t", "a", b"1")
    first = box.pending_after(0, 1)[0].seq
    box.ack([first])
    box.close()
    box = Outbox(tmp_path / "o.db")
    box.put("t", "b", b"2")
    assert box.pending_after(first, 10)[0].event_id == "b"
    box.close()


def test_drop_oldest_counts_and_logs_once_per_burst(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "o.db", max_events=10)
    with caplog.at_level(logging.WARNING, logger="agent.publish"):
        for n in range(25):
            box.put("t", f"e{n}", b"x")
        assert ids(box) == [f"e{n}" for n in range(15, 25)]
        assert box.health()["outbox_dropped_full"] == 15
        assert [r.getMessage() for r in caplog.records] == ["dropping oldest events: outbox full"]
        box.ack([r.seq for r in box.pending_after(0, 3)])  # the broker is back
    assert caplog.records[-1].getMessage() == "dropped 15 oldest events: outbox full"
    box.close()


def test_batch_larger_than_capacity_keeps_the_newest(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_events=4)
    box.put("t", "old", b"x")
    accepted = box.put_many([("t", f"e{n}", b"x", 1) for n in range(6)])
    assert accepted == 4
    assert ids(box) == ["e2", "e3", "e4", "e5"]
    assert box.health()["outbox_dropped_full"] == 3
    box.close()


def test_reject_new_keeps_the_oldest(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_events=3, policy="reject_new")
    results = [box.put("t", f"e{n}", b"x") for n in range(5)]
    assert results == [True, True, True, False, False]
    assert ids(box) == ["e0", "e1", "e2"]
    assert box.health()["outbox_dropped_full"] == 2
    box.close()


def test_events_older_than_max_age_are_dropped_and_counted(tmp_path: Path) -> None:
    now = [1_000_000.0]
    box = Outbox(tmp_path / "o.db", max_age_s=3600, clock=lambda: now[0])
    box.put("t", "old", b"x")
    now[0] += 1800
    box.put("t", "new", b"x")
    now[0] += 1801  # "old" is now 3601 s old, "new" 1801 s
    assert box.expire() == 1
    assert ids(box) == ["new"]
    assert box.health() == {
        "outbox_depth": 1,
        "outbox_dropped_full": 0,
        "outbox_dropped_expired": 1,
    }
    box.close()


def test_a_file_that_is_not_sqlite_gets_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    path.write_bytes(b"this is not a database, just a text file\n" * 200)
    with pytest.raises(OutboxError) as err:
        Outbox(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message


def test_delivered_payloads_do_not_linger_in_the_file(tmp_path: Path) -> None:
    # secure_delete plus a WAL checkpoint at close: what the broker acknowledged is
    # gone from the disk, not just unlinked from the table.
    path = tmp_path / "o.db"
    box = Outbox(path)
    marker = b"zone-count-marker-7f3a9c"
    box.put_many([("t", f"e{n}", marker + bytes([n]), 1) for n in range(50)])
    box.ack([r.seq for r in box.pending_after(0, 100)])
    box.close()
    for f in tmp_path.iterdir():
        assert marker not in f.read_bytes(), f"{f.name} still holds a delivered payload"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_outbox_path_that_cannot_be_created_gets_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutboxError) as err:
        Outbox(blocker / "outbox.db")
    assert str(blocker / "outbox.db") in str(err.value) and "\n" not in str(err.value)
