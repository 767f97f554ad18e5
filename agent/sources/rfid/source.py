"""The RFID Source the registry builds: a feed, then the read pipeline.

One class serves every protocol: the config's ``protocol`` picks the feed (a
recording, an MQTT topic, an LLRP connection) and everything after the feed is
shared. A catalogue that cannot be read is one error line; the reader still runs
and its products are ``unknown``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from agent.observations import Observation
from agent.sources.base import Source, SourceContext
from agent.sources.rfid.catalogue import Catalogue, CatalogueError
from agent.sources.rfid.config import (
    ImpinjMqttConfig,
    LlrpConfig,
    RecordedReadsConfig,
    RfidSourceConfig,
    ZebraMqttConfig,
)
from agent.sources.rfid.feed import ReadFeed
from agent.sources.rfid.mqtt_feed import ClientFactory, MqttReadFeed
from agent.sources.rfid.parser import ReadParser
from agent.sources.rfid.pipeline import ReadPipeline
from agent.sources.rfid.recorded import Header, RecordedFeed, read_header

log = logging.getLogger(__name__)


def recording_header(config: RfidSourceConfig) -> Header | None:
    """A recording's header line, which may name its antennas and catalogue."""
    if not isinstance(config, RecordedReadsConfig):
        return None
    try:
        return read_header(config.path)
    except OSError:
        return None  # the feed reports the unreadable file when it starts


def load_catalogue(config: RfidSourceConfig, header: Header | None) -> Catalogue:
    """The configured catalogue, else the one a recording's header names, else none."""
    path = config.catalogue
    if path is None and isinstance(config, RecordedReadsConfig) and header is not None:
        path = config.path.parent / header.catalogue if header.catalogue else None
    if path is None:
        return Catalogue()
    try:
        catalogue = Catalogue.load(path)
    except CatalogueError as e:
        log.error("%s: %s; every product will be 'unknown'", config.id, e)
        return Catalogue()
    log.info(
        "%s: catalogue %s: %d products, %d rows skipped",
        config.id,
        path,
        len(catalogue),
        catalogue.skipped_rows,
    )
    return catalogue


def make_feed(
    config: RfidSourceConfig, mqtt_client_factory: ClientFactory | None = None
) -> ReadFeed:
    if isinstance(config, RecordedReadsConfig):
        return RecordedFeed(config.path)
    if isinstance(config, ZebraMqttConfig):
        return MqttReadFeed(config.mqtt, config.id, ReadParser().zebra, mqtt_client_factory)
    if isinstance(config, ImpinjMqttConfig):
        return MqttReadFeed(config.mqtt, config.id, ReadParser().impinj, mqtt_client_factory)
    assert isinstance(config, LlrpConfig)
    from agent.sources.rfid.llrp import LlrpFeed  # sllurp is an optional extra

    return LlrpFeed(config)


class RfidSource(Source):
    """An RFID reader as a source of ItemEvents.

    Args:
        config: the reader's config table.
        context: the agent's context (its store zones are checked against the antennas).
        mqtt_client_factory: makes paho clients for MQTT readers (tests inject theirs).
        feed_factory: replaces the protocol's feed (for a reader emulator in tests).
    """

    def __init__(
        self,
        config: RfidSourceConfig,
        context: SourceContext,
        mqtt_client_factory: ClientFactory | None = None,
        feed_factory: Callable[[RfidSourceConfig], ReadFeed] | None = None,
    ) -> None:
        super().__init__(config.id)
        header = recording_header(config)
        antennas = list(config.antennas) or (header.antennas if header else [])
        if not antennas:
            log.error("%s: no antennas are mapped to zones; every read will be skipped", config.id)
        unknown = sorted({a.zone for a in antennas} - set(context.store_zones))
        if context.store_zones and unknown:
            log.warning(
                "%s: antenna zone(s) %s are not zones of the store", config.id, ", ".join(unknown)
            )
        self.pipeline = ReadPipeline(
            config.id,
            {a.port: a.antenna() for a in antennas},
            load_catalogue(config, header),
            config.interactions.thresholds(),
        )
        self.feed = (feed_factory or (lambda c: make_feed(c, mqtt_client_factory)))(config)

    def observations(self, stop: threading.Event) -> Iterator[Observation]:
        pipeline = self.pipeline
        feed_one = pipeline.feed
        decided = pipeline.tracker.pending
        for read in self.feed.reads(stop):
            feed_one(read)
            if decided:
                yield from pipeline.drain()
                if stop.is_set():
                    return

    def health(self) -> dict[str, Any]:
        return {**self.feed.health(), **self.pipeline.counters()}

    def progress(self) -> tuple[int, int] | None:
        return self.feed.progress()

    def close(self) -> None:
        self.feed.close()
