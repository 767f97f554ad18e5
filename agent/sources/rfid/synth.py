"""Synthetic reader traffic with a known truth: for tests, the benchmark and fixtures.

``sgtin96`` packs an SGTIN-96 EPC by the GS1 Tag Data Standard partition table
(checked against GS1's published example in the tests). ``ReadScript`` renders a
scripted story (this tag rests on that antenna from t0 to t1) into the reads a
reader would send: several per second, with RSSI noise, missed reads, duplicates
and weak cross-reads on a neighbouring antenna.

Example:
    >>> sgtin96("0614141", "812345", 6789, filter_value=3)
    '3074257BF7194E4000001A85'
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from agent.sources.rfid.reads import TagRead

SGTIN96_HEADER = 0x30
PARTITIONS = {
    12: (0, 40, 4),
    11: (1, 37, 7),
    10: (2, 34, 10),
    9: (3, 30, 14),
    8: (4, 27, 17),
    7: (5, 24, 20),
    6: (6, 20, 24),
}
"""Company prefix digits -> (partition value, company bits, item reference bits)."""

SERIAL_BITS_96 = 38


def sgtin96(company_prefix: str, item_ref: str, serial: int, filter_value: int = 1) -> str:
    """The SGTIN-96 EPC (24 upper-case hex digits) of a GTIN's company prefix,
    item reference (indicator digit first) and serial number."""
    partition, company_bits, item_bits = PARTITIONS[len(company_prefix)]
    if len(company_prefix) + len(item_ref) != 13:
        raise ValueError("company prefix and item reference must have 13 digits together")
    value = SGTIN96_HEADER
    for part, bits in (
        (filter_value, 3),
        (partition, 3),
        (int(company_prefix), company_bits),
        (int(item_ref), item_bits),
        (serial, SERIAL_BITS_96),
    ):
        if part >= 1 << bits:
            raise ValueError("a field does not fit its bits")
        value = (value << bits) | part
    return f"{value:024X}"


def zebra_event(read: TagRead) -> dict[str, Any]:
    """A Zebra IoT Connector data event for a read (fields as the reader sends them)."""
    stamp = datetime.fromtimestamp(read.t, tz=timezone.utc).isoformat(timespec="milliseconds")
    data: dict[str, Any] = {
        "idHex": read.epc.lower(),
        "antenna": read.antenna,
        "format": "epc",
        "eventNum": 0,
        "reads": 1,
    }
    if read.rssi is not None:
        data["peakRssi"] = round(read.rssi)
    return {"type": "SIMPLE", "timestamp": stamp.replace("+00:00", "+0000"), "data": data}


def impinj_event(read: TagRead) -> dict[str, Any]:
    """An Impinj IoT interface tagInventory event for a read."""
    stamp = datetime.fromtimestamp(read.t, tz=timezone.utc).isoformat(timespec="microseconds")
    inventory: dict[str, Any] = {"epcHex": read.epc, "antennaPort": read.antenna}
    if read.rssi is not None:
        inventory["peakRssiCdbm"] = round(read.rssi * 100)
    return {
        "timestamp": stamp.replace("+00:00", "Z"),
        "hostname": "impinj-sim",
        "eventType": "tagInventory",
        "tagInventoryEvent": inventory,
    }


@dataclass
class ReadScript:
    """Renders scripted tag stays into a reader's read stream.

    Args:
        seed: makes the noise reproducible.
        rate_hz: reads per second of a tag in an antenna's field.
        miss: probability that a read is missed.
        duplicate: probability that a read is reported twice.
        rssi_noise_db: standard deviation of RSSI around the stay's level.
    """

    seed: int = 1
    rate_hz: float = 4.0
    miss: float = 0.3
    duplicate: float = 0.1
    rssi_noise_db: float = 2.0
    reads: list[TagRead] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def stay(
        self,
        epc: str,
        antenna: int,
        t0: float,
        t1: float,
        rssi: float = -50.0,
        rate_hz: float | None = None,
        miss: float | None = None,
    ) -> ReadScript:
        """The tag is in ``antenna``'s field from t0 to t1 (reads with misses and noise)."""
        rng = self._rng
        step = 1.0 / (rate_hz or self.rate_hz)
        p_miss = self.miss if miss is None else miss
        t = t0
        while t < t1:
            if rng.random() >= p_miss:
                level = rssi + rng.gauss(0.0, self.rssi_noise_db)
                jitter = rng.uniform(0, step / 4)
                self.reads.append(TagRead(round(t + jitter, 6), epc, antenna, round(level, 1)))
                if rng.random() < self.duplicate:
                    self.reads.append(self.reads[-1])
            t += step
        return self

    def sorted_reads(self) -> list[TagRead]:
        return sorted(self.reads, key=lambda r: r.t)

    def zebra_lines(self) -> list[str]:
        return [json.dumps(zebra_event(r)) for r in self.sorted_reads()]
