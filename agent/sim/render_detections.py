"""The detection layer of a camera: what a person detector hands the tracker.

One JSON line per frame of one camera::

    {"t": 1772877600.2, "frame": 1, "boxes": [[x1, y1, x2, y2, score], ...]}

Boxes are image pixels. A box's bottom-centre is the person's feet, which is the
point the camera's homography maps to the floor; its size is the person's height
and width at the local pixels-per-metre scale. Faults a real detector has are drawn
per frame: misses, more misses behind a nearer person (occlusion), jittered edges
and false positives (most fleeting, a few at fixed spots, like a mannequin).
"""

from __future__ import annotations

import json

import numpy as np

from agent.sim.calibration import Calibration
from agent.sim.config import CameraSim
from agent.sim.homography import Array, Mask
from agent.sim.render_camera import sightings
from agent.sim.scenario import Recording

OCCLUDED_OVERLAP = 0.5
"""Share of a box covered by a nearer person's box beyond which the person is occluded."""
STATIC_FALSE_SPOTS = 2
"""Fixed places a detector keeps mistaking for people (mannequins, posters)."""
STATIC_FALSE_P = 0.15
STATIC_FALSE_SCALE = (24.0, 40.0)
"""Pixels per metre of the mannequins: mid-distance objects."""
FLEETING_SCALE = (15.0, 60.0)
TRUE_SCORE = (0.78, 0.12, 0.3, 0.99)
"""Mean, spread and limits of a true detection's confidence."""
FALSE_SCORE = (0.25, 0.6)
MIN_BOX_PX = 2.0
"""Smallest box side a detector reports (after rounding to 0.1 px it still has area)."""


def _frames(rec: Recording, cam: CameraSim) -> tuple[Array, Array]:
    """Frame numbers and (u, v, scale) rows of everyone in view, in frame order."""
    frames, rows = [], []
    for s in sightings(rec, cam, cam.fps):
        frames.append(np.rint(s.t * cam.fps))
        rows.append(np.column_stack([s.u, s.v, s.scale]))
    if not frames:
        return np.zeros(0), np.zeros((0, 3))
    f = np.concatenate(frames)
    order = np.argsort(f, kind="stable")
    return f[order], np.concatenate(rows)[order]


def detection_lines(rec: Recording, cam: CameraSim, index: int) -> list[str]:
    cal = rec.calibration
    rng = np.random.default_rng([rec.seed, 11, index])
    count = int(rec.duration_s * cam.fps)
    frame_of, rows = _frames(rec, cam)
    keep = frame_of < count
    frame_of, rows = frame_of[keep], rows[keep]
    # Nearer people (lower in the image, for a camera looking down at the floor) first.
    order = np.lexsort((-rows[:, 1], frame_of))
    frame_of, rows = frame_of[order], rows[order]
    occluded = _occluded(frame_of, rows, cal)
    p = np.where(occluded, cal.occluded_detect_p, cal.detect_p)
    seen = rng.random(len(rows)) < p
    mean, sd, low, high = TRUE_SCORE
    scores = np.clip(rng.normal(mean, sd, int(seen.sum())), low, high)
    parts = [(frame_of[seen], _jittered(rows[seen], cam, cal, rng, scores))]

    spots = np.column_stack(
        [
            rng.uniform(0.1, 0.9, STATIC_FALSE_SPOTS) * cam.width,
            rng.uniform(0.3, 0.9, STATIC_FALSE_SPOTS) * cam.height,
            rng.uniform(*STATIC_FALSE_SCALE, STATIC_FALSE_SPOTS),
        ]
    )
    lit = rng.random((count, STATIC_FALSE_SPOTS)) < STATIC_FALSE_P
    lit_frame, lit_spot = np.nonzero(lit)
    parts.append(
        (
            lit_frame.astype(np.float64),
            _jittered(spots[lit_spot], cam, cal, rng, rng.uniform(*FALSE_SCORE, len(lit_spot))),
        )
    )
    per_frame = rng.poisson(cal.false_positives_per_frame, count)
    n = int(per_frame.sum())
    fleeting = np.column_stack(
        [
            rng.uniform(0, cam.width, n),
            rng.uniform(0, cam.height, n),
            rng.uniform(*FLEETING_SCALE, n),
        ]
    )
    parts.append(
        (
            np.repeat(np.arange(count), per_frame).astype(np.float64),
            _jittered(fleeting, cam, cal, rng, rng.uniform(*FALSE_SCORE, n)),
        )
    )
    frames = np.concatenate([f for f, _ in parts])
    boxes = np.concatenate([b for _, b in parts])
    kept = ~np.isnan(boxes[:, 0])
    frames, boxes = frames[kept], boxes[kept]
    order = np.argsort(frames, kind="stable")
    frames, boxes = frames[order], boxes[order]
    boxes[:, :4] = np.round(boxes[:, :4], 1)
    bounds = np.searchsorted(frames, np.arange(count + 1)).tolist()
    listed = boxes.tolist()
    lines = []
    start = rec.clock(cam.id)
    for frame in range(count):
        t = round(start + frame / cam.fps, 3)
        record = {"t": t, "frame": frame, "boxes": listed[bounds[frame] : bounds[frame + 1]]}
        lines.append(json.dumps(record, separators=(",", ":")))
    return lines


