"""The camera source on real video, on a detection layer, and its config errors."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.observations import TrackEnd, TrackPoint
from agent.sources.base import SourceContext
from agent.sources.camera import CameraSource, CameraSourceConfig
from agent.sources.camera.capture import StreamFrames
from tests.test_vision_fixtures import VTEST_CALIBRATION, vtest_clip

START = "2026-03-02T09:00:00Z"
START_T = 1772442000.0

SQUARE_CALIBRATION = [
    # 100 image pixels = 1 m; image y grows down, floor y grows north.
    {"image": [0, 0], "floor": [0, 10]},
    {"image": [1000, 0], "floor": [10, 10]},
    {"image": [1000, 1000], "floor": [10, 0]},
    {"image": [0, 1000], "floor": [0, 0]},
]


def camera(**fields: Any) -> CameraSourceConfig:
    return CameraSourceConfig.model_validate({"id": "cam-1", **fields})


def run(source: CameraSource) -> list[Any]:
    return list(source.observations(threading.Event()))


def test_video_replay_gives_floor_positions_and_ends_every_track(tmp_path: Path) -> None:
    clip = vtest_clip(tmp_path, 40)
    config = camera(
        url="clip.avi",
        fps=10,
        start=START,
        calibration=VTEST_CALIBRATION,
        tracker={"confirm_frames": 3},
    )
    source = CameraSource(config, SourceContext(replay=True, base_dir=str(clip.parent)))
    out = run(source)
    points = [o for o in out if isinstance(o, TrackPoint)]
    ends = [o for o in out if isinstance(o, TrackEnd)]
    assert {type(o) for o in out} <= {TrackPoint, TrackEnd}
    # vtest shows 3-5 people walking in the first 4 s; each becomes one track.
    tracks = {p.track for p in points}
    assert 3 <= len(tracks) <= 7
    assert {e.track for e in ends} == tracks
    # Event time from the frame index: 10 fps from the configured start.
    assert min(p.t for p in points) >= START_T + 0.2  # confirmed after 3 frames
    assert max(o.t for o in out) == pytest.approx(START_T + 3.9)
    # Floor metres inside the calibrated area, never pixels.
    assert all(-5 < p.x < 25 and -5 < p.y < 15 for p in points)
    health = source.health()
    assert health["state"] == "ended"
    assert health["frames"] == 40
    assert health["detector"] == "nanodet"
    size = clip.stat().st_size
    assert source.progress() == (size, size)


def write_layer(path: Path, walkers: int, garbage: bool) -> None:
    """Persons walking left to right across the image (west to east on the floor)."""
    lines = []
    for frame in range(60):
        boxes = []
        for k in range(walkers):
            x = 100 + 15 * frame + 5 * ((frame * 7 + k) % 3)  # 5-pixel jitter
            y = 300 + 250 * k
            boxes.append([x, y, x + 60, y + 170, 0.85])
        lines.append(json.dumps({"t": 1000.0 + frame / 5, "frame": frame, "boxes": boxes}))
    if garbage:
        lines.insert(10, "not json at all {")
        lines.insert(20, json.dumps({"t": 1002.0, "boxes": [[5, 5, 1, 1, 0.9]]}))
        lines.insert(30, json.dumps({"t": "yesterday", "boxes": []}))
        lines.insert(40, json.dumps({"t": 1.0, "frame": 1, "boxes": []}))  # goes backwards
    path.write_text("\n".join(lines) + "\n")


def test_detection_layer_goes_through_the_real_tracker_and_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layer = tmp_path / "cam-1.detections.jsonl"
    write_layer(layer, walkers=2, garbage=True)
    config = camera(
        detections=str(layer),
        fps=5,
        calibration=SQUARE_CALIBRATION,
        lines=[{"id": "door", "start": [5, 0], "end": [5, 10]}],
    )
    source = CameraSource(config, SourceContext(replay=True, base_dir=str(tmp_path)))
    with caplog.at_level(logging.WARNING):
        out = run(source)
    points = [o for o in out if isinstance(o, TrackPoint)]
    assert {p.track for p in points} == {1, 2}
    assert sorted({e.track for e in out if isinstance(e, TrackEnd)}) == [1, 2]
    # Foot points: y from the box bottom (470 and 720 px), x from the box centre.
    firsts = [min((p for p in points if p.track == k), key=lambda p: p.t) for k in (1, 2)]
    assert sorted(round(p.y, 1) for p in firsts) == [10 - 7.2, 10 - 4.7]
    assert all(p.x < 2.5 for p in firsts)
    # Both walkers cross the door west to east: out of the store (store on the left).
    assert source.pipeline.crossings() == {"door": {"in": 0, "out": 2}}
    health = source.health()
    # People counts never go into health: it is published without k-suppression.
    assert "crossings" not in health and "confirmed_tracks" not in health
    assert health["skipped_lines"] == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert all(f"{layer}:" in w for w in warnings)
    assert not any("yesterday" in w or "not json" in w for w in warnings)


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="exactly one of 'url'"):
        camera(calibration=SQUARE_CALIBRATION)
    with pytest.raises(ValidationError, match="calibration"):
        camera(url="x.avi")
    line = [{"image": [i, i], "floor": [i, i]} for i in range(4)]
    with pytest.raises(ValidationError, match="calibration: "):
        camera(url="x.avi", calibration=line)
    with pytest.raises(ValidationError, match="Extra inputs"):
        camera(url="x.avi", calibration=SQUARE_CALIBRATION, colour="red")
    with pytest.raises(ValidationError, match="detector"):
        camera(url="x.avi", calibration=SQUARE_CALIBRATION, detector={"type": "ssd"})


def test_unreadable_video_is_one_error_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 100)
    config = camera(url=str(broken), calibration=SQUARE_CALIBRATION, start=START)
    source = CameraSource(config, SourceContext(replay=True))
    with caplog.at_level(logging.ERROR):
        assert run(source) == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(broken) in errors[0]
    assert source.health()["state"] == "failed"


def test_a_slow_detector_drops_stale_frames_instead_of_queueing(tmp_path: Path) -> None:
    clip = vtest_clip(tmp_path, 50)
    # The grabber reads the file as fast as a camera would deliver it (and loops it,
    # like a stream that keeps going); the consumer takes 2 frames a second.
    frames = StreamFrames(
        str(clip), fps=2, options={}, reconnect_min_s=0.05, reconnect_max_s=0.05, timeout_s=2
    )
    stop = threading.Event()
    taken = 0
    started = time.monotonic()
    for _, frame in frames.frames(stop):
        if frame is not None:
            taken += 1
        if time.monotonic() - started > 1.2:
            stop.set()
    assert taken <= 4
    assert frames.health.grabbed > 20
    assert frames.health.dropped == frames.health.grabbed - frames.health.taken
    assert frames.health.dropped > 15
