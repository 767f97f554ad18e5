"""Wi-Fi feeds of a recording: one radiotap 802.11 capture per sensor (pcap, gzip).

Each phone that is on sends bursts of probe requests (one or two frames on every
channel it scans) more often while its screen is on; a randomising phone sends
them from a locally administered MAC that changes every few minutes, with a fresh
sequence counter. Phones associated with the store's network also send null-data
frames to the access point, from one address for the whole visit. The access point
beacons as real ones do (every 102.4 ms). A sensor hears the frames sent on its
channel at a signal from a log-distance path-loss model with log-normal shadowing,
and misses those below its sensitivity.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
from collections.abc import Callable, Iterable

import numpy as np

from agent.sim.config import WifiSensorSim
from agent.sim.homography import Array
from agent.sim.scenario import Recording
from agent.sources.wifi.synth import beacon, data_frame, probe_request, radiotap_frame

SCAN_CHANNELS = tuple(range(1, 14))
"""A 2.4 GHz active scan visits channels 1-13 (ETSI regions)."""
CHANNEL_DWELL_S = 0.03
"""Time a scanning phone spends per channel before moving on."""
AP_CHANNEL = 6
AP_BSSID = bytes.fromhex("001a2b3c4d5e")
AP_POSITION_DBM = -55
"""The access point's beacon level at the sensors (it hangs near them)."""
BEACON_INTERVAL_S = 0.1024
"""802.11 default: 100 time units of 1.024 ms."""
FRAME_SPACING_S = 0.002
MIN_DISTANCE_M = 0.5
"""Below this the far-field path-loss model does not hold; clamp."""
PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_RADIOTAP = 127
SNAPLEN = 65535


def _frequency(channel: int) -> int:
    return 2407 + 5 * channel


def _mac(rng: np.random.Generator, local: bool) -> bytes:
    first = int(rng.integers(0, 256))
    first &= 0xFC  # unicast
    if local:
        first |= 0x02
    return bytes([first]) + bytes(int(b) for b in rng.integers(0, 256, 5))


Emission = tuple[float, int, bytes, float, float]
"""(seconds after start, channel, 802.11 frame, x, y)."""


def emissions(rec: Recording) -> list[Emission]:
    """Every frame every phone sends during the recording, in time order."""
    cal = rec.calibration
    listened = {sensor.channel for sensor in rec.sim.wifi}
    out: list[Emission] = []
    for person in rec.people:
        traj = rec.walk.trajectories.get(person.pid)
        phone = person.phone
        if phone is None or traj is None or len(traj.t) < 2:
            continue
        rng = np.random.default_rng([rec.seed, 21, person.pid])
        ts, xs, ys = np.asarray(traj.t), np.asarray(traj.x), np.asarray(traj.y)
        start, end = float(ts[0]), min(float(ts[-1]), rec.duration_s)

        def where(t: float, ts: Array = ts, xs: Array = xs, ys: Array = ys) -> tuple[float, float]:
            return float(np.interp(t, ts, xs)), float(np.interp(t, ts, ys))

        rate = (1 - phone.active) / cal.probe_interval_idle_s
        rate += phone.active / cal.probe_interval_active_s
        mac = global_mac = _mac(rng, phone.randomised)
        seq = int(rng.integers(0, 4096))
        rotate_at = start + rng.exponential(cal.mac_rotation_s)
        t = start + rng.exponential(1 / rate)
        while t < end:
            if phone.randomised and t >= rotate_at:
                mac, seq = _mac(rng, True), int(rng.integers(0, 4096))
                rotate_at = t + rng.exponential(cal.mac_rotation_s)
            x, y = where(t)  # a scan takes under half a second: one position will do
            for i, channel in enumerate(SCAN_CHANNELS):
                for k in range(cal.probe_burst_frames):
                    if channel in listened:
                        at = t + i * CHANNEL_DWELL_S + k * FRAME_SPACING_S
                        out.append((at, channel, probe_request(mac, seq), x, y))
                    seq = (seq + 1) % 4096  # the counter runs on every channel scanned
            t += rng.exponential(1 / rate)
        if phone.associated and AP_CHANNEL in listened:
            # A privacy phone joins with its per-network address; an old one with its own.
            joined = _mac(rng, True) if phone.randomised else global_mac
            out.extend(_data(rec, rng, joined, start, end, where))
    out.sort(key=lambda e: e[0])
    return out


def _data(
    rec: Recording,
    rng: np.random.Generator,
    mac: bytes,
    start: float,
    end: float,
    where: Callable[[float], tuple[float, float]],
) -> list[Emission]:
    """Null-data frames from an associated phone while it is inside the store."""
    cal = rec.calibration
    seq = int(rng.integers(0, 4096))
    out: list[Emission] = []
    t = start + rng.exponential(cal.data_interval_s)
    while t < end:
        x, y = where(t)
        if rec.layout.zone_at(x, y) is not None:
            out.append((t, AP_CHANNEL, data_frame(mac, AP_BSSID, seq, "qos-null"), x, y))
            seq = (seq + 1) % 4096
        t += rng.exponential(cal.data_interval_s)
    return out


def rssi(
    rec: Recording, sensor: WifiSensorSim, x: float, y: float, rng: np.random.Generator
) -> float:
    cal = rec.calibration
    d = max(math.dist((x, y), sensor.position), MIN_DISTANCE_M)
    loss = cal.path_loss_1m_db + 10 * cal.path_loss_exponent * math.log10(d)
    return cal.tx_power_dbm - loss + float(rng.normal(0, cal.shadowing_sd_db))


def sensor_packets(
    rec: Recording, sensor: WifiSensorSim, index: int, frames: list[Emission]
) -> list[tuple[float, bytes]]:
    cal = rec.calibration
    rng = np.random.default_rng([rec.seed, 22, index])
    start = rec.clock(sensor.id)  # the capture's timestamps come from the sensor's clock
    packets: list[tuple[float, bytes]] = []
    for t, channel, frame, x, y in frames:
        if channel != sensor.channel:
            continue
        level = rssi(rec, sensor, x, y, rng)
        if level < cal.sensitivity_dbm:
            continue
        raw = radiotap_frame(frame, signal=max(-127, round(level)), frequency=_frequency(channel))
        packets.append((start + t, raw))
    if sensor.channel == AP_CHANNEL:
        seq = 0
        for n in range(int(rec.duration_s / BEACON_INTERVAL_S)):
            level = AP_POSITION_DBM + round(float(rng.normal(0, 2)))
            raw = radiotap_frame(
                beacon(AP_BSSID, seq), signal=level, frequency=_frequency(AP_CHANNEL)
            )
            packets.append((start + n * BEACON_INTERVAL_S, raw))
            seq = (seq + 1) % 4096
    packets.sort(key=lambda p: p[0])
    return packets


def pcap_gz(packets: Iterable[tuple[float, bytes]]) -> bytes:
    """A classic pcap (microseconds), gzip-compressed with a fixed header time so the
    same packets always give the same bytes."""
    raw = io.BytesIO()
    raw.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RADIOTAP))
    for t, data in packets:
        micros = round(t * 1_000_000)
        raw.write(
            struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(data), len(data))
        )
        raw.write(data)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
