"""The per-tag state machine on read streams whose truth the test controls."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from agent.observations import ItemEvent, Product
from agent.sources.rfid.catalogue import Catalogue
from agent.sources.rfid.interactions import Antenna, InteractionTracker, Thresholds
from agent.sources.rfid.pipeline import ReadPipeline
from agent.sources.rfid.reads import TagRead
from agent.sources.rfid.synth import ReadScript, sgtin96

ANTENNAS = {
    1: Antenna("shelf-a", "shelf"),
    2: Antenna("shelf-b", "shelf"),
    3: Antenna("fitting", "fitting_room"),
    4: Antenna("till", "checkout"),
    5: Antenna("door", "exit"),
}
CROSS_DB = 18.0
"""How much weaker a neighbouring antenna hears a tag (cross-read) in these streams."""


def epc(item: int, serial: int = 1) -> str:
    return sgtin96("0614141", f"8{item:05d}", serial)


def run(reads: list[TagRead], thresholds: Thresholds | None = None) -> list[ItemEvent]:
    pipe = ReadPipeline("rfid-t", ANTENNAS, Catalogue(), thresholds or Thresholds())
    events: list[ItemEvent] = []
    for read in reads:
        pipe.feed(read)
        events.extend(pipe.drain())
    return events


def background(script: ReadScript, until: float) -> ReadScript:
    """Other tags resting on every shelf: a real reader is never silent."""
    for i, port in enumerate((1, 2)):
        script.stay(epc(90 + i), port, 0.0, until, rssi=-55.0)
    return script


def item_of(event: ItemEvent) -> int:
    """The item number ``epc(item)`` encoded: GTIN is 8, 0614141, the item, a check digit."""
    assert event.product.gtin is not None
    return int(event.product.gtin[8:13])


def actions(events: list[ItemEvent], item: int | None = None) -> list[tuple[str, str]]:
    return [(e.action, e.zone) for e in events if item is None or item_of(e) == item]


def test_pick_then_purchase_with_misses_and_cross_reads() -> None:
    x = epc(1)
    s = background(ReadScript(seed=3), 70.0)
    s.stay(x, 1, 0.0, 20.0, rssi=-50.0)
    s.stay(x, 2, 0.0, 20.0, rssi=-50.0 - CROSS_DB, rate_hz=1.0)  # neighbour hears it weakly
    s.stay(x, 2, 28.0, 29.5, rssi=-60.0)  # carried past shelf b: a burst, not a rest
    s.stay(x, 4, 40.0, 55.0, rssi=-45.0)
    events = [e for e in run(s.sorted_reads()) if item_of(e) == 1]
    assert [(e.action, e.zone) for e in events] == [("picked", "shelf-a"), ("purchased", "till")]
    last_shelf_read = max(r.t for r in s.reads if r.epc == x and r.antenna == 1)
    assert events[0].t == pytest.approx(last_shelf_read)
    assert 40.0 + Thresholds().settle_s <= events[1].t <= 45.0
    assert all(e.source == "rfid-t" for e in events)


def test_fitting_room_then_left_on_another_shelf() -> None:
    x = epc(2)
    end = 70.0 + Thresholds().away_settle_s + 20.0
    s = background(ReadScript(seed=4), end)
    s.stay(x, 1, 0.0, 20.0)
    s.stay(x, 3, 30.0, 60.0, rssi=-48.0)
    s.stay(x, 2, 70.0, end, rssi=-52.0)
    s.stay(x, 1, 70.0, end, rssi=-52.0 - CROSS_DB, rate_hz=1.0)  # old shelf hears it weakly
    events = run(s.sorted_reads())
    assert actions(events) == [
        ("picked", "shelf-a"),
        ("fitting_room", "fitting"),
        ("returned", "shelf-b"),  # misplaced: it rested there for good
    ]
    assert events[-1].t >= 70.0 + Thresholds().away_settle_s


def test_an_item_carried_round_other_shelves_is_returned_only_to_its_own() -> None:
    # Picked from shelf a, carried in a basket while its shopper browses shelf b for two
    # minutes (the tag rests there as far as the antenna can tell), tried on twice (out of
    # the fitting room's field and back in), then put back on shelf a.
    x = epc(9)
    s = background(ReadScript(seed=17), 300.0)
    s.stay(x, 1, 0.0, 20.0)
    s.stay(x, 2, 30.0, 150.0)
    s.stay(x, 3, 160.0, 200.0, rssi=-48.0)
    s.stay(x, 3, 215.0, 240.0, rssi=-48.0)
    s.stay(x, 1, 250.0, 300.0)
    assert actions(run(s.sorted_reads())) == [
        ("picked", "shelf-a"),
        ("fitting_room", "fitting"),
        ("returned", "shelf-a"),
    ]


def test_resting_tag_with_cross_reads_and_misses_makes_no_event() -> None:
    x = epc(3)
    s = ReadScript(seed=5, miss=0.3)
    s.stay(x, 1, 0.0, 300.0, rssi=-50.0)
    s.stay(x, 2, 0.0, 300.0, rssi=-50.0 - CROSS_DB + 8.0, rate_hz=2.0)  # a strong cross-read
    assert run(s.sorted_reads()) == []


def test_gaps_shorter_than_absence_threshold_are_misses() -> None:
    x = epc(4)
    s = background(ReadScript(seed=6, miss=0.0), 60.0)
    for start in range(0, 60, 10):  # 7.5 s reads, then 2.5 s of nothing, repeated
        s.stay(x, 1, float(start), start + 7.5)
    assert run(s.sorted_reads()) == []


def test_reader_outage_is_not_everyone_picking() -> None:
    s = ReadScript(seed=7, miss=0.0)
    for i in range(20):
        s.stay(epc(10 + i), 1 + i % 2, 0.0, 30.0)
        s.stay(epc(10 + i), 1 + i % 2, 95.0, 130.0)  # the reader was away for a minute
    assert run(s.sorted_reads()) == []
    # ...but a tag that did not come back after the outage was picked.
    s.stay(epc(40), 1, 0.0, 30.0)
    events = run(s.sorted_reads())
    assert actions(events) == [("picked", "shelf-a")]
    assert 95.0 <= events[0].t < 96.0  # absence counted from when reads resumed


def test_exit_without_checkout_ends_the_tag_silently() -> None:
    x = epc(5)
    s = background(ReadScript(seed=8), 60.0)
    s.stay(x, 1, 0.0, 10.0)
    s.stay(x, 5, 20.0, 30.0)
    s.stay(x, 4, 35.0, 50.0)  # after leaving, nothing it does counts
    pipe = ReadPipeline("rfid-t", ANTENNAS, Catalogue(), Thresholds())
    for read in s.sorted_reads():
        pipe.feed(read)
    assert actions(pipe.drain()) == [("picked", "shelf-a")]
    assert pipe.counters()["left_via_exit_unsold"] == 1


def test_duplicates_and_small_disorder_change_nothing() -> None:
    x = epc(6)
    s = background(ReadScript(seed=9, duplicate=0.5), 70.0)
    s.stay(x, 1, 0.0, 20.0)
    s.stay(x, 4, 35.0, 50.0)
    reads = s.sorted_reads()
    rng = random.Random(2)
    for i in range(0, len(reads) - 1, 3):  # swap neighbours: network reordering
        if rng.random() < 0.5:
            reads[i], reads[i + 1] = reads[i + 1], reads[i]
    assert actions(run(reads)) == [("picked", "shelf-a"), ("purchased", "till")]


STORY_END_S = 2000.0


def story_truth(rng: random.Random, s: ReadScript, tag: str) -> list[tuple[str, str]]:
    """Give a tag a random story, render its reads, and return the events it implies."""
    th = Thresholds()
    shelves = [(1, "shelf-a"), (2, "shelf-b")]
    port, zone = rng.choice(shelves)
    t = rng.uniform(0.0, 10.0)
    end = t + rng.uniform(12.0, 30.0)
    s.stay(tag, port, t, end, rssi=rng.uniform(-60, -45))
    s.stay(tag, 3 - port, t, end, rssi=-60.0 - CROSS_DB, rate_hz=0.5)
    truth: list[tuple[str, str]] = []
    state, tried = "shelf", False
    for _ in range(rng.randint(0, 3)):
        t = end + rng.uniform(8.0, 20.0)  # carried, out of every field
        end = t + rng.uniform(10.0, 30.0)
        step = rng.choice(["fitting", "shelf", "till"])
        if state == "shelf":
            truth.append(("picked", zone))
        if step == "fitting":
            s.stay(tag, 3, t, end, rssi=-47.0)
            if not tried:  # one try-on per time off the shelf, however often it goes in
                truth.append(("fitting_room", "fitting"))
            state, tried = "fitting", True
        elif step == "shelf":  # back on its own shelf, or left for good on the other
            if rng.random() < 0.7:
                end = t + rng.uniform(th.return_settle_s + 5.0, 60.0)
            else:
                port, zone = 3 - port, shelves[2 - port][1]
                end = t + th.away_settle_s + rng.uniform(5.0, 30.0)
            s.stay(tag, port, t, end, rssi=-50.0)
            truth.append(("returned", zone))
            state, tried = "shelf", False
        else:
            s.stay(tag, 4, t, end, rssi=-45.0)
            truth.append(("purchased", "till"))
            state = "sold"
            break
    if state == "shelf" and rng.random() < 0.3:  # picked last and taken out of range
        truth.append(("picked", zone))
        state = "gone"
    elif state == "shelf":
        s.stay(tag, port, end, STORY_END_S, rssi=-50.0)  # stays on its shelf to the end
    return truth


def test_many_tags_with_random_stories_match_their_truth() -> None:
    rng = random.Random(11)
    s = background(ReadScript(seed=12), STORY_END_S)
    truths = {item: story_truth(rng, s, epc(item)) for item in range(60)}
    by_tag: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for e in run(s.sorted_reads()):
        by_tag[item_of(e)].append((e.action, e.zone))
    assert not {90, 91} & by_tag.keys()  # the background never moved
    mismatched = {k: (v, by_tag.get(k, [])) for k, v in truths.items() if v != by_tag.get(k, [])}
    assert mismatched == {}
    assert sum(len(v) for v in truths.values()) > 60  # the stories did exercise the machine


def test_memory_is_bounded_by_ttl_and_cap() -> None:
    th = Thresholds(tag_ttl_s=60.0, max_tags=100)
    tracker = InteractionTracker(th, "rfid-t")
    shelf = Antenna("shelf-a", "shelf")
    product = Product(None, "unknown")
    for i in range(1000):  # a thousand tags, each read once, a tenth of a second apart
        tracker.observe(f"tag-{i}", i / 10, shelf, -50.0, lambda _: product)
        assert len(tracker) <= 100
    assert tracker.evicted == 900
    tracker.observe("late", 1000.0, shelf, -50.0, lambda _: product)  # 900 s later: all expired
    assert len(tracker) == 1
    assert tracker.expired == 100
    tracker.observe("tag-999", 1000.1, shelf, -50.0, lambda _: product)  # back after expiry
    assert len(tracker) == 2
    counters = tracker.counters()
    assert counters["tags_evicted"] == 900 and counters["tags_tracked"] == 2


def test_per_tag_candidate_zones_are_bounded() -> None:
    tracker = InteractionTracker(Thresholds(), "rfid-t")
    product = Product(None, "unknown")
    for i in range(100):  # one tag heard on 100 different antennas once each
        tracker.observe("tag", i * 0.01, Antenna(f"z{i}", "shelf"), -70.0, lambda _: product)
    assert len(tracker._tags["tag"].runs) <= 4


def test_item_held_while_browsing_another_shelf_is_not_returned() -> None:
    x = epc(7)
    s = background(ReadScript(seed=13), 120.0)
    s.stay(x, 1, 0.0, 20.0)
    s.stay(x, 2, 30.0, 30.0 + Thresholds().return_settle_s - 5.0)  # held at shelf b a while
    s.stay(x, 4, 70.0, 90.0)
    assert actions(run(s.sorted_reads())) == [("picked", "shelf-a"), ("purchased", "till")]


def test_aggregated_reports_count_every_read_they_stand_for() -> None:
    """A reader reporting each tag once a second with its seen count (Zebra reportFilter)."""
    x = epc(8)
    reads = [TagRead(float(t), epc(91), 2, -55.0, 3) for t in range(60)]  # busy reader
    reads += [TagRead(float(t), x, 1, -50.0, 3) for t in range(0, 20)]
    reads += [TagRead(30.0 + t, x, 4, -45.0, 4) for t in range(3)]  # three reports at the till
    reads.sort(key=lambda r: r.t)
    assert actions(run(reads)) == [("picked", "shelf-a"), ("purchased", "till")]
    one_each = [r._replace(seen=1) for r in reads]  # the same reports, one read each
    assert actions(run(one_each)) == [("picked", "shelf-a")]