def _extent(people: Array, cal: Calibration) -> tuple[Array, Array, Array, Array]:
    u, v, k = people[:, 0], people[:, 1], people[:, 2]
    w, h = cal.person_width_m * k, cal.person_height_m * k
    return u - w / 2, v - h, u + w / 2, v


def _occluded(frame_of: Array, rows: Array, cal: Calibration) -> Mask:
    """Per row: hidden behind a nearer person of the same frame (rows sorted near first)."""
    out = np.zeros(len(rows), dtype=bool)
    if not len(rows):
        return out
    x1, y1, x2, y2 = _extent(rows, cal)
    area = np.maximum((x2 - x1) * (y2 - y1), 1e-9)
    starts = np.flatnonzero(np.r_[True, frame_of[1:] != frame_of[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if b - a < 2:
            continue
        s = slice(a, b)
        ow = np.minimum(x2[s, None], x2[None, s]) - np.maximum(x1[s, None], x1[None, s])
        oh = np.minimum(y2[s, None], y2[None, s]) - np.maximum(y1[s, None], y1[None, s])
        covered = np.clip(ow, 0, None) * np.clip(oh, 0, None) / area[s, None]
        out[s] = np.tril(covered > OCCLUDED_OVERLAP, k=-1).any(axis=1)
    return out


def _jittered(
    people: Array, cam: CameraSim, cal: Calibration, rng: np.random.Generator, scores: Array
) -> Array:
    if not len(people):
        return np.zeros((0, 5))
    x1, y1, x2, y2 = _extent(people, cal)
    size = np.column_stack([x2 - x1, y2 - y1, x2 - x1, y2 - y1])
    edges = np.column_stack([x1, y1, x2, y2]) + rng.normal(0, 1, (len(people), 4)) * (
        cal.box_jitter * size
    )
    edges[:, [0, 2]] = np.sort(np.clip(edges[:, [0, 2]], 0, cam.width - 1), axis=1)
    edges[:, [1, 3]] = np.sort(np.clip(edges[:, [1, 3]], 0, cam.height - 1), axis=1)
    boxes = np.column_stack([edges, np.round(scores, 3)])
    # A box pushed off the image edge keeps a sliver or nothing; detectors drop those.
    return np.where(_big_enough(boxes)[:, None], boxes, np.nan)


def _big_enough(boxes: Array) -> Mask:
    return ((boxes[:, 2] - boxes[:, 0]) >= MIN_BOX_PX) & ((boxes[:, 3] - boxes[:, 1]) >= MIN_BOX_PX)
