"""The Wi-Fi source: captured frames in, anonymous ``DeviceSighting`` observations out.

Raw MAC addresses exist only between the parser and the anonymiser inside
``FrameScan.sightings``; what leaves carries a token. Bad frames are counted and
logged with their byte offset (the first few; then a count), a damaged capture
ends with one error line naming the offset, and everything read before it is kept.

Example (a capture written by the synth module):
    >>> import tempfile, threading
    >>> from pathlib import Path
    >>> from agent.sources.base import SourceContext
    >>> from agent.sources.wifi import synth
    >>> path = Path(tempfile.mkdtemp()) / "one.pcap"
    >>> frame = synth.probe_request(bytes.fromhex("3c22fb000001"), seq=5)
    >>> _ = synth.write_pcap(path, [(1700000000.0, synth.radiotap_frame(frame))])
    >>> config = WifiSourceConfig(id="w1", path=path, zone="z", position=(0, 0))
    >>> source = WifiSource(config, SourceContext(replay=True))
    >>> [(s.kind, s.rssi, s.seq) for s in source.observations(threading.Event())]
    [('probe', -60.0, 5)]
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.observations import DeviceSighting, Observation
from agent.sources.base import Source, SourceContext
from agent.sources.wifi.anonymise import Anonymiser, KeyRing, shared_key_ring
from agent.sources.wifi.capture import CaptureError, CaptureReader, Packet, open_capture
from agent.sources.wifi.config import WifiSourceConfig
from agent.sources.wifi.dot11 import (
    LINKTYPE_IEEE802_11_RADIOTAP,
    LOCAL_BIT,
    WANTED_FIRST_BYTES,
    Decoder,
    MalformedFrame,
)
from agent.sources.wifi.live import (
    SYSFS_NET,
    LiveCapture,
    LiveCaptureError,
    SocketFactory,
    raw_socket,
)
from agent.sources.wifi.sighting import make_sighting

log = logging.getLogger(__name__)

LOGGED_PROBLEMS = 10
"""Malformed frames logged one by one; past this only the total is logged at the end,
so a capture full of garbage cannot flood the journal."""

LATEST_TIME_S = 4_102_444_800.0
"""2100-01-01 UTC: a later (or negative) capture time is a damaged timestamp, and
the key schedule cannot place it in a day."""

REPLAY_DIGEST_BYTES = 1 << 20
"""The replay key covers a capture's size and first MiB: enough to tell captures
apart without reading a large file twice."""


@dataclass
class FrameCounts:
    """What a scan saw; all counts, never identifiers."""

    frames: int = 0
    probe_requests: int = 0
    data_frames: int = 0
    sightings: int = 0
    malformed: int = 0
    other_link_type: int = 0
    no_signal: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)  # (offset, reason)


class FrameScan:
    """Decodes packets and anonymises their transmitters; shared by the source and inspect.

    Args:
        source_id: the sensor id put on every sighting.
        anonymiser: MAC to token, with the agent's shared key ring.
        keep_problems: how many (offset, reason) pairs to keep for reports.
    """

    def __init__(self, source_id: str, anonymiser: Anonymiser, keep_problems: int) -> None:
        self.source_id = source_id
        self.anonymiser = anonymiser
        self.decoder = Decoder()
        self.counts = FrameCounts()
        self._keep = keep_problems
        self.live_name: str | None = None  # set for live feeds: problems are logged at once

    def _problem(self, position: int, reason: str) -> None:
        counts = self.counts
        counts.malformed += 1
        if len(counts.problems) < self._keep:
            counts.problems.append((position, reason))
            if self.live_name is not None:  # files report theirs at the end, by offset
                log.warning(
                    "%s: packet %d: malformed frame skipped: %s", self.live_name, position, reason
                )

    def sightings(self, packets: Iterable[Packet]) -> Iterator[DeviceSighting]:
        counts = self.counts
        decode = self.decoder.decode
        token_of = self.anonymiser.token
        make = make_sighting
        source_id = self.source_id
        for offset, t, linktype, raw in packets:
            counts.frames += 1
            if linktype != LINKTYPE_IEEE802_11_RADIOTAP:
                counts.other_link_type += 1
                continue
            try:
                frame = decode(raw)
            except MalformedFrame as e:
                self._problem(offset, str(e))
                continue
            if frame is None:
                continue
            if frame.kind == "probe":
                counts.probe_requests += 1
            else:
                counts.data_frames += 1
            if frame.rssi is None:
                counts.no_signal += 1
                continue
            if not 0.0 <= t < LATEST_TIME_S:
                self._problem(offset, "capture time out of range")
                continue
            token = token_of(frame.address, t)
            if token is None:
                continue
            counts.sightings += 1
            yield make(
                t,
                source_id,
                token,
                float(frame.rssi),
                frame.kind,
                bool(frame.address[0] & LOCAL_BIT),
                frame.channel,
                frame.seq,
            )


def capture_digest(path: Path) -> bytes:
    """Replay key material of one capture: its size and first MiB."""
    with path.open("rb") as f:
        head = f.read(REPLAY_DIGEST_BYTES)
    return hashlib.sha256(path.stat().st_size.to_bytes(8, "big") + head).digest()


def store_timezone(name: str | None) -> tzinfo:
    """The configured zone, or the gateway's local one."""
    if name is not None:
        return ZoneInfo(name)
    local = datetime.now().astimezone().tzinfo
    assert local is not None  # astimezone() always sets one
    return local


