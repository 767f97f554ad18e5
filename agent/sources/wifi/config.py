"""Config of a Wi-Fi sensor: where it listens, where it stands, what it ignores.

Example:
    >>> cfg = WifiSourceConfig(id="wifi-1", interface="mon0", zone="entrance",
    ...                        position=(1.0, 2.0), ignore_macs=["3C:22:FB:00:00:01"])
    >>> cfg.ignore_macs[0].startswith("sha256:")
    True
"""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from agent.configbase import ID_PATTERN, ExistingPath, Model
from agent.sources.wifi.anonymise import ignore_digest

INTERFACE_PATTERN = r"^[A-Za-z0-9_.:-]{1,15}$"  # Linux IFNAMSIZ is 16 with the NUL
_HEX_MAC = re.compile(r"^[0-9a-f]{12}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def parse_mac(text: str) -> bytes:
    """A MAC in any usual notation (``aa:bb:..``, ``AA-BB-..``, ``aabb.ccdd.eeff``).

    Raises:
        ValueError: without quoting the value (it may be a real device's address).
    """
    digits = re.sub(r"[:.\-\s]", "", text).lower()
    if not _HEX_MAC.match(digits):
        raise ValueError("an entry is not a MAC address (12 hex digits, any separators)")
    return bytes.fromhex(digits)


class PresenceConfig(Model):
    enter_dbm: float = Field(
        default=-70.0,
        ge=-120,
        le=0,
        title="Enter signal",
        description="Smoothed RSSI (dBm) at or above which a device starts to count as in "
        "the sensor's zone.",
    )
    leave_dbm: float = Field(
        default=-78.0,
        ge=-120,
        le=0,
        title="Leave signal",
        description="Smoothed RSSI (dBm) below which a present device has left; lower than "
        "enter_dbm so a device at the edge does not flicker in and out.",
    )
    min_dwell_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        title="Minimum dwell",
        description="A device must stay this long above the leave signal to be a visitor; "
        "shorter stays are passers-by outside the store.",
    )
    min_sightings: int = Field(
        default=3,
        ge=1,
        le=1000,
        title="Minimum sightings",
        description="Frames needed before a device can be a visitor (one stray probe is not).",
    )
    absent_after_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        title="Absent after",
        description="A device not heard for this long has left (idle phones probe rarely).",
    )
    smoothing: float = Field(
        default=0.3,
        gt=0,
        le=1,
        title="Smoothing",
        description="Weight of the newest RSSI in the running average (1 = no smoothing).",
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> PresenceConfig:
        if self.leave_dbm >= self.enter_dbm:
            raise ValueError(
                f"leave_dbm ({self.leave_dbm}) must be below enter_dbm ({self.enter_dbm})"
            )
        return self


class WifiSourceConfig(Model):
    id: str = Field(title="Source id", description="Unique id of this sensor.", pattern=ID_PATTERN)
    path: ExistingPath | None = Field(
        default=None,
        title="Capture file",
        description="A radiotap pcap or pcapng file (.gz too) to read instead of an interface.",
    )
    interface: str | None = Field(
        default=None,
        title="Monitor interface",
        description="A Linux interface in monitor mode with radiotap headers (needs CAP_NET_RAW).",
        pattern=INTERFACE_PATTERN,
    )
    zone: str = Field(
        title="Zone", description="The store zone this sensor covers.", pattern=ID_PATTERN
    )
    position: tuple[float, float] = Field(
        title="Position",
        description="Where the sensor stands, [x, y] in metres on the store floor plan.",
    )
    rotate_at: time = Field(
        default=time(4, 0),
        title="Key rotation time",
        description="Local time at which the hashing key is replaced each day (all Wi-Fi "
        "sensors use the first sensor's value); pick a time the store is closed.",
    )
    timezone: str | None = Field(
        default=None,
        title="Time zone",
        description="IANA time zone of rotate_at, e.g. Europe/Paris; default: the gateway's.",
    )
    ignore_macs: list[str] = Field(
        default_factory=list,
        title="Ignored devices",
        description="MACs of the store's own devices (handhelds, access points). They are "
        "hashed when the config is loaded and only the hashes are kept.",
    )
    presence: PresenceConfig = Field(
        default_factory=PresenceConfig,
        title="Presence",
        description="Signal thresholds that place a device in the zone or outside the store.",
    )

    @field_validator("ignore_macs")
    @classmethod
    def _hash_ignored(cls, value: list[str]) -> list[str]:
        # Already-hashed entries pass through, so a dumped config validates again.
        return [v if _DIGEST.match(v) else "sha256:" + ignore_digest(parse_mac(v)) for v in value]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @model_validator(mode="after")
    def _one_feed(self) -> WifiSourceConfig:
        if (self.path is None) == (self.interface is None):
            raise ValueError("give exactly one of 'path' (a capture) or 'interface'")
        return self

    def ignored_digests(self) -> frozenset[str]:
        return frozenset(entry.removeprefix("sha256:") for entry in self.ignore_macs)
