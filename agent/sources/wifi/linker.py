"""Follow a phone across its MAC changes while it is in the store, in memory only.

Many phones keep their 802.11 sequence counter running when they switch to a new
random address. ``TokenLinker`` maps each new randomised token to the device
handle of a recently silent token whose counter it continues by a few steps, at a
similar signal: the same phone, with high precision (the chance that another
phone's counter lands 1-16 steps on, within seconds and 6 dB, is small). Phones that
restart the counter are not followed; their new address is a new handle.

It is the online, high-precision cousin of ``devices.DeviceEstimator`` (which may
use scan rhythm too, because it only counts). ``Presence`` uses it when asked, so a
visit does not split in two at a MAC change. Call ``reset`` at every key rotation:
nothing is then linked across it.

Example:
    >>> from agent.observations import DeviceSighting
    >>> linker = TokenLinker()
    >>> linker.handle(DeviceSighting(0.0, "w", "a" * 16, -60.0, "probe", True, 6, 100))
    'aaaaaaaaaaaaaaaa'
    >>> linker.handle(DeviceSighting(40.0, "w", "b" * 16, -58.0, "probe", True, 6, 102))
    'aaaaaaaaaaaaaaaa'
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.observations import DeviceSighting
from agent.sources.wifi.devices import (
    MAX_GAP_S,
    MAX_RSSI_DELTA_DB,
    MAX_SEQ_STEP,
    MIN_HANDOVER_S,
    SEQ_MODULO,
)

RSSI_WEIGHT = 0.3  # running average of a token's signal: weight of the newest frame
SWEEP_SHARE = 0.25  # forget silent tokens every quarter of MAX_GAP_S of event time


@dataclass(slots=True)
class _Seen:
    handle: str
    last_t: float
    last_seq: int | None
    rssi: float
    successor: bool = False  # already continued by a newer token


class TokenLinker:
    """Device handles for tokens: a token's own, or the handle of the token it continues."""

    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}
        self._next_sweep = float("-inf")
        self.linked = 0

    def reset(self) -> None:
        """Forget everything (at a key rotation: no link may cross it)."""
        self._seen.clear()
        self._next_sweep = float("-inf")

    def handle(self, sighting: DeviceSighting) -> str:
        """The device handle for this sighting's token."""
        t = sighting.t
        if t >= self._next_sweep:
            self._sweep(t)
        seen = self._seen.get(sighting.token)
        if seen is None:
            handle = sighting.token
            if sighting.randomised and sighting.seq is not None:
                previous = self._continued(sighting)
                if previous is not None:
                    previous.successor = True
                    handle = previous.handle
                    self.linked += 1
            seen = _Seen(handle, t, sighting.seq, sighting.rssi)
            self._seen[sighting.token] = seen
            return handle
        seen.last_t = max(seen.last_t, t)
        if sighting.seq is not None:
            seen.last_seq = sighting.seq
        seen.rssi += RSSI_WEIGHT * (sighting.rssi - seen.rssi)
        return seen.handle

    def _continued(self, sighting: DeviceSighting) -> _Seen | None:
        assert sighting.seq is not None  # checked by the caller
        best: _Seen | None = None
        best_step = MAX_SEQ_STEP + 1
        for seen in self._seen.values():
            if seen.successor or seen.last_seq is None:
                continue
            gap = sighting.t - seen.last_t
            if not MIN_HANDOVER_S <= gap <= MAX_GAP_S:
                continue
            if abs(sighting.rssi - seen.rssi) > MAX_RSSI_DELTA_DB:
                continue
            step = (sighting.seq - seen.last_seq) % SEQ_MODULO
            if 1 <= step < best_step:
                best, best_step = seen, step
        return best

    def _sweep(self, t: float) -> None:
        self._next_sweep = t + MAX_GAP_S * SWEEP_SHARE
        horizon = t - MAX_GAP_S
        self._seen = {k: v for k, v in self._seen.items() if v.last_t >= horizon}
