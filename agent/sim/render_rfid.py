"""RFID feeds of a recording: Zebra IoT Connector data events, one JSON line per read.

A fixed reader runs an inventory round every second on each of its antennas. A tag
within an antenna's range is read with high probability that falls towards the
edge of the range; a tag a little beyond it is sometimes read weakly (a
cross-read). A read reports the peak RSSI of the round and how many times the tag
answered. Tags rest on their shelf until a shopper picks them; then they move with
the shopper, back to the shelf when returned, and out of the door when bought.

The first line of each file is the recording header that
``agent/sources/rfid/recorded.py`` reads: the antenna map and the catalogue file.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import numpy as np

from agent.sim.catalogue import TaggedItem
from agent.sim.config import RfidReaderSim
from agent.sim.homography import Array
from agent.sim.scenario import Recording

ROUND_S = 1.0
"""Inventory round per antenna: tags resting in the field are read about once a second."""
FULL_RANGE = 0.8
"""Within this share of the nominal range a tag is read at the full rate..."""
EDGE_FALLOFF = 0.3
"""...falling linearly to this share of it at the edge of the range."""
RSSI_AT_30CM_DBM = -38.0
RSSI_SLOPE_DB = 22.0
"""dB lost per decade of distance for a tag in the near field of a shelf antenna."""
RSSI_NOISE_DB = 2.0
READS_PER_ROUND_MEAN = 2.0
ROLE_OF_KIND = {
    "fitting_room": "fitting_room",
    "checkout": "checkout",
    "entrance": "exit",
    "exit": "exit",
}
CATALOGUE_FILE = "catalogue.csv"


def role(rec: Recording, zone: str) -> str:
    return ROLE_OF_KIND.get(rec.layout.zones[zone].zone.kind, "shelf")


def _stamp(t: float) -> str:
    moment = datetime.fromtimestamp(round(t, 3), tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _holders(rec: Recording) -> dict[int, list[tuple[float, float, int | None]]]:
    """Per item index: (from, to, carrier pid) while carried; carrier None means gone."""
    spans: dict[int, list[tuple[float, float, int | None]]] = {}
    open_since: dict[int, tuple[float, int]] = {}
    for h in sorted(rec.walk.items, key=lambda h: h.t):
        if h.action == "picked":
            open_since[h.item] = (h.t, h.pid)
        elif h.action == "returned" and h.item in open_since:
            since, pid = open_since.pop(h.item)
            spans.setdefault(h.item, []).append((since, h.t, pid))
    for item, (since, pid) in open_since.items():
        left = rec.walk.trajectories[pid].left
        end = left if left is not None else math.inf
        spans.setdefault(item, []).append((since, end, pid))
        if left is not None:  # carried out of the store (bought, or not)
            spans[item].append((left, math.inf, None))
    return spans


def reader_lines(rec: Recording, reader: RfidReaderSim, index: int) -> list[str]:
    cal = rec.calibration
    rng = np.random.default_rng([rec.seed, 31, index])
    items: list[TaggedItem] = rec.catalogue.items
    header = {
        "edge_agent_rfid": 1,
        "catalogue": CATALOGUE_FILE,
        "antennas": [
            {"port": a.port, "zone": a.zone, "role": role(rec, a.zone)} for a in reader.antennas
        ],
    }
    lines = [json.dumps(header, separators=(",", ":"))]
    if not items:
        return lines
    shelf = np.array([i.shelf for i in items], dtype=np.float64)
    stocked = np.array([i.stocked_at for i in items])
    spans = _holders(rec)
    carriers = _Carriers(rec)
    antennas = np.array([a.position for a in reader.antennas], dtype=np.float64)
    ranges = np.array([a.range_m for a in reader.antennas])
    ports = [a.port for a in reader.antennas]
    event = 0
    offset = (index * 0.137) % ROUND_S  # readers are not synchronised
    start = rec.clock(reader.id)
    for n in range(int((rec.duration_s - offset) / ROUND_S)):
        t = offset + n * ROUND_S
        where = shelf.copy()
        where[stocked > t] = np.nan  # still in the back room
        for item, item_spans in spans.items():
            for since, until, pid in item_spans:
                if since <= t < until:
                    where[item] = carriers.at(pid, t)
        d = np.linalg.norm(where[None, :, :] - antennas[:, None, :], axis=2)  # A x N
        rel = d / ranges[:, None]
        edge = np.clip((rel - FULL_RANGE) / (1 - FULL_RANGE), 0.0, 1.0)
        p = np.where(rel <= 1.0, cal.rfid_read_p * (1 - (1 - EDGE_FALLOFF) * edge), 0.0)
        p = np.where((rel > 1.0) & (rel <= cal.rfid_cross_range_factor), cal.rfid_cross_read_p, p)
        p = np.nan_to_num(p)
        hits = rng.random(p.shape) < p
        stamp = _stamp(start + t)
        for a, i in zip(*np.nonzero(hits), strict=True):
            event += 1
            rssi = RSSI_AT_30CM_DBM - RSSI_SLOPE_DB * math.log10(max(float(d[a, i]), 0.3) / 0.3)
            rssi += float(rng.normal(0, RSSI_NOISE_DB))
            lines.append(
                json.dumps(
                    {
                        "type": "SIMPLE",
                        "timestamp": stamp,
                        "data": {
                            "eventNum": event,
                            "format": "epc",
                            "idHex": items[i].epc,
                            "antenna": ports[a],
                            "peakRssi": round(rssi),
                            "reads": 1 + int(rng.poisson(READS_PER_ROUND_MEAN - 1)),
                        },
                    },
                    separators=(",", ":"),
                )
            )
    return lines


class _Carriers:
    """Where the person carrying an item is, with each trajectory made an array once."""

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self._arrays: dict[int, tuple[Array, Array, Array]] = {}

    def at(self, pid: int | None, t: float) -> tuple[float, float]:
        if pid is None:
            return (math.nan, math.nan)  # gone through the door
        found = self._arrays.get(pid)
        if found is None:
            traj = self.rec.walk.trajectories[pid]
            found = self._arrays[pid] = (
                np.asarray(traj.t),
                np.asarray(traj.x),
                np.asarray(traj.y),
            )
        ts, xs, ys = found
        return (float(np.interp(t, ts, xs)), float(np.interp(t, ts, ys)))
