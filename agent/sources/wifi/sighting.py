"""Build ``DeviceSighting`` objects at capture rate.

A frozen dataclass sets every field through ``object.__setattr__`` in its
``__init__``; at half a million sightings a second that costs more than parsing the
frames. When ``DeviceSighting`` is a slotted class with exactly the fields below,
``make_sighting`` fills the slots through their descriptors instead (about twice
as fast; the result compares equal to the class's own constructor). If the class
ever gains, loses or reorders a field, ``make_sighting`` is the class itself.

Example:
    >>> from agent.observations import DeviceSighting
    >>> args = (1.0, "w1", "ab" * 8, -60.0, "probe", True, 6, 12)
    >>> make_sighting(*args) == DeviceSighting(*args)
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from agent.observations import DeviceSighting, SightingKind

FIELDS = ("t", "source", "token", "rssi", "kind", "randomised", "channel", "seq")

SightingMaker = Callable[
    [float, str, str, float, SightingKind, bool, "int | None", "int | None"], DeviceSighting
]


def _slot_maker() -> SightingMaker | None:
    if tuple(f.name for f in fields(DeviceSighting)) != FIELDS:
        return None
    if getattr(DeviceSighting, "__slots__", None) is None:
        return None
    if getattr(DeviceSighting, "__post_init__", None) is not None:
        return None
    setters: list[Callable[[Any, Any], None]] = [
        getattr(DeviceSighting, name).__set__ for name in FIELDS
    ]
    set_t, set_source, set_token, set_rssi, set_kind, set_rand, set_channel, set_seq = setters
    new = object.__new__

    def make(
        t: float,
        source: str,
        token: str,
        rssi: float,
        kind: SightingKind,
        randomised: bool,
        channel: int | None,
        seq: int | None,
    ) -> DeviceSighting:
        sighting: DeviceSighting = new(DeviceSighting)
        set_t(sighting, t)
        set_source(sighting, source)
        set_token(sighting, token)
        set_rssi(sighting, rssi)
        set_kind(sighting, kind)
        set_rand(sighting, randomised)
        set_channel(sighting, channel)
        set_seq(sighting, seq)
        return sighting

    return make


make_sighting: SightingMaker = _slot_maker() or DeviceSighting
"""Positional: t, source, token, rssi, kind, randomised, channel, seq."""
