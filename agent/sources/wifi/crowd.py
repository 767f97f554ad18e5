"""Phones with known identities, probing as real ones do: captures whose truth we control.

Used to measure the distinct-device estimate until the simulator produces captures.
Three behaviours, after published measurements of MAC randomisation (Martin et
al., "A Study of MAC Address Randomization in Mobile Devices", 2017; Vanhoef et al.,
"Why MAC Address Randomization is not Enough", 2016):

- ``fixed``: an older phone probing with its real (universal) MAC;
- ``rotating``: a new random MAC for every scan, sequence counter carried on;
- ``reset``: a new random MAC for every scan and the sequence counter restarted at
  a random value (what makes linking by sequence number impossible);
- ``timed``: a new random MAC every few minutes (exponential, mean 300 s), the
  counter restarted with it.

A share of the phones can be passers-by: heard weakly for under a minute.

A phone scans every ``scan_every`` seconds with a burst of probes (one per channel,
milliseconds apart); associated phones also send null frames to their access point
from a stable per-network random MAC.

Example:
    >>> crowd = simulate_crowd(phones=3, seed=1, duration_s=600)
    >>> len({p.phone for p in crowd}) <= 3
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from agent.sources.wifi import synth

Behaviour = Literal["fixed", "rotating", "reset", "timed"]
BEHAVIOUR_SHARES: tuple[tuple[Behaviour, float], ...] = (
    ("fixed", 0.2),
    ("rotating", 0.4),
    ("reset", 0.4),
)
BURST_CHANNELS = (2412, 2437, 2462)  # one probe per channel in a scan
BURST_GAP_S = 0.02  # channel dwell between the probes of one scan
SCAN_EVERY_S = (20.0, 90.0)  # phones scan more often when the screen is on
ASSOCIATED_SHARE = 0.3
NULL_EVERY_S = 10.0  # power-save null frames of an associated phone
STORE_AP = bytes.fromhex("f0b429000001")
ROTATION_MEAN_S = 300.0  # "timed" phones: a new address every few minutes on average
PASSER_BY_STAY_S = (10.0, 40.0)  # walking past the door
PASSER_BY_DBM = (-92.0, -78.0)  # heard through the shop window
MIXED_SHARES: tuple[tuple[Behaviour, float], ...] = (
    ("fixed", 0.2),
    ("rotating", 0.2),
    ("reset", 0.2),
    ("timed", 0.4),
)
"""A second population: most phones keep an address for minutes, not one scan."""


@dataclass(frozen=True, slots=True)
class CrowdFrame:
    """One transmitted frame and the phone (ground truth) that sent it."""

    t: float
    phone: int
    raw: bytes


def _random_mac(rng: random.Random) -> bytes:
    first = (rng.getrandbits(8) & 0xFC) | 0x02  # locally administered, unicast
    return bytes([first]) + rng.randbytes(5)


def simulate_crowd(
    phones: int,
    seed: int,
    duration_s: float = 3600.0,
    start: float = 1_700_000_000.0,
    shares: tuple[tuple[Behaviour, float], ...] = BEHAVIOUR_SHARES,
    passers_by: float = 0.0,
) -> list[CrowdFrame]:
    """Frames of ``phones`` phones that each visit for a while within ``duration_s``.

    Returns:
        Frames in time order, each with the index of the phone that sent it.
    """
    rng = random.Random(seed)
    frames: list[CrowdFrame] = []
    for phone in range(phones):
        behaviour = rng.choices([b for b, _ in shares], [w for _, w in shares])[0]
        arrive = start + rng.uniform(0, duration_s * 0.8)
        passing = rng.random() < passers_by
        stay = rng.uniform(*PASSER_BY_STAY_S) if passing else rng.uniform(120, 1800)
        leave = min(start + duration_s, arrive + stay)
        universal = bytes([0x3C, 0x22, 0xFB]) + rng.randbytes(3)
        scan_every = rng.uniform(*SCAN_EVERY_S)
        rssi_mean = rng.uniform(*PASSER_BY_DBM) if passing else rng.uniform(-80, -40)
        seq = rng.randrange(4096)
        t = arrive + rng.uniform(0, scan_every)
        mac = universal if behaviour == "fixed" else _random_mac(rng)
        rotate_at = t + rng.expovariate(1 / ROTATION_MEAN_S)
        while t < leave:
            if behaviour in ("rotating", "reset") or (behaviour == "timed" and t >= rotate_at):
                mac = _random_mac(rng)
                rotate_at = t + rng.expovariate(1 / ROTATION_MEAN_S)
                if behaviour != "rotating":
                    seq = rng.randrange(4096)
            for i, freq in enumerate(BURST_CHANNELS):
                signal = round(rssi_mean + rng.gauss(0, 3))
                raw = synth.radiotap_frame(
                    synth.probe_request(mac, seq), signal=signal, frequency=freq
                )
                frames.append(CrowdFrame(t + i * BURST_GAP_S, phone, raw))
                seq = (seq + 1) & 0xFFF
            t += scan_every * rng.uniform(0.8, 1.2)
        if rng.random() < ASSOCIATED_SHARE:
            network_mac = _random_mac(rng)
            data_seq = rng.randrange(4096)
            t = arrive + rng.uniform(0, NULL_EVERY_S)
            while t < leave:
                signal = round(rssi_mean + rng.gauss(0, 3))
                raw = synth.radiotap_frame(
                    synth.data_frame(network_mac, STORE_AP, data_seq), signal=signal
                )
                frames.append(CrowdFrame(t, phone, raw))
                data_seq = (data_seq + 1) & 0xFFF
                t += NULL_EVERY_S * rng.uniform(0.5, 1.5)
    frames.sort(key=lambda f: f.t)
    return frames
