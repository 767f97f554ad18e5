"""The camera source: video or a detection layer in, TrackPoint and TrackEnd out.

No pixel, crop or embedding leaves it: frames live only until the detector
returns, and the observations carry floor metres and an in-memory track id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.observations import Observation
from agent.sources.base import Source, SourceContext
from agent.sources.camera.capture import (
    CaptureFactory,
    FileFrames,
    StreamFrames,
    is_stream,
    open_capture,
    redact,
)
from agent.sources.camera.config import CameraSourceConfig
from agent.sources.camera.detections import DetectionLineError, read_detection_layer
from agent.vision.boxes import Frame
from agent.vision.detector import SessionFactory, build_detector, onnx_session
from agent.vision.floorplan import LineCounter
from agent.vision.motion import MotionGate
from agent.vision.pipeline import CameraPipeline
from agent.vision.tracker import Tracker

log = logging.getLogger(__name__)


def build_pipeline(
    config: CameraSourceConfig,
    session_factory: SessionFactory = onnx_session,
    with_detector: bool = True,
    keep_person_counts: bool = False,
) -> CameraPipeline:
    """The motion gate, detector, tracker and floor plan one camera config describes."""
    detector = build_detector(config.detector, session_factory) if with_detector else None
    motion = MotionGate(config.motion) if with_detector and config.motion.enabled else None
    return CameraPipeline(
        config.id,
        detector,
        motion,
        Tracker(config.tracker, fps=config.fps),
        config.floorplan(),
        [LineCounter.from_config(line) for line in config.lines],
        keep_person_counts=keep_person_counts,
    )


class CameraSource(Source):
    """One camera (file, RTSP, USB) or its simulated detection layer.

    Args:
        config: the camera's config section.
        context: replay flag and the config file's directory.
        capture_factory: opens videos (cv2.VideoCapture by default).
        session_factory: opens ONNX models (onnxruntime by default).
    """

    def __init__(
        self,
        config: CameraSourceConfig,
        context: SourceContext,
        capture_factory: CaptureFactory = open_capture,
        session_factory: SessionFactory = onnx_session,
    ) -> None:
        super().__init__(config.id)
        self.config = config
        self.replay = context.replay
        self._capture_factory = capture_factory
        self.pipeline = build_pipeline(
            config, session_factory, with_detector=config.detections is None
        )
        self._file: FileFrames | None = None
        self._stream: StreamFrames | None = None
        self._state = "starting"
        self.skipped_lines = 0
        self.failed_frames = 0
        self._progress = (0, 0)
        url = config.url
        if url is not None and not is_stream(url):
            path = Path(url)
            self.video_path: Path | None = (
                path if path.is_absolute() else Path(context.base_dir) / path
            )
        else:
            self.video_path = None

    def observations(self, stop: threading.Event) -> Iterator[Observation]:
        if self.config.detections is not None:
            yield from self._from_layer(self.config.detections, stop)
        elif self.video_path is not None:
            yield from self._from_file(self.video_path, stop)
        else:
            yield from self._from_stream(stop)

    def _from_layer(self, path: Path, stop: threading.Event) -> Iterator[Observation]:
        self._state = "reading"
        last_t = 0.0
        try:
            total = path.stat().st_size
            for number, done, item in read_detection_layer(path):
                self._progress = (done, total)
                if isinstance(item, DetectionLineError):
                    self.skipped_lines += 1
                    log.warning("%s:%d: skipped: %s", path, number, item)
                    continue
                t, _, boxes = item
                if t < last_t:
                    self.skipped_lines += 1
                    log.warning("%s:%d: skipped: time goes backwards", path, number)
                    continue
                last_t = t
                yield from self.pipeline.process_boxes(boxes, t)
                if stop.is_set():
                    return
        except OSError as e:
            log.error("%s: cannot read: %s", path, e.strerror or e)
        self._state = "ended"
        yield from self.pipeline.finish(last_t)

    def _from_file(self, path: Path, stop: threading.Event) -> Iterator[Observation]:
        start = self.config.start
        if start is not None:
            start_t = start.timestamp()
        elif self.replay:
            start_t = path.stat().st_mtime if path.exists() else 0.0
        else:
            start_t = time.time()
        self._file = FileFrames(
            path,
            self.config.fps,
            start_t,
            paced=not self.replay,
            capture_factory=self._capture_factory,
        )
        last_t = start_t
        for t, frame in self._file.frames(stop):
            last_t = t
            yield from self._process(frame, t)
        yield from self.pipeline.finish(last_t)

    def _from_stream(self, stop: threading.Event) -> Iterator[Observation]:
        assert self.config.url is not None
        self._stream = StreamFrames(
            self.config.url,
            self.config.fps,
            self.config.ffmpeg_options,
            self.config.reconnect_min_s,
            self.config.reconnect_max_s,
            self.config.timeout_s,
            capture_factory=self._capture_factory,
        )
        last_t = 0.0
        for t, frame in self._stream.frames(stop):
            last_t = t
            if frame is None:
                # Nobody can be followed across an outage: close the tracks now,
                # fresh ones start when the stream is back.
                yield from self.pipeline.finish(t)
                continue
            yield from self._process(frame, t)
        yield from self.pipeline.finish(last_t)

    def _process(self, frame: Frame, t: float) -> list[Observation]:
        try:
            return self.pipeline.process(frame, t)
        except Exception as e:
            self.failed_frames += 1
            if self.failed_frames == 1 or self.failed_frames % 1000 == 0:
                log.error(
                    "camera %s: frame skipped (%d so far): %s: %s",
                    self.id,
                    self.failed_frames,
                    type(e).__name__,
                    e,
                )
            return []

    def health(self) -> dict[str, Any]:
        stats = self.pipeline.stats
        out: dict[str, Any] = {
            "state": self._current_state(),
            "frames": stats.frames,
            "detected_frames": stats.detected_frames,
            "motion_skipped_frames": stats.gated_frames,
            "failed_frames": self.failed_frames,
            "ms_per_detection": round(stats.ms_per_detection, 1),
            # No people counts here (confirmed tracks, line crossings): health is
            # published without k-suppression, and a running total differenced
            # between two health events would date one person's crossing.
        }
        detector = self.pipeline.detector
        out["detector"] = detector.name if detector is not None else "detection layer"
        if self._stream is not None:
            h = self._stream.health
            out.update(
                dropped_stale_frames=h.dropped,
                reconnects=h.reconnects,
                outages=h.outages,
            )
        if self.config.detections is not None:
            out["skipped_lines"] = self.skipped_lines
        return out

    def _current_state(self) -> str:
        if self._stream is not None:
            return self._stream.health.state
        if self._file is not None:
            return self._file.state
        return self._state

    def progress(self) -> tuple[int, int] | None:
        if self._file is not None:
            # Bytes, as the interface asks: a video decodes at a fairly even rate per
            # byte, so the frame fraction of the file size is a fair estimate.
            size = self._file.size
            count = max(self._file.frame_count, 1)
            return (min(size, size * self._file.position // count), size)
        if self.config.detections is not None:
            return self._progress
        return None

    def close(self) -> None:
        if self._stream is not None:
            self._stream.halt()

    def describe(self) -> str:
        """Where this camera reads from, without credentials."""
        if self.config.detections is not None:
            return str(self.config.detections)
        return redact(self.config.url or "")
