"""How many phones were there? A distinct-device estimate that survives MAC randomisation.

Counting tokens over-counts: a phone probing with a new random MAC for every scan
shows up as dozens of tokens an hour. The estimate instead asks: what is the
fewest phones that could have produced these tokens?

Each randomised probing token is summarised (first and last time, first and last
802.11 sequence number, mean signal). Token B may *follow* token A (be the same
phone's next address) when B starts between ``MIN_HANDOVER_S`` and ``MAX_GAP_S``
after A ends, their mean signals are within ``MAX_RSSI_DELTA_DB``, and either B's
first sequence number continues A's last one by a few steps (phones that keep
their counter across a MAC change; Vanhoef et al., 2016), or B comes when A's
phone was due to scan again: for a token heard in one scan, 15-100 s later; for a
token heard over several scans, within 0.5-1.5 of its own scan interval. Every phone is then a
chain of tokens, each following the one before, and the fewest chains covering all
tokens is the number of tokens minus a maximum matching of "follows" pairs (a
minimum path cover). Sequence continuity edges are tried first, so they win ties.

Universal (manufacturer) MACs and associated phones' data addresses do not rotate:
each is one device. Everything lives in memory only and is dropped by ``reset``;
nothing is written anywhere; ``fold`` at a key rotation makes sure nothing is
linked across it. The method's measured error is in docs/wifi.md.

Example:
    >>> from agent.observations import DeviceSighting
    >>> estimator = DeviceEstimator()
    >>> for t, token, seq in [(0.0, "a" * 16, 10), (30.0, "b" * 16, 11)]:
    ...     estimator.add(DeviceSighting(t, "w1", token, -60.0, "probe", True, 6, seq))
    >>> estimator.tokens, estimator.devices
    (2, 1)
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from agent.observations import DeviceSighting

SEQ_MODULO = 4096  # the 12-bit 802.11 sequence number wraps here
MAX_SEQ_STEP = 16
"""A phone sends a handful of frames between two scans (the rest of a burst, a few
nulls); a larger jump is another phone. 16 of 4096 values keeps chance matches rare."""
MAX_GAP_S = 100.0
"""Longest pause between two scans of one phone (idle phones scan every 30-90 s)."""
MIN_SCAN_GAP_S = 15.0
"""Without sequence continuity, a follower must come at least this long after: the
next scan, not another phone probing in the same second."""
MIN_HANDOVER_S = 0.5
"""Phones change address between scans, not inside one burst."""
MAX_BURST_S = 1.0
"""Frames of one scan burst come milliseconds apart; a longer pause starts a new scan."""
RHYTHM_SLACK = 1.5
"""A token heard over several scans shows its phone's rhythm: its successor must come
within 1.5 of its scan intervals, or it is more likely another phone arriving (on a
busy pavement, someone passes the window every few seconds)."""
MAX_RSSI_DELTA_DB = 6.0
"""Mean signals of one standing phone's consecutive scans differ by a few dB."""
MAX_TOKENS = 200_000
"""Summaries held before the estimate is folded into a count and memory is freed: a
day of a busy store. A phone whose tokens straddle a fold may count twice."""


@dataclass(slots=True)
class _Token:
    first_t: float
    last_t: float
    first_seq: int | None
    last_seq: int | None
    rssi_sum: float
    frames: int
    scans: int = 1  # bursts of frames more than MAX_BURST_S apart

    @property
    def rssi(self) -> float:
        return self.rssi_sum / self.frames

    @property
    def scan_interval(self) -> float | None:
        """Mean time between this token's scans, once it has been heard in two."""
        if self.scans < 2:
            return None
        return (self.last_t - self.first_t) / (self.scans - 1)


