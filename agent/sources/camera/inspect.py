"""``edge-agent inspect VIDEO``: what the camera path makes of a video, as JSON.

Frames, fps, resolution, persons per frame (min, median, max), confirmed tracks,
crossings per configured line, the detector and its milliseconds per frame. No
image is written unless ``annotate`` names a PNG: then one frame (the one with
the most persons) is drawn with its boxes and lines, for a field engineer
calibrating a camera.

Calibration and lines come from a sidecar ``VIDEO.camera.toml`` next to the video
when there is one (the fields of a ``[[sources.camera]]`` entry, without ``id``
and ``url``); without it, persons and tracks are still counted, with no lines.
"""

from __future__ import annotations

import statistics
import sys
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import ValidationError

from agent.config import describe_errors
from agent.sources.camera.capture import FALLBACK_FPS
from agent.sources.camera.config import CameraSourceConfig
from agent.sources.camera.source import build_pipeline
from agent.vision.pipeline import CameraPipeline

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".mov", ".m4v", ".webm", ".ts", ".mpg", ".mpeg"}
SIDECAR_SUFFIX = ".camera.toml"
IDENTITY_CALIBRATION = [
    {"image": [0, 0], "floor": [0, 0]},
    {"image": [1, 0], "floor": [1, 0]},
    {"image": [1, 1], "floor": [1, 1]},
    {"image": [0, 1], "floor": [0, 1]},
]
"""Without a calibration, floor = pixels: enough to count persons and tracks."""


class SidecarError(ValueError):
    """The sidecar camera config is invalid; the message has one line per problem."""


def looks_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def sidecar_config(video: Path) -> CameraSourceConfig:
    """The camera config for inspecting ``video``: its sidecar file, or defaults.

    Raises:
        SidecarError: the sidecar exists but is not valid.
    """
    sidecar = video.with_name(video.name + SIDECAR_SUFFIX)
    data: dict[str, Any] = {}
    if sidecar.exists():
        try:
            data = tomllib.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise SidecarError(f"{sidecar}: cannot read: {e}") from None
    data = {"calibration": IDENTITY_CALIBRATION, **data, "id": "inspect", "url": str(video)}
    try:
        return CameraSourceConfig.model_validate(data, context={"base_dir": video.parent})
    except ValidationError as e:
        raise SidecarError("\n".join(describe_errors(e, str(sidecar)))) from None


def summarise(path: Path, annotate: Path | None = None) -> dict[str, Any]:
    """The inspector entry point: the sidecar's settings (or defaults) at its frame rate.

    Args:
        path: the video.
        annotate: also draw the frame with the most persons into this PNG.
    """
    try:
        config = sidecar_config(path)
    except SidecarError as e:
        return {"error": str(e)}
    return summarise_video(path, config, annotate=annotate)


def summarise_annotated(path: Path, annotate: Path) -> dict[str, Any]:
    """``inspect VIDEO --annotate OUT.png``: the summary plus one annotated frame.

    Raises:
        UnknownFileError: the file is not a video.
    """
    from agent.inspect import UnknownFileError

    if not looks_video(path):
        raise UnknownFileError(f"{path}: --annotate works on video files only")
    return {"file": str(path), "format": "video", **summarise(path, annotate)}


def summarise_video(
    path: Path,
    config: CameraSourceConfig,
    annotate: Path | None = None,
    max_frames: int | None = None,
) -> dict[str, Any]:
    """Run the camera path over a video file and summarise it (no identifiers, no pixels).

    Args:
        path: the video.
        config: the camera config (detector, rate, calibration, lines).
        annotate: write one annotated frame here (PNG); nothing is written otherwise.
        max_frames: stop after this many frames looked at (quick checks).
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        return {"error": "cannot open as video (missing, corrupt or unknown codec)"}
    video_fps = float(capture.get(cv2.CAP_PROP_FPS)) or FALLBACK_FPS
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    step = max(1, round(video_fps / config.fps))
    pipeline = build_pipeline(config, keep_person_counts=True)
    best: tuple[int, np.ndarray | None, int] = (-1, None, -1)
    index = looked = 0
    stop = threading.Event()
    try:
        while not stop.is_set():
            if index % step:
                if not capture.grab():
                    break
                index += 1
                continue
            ok, frame = capture.read()
            if not ok:
                break
            pipeline.process(np.asarray(frame, dtype=np.uint8), index / video_fps)
            if annotate is not None and len(pipeline.last_active) > best[0]:
                best = (len(pipeline.last_active), _draw(frame, pipeline), index)
            index += 1
            looked += 1
            if max_frames is not None and looked >= max_frames:
                break
    finally:
        capture.release()
    pipeline.finish(index / video_fps)
    persons = pipeline.stats.persons
    summary: dict[str, Any] = {
        "frames": index,
        "frames_looked_at": looked,
        "fps": round(video_fps, 3),
        "resolution": [width, height],
        "persons_per_frame": {
            "min": min(persons, default=0),
            "median": statistics.median(persons) if persons else 0,
            "max": max(persons, default=0),
        },
        "confirmed_tracks": pipeline.tracker.confirmed_total,
        "crossings": pipeline.crossings(),
        "detector": pipeline.detector.name if pipeline.detector else None,
        "detected_frames": pipeline.stats.detected_frames,
        "motion_skipped_frames": pipeline.stats.gated_frames,
        "ms_per_frame": round(pipeline.stats.ms_per_detection, 1),
    }
    if annotate is not None and best[1] is not None:
        if not cv2.imwrite(str(annotate), best[1]):
            summary["annotate_error"] = f"cannot write {annotate}"
        else:
            summary["annotated"] = {"file": str(annotate), "frame": best[2]}
    return summary


def _draw(frame: np.ndarray, pipeline: CameraPipeline) -> np.ndarray:
    """A copy of the frame with tracked boxes, foot points and the floor lines."""
    out = frame.copy()
    for person in pipeline.last_active:
        p1 = (round(person.x1), round(person.y1))
        p2 = (round(person.x2), round(person.y2))
        cv2.rectangle(out, p1, p2, (0, 200, 0), 2)
        foot = (round(person.foot[0]), round(person.foot[1]))
        cv2.circle(out, foot, 4, (0, 0, 255), -1)
    if pipeline.floorplan is not None and pipeline.lines:
        inverse = np.linalg.inv(pipeline.floorplan.homography)
        for line in pipeline.lines:
            ends = np.asarray([line.start, line.end], dtype=np.float64).reshape(-1, 1, 2)
            image = cv2.perspectiveTransform(ends, inverse).reshape(-1, 2)
            a = (round(image[0, 0]), round(image[0, 1]))
            b = (round(image[1, 0]), round(image[1, 1]))
            cv2.line(out, a, b, (255, 0, 255), 2)
            cv2.putText(out, line.line_id, a, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 0, 255), 2)
    return out
