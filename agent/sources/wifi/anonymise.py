"""MAC address to token, at the source boundary.

A token is HMAC-SHA256(key, MAC) truncated to 64 bits, as 16 lowercase hex digits.
All Wi-Fi sensors of one agent share one ``KeyRing`` (kept in
``SourceContext.shared["wifi"]``), so one phone heard by two sensors is one token.
The key lives in memory only and is replaced at a configured local time every day;
the old key is overwritten, so tokens of different days cannot be linked.

Live, keys come from the operating system's random source. A replay must be
deterministic, so there the key is derived from the captures being replayed (their
size and first megabyte): such a key only ever tokenises frames its holder already
has in clear, and no live key is ever derived this way.

Example:
    >>> from datetime import time, timezone
    >>> ring = KeyRing(rotate_at=time(4), tz=timezone.utc, replay=True)
    >>> ring.add_replay_material(b"capture bytes")
    >>> anonymiser = Anonymiser(ring, ignored=frozenset())
    >>> len(anonymiser.token(bytes.fromhex("3c22fb000001"), 1700000000.0) or "")
    16
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

TOKEN_BYTES = 8  # 64 bits: collisions stay rare for a store's daily population
KEY_BYTES = 32  # HMAC-SHA256's block-size-safe key length
REPLAY_LABEL = b"edge-agent wifi replay key v1"
IGNORE_LABEL = b"edge-agent wifi ignore v1"

_MISSING = object()  # a cache miss (None is a cached "ignored")
TOKEN_CACHE_ENTRIES = 65_536
"""MAC to token cache per source: a busy store hears a few thousand addresses a day.
It is cleared when full and at every key rotation, and only ever held in memory."""


def ignore_digest(mac: bytes) -> str:
    """The form in which ignore-list entries are kept once the config is loaded."""
    return hashlib.sha256(IGNORE_LABEL + mac).hexdigest()


class KeyRing:
    """The current hashing key, rotated at ``rotate_at`` local time each day.

    Args:
        rotate_at: local wall-clock time of the daily rotation.
        tz: the store's time zone.
        replay: derive keys from capture contents (deterministic) instead of randomness.
        random_bytes: the randomness for live keys (injectable for tests).
    """

    def __init__(
        self,
        rotate_at: time,
        tz: tzinfo,
        replay: bool,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.rotate_at = rotate_at
        self.tz = tz
        self.replay = replay
        self._random_bytes = random_bytes
        self._material: list[bytes] = []
        self._key = bytearray()
        self._lock = threading.Lock()
        self._period = (0.0, -1.0)  # [start, end) of the current key, UTC seconds
        self.generation = 0  # bumped at every key change; caches compare it
        self.period_end = float("-inf")  # UTC seconds at which the current key expires
        self.rotations = 0

    def add_replay_material(self, digest: bytes) -> None:
        """Register a replayed capture's digest; the replay key covers all of them."""
        if not self.replay:
            raise RuntimeError("replay key material given to a live key ring")
        self._material.append(digest)

    def _period_of(self, t: float) -> tuple[float, float, int]:
        """Start, end and day number of the key period that contains ``t``."""
        local = datetime.fromtimestamp(t, self.tz)
        day = local.date()
        if local.time() < self.rotate_at:
            day -= timedelta(days=1)
        start = datetime.combine(day, self.rotate_at, self.tz)
        end = datetime.combine(day + timedelta(days=1), self.rotate_at, self.tz)
        return start.timestamp(), end.timestamp(), day.toordinal()

    def _new_key(self, day: int) -> bytes:
        if not self.replay:
            return self._random_bytes(KEY_BYTES)
        root = hashlib.sha256(REPLAY_LABEL + b"".join(sorted(self._material))).digest()
        return hmac.digest(root, day.to_bytes(4, "big"), "sha256")

    def _current(self, t: float) -> bytearray:
        """The key for ``t``, rotating first if ``t`` is past the period. Hold the lock."""
        if self._key and t < self._period[1]:
            return self._key
        start, end, day = self._period_of(t)
        if self._key:
            self.rotations += 1
        fresh = self._new_key(day)
        for i in range(len(self._key)):
            self._key[i] = 0  # best effort: Python may hold other copies briefly
        self._key = bytearray(fresh)
        self._period = (start, end)
        self.period_end = end
        self.generation += 1
        return self._key

    def key(self, t: float) -> bytearray:
        """The key for event time ``t``; a later period replaces (and wipes) the old key.

        A frame from an earlier period than the current key (late or reordered) is
        hashed with the current key: the old one no longer exists.
        """
        with self._lock:
            return self._current(t)

    def token(self, mac: bytes, t: float) -> str:
        """HMAC-SHA256 of ``mac`` under ``t``'s key, first 64 bits as hex.

        Hashing happens under the lock: live sensors run in their own threads, and a
        rotation wipes the old key in place, which must never happen mid-hash.
        """
        with self._lock:
            return hmac.digest(self._current(t), mac, "sha256")[:TOKEN_BYTES].hex()


def shared_key_ring(shared: dict[str, Any], make: Callable[[], KeyRing]) -> KeyRing:
    """The agent's one Wi-Fi key ring, created on first use."""
    ring = shared.get("wifi")
    if not isinstance(ring, KeyRing):
        ring = make()
        shared["wifi"] = ring
    return ring


class Anonymiser:
    """Turns one sensor's MACs into tokens; drops ignored (the store's own) devices.

    Args:
        ring: the agent's shared key ring.
        ignored: ``ignore_digest`` values of the store's own devices.
    """

    def __init__(self, ring: KeyRing, ignored: frozenset[str]) -> None:
        self._ring = ring
        self._ignored = ignored
        self._cache: dict[bytes, str | None] = {}
        self._generation = -1
        self._valid_until = float("-inf")  # end of the key period the cache belongs to
        self.ignored_frames = 0

    def _refresh(self, t: float) -> None:
        """Follow the ring to ``t``'s key; a new key (or a full cache) empties the cache."""
        ring = self._ring
        ring.key(t)  # rotates if t is past the current period
        if self._generation != ring.generation or len(self._cache) >= TOKEN_CACHE_ENTRIES:
            self._cache.clear()
            self._generation = ring.generation
        self._valid_until = ring.period_end

    def token(self, mac: bytes, t: float) -> str | None:
        """The MAC's token for event time ``t``, or None for an ignored device."""
        # Per frame: two comparisons and a dict lookup; the ring only when they fail.
        if t >= self._valid_until or self._generation != self._ring.generation:
            self._refresh(t)
        token = self._cache.get(mac, _MISSING)
        if token is _MISSING:
            if len(self._cache) >= TOKEN_CACHE_ENTRIES:
                self._cache.clear()
            if self._ignored and ignore_digest(mac) in self._ignored:
                token = None
            else:
                token = self._ring.token(mac, t)
            self._cache[mac] = token
        if token is None:
            self.ignored_frames += 1
            return None
        return str(token)