class DeviceEstimator:
    """Summarises tokens as sightings arrive; ``devices`` is the minimum-path-cover estimate.

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
        self._rotating: dict[str, _Token] = {}
        self._stable: set[str] = set()
        self._folded_devices = 0
        self._folded_tokens = 0
        self.linked = 0  # follow pairs in the last computed estimate

    def reset(self) -> None:
        """Forget every summary and count (a new counting period)."""
        self._rotating.clear()
        self._stable.clear()
        self._folded_devices = self._folded_tokens = self.linked = 0

    def fold(self) -> None:
        """Keep the estimate so far as a number and forget the summaries behind it.

        Call it at every key rotation: no token from before may then be linked to
        one from after, so a randomised MAC is never linked across a rotation, even
        inside this count.
        """
        self._folded_devices += self._chains() + len(self._stable)
        self._folded_tokens += len(self._rotating) + len(self._stable)
        self._rotating.clear()
        self._stable.clear()

    @property
    def tokens(self) -> int:
        """Distinct tokens seen so far (the naive count)."""
        return self._folded_tokens + len(self._rotating) + len(self._stable)

    @property
    def devices(self) -> int:
        """Estimated distinct devices seen so far."""
        return self._folded_devices + len(self._stable) + self._chains()

    def add(self, sighting: DeviceSighting) -> None:
        token = sighting.token
        summary = self._rotating.get(token)
        if summary is not None:
            if sighting.t - summary.last_t > MAX_BURST_S:
                summary.scans += 1
            summary.last_t = max(summary.last_t, sighting.t)
            if sighting.seq is not None:
                summary.last_seq = sighting.seq
            summary.rssi_sum += sighting.rssi
            summary.frames += 1
            return
        if token in self._stable:
            return
        # Only probing addresses rotate; universal MACs and an associated phone's
        # data address (stable for its network) are one device each.
        if not sighting.randomised or sighting.kind != "probe":
            self._stable.add(token)
            return
        if len(self._rotating) >= MAX_TOKENS:
            self.fold()
        self._rotating[token] = _Token(
            sighting.t, sighting.t, sighting.seq, sighting.seq, sighting.rssi, 1
        )

    def _follow_edges(self, tokens: list[_Token]) -> list[list[int]]:
        """For each token (sorted by start), the tokens that may follow it, best first."""
        starts = [t.first_t for t in tokens]
        edges: list[list[int]] = []
        for a in tokens:
            by_seq: list[int] = []
            by_rhythm: list[tuple[float, int]] = []
            lo = bisect.bisect_left(starts, a.last_t + MIN_HANDOVER_S)
            hi = bisect.bisect_right(starts, a.last_t + self.max_gap_s)
            a_rssi = a.rssi
            # The next address must come about when the next scan was due: within the
            # usual gaps for a one-scan token, within its own rhythm for a longer one.
            interval = a.scan_interval
            if interval is None:
                earliest, latest = MIN_SCAN_GAP_S, self.max_gap_s
            else:
                earliest, latest = 0.5 * interval, RHYTHM_SLACK * interval
            for j in range(lo, hi):
                b = tokens[j]
                delta = abs(b.rssi - a_rssi)
                if delta > self.max_rssi_delta:
                    continue
                if a.last_seq is not None and b.first_seq is not None:
                    step = (b.first_seq - a.last_seq) % SEQ_MODULO
                    if 1 <= step <= self.max_seq_step:
                        by_seq.append(j)
                        continue
                if earliest <= b.first_t - a.last_t <= latest:
                    by_rhythm.append((delta, j))
            by_rhythm.sort()
            edges.append(by_seq + [j for _, j in by_rhythm])
        return edges

    def _chains(self) -> int:
        """Minimum number of follow chains covering the rotating tokens."""
        tokens = sorted(self._rotating.values(), key=lambda t: t.first_t)
        edges = self._follow_edges(tokens)
        matched = maximum_matching(edges, len(tokens))
        self.linked = matched
        return len(tokens) - matched


def maximum_matching(edges: list[list[int]], right_size: int) -> int:
    """Size of a maximum matching of a bipartite graph (left i -> right j in edges[i]).

    Greedy first (in each list's order of preference), then augmenting paths
    (Kuhn's algorithm) searched iteratively, so deep chains cannot overflow the stack.
    """
    owner = [-1] * right_size  # right j -> left i
    partner = [-1] * len(edges)  # left i -> right j
    for i, options in enumerate(edges):
        for j in options:
            if owner[j] < 0:
                owner[j], partner[i] = i, j
                break
    for root in range(len(edges)):
        if partner[root] < 0 and edges[root]:
            _augment(root, edges, owner, partner)
    return sum(1 for p in partner if p >= 0)


def _augment(root: int, edges: list[list[int]], owner: list[int], partner: list[int]) -> None:
    """Find an augmenting path from the unmatched left vertex ``root`` and flip it."""
    seen = bytearray(len(owner))
    # Frames: [left vertex, next option index, right vertex being tried].
    stack = [[root, 0, -1]]
    while stack:
        frame = stack[-1]
        options = edges[frame[0]]
        descended = False
        while frame[1] < len(options):
            j = options[frame[1]]
            frame[1] += 1
            if seen[j]:
                continue
            seen[j] = 1
            frame[2] = j
            if owner[j] < 0:
                # Free right vertex: every frame takes the vertex it was trying.
                for left, _, right in stack:
                    owner[right], partner[left] = left, right
                return
            stack.append([owner[j], 0, -1])
            descended = True
            break
        if not descended:
            stack.pop()
