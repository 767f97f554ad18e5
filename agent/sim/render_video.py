"""An optional rendered video per camera, for the motion-blob detector.

Each frame is the empty floor (a fixed grey texture, shelves and counters darker)
with every person in view drawn as a filled ellipse over the box a detector would
give them (feet at the bottom centre, the local pixels-per-metre scale): what
background subtraction sees of people under a ceiling camera. Nearer people are
drawn last, so they hide those behind them. Written as Motion-JPEG AVI at the
camera's detection rate; ``*.avi`` is never committed (``.gitignore``), so a fixture
lists videos only when ``edge-agent simulate --video`` made them on this machine.

Example (needs OpenCV; ``writer_factory`` is injectable, like every client)::

    write_video(recording, camera, 0, Path("cam.avi"))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from agent.sim.config import CameraSim
from agent.sim.homography import Homography
from agent.sim.render_camera import sightings
from agent.sim.scenario import Recording

FLOOR_GREY = 150
FLOOR_TEXTURE = 12
"""Grey-level spread of the floor texture: enough for a codec to keep, too little for a
background model to take for motion."""
OBSTACLE_GREY = 70
PERSON_GREY_RANGE = (20, 110)
"""Clothes darker than the floor, varied, never floor-coloured (which would hide them)."""
CODEC = "MJPG"
"""Motion-JPEG: every frame stands alone, OpenCV writes and reads it everywhere."""

WriterFactory = Callable[[str, int, float, tuple[int, int]], Any]


def _cv2_writer(path: str, fourcc: int, fps: float, size: tuple[int, int]) -> Any:
    import cv2

    return cv2.VideoWriter(path, fourcc, fps, size)


def _background(rec: Recording, cam: CameraSim, h: Homography, index: int) -> Any:
    import cv2

    rng = np.random.default_rng([rec.seed, 41, index])
    noise = rng.normal(0, FLOOR_TEXTURE / 2, (cam.height // 8 + 1, cam.width // 8 + 1))
    texture = cv2.resize(noise, (cam.width, cam.height), interpolation=cv2.INTER_LINEAR)
    image = np.clip(FLOOR_GREY + texture, 0, 255).astype(np.uint8)
    for obstacle in rec.sim.obstacles:
        corners, ahead = h.to_image_many(np.asarray(obstacle, dtype=np.float64))
        if ahead.all():
            cv2.fillPoly(image, [np.rint(corners).astype(np.int32)], OBSTACLE_GREY)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def write_video(
    rec: Recording,
    cam: CameraSim,
    index: int,
    path: Path,
    writer_factory: WriterFactory = _cv2_writer,
) -> int:
    """Render the camera's view to ``path``; returns the number of frames written."""
    import cv2

    cal = rec.calibration
    h = Homography.fit(cam.floor_points, cam.image_points)
    background = _background(rec, cam, h, index)
    count = int(rec.duration_s * cam.fps)
    per_frame: list[list[tuple[float, float, float, int]]] = [[] for _ in range(count)]
    for s in sightings(rec, cam, cam.fps):
        grey = PERSON_GREY_RANGE[0] + (s.pid * 37) % (PERSON_GREY_RANGE[1] - PERSON_GREY_RANGE[0])
        frames = np.rint(s.t * cam.fps).astype(int).tolist()
        for f, u, v, k in zip(frames, s.u.tolist(), s.v.tolist(), s.scale.tolist(), strict=True):
            if f < count:
                per_frame[f].append((v, u, k, grey))
    writer = writer_factory(
        str(path), cv2.VideoWriter.fourcc(*CODEC), cam.fps, (cam.width, cam.height)
    )
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write {CODEC} video here")
    try:
        for people in per_frame:
            frame = background.copy()
            for v, u, k, grey in sorted(people):  # far (small v) first, near on top
                half_w, half_h = cal.person_width_m * k / 2, cal.person_height_m * k / 2
                cv2.ellipse(
                    frame,
                    (round(u), round(v - half_h)),
                    (max(1, round(half_w)), max(1, round(half_h))),
                    0,
                    0,
                    360,
                    (grey, grey, grey),
                    -1,
                )
            writer.write(frame)
    finally:
        writer.release()
    return count
