"""Which devices are in which zone: RSSI with hysteresis, and passers-by filtered out.

Each Wi-Fi sensor stands in one zone. A device heard by a zone's sensors becomes a
candidate when its smoothed signal reaches ``enter_dbm``; it stays one while the
signal is above the lower ``leave_dbm`` (the gap is the hysteresis that keeps a
phone at the edge from flickering in and out). A candidate that has stayed
``min_dwell_s`` with ``min_sightings`` frames is a visitor: ``entered`` is emitted,
dated when it first reached the zone. A device that never gets that far (too weak:
the street outside; too brief: walking past the door) is a passer-by and only
counted. A visitor leaves when its signal drops below ``leave_dbm`` or it has not
been heard for ``absent_after_s``.

The fusion stage feeds every zone's sightings through one ``Presence`` (built with
``sensors_from_config`` and a sensor's ``presence`` thresholds) and calls
``expire`` as event time advances.

Example:
    >>> from agent.observations import DeviceSighting
    >>> presence = Presence({"w1": Sensor("entrance", 0.0, 0.0)}, PresenceConfig())
    >>> events = []
    >>> for t in range(0, 100, 10):
    ...     s = DeviceSighting(float(t), "w1", "ab" * 8, -50.0, "probe", False)
    ...     events += presence.add(s)
    >>> [(e.state, e.zone, e.t) for e in events]
    [('entered', 'entrance', 0.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from agent.observations import DeviceSighting
from agent.sources.wifi.config import PresenceConfig, WifiSourceConfig
from agent.sources.wifi.linker import TokenLinker

PresenceState = Literal["entered", "left"]
SWEEP_SHARE = 0.1
"""Silent devices are looked for every tenth of ``absent_after_s`` of event time: a
sweep per sighting would cost a pass over every device for every frame."""


@dataclass(frozen=True, slots=True)
class Sensor:
    """Where a Wi-Fi sensor stands: its zone and floor position (metres)."""

    zone: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """A visitor entered or left a zone.

    ``token`` is the in-memory device token (never published); ``t`` is when the
    device reached the zone (entered) or was last heard strongly there (left).
    """

    t: float
    token: str
    zone: str
    state: PresenceState
    randomised: bool


@dataclass(slots=True)
class _Track:
    """One device in one zone."""

    rssi: float
    since: float  # first sighting at or above enter_dbm, or nan while outside
    last_seen: float
    last_strong: float  # last sighting above leave_dbm
    sightings: int
    randomised: bool
    visitor: bool = False
    candidate: bool = False


def sensors_from_config(configs: Iterable[WifiSourceConfig]) -> dict[str, Sensor]:
    """The ``Sensor`` of each configured Wi-Fi source id (what ``Presence`` needs).

    Example:
        >>> cfg = WifiSourceConfig(id="w1", interface="mon0", zone="door", position=(1, 2))
        >>> sensors_from_config([cfg])
        {'w1': Sensor(zone='door', x=1.0, y=2.0)}
    """
    return {c.id: Sensor(c.zone, float(c.position[0]), float(c.position[1])) for c in configs}


class Presence:
    """Zone presence of device tokens, fed with sightings in event-time order.

    Args:
        sensors: the sensor of each Wi-Fi source id.
        config: thresholds (enter/leave signal, minimum dwell, absence).
        linker: follows phones across MAC changes (by sequence continuity); events
            then carry the device handle (the phone's first token) instead of each
            token. Reset it at every key rotation. Without it, tokens are never linked.
    """

    def __init__(
        self,
        sensors: Mapping[str, Sensor],
        config: PresenceConfig,
        linker: TokenLinker | None = None,
    ) -> None:
        self._sensors = dict(sensors)
        self._config = config
        self._linker = linker
        self._tracks: dict[tuple[str, str], _Track] = {}
        self.passers_by = 0
        self.visitors = 0
        self.unknown_sensor = 0
        self._next_sweep = float("-inf")

    def add(self, sighting: DeviceSighting) -> list[PresenceEvent]:
        """Account one sighting; returns the presence changes it causes."""
        sensor = self._sensors.get(sighting.source)
        if sensor is None:
            self.unknown_sensor += 1
            return []
        cfg = self._config
        t = sighting.t
        events = self.expire(t)
        token = sighting.token if self._linker is None else self._linker.handle(sighting)
        key = (token, sensor.zone)
        track = self._tracks.get(key)
        if track is None:
            track = _Track(sighting.rssi, t, t, t, 0, sighting.randomised)
            self._tracks[key] = track
        else:
            track.rssi += cfg.smoothing * (sighting.rssi - track.rssi)
        track.last_seen = t
        if track.candidate or track.visitor:
            if track.rssi >= cfg.leave_dbm:
                track.last_strong = t
                track.sightings += 1
            elif track.visitor:
                events.append(self._leave(key, track))
                return events
            else:
                track.candidate = False  # faded before it became a visitor
        elif track.rssi >= cfg.enter_dbm:
            track.candidate = True
            track.since = track.last_strong = t
            track.sightings = 1
        if (
            track.candidate
            and not track.visitor
            and t - track.since >= cfg.min_dwell_s
            and track.sightings >= cfg.min_sightings
        ):
            track.visitor = True
            self.visitors += 1
            events.append(PresenceEvent(track.since, key[0], key[1], "entered", track.randomised))
        return events

    def _leave(self, key: tuple[str, str], track: _Track) -> PresenceEvent:
        del self._tracks[key]
        return PresenceEvent(track.last_strong, key[0], key[1], "left", track.randomised)

    def expire(self, now: float) -> list[PresenceEvent]:
        """Visitors silent for ``absent_after_s`` leave; other silent devices were passers-by."""
        if now < self._next_sweep:
            return []
        self._next_sweep = now + self._config.absent_after_s * SWEEP_SHARE
        horizon = now - self._config.absent_after_s
        events: list[PresenceEvent] = []
        stale = [k for k, tr in self._tracks.items() if tr.last_seen < horizon]
        for key in stale:
            track = self._tracks[key]
            if track.visitor:
                events.append(self._leave(key, track))
            else:
                self.passers_by += 1
                del self._tracks[key]
        return events

    def finish(self) -> list[PresenceEvent]:
        """End of the feed: every visitor leaves, every candidate was a passer-by."""
        self._next_sweep = float("-inf")
        return self.expire(float("inf"))

    def present(self, zone: str) -> int:
        """Visitors in ``zone`` right now."""
        return sum(1 for (_, z), tr in self._tracks.items() if z == zone and tr.visitor)
