"""``edge-agent inspect CAPTURE``: what a Wi-Fi capture holds, without a single MAC.

The summary counts frames by kind, distinct device tokens (hashed with a key
derived from the file, never shown), the randomised share, the distinct-device
estimate, the signal range, the time span, the presence of devices at the sensor
with the default thresholds, and lists malformed frames by byte offset.

Example:
    >>> import tempfile
    >>> from agent.sources.wifi import synth
    >>> path = Path(tempfile.mkdtemp()) / "one.pcapng"
    >>> frame = synth.radiotap_frame(synth.probe_request(bytes.fromhex("da0000000001"), 1))
    >>> _ = synth.write_pcapng(path, [(1700000000.0, frame)])
    >>> looks_like_capture(path)
    True
    >>> summary = summarise(path)
    >>> summary["probe_requests"], summary["randomised_share"], summary["capture_error"]
    (1, 1.0, None)
"""

from __future__ import annotations

import struct
import threading
from datetime import time, timezone
from pathlib import Path
from typing import Any

from agent.sources.base import SourceContext
from agent.sources.wifi.anonymise import KeyRing
from agent.sources.wifi.capture import PCAP_MAGICS, PCAPNG_SHB, open_capture
from agent.sources.wifi.config import PresenceConfig, WifiSourceConfig
from agent.sources.wifi.devices import DeviceEstimator
from agent.sources.wifi.presence import Presence, Sensor
from agent.sources.wifi.source import WifiSource

MAX_PROBLEMS_LISTED = 50
"""A capture of garbage would otherwise list every frame."""
INSPECT_ZONE = "sensor"  # inspect knows no store: the capture is its own zone


def looks_like_capture(path: Path) -> bool:
    """A pcap or pcapng file (gzip-compressed or not), by its first bytes."""
    try:
        stream, _ = open_capture(path)
        with stream:
            head = stream.read(4)
    except (OSError, EOFError):
        return False
    if len(head) < 4:
        return False
    return head in PCAP_MAGICS or struct.unpack("<I", head)[0] == PCAPNG_SHB


def summarise(path: Path) -> dict[str, Any]:
    config = WifiSourceConfig(id="inspect", path=path, zone=INSPECT_ZONE, position=(0.0, 0.0))
    # A replay key ring: derived from this file, so inspecting twice gives the same
    # counts, and no live key is ever created or used here.
    context = SourceContext(
        replay=True,
        shared={"wifi": KeyRing(time(4), timezone.utc, replay=True)},
    )
    source = WifiSource(config, context, keep_problems=MAX_PROBLEMS_LISTED)
    estimator = DeviceEstimator()
    presence = Presence({config.id: Sensor(INSPECT_ZONE, 0.0, 0.0)}, PresenceConfig())
    tokens: dict[str, bool] = {}
    rssi_min = rssi_max = None
    first = last = None
    channels: set[int] = set()
    rotations = 0
    for sighting in source.sightings(threading.Event()):
        if source.key_ring.rotations != rotations:  # a new day: never link across it
            rotations = source.key_ring.rotations
            estimator.fold()
        estimator.add(sighting)
        presence.add(sighting)
        tokens[sighting.token] = sighting.randomised
        rssi_min = sighting.rssi if rssi_min is None else min(rssi_min, sighting.rssi)
        rssi_max = sighting.rssi if rssi_max is None else max(rssi_max, sighting.rssi)
        first = sighting.t if first is None else min(first, sighting.t)
        last = sighting.t if last is None else max(last, sighting.t)
        if sighting.channel is not None:
            channels.add(sighting.channel)
    presence.finish()
    counts = source.scan.counts
    decoder = source.scan.decoder
    reader = source.reader
    error = reader.error if reader is not None else None
    randomised = sum(tokens.values())
    return {
        "container": reader.format if reader is not None else "unknown",
        "frames": source.frames,
        "probe_requests": counts.probe_requests,
        "data_frames": counts.data_frames,
        "other_frames": decoder.skipped + (reader.filtered if reader is not None else 0),
        "group_addressed_frames": decoder.group,
        "bad_fcs_frames": decoder.bad_fcs,
        "frames_without_signal": counts.no_signal,
        "other_link_type_packets": counts.other_link_type,
        "sightings": counts.sightings,
        "distinct_tokens": len(tokens),
        "randomised_share": round(randomised / len(tokens), 3) if tokens else None,
        "estimated_devices": estimator.devices,
        "rssi_dbm": None if rssi_min is None else {"min": rssi_min, "max": rssi_max},
        "channels": sorted(channels),
        "time_span": None
        if first is None or last is None
        else {"first": first, "last": last, "seconds": round(last - first, 3)},
        "presence": {"visitors": presence.visitors, "passers_by": presence.passers_by},
        "malformed_frames": counts.malformed,
        "malformed": [{"offset": o, "reason": r} for o, r in counts.problems],
        "capture_error": None
        if error is None
        else {"offset": error.offset, "reason": error.reason},
    }
