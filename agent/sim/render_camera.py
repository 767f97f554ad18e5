"""Camera views of a recording: who is in view where, and the recorded tracks.

The detection layer built from the same views is in ``render_detections``.

Recorded tracks (``agent/sources/recorded.py`` lines): each stretch a person spends
in a camera's view becomes one track with its own id, sampled at ``track_hz`` with
floor noise, ended by a ``track_end`` line; now and then a track breaks in two (an
identity switch), as trackers' do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from agent.sim.config import CameraSim
from agent.sim.homography import Array, Homography
from agent.sim.scenario import Recording

TRACK_NOISE_M = 0.08
"""Floor-position noise of a tracked point: feet are hard to place to better than this."""
TRACK_GAP_S = 1.0
"""A person unseen this long ends their track (the tracker's patience in the recording)."""
TRACK_END_DELAY_S = 1.0
SWITCH_PER_S = 1.0 / 600.0
"""Identity switches: about one per ten minutes of track."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """Positions of one person in one camera's view at a series of times."""

    pid: int
    t: Array
    x: Array
    y: Array
    u: Array
    v: Array
    scale: Array


def _dump(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def sightings(rec: Recording, cam: CameraSim, rate_hz: float) -> list[Sighting]:
    """Everyone's positions in the camera's view, sampled at ``rate_hz``."""
    h = Homography.fit(cam.floor_points, cam.image_points)
    out: list[Sighting] = []
    for traj in rec.walk.trajectories.values():
        if len(traj.t) < 2:
            continue
        ts = np.asarray(traj.t)
        first = int(np.ceil(ts[0] * rate_hz))
        last = int(np.floor(ts[-1] * rate_hz))
        if last < first:
            continue
        times = np.arange(first, last + 1) / rate_hz
        times = times[times < rec.duration_s]
        x = np.interp(times, ts, np.asarray(traj.x))
        y = np.interp(times, ts, np.asarray(traj.y))
        uv, ahead = h.to_image_many(np.column_stack([x, y]))
        inside = ahead & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0)
        inside &= uv[:, 1] < cam.height
        if not inside.any():
            continue
        xy = np.column_stack([x[inside], y[inside]])
        out.append(
            Sighting(
                traj.pid,
                times[inside],
                x[inside],
                y[inside],
                uv[inside, 0],
                uv[inside, 1],
                h.scale_many(xy),
            )
        )
    return out


def track_lines(rec: Recording, cam: CameraSim, index: int) -> list[str]:
    """Recorded TrackPoint/TrackEnd lines of one camera, in time order."""
    rng = np.random.default_rng([rec.seed, 12, index])
    rate = rec.sim.track_hz
    start = rec.clock(cam.id)
    rows: list[tuple[float, int, str]] = []
    segments = []
    for s in sightings(rec, cam, rate):
        breaks = np.flatnonzero(np.diff(s.t) > TRACK_GAP_S) + 1
        for part in np.split(np.arange(len(s.t)), breaks):
            segments.append((float(s.t[part[0]]), s.pid, s, part))
    segments.sort(key=lambda seg: (seg[0], seg[1]))
    next_id = 1
    for _, _, s, part in segments:
        track = next_id
        next_id += 1
        for i in part.tolist():
            if rng.random() < SWITCH_PER_S / rate:
                rows.append((float(s.t[i]) + TRACK_END_DELAY_S, 1, _end(rec, cam, track, s.t[i])))
                track = next_id
                next_id += 1
            x = float(s.x[i] + rng.normal(0, TRACK_NOISE_M))
            y = float(s.y[i] + rng.normal(0, TRACK_NOISE_M))
            t = round(start + float(s.t[i]), 3)
            rows.append(
                (
                    float(s.t[i]),
                    0,
                    _dump(
                        {
                            "type": "track",
                            "t": t,
                            "source": cam.id,
                            "track": track,
                            "x": round(x, 2),
                            "y": round(y, 2),
                        }
                    ),
                )
            )
        last = float(s.t[part[-1]])
        rows.append((last + TRACK_END_DELAY_S, 1, _end(rec, cam, track, last)))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [line for _, _, line in rows]


def _end(rec: Recording, cam: CameraSim, track: int, last: float) -> str:
    t = round(rec.clock(cam.id) + float(last) + TRACK_END_DELAY_S, 3)
    return _dump({"type": "track_end", "t": t, "source": cam.id, "track": track})
