"""Decode, look up and track: ``TagRead`` in, ``ItemEvent`` out.

This is where an EPC stops being an identifier: the first read of a tag resolves
its product (GTIN, then catalogue entry); afterwards only the state machine holds
the EPC, in memory, until the tag's time-to-live ends.

Example:
    >>> from agent.sources.rfid.reads import TagRead
    >>> p = ReadPipeline("rfid-1", {1: Antenna("shelf-a", "shelf")}, Catalogue(), Thresholds())
    >>> p.feed(TagRead(0.0, "3074257BF7194E4000001A85", 1, -50.0))
    >>> p.feed(TagRead(0.1, "3074257BF7194E4000001A85", 9, -50.0))  # port 9 is unmapped
    >>> p.counters()["reads"], p.counters()["reads_unmapped_antenna"]
    (1, 1)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from agent.observations import ItemEvent, Product
from agent.sources.rfid.catalogue import Catalogue
from agent.sources.rfid.epc import EpcDecoder
from agent.sources.rfid.interactions import Antenna, InteractionTracker, Thresholds
from agent.sources.rfid.reads import TagRead

log = logging.getLogger(__name__)


class ReadPipeline:
    """One reader's reads through decoding, the catalogue and the state machine.

    Args:
        source_id: the reader's source id (events carry it).
        antennas: antenna port to zone and role.
        catalogue: GTIN to product.
        thresholds: the state machine's tuning.
        decoder: an EPC decoder to share between readers (one is made if None).
    """

    def __init__(
        self,
        source_id: str,
        antennas: Mapping[int, Antenna],
        catalogue: Catalogue,
        thresholds: Thresholds,
        decoder: EpcDecoder | None = None,
    ) -> None:
        self.antennas = dict(antennas)
        self.catalogue = catalogue
        self.decoder = decoder or EpcDecoder()
        self.tracker = InteractionTracker(thresholds, source_id)
        self.reads = 0
        self.unmapped = 0
        self.new_tags = 0
        self.unknown_tags = 0
        self.categories: dict[str, int] = {}
        """New tags per product category (counts only)."""
        self._unmapped_ports: set[int] = set()

    def feed(self, read: TagRead) -> None:
        """Process one read; decided events wait in ``drain``."""
        where = self.antennas.get(read.antenna)
        if where is None:
            self.unmapped += 1
            if read.antenna not in self._unmapped_ports and len(self._unmapped_ports) < 64:
                self._unmapped_ports.add(read.antenna)
                log.warning(
                    "%s: reads on antenna port %d, which no zone lists; skipped",
                    self.tracker.source,
                    read.antenna,
                )
            return
        self.reads += 1
        self.tracker.observe(read.epc, read.t, where, read.rssi, self._resolve, read.seen)

    def _resolve(self, epc: str) -> Product:
        """A new tag's product: the GTIN part of its EPC, looked up in the catalogue."""
        gtin = self.decoder.gtin_of(epc)
        product = self.catalogue.product(gtin)
        self.new_tags += 1
        if gtin is None:
            self.unknown_tags += 1
        self.categories[product.category] = self.categories.get(product.category, 0) + 1
        return product

    def drain(self) -> list[ItemEvent]:
        return self.tracker.drain()

    def counters(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "reads_unmapped_antenna": self.unmapped,
            "tags_seen": self.new_tags,
            "tags_not_gs1_product": self.unknown_tags,
            **self.tracker.counters(),
        }
