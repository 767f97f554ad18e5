"""The optional rendered video: the agent's camera source with the motion-blob detector
finds the simulated people where they really walked."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from agent.observations import TrackPoint
from agent.sim.fixture import load_store
from agent.sim.render_video import write_video
from agent.sim.scenario import simulate
from agent.sources.base import SourceContext
from agent.sources.camera.config import CameraSourceConfig
from agent.sources.camera.source import CameraSource

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "agent" / "sim" / "stores" / "demo-store.toml"
SHRINK = 4
"""A quarter-size view (320 x 180) keeps the test fast; the geometry scales with it."""
NEAR_M = 1.0


def test_blob_detector_tracks_simulated_people_where_they_walked(tmp_path: Path) -> None:
    _, agent, sim = load_store(DEMO)
    cam = sim.cameras[1]
    small = cam.model_copy(
        update={
            "width": cam.width // SHRINK,
            "height": cam.height // SHRINK,
            "image_points": [(u / SHRINK, v / SHRINK) for u, v in cam.image_points],
        }
    )
    sim = sim.model_copy(update={"cameras": [small], "arrivals_per_hour": 400.0})
    rec = simulate(agent, sim, 1.5, seed=8)
    video = tmp_path / "cam.avi"
    frames = write_video(rec, small, 0, video)
    assert frames == int(1.5 * 60 * small.fps) and video.stat().st_size > 0

    config = CameraSourceConfig.model_validate(
        {
            "id": small.id,
            "url": str(video),
            "start": sim.start,
            "fps": small.fps,
            # People are small at quarter size: lower the smallest-blob area to match.
            "detector": {"type": "blob", "min_area": 0.0005},
            "calibration": [
                {"image": list(i), "floor": list(f)}
                for i, f in zip(small.image_points, small.floor_points, strict=True)
            ],
        }
    )
    source = CameraSource(config, SourceContext(replay=True, base_dir=str(tmp_path)))
    points = [o for o in source.observations(threading.Event()) if isinstance(o, TrackPoint)]
    source.close()
    assert len(points) > 50

    # Each tracked point should lie near someone who was really there at that moment.
    near = 0
    for p in points:
        t = p.t - rec.start
        for traj in rec.walk.trajectories.values():
            if not traj.t or not traj.t[0] <= t <= traj.t[-1]:
                continue
            x, y = np.interp(t, traj.t, traj.x), np.interp(t, traj.t, traj.y)
            if np.hypot(x - p.x, y - p.y) < NEAR_M:
                near += 1
                break
    assert near / len(points) > 0.8