class WifiSource(Source):
    """One Wi-Fi sensor: a capture file or a monitor-mode interface.

    Args:
        config: the sensor's config.
        context: replay flag, store zones, and ``shared["wifi"]`` for the key ring.
        socket_factory: raw socket maker for live capture (injectable).
        keep_problems: malformed frames remembered with their offsets (for reports).
        sysfs: where interface types are looked up (a test points it elsewhere).
    """

    def __init__(
        self,
        config: WifiSourceConfig,
        context: SourceContext,
        socket_factory: SocketFactory = raw_socket,
        keep_problems: int = LOGGED_PROBLEMS,
        sysfs: Path = SYSFS_NET,
    ) -> None:
        super().__init__(config.id)
        self.config = config
        self._replay = context.replay
        self._socket_factory = socket_factory
        self._sysfs = sysfs
        self._live: LiveCapture | None = None
        self.reader: CaptureReader | None = None
        self._done = 0
        self._total = 0
        self.error: str | None = None
        ring = shared_key_ring(
            context.shared,
            lambda: KeyRing(config.rotate_at, store_timezone(config.timezone), context.replay),
        )
        self.key_ring = ring
        if ring.rotate_at != config.rotate_at:
            log.warning(
                "wifi source %s: rotate_at differs from the first Wi-Fi sensor's; "
                "all sensors share one key, rotated at %s",
                config.id,
                ring.rotate_at,
            )
        if context.store_zones and config.zone not in context.store_zones:
            log.error(
                "wifi source %s: zone '%s' is not one of the store's zones", config.id, config.zone
            )
        if context.replay and config.path is not None:
            try:
                ring.add_replay_material(capture_digest(config.path))
            except OSError as e:
                self.error = f"{config.path}: cannot read: {e.strerror or e}"
        self.scan = FrameScan(
            config.id, Anonymiser(ring, config.ignored_digests()), keep_problems=keep_problems
        )

    def observations(self, stop: threading.Event) -> Iterator[Observation]:
        return self.sightings(stop)

    def sightings(self, stop: threading.Event) -> Iterator[DeviceSighting]:
        """The observations, typed as what they are."""
        if self.error is not None:
            log.error("%s", self.error)
            return
        if self.config.path is not None:
            yield from self._from_file(self.config.path, stop)
        elif self._replay:
            log.error("wifi source %s: a live interface cannot be replayed", self.id)
        else:
            yield from self._from_interface(stop)

    def _from_file(self, path: Path, stop: threading.Event) -> Iterator[DeviceSighting]:
        try:
            stream, compressed = open_capture(path)
        except OSError as e:
            log.error("%s: cannot read: %s", path, e.strerror or e)
            return
        with stream:
            self._total = path.stat().st_size
            reader = CaptureReader(stream, str(path), WANTED_FIRST_BYTES)
            self.reader = reader
            for sighting in self.scan.sightings(reader.packets()):
                yield sighting
                if stop.is_set():
                    return
                if not compressed:  # compressed offsets do not compare with the file size
                    self._done = reader.offset
            self._done = self._total
        self._report(reader.error, path)

    def _report(self, error: CaptureError | None, path: Path) -> None:
        counts = self.scan.counts
        logged = counts.problems[:LOGGED_PROBLEMS]
        for offset, reason in logged:
            log.warning("%s: byte %d: malformed frame skipped: %s", path, offset, reason)
        if counts.malformed > len(logged):
            log.warning(
                "%s: %d more malformed frames skipped", path, counts.malformed - len(logged)
            )
        if counts.other_link_type:
            log.warning(
                "%s: %d packets skipped: not radiotap 802.11 (link type %d needed)",
                path,
                counts.other_link_type,
                LINKTYPE_IEEE802_11_RADIOTAP,
            )
        if error is not None:
            log.error("%s (kept the %d frames before it)", error, self.frames)

    def _from_interface(self, stop: threading.Event) -> Iterator[DeviceSighting]:
        assert self.config.interface is not None  # the config allows path or interface
        self._live = LiveCapture(self.config.interface, self._socket_factory, sysfs=self._sysfs)
        self.scan.live_name = f"wifi source {self.id} on {self.config.interface}"
        try:
            yield from self.scan.sightings(self._live.packets(stop))
        except LiveCaptureError as e:
            self._live.state = "failed"
            log.error("wifi source %s: %s", self.id, e)

    @property
    def frames(self) -> int:
        """Frames read, including those the capture reader skipped by their first byte."""
        filtered = self.reader.filtered if self.reader is not None else 0
        return self.scan.counts.frames + filtered

    def health(self) -> dict[str, Any]:
        counts = self.scan.counts
        out: dict[str, Any] = {
            "frames": self.frames,
            "sightings": counts.sightings,
            "malformed_frames": counts.malformed,
            "ignored_frames": self.scan.anonymiser.ignored_frames,
        }
        if self._live is not None:
            out["state"] = self._live.state
            out["reconnects"] = self._live.reconnects
        return out

    def progress(self) -> tuple[int, int] | None:
        if self.config.path is None:
            return None
        return (self._done, self._total)
