"""``edge-agent inspect`` for recorded RFID reads.

The summary has counts only: reads, distinct tags, products by category, tags that
are not GS1 products, interactions inferred, malformed lines with their numbers.
It never contains an EPC, a serial or a GTIN: a GTIN alone is not personal, but a
list of them next to a timestamp is more than a field engineer needs.

Interactions need an antenna map and categories need a catalogue; both come from
the recording's header line (see ``recorded``), and the summary says when absent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from agent.sources.rfid.catalogue import Catalogue, CatalogueError
from agent.sources.rfid.epc import EpcDecoder
from agent.sources.rfid.interactions import Thresholds
from agent.sources.rfid.pipeline import ReadPipeline
from agent.sources.rfid.reads import ReadError, TagRead
from agent.sources.rfid.recorded import HEADER_KEY, Header, read_lines

MAX_PROBLEMS_LISTED = 50
"""A badly broken file would otherwise print one problem per line it has."""

SUFFIXES = (".jsonl", ".ndjson")


def looks_rfid(path: Path) -> bool:
    """A JSON lines file whose first non-blank line is a reader event or our header."""
    if path.suffix not in SUFFIXES:
        return False
    with path.open("rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                first = json.loads(raw)
            except ValueError:
                return False
            if isinstance(first, list) and first:
                first = first[0]
            return isinstance(first, dict) and (
                HEADER_KEY in first
                or "tagInventoryEvent" in first
                or (isinstance(first.get("data"), dict) and "idHex" in first["data"])
            )
    return False


def _catalogue(path: Path, header: Header | None) -> tuple[Catalogue, str | None]:
    if header is None or header.catalogue is None:
        return Catalogue(), "no catalogue named in the header line"
    try:
        return Catalogue.load(path.parent / header.catalogue), None
    except CatalogueError as e:
        return Catalogue(), str(e)


def summarise(path: Path) -> dict[str, Any]:
    reads = 0
    lines = 0
    problems: list[dict[str, Any]] = []
    problem_count = 0
    by_antenna: Counter[int] = Counter()
    first_t: float | None = None
    last_t: float | None = None
    out_of_order = 0
    header: Header | None = None
    pipeline: ReadPipeline | None = None
    catalogue_note: str | None = "no header line"
    decoder = EpcDecoder()
    tags: set[str] = set()
    gtins: set[str] = set()
    unknown_tags = 0
    categories: Counter[str] = Counter()
    catalogue = Catalogue()
    for number, _, items in read_lines(path):
        lines += 1
        for item in items:
            if isinstance(item, Header):
                if header is None and reads == 0:
                    header = item
                    catalogue, catalogue_note = _catalogue(path, header)
                    if header.antennas:
                        pipeline = ReadPipeline(
                            "inspect",
                            {a.port: a.antenna() for a in header.antennas},
                            catalogue,
                            Thresholds(),
                            decoder,
                        )
                continue
            if isinstance(item, ReadError):
                problem_count += 1
                if len(problems) < MAX_PROBLEMS_LISTED:
                    problems.append({"line": number, "reason": str(item)})
                continue
            assert isinstance(item, TagRead)
            reads += 1
            by_antenna[item.antenna] += 1
            if last_t is not None and item.t < last_t:
                out_of_order += 1
            first_t = item.t if first_t is None else min(first_t, item.t)
            last_t = item.t if last_t is None else max(last_t, item.t)
            if item.epc not in tags:
                tags.add(item.epc)
                gtin = decoder.gtin_of(item.epc)
                if gtin is None:
                    unknown_tags += 1
                else:
                    gtins.add(gtin)
                categories[catalogue.product(gtin).category] += 1
            if pipeline is not None:
                pipeline.feed(item)
    interactions: dict[str, Any] | None = None
    if pipeline is not None:
        events = pipeline.drain()
        interactions = dict(sorted(Counter(e.action for e in events).items()))
    return {
        "lines": lines,
        "reads": reads,
        "reads_by_antenna": {str(k): v for k, v in sorted(by_antenna.items())},
        "time_span": None
        if first_t is None or last_t is None
        else {"first": first_t, "last": last_t, "seconds": round(last_t - first_t, 3)},
        "out_of_order": out_of_order,
        "distinct_tags": len(tags),
        "distinct_products": len(gtins),
        "tags_not_gs1_product": unknown_tags,
        "tags_by_category": dict(sorted(categories.items())),
        "catalogue_note": catalogue_note,
        "interactions": interactions,
        "interactions_note": None
        if pipeline is not None
        else "no antenna map in a header line, so no interactions were inferred",
        "reads_unmapped_antenna": pipeline.unmapped if pipeline is not None else None,
        "problems": problem_count,
        "problem_lines": problems,
    }
