"""How many phones were there? A distinct-device estimate that survives MAC randomisation.

Counting tokens over-counts: a phone probing with a new random MAC for every scan
shows up as dozens of tokens an hour. Many phones, though, keep their 802.11
sequence counter running across a MAC change (Vanhoef et al., 2016). So a new
randomised token whose first sequence number continues, by a few steps, one that a
recently silent randomised token ended on, at a similar signal strength, is most
likely the same phone: the two are linked into one chain. Each chain counts as one
device; a universal (non-random) MAC is always its own device.

Everything is held in memory, for at most ``max_gap_s`` past a chain's last frame;
nothing is written anywhere. The method and its measured error are in docs/wifi.md.

Example:
    >>> from agent.observations import DeviceSighting
    >>> estimator = DeviceEstimator()
    >>> for t, token, seq in [(0.0, "a" * 16, 10), (30.0, "b" * 16, 11)]:
    ...     estimator.add(DeviceSighting(t, "w1", token, -60.0, "probe", True, 6, seq))
    >>> estimator.tokens, estimator.devices
    (2, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.observations import DeviceSighting

SEQ_MODULO = 4096  # the 12-bit 802.11 sequence number wraps here
MAX_SEQ_STEP = 16
"""A phone sends a handful of frames between two scans (the rest of a burst, a few
nulls); a larger jump is another phone. 16 of 4096 values keeps chance matches rare."""
MAX_GAP_S = 120.0
"""Longest pause between two scans of one phone (screen off, idle phones scan every
30-90 s); a chain silent for longer is closed and can no longer be extended."""
MAX_RSSI_DELTA_DB = 10.0
"""Signal of one phone between two scans a minute apart varies by a few dB; a much
larger jump is another phone at another place."""
MIN_HANDOVER_S = 0.5
"""A new MAC within the same burst as the old one's last frame is a second phone:
phones change address between scans, not inside one."""
MIN_SCAN_GAP_S = 10.0
"""Phones do not scan more often than this; two new addresses closer together in one
chain would be two phones."""
PERIOD_TOLERANCE = 0.5
"""How far a scan may drift from the chain's rhythm: phones jitter scans by ±20%."""
RHYTHM_RSSI_DELTA_DB = 8.0
"""Without a sequence number to agree, the signal must agree more closely."""
SWEEP_SHARE = 0.25  # sweep stale chains every quarter of max_gap_s of event time
RSSI_WEIGHT = 0.3  # running average of a chain's signal: the newest frame's weight


@dataclass(slots=True)
class _Chain:
    """One presumed phone: the tokens linked so far and where its last frame left off."""

    randomised: bool
    last_t: float
    last_seq: int | None
    rssi: float
    tokens: list[str] = field(default_factory=list)
    period: float | None = None  # seconds between scans, once two tokens are linked


class DeviceEstimator:
    """Links randomised tokens into chains and counts chains as devices.

    Feed sightings in (roughly) time order with ``add``; read ``devices`` (the
    estimate) and ``tokens`` (what a naive count would say) at any time.
    """

    def __init__(
        self,
        max_gap_s: float = MAX_GAP_S,
        max_seq_step: int = MAX_SEQ_STEP,
        max_rssi_delta: float = MAX_RSSI_DELTA_DB,
    ) -> None:
        self.max_gap_s = max_gap_s
        self.max_seq_step = max_seq_step
        self.max_rssi_delta = max_rssi_delta
        self._by_token: dict[str, _Chain] = {}
        self._open: list[_Chain] = []  # randomised chains that may still be extended
        self._closed_devices = 0
        self._closed_tokens = 0
        self._next_sweep = float("-inf")
        self.linked = 0

    @property
    def devices(self) -> int:
        """Estimated distinct devices seen so far."""
        return self._closed_devices + len({id(c) for c in self._by_token.values()})

    @property
    def tokens(self) -> int:
        """Distinct tokens seen so far (the naive count)."""
        return self._closed_tokens + len(self._by_token)

    def add(self, sighting: DeviceSighting) -> None:
        t = sighting.t
        self._sweep(t)
        chain = self._by_token.get(sighting.token)
        if chain is None:
            chain = self._link(sighting) if sighting.randomised else None
            if chain is None:
                chain = _Chain(sighting.randomised, t, sighting.seq, sighting.rssi)
                if sighting.randomised:
                    self._open.append(chain)
            else:
                self.linked += 1
            chain.tokens.append(sighting.token)
            self._by_token[sighting.token] = chain
        if t >= chain.last_t:
            chain.last_t = t
            if sighting.seq is not None and chain.tokens[-1] == sighting.token:
                chain.last_seq = sighting.seq
        chain.rssi += RSSI_WEIGHT * (sighting.rssi - chain.rssi)

    def _link(self, sighting: DeviceSighting) -> _Chain | None:
        """The open chain this new randomised token most plausibly continues.

        First by sequence continuity; failing that (phones that restart the counter
        with every address), by scan rhythm: a chain whose last scan is about one
        of its scan periods ago, at a similar signal, and that no other new token
        has taken since.
        """
        by_seq: _Chain | None = None
        seq_key = (SEQ_MODULO, 0.0)
        by_rhythm: _Chain | None = None
        rhythm_key = float("inf")
        t, seq, rssi = sighting.t, sighting.seq, sighting.rssi
        for chain in self._open:
            gap = t - chain.last_t
            if gap < MIN_HANDOVER_S:
                continue
            delta = abs(rssi - chain.rssi)
            if delta > self.max_rssi_delta:
                continue
            if seq is not None and chain.last_seq is not None:
                step = (seq - chain.last_seq) % SEQ_MODULO
                if 1 <= step <= self.max_seq_step and (step, gap) < seq_key:
                    by_seq, seq_key = chain, (step, gap)
                    continue
            if gap < MIN_SCAN_GAP_S or delta > RHYTHM_RSSI_DELTA_DB:
                continue
            if chain.period is not None:
                miss = abs(gap - chain.period) / chain.period
                if miss > PERIOD_TOLERANCE:
                    continue
            else:
                miss = PERIOD_TOLERANCE  # unknown rhythm: prefer chains whose rhythm fits
            score = miss + delta / RHYTHM_RSSI_DELTA_DB
            if score < rhythm_key:
                by_rhythm, rhythm_key = chain, score
        chosen = by_seq or by_rhythm
        if chosen is not None and chosen is by_rhythm and by_seq is None:
            gap = t - chosen.last_t
            chosen.period = gap if chosen.period is None else chosen.period * 0.5 + gap * 0.5
        return chosen

    def _sweep(self, t: float) -> None:
        """Forget chains silent for ``max_gap_s``, keeping only their counts."""
        if t < self._next_sweep:
            return
        self._next_sweep = t + self.max_gap_s * SWEEP_SHARE
        horizon = t - self.max_gap_s
        self._open = [c for c in self._open if c.last_t >= horizon]
        stale = {id(c): c for c in self._by_token.values() if c.last_t < horizon}
        for chain in stale.values():
            self._forget(chain)

    def _forget(self, chain: _Chain) -> None:
        present = [t for t in chain.tokens if self._by_token.get(t) is chain]
        if not present:
            return
        for token in present:
            del self._by_token[token]
        self._closed_devices += 1
        self._closed_tokens += len(present)
