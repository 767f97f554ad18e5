"""Camera feeds of a recording: the detection layer and the recorded tracks.

Detection layer (what a person detector hands the tracker), one JSON line per
frame of one camera::

    {"t": 1772877600.2, "frame": 1, "boxes": [[x1, y1, x2, y2, score], ...]}

Boxes are image pixels. A box's bottom-centre is the person's feet, which is the
point the camera's homography maps to the floor; its size is the person's height
and width at the local pixels-per-metre scale. Faults a real detector has are
drawn per frame: misses, more misses behind a nearer person (occlusion), jittered
edges and false positives (most fleeting, a few at fixed spots, like a mannequin).

Recorded tracks (``agent/sources/recorded.py`` lines): each stretch a person spends
in a camera's view becomes one track with its own id, sampled at ``track_hz`` with
floor noise, ended by a ``track_end`` line; now and then a track breaks in two (an
identity switch), as trackers' do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from agent.sim.calibration import Calibration
from agent.sim.config import CameraSim
from agent.sim.homography import Array, Homography
from agent.sim.scenario import Recording

OCCLUDED_OVERLAP = 0.5
"""Share of a box covered by a nearer person's box beyond which the person is occluded."""
STATIC_FALSE_SPOTS = 2
"""Fixed places a detector keeps mistaking for people (mannequins, posters)."""
STATIC_FALSE_P = 0.15
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


def detection_lines(rec: Recording, cam: CameraSim, index: int) -> list[str]:
    cal = rec.calibration
    rng = np.random.default_rng([rec.seed, 11, index])
    per_frame: dict[int, list[tuple[float, float, float]]] = {}
    for s in sightings(rec, cam, cam.fps):
        frames = np.rint(s.t * cam.fps).astype(int)
        for f, u, v, k in zip(
            frames.tolist(), s.u.tolist(), s.v.tolist(), s.scale.tolist(), strict=True
        ):
            per_frame.setdefault(f, []).append((u, v, k))
    spots = [
        (
            rng.uniform(0.1, 0.9) * cam.width,
            rng.uniform(0.3, 0.9) * cam.height,
            rng.uniform(0.6, 1.0) * 40.0,
        )
        for _ in range(STATIC_FALSE_SPOTS)
    ]
    lines = []
    for frame in range(int(rec.duration_s * cam.fps)):
        boxes = _boxes(per_frame.get(frame, []), cam, cal, rng)
        for u, v, k in spots:
            if rng.random() < STATIC_FALSE_P:
                boxes.append(_box(u, v, k, cam, cal, rng, rng.uniform(0.3, 0.55)))
        for _ in range(rng.poisson(cal.false_positives_per_frame)):
            u, v = rng.uniform(0, cam.width), rng.uniform(0, cam.height)
            boxes.append(_box(u, v, rng.uniform(15.0, 60.0), cam, cal, rng, rng.uniform(0.25, 0.6)))
        t = round(rec.start + frame / cam.fps, 3)
        lines.append(_dump({"t": t, "frame": frame, "boxes": boxes}))
    return lines


def _box(
    u: float,
    v: float,
    scale: float,
    cam: CameraSim,
    cal: Calibration,
    rng: np.random.Generator,
    score: float,
) -> list[float]:
    w, h = cal.person_width_m * scale, cal.person_height_m * scale
    j = cal.box_jitter
    x1 = u - w / 2 + rng.normal(0, j * w)
    x2 = u + w / 2 + rng.normal(0, j * w)
    y1 = v - h + rng.normal(0, j * h)
    y2 = v + rng.normal(0, j * h)
    x1, x2 = sorted((min(max(x1, 0.0), cam.width - 1.0), min(max(x2, 0.0), cam.width - 1.0)))
    y1, y2 = sorted((min(max(y1, 0.0), cam.height - 1.0), min(max(y2, 0.0), cam.height - 1.0)))
    return [round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1), round(score, 3)]


def _boxes(
    people: list[tuple[float, float, float]],
    cam: CameraSim,
    cal: Calibration,
    rng: np.random.Generator,
) -> list[list[float]]:
    # Nearer people (lower in the image, for a camera looking down at the floor) first.
    people = sorted(people, key=lambda p: -p[1])
    placed: list[tuple[float, float, float, float]] = []
    boxes = []
    for u, v, k in people:
        w, h = cal.person_width_m * k, cal.person_height_m * k
        mine = (u - w / 2, v - h, u + w / 2, v)
        occluded = any(_covered(mine, other) > OCCLUDED_OVERLAP for other in placed)
        placed.append(mine)
        if rng.random() >= (cal.occluded_detect_p if occluded else cal.detect_p):
            continue
        score = float(np.clip(rng.normal(0.78, 0.12), 0.3, 0.99))
        boxes.append(_box(u, v, k, cam, cal, rng, score))
    return boxes


def _covered(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Share of box a's area that box b covers."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return (w * h) / max((a[2] - a[0]) * (a[3] - a[1]), 1e-9)


def track_lines(rec: Recording, cam: CameraSim, index: int) -> list[str]:
    """Recorded TrackPoint/TrackEnd lines of one camera, in time order."""
    rng = np.random.default_rng([rec.seed, 12, index])
    rate = rec.sim.track_hz
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
            t = round(rec.start + float(s.t[i]), 3)
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
    t = round(rec.start + float(last) + TRACK_END_DELAY_S, 3)
    return _dump({"type": "track_end", "t": t, "source": cam.id, "track": track})
